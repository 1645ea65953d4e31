"""Showing the runtime's own log (loads, reloads, refusals, log failures) on a stream, for a while."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TextIO

__all__ = ["runtime_log_to"]


@contextlib.contextmanager
def runtime_log_to(stream: TextIO, *, fmt: str, unless_configured: bool = False) -> Iterator[None]:
    """Send the ``runtime`` loggers' INFO and above to ``stream`` in ``fmt`` until the block ends.

    With ``unless_configured``, nothing changes when the embedding program has already given the
    ``runtime`` logger a handler (its choice wins).
    """
    logger = logging.getLogger("runtime")
    if unless_configured and logger.handlers:
        yield
        return
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(fmt))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
