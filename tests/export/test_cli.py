"""``python -m export``: every failure is one line on stderr and a named exit code from the shared table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

import export._cli as cli  # noqa: E402
from runtime._contract import EXIT_CODES_HELP, ExitCode  # noqa: E402
from tests.export.conftest import TINY_ARGS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("command", "codes"), [([], cli.EXPORT_EXIT_CODES), (["check"], cli.CHECK_EXIT_CODES)])
def test_help_lists_the_exit_codes_from_the_shared_table(capsys, command, codes):
    assert cli.main([*command, "--help"]) == ExitCode.OK
    text = capsys.readouterr().out
    block = text[text.index("exit codes:") :].splitlines()[1:]
    assert [line.split()[0] for line in block] == [str(int(code)) for code in codes]
    for code in codes:
        assert EXIT_CODES_HELP[code] in text
    assert (ExitCode.BUDGET_MISSED in codes) == (not command)
    assert (ExitCode.WEAK_MODEL in codes) == (not command)


def test_the_export_codes_are_the_named_ones():
    assert {code.name: int(code) for code in cli.EXPORT_EXIT_CODES} == {
        "OK": 0,
        "BUNDLE_REFUSED": 3,
        "USAGE": 4,
        "INTERNAL": 5,
        "PARITY_FAILED": 9,
        "BUDGET_MISSED": 10,
        "WEAK_MODEL": 11,
        "DATA_REFUSED": 12,
        "INTERFACE_CHANGED": 13,
        "INTERRUPTED": 130,
    }


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "line3.csv"
    path.write_text("temperature,shift,defect\n201.5,day,0\n188.0,night,1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--data", "{csv}", "--target", "nope"],
            "error: target column 'nope' is not in the data; columns are ['temperature', 'shift', 'defect']",
        ),
        (["--data", "{csv}"], "error: --target COLUMN is required with --data"),
        (["--data", "{tmp}/missing.csv", "--target", "y"], "error: data file '{tmp}/missing.csv' does not exist"),
        (
            ["--compress", "12"],
            "error: argument --compress: invalid choice: 12 (choose from 0, 1, 2, 3, 4, 5, 6, 7, 8, 9) "
            "(see python -m export --help)",
        ),
        (["--version", "one"], "error: --version 'one' is not a semantic version like 1.0.0"),
        (["--param", "max_depth"], "error: --param 'max_depth' must look like name=value, e.g. max_depth=8"),
        (["--estimator", "svm"], "error: estimator 'svm' is not known; choose one of "),
        (["--tune", "--pipeline", "user_pipelines:extra_trees"], "error: --tune has no grid for"),
        (["--major", "--version", "2.0.0"], "error: --major picks the next major version itself; pass --major or"),
        (["--range-margin", "-0.1"], "error: --range-margin -0.1 must be between 0 and 10 (a share of the span)"),
        (["--delimiter", ",", "--decimal", ","], "error: --delimiter and --decimal are both ','; they must differ"),
        (["--delimiter", ";;"], "error: argument --delimiter: ';;' is not one character"),
        (
            ["--data", "{csv}", "--target", "defect", "--allow-column", "nope"],
            "error: --allow-column 'nope' is not a feature column; features are ['shift', 'temperature']",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_4(tmp_path, capsys, arguments, message):
    fill = {"csv": str(_csv(tmp_path)), "tmp": str(tmp_path)}
    argv = [a.format(**fill) for a in arguments] + ["--output", str(tmp_path / "models"), "--no-measure"]
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        assert cli.main(argv) == ExitCode.USAGE
    finally:
        sys.path.remove(str(Path(__file__).parent))
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith(message.format(**fill)), lines
    assert not (tmp_path / "models" / "quality").exists()


def test_the_module_runs_as_a_program(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "export", "--data", str(_csv(tmp_path)), "--target", "nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert process.returncode == ExitCode.USAGE
    assert process.stderr.splitlines() == [
        "error: target column 'nope' is not in the data; columns are ['temperature', 'shift', 'defect']"
    ]


def test_a_bug_is_one_line_with_exit_5_and_a_traceback_only_with_verbose(monkeypatch, tmp_path, capsys):
    import export._job

    def broken(config, progress):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(export._job, "run_export", broken)
    assert cli.main(["--output", str(tmp_path)]) == ExitCode.INTERNAL
    assert capsys.readouterr().err.splitlines() == [
        "internal error: ZeroDivisionError: division by zero (rerun with --verbose for the traceback)"
    ]
    assert cli.main(["--output", str(tmp_path), "--verbose"]) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "ZeroDivisionError" in err


def test_interrupted_is_130(monkeypatch, tmp_path, capsys):
    import export._job

    def interrupted(config, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(export._job, "run_export", interrupted)
    assert cli.main(["--output", str(tmp_path)]) == ExitCode.INTERRUPTED == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_without_the_export_extra_the_message_names_it_and_help_still_works(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "export._convert", None)  # import export._convert raises ImportError
    # --output and check's path point below tmp_path: should the extra be found, nothing lands in models/
    for command in (["--output", str(tmp_path)], ["check", str(tmp_path / "quality")]):
        assert cli.main(command) == ExitCode.USAGE
        assert capsys.readouterr().err.startswith('python -m export needs the "export" extra: pip install ".[export]"')
    assert cli.main(["--help"]) == ExitCode.OK
    assert capsys.readouterr().out.startswith("usage: python -m export")


def test_a_tiny_export_prints_its_summary(tmp_path, capsys):
    assert cli.main([*TINY_ARGS, "--output", str(tmp_path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith("exported quality 1.0.0 (binary_classification) in ")
    assert "  parity: " in out and " 0 label mismatches" in out
    assert f"  current:  {tmp_path / 'quality' / 'CURRENT'} -> 1.0.0" in out
    size = (tmp_path / "quality" / "1.0.0" / "model.onnx").stat().st_size
    assert f"(model.onnx {size / 1e3:.2f} kB)" in out


def test_a_missed_budget_exits_10_and_keeps_current(tmp_path, capsys):
    assert cli.main([*TINY_ARGS, "--output", str(tmp_path)]) == ExitCode.OK
    measured = [a for a in TINY_ARGS if a != "--no-measure"]
    code = cli.main([*measured, "--output", str(tmp_path), "--max-memory-mb", "1"])
    assert code == ExitCode.BUDGET_MISSED == 10
    message = capsys.readouterr().err.splitlines()[-1]  # after the progress lines
    assert message.startswith("error: the bundle misses the device budget: peak RSS ")
    assert "exceeds the budget of 1.0 MiB by " in message and "the current version was not changed" in message
    assert (tmp_path / "quality" / "CURRENT").read_text().strip() == "1.0.0"
    assert sorted(p.name for p in (tmp_path / "quality").iterdir()) == ["1.0.0", "1.0.0.joblib", "CURRENT"]
