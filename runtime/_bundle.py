"""Finding, verifying and opening a bundle folder, before any of it reaches onnxruntime.

The layout is described in :mod:`runtime._contract`. ``CURRENT`` is replaced atomically
(:func:`runtime._contract.write_current`) only after a version folder is complete, so a half-written
version is never current.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ._contract import CURRENT_FILE, MANIFEST_FILE, is_semver, read_current
from ._errors import BundleError
from ._manifest import Manifest
from ._onnx_scan import refuse_external_data

__all__ = ["resolve_bundle", "read_manifest", "read_model_bytes"]


def resolve_bundle(path: str | os.PathLike[str]) -> Path:
    """Return the version folder for ``path``: a version folder itself, or a model folder's current one."""
    folder = Path(path)
    if not folder.exists():
        raise BundleError(f"bundle path {str(folder)!r} does not exist")
    if folder.is_file():
        if folder.name == MANIFEST_FILE:
            return folder.parent
        raise BundleError(f"bundle path {str(folder)!r} is a file; pass the bundle folder that holds {MANIFEST_FILE}")
    if (folder / MANIFEST_FILE).is_file():
        return folder
    pointer = folder / CURRENT_FILE
    if pointer.is_file():
        try:
            version = read_current(folder) or ""
        except UnicodeDecodeError:
            raise BundleError(f"{str(pointer)!r} is not UTF-8 text; it must hold a version like '1.0.0'") from None
        if not is_semver(version):
            raise BundleError(f"{str(pointer)!r} holds {version!r}, expected a semantic version like '1.0.0'")
        version_folder = folder / version
        if not (version_folder / MANIFEST_FILE).is_file():
            raise BundleError(
                f"{str(pointer)!r} names version {version!r} but {str(version_folder / MANIFEST_FILE)!r} is missing"
            )
        return version_folder
    raise BundleError(
        f"{str(folder)!r} is neither a bundle (no {MANIFEST_FILE}) nor a model folder (no {CURRENT_FILE} file)"
    )


def read_manifest(folder: Path) -> Manifest:
    """Parse ``manifest.json`` of a version folder into a :class:`Manifest`."""
    path = folder / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BundleError(f"{str(path)!r} is missing") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BundleError(f"{str(path)!r} is not valid JSON: {error}") from None
    return Manifest.from_dict(data)


def read_model_bytes(folder: Path, manifest: Manifest) -> bytes:
    """Read the ONNX file named by the manifest and prove it is the one the export wrote.

    The bytes returned are the bytes hashed, and they are what onnxruntime parses: there is no
    window in which the file could be swapped between the check and the load.
    """
    name = manifest.model_file.path
    if Path(name).name != name or name in ("", ".", ".."):
        raise BundleError(f"manifest field model_file.path == {name!r} must be a file name inside the bundle folder")
    path = folder / name
    if path.is_symlink() or not path.resolve().is_relative_to(folder.resolve()):
        raise BundleError(f"{str(path)!r} points outside the bundle folder; bundles must be self-contained")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{str(path)!r} is missing; the manifest expects it") from None
    if len(data) != manifest.model_file.size:
        raise BundleError(
            f"{str(path)!r} has {len(data)} bytes, the manifest expects {manifest.model_file.size}: "
            "the file is truncated or replaced; copy the bundle again"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.model_file.sha256:
        raise BundleError(
            f"{str(path)!r} has sha256 {digest}, the manifest expects {manifest.model_file.sha256}: "
            "the file is corrupted or was changed after export; copy the bundle again"
        )
    refuse_external_data(data, str(path))
    return data
