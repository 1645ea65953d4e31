"""The prediction log: every prediction the server makes, and every request it rejects, in SQLite.

One row per predicted record (``row`` is its index in the request) and one row per rejected request
(``row`` is NULL, ``error`` says why), each naming the request id, the time (UTC ISO text and epoch
seconds), the model and version that served it, the inputs and outputs as JSON, the latency and the
flags (unknown categories accepted under ``on_unknown="flag"``)::

    sqlite3 predictions.db "SELECT time_utc, version, outputs FROM predictions WHERE request_id = 'abc'"

Durability and latency
----------------------
A single writer thread owns the connection. Request handlers :meth:`PredictionLog.submit` their
entries and wait for the returned future; the writer takes everything queued, writes it in one
transaction and resolves the futures once it is committed (a group commit: under load one commit
carries the rows of many requests, so logging costs about one short transaction per few
milliseconds, not one per request). The database is in WAL mode with ``synchronous=NORMAL``, which
makes a committed transaction survive the death of the process (``kill -9``, a crash): a server that
answers only after the commit therefore never acknowledges a prediction the log does not hold.
``synchronous=NORMAL`` does not survive a power cut of the whole machine (the last commits may roll
back); ``sync="full"`` does, at the price of an fsync per group commit.

Failures are never silent: a failed write (disk full, database locked by another process, a deleted
folder) resolves the futures with ``"failed"``, adds the rows to :attr:`PredictionLog.write_failures`,
keeps the error in :meth:`PredictionLog.status` and logs it (the first at once, then at most every
``FAILURE_LOG_INTERVAL_S``). The next batch reopens the connection, so the log recovers by itself
when the cause goes away.

Retention: with ``retention_rows`` and/or ``retention_days`` the writer deletes the oldest rows
every ``prune_interval_s`` (in slices of ``PRUNE_SLICE_ROWS`` rows, serving the queue in between), so
the table can briefly hold a little more than the limit.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._text import json_safe, utc_iso
from .logdb import LOG_SCHEMA_VERSION, connect

__all__ = ["LOG_SCHEMA_VERSION", "LogEntry", "LogStatus", "PredictionLog", "check_prediction_log"]

logger = logging.getLogger(__name__)

LogStatus = Literal["written", "failed"]
SyncMode = Literal["normal", "full"]

PRUNE_SLICE_ROWS = 5_000
FAILURE_LOG_INTERVAL_S = 10.0
# A rejected request's body is kept up to this many characters, enough to see what was sent.
REQUEST_EXCERPT_CHARS = 2_000

_INSERT = (
    "INSERT INTO predictions (request_id, row, time_utc, time_epoch, endpoint, status, model, version, "
    "inputs, outputs, flags, latency_ms, error, request_excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One request for the log: its predictions (one row each) or, with ``error``, its rejection.

    The server fills it with what it already has and the writer thread turns it into rows, so the
    JSON encoding happens off the request path. ``inputs`` is a list of records or a mapping of
    column -> values; ``labels`` + ``probabilities`` (rows in ``classes`` order) or ``values`` hold the
    outputs; ``flags`` maps a row to what was accepted but unusual in it.
    """

    request_id: str
    epoch: float
    endpoint: str
    status: int
    model: str | None
    version: str | None
    latency_ms: float
    inputs: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | None = None
    classes: Sequence[Any] | None = None
    labels: Sequence[Any] | None = None
    probabilities: Sequence[Sequence[float]] | None = None
    values: Sequence[float] | None = None
    flags: Mapping[int, Sequence[str]] = field(default_factory=dict)
    error: str | None = None
    request_excerpt: str | None = None

    @property
    def row_count(self) -> int:
        if self.error is not None:
            return 1
        if self.labels is not None:
            return len(self.labels)
        return len(self.values) if self.values is not None else 0

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The table rows for this entry, in ``_INSERT`` order."""
        time_utc = utc_iso(self.epoch)
        head = (self.request_id,)
        if self.error is not None:
            excerpt = self.request_excerpt
            if excerpt is not None and len(excerpt) > REQUEST_EXCERPT_CHARS:
                excerpt = excerpt[:REQUEST_EXCERPT_CHARS] + "..."
            yield head + (
                None,
                time_utc,
                self.epoch,
                self.endpoint,
                self.status,
                self.model,
                self.version,
                None,
                None,
                None,
                self.latency_ms,
                self.error,
                excerpt,
            )
            return
        records = _records(self.inputs, self.row_count)
        keys = [str(label) for label in self.classes] if self.classes is not None else None
        for index in range(self.row_count):
            if self.labels is not None and self.probabilities is not None and keys is not None:
                outputs: dict[str, Any] = {
                    "label": self.labels[index],
                    "probabilities": dict(zip(keys, self.probabilities[index])),
                }
            else:
                assert self.values is not None
                outputs = {"value": self.values[index]}
            flags = self.flags.get(index)
            yield head + (
                index,
                time_utc,
                self.epoch,
                self.endpoint,
                self.status,
                self.model,
                self.version,
                _json(records[index] if records is not None else None),
                _json(outputs),
                _json(list(flags)) if flags else None,
                self.latency_ms,
                None,
                None,
            )


def _records(inputs: Any, count: int) -> list[Any] | None:
    if inputs is None:
        return None
    if isinstance(inputs, Mapping):
        columns = {name: list(values) for name, values in inputs.items()}
        return [{name: values[index] for name, values in columns.items()} for index in range(count)]
    return list(inputs)


def _json(value: Any) -> str:
    return json.dumps(json_safe(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=repr)


def _connect(path: Path, sync: SyncMode, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating or upgrading if needed) the log database for the writer thread, in WAL mode."""
    connection = connect(path, busy_timeout_s=busy_timeout_s, check_same_thread=False)
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"prediction log {str(path)!r} cannot use WAL mode (got {mode!r})")
        connection.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        # Keep the WAL file from staying at its high-water mark after a checkpoint.
        connection.execute("PRAGMA journal_size_limit=67108864")
    except BaseException:
        connection.close()
        raise
    return connection


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def check_prediction_log(path: str | os.PathLike[str]) -> None:
    """Open and close the log at ``path`` once, raising :class:`sqlite3.Error` or :class:`OSError`.

    The server calls it before it starts, so a mistyped ``--log`` path fails at start, not per request.
    """
    connection = _connect(Path(path), "normal", 1.0)
    connection.close()


class _Command:
    """A queued instruction for the writer (flush or prune), resolved when it has been carried out."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.future: concurrent.futures.Future[None] = concurrent.futures.Future()


_STOP = object()


class PredictionLog:
    """An append-only SQLite log of predictions, written by one background thread.

    Parameters
    ----------
    path : the database file; created with its table if missing.
    retention_rows : keep at most this many rows (the newest), or None for no limit.
    retention_days : delete rows older than this many days, or None for no limit.
    prune_interval_s : how often retention is applied.
    sync : ``"normal"`` (survives a process crash) or ``"full"`` (also survives a power cut).
    busy_timeout_s : how long a write waits for a lock held by another connection before it fails.
    max_queue_rows : entries beyond this many queued rows are refused (counted as failures) rather
        than held in memory while the database is stuck.

    Examples
    --------
    >>> log = PredictionLog("predictions.db", retention_days=30)  # doctest: +SKIP
    >>> log.submit(entry).result()  # doctest: +SKIP
    'written'
    >>> log.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention_rows: int | None = None,
        retention_days: float | None = None,
        prune_interval_s: float = 60.0,
        sync: SyncMode = "normal",
        busy_timeout_s: float = 1.0,
        max_queue_rows: int = 200_000,
    ) -> None:
        if retention_rows is not None and retention_rows < 1:
            raise ValueError(f"retention_rows == {retention_rows!r}, must be >= 1 or None")
        if retention_days is not None and not retention_days > 0:
            raise ValueError(f"retention_days == {retention_days!r}, must be > 0 or None")
        if sync not in ("normal", "full"):
            raise ValueError(f"sync == {sync!r}, must be 'normal' or 'full'")
        self.path = Path(path)
        self.retention_rows = retention_rows
        self.retention_days = retention_days
        self.prune_interval_s = prune_interval_s
        self.sync: SyncMode = sync
        self.busy_timeout_s = busy_timeout_s
        self.max_queue_rows = max_queue_rows
        self.rows_written = 0
        self.write_failures = 0
        self.rows_pruned = 0
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self.last_pruned_at: str | None = None
        self._queued_rows = 0
        self._queued_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._connection: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file the connection has open
        self.reopened = 0
        self._last_failure_logged = -math.inf
        self._failures_unlogged = 0
        self._next_prune = time.monotonic()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._thread.start()

    # -- the request side -------------------------------------------------------------------------
    def submit(self, entry: LogEntry) -> concurrent.futures.Future[LogStatus]:
        """Queue ``entry``; the future resolves to ``"written"`` once committed, or ``"failed"``."""
        future: concurrent.futures.Future[LogStatus] = concurrent.futures.Future()
        rows = entry.row_count
        with self._queued_lock:
            refuse = self._closed or self._queued_rows + rows > self.max_queue_rows
            if not refuse:
                self._queued_rows += rows
        if refuse:
            reason = "the log is closed" if self._closed else f"more than {self.max_queue_rows} rows are waiting"
            self._failed(rows, f"entry not queued: {reason}")
            future.set_result("failed")
            return future
        self._queue.put((entry, future))
        return future

    def flush(self) -> concurrent.futures.Future[None]:
        """A future resolved once everything submitted before it has been written (or has failed)."""
        return self._command("flush")

    def prune(self) -> concurrent.futures.Future[None]:
        """Apply retention now (all slices); resolved when done."""
        return self._command("prune")

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer and close the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.error("prediction log writer did not stop within %.0f s; queued rows may be lost", timeout_s)

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/status`` shows about the log."""
        return {
            "path": str(self.path),
            "rows_written": self.rows_written,
            "write_failures": self.write_failures,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "queued_rows": self._queued_rows,
            "retention_rows": self.retention_rows,
            "retention_days": self.retention_days,
            "rows_pruned": self.rows_pruned,
            "last_pruned_at": self.last_pruned_at,
            "synchronous": self.sync,
            "reopened": self.reopened,
        }

    def _command(self, kind: str) -> concurrent.futures.Future[None]:
        command = _Command(kind)
        if self._closed:
            command.future.set_result(None)
        else:
            self._queue.put(command)
        return command.future

    # -- the writer thread ------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            timeout = None
            if self._retention_enabled():
                timeout = max(0.0, self._next_prune - time.monotonic())
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._prune_slice()
                continue
            items = [first]
            # Everything that queued up while the last commit ran goes into this one.
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batch: list[tuple[LogEntry, concurrent.futures.Future[LogStatus]]] = []
            commands: list[_Command] = []
            for item in items:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Command):
                    commands.append(item)
                else:
                    batch.append(item)
            if batch:
                self._write(batch)
            for command in commands:
                if command.kind == "prune":
                    self._prune_all()
                command.future.set_result(None)
            if self._retention_enabled() and time.monotonic() >= self._next_prune:
                self._prune_slice()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _write(self, batch: list[tuple[LogEntry, concurrent.futures.Future[LogStatus]]]) -> None:
        rows: list[tuple[Any, ...]] = []
        encoded: list[concurrent.futures.Future[LogStatus]] = []
        unencoded: list[concurrent.futures.Future[LogStatus]] = []
        count = 0
        for entry, future in batch:
            count += entry.row_count
            # Once running, the future cannot be cancelled by a request that stopped waiting, so
            # set_result below cannot fail; a cancelled one is still written, just not reported.
            waiting = future.set_running_or_notify_cancel()
            try:
                rows.extend(list(entry.rows()))
            except Exception as error:  # noqa: BLE001 -- a bad entry must not take the batch down
                logger.exception("prediction log could not encode the entry of request %s", entry.request_id)
                self._failed(entry.row_count, f"cannot encode request {entry.request_id}: {error}")
                if waiting:
                    unencoded.append(future)
                continue
            if waiting:
                encoded.append(future)
        status: LogStatus = "written"
        try:
            connection = self._open()
            connection.execute("BEGIN")
            try:
                connection.executemany(_INSERT, rows)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            self.rows_written += len(rows)
        except (sqlite3.Error, OSError) as error:
            status = "failed"
            self._failed(len(rows), f"{type(error).__name__}: {error}")
            self._reset()
        with self._queued_lock:
            self._queued_rows -= count
        for future in encoded:
            future.set_result(status)
        for future in unencoded:
            future.set_result("failed")

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None and self._identity != _identity(self.path):
            # Deleted or renamed under us: rows would go to an unlinked inode or an orphaned WAL and
            # be reported as written. This batch fails; the next one opens whatever is at the path.
            self._reset()
            self.reopened += 1
            raise OSError(
                f"prediction log {str(self.path)!r} was deleted or replaced while in use; "
                "these rows were not written, later ones go to a new file at that path"
            )
        if self._connection is None:
            self._connection = _connect(self.path, self.sync, self.busy_timeout_s)
            self._identity = _identity(self.path)
        return self._connection

    def _reset(self) -> None:
        """Drop the connection after a failure; the next batch opens a fresh one."""
        if self._connection is not None:
            try:
                self._connection.close()
            except sqlite3.Error:
                pass
            self._connection = None

    def _failed(self, rows: int, message: str) -> None:
        # Called by the writer and, for a full queue, by request handlers: hence the lock.
        with self._queued_lock:
            self.write_failures += rows
            self.last_error = message
            self.last_error_at = utc_iso()
            self._failures_unlogged += rows
            now = time.monotonic()
            if now - self._last_failure_logged < FAILURE_LOG_INTERVAL_S:
                return
            unlogged, self._failures_unlogged = self._failures_unlogged, 0
            self._last_failure_logged = now
        logger.error(
            "prediction log %s: %d row(s) not written (%d in total): %s",
            self.path,
            unlogged,
            self.write_failures,
            message,
        )

    # -- retention --------------------------------------------------------------------------------
    def _retention_enabled(self) -> bool:
        return self.retention_rows is not None or self.retention_days is not None

    def _prune_all(self) -> None:
        while self._prune_slice():
            pass

    def _prune_slice(self) -> bool:
        """Delete up to PRUNE_SLICE_ROWS expired rows; True if more may remain."""
        if not self._retention_enabled():
            return False
        self._next_prune = time.monotonic() + self.prune_interval_s
        deleted = 0
        try:
            connection = self._open()
            low, high = connection.execute("SELECT min(id), max(id) FROM predictions").fetchone()
            if low is None:
                return False
            cutoff = low - 1
            if self.retention_rows is not None:
                cutoff = max(cutoff, high - self.retention_rows)
            if self.retention_days is not None:
                oldest_kept = time.time() - self.retention_days * 86_400
                expired = connection.execute(
                    "SELECT max(id) FROM predictions WHERE time_epoch < ?", (oldest_kept,)
                ).fetchone()[0]
                if expired is not None:
                    cutoff = max(cutoff, expired)
            if cutoff < low:
                return False
            upper = min(cutoff, low + PRUNE_SLICE_ROWS - 1)
            deleted = connection.execute("DELETE FROM predictions WHERE id <= ?", (upper,)).rowcount
            self.rows_pruned += max(deleted, 0)
            self.last_pruned_at = utc_iso()
            if upper < cutoff:
                # More to delete: come back right after serving what is queued.
                self._next_prune = time.monotonic()
                return True
            return False
        except (sqlite3.Error, OSError) as error:
            logger.error("prediction log %s: pruning failed: %s", self.path, error)
            self.last_error = f"pruning failed: {type(error).__name__}: {error}"
            self.last_error_at = utc_iso()
            self._reset()
            return False
