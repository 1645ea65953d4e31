"""The bundle's documents: model card, HTML report and deployment checklist.

The documents of the session's tiny export (tests/export/conftest.py) are read as written; variations (performance measured,
a file removed, a regression model, an awkward column name) are written again with
:func:`write_documents` into a copy of the bundle, from a ``dataclasses.replace``d result.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

import runtime
from tests.probes import modules_after

EXPORT_MODULES = ("sklearn", "skl2onnx", "onnx", "pandas", "matplotlib")
HAS_EXPORT = all(importlib.util.find_spec(name) for name in EXPORT_MODULES)
pytestmark = pytest.mark.skipif(not HAS_EXPORT, reason='needs the "export" extra: pip install ".[export]"')

DOCUMENTS = ("model_card.md", "report.html", "deployment_checklist.md")
PNG_URI = "data:image/png;base64,"
# Angle brackets, brackets, spaces and dollar signs (mathtext in matplotlib) in one column name.
AWKWARD_NAME = "cost <blink>$x$</blink> [EUR/h]"
MEASURED = {
    "single_record_latency_us": {"p50": 18.2, "p90": 19.0, "p99": 30.5, "calls": 2000},
    "peak_rss_mb": 61.0,
    "load_and_first_prediction_s": 0.12,
    "machine": "x86_64, 2 cores, Linux",
    "threads": 1,
}
DONE_IN_THE_TINY_EXPORT = (
    "Metrics recorded",
    "Quality gate",
    "Bundle saved and versioned",
    "Input schema",
    "Missing-value handling",
    "Range validation",
    "Example input and output",
    "Requirements with versions",
    "Parity proven",
    "Tests (golden cases)",
)


def _bundle_copy(result, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(result.bundle, copy)
    return copy


def _with_manifest(result, **changes):
    return dataclasses.replace(result, manifest=dataclasses.replace(result.manifest, **changes))


def _checklist_line(checklist: str, title: str) -> str:
    lines = [line for line in checklist.splitlines() if f"**{title}**" in line]
    assert len(lines) == 1, checklist
    return lines[0]


def _write_and_read(folder: Path, result) -> dict[str, str]:
    from export._documents import write_documents

    paths = write_documents(folder, result)
    assert [path.name for path in paths] == list(DOCUMENTS)
    assert all(path.parent == folder for path in paths)
    return {path.name: path.read_text(encoding="utf-8") for path in paths}


def _read(result, name: str) -> str:
    return (result.bundle / name).read_text(encoding="utf-8")


# -- the tiny export's own documents ---------------------------------------------------------------


def test_documents_are_in_the_bundle_and_listed(tiny_export):
    for name in DOCUMENTS:
        assert (tiny_export.bundle / name).is_file()
        assert tiny_export.bundle / name in tiny_export.documents
    assert len(tiny_export.documents) == len(DOCUMENTS)


def test_model_card_names_every_input_column(tiny_export):
    card = _read(tiny_export, "model_card.md")
    for column in tiny_export.manifest.inputs:
        assert f"`{column.name}`" in card
    for category in ("`A`", "`B`", "`C`", "`night`"):
        assert category in card
    assert tiny_export.manifest.created_at in card
    assert tiny_export.manifest.version in card
    assert tiny_export.data_summary["fingerprint_sha256"] in card


def test_model_card_shows_the_parity_numbers(tiny_export):
    card = _read(tiny_export, "model_card.md")
    parity = tiny_export.parity
    assert f"Parity passed: {parity.total_cases:,} cases" in card
    assert f"{parity.label_mismatches:,} label mismatches" in card
    assert f"tolerance of {parity.tolerance:.3g}" in card
    for kind, figures in parity.kinds.items():
        assert f"| {kind} | {figures['cases']:,} | {figures['label_mismatches']:,} |" in card


def test_model_card_metrics_limitations_and_usage(tiny_export):
    card = _read(tiny_export, "model_card.md")
    metrics = tiny_export.metrics
    assert f"| accuracy | {metrics['accuracy']:.4g} |" in card
    assert f"| macro F1 | {metrics['macro_f1']:.4g} |" in card
    matrix = metrics["confusion_matrix"]["matrix"]
    assert f"| `0` | {matrix[0][0]:,} | {matrix[0][1]:,} |" in card
    assert "Not measured: the export ran with measure=False (--no-measure)." in card
    assert "No tuning" in card
    assert "The demo data is synthetic" in card
    assert 'on_unknown="reject"' in card
    assert "python -m runtime info " in card
    assert "python -m runtime predict " in card
    assert "runtime.load(" in card and "model.predict(record)" in card


def test_card_and_report_tell_the_truth_about_the_rare_class(tiny_export):
    card, report = _read(tiny_export, "model_card.md"), _read(tiny_export, "report.html")
    metrics = tiny_export.metrics
    matrix = metrics["confusion_matrix"]["matrix"]
    words = (
        f'Catches {matrix[1][1]:,} of {sum(matrix[1]):,} "defect" cases ({matrix[1][0]:,} missed); '
        f'{matrix[0][1]:,} false alarm{"" if matrix[0][1] == 1 else "s"} among {sum(matrix[0]):,} rows without "defect".'
    )
    assert f"- {words}" in card and f"<li>{html.escape(words)}</li>" in report
    caught = metrics["per_class"]["1"]
    row = (
        f"| `1` (the class to catch) | {caught['precision']:.4g} | {caught['recall']:.4g} | {caught['f1']:.4g} | "
        f"{caught['support']:,} |"
    )
    assert row in card
    assert f"| balanced accuracy | {metrics['balanced_accuracy']:.4g} |" in card
    assert f"| PR AUC | {metrics['pr_auc']:.4g} (average precision of class 1; chance level " in card
    assert 'Quality gate passed: against DummyClassifier(strategy="prior") on the same held-out split' in card
    assert '<p class="passed">Quality gate passed: against DummyClassifier' in report


def test_report_is_self_contained_with_charts_and_pipeline_diagram(tiny_export):
    report = _read(tiny_export, "report.html")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(images) == 4  # confusion matrix, PR curve, feature importance, permutation importance
    assert 'alt="PR curve"' in report
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert 'class="sk-container"' in report  # scikit-learn's own Pipeline diagram
    assert not re.search(r"""src=["']?(https?:)?//""", report)
    assert "<link" not in report
    for kind in tiny_export.parity.kinds:
        assert f"<td>{kind}</td>" in report


def test_checklist_of_the_tiny_export(tiny_export):
    checklist = _read(tiny_export, "deployment_checklist.md")
    line = _checklist_line(checklist, "Memory and latency measured")
    assert line.startswith("- [ ] ")
    assert "not measured: the export ran with measure=False" in line
    for title in DONE_IN_THE_TINY_EXPORT:
        assert _checklist_line(checklist, title).startswith("- [x] "), title
    assert f"{len(tiny_export.manifest.golden_cases)} golden cases" in checklist
    assert "10 of 11 done" in checklist


# -- variations written into a copy of the bundle ------------------------------------------------


def test_checklist_ticks_performance_only_when_measured(tiny_export, tmp_path):
    folder = _bundle_copy(tiny_export, tmp_path)
    unmeasured = _write_and_read(folder, _with_manifest(tiny_export, performance=runtime.Performance()))
    line = _checklist_line(unmeasured["deployment_checklist.md"], "Memory and latency measured")
    assert line.startswith("- [ ] ")

    measured = _write_and_read(folder, _with_manifest(tiny_export, performance=runtime.Performance.from_dict(MEASURED)))
    line = _checklist_line(measured["deployment_checklist.md"], "Memory and latency measured")
    assert line.startswith("- [x] ")
    assert "p50 18.2 µs, peak RSS 61 MiB" in line
    assert "| peak RSS, fresh process, load + 1 prediction | 61 MiB |" in measured["model_card.md"]
    assert "p50 18.2, p90 19, p99 30.5 over 2,000 calls" in measured["report.html"]


def test_checklist_unticks_examples_when_a_file_is_missing(tiny_export, tmp_path):
    folder = _bundle_copy(tiny_export, tmp_path)
    before = _write_and_read(folder, tiny_export)["deployment_checklist.md"]
    assert _checklist_line(before, "Example input and output").startswith("- [x] ")

    (folder / "example_input.json").unlink()
    after = _write_and_read(folder, tiny_export)["deployment_checklist.md"]
    line = _checklist_line(after, "Example input and output")
    assert line.startswith("- [ ] ")
    assert "missing: example_input.json" in line


def _remove(name):
    return lambda folder: (folder / name).unlink()


def _overwrite(name, text):
    return lambda folder: (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "title", "evidence"),
    [
        (_remove("model.onnx"), "Bundle saved and versioned", "missing from the bundle: model.onnx"),
        (_remove("manifest.json"), "Bundle saved and versioned", "missing from the bundle: manifest.json"),
        (
            _overwrite("model.onnx", "not the model"),
            "Bundle saved and versioned",
            "model.onnx does not match the sha256 in manifest.json",
        ),
        (_remove("input_schema.json"), "Input schema", "input_schema.json is missing"),
        (
            _overwrite("input_schema.json", '{"properties": {}}'),
            "Input schema",
            "input_schema.json lacks `temperature`",
        ),
        (_remove("example_output.json"), "Example input and output", "missing: example_output.json"),
        (
            _overwrite("requirements-device.txt", "numpy>=1.26\nonnxruntime==1.32.0\n"),
            "Requirements with versions",
            "does not pin numpy with ==",
        ),
        (_remove("requirements-device.txt"), "Requirements with versions", "requirements-device.txt is missing"),
    ],
)
def test_checklist_judges_the_files_on_disk(tiny_export, tmp_path, change, title, evidence):
    folder = _bundle_copy(tiny_export, tmp_path)
    change(folder)
    checklist = _write_and_read(folder, tiny_export)["deployment_checklist.md"]
    line = _checklist_line(checklist, title)
    assert line.startswith("- [ ] ")
    assert evidence in line


def test_checklist_ticks_nothing_without_evidence(tiny_export, tmp_path):
    from export._documents import checklist_items

    failed = dataclasses.replace(tiny_export.parity, passed=False, label_mismatches=2)
    empty = dataclasses.replace(
        _with_manifest(tiny_export, golden_cases=(), performance=runtime.Performance()), metrics={}, parity=failed
    )
    items = {item.title: item for item in checklist_items(tmp_path, empty)}
    for title in (
        "Metrics recorded",
        "Quality gate",
        "Bundle saved and versioned",
        "Input schema",
        "Example input and output",
        "Requirements with versions",
        "Memory and latency measured",
        "Parity proven",
        "Tests (golden cases)",
    ):
        assert not items[title].done, title
        assert items[title].evidence
    assert items["Parity proven"].evidence.startswith("FAILED: ")


def test_awkward_column_names_are_escaped(tiny_export, tmp_path):
    column = runtime.ColumnSpec(AWKWARD_NAME, "number", True, "cost", (0.0, 10.0), "the schema file")
    metrics = {
        **tiny_export.metrics,
        "feature_importance": {"by_model_input": {}, "by_column": {AWKWARD_NAME: 0.7, "temperature": 0.3}},
        "permutation_importance": {
            "scoring": "accuracy",
            "repeats": 5,
            "mean": {AWKWARD_NAME: 0.1},
            "std": {AWKWARD_NAME: 0.01},
        },
    }
    inputs = tiny_export.manifest.inputs + (column,)
    result = dataclasses.replace(_with_manifest(tiny_export, inputs=inputs, golden_cases=()), metrics=metrics)
    documents = _write_and_read(_bundle_copy(tiny_export, tmp_path), result)
    report = documents["report.html"]
    assert f"<code>{html.escape(AWKWARD_NAME)}</code>" in report
    assert AWKWARD_NAME not in report
    assert "<blink>" not in report
    assert report.count(PNG_URI) == 4
    row = f"| `{AWKWARD_NAME}` | number | yes | [0, 10] | the schema file |"
    assert row in documents["model_card.md"]


def test_markdown_cells_keep_pipes_backticks_and_tags_literal():
    from export._documents._markup import MARKDOWN, md_table

    cells = [[MARKDOWN.code("a|b")], [MARKDOWN.code("x`y")], [MARKDOWN.text("<i>")]]
    assert md_table(["column"], cells).splitlines()[2:] == [
        "| `a\\|b` |",
        "| `` x`y `` |",
        "| &lt;i> |",
    ]


def test_regression_documents(tiny_export, tmp_path):
    metrics = {
        "held_out_rows": 1200,
        "mae": 0.25,
        "rmse": 0.5,
        "r2": 0.875,
        "target_unit": "mm/s",
        "feature_importance": None,
        "permutation_importance": {
            "scoring": "r2",
            "repeats": 5,
            "mean": {"temperature": 0.4, "speed": 0.1},
            "std": {"temperature": 0.02, "speed": 0.01},
        },
    }
    manifest = dataclasses.replace(
        tiny_export.manifest,
        task="regression",
        classes=None,
        golden_cases=(),  # the classifier's cases do not fit a regressor's manifest
        target="vibration",
        outputs=runtime.OutputSpec(value="variable"),
        metrics=runtime.Metrics.from_dict(metrics),
        training=dataclasses.replace(tiny_export.manifest.training, estimator="Ridge"),
    )
    result = dataclasses.replace(tiny_export, manifest=manifest, metrics=metrics, held_out=None)
    documents = _write_and_read(_bundle_copy(tiny_export, tmp_path), result)
    card = documents["model_card.md"]
    assert "| MAE | 0.25 mm/s |" in card and "| RMSE | 0.5 mm/s |" in card and "| R² | 0.875 |" in card
    assert "accuracy" not in card and "Confusion matrix" not in card
    assert "Ridge reports no feature importance of its own." in card
    assert "`value`: the predicted `vibration`" in card
    assert "| case kind | cases | max \\|diff\\| |" in card  # no labels, so no mismatches or ties
    assert "| tie |" not in card
    assert "by at most this times max(1, |value|)" in card
    assert "label mismatches" not in documents["deployment_checklist.md"]
    assert documents["report.html"].count(PNG_URI) == 1  # the permutation importance only (no predictions given)
    line = _checklist_line(documents["deployment_checklist.md"], "Metrics recorded")
    assert line.startswith("- [x] ") and "MAE 0.25 mm/s, RMSE 0.5 mm/s, R² 0.875" in line
    assert _checklist_line(documents["deployment_checklist.md"], "Quality gate").startswith("- [ ] ")


def test_tuning_results_are_reported(tiny_export, tmp_path):
    search = {
        "grid": {"model__max_depth": [5, None]},
        "cv": 3,
        "scoring": "accuracy",
        "best_params": {"model__max_depth": 5},
        "best_score": 0.93,
        "candidates": [
            {"params": {"model__max_depth": None}, "mean_score": 0.91, "std_score": 0.01},
            {"params": {"model__max_depth": 5}, "mean_score": 0.93, "std_score": 0.02},
        ],
    }
    result = dataclasses.replace(tiny_export, search=search)
    documents = _write_and_read(_bundle_copy(tiny_export, tmp_path), result)
    card = documents["model_card.md"]
    assert "GridSearchCV, 3-fold, scoring `accuracy`; best `model__max_depth=5`" in card
    rows = [line for line in card.splitlines() if line.startswith("| `model__max_depth")]
    assert rows == ["| `model__max_depth=5` | 0.93 | 0.02 |", "| `model__max_depth=None` | 0.91 | 0.01 |"]
    assert "<code>model__max_depth=5</code>" in documents["report.html"]


def test_importing_the_documents_loads_neither_matplotlib_nor_scikit_learn():
    code = (
        "import export._documents, export._documents.charts, export._documents.report\n"
        "import export._documents.model_card, export._documents.checklist\n"
    )
    probe = modules_after(code, ["matplotlib", "sklearn", "export._documents"])
    assert probe.returncode == 0, probe.stderr
    # charts import matplotlib when they draw, the report scikit-learn when it draws the Pipeline
    assert [m for m in probe.modules if not m.startswith("export.")] == []
    assert {"export._documents.charts", "export._documents.report"} <= set(probe.modules)
