"""Which requirements a target needs that its wheel folder lacks, with markers judged for the target.

pip evaluates environment markers (``exceptiongroup; python_version < "3.11"``) with the interpreter
that runs it, not the ``--python-version`` / ``--platform`` it downloads for (pip issues #11010,
#6117). A kit for Python 3.10 built on 3.11 would then miss what only 3.10 needs. So after each
download the folder's wheels are read (their ``METADATA``) and every requirement reachable from the
project is judged again with the target's own marker environment; what is missing is downloaded
in another round (:mod:`export._kit.build`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .targets import Target

__all__ = ["marker_environment", "missing_requirements", "read_wheels"]


def marker_environment(target: Target) -> dict[str, str]:
    """PEP 508 marker variables of a CPython ``target.python`` on Linux ``target.machine``."""
    full = f"{target.python}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": target.machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": target.python,
        "sys_platform": "linux",
    }


class _Wheel:
    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            metadata = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
        self.path = path
        self.name = canonicalize_name(metadata["Name"])
        self.version = Version(metadata["Version"])
        self.requires = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def read_wheels(folder: Path) -> dict[str, list[_Wheel]]:
    """The wheels of ``folder`` by canonical project name."""
    wheels: dict[str, list[_Wheel]] = {}
    for path in sorted(folder.glob("*.whl")):
        wheel = _Wheel(path)
        wheels.setdefault(wheel.name, []).append(wheel)
    return wheels


def _needed(requirement: Requirement, environment: dict[str, str], extras: Sequence[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in (*extras, ""))


def _walk(root: Requirement, wheels: dict[str, list[_Wheel]], environment: dict[str, str]) -> Iterator[Requirement]:
    """Every requirement reachable from ``root`` that no wheel of the folder satisfies."""
    pending, seen = [root], set()
    while pending:
        requirement = pending.pop()
        key = (canonicalize_name(requirement.name), str(requirement.specifier), tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        fitting = [w for w in wheels.get(key[0], []) if requirement.specifier.contains(w.version, prereleases=True)]
        if not fitting:
            yield requirement
            continue
        extras = sorted(requirement.extras)
        pending += [r for r in fitting[0].requires if _needed(r, environment, extras)]


def missing_requirements(folder: Path, root: str, target: Target) -> list[str]:
    """The requirements (``exceptiongroup>=1.0.2``) that ``root`` needs on ``target`` and ``folder`` lacks."""
    environment = marker_environment(target)
    found = []
    for requirement in _walk(Requirement(root), read_wheels(folder), environment):
        requirement.marker = None  # judged already: the next pip run must not judge it again by the host
        found.append(str(requirement))
    return sorted(set(found))
