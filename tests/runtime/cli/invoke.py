"""Calling the command line, in-process through ``main`` or as the real ``python -m runtime``, and
reading what it said."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from runtime._cli import main

ROOT = Path(__file__).resolve().parents[3]
SUMMARY = re.compile(r"read ([\d,]+) rows?: ([\d,]+) predicted .*?(?:, ([\d,]+) rejected .*)?$")


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """``main(argv)`` in this process: (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def python_m_runtime(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """The real entry point in a fresh interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "runtime", *map(str, argv)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(stderr: str) -> str:
    """The single ``error: ...`` line stderr must hold."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def counts(stderr: str) -> tuple[int, int, int]:
    """(read, predicted, rejected) from predict's summary line."""
    match = SUMMARY.search(stderr.strip().splitlines()[-1])
    assert match, stderr
    read, predicted, rejected = (int((group or "0").replace(",", "")) for group in match.groups())
    return read, predicted, rejected
