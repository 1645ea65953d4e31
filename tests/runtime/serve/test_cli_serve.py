"""``python -m runtime serve`` as a command: the extra it needs, what it refuses at start, and that the
device runtime never imports the server."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from runtime._cli._base import main
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
    code = f"import runtime, runtime._cli\nmodel = runtime.load({str(bundles.model_folder())!r})\n"
    # runtime._monitor.predictlog is the server's log writer (runtime._predictlog before the layers).
    serving = ["uvicorn", "starlette", "prometheus_client", "anyio", "runtime._serve", "runtime._monitor.predictlog"]
    probe = modules_after(code, serving)
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ()


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
    ],
)
def test_bad_options_are_usage_errors(args, message, capsys):
    assert main(["serve", str(ROOT / "models" / "quality" / "1.0.0"), *args]) == 4
    assert capsys.readouterr().err == f"error: {message} (see python -m runtime serve --help)\n"


def test_help_lists_the_endpoints(capsys):
    assert main(["serve", "--help"]) == 0
    text = capsys.readouterr().out
    for expected in ("/v2/models/NAME", "/v1/predict", "/v1/status", "/metrics", "X-Log-Status", "SIGHUP", "null"):
        assert expected in text
