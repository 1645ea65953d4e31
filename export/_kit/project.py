"""The project itself in a kit: its optional extras (from pyproject.toml) and its device-only wheel.

``pip wheel .`` of the checkout would also pack ``export/`` (the package list names ``runtime*`` and
``export*``), which a device must never get. So the wheel is built from a staging copy holding only
``runtime/``, ``pyproject.toml`` and the README, and its members are checked afterwards: anything
outside ``runtime/`` and the ``.dist-info`` folder refuses the kit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .._errors import ExportError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev machine's Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

__all__ = ["DEVICE_PACKAGE", "PROJECT_ROOT", "ProjectInfo", "build_device_wheel", "read_project"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEVICE_PACKAGE = "runtime"
# wheel timestamps (and so the wheel's sha256) do not depend on when the kit was built
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest a zip file can say
_BUILD_TIMEOUT_S = 900


class ProjectInfo:
    """The name, version and optional extras of the project, read from ``pyproject.toml``."""

    def __init__(self, root: Path = PROJECT_ROOT) -> None:
        path = root / "pyproject.toml"
        if not path.is_file() or not (root / DEVICE_PACKAGE).is_dir():
            raise ExportError(
                f"{root} holds no pyproject.toml and {DEVICE_PACKAGE}/: python -m export kit builds the runtime "
                "wheel from the project's sources, so run it from a checkout (pip install -e .)"
            )
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        self.root = root
        self.name: str = project["name"]
        self.version: str = project["version"]
        self.extras: dict[str, list[str]] = dict(project.get("optional-dependencies", {}))

    def check_extras(self, extras: Sequence[str]) -> tuple[str, ...]:
        """``extras`` without repeats, each one defined in pyproject.toml, or an ExportError naming the others."""
        unknown = [extra for extra in extras if extra not in self.extras]
        if unknown:
            raise ExportError(
                f"--extras {', '.join(unknown)}: not an extra of {self.name}; pyproject.toml defines "
                f"{', '.join(sorted(self.extras))}"
            )
        return tuple(dict.fromkeys(extras))

    def requirement(self, extras: Sequence[str]) -> str:
        """``factory-edge[serve,verify]==0.1.0``: what pip installs on the device."""
        listed = f"[{','.join(extras)}]" if extras else ""
        return f"{self.name}{listed}=={self.version}"


def read_project(root: Path = PROJECT_ROOT) -> ProjectInfo:
    return ProjectInfo(root)


def _stage(root: Path, stage: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    shutil.copytree(root / DEVICE_PACKAGE, stage / DEVICE_PACKAGE, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            shutil.copy2(root / name, stage / name)


def _check_members(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    foreign = [name for name in names if not name.startswith(f"{DEVICE_PACKAGE}/") and ".dist-info/" not in name]
    if foreign:
        raise ExportError(f"{wheel.name} holds files a device must not get: {', '.join(foreign[:5])}")


def build_device_wheel(project: ProjectInfo, work: Path) -> Path:
    """Build the device wheel (``runtime/`` only) of ``project`` below ``work``; returns its path."""
    stage, output = work / "source", work / "wheel"
    _stage(project.root, stage)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(output), str(stage)]
    environment = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=_BUILD_TIMEOUT_S)
    wheels = sorted(output.glob("*.whl")) if output.is_dir() else []
    if done.returncode != 0 or len(wheels) != 1:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise ExportError(f"building the runtime wheel failed: {lines[-1] if lines else 'pip wheel made no wheel'}")
    _check_members(wheels[0])
    return wheels[0]
