"""``python -m runtime serve`` as a command: the extra it needs, what it refuses at start, and that the
device runtime never imports the server."""

from __future__ import annotations

import argparse
import dataclasses
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runtime._cli import main, serve
from runtime._serve.config import ServeConfig
from tests.probes import modules_after

ROOT = Path(__file__).resolve().parents[3]


def run(*code_or_args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)


def test_serve_without_the_extra_names_it(bundles):
    # uvicorn made unimportable, as on a device installed without ".[serve]"
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from runtime._cli import main\n"
        f"raise SystemExit(main(['serve', {str(bundles.model_folder())!r}]))"
    )
    result = run("-c", code)
    assert result.returncode == 4
    assert result.stderr == 'error: python -m runtime serve needs the "serve" extra: pip install ".[serve]"\n'


def test_the_runtime_never_imports_the_server(bundles):
    code = (
        "import sys, runtime\n"
        "model = runtime.load(sys.argv[1])\n"
        "model.predict_batch([dict(zip(model.columns, [None] * len(model.columns)))], errors='skip')\n"
        "import runtime._cli\n"
    )
    probe = modules_after(
        code,
        ["runtime._serve", "runtime._monitor", "uvicorn", "starlette", "prometheus_client", "anyio", "h11"],
        argv=[str(bundles.model_folder())],
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()


def test_serve_help_needs_no_extra_and_imports_no_server():
    code = "import sys; sys.modules['uvicorn'] = None\nfrom runtime._cli import main\nraise SystemExit(main(['serve', '--help']))"
    probe = modules_after(code, ["runtime._serve", "starlette", "prometheus_client"])
    assert probe.returncode == 0, probe.stderr
    assert "--log-retention-days" in probe.stdout
    assert probe.modules == ("runtime._serve", "runtime._serve.config")  # the defaults, nothing that serves


def test_options_default_to_the_serve_config():
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["BUNDLE"])
    given = {field.name for field in dataclasses.fields(ServeConfig) if hasattr(args, field.name)}
    assert {field.name for field in dataclasses.fields(ServeConfig)} - given == {
        "worker_threads",
        "drift_max_age_s",
        "trusted_keys",
    }
    assert ServeConfig(**{name: getattr(args, name) for name in given}) == ServeConfig()
    args = parser.parse_args(["BUNDLE", "--log", "p.db", "--drift-window", "50", "--port", "0", "--log-required"])
    assert (args.log_path, args.drift_window_rows, args.port, args.log_required) == ("p.db", 50, 0, True)
    assert parser.parse_args(["BUNDLE", "--allow-interface-change"]).allow_interface_change is True


def test_log_required_without_a_log_is_a_usage_error(capsys):
    assert main(["serve", "BUNDLE", "--log-required"]) == 4  # refused before any bundle is read
    assert capsys.readouterr().err == "error: --log-required needs --log FILE\n"


def test_help_states_the_config_defaults(capsys):
    assert main(["serve", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    defaults = ServeConfig()
    for expected in (
        f"(default: {defaults.host}, this machine only)",
        f"(default: {defaults.port}; 0 picks a free one)",
        f"(default: {defaults.max_body_bytes // 2**20} MiB)",
        f"(default: {defaults.timeout_s:g})",
        f"(default: {defaults.threads})",
        f"(default: {defaults.poll_s:g}; 0: never,",
        f"(default {defaults.drift_window_rows},",
    ):
        assert expected in text


def test_an_unusable_log_path_stops_the_server_before_it_listens(bundles, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("-m", "runtime", "serve", str(bundles.model_folder()), "--port", "0", "--log", str(blocker / "p.db"))
    assert result.returncode == 4
    assert result.stderr.endswith(f"error: cannot open --log {str(blocker / 'p.db')!r}: unable to open database file\n")


def test_a_refused_bundle_stops_the_server_with_exit_code_3(bundles):
    folder = bundles.model_folder()
    bundles.add_version(folder, "1.0.1", damage="hash")
    bundles.set_current(folder, "1.0.1")
    result = run("-m", "runtime", "serve", str(folder), "--port", "0")
    assert result.returncode == 3
    assert result.stderr.startswith("error: bundle refused: ") and "has sha256 " in result.stderr


def test_a_taken_port_is_a_one_line_error(bundles):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("-m", "runtime", "serve", str(bundles.model_folder()), "--port", str(port))
    assert result.returncode == 4
    assert result.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout-s", "0"], "argument --timeout-s: '0' must be a finite number > 0"),
        (["--port", "70000"], "argument --port: '70000' must be within [0, 65535] (0 picks a free port)"),
        (["--log-retention-rows", "0"], "argument --log-retention-rows: '0' must be >= 1"),
        (["--poll-s", "-1"], "argument --poll-s: '-1' must be a finite number >= 0"),
        (
            ["--drift-window", "1000001"],
            "argument --drift-window: '1000001' is over the drift window's cap of 1,000,000 rows",
        ),
    ],
)
def test_bad_options_are_usage_errors(args, message, capsys):
    assert main(["serve", "BUNDLE", *args]) == 4  # refused before any bundle is read
    assert capsys.readouterr().err == f"error: {message} (see python -m runtime serve --help)\n"


def test_help_lists_the_endpoints(capsys):
    assert main(["serve", "--help"]) == 0
    text = capsys.readouterr().out
    for expected in ("/v2/models/NAME", "/v1/predict", "/v1/status", "/metrics", "X-Log-Status", "SIGHUP", "null"):
        assert expected in text
