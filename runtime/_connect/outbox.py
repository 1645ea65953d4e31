"""The outbox: a durable store-and-forward queue of everything the connector sends, in SQLite.

Every outgoing message (a prediction or an error for MQTT, the output values for OPC UA) is
committed here first, and deleted only once its destination confirmed it (MQTT PUBACK, an OPC UA
write answered Good). An inbound MQTT message is acknowledged only after the commit that holds its
prediction (:class:`runtime._connect.batcher.Batcher`), so a kill -9 at any moment loses nothing:
the broker redelivers what was not acknowledged and the outbox resends what was not confirmed.
Delivery is therefore **at least once**: a message whose confirmation was lost with the process
is sent again on restart; those resends are counted (:attr:`Outbox.resent`, the metric
``factory_edge_connect_outbox_resent_total``).

The database is in WAL mode with ``synchronous=NORMAL``: a committed row survives the death of the
process, not necessarily a power cut of the machine (the same trade-off as the prediction log).

Bounds and the overflow policy
------------------------------
The outbox holds at most ``max_messages`` rows, none older than ``max_age_s``:

- **age**: rows older than ``max_age_s`` are deleted before each read (a prediction about a part
  that left the line a week ago is no use to anyone) and counted as ``expired``;
- **size**: when an insert would pass ``max_messages``, the oldest rows are deleted to make room
  (drop-oldest: the newest predictions are the ones a line acts on) and counted as ``dropped``.

Both are logged (the first at once, then at most every minute) and shown in ``/metrics``. With the
defaults (100,000 messages, 7 days) an outage of a day at 1 message/s loses nothing.

Rows carry a channel (``mqtt`` or ``opcua``); each channel is read in insertion order.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Outbox", "OutboxMessage"]

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_epoch REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_channel ON outbox (channel, id);
"""
_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One queued message: ``topic`` is the MQTT topic (or ``opcua`` for output values)."""

    id: int
    channel: str
    topic: str
    payload: bytes
    created_epoch: float
    attempts: int


class Outbox:
    """The SQLite queue; safe to use from several threads (one connection behind a lock).

    Examples
    --------
    >>> outbox = Outbox("outbox.db")  # doctest: +SKIP
    >>> outbox.put([("mqtt", "plant/line3/m1/quality", b'{"label": 0}')])  # doctest: +SKIP
    >>> [m.topic for m in outbox.peek("mqtt", 10)]  # doctest: +SKIP
    ['plant/line3/m1/quality']
    """

    def __init__(self, path: str | Path, *, max_messages: int = 100_000, max_age_s: float = 7 * 24 * 3600.0) -> None:
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.put_total = 0
        self.delivered = 0
        self.dropped = 0
        self.expired = 0
        self.resent = 0
        self._lock = threading.Lock()
        self._next_expiry = 0.0
        self._listeners: list[threading.Event] = []
        self._last_warned = -float("inf")
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(_SCHEMA)
        # Rows left by an earlier run are sent first, in order (those sent before count as resent).
        self._count = self.depth()

    # -- writing ----------------------------------------------------------------------------------
    def put(self, messages: Sequence[tuple[str, str, bytes]]) -> None:
        """Commit ``(channel, topic, payload)`` rows in one transaction; returns once they are durable."""
        if not messages:
            return
        now = time.time()
        with self._lock:
            overflow = self._count + len(messages) - self.max_messages
            with self._connection:
                self._connection.execute("BEGIN IMMEDIATE")
                if overflow > 0:
                    self._connection.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (overflow,)
                    )
                self._connection.executemany(
                    "INSERT INTO outbox (channel, topic, payload, created_epoch) VALUES (?, ?, ?, ?)",
                    [(channel, topic, payload, now) for channel, topic, payload in messages],
                )
            if overflow > 0:
                self._count -= overflow
                self.dropped += overflow
                self._warn(f"outbox full ({self.max_messages} messages): dropped the {overflow} oldest")
            self._count += len(messages)
            self.put_total += len(messages)
        for listener in self._listeners:
            listener.set()

    def notify(self, event: threading.Event) -> None:
        """Set ``event`` after every :meth:`put` (a sender waits on its own event for new rows and acks)."""
        self._listeners.append(event)

    def confirm(self, ids: Iterable[int]) -> None:
        """Delete delivered rows."""
        rows = [(row_id,) for row_id in ids]
        if not rows:
            return
        with self._lock:
            deleted = self._write("DELETE FROM outbox WHERE id = ?", rows)
            self._count -= deleted
            self.delivered += deleted

    def mark_sent(self, messages: Iterable[OutboxMessage]) -> None:
        """Count one more attempt for each; a row sent again after an attempt may be a duplicate."""
        rows = list(messages)
        with self._lock:
            self._write("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [(m.id,) for m in rows])
            self.resent += sum(1 for message in rows if message.attempts > 0)

    # -- reading ----------------------------------------------------------------------------------
    def peek(self, channel: str, limit: int, *, after_id: int = 0) -> list[OutboxMessage]:
        """The oldest ``limit`` rows of ``channel`` with an id above ``after_id`` (expired ones deleted first)."""
        with self._lock:
            self._expire()
            cursor = self._connection.execute(
                "SELECT id, channel, topic, payload, created_epoch, attempts FROM outbox "
                "WHERE channel = ? AND id > ? ORDER BY id LIMIT ?",
                (channel, after_id, limit),
            )
            return [OutboxMessage(*row) for row in cursor.fetchall()]

    def depth(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def oldest_age_s(self) -> float:
        """Age of the oldest queued row in seconds (0 when empty)."""
        with self._lock:
            oldest = self._connection.execute("SELECT MIN(created_epoch) FROM outbox").fetchone()[0]
        return max(0.0, time.time() - oldest) if oldest is not None else 0.0

    @property
    def queued(self) -> int:
        """The row count kept in memory (cheap; :meth:`depth` asks the database)."""
        return self._count

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # -- internals --------------------------------------------------------------------------------
    def _write(self, statement: str, rows: list[tuple[int]]) -> int:
        """``statement`` for every row in one transaction (autocommit would sync once per row)."""
        with self._connection:
            self._connection.execute("BEGIN IMMEDIATE")
            return int(self._connection.executemany(statement, rows).rowcount)

    def _expire(self) -> None:
        """Delete rows past ``max_age_s``; at most once a second (the scan is over the whole table)."""
        now = time.time()
        if now < self._next_expiry:
            return
        self._next_expiry = now + 1.0
        cutoff = now - self.max_age_s
        with self._connection:
            expired = self._connection.execute("DELETE FROM outbox WHERE created_epoch < ?", (cutoff,)).rowcount
        if expired:
            self._count -= expired
            self.expired += expired
            self._warn(f"outbox: {expired} messages older than {self.max_age_s:g} s expired undelivered")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warned >= _LOG_INTERVAL_S:
            self._last_warned = now
            logger.warning(message)
