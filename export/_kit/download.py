"""``pip download`` of every wheel one target needs, and pip's refusal turned into one clear line.

pip runs with ``--only-binary=:all:`` and the target's tags, so nothing is ever built from source
for a device. When no wheel fits, pip says ``No matching distribution found for numpy<3,>=1.26``;
that becomes ``numpy<3,>=1.26 (needed by factory-edge[serve]) has no wheel for linux_armv7l /
CPython 3.11``, raised before any archive is written.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .._errors import ExportError
from .closure import missing_requirements
from .targets import Target

__all__ = ["collect_wheels", "download_wheels", "refusal"]

_DOWNLOAD_ROUNDS = 4  # a marker-skipped requirement can pull another one; two rounds were the most seen

_DOWNLOAD_TIMEOUT_S = 1800
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_SATISFIES = re.compile(r"satisfies the requirement (\S+) \(from ([^)]*)\) \(from versions: ([^)]*)\)")
_WRONG_PYTHON = re.compile(r"Package '([^']+)' requires a different Python: (\S+) not in '([^']*)'")


def _versions_seen(stderr: str, requirement: str) -> str:
    for match in _SATISFIES.finditer(stderr):
        if match.group(1) == requirement:
            versions = [version.strip() for version in match.group(3).split(",") if version.strip()]
            needed = f" (needed by {match.group(2)})"
            if not versions or versions == ["none"]:
                return f"{needed}: no version of it has one"
            return f"{needed}: the versions that have one ({versions[0]} ... {versions[-1]}) are outside the pin"
    return ""


def refusal(stderr: str, target: Target) -> str:
    """The one line that says which package lacks a wheel for ``target``, from pip's stderr."""
    missing = _NO_MATCH.search(stderr)
    if missing:
        requirement = missing.group(1)
        return f"{requirement} has no wheel for {target.describe()}{_versions_seen(stderr, requirement)}"
    wrong_python = _WRONG_PYTHON.search(stderr)
    if wrong_python:
        package, python, allowed = wrong_python.groups()
        return f"{package} does not support {target.describe()}: it requires Python {allowed}"
    errors = [line.removeprefix("ERROR: ") for line in stderr.splitlines() if line.startswith("ERROR:")]
    last = errors[-1] if errors else (stderr.strip().splitlines() or ["pip gave no reason"])[-1]
    return f"pip download for {target.describe()} failed: {last}"


def download_wheels(requirements: Sequence[str], target: Target, destination: Path) -> None:
    """Download the wheels of ``requirements`` and all their dependencies for ``target`` into ``destination``.

    A requirement may be a wheel file with extras (``/tmp/factory_edge-0.1.0-py3-none-any.whl[serve]``).
    Raises ExportError naming the package and the target when pip finds no wheel for one.
    """
    destination.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(destination)]
    command += [*target.pip_options(), *requirements]
    done = subprocess.run(command, capture_output=True, text=True, timeout=_DOWNLOAD_TIMEOUT_S)
    if done.returncode != 0:
        raise ExportError(f"no kit for {target.describe()}: {refusal(done.stderr, target)}")


def collect_wheels(requirements: Sequence[str], root: str, target: Target, folder: Path) -> list[str]:
    """Download ``requirements`` for ``target`` into ``folder`` until every requirement reachable from
    ``root``, judged with the target's markers (:mod:`.closure`), has a wheel there; returns the file names."""
    pending = list(requirements)
    for _ in range(_DOWNLOAD_ROUNDS):
        download_wheels(pending, target, folder)
        pending = missing_requirements(folder, root, target)
        if not pending:
            return sorted(path.name for path in folder.glob("*.whl"))
    raise ExportError(f"no kit for {target.describe()}: {', '.join(pending[:5])} still missing after pip download")
