"""Run Python code in a fresh interpreter and report which modules it imported: one copy of the probe
that the import-isolation, CLI, serve and export tests share."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_MARKER = "--modules-after--"


@dataclass(frozen=True)
class Probe:
    returncode: int
    stdout: str  # what the code printed, without the probe's own last line
    stderr: str
    modules: tuple[str, ...]  # imported modules matching the prefixes, sorted


def modules_after(
    code: str,
    prefixes: Iterable[str],
    *,
    argv: Sequence[str] = (),
    cwd: Path = ROOT,
    timeout_s: float = 120,
) -> Probe:
    """Run ``code`` (``sys.argv[1:]`` is ``argv``) in a fresh interpreter and list the modules it left
    in ``sys.modules`` that are one of ``prefixes`` or inside one of them (``"runtime._serve"`` matches
    ``runtime._serve.app``). A ``SystemExit`` from the code still gets its modules reported."""
    wanted = sorted(set(prefixes))
    script = (
        "import json, sys\n"
        "def _report():\n"
        f"    wanted = {wanted!r}\n"
        "    found = sorted(m for m in sys.modules if any(m == p or m.startswith(p + '.') for p in wanted))\n"
        f"    print({_MARKER!r} + json.dumps(found), flush=True)\n"
        "try:\n"
        f"    exec(compile({code!r}, '<probe>', 'exec'), {{'__name__': '__main__'}})\n"
        "finally:\n"
        "    _report()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    head, _, tail = done.stdout.rpartition(_MARKER)
    if not _:
        raise AssertionError(f"the probe did not report (exit {done.returncode}): {done.stderr[-2000:]}")
    return Probe(done.returncode, head, done.stderr, tuple(json.loads(tail)))
