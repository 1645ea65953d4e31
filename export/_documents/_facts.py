"""Facts the model card, the report and the checklist share, as rows of cells in a given markup.

Each function reads one part of an export's result (the manifest's typed sections, the metrics,
the search, the joblib sizes) and returns formatted cells, so the Markdown and HTML documents say
the same thing in the same words.
"""

from __future__ import annotations

from typing import Any

import runtime

from .._column_checks import describe_finding
from .._config import ExportResult
from .._format import format_bytes, format_number, gate_sentence
from ._markup import Markup, capped, sentence

# Parameters worth a line in the card; all of them are in manifest.json training.estimator_params.
KEY_PARAMS = (
    "n_estimators",
    "max_depth",
    "max_iter",
    "learning_rate",
    "max_leaf_nodes",
    "min_samples_leaf",
    "max_features",
    "class_weight",
    "criterion",
    "loss",
    "C",
    "penalty",
    "alpha",
    "random_state",
)
CATEGORIES_SHOWN = 10
IMPORTANCE_SHOWN = 10
TUNING_CANDIDATES_SHOWN = 10
INPUT_HEADERS = ["column", "type", "nullable", "valid range", "range source", "categories"]
JOBLIB_HEADERS = ["compress", "size", "save", "load (median of 3)"]


def summary_rows(result: ExportResult, markup: Markup) -> list[list[str]]:
    manifest, model = result.manifest, result.manifest.model_file
    sha256 = markup.code(model.sha256)
    onnx_file = f"{markup.code(model.path)}, {format_bytes(model.size)}, sha256 {sha256}"
    rule = manifest.label_rule()
    return [
        ["Model", markup.code(manifest.name)],
        ["Version", markup.code(manifest.version)],
        ["Created (UTC)", markup.text(manifest.created_at)],
        ["Task", manifest.task.replace("_", " ")],
        ["Target", markup.code(str(manifest.target))],
        *([["Label rule", markup.code(rule) if manifest.decision else markup.text(rule)]] if rule else []),
        ["Estimator", markup.text(estimator_name(result))],
        ["ONNX file", onnx_file],
        ["Manifest schema version", str(manifest.schema_version)],
        ["Column checks", column_checks_text(result, markup)],
    ]


def column_checks_text(result: ExportResult, markup: Markup) -> str:
    """What the column checks before training warned about (and hard cases kept with --allow-column)."""
    if not result.column_findings:
        return "no ID-like, constant, high-cardinality or leaking columns found"
    return "; ".join(markup.text(describe_finding(finding)) for finding in result.column_findings)


def metric_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Headline metrics of the held-out split, classification or regression (errors in the target's unit)."""
    rows = [["held-out rows", format_number(metrics.get("held_out_rows"))]]
    if "mae" in metrics:
        unit = f" {metrics['target_unit']}" if metrics.get("target_unit") else ""
        return rows + [
            ["MAE", format_number(metrics["mae"]) + unit],
            ["RMSE", format_number(metrics["rmse"]) + unit],
            ["R²", format_number(metrics["r2"])],
        ]
    rows += [["accuracy", format_number(metrics.get("accuracy"))]]
    if "balanced_accuracy" in metrics:
        rows.append(["balanced accuracy", format_number(metrics["balanced_accuracy"])])
    rows.append(["macro F1", format_number(metrics.get("macro_f1"))])
    for key, name in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC")):
        if key not in metrics:
            continue
        detail = metrics.get(f"{key}_kind") or metrics.get(f"{key}_note")
        if metrics.get(f"{key}_chance") is not None:
            detail = f"{detail}; chance level {format_number(metrics[f'{key}_chance'])}"
        value = format_number(metrics.get(key))
        rows.append([name, f"{value} ({detail})" if detail else value])
    return rows


PER_CLASS_HEADERS = ["class", "precision", "recall", "F1", "held-out rows"]


def per_class_rows(metrics: dict[str, Any], markup: Markup) -> list[list[str]]:
    """Precision, recall, F1 and support of each class; the class to catch is marked."""
    positive = metrics.get("positive_class")
    return [
        [
            markup.code(label) + (" (the class to catch)" if label == positive else ""),
            format_number(scores["precision"]),
            format_number(scores["recall"]),
            format_number(scores["f1"]),
            format_number(scores["support"]),
        ]
        for label, scores in metrics.get("per_class", {}).items()
    ]


def in_words(metrics: dict[str, Any], markup: Markup) -> list[str]:
    """The held-out results in plain words (``metrics.in_words``), as prose of this markup."""
    return [markup.text(sentence(text)) for text in metrics.get("in_words", [])]


def gate_text(metrics: dict[str, Any], markup: Markup) -> str:
    """The quality gate's verdict, or that none was run."""
    gate = metrics.get("quality_gate")
    if not gate:
        return "No quality gate was run."
    return markup.text(f"Quality gate {gate_sentence(gate)}.")


def confusion_table(metrics: dict[str, Any], markup: Markup) -> tuple[list[str], list[list[str]]] | None:
    confusion = metrics.get("confusion_matrix")
    if not confusion:
        return None
    labels = [str(label) for label in confusion["labels"]]
    headers = ["true \\ predicted"] + [markup.code(label) for label in labels]
    rows = [
        [markup.code(label)] + [format_number(int(count)) for count in counts]
        for label, counts in zip(labels, confusion["matrix"], strict=True)
    ]
    return headers, rows


def top_values(values: dict[str, float], limit: int) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda item: -item[1])[:limit]


def importance_rows(metrics: dict[str, Any], markup: Markup) -> list[list[str]] | None:
    importance = metrics.get("feature_importance")
    if not importance:
        return None
    return [
        [markup.code(name), format_number(value, 3)]
        for name, value in top_values(importance["by_column"], IMPORTANCE_SHOWN)
    ]


def permutation_rows(metrics: dict[str, Any], markup: Markup) -> list[list[str]] | None:
    permutation = metrics.get("permutation_importance")
    if not permutation:
        return None
    std = permutation.get("std", {})
    return [
        [markup.code(name), f"{format_number(mean, 3)} ± {format_number(std.get(name), 2)}"]
        for name, mean in top_values(permutation["mean"], IMPORTANCE_SHOWN)
    ]


def input_rows(manifest: runtime.Manifest, markup: Markup) -> list[list[str]]:
    rows = []
    for column in manifest.inputs:
        if column.valid_range is not None:
            low, high = column.valid_range
            valid = f"[{low:.6g}, {high:.6g}]"  # no thousands separators inside [low, high]
            source = markup.text(column.range_source or "not recorded")
        elif column.kind == "category":
            valid, source = "n/a", "n/a"
        else:
            valid, source = "none", "no range: any finite number"
        categories = capped(column.categories or (), CATEGORIES_SHOWN, markup)
        nullable = "yes" if column.nullable else "no"
        rows.append([markup.code(column.name), column.kind, nullable, valid, source, categories])
    return rows


def parity_of(result: ExportResult) -> runtime.ParitySummary:
    """The parity summary the bundle records, or the proof's own when the manifest holds none."""
    return result.manifest.parity if result.manifest.parity.recorded else result.parity.summary()


def parity_table(parity: runtime.ParitySummary, task: str, markup: Markup) -> tuple[list[str], list[list[str]]]:
    """One row per case kind; regression has no labels, so no mismatch or tie columns.

    The ``tie`` kind counts cases already inside the other kinds, hence no difference of its own.
    """
    classifier = task != "regression"
    headers = ["case kind", "cases"] + (["label mismatches"] if classifier else [])
    headers += ["max |diff|"] + (["ties"] if classifier else [])
    rows = []
    for kind, figures in parity.kinds.items():
        if kind == "tie" and not classifier:
            continue
        diff = figures.max_abs_diff
        row = [markup.text(kind), format_number(figures.cases)]
        row += [format_number(figures.label_mismatches)] if classifier else []
        row += [format_number(diff, 3) if diff is not None else "(see above)"]
        row += [format_number(figures.ties)] if classifier else []
        rows.append(row)
    return [markup.text(header) for header in headers], rows


def parity_figures(parity: runtime.ParitySummary, task: str) -> str:
    """``161,652 cases, 0 label mismatches, largest |difference| ... ; 515 exact ties``."""
    cases = f"{format_number(parity.total_cases)} cases"
    largest = format_number(parity.max_abs_diff, 3)
    tolerance = f"against a tolerance of {format_number(parity.tolerance, 3)}"
    if task == "regression":
        relative = "relative to max(1, |value|)"
        return f"{cases}, largest |difference| of values {largest} {tolerance}, {relative}"
    return (
        f"{cases}, {format_number(parity.label_mismatches)} label mismatches, largest "
        f"|difference| of probabilities {largest} {tolerance}; "
        f"{format_number(parity.ties)} exact ties"
    )


def parity_verdict(parity: runtime.ParitySummary, task: str) -> str:
    verdict = "passed" if parity.passed else "FAILED"
    return f"Parity {verdict}: {parity_figures(parity, task)}."


def performance_rows(performance: runtime.Performance, markup: Markup) -> list[list[str]]:
    latency = performance.single_record_latency_us
    rows = []
    if latency is not None:
        percentiles = ", ".join(f"{p} {format_number(getattr(latency, p), 3)}" for p in ("p50", "p90", "p99"))
        rows.append(["single-record latency (µs)", f"{percentiles} over {format_number(latency.calls)} calls"])
    if performance.peak_rss_mb is not None:
        rows.append(["peak RSS, fresh process, load + 1 prediction", f"{performance.peak_rss_mb:.0f} MiB"])
    if performance.load_and_first_prediction_s is not None:
        rows.append(["load and first prediction", f"{performance.load_and_first_prediction_s:.3f} s"])
    for key in ("machine", "threads", "note"):
        value = getattr(performance, key)
        if value is not None:
            rows.append([key, markup.text(str(value))])
    rows.append(["device budget", budget_text(performance.budget)])
    return rows


def budget_text(budget: runtime.Budget | None) -> str:
    limits = [
        f"{label} <= {limit:,.1f} {unit}"
        for limit, label, unit in (
            (budget.max_memory_mb if budget else None, "peak RSS", "MiB"),
            (budget.max_latency_us if budget else None, "p50", "µs"),
        )
        if limit is not None
    ]
    if not limits:
        return "none given (pass --max-memory-mb / --max-latency-us to enforce one)"
    return "met: " + ", ".join(limits)


def not_measured(result: ExportResult) -> str:
    if not result.config.measure:
        return "not measured: the export ran with measure=False (--no-measure)"
    return "not measured: the manifest holds no latency and memory figures"


def joblib_rows(report: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [str(row["compress"]), format_bytes(row["bytes"]), f"{row['save_s']:.3f} s", f"{row['load_s']:.3f} s"]
        for row in report
    ]


def params_text(params: dict[str, Any], markup: Markup) -> str:
    return ", ".join(markup.code(f"{key}={value!r}") for key, value in params.items()) or "defaults"


def tuning_summary(search: dict[str, Any], markup: Markup) -> str:
    best = params_text(search.get("best_params", {}), markup)
    scoring = markup.code(str(search.get("scoring")))
    return (
        f"GridSearchCV, {search.get('cv')}-fold, scoring {scoring}; "
        f"best {best} with mean score {format_number(search.get('best_score'))}."
    )


def tuning_rows(search: dict[str, Any], markup: Markup) -> list[list[str]]:
    candidates = sorted(search.get("candidates", []), key=lambda c: -c["mean_score"])
    return [
        [params_text(c["params"], markup), format_number(c["mean_score"]), format_number(c["std_score"], 2)]
        for c in candidates[:TUNING_CANDIDATES_SHOWN]
    ]


def key_params(result: ExportResult) -> dict[str, Any]:
    params = dict(result.manifest.training.estimator_params)
    return {name: params[name] for name in KEY_PARAMS if name in params}


def estimator_name(result: ExportResult) -> str:
    return result.manifest.training.estimator or type(result.pipeline[-1]).__name__


def bundle_path(result: ExportResult) -> str:
    """The bundle below the models folder, as a user types it (``models/quality/1.0.0``)."""
    models = result.config.output.name or "models"
    return f"{models}/{result.manifest.name}/{result.manifest.version}"
