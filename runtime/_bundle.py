"""Finding, verifying and opening a bundle folder, before any of it reaches onnxruntime.

The layout is described in :mod:`runtime._contract`. ``CURRENT`` is replaced atomically
(:func:`runtime._contract.write_current`) only after a version folder is complete, so a half-written
version is never current.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from ._contract import CURRENT_FILE, MANIFEST_FILE, MAX_MANIFEST_BYTES, MAX_MODEL_BYTES, is_semver, read_current
from ._errors import BundleError
from ._fields import refusing_duplicate_keys, shown
from ._manifest import FileSpec, Manifest
from ._onnx_scan import refuse_external_data
from ._safe_io import SizeMismatchError, UnsafeFileError, read_bounded
from ._signature import Seal

__all__ = ["check_signed_files", "resolve_bundle", "read_graph_bytes", "read_manifest", "read_model_bytes"]


def resolve_bundle(path: str | os.PathLike[str]) -> Path:
    """Return the version folder for ``path``: a version folder itself, or a model folder's current one."""
    folder = Path(path)
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise BundleError(f"bundle path {str(folder)!r} does not exist") from None
    except OSError as error:
        raise BundleError(f"bundle path {str(folder)!r} cannot be read: {error.strerror or error}") from None
    if stat.S_ISREG(info.st_mode) and folder.name == MANIFEST_FILE:
        return folder.parent
    if not stat.S_ISDIR(info.st_mode):
        raise BundleError(
            f"bundle path {str(folder)!r} is not a folder; pass the bundle folder that holds {MANIFEST_FILE}"
        )
    if os.path.lexists(folder / MANIFEST_FILE):
        return folder
    pointer = folder / CURRENT_FILE
    if not os.path.lexists(pointer):
        raise BundleError(
            f"{str(folder)!r} is neither a bundle (no {MANIFEST_FILE}) nor a model folder (no {CURRENT_FILE} file)"
        )
    try:
        version = read_current(folder) or ""
    except UnicodeDecodeError:
        raise BundleError(f"{str(pointer)!r} is not UTF-8 text; it must hold a version like '1.0.0'") from None
    except OSError as error:
        raise BundleError(_os_error_text(error, pointer)) from None
    if not is_semver(version):
        raise BundleError(f"{str(pointer)!r} holds {shown(version)}, expected a semantic version like '1.0.0'")
    version_folder = folder / version
    if not os.path.lexists(version_folder / MANIFEST_FILE):
        raise BundleError(
            f"{str(pointer)!r} names version {version!r} but {str(version_folder / MANIFEST_FILE)!r} is missing"
        )
    return version_folder


def _os_error_text(error: OSError, path: Path) -> str:
    if isinstance(error, UnsafeFileError):
        return f"{error}; bundles hold regular files only"
    return f"{str(path)!r} cannot be read: {error.strerror or error}"


def _read(folder: Path, name: str, limit: int, *, expected_size: int | None = None, seal: Seal | None = None) -> bytes:
    """A bundle file's bytes, through the checks of :mod:`runtime._safe_io`; every refusal a BundleError.

    With a ``seal`` (a verified signature) the bytes read are the bytes proven against it.
    """
    path = folder / name
    try:
        data = read_bounded(path, limit, inside=folder, expected_size=expected_size)
    except FileNotFoundError:
        expects = "; the manifest expects it" if expected_size is not None else ""
        raise BundleError(f"{str(path)!r} is missing{expects}") from None
    except SizeMismatchError as error:
        raise BundleError(
            f"{str(path)!r} has {error.actual} bytes, the manifest expects {expected_size}: "
            "the file is truncated or replaced; copy the bundle again"
        ) from None
    except OSError as error:
        raise BundleError(_os_error_text(error, path)) from None
    if seal is not None:
        seal.check(name, data)
    return data


_unique_keys = refusing_duplicate_keys(
    lambda key: BundleError(f"manifest names the key {shown(key)} twice in one object; each key must appear once")
)


def _no_constant(name: str) -> Any:
    raise BundleError(f"manifest holds {name}, which is not JSON; numbers must be finite")


def _check_text(data: Any) -> None:
    """Refuse strings that cannot be written as UTF-8 (lone surrogates from \\ud800 escapes)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BundleError(f"manifest holds the string {shown(item)}, which is not valid Unicode") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def read_manifest(folder: Path, seal: Seal | None = None) -> Manifest:
    """Parse ``manifest.json`` of a version folder into a :class:`Manifest`.

    Strict JSON: UTF-8, no duplicate keys, no NaN or Infinity, no lone surrogates, at most
    ``MAX_MANIFEST_BYTES``; every field is then checked by :meth:`Manifest.from_dict`. With a
    ``seal``, the bytes parsed are first proven against the signature.
    """
    path = folder / MANIFEST_FILE
    raw = _read(folder, MANIFEST_FILE, MAX_MANIFEST_BYTES, seal=seal)
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise BundleError(f"{str(path)!r} is not valid JSON: {error}") from None
    except UnicodeDecodeError as error:
        raise BundleError(f"{str(path)!r} is not UTF-8 text (byte {error.start})") from None
    except RecursionError:
        raise BundleError(f"{str(path)!r} nests too deeply to be a manifest") from None
    except ValueError as error:  # e.g. an integer over Python's digit limit
        raise BundleError(f"{str(path)!r} is not a manifest: {error}") from None
    _check_text(data)
    return Manifest.from_dict(data)


def read_model_bytes(folder: Path, manifest: Manifest, seal: Seal | None = None) -> bytes:
    """Read the ONNX file named by the manifest and prove it is the one the export wrote.

    The bytes returned are the bytes hashed, and they are what onnxruntime parses: there is no
    window in which the file could be swapped between the check and the load.
    """
    return read_graph_bytes(folder, manifest.model_file, "model_file", seal)


def read_graph_bytes(folder: Path, spec: FileSpec, field: str, seal: Seal | None = None) -> bytes:
    """Read one ONNX file of the bundle (``spec`` is the manifest's ``field``): size, sha256, no external data."""
    name = spec.path
    if Path(name).name != name or name in ("", ".", ".."):
        raise BundleError(f"manifest field {field}.path == {name!r} must be a file name inside the bundle folder")
    if spec.size > MAX_MODEL_BYTES:
        raise BundleError(f"manifest field {field}.size == {spec.size} is over the limit of {MAX_MODEL_BYTES} bytes")
    path = folder / name
    data = _read(folder, name, MAX_MODEL_BYTES, expected_size=spec.size, seal=seal)
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise BundleError(
            f"{str(path)!r} has sha256 {digest}, the manifest expects {spec.sha256}: "
            "the file is corrupted or was changed after export; copy the bundle again"
        )
    refuse_external_data(data, str(path))
    return data


def check_signed_files(seal: Seal | None) -> None:
    """Read and prove every signed file the loader did not read itself (the documents)."""
    if seal is not None:
        seal.check_rest(MAX_MODEL_BYTES)
