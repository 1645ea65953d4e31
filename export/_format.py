"""How numbers are written for people, one copy for the bundle's documents, the console and the
benchmark report: counts, measured values, ratios, durations, file sizes, and as sentences the
size-limit evidence, the confusion matrix in words, the quality gate and the console's metric lines.

Sizes are SI: ``MB`` is 10^6 bytes and ``kB`` 10^3, everywhere. Memory measured as resident set
size is in MiB (2^20 bytes) and labelled so by the caller (the manifest's ``peak_rss_mb`` keeps its
name). Standard library only, so a saved benchmark report renders without the bench extra.

>>> format_number(12345), format_number(0.94451), format_number(1.1e-15, 3), format_number(None)
('12,345', '0.9445', '1.1e-15', 'n/a')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "confusion_sentences",
    "format_bytes",
    "format_number",
    "format_ratio",
    "format_seconds",
    "format_value",
    "gate_sentence",
    "metric_lines",
    "size_limit_sentence",
]

# below this magnitude a fixed-point number is mostly zeros: write it with an exponent
SMALLEST_FIXED = 1e-4
# classes of a multiclass model written out one by one (the confusion matrix holds them all)
CLASSES_IN_WORDS = 10
# a binary positive class spelled like this is "the target happened": "Machine failure" cases
_YES_LABELS = frozenset({"1", "true", "yes", "y"})
_METRIC_NAMES = {"balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1", "r2": "R²"}


def format_number(value: Any, digits: int = 4) -> str:
    """Counts with thousands separators; other numbers to ``digits`` significant digits, thousands
    separated, trailing zeros dropped, an exponent only below 1e-4; ``n/a`` for None or NaN.

    >>> format_number(2000), format_number(0.25), format_number(23530.9, 3), format_number(999.4, 3)
    ('2,000', '0.25', '23,531', '999')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) < SMALLEST_FIXED:
        return f"{value:.{digits}g}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{value:,.0f}"
    text = f"{value:,.{digits - 1 - magnitude}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: float | None) -> str:
    """A measured figure to 3 significant digits: 0.0123, 1.25, 123, 12,346.

    >>> format_value(0.012345), format_value(12345.6), format_value(25.04)
    ('0.0123', '12,346', '25')
    """
    return format_number(value, 3)


def format_ratio(ratio: float | None) -> str:
    """A ratio as ``1/N`` when below 0.1 (a speed-up reads better that way), else 3 significant digits.

    >>> format_ratio(1 / 357), format_ratio(0.4123), format_ratio(1.25), format_ratio(None)
    ('1/357', '0.412', '1.25', 'n/a')
    """
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        return "n/a"
    if ratio < 0.1:
        return f"1/{1 / ratio:,.0f}"
    return format_value(ratio)


def format_bytes(size: float | None) -> str:
    """Bytes in MB (10^6), or kB (10^3) below 1 MB.

    >>> format_bytes(4_312_115), format_bytes(2048)
    ('4.31 MB', '2.05 kB')
    """
    if size is None:
        return "n/a"
    if size >= 1e6:
        return f"{size / 1e6:.2f} MB"
    return f"{size / 1e3:.2f} kB"


def format_seconds(seconds: float | None) -> str:
    """A duration in the unit that reads best: µs, ms or s.

    >>> format_seconds(2.5e-5), format_seconds(0.5123), format_seconds(12.3)
    ('25 µs', '512 ms', '12.3 s')
    """
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds < 1e-3:
        return f"{format_value(seconds * 1e6)} µs"
    if seconds < 1.0:
        return f"{format_value(seconds * 1e3)} ms"
    return f"{format_value(seconds)} s"


def size_limit_sentence(check: Mapping[str, Any]) -> str:
    """The manifest's ``metrics.versus_unconstrained`` (a size-limited forest against the same forest
    grown fully) as one Markdown sentence, for the model card and the benchmark report."""
    limits = ", ".join(f"`{key}={value}`" for key, value in check["limits"].items())
    changes = ", ".join(
        f"{key.replace('_', ' ')} {check['this_model'][key]:.4f} vs {check['unconstrained'][key]:.4f} "
        f"({check['difference_pp'][key]:+.2f} points)"
        for key in check["difference_pp"]
    )
    verdict = "within" if check["within_bound"] else "**not** within"
    return (
        f"limited by {limits}; against the same forest grown fully on the same held-out split: {changes}; "
        f"{verdict} the {check['bound_pp']}-point bound"
    )


def confusion_sentences(metrics: Mapping[str, Any], target: str) -> list[str]:
    """The held-out results in plain words: per class to catch, how many were caught and how many
    false alarms were raised; for a regressor, the errors in the target's unit.

    >>> confusion_sentences({"confusion_matrix": {"labels": ["0", "1"], "matrix": [[1928, 4], [37, 31]]},
    ...                      "positive_class": "1"}, "Machine failure")
    ['catches 31 of 68 "Machine failure" cases (37 missed); 4 false alarms among 1,932 rows without "Machine failure"']
    """
    if "mae" in metrics:
        return [_regression_sentence(metrics)]
    confusion = metrics.get("confusion_matrix")
    if not confusion:
        return []
    labels, matrix = [str(label) for label in confusion["labels"]], confusion["matrix"]
    if len(labels) == 2:
        positive = labels.index(str(metrics.get("positive_class", labels[1])))
        return [_catch_sentence(target, labels, matrix, positive)]
    sentences = [_catch_sentence(target, labels, matrix, index) for index in range(len(labels))]
    if len(sentences) > CLASSES_IN_WORDS:
        rest = len(sentences) - CLASSES_IN_WORDS
        sentences = sentences[:CLASSES_IN_WORDS] + [f"and {rest} more classes: see the confusion matrix"]
    return sentences


def _catch_sentence(target: str, labels: list[str], matrix: list[list[int]], index: int) -> str:
    actual = sum(matrix[index])
    caught = matrix[index][index]
    alarms = sum(row[index] for row in matrix) - caught
    others = sum(map(sum, matrix)) - actual
    label = labels[index]
    if len(labels) == 2 and label.strip().lower() in _YES_LABELS:
        wanted, rest = f'"{target}" cases', f'rows without "{target}"'
    elif len(labels) == 2:
        wanted, rest = f'"{label}" rows', f'"{labels[1 - index]}" rows'
    else:
        wanted, rest = f'"{label}" rows', "rows of other classes"
    plural = "" if alarms == 1 else "s"
    return (
        f"catches {caught:,} of {actual:,} {wanted} ({actual - caught:,} missed); "
        f"{alarms:,} false alarm{plural} among {others:,} {rest}"
    )


def _regression_sentence(metrics: Mapping[str, Any]) -> str:
    unit = f" {metrics['target_unit']}" if metrics.get("target_unit") else ""
    return (
        f"off by {format_number(metrics['mae'], 3)}{unit} on average (MAE), RMSE {format_number(metrics['rmse'], 3)}"
        f"{unit}; R² {format_number(metrics['r2'], 3)} (1 is perfect, 0 no better than always predicting the mean)"
    )


def gate_sentence(gate: Mapping[str, Any]) -> str:
    """The quality gate's verdict and figures (``metrics.quality_gate``, see ``export._gate``)."""
    verdict = "passed" if gate["passed"] else "FAILED"
    if gate.get("overridden"):
        verdict += ", exported anyway (--allow-weak)"
    checks = "; ".join(
        f"{_METRIC_NAMES.get(check['metric'], check['metric'])} {format_number(check['model'])} "
        f"vs {format_number(check['baseline'])} "
        f"(needs at least +{format_number(check['margin'])})"
        for check in gate["checks"]
    )
    return f"{verdict}: against {gate['baseline']} on the same held-out split, {checks}"


def metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    """The console's lines on the held-out quality: headline figures, the class to catch (or every
    class), the results in words and the quality gate."""
    if "mae" in metrics:
        unit = f" {metrics['target_unit']}" if metrics.get("target_unit") else ""
        lines = [
            f"held-out MAE {format_number(metrics['mae'])}{unit}, RMSE {format_number(metrics['rmse'])}{unit}, "
            f"R² {metrics['r2']:.4f}"
        ]
    else:
        lines = [_headline(metrics)] + _class_lines(metrics)
    lines += list(metrics.get("in_words", []))
    if metrics.get("quality_gate"):
        lines.append(f"quality gate {gate_sentence(metrics['quality_gate'])}")
    return lines


def _headline(metrics: Mapping[str, Any]) -> str:
    figures = [
        f"{name} {metrics[key]:.4f}"
        for key, name in (
            ("accuracy", "accuracy"),
            ("balanced_accuracy", "balanced accuracy"),
            ("macro_f1", "macro F1"),
            ("roc_auc", "ROC AUC"),
            ("pr_auc", "PR AUC"),
        )
        if metrics.get(key) is not None
    ]
    chance = metrics.get("pr_auc_chance")
    return "held-out " + ", ".join(figures) + (f" (chance {chance:.4f})" if chance is not None else "")


def _class_lines(metrics: Mapping[str, Any]) -> list[str]:
    per_class: Mapping[str, Mapping[str, Any]] = metrics.get("per_class", {})
    positive = str(metrics.get("positive_class"))
    shown = [positive] if positive in per_class else list(per_class)[:CLASSES_IN_WORDS]
    return [
        f"class {label}{' (the one to catch)' if label == positive else ''}: recall {per_class[label]['recall']:.4f}, "
        f"precision {per_class[label]['precision']:.4f}, F1 {per_class[label]['f1']:.4f}, "
        f"{per_class[label]['support']:,} held-out rows"
        for label in shown
    ]
