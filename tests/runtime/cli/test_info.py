"""``python -m runtime info``: what a verified bundle expects and what was recorded at export, as text
and as JSON, rendered from the manifest's typed sections."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._validation import describe_allowed
from tests.runtime.cli.invoke import one_line, run
from tests.runtime.damage import bundle_copy, edit_manifest, flip_byte

PERFORMANCE = {
    "single_record_latency_us": {"p50": 61.25, "p90": 70.0, "p99": 95.5, "calls": 2000},
    "peak_rss_mb": 88.4,
    "load_and_first_prediction_s": 0.41,
    "machine": "aarch64, 4 cores, Linux",
    "threads": 1,
}


@pytest.fixture
def edited(bundle: Path, tmp_path: Path):
    """A private copy of the shipped version folder, with ``change`` applied to its manifest."""

    def make(change) -> Path:
        copy = bundle_copy(bundle / "1.0.0", tmp_path)
        edit_manifest(copy, change)
        return copy

    return make


def line_of(out: str, label: str) -> str:
    [line] = [line for line in out.splitlines() if line.startswith(f"{label:<12}")]
    return line


def test_info_text_names_everything_the_model_expects(
    capsys: pytest.CaptureFixture[str], bundle: Path, model: runtime.Model
) -> None:
    code, out, err = run(capsys, "info", bundle)
    assert (code, err) == (0, "")
    manifest = model.manifest
    lines = out.splitlines()
    assert lines[0] == f"{manifest.name} {manifest.version}: binary classification of {manifest.target!r}"
    assert lines[1] == f"  {manifest.description}"
    assert line_of(out, "created") == f"created     {manifest.created_at}"
    assert line_of(out, "bundle") == (
        f"bundle      {model.path} (verified: sha256 {manifest.model_file.sha256[:12]}..., "
        f"{len(manifest.golden_cases)} golden cases reproduced)"
    )
    assert f"inputs ({len(manifest.inputs)} columns, all required, any order):" in lines
    for spec in manifest.inputs:
        [row] = [line for line in lines if re.match(rf"^  {re.escape(spec.name)} ", line)]
        assert row.split()[1:3] == [spec.kind, "yes" if spec.nullable else "no"]
        if spec.valid_range:
            assert row.endswith(
                f"[{spec.valid_range[0]!r}, {spec.valid_range[1]!r}] (valid range from {spec.range_source})"
            )
        else:
            assert row.endswith(", ".join(repr(category) for category in spec.categories or ()))
    assert line_of(out, "classes") == f"classes     {', '.join(repr(label) for label in manifest.classes or ())}"
    assert line_of(out, "output") == (
        f"output      label, {', '.join(f'probability_{c}' for c in manifest.classes or ())} (ONNX output 'probabilities')"
    )
    metrics = manifest.metrics
    assert metrics.accuracy is not None and metrics.macro_f1 is not None and metrics.roc_auc is not None
    assert line_of(out, "metrics") == (
        f"metrics     accuracy {metrics.accuracy:.4f}, macro F1 {metrics.macro_f1:.4f}, ROC AUC {metrics.roc_auc:.4f} "
        f"on {metrics.held_out_rows:,} held-out rows"
    )
    parity = manifest.parity
    assert parity.max_abs_diff is not None and parity.tolerance is not None
    assert line_of(out, "parity") == (
        f"parity      passed: {parity.total_cases:,} cases, 0 label mismatches, max |diff| {parity.max_abs_diff:.3g} "
        f"(tolerance {parity.tolerance:g})"
    )
    assert line_of(out, "exported by") == "exported by " + ", ".join(f"{k} {v}" for k, v in manifest.libraries.items())
    assert f"onnxruntime {manifest.libraries['onnxruntime']}" in out
    assert line_of(out, "performance").startswith("performance single-record latency p50 ")


def test_info_json_is_machine_readable(capsys: pytest.CaptureFixture[str], bundle: Path, model: runtime.Model) -> None:
    code, out, err = run(capsys, "info", bundle, "--json")
    assert (code, err) == (0, "")
    info = json.loads(out)
    manifest = model.manifest
    assert (info["name"], info["version"], info["task"], info["target"]) == (
        manifest.name,
        manifest.version,
        manifest.task,
        manifest.target,
    )
    assert info["path"] == str(model.path) and info["schema_version"] == manifest.schema_version
    assert [column["name"] for column in info["inputs"]] == list(model.columns)
    for column, spec in zip(info["inputs"], manifest.inputs):
        assert column["kind"] == spec.kind and column["nullable"] == spec.nullable
        assert column["valid_range"] == (list(spec.valid_range) if spec.valid_range else None)
        assert column["categories"] == (list(spec.categories) if spec.categories is not None else None)
        assert column["accepts"] == describe_allowed(spec)
    assert info["classes"] == list(manifest.classes or [])
    assert info["output"] == {
        "columns": ["label", *(f"probability_{label}" for label in manifest.classes or ())],
        "onnx_output": "probabilities",
        "label_tie_tolerance": manifest.label_tie_tolerance,
        "label_rule": "the most probable class (the first in class order among ties)",
        "decision": None,
    }
    metrics = manifest.metrics
    assert info["metrics"] == {
        "held_out_rows": metrics.held_out_rows,
        "accuracy": metrics.accuracy,
        "macro_f1": metrics.macro_f1,
        "roc_auc": metrics.roc_auc,
    }
    assert info["parity"] == {
        "passed": True,
        "cases": manifest.parity.total_cases,
        "label_mismatches": 0,
        "max_abs_diff": manifest.parity.max_abs_diff,
        "tolerance": manifest.parity.tolerance,
        "notes": list(manifest.parity.notes),
    }
    assert info["golden_cases"] == len(manifest.golden_cases)
    assert info["libraries"] == manifest.libraries
    assert info["model_file"] == manifest.model_file.to_dict()
    assert info["performance"] == manifest.performance.to_dict()


def test_info_shows_measured_performance(capsys: pytest.CaptureFixture[str], edited) -> None:
    copy = edited(lambda manifest: manifest.update(performance=PERFORMANCE))
    code, out, _ = run(capsys, "info", copy)
    assert code == 0
    assert line_of(out, "performance") == (
        "performance single-record latency p50 61.2 us, p90 70.0 us, p99 95.5 us; "
        "load + first prediction 0.41 s; peak RSS 88.4 MB (aarch64, 4 cores, Linux, 1 thread(s))"
    )
    code, out, _ = run(capsys, "info", copy, "--json")
    assert json.loads(out)["performance"] == PERFORMANCE


@pytest.mark.parametrize(
    ("change", "label", "expected"),
    [
        ({"performance": {}}, "performance", "performance not measured at export"),
        (
            {"performance": {"note": "no time to measure"}},
            "performance",
            'performance {"note": "no time to measure"}',
        ),
        ({"performance": {"peak_rss_mb": 70.25}}, "performance", "performance peak RSS 70.2 MB"),
        ({"parity": {}}, "parity", "parity      not recorded"),
        ({"metrics": {}}, "metrics", "metrics     not recorded"),
        ({"metrics": {"accuracy": 0.5}}, "metrics", "metrics     accuracy 0.5000"),
        ({"libraries": {}}, "exported by", "exported by not recorded"),
    ],
    ids=["no-performance", "note-only", "rss-only", "no-parity", "no-metrics", "no-held-out-rows", "no-libraries"],
)
def test_sections_the_bundle_does_not_record(
    capsys: pytest.CaptureFixture[str], edited, change: dict[str, Any], label: str, expected: str
) -> None:
    code, out, err = run(capsys, "info", edited(lambda manifest: manifest.update(change)))
    assert (code, err) == (0, "")
    assert line_of(out, label) == expected


def test_unrecorded_sections_are_null_in_json(capsys: pytest.CaptureFixture[str], edited) -> None:
    copy = edited(lambda manifest: manifest.update(parity={}, metrics={}, performance={}))
    code, out, _ = run(capsys, "info", copy, "--json")
    info = json.loads(out)
    assert code == 0
    assert info["metrics"] == {} and info["performance"] is None
    assert info["parity"] == {
        "passed": None,
        "cases": None,
        "label_mismatches": None,
        "max_abs_diff": None,
        "tolerance": info["parity"]["tolerance"],
        "notes": [],
    }
    assert info["parity"]["tolerance"] == runtime.load(copy).manifest.tolerance


def test_long_category_lists_are_capped_in_text_only(capsys: pytest.CaptureFixture[str], edited) -> None:
    extra = [f"extra-{number}" for number in range(12)]

    def more_shifts(manifest: dict[str, Any]) -> None:
        [shift] = [column for column in manifest["inputs"] if column["name"] == "shift"]
        shift["categories"] = shift["categories"] + extra

    copy = edited(more_shifts)
    code, out, _ = run(capsys, "info", copy)
    assert code == 0
    [row] = [line for line in out.splitlines() if line.startswith("  shift ")]
    assert row.endswith("'extra-6', and 5 more (see --json)")
    code, out, _ = run(capsys, "info", copy, "--json")
    [shift] = [column for column in json.loads(out)["inputs"] if column["name"] == "shift"]
    assert shift["categories"][-12:] == extra


def test_a_refused_bundle_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], bundle: Path, tmp_path: Path
) -> None:
    damaged = bundle_copy(bundle / "1.0.0", tmp_path)
    flip_byte(damaged)
    code, out, err = run(capsys, "info", damaged)
    assert (code, out) == (3, "")
    assert one_line(err).startswith("error: bundle refused: ") and " has sha256 " in err
