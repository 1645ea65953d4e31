"""``python -m export check``: the parity proof re-run on a bundle as it is on disk, and its refusals."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sklearn")
joblib = pytest.importorskip("joblib")

from export._check import check_bundle  # noqa: E402
from export._cli import main  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def test_check_prints_a_summary_by_default(tiny_export, tiny_copy, capsys):
    assert main(["check", str(tiny_copy)]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    parity = tiny_export.parity
    assert lines[0] == f"parity holds ({tiny_copy})"
    assert lines[1].startswith(f"  parity: {parity.total_cases:,} cases, 0 label mismatches, max |diff| ")
    # one line per kind of case, with the same counts as the export's own proof
    shown = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in lines[2:]}
    assert shown == {kind: row["cases"] for kind, row in parity.kinds.items() if kind != "tie"}


def test_check_rebuilds_the_same_cases_and_passes(tiny_export, tiny_copy, capsys):
    assert main(["check", str(tiny_copy), "--json"]) == ExitCode.OK
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["passed"] and report["label_mismatches"] == 0
    # the same split and the same hard cases as the export's own proof, not merely "some" cases
    assert report["total_cases"] == tiny_export.parity.total_cases
    assert {kind: row["cases"] for kind, row in report["kinds"].items()} == {
        kind: row["cases"] for kind, row in tiny_export.parity.kinds.items()
    }
    assert captured.err.splitlines()[-1].startswith(f"parity holds: {tiny_export.parity.total_cases:,} cases, 0 label")


def _perturbed_twin(folder, version="1.0.0"):
    """The joblib twin with the scaler's first mean moved: scikit-learn now disagrees with model.onnx."""
    path = folder / f"{version}.joblib"
    payload = joblib.load(path)
    scaler = payload["pipeline"].named_steps["preprocess"].named_transformers_["num"].named_steps["scale"]
    scaler.mean_[0] += 5.0
    joblib.dump(payload, path)


def test_a_pipeline_that_disagrees_with_the_bundle_exits_9(tiny_copy, capsys):
    _perturbed_twin(tiny_copy)
    assert main(["check", str(tiny_copy), "--json"]) == ExitCode.PARITY_FAILED == 9
    captured = capsys.readouterr()
    assert json.loads(captured.out)["passed"] is False
    lines = [line for line in captured.err.splitlines() if not line.startswith("[")]  # not the progress
    assert lines[0].startswith("parity failed: ") and "label mismatches" in lines[0]
    assert len(lines) > 1 and all(line.startswith("  ") for line in lines[1:])  # the worst cases


def test_a_damaged_bundle_is_refused_with_exit_3(tiny_copy, capsys):
    model = tiny_copy / "1.0.0" / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    assert main(["check", str(tiny_copy)]) == ExitCode.BUNDLE_REFUSED == 3
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: bundle refused: ") and "sha256" in error and "\n" not in error


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda folder: (folder / "1.0.0.joblib").unlink(),
            "1.0.0.joblib is missing: the joblib twin (the fitted Pipeline) is written beside the bundle on the "
            "machine that exported it and is never shipped",
        ),
        (
            lambda folder: _retag(folder / "1.0.0.joblib", onnx_sha256="0" * 64),
            "was exported with another model.onnx than",
        ),
        (
            lambda folder: _retag(folder / "1.0.0.joblib", data_fingerprint_sha256="0" * 64),
            "the data at demo differs from the data quality 1.0.0 was trained on (fingerprint mismatch)",
        ),
    ],
)
def test_a_twin_that_does_not_belong_is_a_usage_error(tiny_copy, capsys, damage, message):
    damage(tiny_copy)
    assert main(["check", str(tiny_copy)]) == ExitCode.USAGE
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: ") and message in error


def _retag(path, **metadata):
    payload = joblib.load(path)
    payload["metadata"].update(metadata)
    joblib.dump(payload, path)


def test_the_shipped_bundle_is_explained_not_failed_obscurely(capsys):
    shipped = ROOT / "models" / "quality" / "1.0.0"  # the version folder: never what CURRENT names now
    assert main(["check", str(shipped)]) == ExitCode.USAGE
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith(f"error: {shipped}.joblib is missing: the joblib twin")
    assert "is never shipped" in error and "loaded and replayed its golden cases" in error and "--joblib" in error


def test_check_bundle_returns_the_report(tiny_copy):
    report = check_bundle(tiny_copy / "1.0.0")
    assert report.passed and report.golden  # a version folder works as well as the model folder
