"""The bundle's documents for people: a model card, an HTML report and a deployment checklist.

:func:`write_documents` is called by the export job on the staging folder, after ``model.onnx``,
``manifest.json``, ``input_schema.json``, the examples, ``parity.json`` and
``requirements-device.txt`` are written, so the checklist can judge the files actually on disk.

- ``model_card.md``: what the model is for, how it was trained and measured, its inputs and
  outputs, the parity proof, its limitations and how to run it on a device.
- ``report.html``: one self-contained page (charts embedded as base64 PNG, no external assets)
  with the metrics, importance charts, the parity summary and scikit-learn's Pipeline diagram.
- ``deployment_checklist.md``: each item ticked only when the export's results or the bundle's
  files prove it, with the evidence beside it; nothing is ticked by hand.

User-provided text (column names, categories, classes, paths) can hold ``<``, ``|``, ``[`` or
spaces: Markdown shows it in code spans, HTML escapes it with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import io
import json
import logging
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import runtime
from runtime._contract import MANIFEST_FILE, is_semver

from ._config import ExportResult
from ._metrics import size_limit_sentence

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CHECKLIST_FILE",
    "MODEL_CARD_FILE",
    "REPORT_FILE",
    "ChecklistItem",
    "checklist_items",
    "deployment_checklist",
    "model_card",
    "report_html",
    "write_documents",
]

logger = logging.getLogger(__name__)

MODEL_CARD_FILE = "model_card.md"
REPORT_FILE = "report.html"
CHECKLIST_FILE = "deployment_checklist.md"

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
COLUMNS_LISTED = 50
IMPORTANCE_SHOWN = 10
CHART_COLUMNS = 15
TUNING_CANDIDATES_SHOWN = 10
# Annotating every cell of a larger confusion matrix makes the numbers unreadable.
ANNOTATED_CLASSES = 20
CHART_LABEL_CHARS = 40
MIB = 1024 * 1024
INPUT_HEADERS = ["column", "type", "nullable", "valid range", "range source", "categories"]
JOBLIB_HEADERS = ["compress", "size", "save", "load (median of 3)"]


# -- markup ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Markup:
    """How one document format shows our prose (``text``) and user-provided values (``code``)."""

    text: Callable[[str], str]
    code: Callable[[str], str]


def _md_code(value: str) -> str:
    """A Markdown code span: ``<`` and ``[`` stay literal; a backtick widens the fence."""
    value = " ".join(value.splitlines())
    fence = "``" if "`" in value else "`"
    if fence == "``" or value.startswith(" ") or value.endswith(" "):
        value = f" {value} "
    return f"{fence}{value}{fence}"


def _md_text(value: str) -> str:
    return " ".join(value.splitlines()).replace("<", "&lt;")


MARKDOWN = _Markup(text=_md_text, code=_md_code)
HTML = _Markup(text=html.escape, code=lambda value: f"<code>{html.escape(value)}</code>")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table of formatted cells (``|`` escaped, code spans too)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers), *(line(row) for row in rows)])


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An HTML table of already formatted (escaped) cells."""
    head = "".join(f"<th>{cell}</th>" for cell in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _number(value: Any, digits: int = 4) -> str:
    """Counts with thousands separators, other numbers to ``digits`` significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _size(n_bytes: float) -> str:
    if n_bytes >= MIB:
        return f"{n_bytes / MIB:.1f} MB"
    return f"{n_bytes / 1024:.1f} KB"


def _capped(values: Sequence[Any], limit: int, markup: _Markup) -> str:
    """``a, b, c and 4 more``: long lists of user values stay readable."""
    shown = ", ".join(markup.code(str(value)) for value in values[:limit])
    rest = len(values) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def _sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}."


# -- facts shared by the documents -------------------------------------------------------------


def _summary_rows(result: ExportResult, markup: _Markup) -> list[list[str]]:
    manifest, model = result.manifest, result.manifest.model_file
    sha256 = markup.code(model.sha256)
    onnx_file = f"{markup.code(model.path)}, {_size(model.size)}, sha256 {sha256}"
    return [
        ["Model", markup.code(manifest.name)],
        ["Version", markup.code(manifest.version)],
        ["Created (UTC)", markup.text(manifest.created_at)],
        ["Task", manifest.task.replace("_", " ")],
        ["Target", markup.code(str(manifest.target))],
        ["Estimator", markup.text(_estimator_name(result))],
        ["ONNX file", onnx_file],
        ["Manifest schema version", str(manifest.schema_version)],
    ]


def _metric_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Headline metrics of the held-out split, classification or regression."""
    rows = [["held-out rows", _number(metrics.get("held_out_rows"))]]
    if "mae" in metrics:
        return rows + [
            ["MAE", _number(metrics["mae"])],
            ["RMSE", _number(metrics["rmse"])],
            ["R²", _number(metrics["r2"])],
        ]
    rows += [["accuracy", _number(metrics.get("accuracy"))], ["macro F1", _number(metrics.get("macro_f1"))]]
    auc = _number(metrics.get("roc_auc"))
    detail = metrics.get("roc_auc_kind") or metrics.get("roc_auc_note")
    return rows + [["ROC AUC", f"{auc} ({detail})" if detail else auc]]


def _per_class_rows(metrics: dict[str, Any], markup: _Markup) -> list[list[str]]:
    support = metrics.get("class_balance_test", {})
    return [
        [markup.code(label), _number(f1), _number(support.get(label))]
        for label, f1 in metrics.get("f1_per_class", {}).items()
    ]


def _confusion_table(metrics: dict[str, Any], markup: _Markup) -> tuple[list[str], list[list[str]]] | None:
    confusion = metrics.get("confusion_matrix")
    if not confusion:
        return None
    labels = [str(label) for label in confusion["labels"]]
    headers = ["true \\ predicted"] + [markup.code(label) for label in labels]
    rows = [
        [markup.code(label)] + [_number(int(count)) for count in counts]
        for label, counts in zip(labels, confusion["matrix"], strict=True)
    ]
    return headers, rows


def _ranked(values: dict[str, float], limit: int) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda item: -item[1])[:limit]


def _importance_rows(metrics: dict[str, Any], markup: _Markup) -> list[list[str]] | None:
    importance = metrics.get("feature_importance")
    if not importance:
        return None
    return [
        [markup.code(name), _number(value, 3)] for name, value in _ranked(importance["by_column"], IMPORTANCE_SHOWN)
    ]


def _permutation_rows(metrics: dict[str, Any], markup: _Markup) -> list[list[str]] | None:
    permutation = metrics.get("permutation_importance")
    if not permutation:
        return None
    std = permutation.get("std", {})
    return [
        [markup.code(name), f"{_number(mean, 3)} ± {_number(std.get(name), 2)}"]
        for name, mean in _ranked(permutation["mean"], IMPORTANCE_SHOWN)
    ]


def _input_rows(manifest: runtime.Manifest, markup: _Markup) -> list[list[str]]:
    rows = []
    for column in manifest.inputs:
        if column.valid_range is not None:
            low, high = column.valid_range
            valid = f"[{_number(low, 6)}, {_number(high, 6)}]"
            source = markup.text(column.range_source or "not recorded")
        elif column.kind == "category":
            valid, source = "n/a", "n/a"
        else:
            valid, source = "none", "no range: any finite number"
        categories = _capped(column.categories or (), CATEGORIES_SHOWN, markup)
        nullable = "yes" if column.nullable else "no"
        rows.append([markup.code(column.name), column.kind, nullable, valid, source, categories])
    return rows


def _parity_table(parity: dict[str, Any], task: str, markup: _Markup) -> tuple[list[str], list[list[str]]]:
    """One row per case kind; regression has no labels, so no mismatch or tie columns.

    The ``tie`` kind counts cases already inside the other kinds, hence no difference of its own.
    """
    classifier = task != "regression"
    headers = ["case kind", "cases"] + (["label mismatches"] if classifier else [])
    headers += ["max |diff|"] + (["ties"] if classifier else [])
    rows = []
    for kind, figures in parity.get("kinds", {}).items():
        if kind == "tie" and not classifier:
            continue
        diff = figures.get("max_abs_diff")
        row = [markup.text(kind), _number(figures.get("cases", 0))]
        row += [_number(figures.get("label_mismatches", 0))] if classifier else []
        row += [_number(diff, 3) if diff is not None else "(see above)"]
        row += [_number(figures.get("ties", 0))] if classifier else []
        rows.append(row)
    return [markup.text(header) for header in headers], rows


def _parity_figures(parity: dict[str, Any], task: str) -> str:
    """``161,652 cases, 0 label mismatches, largest |difference| ... ; 515 exact ties``."""
    cases = f"{_number(parity.get('total_cases', 0))} cases"
    largest = _number(parity.get("max_abs_diff"), 3)
    tolerance = f"against a tolerance of {_number(parity.get('tolerance'), 3)}"
    if task == "regression":
        relative = "relative to max(1, |value|)"
        return f"{cases}, largest |difference| of values {largest} {tolerance}, {relative}"
    return (
        f"{cases}, {_number(parity.get('label_mismatches', 0))} label mismatches, largest "
        f"|difference| of probabilities {largest} {tolerance}; "
        f"{_number(parity.get('ties', 0))} exact ties"
    )


def _parity_verdict(parity: dict[str, Any], task: str) -> str:
    verdict = "passed" if parity.get("passed") else "FAILED"
    return f"Parity {verdict}: {_parity_figures(parity, task)}."


def _performance_rows(performance: dict[str, Any], markup: _Markup) -> list[list[str]]:
    latency = performance.get("single_record_latency_us", {})
    rows = []
    if latency:
        percentiles = ", ".join(f"{p} {_number(latency.get(p), 3)}" for p in ("p50", "p90", "p99"))
        calls = _number(latency.get("calls"))
        rows.append(["single-record latency (µs)", f"{percentiles} over {calls} calls"])
    if "peak_rss_mb" in performance:
        rows.append(["peak RSS, fresh process, load + 1 prediction", f"{performance['peak_rss_mb']:.0f} MB"])
    if "load_and_first_prediction_s" in performance:
        rows.append(["load and first prediction", f"{performance['load_and_first_prediction_s']:.3f} s"])
    for key in ("machine", "threads", "note"):
        if key in performance:
            rows.append([key, markup.text(str(performance[key]))])
    rows.append(["device budget", _budget_text(performance.get("budget") or {})])
    return rows


def _budget_text(budget: dict[str, Any]) -> str:
    limits = [
        f"{label} <= {budget[key]:,.1f} {unit}"
        for key, label, unit in (("max_memory_mb", "peak RSS", "MB"), ("max_latency_us", "p50", "µs"))
        if budget.get(key) is not None
    ]
    if not limits:
        return "none given (pass --max-memory-mb / --max-latency-us to enforce one)"
    return "met: " + ", ".join(limits)


def _not_measured(result: ExportResult) -> str:
    if not result.config.measure:
        return "not measured: the export ran with measure=False (--no-measure)"
    return "not measured: the manifest holds no latency and memory figures"


def _joblib_rows(report: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [str(row["compress"]), _size(row["bytes"]), f"{row['save_s']:.3f} s", f"{row['load_s']:.3f} s"]
        for row in report
    ]


def _params_text(params: dict[str, Any], markup: _Markup) -> str:
    return ", ".join(markup.code(f"{key}={value!r}") for key, value in params.items()) or "defaults"


def _tuning_summary(search: dict[str, Any], markup: _Markup) -> str:
    best = _params_text(search.get("best_params", {}), markup)
    scoring = markup.code(str(search.get("scoring")))
    return (
        f"GridSearchCV, {search.get('cv')}-fold, scoring {scoring}; "
        f"best {best} with mean score {_number(search.get('best_score'))}."
    )


def _tuning_rows(search: dict[str, Any], markup: _Markup) -> list[list[str]]:
    candidates = sorted(search.get("candidates", []), key=lambda c: -c["mean_score"])
    return [
        [_params_text(c["params"], markup), _number(c["mean_score"]), _number(c["std_score"], 2)]
        for c in candidates[:TUNING_CANDIDATES_SHOWN]
    ]


def _key_params(result: ExportResult) -> dict[str, Any]:
    params = dict(result.manifest.training.estimator_params)
    return {name: params[name] for name in KEY_PARAMS if name in params}


def _estimator_name(result: ExportResult) -> str:
    return result.manifest.training.estimator or type(result.pipeline[-1]).__name__


def _bundle_path(result: ExportResult) -> str:
    """The bundle below the models folder, as a user types it (``models/quality/1.0.0``)."""
    models = result.config.output.name or "models"
    return f"{models}/{result.manifest.name}/{result.manifest.version}"


# -- model card ------------------------------------------------------------------------------------


def _card_purpose(result: ExportResult) -> list[str]:
    description = result.manifest.description or "No description was given to the export."
    if result.config.data is None:
        use = (
            "Trained on the built-in synthetic demo data: a demonstration of the export and the "
            "device runtime, not a model for real parts."
        )
    else:
        use = (
            "Intended for scoring one record at a time, offline, on factory devices through the "
            "factory-edge runtime, for data from the same process as the training data."
        )
    return ["## Purpose", "", description, "", use, ""]


def _card_model(result: ExportResult) -> list[str]:
    md, summary, config = MARKDOWN, result.onnx_summary, result.config
    steps = " → ".join(f"{md.code(name)} ({type(step).__name__})" for name, step in result.pipeline.steps)
    origin = (
        f"user Pipeline from {md.code(config.pipeline)}" if config.pipeline else f"built-in {md.code(config.estimator)}"
    )
    nodes = _number(summary.get("tree_nodes", 0))
    trees = (
        f"{_number(summary['trees'])} trees, {nodes} tree nodes" if summary.get("trees") else ("not a tree ensemble")
    )
    operators = ", ".join(f"{name} × {n}" for name, n in summary.get("operators", {}).items())
    opsets = ", ".join(f"{domain} {n}" for domain, n in summary.get("opsets", {}).items())
    params = _params_text(_key_params(result), md)
    return [
        "## Model",
        "",
        f"- Estimator: {_estimator_name(result)} ({origin})",
        f"- Key parameters: {params} (all of them: `training.estimator_params` in manifest.json)",
        f"- Pipeline steps: {steps}",
        f"- ONNX graph: {trees}; operators {operators or 'n/a'}; opsets {opsets or 'n/a'}",
        *_size_limit_lines(result.metrics.get("versus_unconstrained")),
        "",
    ]


def _size_limit_lines(check: dict[str, Any] | None) -> list[str]:
    """The quality cost of a size-limited forest against the same forest grown fully."""
    return [f"- Size: {size_limit_sentence(check)}"] if check else []


def _card_data(result: ExportResult) -> list[str]:
    md, data = MARKDOWN, result.data_summary

    def columns(key: str) -> str:
        return _capped(data.get(key, []), COLUMNS_LISTED, md) or "none"

    rows, unlabelled = _number(data.get("rows")), _number(data.get("rows_without_target", 0))
    split = (
        f"{_number(data.get('train_rows'))} training rows, {_number(data.get('test_rows'))} "
        f"held-out rows (test_size {data.get('test_size')}, seed {data.get('seed')})"
    )
    fingerprint = md.code(str(data.get("fingerprint_sha256")))
    return [
        "## Data",
        "",
        f"- Source: {md.code(str(data.get('source', '?')))}",
        f"- Rows: {rows} ({unlabelled} without a target value, left out)",
        f"- Split: {split}",
        f"- Target: {md.code(str(data.get('target')))}",
        f"- Number columns: {columns('numeric')}",
        f"- Category columns: {columns('categorical')}",
        f"- Dropped columns: {columns('dropped')}",
        f"- Fingerprint (sha256 of the labelled rows): {fingerprint}",
        "",
    ]


def _card_metrics(metrics: dict[str, Any]) -> list[str]:
    md = MARKDOWN
    lines = ["## Metrics (held-out split)", "", _md_table(["metric", "value"], _metric_rows(metrics)), ""]
    per_class = _per_class_rows(metrics, md)
    if per_class:
        lines += ["Per class:", "", _md_table(["class", "F1", "held-out rows"], per_class), ""]
    confusion = _confusion_table(metrics, md)
    if confusion:
        lines += ["Confusion matrix (rows: true class, columns: predicted class):", "", _md_table(*confusion), ""]
    return lines


def _card_importance(result: ExportResult) -> list[str]:
    md, metrics = MARKDOWN, result.metrics
    lines = ["## Feature importance", ""]
    importance = _importance_rows(metrics, md)
    if importance:
        lines += [
            "The estimator's own importance, summed per input column (top columns):",
            "",
            _md_table(["column", "importance"], importance),
            "",
        ]
    else:
        lines += [f"{_estimator_name(result)} reports no feature importance of its own.", ""]
    permutation = _permutation_rows(metrics, md)
    if permutation:
        detail = metrics["permutation_importance"]
        intro = (
            f"Permutation importance on the held-out split (drop in {detail.get('scoring')}, "
            f"mean ± std of {detail.get('repeats')} repeats):"
        )
        lines += [intro, "", _md_table(["column", "importance"], permutation), ""]
    return lines


def _card_inputs_outputs(manifest: runtime.Manifest) -> list[str]:
    md, target = MARKDOWN, MARKDOWN.code(str(manifest.target))
    lines = [
        "## Inputs",
        "",
        "One record holds every column below, named exactly as in the training data.",
        "",
        _md_table(INPUT_HEADERS, _input_rows(manifest, md)),
        "",
        "## Outputs",
        "",
    ]
    if manifest.classes is not None:
        classes = _capped(manifest.classes, COLUMNS_LISTED, md)
        output = md.code(str(manifest.outputs.probabilities))
        probabilities = (
            f"- `probabilities`: one per class, in that order (ONNX output {output}); "
            "the label is the first most probable class, as scikit-learn chooses it"
        )
        lines += [f"- `label`: the predicted class of {target}, one of {classes}", probabilities]
    else:
        output = md.code(str(manifest.outputs.value))
        lines.append(f"- `value`: the predicted {target} (ONNX output {output})")
    return lines + [""]


def _card_performance(result: ExportResult) -> list[str]:
    performance = result.manifest.performance.to_dict()
    if not performance:
        return ["## Performance", "", _sentence(_not_measured(result)), ""]
    return [
        "## Performance",
        "",
        "Measured by the export on the export machine; measure again on the device.",
        "",
        _md_table(["measure", "value"], _performance_rows(performance, MARKDOWN)),
        "",
    ]


def _card_parity(result: ExportResult) -> list[str]:
    parity = result.manifest.parity.to_dict() or result.parity.summary().to_dict()
    lines = [
        "## Parity: scikit-learn vs the device runtime",
        "",
        _md_table(*_parity_table(parity, result.manifest.task, MARKDOWN)),
        "",
        _parity_verdict(parity, result.manifest.task),
        "",
    ]
    notes = [f"- Note: {MARKDOWN.text(note)}" for note in parity.get("notes", [])]
    return lines + (notes + [""] if notes else [])


def _card_tuning(result: ExportResult) -> list[str]:
    if not result.search:
        return ["## Tuning", "", "No tuning: the estimator's parameters were set directly.", ""]
    rows = _tuning_rows(result.search, MARKDOWN)
    return [
        "## Tuning",
        "",
        _tuning_summary(result.search, MARKDOWN),
        "",
        _md_table(["parameters", "mean score", "std"], rows),
        "",
    ]


def _card_joblib(result: ExportResult) -> list[str]:
    if not result.joblib_report:
        return []
    where = (
        f"{MARKDOWN.code(result.joblib_path.name)} beside the bundle, saved with compress="
        f"{result.config.compress}. Loading joblib runs code from the file: use it on the "
        "export machine only, never on a device."
    )
    return [
        "## Saved scikit-learn Pipeline (joblib)",
        "",
        where,
        "",
        _md_table(JOBLIB_HEADERS, _joblib_rows(result.joblib_report)),
        "",
    ]


def _card_libraries(manifest: runtime.Manifest) -> list[str]:
    rows = [[MARKDOWN.code(name), MARKDOWN.code(version)] for name, version in manifest.libraries.items()]
    return ["## Library versions", "", _md_table(["library", "version"], rows), ""]


def _limitations(result: ExportResult) -> list[str]:
    md, manifest, data = MARKDOWN, result.manifest, result.data_summary
    source, train_rows = md.code(str(data.get("source", "?"))), _number(data.get("train_rows"))
    trained_on = (
        f"- Trained on {source} ({train_rows} training rows). It is only as good as that "
        "data is like the data it will see; the metrics come from one held-out split of "
        "the same data, not from the factory floor."
    )
    lines = [trained_on]
    if result.config.data is None:
        lines.append(
            "- The demo data is synthetic: random sensor values and rule-based defect "
            "labels, 5 % of them flipped at random. It describes no real machine; do not "
            "use this model for real decisions."
        )
    inferred = [c.name for c in manifest.inputs if "training data" in (c.range_source or "")]
    lines.append(
        "- The runtime refuses numbers outside each column's valid range. A range widened "
        "from the training data's min/max admits values the model has not seen"
        + (f" ({_capped(inferred, 5, md)})." if inferred else ".")
    )
    nullable = [c.name for c in manifest.inputs if c.nullable]
    lines.append(
        "- Missing values are accepted only in nullable columns"
        + (f" ({_capped(nullable, 5, md)}); the Pipeline's imputers fill them." if nullable else " (none).")
    )
    if any(c.kind == "category" for c in manifest.inputs):
        lines.append(
            "- Unknown categories: `runtime.load` refuses them by default "
            '(`on_unknown="reject"`); with `on_unknown="flag"` the record is predicted as '
            "scikit-learn would predict it and the result carries a flag."
        )
    lines.append(
        "- Drift: the process, sensors or machines change over time. The manifest holds "
        "a drift reference of the training inputs and predictions; compare live data "
        "against it and retrain when it moves."
    )
    compared = (
        "probabilities differ from scikit-learn's by at most this, and labels are identical"
        if manifest.is_classifier
        else "values differ from scikit-learn's by at most this times max(1, |value|)"
    )
    lines.append(
        f"- Parity tolerance {_number(manifest.tolerance, 3)}: on every tested case the "
        f"device's {compared}. It is evidence on the cases tested, not a proof for every "
        "possible input; the golden cases are replayed at every load, so a device whose "
        "onnxruntime disagrees refuses the bundle."
    )
    return ["## Limitations", "", *lines, ""]


def _card_usage(result: ExportResult) -> list[str]:
    path = _bundle_path(result)
    cases = result.manifest.golden_cases
    example = json.dumps(dict(cases[0].inputs) if cases else {}, ensure_ascii=False)
    to_jsonl = f"python -c \"import json; print(json.dumps(json.load(open('{path}/example_input.json'))))\""
    needs = (
        "The device needs only numpy, onnxruntime and the factory-edge runtime "
        "(`pip install -r requirements-device.txt`). Pass the version folder, or the model "
        "folder to follow its `CURRENT` file."
    )
    return [
        "## Using it on a device",
        "",
        needs,
        "",
        "```sh",
        f"python -m runtime info {path}",
        "# predict takes CSV or JSON Lines (one record per line), e.g. from example_input.json:",
        f"{to_jsonl} > records.jsonl",
        f"python -m runtime predict {path} --input records.jsonl",
        "```",
        "",
        "```python",
        "import runtime",
        "",
        f"model = runtime.load({path!r})  # checks the hash and replays the golden cases",
        f"record = {example}",
        "prediction = model.predict(record)",
        "print(prediction.label if prediction.value is None else prediction.value)",
        "```",
        "",
    ]


def model_card(result: ExportResult) -> str:
    """The Markdown model card: what a reviewer needs to trust (or refuse) this model."""
    manifest = result.manifest
    title = [
        f"# Model card: {MARKDOWN.code(manifest.name)} {manifest.version}",
        "",
        _md_table(["", ""], _summary_rows(result, MARKDOWN)),
        "",
    ]
    sections = [
        title,
        _card_purpose(result),
        _card_model(result),
        _card_data(result),
        _card_metrics(result.metrics),
        _card_importance(result),
        _card_inputs_outputs(manifest),
        _card_performance(result),
        _card_parity(result),
        _card_tuning(result),
        _card_joblib(result),
        _card_libraries(manifest),
        _limitations(result),
        _card_usage(result),
    ]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"


# -- charts ----------------------------------------------------------------------------------------


def _chart_label(text: str) -> str:
    """A column name as matplotlib should draw it: shortened, ``$`` not read as mathtext."""
    short = text if len(text) <= CHART_LABEL_CHARS else text[: CHART_LABEL_CHARS - 1] + "…"
    return short.replace("$", r"\$")


def _png_data_uri(draw: Callable[[Axes], None], size: tuple[float, float]) -> str:
    """Draw on a fresh Agg figure and return it as a ``data:image/png;base64,`` URI.

    The object-oriented API on an explicit Agg canvas needs no display, touches no pyplot global
    state and so never switches the caller's backend. matplotlib is imported here, not at module
    level, so importing the export package stays cheap.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A column name in a script the default font lacks draws as boxes: harmless in a report.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_chart(confusion: dict[str, Any]) -> str:
    """Heatmap of the confusion matrix (true class by row), counts written in each cell."""
    labels = [_chart_label(str(label)) for label in confusion["labels"]]
    matrix = confusion["matrix"]
    side = min(4.0 + 0.4 * len(labels), 12.0)
    crowded = len(labels) > 4

    def draw(axes: Axes) -> None:
        image = axes.imshow(matrix, cmap="Blues")
        axes.figure.colorbar(image, ax=axes, shrink=0.8)
        ticks = list(range(len(labels)))
        axes.set_xticks(ticks, labels=labels, rotation=45 if crowded else 0, ha="right" if crowded else "center")
        axes.set_yticks(ticks, labels=labels)
        axes.set_xlabel("predicted class")
        axes.set_ylabel("true class")
        axes.set_title("Confusion matrix, held-out split")
        if len(labels) > ANNOTATED_CLASSES:
            return
        peak = max((max(row) for row in matrix), default=0)
        for row, counts in enumerate(matrix):
            for column, count in enumerate(counts):
                axes.text(
                    column, row, f"{count:,}", ha="center", va="center", color="white" if count > peak / 2 else "black"
                )

    return _png_data_uri(draw, (side, side * 0.85))


def importance_chart(values: dict[str, float], title: str, errors: dict[str, float] | None = None) -> str:
    """Horizontal bars of the largest values, the largest on top (optional ± error bars)."""
    ranked = _ranked(values, CHART_COLUMNS)[::-1]
    names = [_chart_label(name) for name, _ in ranked]
    spread = [errors.get(name, 0.0) for name, _ in ranked] if errors else None

    def draw(axes: Axes) -> None:
        axes.barh(
            range(len(ranked)),
            [value for _, value in ranked],
            xerr=spread,
            color="#3b75af",
            error_kw={"ecolor": "#444444", "capsize": 3},
        )
        axes.set_yticks(range(len(ranked)), labels=names)
        axes.axvline(0.0, color="#888888", linewidth=0.8)
        axes.set_title(title)

    return _png_data_uri(draw, (7.0, 1.2 + 0.35 * len(ranked)))


# -- HTML report -----------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #3b75af; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
code { background: #f4f4f4; padding: 0 .2em; border-radius: 3px; }
img { max-width: 100%; display: block; margin: .8em 0; }
.passed { color: #1a7f37; font-weight: bold; } .failed { color: #c62828; font-weight: bold; }
.note { color: #555; }
"""


def _html_section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _html_image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _html_note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _html_metrics(metrics: dict[str, Any]) -> str:
    parts = [_html_table(["metric", "value"], _metric_rows(metrics))]
    per_class = _per_class_rows(metrics, HTML)
    if per_class:
        parts.append(_html_table(["class", "F1", "held-out rows"], per_class))
    confusion = _confusion_table(metrics, HTML)
    if confusion:
        heatmap = confusion_chart(metrics["confusion_matrix"])
        parts += [
            "<p>Confusion matrix (rows: true class, columns: predicted class)</p>",
            _html_table(*confusion),
            _html_image(heatmap, "confusion matrix heatmap"),
        ]
    return _html_section("Metrics (held-out split)", *parts)


def _html_importance(result: ExportResult) -> str:
    metrics, parts = result.metrics, []
    importance = metrics.get("feature_importance")
    if importance:
        title = "Feature importance (estimator, per column)"
        chart = importance_chart(importance["by_column"], title)
        parts.append(_html_image(chart, "feature importance chart"))
    else:
        estimator = _estimator_name(result)
        parts.append(_html_note(f"{estimator} reports no feature importance of its own."))
    permutation = metrics.get("permutation_importance")
    if permutation:
        title = f"Permutation importance (drop in {permutation.get('scoring')}, held-out split)"
        chart = importance_chart(permutation["mean"], title, permutation.get("std"))
        parts.append(_html_image(chart, "permutation importance chart"))
    return _html_section("Feature importance", *parts)


def _html_parity(result: ExportResult) -> str:
    parity = result.manifest.parity.to_dict() or result.parity.summary().to_dict()
    css = "passed" if parity.get("passed") else "failed"
    verdict = html.escape(_parity_verdict(parity, result.manifest.task))
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in parity.get("notes", []))
    return _html_section(
        "Parity: scikit-learn vs the device runtime",
        f'<p class="{css}">{verdict}</p>',
        _html_table(*_parity_table(parity, result.manifest.task, HTML)),
        f"<ul>{notes}</ul>" if notes else "",
    )


def _html_performance(result: ExportResult) -> str:
    performance = result.manifest.performance.to_dict()
    if not performance:
        return _html_section("Performance", _html_note(_sentence(_not_measured(result))))
    rows = _performance_rows(performance, HTML)
    return _html_section("Performance", _html_table(["measure", "value"], rows))


def _html_tuning(result: ExportResult) -> str:
    if not result.search:
        return _html_section("Tuning", _html_note("No tuning: the estimator's parameters were set directly."))
    rows = _tuning_rows(result.search, HTML)
    return _html_section(
        "Tuning",
        f"<p>{_tuning_summary(result.search, HTML)}</p>",
        _html_table(["parameters", "mean score", "std"], rows),
    )


def _html_joblib(result: ExportResult) -> str:
    if not result.joblib_report:
        return ""
    return _html_section(
        "Saved scikit-learn Pipeline (joblib)",
        f"<p>{HTML.code(result.joblib_path.name)} beside the bundle, saved with compress="
        f"{result.config.compress}; for the export machine only: loading joblib runs code from the "
        "file.</p>",
        _html_table(JOBLIB_HEADERS, _joblib_rows(result.joblib_report)),
    )


def _html_pipeline(result: ExportResult) -> str:
    from sklearn.utils import estimator_html_repr

    return _html_section("Pipeline", estimator_html_repr(result.pipeline))


def report_html(result: ExportResult) -> str:
    """The self-contained HTML report: tables, base64 PNG charts and the Pipeline diagram."""
    manifest = result.manifest
    title = html.escape(f"{manifest.name} {manifest.version}")
    libraries = [[HTML.code(name), HTML.code(version)] for name, version in manifest.libraries.items()]
    body = [
        f"<h1>Model report: {title}</h1>",
        f"<p>{html.escape(manifest.description)}</p>",
        _html_table(["", ""], _summary_rows(result, HTML)),
        _html_metrics(result.metrics),
        _html_importance(result),
        _html_section("Inputs", _html_table(INPUT_HEADERS, _input_rows(manifest, HTML))),
        _html_parity(result),
        _html_performance(result),
        _html_tuning(result),
        _html_joblib(result),
        _html_pipeline(result),
        _html_section("Library versions", _html_table(["library", "version"], libraries)),
    ]
    head = f'<head>\n<meta charset="utf-8">\n<title>Model report: {title}</title>\n<style>{_CSS}</style>\n</head>'
    return '<!DOCTYPE html>\n<html lang="en">\n' + head + "\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"


# -- deployment checklist --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ChecklistItem:
    """One deployment requirement, whether the export met it, and the evidence either way."""

    title: str
    done: bool
    evidence: str


def _check_metrics(folder: Path, result: ExportResult) -> ChecklistItem:
    title, metrics = "Metrics recorded", result.metrics
    if not metrics:
        return ChecklistItem(title, False, "the export recorded no metrics")
    headline = ", ".join(f"{name} {value}" for name, value in _metric_rows(metrics)[1:])
    rows = _number(metrics.get("held_out_rows"))
    return ChecklistItem(title, True, f"{headline} on {rows} held-out rows")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_bundle(folder: Path, result: ExportResult) -> ChecklistItem:
    title, manifest = "Bundle saved and versioned", result.manifest
    model = folder / manifest.model_file.path
    missing = [name for name in (manifest.model_file.path, MANIFEST_FILE) if not (folder / name).is_file()]
    if missing:
        return ChecklistItem(title, False, f"missing from the bundle: {', '.join(missing)}")
    if not is_semver(manifest.version):
        return ChecklistItem(title, False, f"version {manifest.version!r} is not semantic")
    if _sha256(model) != manifest.model_file.sha256:
        evidence = f"{model.name} does not match the sha256 in {MANIFEST_FILE}"
        return ChecklistItem(title, False, evidence)
    size = _size(model.stat().st_size)
    return ChecklistItem(
        title, True, f"{model.name} ({size}, sha256 matches) and {MANIFEST_FILE}; version {manifest.version}"
    )


def _check_schema(folder: Path, result: ExportResult) -> ChecklistItem:
    title, path = "Input schema", folder / "input_schema.json"
    if not path.is_file():
        return ChecklistItem(title, False, "input_schema.json is missing")
    try:
        properties = json.loads(path.read_text(encoding="utf-8")).get("properties", {})
    except (ValueError, AttributeError):
        return ChecklistItem(title, False, "input_schema.json is not a JSON Schema object")
    absent = [c.name for c in result.manifest.inputs if c.name not in properties]
    if absent:
        evidence = f"input_schema.json lacks {_capped(absent, 5, MARKDOWN)}"
        return ChecklistItem(title, False, evidence)
    return ChecklistItem(title, True, f"input_schema.json describes all {len(properties)} columns")


def _check_missing(folder: Path, result: ExportResult) -> ChecklistItem:
    title, columns = "Missing-value handling", result.manifest.inputs
    undecided = [c.name for c in columns if not isinstance(c.nullable, bool)]
    nullable = [c.name for c in columns if c.nullable is True]
    missing = result.parity.kinds.get("missing", {})
    cases = int(missing.get("cases", 0))
    if undecided:
        evidence = f"nullable not decided for {_capped(undecided, 5, MARKDOWN)}"
        return ChecklistItem(title, False, evidence)
    if not nullable:
        evidence = "no column accepts missing values; the runtime refuses them"
        return ChecklistItem(title, True, evidence)
    agreement = (
        f"{_number(missing.get('label_mismatches', 0))} label mismatches"
        if result.manifest.is_classifier
        else f"max |diff| {_number(missing.get('max_abs_diff'), 3)}"
    )
    evidence = (
        f"{len(nullable)} of {len(columns)} columns nullable; {_number(cases)} missing-value parity cases, {agreement}"
    )
    return ChecklistItem(title, cases > 0, evidence)


def _check_ranges(folder: Path, result: ExportResult) -> ChecklistItem:
    title = "Range validation"
    numbers = [c for c in result.manifest.inputs if c.kind == "number"]
    unbounded = [c.name for c in numbers if c.valid_range is None]
    if unbounded:
        return ChecklistItem(title, False, f"no valid range for {_capped(unbounded, 5, MARKDOWN)}")
    if not numbers:
        return ChecklistItem(title, True, "no number columns")
    sources = "; ".join(sorted({c.range_source or "unrecorded source" for c in numbers}))
    return ChecklistItem(title, True, f"all {len(numbers)} number columns have a valid range (from {sources})")


def _check_examples(folder: Path, result: ExportResult) -> ChecklistItem:
    title, names = "Example input and output", ("example_input.json", "example_output.json")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        return ChecklistItem(title, False, f"missing: {', '.join(missing)}")
    return ChecklistItem(title, True, " and ".join(names))


def _check_requirements(folder: Path, result: ExportResult) -> ChecklistItem:
    title, path = "Requirements with versions", folder / "requirements-device.txt"
    if not path.is_file():
        return ChecklistItem(title, False, "requirements-device.txt is missing")
    text = path.read_text(encoding="utf-8")
    pins = {
        name: re.search(rf"^{name}==(\S+)", text, re.MULTILINE | re.IGNORECASE) for name in ("numpy", "onnxruntime")
    }
    unpinned = [name for name, match in pins.items() if match is None]
    if unpinned:
        return ChecklistItem(title, False, f"requirements-device.txt does not pin {', '.join(unpinned)} with ==")
    pinned = ", ".join(f"{name}=={match.group(1)}" for name, match in pins.items() if match)
    return ChecklistItem(title, True, f"requirements-device.txt pins {pinned}")


def _check_performance(folder: Path, result: ExportResult) -> ChecklistItem:
    title, performance = "Memory and latency measured", result.manifest.performance.to_dict()
    p50 = performance.get("single_record_latency_us", {}).get("p50")
    rss = performance.get("peak_rss_mb")
    if p50 is None or rss is None:
        return ChecklistItem(title, False, _not_measured(result))
    machine = performance.get("machine", "machine not recorded")
    return ChecklistItem(title, True, f"p50 {p50:.1f} µs, peak RSS {rss:.0f} MB ({machine})")


def _check_parity(folder: Path, result: ExportResult) -> ChecklistItem:
    parity = result.parity
    done = parity.passed and parity.label_mismatches == 0
    figures = _parity_figures(parity.summary().to_dict(), result.manifest.task)
    return ChecklistItem("Parity proven", done, figures if done else f"FAILED: {figures}")


def _check_golden(folder: Path, result: ExportResult) -> ChecklistItem:
    title, cases = "Tests (golden cases)", result.manifest.golden_cases
    if not cases:
        return ChecklistItem(title, False, "the manifest holds no golden cases")
    kinds: dict[str, int] = {}
    for case in cases:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    listed = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    return ChecklistItem(title, True, f"{len(cases)} golden cases ({listed}), replayed by runtime.load at every load")


CHECKS: tuple[Callable[[Path, ExportResult], ChecklistItem], ...] = (
    _check_metrics,
    _check_bundle,
    _check_schema,
    _check_missing,
    _check_ranges,
    _check_examples,
    _check_requirements,
    _check_performance,
    _check_parity,
    _check_golden,
)


def checklist_items(folder: Path, result: ExportResult) -> list[ChecklistItem]:
    """Judge every deployment requirement from ``result`` and the files in the bundle ``folder``."""
    return [check(folder, result) for check in CHECKS]


def deployment_checklist(folder: Path, result: ExportResult) -> str:
    """The checklist as Markdown task items: ``[x]`` only where there is proof, evidence beside."""
    items = checklist_items(folder, result)
    done = sum(item.done for item in items)
    title = f"{MARKDOWN.code(result.manifest.name)} {result.manifest.version}"
    intro = (
        "Computed by the export from its results and the files in this bundle; nothing here "
        f"is ticked by hand. {done} of {len(items)} done."
    )
    lines = [f"# Deployment checklist: {title}", "", intro, ""]
    lines += [f"- [{'x' if item.done else ' '}] **{item.title}**: {item.evidence}" for item in items]
    return "\n".join(lines) + "\n"


# -- entry point -----------------------------------------------------------------------------------


def write_documents(folder: Path, result: ExportResult) -> list[Path]:
    """Write the model card, the HTML report and the deployment checklist into ``folder``.

    Returns the written paths. Called on the staging folder once every machine-readable file is
    in it, so the checklist reflects the bundle as it will be published.
    """
    documents = {
        MODEL_CARD_FILE: model_card(result),
        REPORT_FILE: report_html(result),
        CHECKLIST_FILE: deployment_checklist(folder, result),
    }
    paths = []
    for name, text in documents.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        logger.debug("wrote %s (%d characters)", path, len(text))
        paths.append(path)
    return paths
