"""Reading a file that someone else controls: type, location and size are checked before a byte is read.

A bundle folder is written by the export but sits on a device where other people and programs can
write too, so nothing about its files is assumed:

- ``lstat`` first: a FIFO or a device would block or never end; only regular files are read.
- a symbolic link is followed only when its target stays inside ``inside`` (the bundle folder).
- the size is checked against a limit before reading, and at most ``limit`` bytes are ever read
  (a file that grows while it is read is refused, not read without end).
- the file is opened with ``O_NONBLOCK`` (and ``O_NOFOLLOW`` when it was no link), and ``fstat`` of the
  open descriptor must show the same regular file that ``lstat`` saw: a swap in between is refused.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["SizeMismatchError", "UnsafeFileError", "read_bounded"]

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class UnsafeFileError(OSError):
    """The file is not one we read: not a regular file, outside its folder, or too large."""


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def describe_size(n_bytes: int) -> str:
    return f"{n_bytes:,} bytes"


class SizeMismatchError(UnsafeFileError):
    """The file's size is not the one expected; ``actual`` holds it."""

    def __init__(self, message: str, actual: int) -> None:
        super().__init__(message)
        self.actual = actual


def read_bounded(path: Path, limit: int, *, inside: Path | None = None, expected_size: int | None = None) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises ``FileNotFoundError`` when there is no such file and :class:`UnsafeFileError` (an
    ``OSError`` whose message says why) when it is not a regular file, is a link leaving ``inside``,
    or is larger than ``limit`` bytes; :class:`SizeMismatchError` when ``expected_size`` is given and
    the file has another size (checked before reading).
    """
    info = os.lstat(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if stat.S_ISLNK(info.st_mode):
        target = path.resolve()
        if inside is not None and not target.is_relative_to(inside.resolve()):
            raise UnsafeFileError(f"{str(path)!r} is a link to a file outside {str(inside)!r}")
        info = os.stat(path)
    else:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(f"{str(path)!r} is {_kind(info.st_mode)}, not a regular file")
    if expected_size is not None and info.st_size != expected_size:
        raise SizeMismatchError(f"{str(path)!r} has {describe_size(info.st_size)}", info.st_size)
    if info.st_size > limit:
        raise UnsafeFileError(
            f"{str(path)!r} has {describe_size(info.st_size)}, more than the limit of {describe_size(limit)}"
        )
    descriptor = os.open(path, flags)
    try:
        opened = os.fstat(descriptor)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise UnsafeFileError(f"{str(path)!r} was replaced while it was opened")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(descriptor)
    data = b"".join(chunks)
    if len(data) > limit:
        raise UnsafeFileError(f"{str(path)!r} grew past the limit of {describe_size(limit)} while it was read")
    if expected_size is not None and len(data) != expected_size:
        raise SizeMismatchError(f"{str(path)!r} has {describe_size(len(data))}", len(data))
    return data
