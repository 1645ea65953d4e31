"""The devices a kit is built for: a platform (``linux_x86_64``) and a CPython version, as pip's tags.

A platform name is what ``platform.machine()`` says on the device, prefixed with the OS
(``linux_aarch64``), because that is what ``install.sh`` can see there. Each maps to the manylinux
tags of glibc 2.17 up to 2.28: onnxruntime and numpy publish ``manylinux_2_28`` (numpy as
``manylinux_2_27.manylinux_2_28``) wheels, and their dependencies often older ones (protobuf and
cffi ``manylinux2014``); a device with glibc 2.28 or newer takes them all. pip does not widen a
``manylinux_2_28`` tag to the older ones by itself, so every tag is passed.

>>> target = parse_targets(["linux_aarch64"], ["3.11"])[0]
>>> target.name, target.abi, target.pip_platforms[0], target.pip_platforms[-1]
('linux_aarch64-cp311', 'cp311', 'manylinux_2_28_aarch64', 'manylinux2014_aarch64')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .._errors import ExportError

__all__ = ["GLIBC_MINIMUM", "PLATFORMS", "Target", "parse_targets"]

# platform name -> the machine name in manylinux tags; 32-bit ARM and ppc64le/s390x are known names,
# so that pip, not this table, says whether their wheels exist
PLATFORMS = {
    "linux_x86_64": "x86_64",
    "linux_aarch64": "aarch64",
    "linux_armv7l": "armv7l",
    "linux_ppc64le": "ppc64le",
    "linux_s390x": "s390x",
}
GLIBC_MINIMUM = (2, 28)
_OLDEST_GLIBC_MINOR = 17  # manylinux2014, the oldest tag still published for these packages
_PYTHON = re.compile(r"3\.(\d{1,2})")


@dataclass(frozen=True)
class Target:
    """One (platform, CPython version) pair a kit holds wheels for."""

    platform: str
    python: str

    @property
    def machine(self) -> str:
        return PLATFORMS[self.platform]

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def name(self) -> str:
        """The kit's folder of this target's wheels: ``wheels/<name>/``."""
        return f"{self.platform}-{self.abi}"

    @property
    def pip_platforms(self) -> tuple[str, ...]:
        """Every manylinux tag a glibc 2.28 device of this machine accepts, newest first."""
        newest = GLIBC_MINIMUM[1]
        tags = [f"manylinux_2_{minor}_{self.machine}" for minor in range(newest, _OLDEST_GLIBC_MINOR - 1, -1)]
        return (*tags, f"manylinux2014_{self.machine}")

    def describe(self) -> str:
        return f"{self.platform} / CPython {self.python}"

    def pip_options(self) -> list[str]:
        """The options that make ``pip download`` / ``pip install --dry-run`` choose this target's wheels."""
        options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", self.python, "--abi", self.abi]
        for tag in self.pip_platforms:
            options += ["--platform", tag]
        return options


def _check_python(python: str) -> str:
    match = _PYTHON.fullmatch(python)
    if match is None or int(match.group(1)) < 8:
        raise ExportError(f"--python {python!r} is not a CPython version such as 3.11 (3.MINOR)")
    return python


def parse_targets(platforms: Sequence[str], pythons: Sequence[str]) -> list[Target]:
    """Every (platform, Python) pair asked for, in the order given, without repeats."""
    if not platforms or not pythons:
        raise ExportError("a kit needs at least one --platform and one --python")
    for platform in platforms:
        if platform not in PLATFORMS:
            raise ExportError(f"--platform {platform!r} is not known: use one of {', '.join(PLATFORMS)}")
    checked = [_check_python(python) for python in pythons]
    targets = [Target(platform, python) for platform in platforms for python in checked]
    return list(dict.fromkeys(targets))
