"""A fresh virtual environment with the runtime installed from a copy of the sources, as a device gets it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def device_venv(interpreter: str, folder: Path) -> tuple[Path, Path]:
    """``pip install .`` in a new venv under ``folder`` from a copy of the sources only (no .venv, no
    models, no tests); returns (the venv's python, the source copy). Skips when the registry is out of reach."""
    subprocess.run([interpreter, "-m", "venv", str(folder / "venv")], check=True, capture_output=True)
    python = folder / "venv" / "bin" / "python"
    source = folder / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv", ".git", "models", "tests", "*.egg-info", "build", "__pycache__"),
    )
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(source)], capture_output=True, text=True, timeout=900
    )
    if install.returncode != 0:
        lowered = install.stderr.lower()
        if "connection" in lowered or "temporary failure in name resolution" in lowered:
            pytest.skip(f"package registry unreachable: {install.stderr.strip().splitlines()[-1]}")
        raise AssertionError(install.stderr)
    return python, source
