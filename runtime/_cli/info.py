"""``python -m runtime info``: load (and so verify) a bundle and say what it expects and what it was
proven to do, as text for people or ``--json`` for programs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._contract import ExitCode
from .._evidence import Metrics, ParitySummary, Performance
from .._manifest import ColumnSpec, Manifest
from .._model import Model, load
from .._text import format_number, json_safe
from .._validation import describe_allowed
from ._base import BUNDLE_HELP, Console
from .outputs import prediction_columns

__all__ = ["DESCRIPTION", "EXIT_CODES", "add_arguments", "model_summary", "run"]

DESCRIPTION = """\
Load (and so verify: the signature where a key is trusted, sha256, manifest, golden cases) a bundle
and print what it expects: every input column with its kind, whether it may be missing, its valid
range or categories; the classes and output columns; the metrics, parity proof, export libraries and
measured performance recorded at export; whether the bundle's signature was verified, and by which key."""
EXIT_CODES = frozenset({ExitCode.OK, ExitCode.BUNDLE_REFUSED})

# Categories listed per column in the text; --json has them all.
CATEGORIES_SHOWN = 10
_LABEL_WIDTH = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help=BUNDLE_HELP)
    parser.add_argument("--json", action="store_true", help="print one machine-readable JSON object instead of text")


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    model = load(args.bundle)
    if args.json:
        console.stdout.write(json.dumps(json_safe(model_summary(model)), indent=2, ensure_ascii=False) + "\n")
    else:
        console.stdout.write(info_text(model))
    console.stdout.flush()
    return ExitCode.OK


# ---------------------------------------------------------------------------------------------
# --json


def model_summary(model: Model) -> dict[str, Any]:
    """What ``info --json`` prints: a plain dict describing a loaded (so verified) bundle."""
    manifest = model.manifest
    return {
        "name": manifest.name,
        "version": manifest.version,
        "task": manifest.task,
        "target": manifest.target,
        "description": manifest.description,
        "created_at": manifest.created_at,
        "schema_version": manifest.schema_version,
        "path": str(model.path),
        "model_file": manifest.model_file.to_dict(),
        "signature": {**model.signature.to_dict(), "status": model.signature.describe()},
        "inputs": [_column_summary(column) for column in manifest.inputs],
        "classes": list(manifest.classes) if manifest.classes is not None else None,
        "output": {
            "columns": prediction_columns(model),
            "onnx_output": manifest.outputs.probabilities if manifest.is_classifier else manifest.outputs.value,
            "label_tie_tolerance": manifest.label_tie_tolerance if manifest.is_classifier else None,
            "label_rule": manifest.label_rule(),
            "decision": manifest.decision.to_dict() if manifest.decision is not None else None,
        },
        "metrics": _metrics_summary(manifest.metrics),
        "parity": _parity_summary(manifest),
        "golden_cases": len(manifest.golden_cases),
        "libraries": dict(manifest.libraries),
        "performance": manifest.performance.to_dict() or None,
    }


def _column_summary(column: ColumnSpec) -> dict[str, Any]:
    return {
        "name": column.name,
        "kind": column.kind,
        "nullable": column.nullable,
        "valid_range": list(column.valid_range) if column.valid_range is not None else None,
        "range_source": column.range_source,
        "categories": list(column.categories) if column.categories is not None else None,
        "description": column.description,
        "accepts": describe_allowed(column),
    }


def _metrics_summary(metrics: Metrics) -> dict[str, float | int]:
    """The held-out baseline figures the bundle records (details such as per-class scores are left out)."""
    figures = {
        "held_out_rows": metrics.held_out_rows,
        "accuracy": metrics.accuracy,
        "macro_f1": metrics.macro_f1,
        "roc_auc": metrics.roc_auc,
        "mae": metrics.mae,
        "rmse": metrics.rmse,
        "r2": metrics.r2,
    }
    return {name: value for name, value in figures.items() if value is not None}


def _parity_summary(manifest: Manifest) -> dict[str, Any]:
    parity = manifest.parity
    return {
        "passed": parity.passed if parity.recorded else None,
        "cases": parity.total_cases if parity.recorded else None,
        "label_mismatches": parity.label_mismatches if parity.recorded else None,
        "max_abs_diff": parity.max_abs_diff,
        "tolerance": parity.tolerance if parity.tolerance is not None else manifest.tolerance,
        "notes": list(parity.notes),
    }


# ---------------------------------------------------------------------------------------------
# text


def info_text(model: Model) -> str:
    """What ``info`` prints: the bundle, its inputs as a table, then what was recorded at export."""
    manifest = model.manifest
    lines = _heading_lines(model)
    lines += ["", f"inputs ({len(manifest.inputs)} columns, all required, any order):"]
    lines += _input_table(manifest.inputs)
    lines.append("")
    if manifest.classes is not None:
        lines.append(_labelled("classes", ", ".join(repr(label) for label in manifest.classes)))
    onnx_output = manifest.outputs.probabilities if manifest.is_classifier else manifest.outputs.value
    lines.append(_labelled("output", f"{', '.join(prediction_columns(model))} (ONNX output {onnx_output!r})"))
    if manifest.is_classifier:
        lines.append(_labelled("label", _label_rule_text(manifest)))
    lines.append(_labelled("metrics", _metrics_text(manifest.metrics)))
    lines.append(_labelled("parity", _parity_text(manifest.parity, manifest.is_classifier)))
    libraries = ", ".join(f"{name} {version}" for name, version in manifest.libraries.items())
    lines.append(_labelled("exported by", libraries or "not recorded"))
    lines.append(_labelled("performance", _performance_text(manifest.performance)))
    return "\n".join(lines) + "\n"


def _labelled(label: str, text: str) -> str:
    return f"{label:<{_LABEL_WIDTH}}{text}"


def _heading_lines(model: Model) -> list[str]:
    manifest = model.manifest
    target = f" of {manifest.target!r}" if manifest.target else ""
    lines = [f"{manifest.name} {manifest.version}: {manifest.task.replace('_', ' ')}{target}"]
    if manifest.description:
        lines.append(f"  {manifest.description}")
    lines.append(_labelled("created", manifest.created_at))
    verified = (
        f"verified: sha256 {manifest.model_file.sha256[:12]}..., {len(manifest.golden_cases)} golden cases reproduced"
    )
    lines.append(_labelled("bundle", f"{model.path} ({verified})"))
    lines.append(_labelled("signature", model.signature.describe()))
    return lines


def _input_table(inputs: tuple[ColumnSpec, ...]) -> list[str]:
    """One line per column: name, kind and nullable aligned, then what it accepts."""
    table = [("column", "kind", "nullable", "accepts")]
    table += [(spec.name, spec.kind, "yes" if spec.nullable else "no", _accepts(spec)) for spec in inputs]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + f"  {row[3]}" for row in table]


def _accepts(spec: ColumnSpec) -> str:
    if spec.kind == "number":
        if spec.valid_range is None:
            return "any finite number"
        low, high = spec.valid_range
        source = f" (valid range from {spec.range_source})" if spec.range_source else ""
        return f"[{float(low)!r}, {float(high)!r}]{source}"
    categories = spec.categories or ()
    text = ", ".join(repr(category) for category in categories[:CATEGORIES_SHOWN])
    if len(categories) > CATEGORIES_SHOWN:
        text += f", and {len(categories) - CATEGORIES_SHOWN} more (see --json)"
    return text


def _label_rule_text(manifest: Manifest) -> str:
    """The label rule, and where a decision threshold came from."""
    decision = manifest.decision
    if decision is None:
        return str(manifest.label_rule())
    origin = f"tuned for {decision.objective}" if decision.source == "tuned" else "fixed at export"
    if decision.source == "fixed" and decision.objective:
        origin += f" ({decision.objective})"
    return f"{manifest.label_rule()} (decision threshold {origin}; probabilities unchanged)"


def _metrics_text(metrics: Metrics) -> str:
    figures = (
        ("accuracy", metrics.accuracy),
        ("macro F1", metrics.macro_f1),
        ("ROC AUC", metrics.roc_auc),
        ("MAE", metrics.mae),
        ("RMSE", metrics.rmse),
        ("R2", metrics.r2),
    )
    shown = [f"{label} {value:.4f}" for label, value in figures if value is not None]
    if not shown:
        return "not recorded"
    held_out = f" on {format_number(metrics.held_out_rows)} held-out rows" if metrics.held_out_rows is not None else ""
    return ", ".join(shown) + held_out


def _parity_text(parity: ParitySummary, classifier: bool) -> str:
    if not parity.recorded:
        return "not recorded"
    verdict = "passed" if parity.passed else "FAILED"
    diff = f"{parity.max_abs_diff:.3g}" if parity.max_abs_diff is not None else "?"
    if not classifier:  # values only, no labels; the difference is relative to max(1, |value|)
        return f"{verdict}: {format_number(parity.total_cases)} cases, max relative |diff| of values {diff} " + (
            f"(tolerance {parity.tolerance:g})"
        )
    return (
        f"{verdict}: {format_number(parity.total_cases)} cases, {format_number(parity.label_mismatches)} label "
        f"mismatches, max |diff| {diff} (tolerance {parity.tolerance:g})"
    )


def _performance_text(performance: Performance) -> str:
    recorded = performance.to_dict()
    if not recorded:
        return "not measured at export"
    parts = []
    latency = performance.single_record_latency_us
    if latency is not None:
        percentiles = (("p50", latency.p50), ("p90", latency.p90), ("p99", latency.p99))
        parts.append("single-record latency " + ", ".join(f"{name} {value:.1f} us" for name, value in percentiles))
    if performance.load_and_first_prediction_s is not None:
        parts.append(f"load + first prediction {performance.load_and_first_prediction_s:.2f} s")
    if performance.peak_rss_mb is not None:
        parts.append(f"peak RSS {performance.peak_rss_mb:.1f} MB")
    where = [performance.machine] if performance.machine is not None else []
    if performance.threads is not None:
        where.append(f"{performance.threads} thread(s)")
    text = "; ".join(parts) if parts else json.dumps(json_safe(recorded))
    return text + (f" ({', '.join(where)})" if where else "")
