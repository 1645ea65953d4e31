"""``build_kit``: the sequence that turns a bundle into one offline ``.tar.gz`` for the devices asked for.

1. the extras are checked against pyproject.toml and the bundle is loaded (only a bundle that
   loads and replays its golden cases here is packed);
2. the device wheel is built from ``runtime/`` alone;
3. for each target, pip downloads every wheel it needs, and rounds of downloads add what pip's
   host-judged markers skipped; a target without wheels is refused here, before any archive;
4. the kit is staged (wheels, bundle, install.sh, README.md), summed (``SHA256SUMS``) and written.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import runtime
from runtime._contract import CURRENT_FILE, SIGNATURE_FILE, bundle_files

from .._errors import ExportError
from .archive import write_archive
from .download import collect_wheels
from .install_script import install_script
from .operator_readme import operator_readme
from .project import build_device_wheel, read_project
from .targets import parse_targets

__all__ = ["KitRequest", "KitResult", "build_kit"]


@dataclass(frozen=True)
class KitRequest:
    """What ``python -m export kit`` was asked for."""

    bundle: Path
    output: Path
    platforms: Sequence[str]
    pythons: Sequence[str]
    extras: Sequence[str] = ()


@dataclass(frozen=True)
class KitResult:
    output: Path
    top: str
    requirement: str
    model: str
    version: str
    wheels: dict[str, list[str]] = field(default_factory=dict)  # target name -> wheel file names


def _stage_bundle(folder: Path, name: str, version: str, stage: Path) -> bool:
    destination = stage / "models" / name / version
    names = bundle_files(folder)  # regular files only: a link or device refuses the bundle
    signed = (folder / SIGNATURE_FILE).is_file()
    for relative in [*names, SIGNATURE_FILE] if signed else names:
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / relative, destination / relative)
    (stage / "models" / name / CURRENT_FILE).write_text(version + "\n", encoding="utf-8")
    return signed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_sums(stage: Path) -> list[tuple[str, Path]]:
    files = sorted((path.relative_to(stage).as_posix(), path) for path in stage.rglob("*") if path.is_file())
    lines = [f"{_sha256(path)}  {relative}\n" for relative, path in files]
    (stage / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return [*files, ("SHA256SUMS", stage / "SHA256SUMS")]


def build_kit(request: KitRequest, *, progress: Callable[[str], None] = lambda message: None) -> KitResult:
    """Build the offline kit ``request.output``; raises ExportError (nothing written) when it cannot."""
    project = read_project()
    extras = project.check_extras(request.extras)
    targets = parse_targets(request.platforms, request.pythons)
    if not request.output.parent.is_dir() or request.output.is_dir():
        raise ExportError(f"--output {request.output}: must name a file in an existing folder")
    model = runtime.load(request.bundle)
    requirement = project.requirement(extras)
    top = f"factory-edge-kit-{model.name}-{model.version}"
    with tempfile.TemporaryDirectory(prefix="factory-edge-kit-") as work_name:
        work = Path(work_name)
        progress(f"building the device wheel of {project.name} {project.version} (runtime/ only)")
        wheel = build_device_wheel(project, work / "build")
        stage, wheels = work / top, {}
        direct = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)  # the wheel file, with the extras
        for target in targets:
            progress(f"downloading the wheels of {requirement} for {target.describe()}")
            folder = stage / "wheels" / target.name
            folder.mkdir(parents=True)
            shutil.copy2(wheel, folder / wheel.name)
            wheels[target.name] = collect_wheels([direct], requirement, target, folder)
        signed = _stage_bundle(model.path, model.name, model.version, stage)
        (stage / "install.sh").write_text(install_script(requirement, model.name, model.version), encoding="utf-8")
        (stage / "install.sh").chmod(0o755)
        readme = operator_readme(requirement, model.name, model.version, targets, signed, top)
        (stage / "README.md").write_text(readme, encoding="utf-8")
        progress(f"writing {request.output}")
        write_archive(request.output, top, _write_sums(stage))
    return KitResult(request.output, top, requirement, model.name, model.version, wheels)
