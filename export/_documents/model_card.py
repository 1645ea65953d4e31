"""The model card (``model_card.md``): what a reviewer needs to trust, or refuse, this model.

Purpose, model, data, metrics, feature importance, inputs and outputs, performance, the parity
proof, tuning, the joblib twin, library versions, limitations and how to run it on a device.
"""

from __future__ import annotations

import json
from typing import Any

import runtime

from .._config import ExportResult
from .._format import format_number, size_limit_sentence
from ._facts import (
    INPUT_HEADERS,
    JOBLIB_HEADERS,
    PER_CLASS_HEADERS,
    bundle_path,
    confusion_table,
    estimator_name,
    gate_text,
    importance_rows,
    in_words,
    input_rows,
    joblib_rows,
    key_params,
    metric_rows,
    not_measured,
    params_text,
    parity_of,
    parity_table,
    parity_verdict,
    per_class_rows,
    performance_rows,
    permutation_rows,
    summary_rows,
    tuning_rows,
    tuning_summary,
)
from ._markup import MARKDOWN, capped, md_table, sentence

__all__ = ["model_card"]

COLUMNS_LISTED = 50


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
    built_in = f"built-in {md.code(str(config.estimator))}"
    origin = f"user Pipeline from {md.code(config.pipeline)}" if config.pipeline else built_in
    nodes = format_number(summary.get("tree_nodes", 0))
    trees = (
        f"{format_number(summary['trees'])} trees, {nodes} tree nodes"
        if summary.get("trees")
        else ("not a tree ensemble")
    )
    operators = ", ".join(f"{name} × {n}" for name, n in summary.get("operators", {}).items())
    opsets = ", ".join(f"{domain} {n}" for domain, n in summary.get("opsets", {}).items())
    params = params_text(key_params(result), md)
    return [
        "## Model",
        "",
        f"- Estimator: {estimator_name(result)} ({origin})",
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
        return capped(data.get(key, []), COLUMNS_LISTED, md) or "none"

    rows, unlabelled = format_number(data.get("rows")), format_number(data.get("rows_without_target", 0))
    split = (
        f"{format_number(data.get('train_rows'))} training rows, {format_number(data.get('test_rows'))} "
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
    lines = ["## Metrics (held-out split)", "", md_table(["metric", "value"], metric_rows(metrics)), ""]
    lines += [f"- {text}" for text in in_words(metrics, md)] + ([""] if metrics.get("in_words") else [])
    per_class = per_class_rows(metrics, md)
    if per_class:
        lines += ["Per class:", "", md_table(PER_CLASS_HEADERS, per_class), ""]
    confusion = confusion_table(metrics, md)
    if confusion:
        lines += ["Confusion matrix (rows: true class, columns: predicted class):", "", md_table(*confusion), ""]
    return lines + [gate_text(metrics, md), ""]


def _card_decision(result: ExportResult) -> list[str]:
    """How the label follows from the probabilities, and what the threshold changed on the held-out split."""
    manifest, record = result.manifest, result.threshold
    if manifest.decision is None or record is None:
        return []
    md, decision = MARKDOWN, manifest.decision
    if decision.source == "tuned":
        origin = (
            f"tuned by scikit-learn's `TunedThresholdClassifierCV` for {md.code(str(decision.objective))}: "
            f"{record.get('cv')}-fold cross-validation on the training split over {record.get('candidates')} "
            f"thresholds (mean score {format_number(record.get('cv_score'), 4)}), then refitted on the whole split"
        )
    else:
        origin = "fixed at export (`--threshold`, scikit-learn's `FixedThresholdClassifier`)"
    held_out = record["held_out"]
    positive, positives = held_out["positive_class"], held_out["positives"]
    rows = [
        [
            name,
            format_number(side["recall"], 4),
            format_number(side["precision"], 4),
            f"{format_number(side['caught'])} of {format_number(positives)}",
            format_number(side["false_alarms"]),
        ]
        for name, side in (
            ("most probable class", held_out["default"]),
            (f"threshold {decision.threshold:.6g}", held_out["threshold"]),
        )
    ]
    return [
        "## Decision threshold",
        "",
        f"Label: {md.code(str(manifest.label_rule()))}; the probabilities are unchanged. Threshold {origin}.",
        "",
        f"The positive class {md.code(repr(positive))} on the held-out split under each rule "
        "(the metrics above are the threshold's):",
        "",
        md_table(["rule", "recall", "precision", "caught", "false alarms"], rows),
        "",
    ]


def _card_importance(result: ExportResult) -> list[str]:
    md, metrics = MARKDOWN, result.metrics
    lines = ["## Feature importance", ""]
    importance = importance_rows(metrics, md)
    if importance:
        lines += [
            "The estimator's own importance, summed per input column (top columns):",
            "",
            md_table(["column", "importance"], importance),
            "",
        ]
    else:
        lines += [f"{estimator_name(result)} reports no feature importance of its own.", ""]
    permutation = permutation_rows(metrics, md)
    if permutation:
        detail = metrics["permutation_importance"]
        intro = (
            f"Permutation importance on the held-out split (drop in {detail.get('scoring')}, "
            f"mean ± std of {detail.get('repeats')} repeats):"
        )
        lines += [intro, "", md_table(["column", "importance"], permutation), ""]
    return lines


def _card_inputs_outputs(manifest: runtime.Manifest) -> list[str]:
    md, target = MARKDOWN, MARKDOWN.code(str(manifest.target))
    lines = [
        "## Inputs",
        "",
        "One record holds every column below, named exactly as in the training data.",
        "",
        md_table(INPUT_HEADERS, input_rows(manifest, md)),
        "",
        "## Outputs",
        "",
    ]
    if manifest.classes is not None:
        classes = capped(manifest.classes, COLUMNS_LISTED, md)
        output = md.code(str(manifest.outputs.probabilities))
        rule = (
            f"the label is {md.code(str(manifest.label_rule()))}: the decision threshold (manifest.json `decision`)"
            if manifest.decision is not None
            else "the label is the first most probable class, as scikit-learn chooses it"
        )
        probabilities = f"- `probabilities`: one per class, in that order (ONNX output {output}); {rule}"
        lines += [f"- `label`: the predicted class of {target}, one of {classes}", probabilities]
    else:
        output = md.code(str(manifest.outputs.value))
        lines.append(f"- `value`: the predicted {target} (ONNX output {output})")
    return lines + [""]


def _card_performance(result: ExportResult) -> list[str]:
    performance = result.manifest.performance
    if not performance.measured:
        return ["## Performance", "", sentence(not_measured(result)), ""]
    return [
        "## Performance",
        "",
        "Measured by the export on the export machine; measure again on the device.",
        "",
        md_table(["measure", "value"], performance_rows(performance, MARKDOWN)),
        "",
    ]


def _card_parity(result: ExportResult) -> list[str]:
    parity = parity_of(result)
    lines = [
        "## Parity: scikit-learn vs the device runtime",
        "",
        md_table(*parity_table(parity, result.manifest.task, MARKDOWN)),
        "",
        parity_verdict(parity, result.manifest.task),
        "",
    ]
    notes = [f"- Note: {MARKDOWN.text(note)}" for note in parity.notes]
    return lines + (notes + [""] if notes else [])


def _card_tuning(result: ExportResult) -> list[str]:
    if not result.search:
        return ["## Tuning", "", "No tuning: the estimator's parameters were set directly.", ""]
    rows = tuning_rows(result.search, MARKDOWN)
    return [
        "## Tuning",
        "",
        tuning_summary(result.search, MARKDOWN),
        "",
        md_table(["parameters", "mean score", "std"], rows),
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
        md_table(JOBLIB_HEADERS, joblib_rows(result.joblib_report)),
        "",
    ]


def _card_libraries(manifest: runtime.Manifest) -> list[str]:
    rows = [[MARKDOWN.code(name), MARKDOWN.code(version)] for name, version in manifest.libraries.items()]
    return ["## Library versions", "", md_table(["library", "version"], rows), ""]


def _limitations(result: ExportResult) -> list[str]:
    md, manifest, data = MARKDOWN, result.manifest, result.data_summary
    source, train_rows = md.code(str(data.get("source", "?"))), format_number(data.get("train_rows"))
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
        + (f" ({capped(inferred, 5, md)})." if inferred else ".")
    )
    nullable = [c.name for c in manifest.inputs if c.nullable]
    lines.append(
        "- Missing values are accepted only in nullable columns"
        + (f" ({capped(nullable, 5, md)}); the Pipeline's imputers fill them." if nullable else " (none).")
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
        f"- Parity tolerance {format_number(manifest.tolerance, 3)}: on every tested case the "
        f"device's {compared}. It is evidence on the cases tested, not a proof for every "
        "possible input; the golden cases are replayed at every load, so a device whose "
        "onnxruntime disagrees refuses the bundle."
    )
    return ["## Limitations", "", *lines, ""]


def _card_usage(result: ExportResult) -> list[str]:
    path = bundle_path(result)
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
        md_table(["", ""], summary_rows(result, MARKDOWN)),
        "",
    ]
    sections = [
        title,
        _card_purpose(result),
        _card_model(result),
        _card_data(result),
        _card_metrics(result.metrics),
        _card_decision(result),
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
