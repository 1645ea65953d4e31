"""The device command line, ``python -m runtime``: the only part of the runtime that writes to stdout and stderr."""

from ._base import main

__all__ = ["main"]
