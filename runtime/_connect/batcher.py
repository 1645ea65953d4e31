"""Micro-batching: incoming records are predicted together, their messages committed to the outbox
together, and only then acknowledged.

One thread takes everything queued (up to ``max_rows``), and when that is less than ``max_rows``
waits up to ``max_wait_ms`` after the first record for more. So the extra latency a record can get
from batching is bounded: at most ``max_wait_ms`` (the config's ``batch_max_wait_ms``, default 5 ms)
plus one batch's own processing. With 0 nothing waits: batches form only from what arrived while the
previous batch was predicted and committed. Under load one ``predict_batch`` and one outbox commit
serve many messages; idle, a record goes through alone once its window has passed.

Per batch, in order: the model is read once from the holder (a hot reload swaps it between
batches, never within one); the records are predicted with :meth:`runtime.Model.predict_batch`;
a record the batch refuses (and one whose columns do not fit) is run through
:meth:`runtime.Model.predict` alone, so its error is exactly the message the API gives for it; every
outgoing message is committed to the outbox in one transaction; then the inbound messages are
acknowledged; then the prediction log gets its rows (as the server's log: predictions and refusals).
A failing outbox commit is retried (with backoff) and nothing is acknowledged before it succeeds.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import InputError
from .._holder import ModelHolder
from .._model import Model
from .._monitor.predictlog import LogEntry, PredictionLog
from .messages import Predicted
from .metrics import Counters
from .outbox import Outbox

__all__ = ["CONNECT_FLAG_HINT", "Batcher", "Inbound", "predict_records"]

logger = logging.getLogger(__name__)

# How a connector is told to accept unknown categories (the runtime's own hint names load(on_unknown="flag")).
CONNECT_FLAG_HINT = '(set on_unknown = "flag" in the connector\'s config to accept and flag it)'
# A value out of range has no connector setting that accepts it: its message names none.
CONNECT_HINTS = {"on_unknown": CONNECT_FLAG_HINT, "on_out_of_range": ""}
_STOP = object()
Outgoing = tuple[str, str, bytes]


@dataclass(slots=True)
class Inbound:
    """One incoming record: from ``source`` (``mqtt`` or ``opcua``) on ``topic``, with its payload's
    ``id``; ``error`` is set when it was refused before the model saw it (not JSON, too large)."""

    source: str
    topic: str
    record: dict[str, Any] | None
    message_id: Any = None
    error: str | None = None
    excerpt: str | None = None
    ack: Callable[[], None] | None = None
    duplicate: bool = False
    arrived_ns: int = field(default_factory=time.perf_counter_ns)
    epoch: float = field(default_factory=time.time)


def _alone(model: Model, record: Any) -> Predicted | str:
    """One record through the single-record API: its prediction, or the API's message for it."""
    try:
        prediction = model.predict(record)
    except InputError as error:
        return error.render(hints=CONNECT_HINTS)
    probabilities = list(prediction.probabilities.values()) if prediction.probabilities is not None else None
    return Predicted(prediction.label, probabilities, prediction.value, prediction.flags)


def predict_records(model: Model, records: Sequence[Any]) -> list[Predicted | str]:
    """A prediction or an error message for each record, predicted as one batch where they fit."""
    names = set(model.columns)
    results: list[Predicted | str | None] = [None] * len(records)
    fitting = [index for index, record in enumerate(records) if isinstance(record, dict) and record.keys() == names]
    if fitting:
        try:
            batch = model.predict_batch([records[index] for index in fitting], errors="skip")
        except InputError:  # refused as a whole (an odd value in some record): each one alone below
            batch = None
        if batch is not None:
            labels = batch.labels.tolist() if batch.labels is not None else None
            probabilities = batch.probabilities.tolist() if batch.probabilities is not None else None
            values = batch.values.tolist() if batch.values is not None else None
            for position, row in enumerate(batch.rows.tolist()):
                results[fitting[row]] = Predicted(
                    labels[position] if labels is not None else None,
                    probabilities[position] if probabilities is not None else None,
                    values[position] if values is not None else None,
                    tuple(batch.flags.get(row, ())),
                )
    return [result if result is not None else _alone(model, records[index]) for index, result in enumerate(results)]


Route = Callable[[Inbound, Model, str, "Predicted | str"], list[Outgoing]]


class Batcher:
    """The one thread that predicts, commits to the outbox and acknowledges (see the module docstring)."""

    def __init__(
        self,
        holder: ModelHolder,
        outbox: Outbox,
        route: Route,
        counters: Counters,
        *,
        log: PredictionLog | None = None,
        max_rows: int = 64,
        max_wait_ms: float = 0.0,
        max_queued: int = 1024,
    ) -> None:
        self.holder, self.outbox, self.route, self.counters, self.log = holder, outbox, route, counters, log
        self.max_rows, self.max_wait_s = max_rows, max_wait_ms / 1000
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queued)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connect-batcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: Inbound) -> None:
        """Queue one record; blocks while ``max_queued`` are waiting (back-pressure on the reader)."""
        self._queue.put(item)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Predict and commit what is queued, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                return
            items, stop = self._gather(first)
            try:
                self._process(items)
            except Exception:  # noqa: BLE001 -- a bug in one batch must not end the connector
                logger.exception("a batch of %d records failed; they are not acknowledged", len(items))
                self.counters.errors += len(items)

    def _gather(self, first: Inbound) -> tuple[list[Inbound], bool]:
        items = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(items) < self.max_rows:
            try:
                remaining = deadline - time.monotonic()
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return items, True
            items.append(item)
        return items, False

    def _process(self, items: list[Inbound]) -> None:
        model = self.holder.current
        to_predict = [index for index, item in enumerate(items) if item.error is None]
        predicted = predict_records(model, [items[index].record for index in to_predict])
        results: list[Predicted | str] = [item.error or "" for item in items]
        for index, result in zip(to_predict, predicted):
            results[index] = result
        request_ids = [uuid.uuid4().hex for _ in items]
        outgoing: list[Outgoing] = []
        for item, request_id, result in zip(items, request_ids, results):
            outgoing.extend(self.route(item, model, request_id, result))
        self._commit(outgoing)
        for item in items:
            if item.ack is not None:
                item.ack()
        self._count(items, results)
        if self.log is not None:
            for item, request_id, result in zip(items, request_ids, results):
                self.log.submit(_log_entry(model, item, request_id, result))

    def _commit(self, outgoing: list[Outgoing]) -> None:
        delay = 0.05
        while True:
            try:
                self.outbox.put(outgoing)
                return
            except sqlite3.Error as error:
                self.counters.outbox_failures += 1
                logger.error("outbox commit failed (%s); retrying in %.1f s, nothing is acknowledged", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _count(self, items: list[Inbound], results: list[Predicted | str]) -> None:
        now = time.perf_counter_ns()
        counters = self.counters
        for item, result in zip(items, results):
            counters.messages_in[item.source] = counters.messages_in.get(item.source, 0) + 1
            counters.duplicates += item.duplicate
            if isinstance(result, str):
                counters.errors += 1
            else:
                counters.predictions += 1
                counters.latency.observe((now - item.arrived_ns) / 1e9)


def _log_entry(model: Model, item: Inbound, request_id: str, result: Predicted | str) -> LogEntry:
    latency_ms = (time.perf_counter_ns() - item.arrived_ns) / 1e6
    endpoint = f"{item.source}:{item.topic}"
    if isinstance(result, str):
        return LogEntry(
            request_id, item.epoch, endpoint, 400, model.name, model.version, latency_ms,
            error=result, request_excerpt=item.excerpt,
        )  # fmt: skip
    return LogEntry(
        request_id,
        item.epoch,
        endpoint,
        200,
        model.name,
        model.version,
        latency_ms,
        inputs=[item.record or {}],
        classes=model.classes,
        labels=[result.label] if result.probabilities is not None else None,
        probabilities=[result.probabilities] if result.probabilities is not None else None,
        values=[result.value] if result.value is not None else None,
        flags={0: result.flags} if result.flags else {},
    )
