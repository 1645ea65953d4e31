"""What every command shares: the lazy command table, one exit-code table and each command's part of it,
errors as one line on stderr, tracebacks only with --verbose, the argument types, and the import
direction of ``runtime._cli``."""

from __future__ import annotations

import argparse
import ast
import errno
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._cli._base import (
    COMMANDS,
    CliError,
    command_exit_codes,
    load_command,
    non_negative_float,
    port,
    positive_float,
    positive_int,
)
from runtime._contract import ExitCode, exit_codes_text
from tests.probes import modules_after
from tests.runtime.cli.invoke import one_line, python_m_runtime, run
from tests.runtime.cli.rows import first_number_with_range, read_jsonl, write_csv
from tests.runtime.damage import bundle_copy, flip_byte

ROOT = Path(__file__).resolve().parents[3]
CLI = ROOT / "runtime" / "_cli"
X = ExitCode

# The README's table: what each command can end with.
EXIT_CODES = {
    "info": (X.OK, X.BUNDLE_REFUSED, X.USAGE, X.INTERNAL, X.INTERRUPTED),
    "predict": (X.OK, X.REJECTED_ROWS, X.BAD_INPUT, X.BUNDLE_REFUSED, X.USAGE, X.INTERNAL, X.INTERRUPTED),
    "serve": (X.OK, X.BUNDLE_REFUSED, X.USAGE, X.INTERNAL, X.INTERRUPTED),
    "drift": (
        X.OK,
        X.BUNDLE_REFUSED,
        X.USAGE,
        X.INTERNAL,
        X.DRIFT_WARN,
        X.DRIFT_ALERT,
        X.NOTHING_TO_JUDGE,
        X.INTERRUPTED,
    ),  # fmt: skip
    "feedback": (X.OK, X.BUNDLE_REFUSED, X.USAGE, X.INTERNAL, X.INTERRUPTED),
    "connect": (X.OK, X.BUNDLE_REFUSED, X.USAGE, X.INTERNAL, X.INTERRUPTED),
}
# The modules of runtime._cli each command loads: its own and the helpers it uses, nothing else.
COMMAND_MODULES = {
    "info": {"info", "outputs"},
    "predict": {"predict", "outputs", "tabular", "sinks", "csv_dialect"},
    "serve": {"serve"},
    "drift": {"drift", "drift_report"},
    "feedback": {"feedback"},
    "connect": {"connect"},
}


def cli_modules(probe_modules: tuple[str, ...]) -> set[str]:
    return {name.removeprefix("runtime._cli.") for name in probe_modules if name.startswith("runtime._cli.")}


# -- the command table -----------------------------------------------------------------------------


def test_the_table_names_every_command_module() -> None:
    assert set(COMMANDS) == set(EXIT_CODES) == set(COMMAND_MODULES)
    for name, info in COMMANDS.items():
        assert (CLI / f"{info.module}.py").is_file(), name
        command = load_command(name)
        assert callable(command.run) and callable(command.add_arguments) and command.DESCRIPTION


def test_top_level_help_lists_every_command_without_importing_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--help")
    assert (code, err) == (0, "")
    listing = " ".join(out.split())
    for name, info in COMMANDS.items():
        assert f"{name} {info.summary}" in listing
    assert out.endswith(
        exit_codes_text([code for code in ExitCode if code not in (X.PARITY_FAILED, X.BUDGET_MISSED)]) + "\n"
    )
    probe = modules_after("from runtime._cli import main; raise SystemExit(main(['--help']))", ["runtime._cli"])
    assert probe.returncode == 0
    assert cli_modules(probe.modules) == {"_base"}


def test_info_imports_neither_the_server_nor_monitoring_nor_other_commands(bundle: Path) -> None:
    probe = modules_after(
        "import sys; from runtime._cli import main; raise SystemExit(main(['info', sys.argv[1]]))",
        ["runtime", "uvicorn", "starlette", "prometheus_client", "sqlite3", "csv"],
        argv=[str(bundle)],
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith("quality 1.0.0: ")
    assert [name for name in probe.modules if name.startswith(("runtime._serve", "runtime._monitor"))] == []
    assert not {"uvicorn", "starlette", "prometheus_client", "sqlite3"} & set(probe.modules)
    assert cli_modules(probe.modules) == {"_base", *COMMAND_MODULES["info"]}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_loads_only_its_own_modules(name: str) -> None:
    probe = modules_after(
        f"from runtime._cli import main; raise SystemExit(main([{name!r}, '--help']))",
        ["runtime._cli", "runtime._serve.server", "uvicorn"],
    )
    assert probe.returncode == 0, probe.stderr
    assert cli_modules(probe.modules) == {"_base", *COMMAND_MODULES[name]}
    assert "runtime._serve.server" not in probe.modules and "uvicorn" not in probe.modules  # not even for serve


# -- exit codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_help_lists_exactly_the_codes_its_command_returns(capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert command_exit_codes(load_command(name)) == tuple(sorted(EXIT_CODES[name]))
    code, out, _ = run(capsys, name, "--help")
    assert code == 0
    assert out.endswith("\n\n" + exit_codes_text(sorted(EXIT_CODES[name])) + "\n")


def test_the_exit_code_table_has_no_bare_numbers() -> None:
    """Exit codes in runtime/_cli are ExitCode members, never integer literals."""
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and type(node.value.value) is int:
                offenders.append(f"{path.name}:{node.lineno} return {node.value.value}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CliError":
                code = node.args[1] if len(node.args) > 1 else None
                if isinstance(code, ast.Constant):
                    offenders.append(f"{path.name}:{node.lineno} CliError(..., {code.value})")
    assert offenders == []


def raising(error: BaseException) -> Callable[..., Any]:
    def run(args: argparse.Namespace, console: Any) -> ExitCode:
        raise error

    return run


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (CliError("told so", X.NOTHING_TO_JUDGE), 8, "error: told so"),
        (runtime.BundleError("hash differs"), 3, "error: bundle refused: hash differs"),
        (runtime.InputError("row 3 is bad"), 2, "error: row 3 is bad"),
        (
            FileNotFoundError(errno.ENOENT, "No such file or directory", "x.csv"),
            4,
            "error: No such file or directory: 'x.csv'",
        ),
        (OSError("disk full"), 4, "error: disk full"),
        (BrokenPipeError(), 4, "error: output closed early (broken pipe)"),
        (KeyboardInterrupt(), 130, "error: interrupted"),
        (
            RuntimeError("boom\nsecond line"),
            5,
            "error: internal error: RuntimeError: boom second line (rerun with --verbose for the traceback)",
        ),
    ],
    ids=["cli", "bundle", "input", "file", "os", "pipe", "interrupt", "bug"],
)
def test_every_failure_is_one_line_and_its_code(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    bundle: Path,
    error: BaseException,
    code: int,
    message: str,
) -> None:
    monkeypatch.setattr(load_command("info"), "run", raising(error))
    assert run(capsys, "info", bundle) == (code, "", message + "\n")
    returned, _, err = run(capsys, "info", bundle, "--verbose")
    assert returned == code
    assert err.startswith("Traceback (most recent call last):") and err.endswith(message + "\n")


def test_verbose_logs_what_load_verified(capsys: pytest.CaptureFixture[str], bundle: Path) -> None:
    code, _, err = run(capsys, "info", bundle, "--verbose")
    assert code == 0
    assert err.startswith("runtime._model: loaded 'quality' 1.0.0 from ")
    assert err.rstrip().endswith(
        "golden cases reproduced; signature unverified: no trusted key is configured (no model.sig))"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND (see python -m runtime --help)"),
        (
            ["bogus"],
            "argument COMMAND: invalid choice: 'bogus' (choose from 'info', 'predict', 'serve', 'drift', 'feedback', 'connect') "
            "(see python -m runtime --help)",
        ),
        (["--bogus", "info"], "unrecognized arguments: --bogus (see python -m runtime --help)"),
        (["info"], "the following arguments are required: PATH (see python -m runtime info --help)"),
        (["info", "x", "--wat"], "unrecognized arguments: --wat (see python -m runtime info --help)"),
        (["info", "--verbose"], "the following arguments are required: PATH (see python -m runtime info --help)"),
    ],
)
def test_usage_errors_are_one_line_and_exit_4(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(capsys, *argv) == (4, "", f"error: {message}\n")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"factory-edge runtime {runtime.__version__}\n", "")


def test_main_reads_sys_argv_by_default(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime._cli import main

    monkeypatch.setattr(sys, "argv", ["python -m runtime", "--version"])
    assert main() == 0
    assert capsys.readouterr().out == f"factory-edge runtime {runtime.__version__}\n"


# -- argument types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (positive_int, "1", 1),
        (positive_int, "10000", 10_000),
        (port, "0", 0),
        (port, "65535", 65_535),
        (positive_float, "0.5", 0.5),
        (positive_float, "1e3", 1000.0),
        (non_negative_float, "0", 0.0),
        (non_negative_float, "2.5", 2.5),
    ],
)
def test_argument_types_accept(parse: Callable[[str], Any], text: str, value: Any) -> None:
    assert parse(text) == value and type(parse(text)) is type(value)


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (positive_int, "0", "'0' must be >= 1"),
        (positive_int, "-3", "'-3' must be >= 1"),
        (positive_int, "1.5", "'1.5' is not a whole number"),
        (port, "x", "'x' is not a port number"),
        (port, "65536", "'65536' must be within [0, 65535] (0 picks a free port)"),
        (port, "-1", "'-1' must be within [0, 65535] (0 picks a free port)"),
        (positive_float, "0", "'0' must be a finite number > 0"),
        (positive_float, "nan", "'nan' must be a finite number > 0"),
        (positive_float, "inf", "'inf' must be a finite number > 0"),
        (positive_float, "ten", "'ten' is not a number"),
        (non_negative_float, "-1", "'-1' must be a finite number >= 0"),
        (non_negative_float, "nan", "'nan' must be a finite number >= 0"),
        (non_negative_float, "-inf", "'-inf' must be a finite number >= 0"),
    ],
)
def test_argument_types_refuse(parse: Callable[[str], Any], text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse(text)
    assert str(caught.value) == message


# -- import direction ------------------------------------------------------------------------------


def imported_modules(path: Path, package: str) -> set[str]:
    """The absolute names of the modules ``path`` (a module of ``package``) imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                names.add(node.module)
    return names


def test_nothing_but_the_entry_points_imports_the_cli() -> None:
    importers = []
    for path in sorted((ROOT / "runtime").rglob("*.py")):
        if CLI in path.parents:
            continue
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
        if any(name == "runtime._cli" or name.startswith("runtime._cli.") for name in imported_modules(path, package)):
            importers.append(str(path.relative_to(ROOT)))
    assert importers == ["runtime/__main__.py"]


def test_the_cli_imports_core_monitoring_and_serving_only() -> None:
    allowed_third_party = {"numpy", "matplotlib"}
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        for name in imported_modules(path, "runtime._cli"):
            top = name.split(".")[0]
            if top == "runtime" or top in allowed_third_party or top in sys.stdlib_module_names:
                continue
            offenders.append(f"{path.name}: {name}")
    assert offenders == []


# -- the real entry point --------------------------------------------------------------------------


def test_module_entry_point_and_exit_codes(
    tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:10])
    done = python_m_runtime("predict", bundle, "--input", source, "--output", tmp_path / "out.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"read 10 rows: 10 predicted (written to {str(tmp_path / 'out.jsonl')!r})\n"
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 10

    number = first_number_with_range(model)
    bad = write_csv(tmp_path / "bad.csv", [rows[0], {**rows[1], number.name: math.inf}], model.columns)
    done = python_m_runtime("predict", bundle, "--input", bad, "--on-error", "skip", "--rejects", tmp_path / "r.csv")
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("\n") == 2  # header + the good row, on stdout

    done = python_m_runtime("predict", bundle, "--input", bad)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert one_line(done.stderr).startswith(f"error: stopped at row 2 (line 3 of {str(bad)!r}): {number.name} == inf")

    damaged = bundle_copy(bundle / "1.0.0", tmp_path / "damaged")
    flip_byte(damaged)
    done = python_m_runtime("info", damaged)
    assert done.returncode == 3 and one_line(done.stderr).startswith("error: bundle refused: ")
    assert " has sha256 " in done.stderr
    done = python_m_runtime("info", damaged, "--verbose")
    assert done.returncode == 3 and "Traceback" in done.stderr  # tracebacks only with --verbose


def test_predicting_imports_no_export_side_library(tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:5])
    probe = modules_after(
        "import sys; from runtime._cli import main; raise SystemExit(main(sys.argv[1:]))",
        ["sklearn", "scipy", "pandas", "joblib", "skl2onnx", "onnx", "export", "matplotlib"],
        argv=["predict", str(bundle), "-i", str(source), "-o", str(tmp_path / "o.csv")],
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()
