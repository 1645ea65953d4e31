"""Shipping a bundle to Spark's Python workers as bytes, verified on the driver and on every worker.

The driver reads the version folder's files once (:func:`read_bundle`: regular files only, each
bounded like :mod:`runtime._safe_io` reads them), writes that snapshot to a private folder and
loads it with :func:`runtime.load`: the bytes that are shipped are the bytes proven there (hash,
manifest, golden cases, and the signature where a key is trusted). The snapshot travels as one
Spark broadcast. On a worker, :func:`worker_model` writes it to a private folder once per process,
loads it with the same options and trusted keys (so it is verified again, by the worker's own
onnxruntime), removes the folder, and keeps the :class:`~runtime.Model` for every later task.

The trusted keys go along as PEM bytes, resolved on the driver (argument, ``--trusted-key`` and the
driver's trust directory); a worker's own trust directory adds to them, never removes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .._bundle import resolve_bundle
from .._contract import MAX_MODEL_BYTES, SIGNATURE_FILE, bundle_files
from .._errors import BundleError
from .._model import Model, load
from .._safe_io import read_bounded
from .._signature import TrustedKeySource, trusted_keys_from
from .._validation import RangePolicy, UnknownPolicy

__all__ = ["BundleSnapshot", "LoadOptions", "load_snapshot", "read_bundle", "worker_model"]


@dataclass(frozen=True)
class LoadOptions:
    """What :func:`runtime.load` is called with, on the driver and on every worker alike."""

    threads: int = 1
    on_unknown: UnknownPolicy = "reject"
    on_out_of_range: RangePolicy = "reject"
    trusted_pems: tuple[bytes, ...] = ()

    @property
    def flags(self) -> bool:
        """Whether a policy accepts values and flags them: the output then has a ``flags`` column."""
        return "flag" in (self.on_unknown, self.on_out_of_range)


@dataclass(frozen=True)
class BundleSnapshot:
    """A version folder's files as bytes: relative POSIX path -> content, read once on the driver."""

    folder_name: str
    files: tuple[tuple[str, bytes], ...]

    @property
    def digest(self) -> str:
        """sha256 over every name and content: the key of a worker's cache."""
        hasher = hashlib.sha256()
        for name, data in self.files:
            hasher.update(f"{name}\0{len(data)}\0".encode())
            hasher.update(data)
        return hasher.hexdigest()

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)


def read_bundle(path: str | os.PathLike[str]) -> BundleSnapshot:
    """Every file of the bundle at ``path`` (version or model folder), read as :func:`runtime.load` reads them."""
    folder = resolve_bundle(path)
    try:
        names = bundle_files(folder)
    except OSError as error:
        raise BundleError(f"{error} (to ship a bundle to Spark, it must hold regular files only)") from None
    if (folder / SIGNATURE_FILE).exists():
        names.append(SIGNATURE_FILE)
    files = []
    for name in names:
        try:
            files.append((name, read_bounded(folder / name, MAX_MODEL_BYTES, inside=folder)))
        except OSError as error:
            raise BundleError(f"{error}; bundles hold regular files only") from None
    return BundleSnapshot(folder.name, tuple(files))


def trusted_pems(sources: Iterable[TrustedKeySource] | None) -> tuple[bytes, ...]:
    """The PEM of every key the driver trusts (``sources``, ``--trusted-key``, the trust directory)."""
    keys = trusted_keys_from(sources)
    if not keys:
        return ()
    from cryptography.hazmat.primitives import serialization  # the verify extra: present, as keys parsed

    pem, spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    return tuple(key.public_key.public_bytes(pem, spki) for key in keys)


def load_snapshot(snapshot: BundleSnapshot, options: LoadOptions) -> Model:
    """Write ``snapshot`` to a private folder, :func:`runtime.load` it, and remove the folder."""
    root = Path(tempfile.mkdtemp(prefix="factory-edge-spark-"))
    try:
        folder = root / snapshot.folder_name
        for name, data in snapshot.files:
            target = folder / _relative(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return load(
            folder,
            threads=options.threads,
            on_unknown=options.on_unknown,
            on_out_of_range=options.on_out_of_range,
            trusted_keys=list(options.trusted_pems),
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _relative(name: str) -> PurePosixPath:
    """A shipped file name as a path that stays inside the folder (names come from the driver's listing)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BundleError(f"the shipped bundle names the file {name!r}, which is not inside the bundle folder")
    return path


# Which snapshot and options each worker process has loaded: one Model per (digest, options).
_loaded: dict[tuple[str, LoadOptions], Model] = {}
_loading = threading.Lock()


def worker_model(broadcast: Any, digest: str, options: LoadOptions) -> Model:
    """The verified model of this worker process for the broadcast snapshot: loaded at the first call only."""
    key = (digest, options)
    with _loading:
        model = _loaded.get(key)
        if model is None:
            snapshot: BundleSnapshot = broadcast.value
            if snapshot.digest != digest:
                raise BundleError("the bundle's bytes changed on the way to this Spark worker; rerun the job")
            model = _loaded[key] = load_snapshot(snapshot, options)
        return model
