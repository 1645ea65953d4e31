"""The one seam between the halves: what the export stage and the runtime must agree on, beyond the manifest.

``export`` and ``benchmarks`` import :mod:`runtime` (the public facade) and this module, nothing else
of the runtime; ``tests/test_layering.py`` enforces it. Everything here is plain data or a small
function with no dependency beyond the standard library:

- the names of the files of a bundle and of a model folder's ``CURRENT`` pointer;
- the marker a missing category is fed to the graph as;
- the default tolerances of the parity proof and the golden replay;
- the OpenSSF model-signing format's constants, the DSSE pre-authentication encoding and the list of a
  bundle's files a signature covers (:func:`bundle_files`), so signer and verifier cannot disagree;
- semantic-version helpers (strict: anchored at both ends, so ``"1.0.0\\n"`` is not a version);
- reading and atomically writing ``CURRENT``;
- the exit codes of both command lines (``python -m runtime`` and ``python -m export``), one table, so
  a number means the same thing wherever a script sees it.

Model folder layout::

    models/quality/            model folder
        CURRENT                text file naming the current version, e.g. "1.0.0"
        1.0.0/                 version folder (a bundle)
            manifest.json
            model.onnx
            ...documents for people (model card, report, checklist, schema)
            model.sig          optional: the signature over every other file (see below)
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ._safe_io import UnsafeFileError, read_bounded

__all__ = [
    "CLASSIFICATION_TOLERANCE",
    "CURRENT_FILE",
    "EXIT_CODES_HELP",
    "DEVICE_MODEL_FILE",
    "ExitCode",
    "exit_codes_text",
    "LABEL_TIE_TOLERANCE",
    "MANIFEST_FILE",
    "MAX_CURRENT_BYTES",
    "MAX_MANIFEST_BYTES",
    "MAX_MODEL_BYTES",
    "MISSING_CATEGORY",
    "MAX_SIGNATURE_BYTES",
    "MODEL_FILE",
    "REGRESSION_TOLERANCE",
    "SIGNATURE_BUNDLE_MEDIA_TYPE",
    "SIGNATURE_FILE",
    "SIGNATURE_PAYLOAD_TYPE",
    "SIGNATURE_PREDICATE_TYPE",
    "SIGNATURE_STATEMENT_TYPE",
    "bundle_file_digests",
    "bundle_files",
    "dsse_pae",
    "is_semver",
    "read_current",
    "semver_key",
    "write_current",
]

# -- bundle files ------------------------------------------------------------------------------
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.onnx"
# the folded, packed graph the runtime runs when the manifest names it (runtime._device_graph)
DEVICE_MODEL_FILE = "device.onnx"
SIGNATURE_FILE = "model.sig"

# -- values fed to the graph -------------------------------------------------------------------
# A missing category reaches the graph as this string; the export trains its imputers on it.
MISSING_CATEGORY = ""

# -- tolerances --------------------------------------------------------------------------------
# Largest |scikit-learn - onnxruntime| a probability may differ by in the parity proof and the
# golden replay; for regression relative to max(1, |value|).
CLASSIFICATION_TOLERANCE = 1e-9
REGRESSION_TOLERANCE = 1e-9
# Probabilities of two classes closer than this are a tie, broken like scikit-learn's argmax
# (the first class wins): summation order can tip an exact 0.5/0.5 vote by an ulp either way.
LABEL_TIE_TOLERANCE = 1e-9

# -- versions ----------------------------------------------------------------------------------
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
# -- limits ------------------------------------------------------------------------------------
# Nothing larger is read from a bundle. CURRENT holds one version and a newline; the shipped
# manifest is 33 kB and model.onnx 0.7 MB (a fully grown 100-tree forest is 23 MB), and protobuf
# cannot hold a model over 2 GiB anyway.
MAX_CURRENT_BYTES = 256
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_MODEL_BYTES = 1024 * 1024 * 1024
# model.sig lists one ~130-byte entry per file; a reference signature of ten files is 3 kB.
MAX_SIGNATURE_BYTES = 16 * 1024 * 1024


# -- signatures ----------------------------------------------------------------------------------
# The OpenSSF model-signing format (model-signing 1.1.x, github.com/sigstore/model-transparency):
# ``model.sig`` is a Sigstore bundle (v0.3 JSON) whose DSSE envelope signs an in-toto Statement v1.
# Its one subject is the model (the folder's name) with a sha256 over the files' digests in order;
# the predicate lists every file as a resource ``{name, algorithm: "sha256", digest}``, names
# relative POSIX paths. Only ``model.sig`` itself is left out: every other file of the folder,
# documents included, is covered, and a file the signature does not list is refused.
SIGNATURE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGNATURE_PAYLOAD_TYPE = "application/vnd.in-toto+json"
SIGNATURE_STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SIGNATURE_PREDICATE_TYPE = "https://model_signing/signature/v1.0"


def dsse_pae(payload: bytes, payload_type: str = SIGNATURE_PAYLOAD_TYPE) -> bytes:
    """DSSE v1 pre-authentication encoding: the bytes a DSSE signature is made over.

    >>> dsse_pae(b"{}")
    b'DSSEv1 28 application/vnd.in-toto+json 2 {}'
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _path_key(name: str) -> tuple[str, ...]:
    # model-signing orders resources as PurePosixPath objects do: part by part
    return PurePosixPath(name).parts


def bundle_files(folder: str | os.PathLike[str]) -> list[str]:
    """Every file a signature of the version folder ``folder`` covers: relative POSIX paths, in order.

    All regular files under ``folder``, in sub-folders too and hidden ones included, except
    ``model.sig`` at the top. A symbolic link, FIFO, device or socket raises
    :class:`~runtime._safe_io.UnsafeFileError` (an ``OSError``): a signed bundle holds regular files only.
    """
    root = Path(folder)
    found: list[str] = []
    pending = [root]
    while pending:
        current = pending.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                path = Path(entry.path)
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    pending.append(path)
                elif stat.S_ISREG(mode):
                    name = path.relative_to(root).as_posix()
                    if name != SIGNATURE_FILE:
                        found.append(name)
                else:
                    kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                    raise UnsafeFileError(f"{str(path)!r} is {kind}; a signed bundle holds regular files only")
    return sorted(found, key=_path_key)


def bundle_file_digests(folder: str | os.PathLike[str]) -> dict[str, str]:
    """``{name: sha256 hex}`` of :func:`bundle_files`, each file read through the bounded reader."""
    root = Path(folder)
    return {
        name: hashlib.sha256(read_bounded(root / name, MAX_MODEL_BYTES, inside=root)).hexdigest()
        for name in bundle_files(root)
    }


def is_semver(version: str) -> bool:
    """True when ``version`` is exactly a semantic version such as ``1.0.0`` or ``2.1.0-rc.1``.

    >>> is_semver("1.0.0"), is_semver("1.0.0\\n"), is_semver("1.0")
    (True, False, False)
    """
    return isinstance(version, str) and _SEMVER.fullmatch(version) is not None


def semver_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key ordering semantic versions (a pre-release sorts before its release).

    >>> sorted(["1.10.0", "1.2.0", "1.2.0-rc.1"], key=semver_key)
    ['1.2.0-rc.1', '1.2.0', '1.10.0']
    """
    match = _SEMVER.fullmatch(version)
    if not match:
        raise ValueError(f"{version!r} is not a semantic version such as '1.0.0'")
    major, minor, patch = (int(part) for part in match.groups())
    pre = version.split("+")[0].partition("-")[2]
    return (major, minor, patch, 0 if pre else 1, pre)


# -- CURRENT -----------------------------------------------------------------------------------
def read_current(model_folder: str | os.PathLike[str]) -> str | None:
    """The text of ``model_folder/CURRENT`` without surrounding whitespace; None when there is none.

    Only a regular file of at most ``MAX_CURRENT_BYTES`` inside the folder is read (see
    :mod:`runtime._safe_io`), so a FIFO, a link to some other file or a huge file costs nothing and
    its contents are never returned; the caller decides whether the text is a version
    (:func:`is_semver`). Raises ``OSError`` (``UnsafeFileError`` for those cases) when the file exists
    but cannot be read, ``UnicodeDecodeError`` when it is not UTF-8.
    """
    folder = Path(model_folder)
    try:
        raw = read_bounded(folder / CURRENT_FILE, MAX_CURRENT_BYTES, inside=folder)
    except FileNotFoundError:
        return None
    return raw.decode("utf-8").strip()


def write_current(model_folder: str | os.PathLike[str], version: str) -> None:
    """Point ``CURRENT`` at ``version`` atomically: readers see the old or the new name, never half."""
    if not is_semver(version):
        raise ValueError(f"{version!r} is not a semantic version such as '1.0.0'")
    # imported here: tempfile brings shutil, bz2, lzma and random (about 1 MiB and a few ms) into every
    # device process, which only reads CURRENT (benchmarks/reports/device_imports.md)
    import tempfile

    folder = Path(model_folder)
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".CURRENT-", delete=False, encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(handle.name, 0o644)  # NamedTemporaryFile makes it 0600; devices' service users must read it
    os.replace(handle.name, folder / CURRENT_FILE)


# -- exit codes --------------------------------------------------------------------------------
class ExitCode(enum.IntEnum):
    """Every exit code of ``python -m runtime`` and ``python -m export``; a number means one thing.

    What each means is in ``EXIT_CODES_HELP``; ``exit_codes_text`` renders a command's codes for
    its ``--help``.
    """

    OK = 0
    REJECTED_ROWS = 1
    BAD_INPUT = 2
    BUNDLE_REFUSED = 3
    USAGE = 4
    INTERNAL = 5
    DRIFT_WARN = 6
    DRIFT_ALERT = 7
    NOTHING_TO_JUDGE = 8
    PARITY_FAILED = 9
    BUDGET_MISSED = 10
    WEAK_MODEL = 11
    DATA_REFUSED = 12
    INTERFACE_CHANGED = 13
    INTERRUPTED = 130


EXIT_CODES_HELP: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.REJECTED_ROWS: "predict --on-error skip: some rows were rejected (see the rejects file); "
    "the rest were predicted",
    ExitCode.BAD_INPUT: "bad input: a bad row under --on-error stop, or an input whose columns, encoding or "
    "syntax do not fit the model",
    ExitCode.BUNDLE_REFUSED: "the bundle was refused at load (signature, hash, manifest, golden cases); "
    "nothing was run",
    ExitCode.USAGE: "usage or I/O error (bad options, unreadable input, unwritable output)",
    ExitCode.INTERNAL: "internal error (a bug): rerun with --verbose for the traceback",
    ExitCode.DRIFT_WARN: "drift: something crossed a warning threshold",
    ExitCode.DRIFT_ALERT: "drift: something crossed an alert threshold",
    ExitCode.NOTHING_TO_JUDGE: "drift: the window holds no rows of this model, or too few to judge any column "
    "(--min-rows); nothing was judged",
    ExitCode.PARITY_FAILED: "export: scikit-learn and onnxruntime disagree; nothing was made current",
    ExitCode.BUDGET_MISSED: "export: the bundle misses a device budget; nothing was made current",
    ExitCode.WEAK_MODEL: "export: the model is not better than the baseline by the quality gate's margin; "
    "nothing was made current (--allow-weak overrides)",
    ExitCode.DATA_REFUSED: "export: the column checks found an ID-like or leaking column; nothing was trained "
    "(--drop it, or allow it explicitly)",
    ExitCode.INTERFACE_CHANGED: "export: the model's interface (task, target, classes or input columns) differs "
    "from the current version's; nothing was made current (--major or a new --name)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def exit_codes_text(codes: Iterable[ExitCode] = tuple(ExitCode)) -> str:
    """The ``exit codes:`` block of a ``--help`` for ``codes`` (default: all of them)."""
    return "exit codes:\n" + "\n".join(f"  {int(code):<4} {EXIT_CODES_HELP[code]}" for code in codes)
