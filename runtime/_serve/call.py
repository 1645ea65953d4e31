"""``Call``: what the data plane knows about the request it is answering, whatever carried it.

Its id (the caller's, checked, or a new one), when it arrived (for the log and the latency), when
its time runs out (``--timeout-s``), the model that answered it and the body it sent (for the log
of a rejected request).
"""

from __future__ import annotations

import re
import time
import uuid

from .._errors import InputError
from .._model import Model

__all__ = ["Call"]

_REQUEST_ID = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,255}")


class Call:
    """One request being answered; created when it arrives, with ``timeout_s`` to answer it.

    >>> call = Call(10.0, "/v1/predict")
    >>> call.set_request_id("line-4/part-17", "X-Request-Id header")
    >>> call.request_id, call.remaining() > 9.0
    ('line-4/part-17', True)
    """

    __slots__ = ("started", "epoch", "deadline", "endpoint", "request_id", "model", "body")

    def __init__(self, timeout_s: float, endpoint: str) -> None:
        self.started = time.perf_counter()
        self.epoch = time.time()
        self.deadline = self.started + timeout_s
        self.endpoint = endpoint  # the route template, as the metrics and the log name it
        self.request_id = uuid.uuid4().hex
        self.model: Model | None = None
        self.body: bytes | None = None

    def set_request_id(self, value: str, source: str) -> None:
        """Take the caller's id (``source`` names where it came from, for the error)."""
        if not _REQUEST_ID.fullmatch(value):
            raise InputError(
                f"{source} == {value[:40]!r}{'...' if len(value) > 40 else ''} must be 1 to 256 printable ASCII "
                "characters (no leading space)."
            )
        self.request_id = value

    def remaining(self) -> float:
        """Seconds left of the request's time, 0 once it has run out."""
        return max(0.0, self.deadline - time.perf_counter())

    def latency_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0
