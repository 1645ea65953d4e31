"""The log database has one schema version for predictions and feedback, and upgrades older files."""

from __future__ import annotations

import sqlite3

import pytest

from runtime._monitor.logdb import LOG_SCHEMA_VERSION, connect

V1_PREDICTIONS = """
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, row INTEGER, time_utc TEXT NOT NULL,
    time_epoch REAL NOT NULL, endpoint TEXT NOT NULL, status INTEGER NOT NULL, model TEXT, version TEXT,
    inputs TEXT, outputs TEXT, flags TEXT, latency_ms REAL, error TEXT, request_excerpt TEXT
)
"""


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_log_gets_every_table_and_the_current_version(tmp_path):
    connection = connect(tmp_path / "log.db")
    try:
        assert _tables(connection) == {"predictions", "feedback"}
        assert connection.execute("PRAGMA user_version").fetchone()[0] == LOG_SCHEMA_VERSION == 2
    finally:
        connection.close()


def test_a_version_1_log_is_upgraded_in_place_keeping_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(V1_PREDICTIONS)
    old.execute(
        "INSERT INTO predictions (request_id, row, time_utc, time_epoch, endpoint, status) "
        "VALUES ('r1', 0, '2026-01-01T00:00:00Z', 0, '/v1/predict', 200)"
    )
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    connection = connect(path)
    try:
        assert _tables(connection) == {"predictions", "feedback"}
        assert connection.execute("PRAGMA user_version").fetchone()[0] == LOG_SCHEMA_VERSION
        assert connection.execute("SELECT request_id FROM predictions").fetchall() == [("r1",)]
    finally:
        connection.close()


def test_a_newer_log_is_refused_and_readers_do_not_create_files(tmp_path):
    path = tmp_path / "future.db"
    future = sqlite3.connect(path)
    future.execute(f"PRAGMA user_version={LOG_SCHEMA_VERSION + 1}")
    future.close()
    with pytest.raises(sqlite3.DatabaseError, match=f"has schema version {LOG_SCHEMA_VERSION + 1}, newer than"):
        connect(path)
    with pytest.raises(FileNotFoundError):
        connect(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()
