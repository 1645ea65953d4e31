"""``python -m export kit``: one offline archive that installs the runtime and a bundle on air-gapped devices.

>>> from export._kit import KitRequest, build_kit
>>> build_kit(KitRequest(Path("models/quality"), Path("kit.tar.gz"), ["linux_aarch64"], ["3.11"]))  # doctest: +SKIP

Modules, one thing each: :mod:`.targets` (platforms and Pythons as pip tags), :mod:`.project`
(extras and the device-only wheel), :mod:`.download` (pip download and its refusals),
:mod:`.closure` (requirements judged for the target), :mod:`.install_script`,
:mod:`.operator_readme`, :mod:`.archive` (the safe tar) and :mod:`.build` (the sequence).
"""

from __future__ import annotations

from .build import KitRequest, KitResult, build_kit

__all__ = ["KitRequest", "KitResult", "build_kit"]
