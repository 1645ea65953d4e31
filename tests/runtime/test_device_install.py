"""Must show: in a fresh virtual environment with only `pip install .`, the CLI works on a bundle.

Runs with this interpreter and, when it is on the machine, with Python 3.10 (the oldest supported;
pip then picks onnxruntime 1.23.2, the last release with 3.10 wheels, the low end of the pinned
range). Slow (each builds a venv and installs numpy and onnxruntime). Skipped only when the package
registry cannot be reached, and then it says so.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.devices import device_venv

ROOT = Path(__file__).resolve().parents[2]
TRAINING_SIDE = {"scikit-learn", "scipy", "pandas", "joblib", "skl2onnx", "onnx", "matplotlib", "pyarrow"}


def _python310() -> str | None:
    """A working Python 3.10: on PATH, or one pyenv keeps (its shim fails unless 3.10 is selected)."""
    candidates = [
        shutil.which("python3.10"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10"))),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 10)":
            return candidate
    return None


def _interpreters() -> list:
    oldest = _python310()
    return [
        pytest.param(sys.executable, id=f"python{sys.version_info.major}.{sys.version_info.minor}"),
        pytest.param(oldest, id="python3.10", marks=pytest.mark.skipif(oldest is None, reason="no python3.10 here")),
    ]


@pytest.fixture(scope="module", params=_interpreters())
def device_python(request, tmp_path_factory) -> Path:
    python, _ = device_venv(request.param, tmp_path_factory.mktemp("device"))
    return python


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def test_plain_install_pulls_only_the_device_dependencies(device_python):
    listing = subprocess.run(
        [str(device_python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    installed = {package["name"].lower(): package["version"] for package in json.loads(listing.stdout)}
    assert {"numpy", "onnxruntime", "factory-edge"} <= set(installed)
    assert not set(installed) & TRAINING_SIDE


def test_cli_info_and_predict_in_the_fresh_environment(device_python, shipped_bundle, tmp_path):
    # run outside the repository so that `runtime` comes from the installed package
    info = subprocess.run(
        [str(device_python), "-m", "runtime", "info", str(shipped_bundle)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_environment(),
    )
    assert info.returncode == 0, info.stderr
    assert "machine_type" in info.stdout and "golden cases reproduced" in info.stdout
    located = subprocess.run(
        [str(device_python), "-c", "import runtime; print(runtime.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_environment(),
        check=True,
    )
    assert "site-packages" in located.stdout
    rows = tmp_path / "parts.csv"
    rows.write_text(
        "temperature,pressure,speed,humidity,vibration,machine_type,shift\n"
        "201.5,48.0,101.0,45.0,0.8,B,night\n"
        "240.0,35.0,115.0,70.0,3.1,C,\n"
    )
    predict = subprocess.run(
        [
            str(device_python),
            "-m",
            "runtime",
            "predict",
            str(shipped_bundle),
            "--input",
            str(rows),
            "--output",
            str(tmp_path / "out.csv"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_environment(),
    )
    assert predict.returncode == 0, predict.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].endswith("label,probability_0,probability_1")
    assert len(lines) == 3


@pytest.mark.slow
def test_the_runtime_suite_passes_on_a_device_only_install(device_python, tmp_path):
    """The runtime's own tests run with nothing but the device install and pytest: every skip is an
    optional extra (serve, the dev tools) that a device does not have, and says which."""
    if "3.10" in str(subprocess.run([str(device_python), "--version"], capture_output=True, text=True).stdout):
        pytest.skip("the suite runs once, on the newest interpreter; Python 3.10 is covered by info and predict")
    pytest_install = subprocess.run(
        [str(device_python), "-m", "pip", "install", "-q", "pytest>=8"], capture_output=True, text=True, timeout=600
    )
    assert pytest_install.returncode == 0, pytest_install.stderr
    run = subprocess.run(
        [
            str(device_python),
            "-m",
            "pytest",
            "tests/runtime",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--ignore=tests/runtime/test_device_install.py",
            f"--basetemp={tmp_path / 'pytest'}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    optional = (
        "serve",
        "uvicorn",
        "starlette",
        "prometheus",
        "tritonclient",
        "scipy",
        "matplotlib",
        "hypothesis",
        "onnx",
        "verify",  # cryptography, for signed bundles: its own install test is test_verify_install.py
        "model-signing",
    )
    unexplained = [line for line in skipped if not any(name in line for name in optional)]
    assert unexplained == []
    summary = run.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary
