"""Writing the kit's ``.tar.gz``: regular files only, relative paths, sorted, the same bytes every time.

Every member sits below one top folder and is a regular file (no directories, links or devices,
so an extraction cannot write outside the folder or follow a link), owned by 0:0 with mode 0644
(0755 for executables) and a fixed time; the gzip header carries no time either. The file appears
under its name only when complete (written beside it, then renamed).
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path

from .._errors import ExportError

__all__ = ["MEMBER_MTIME", "safe_member_name", "write_archive"]

MEMBER_MTIME = 315532800  # 1980-01-01, as in the wheels


def safe_member_name(top: str, relative: str) -> str:
    """``top/relative``, refused unless both are plain relative POSIX paths without ``..``, ``.`` or ``//``."""
    name = f"{top}/{relative}"
    if name.startswith("/") or "\\" in name or any(part in ("", ".", "..") for part in name.split("/")):
        raise ExportError(f"{name!r} cannot be a kit member: members are relative paths without '..'")
    return name


def _add(archive: tarfile.TarFile, name: str, source: Path) -> None:
    # O_NOFOLLOW: a link swapped in after the listing is refused, never followed
    with open(os.open(source, os.O_RDONLY | os.O_NOFOLLOW), "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise ExportError(f"{source} is not a regular file: a kit holds regular files only")
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.type = status.st_size, MEMBER_MTIME, tarfile.REGTYPE
        info.mode = 0o755 if status.st_mode & stat.S_IXUSR else 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        archive.addfile(info, stream)


def write_archive(output: Path, top: str, files: Iterable[tuple[str, Path]]) -> None:
    """Write ``(relative name, source file)`` pairs below ``top/`` into the gzip tar ``output``."""
    members = sorted((safe_member_name(top, relative), source) for relative, source in files)
    names = [name for name, _ in members]
    if len(set(names)) != len(names):
        raise ExportError("two kit members have the same name")
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    try:
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for name, source in members:
                    _add(archive, name, source)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
