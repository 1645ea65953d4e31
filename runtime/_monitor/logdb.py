"""The prediction log's database: one schema (predictions and fed-back labels), one version, its upgrades.

``PRAGMA user_version`` holds ``LOG_SCHEMA_VERSION``. The writer (:mod:`.predictlog`) and the readers
(:mod:`.windows`, :mod:`.feedback`) open the database only through :func:`connect`, which creates the
tables in a new file, upgrades an older version in place, and refuses a newer one.

Versions
--------
1. ``predictions``: one row per predicted record, one per rejected request.
2. adds ``feedback``: true labels keyed by (request id, row), joined with the predictions for accuracy
   (version 1 databases got this table lazily from ``runtime feedback``; the upgrade creates it).

Bumping it: add the DDL, append an upgrade step to ``_UPGRADES`` (it runs inside the transaction
that sets the new version), and add a database of the old version to the tests.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

__all__ = ["LOG_SCHEMA_VERSION", "connect"]

LOG_SCHEMA_VERSION = 2

_PREDICTIONS = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    row INTEGER,
    time_utc TEXT NOT NULL,
    time_epoch REAL NOT NULL,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    model TEXT,
    version TEXT,
    inputs TEXT,
    outputs TEXT,
    flags TEXT,
    latency_ms REAL,
    error TEXT,
    request_excerpt TEXT
);
CREATE INDEX IF NOT EXISTS predictions_request_id ON predictions (request_id);
CREATE INDEX IF NOT EXISTS predictions_time_epoch ON predictions (time_epoch);
"""
_FEEDBACK = """
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT NOT NULL,
    row INTEGER NOT NULL DEFAULT 0,
    label TEXT NOT NULL,
    received_utc TEXT NOT NULL,
    PRIMARY KEY (request_id, row)
);
"""
# _UPGRADES[v] turns a version-v database into version v + 1.
_UPGRADES = {1: _FEEDBACK}


def connect(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    busy_timeout_s: float = 10.0,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """An autocommit connection to the log at ``path`` with the current schema in place.

    ``create=False`` refuses a path that does not exist (readers: a mistyped ``--log`` is an error,
    not an empty log). Raises ``FileNotFoundError``, or ``sqlite3.DatabaseError`` for a file that is
    not a prediction log of a version this runtime knows.
    """
    path = Path(path)
    if not create and not path.is_file():
        raise FileNotFoundError(2, "no such prediction log", str(path))
    connection = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        _migrate(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def _statements(ddl: str) -> list[str]:
    return [statement.strip() for statement in ddl.split(";") if statement.strip()]


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == LOG_SCHEMA_VERSION:
        return
    if version > LOG_SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"prediction log {str(path)!r} has schema version {version}, newer than this runtime reads "
            f"({LOG_SCHEMA_VERSION}): upgrade the runtime or pass another --log path"
        )
    # A new file gets every table; an older one the steps it lacks. One transaction: all or nothing.
    steps = [_PREDICTIONS, _FEEDBACK] if version == 0 else [_UPGRADES[v] for v in range(version, LOG_SCHEMA_VERSION)]
    connection.execute("BEGIN IMMEDIATE")
    try:
        for ddl in steps:
            for statement in _statements(ddl):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version={LOG_SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
