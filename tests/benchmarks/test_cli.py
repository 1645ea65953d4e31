"""``python -m benchmarks``: one quick smoke run on a small exported bundle, and the error paths.

Nothing here asserts a speed: the smoke run only proves every section is measured and written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "benchmarks",
    reason='benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"',
)

from benchmarks import _cli, main  # noqa: E402
from benchmarks._targets import TARGETS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("single_record", "batch", "cold_start", "files", "context", "agreement", "ratios", "targets")


def _bench_extra() -> None:
    for name in ("sklearn", "pandas", "joblib"):
        pytest.importorskip(name)


def _copy_bundle(source: Path, destination: Path) -> Path:
    """A model folder holding a copy of ``source``'s version folder, without its joblib twin."""
    version = source.name
    shutil.copytree(source, destination / version)
    (destination / "CURRENT").write_text(version, encoding="utf-8")
    return destination


@pytest.mark.slow
def test_quick_run_measures_and_writes_every_section(tiny_export, tmp_path, capsys):
    _bench_extra()
    output = tmp_path / "reports"
    code = main(["--quick", "--no-charts", "--cold-runs", "1", "--output", str(output), str(tiny_export.bundle)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = json.loads((output / "benchmark.json").read_text(encoding="utf-8"))
    for section in SECTIONS:
        assert results[section], section
    assert set(results["context"]) >= {"machine", "libraries", "model", "noise"}
    assert results["context"]["model"]["estimator"] == "RandomForestClassifier"
    assert set(results["single_record"]["pooled"]) == {"runtime", "bare", "sklearn"}
    assert {(e["rows"], e["threads"]) for e in results["batch"]["results"]} >= {(10_000, 1)}
    assert results["cold_start"]["runtime"]["peak_rss_mb"]["median"] > 0
    assert results["agreement"]["label_mismatches"] == 0
    assert [t["key"] for t in results["targets"]] == [t["key"] for t in TARGETS]
    assert all(t["verdict"] != "not measured" for t in results["targets"])
    assert results["charts"] == []
    markdown = (output / "README.md").read_text(encoding="utf-8")
    assert "## Notes on gaps" in markdown and "**Quick run**" in markdown
    assert "| Target |" in captured.out
    assert "single record round 1/2" in captured.err


def test_a_missing_joblib_twin_is_one_line_naming_the_fix(shipped_bundle, tmp_path, capsys):
    _bench_extra()
    version = (shipped_bundle / "CURRENT").read_text().strip()
    bundle = _copy_bundle(shipped_bundle / version, tmp_path / "quality")
    assert main(["--quick", "--no-charts", "--output", str(tmp_path / "out"), str(bundle)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"no joblib twin for 'quality' {version}: {str(bundle / (version + '.joblib'))!r} is missing "
        '(the export saves it beside the bundle and it is not committed to git); run "python -m export" to create one'
    )
    assert not (tmp_path / "out" / "benchmark.json").exists()


def test_a_twin_from_another_export_is_refused(shipped_bundle, tiny_export, tmp_path, capsys):
    _bench_extra()
    version = (shipped_bundle / "CURRENT").read_text().strip()
    bundle = _copy_bundle(shipped_bundle / version, tmp_path / "quality")
    shutil.copy(tiny_export.joblib_path, bundle / f"{version}.joblib")
    if (
        tiny_export.manifest.model_file.sha256
        == json.loads((bundle / version / "manifest.json").read_text())["model_file"]["sha256"]
    ):
        pytest.skip("the demo export happens to equal the shipped bundle")
    assert main(["--quick", "--no-charts", "--output", str(tmp_path / "out"), str(bundle)]) == 2
    assert "belongs to another export" in capsys.readouterr().err


def test_a_missing_bundle_is_one_line(tmp_path, capsys):
    _bench_extra()
    assert main(["--no-charts", "--output", str(tmp_path / "out"), str(tmp_path / "nowhere")]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f"bundle path {str(tmp_path / 'nowhere')!r} does not exist"


def test_an_unreadable_notes_file_is_refused_before_measuring(shipped_bundle, tmp_path, capsys):
    _bench_extra()
    notes = tmp_path / "missing.md"
    assert main(["--no-charts", "--notes", str(notes), "--output", str(tmp_path), str(shipped_bundle)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"--notes {str(notes)!r} cannot be read: ")
    assert error.count("\n") == 1


def test_without_the_bench_extra_the_message_names_it(monkeypatch, capsys):
    monkeypatch.setattr(_cli, "_missing_extra", lambda charts: ["matplotlib"])
    assert main([]) == 2
    assert capsys.readouterr().err == (
        'python -m benchmarks needs the "bench" extra: pip install ".[bench]" (missing: matplotlib)\n'
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--rounds", "0 must be >= 1"),
        ("--calls", "0 must be >= 1"),
        ("--sklearn-calls", "0 must be >= 1"),
        ("--threads", "0 must be >= 1"),
        ("--cold-runs", "0 must be >= 1"),
        ("--sklearn-n-jobs", "0 is not a valid n_jobs: use 1, 2, ... or -1 for all cores"),
    ],
)
def test_counts_must_be_valid(option, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main([option, "0"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.rstrip().endswith(f"argument {option}: {message}")


def test_the_module_runs_as_a_program():
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert completed.stdout.startswith("usage: python -m benchmarks")
    assert "--notes FILE" in completed.stdout
