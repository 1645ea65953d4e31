"""The SQLite prediction log (runtime._predictlog): rows, retention, and failures that are counted."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from runtime._monitor.predictlog import LOG_SCHEMA_VERSION, LogEntry, PredictionLog, check_prediction_log

RECORD = {"temperature": 201.5, "pressure": None, "machine_type": "B"}


def prediction(request_id: str, rows: int = 1, *, epoch: float | None = None) -> LogEntry:
    return LogEntry(
        request_id=request_id,
        epoch=time.time() if epoch is None else epoch,
        endpoint="/v1/predict",
        status=200,
        model="quality",
        version="1.0.0",
        latency_ms=0.25,
        inputs=[RECORD] * rows,
        classes=(0, 1),
        labels=[0] * rows,
        probabilities=[[0.9, 0.1]] * rows,
        flags={0: ("unknown category: shift == 'weekend'",)},
    )


def rejection(request_id: str) -> LogEntry:
    return LogEntry(
        request_id=request_id,
        epoch=time.time(),
        endpoint="/v2/models/{name}/infer",
        status=400,
        model="quality",
        version="1.0.0",
        latency_ms=0.1,
        error="temperature == 412.0 in row 0, must be within [100.0, 300.0]",
        request_excerpt='{"inputs": [...]}',
    )


def rows_of(path: Path) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT * FROM predictions ORDER BY id").fetchall()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "predictions.db"


def test_one_row_per_record_and_one_per_rejected_request(log_path):
    log = PredictionLog(log_path)
    try:
        assert log.submit(prediction("ok", rows=2)).result(5) == "written"
        assert log.submit(rejection("bad")).result(5) == "written"
    finally:
        log.close()
    first, second, rejected = rows_of(log_path)
    assert (first["request_id"], first["row"], second["row"]) == ("ok", 0, 1)
    assert json.loads(first["inputs"]) == RECORD
    assert json.loads(first["outputs"]) == {"label": 0, "probabilities": {"0": 0.9, "1": 0.1}}
    assert json.loads(first["flags"]) == ["unknown category: shift == 'weekend'"]
    assert second["flags"] is None
    assert (first["model"], first["version"], first["status"], first["latency_ms"]) == ("quality", "1.0.0", 200, 0.25)
    assert first["time_utc"].endswith("Z") and abs(first["time_epoch"] - time.time()) < 60
    assert (rejected["request_id"], rejected["row"], rejected["status"]) == ("bad", None, 400)
    assert rejected["error"].startswith("temperature == 412.0")
    assert rejected["inputs"] is None and rejected["request_excerpt"] == '{"inputs": [...]}'
    assert log.rows_written == 3 and log.write_failures == 0
    with closing(sqlite3.connect(log_path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == LOG_SCHEMA_VERSION


def test_columns_of_numpy_values_are_written_as_json_with_missing_as_null(log_path):
    np = pytest.importorskip("numpy")
    entry = LogEntry(
        request_id="columns",
        epoch=time.time(),
        endpoint="/v2/models/{name}/infer",
        status=200,
        model="quality",
        version="1.0.0",
        latency_ms=1.0,
        inputs={"temperature": np.array([201.5, math.nan]), "shift": np.array(["day", ""], dtype=object)},
        classes=(0, 1),
        labels=[0, 1],
        probabilities=[[0.75, 0.25], [0.5, 0.5]],
    )
    log = PredictionLog(log_path)
    try:
        assert log.submit(entry).result(5) == "written"
    finally:
        log.close()
    assert [json.loads(row["inputs"]) for row in rows_of(log_path)] == [
        {"temperature": 201.5, "shift": "day"},
        {"temperature": None, "shift": ""},
    ]


def test_retention_by_rows_keeps_the_newest(log_path):
    log = PredictionLog(log_path, retention_rows=20, prune_interval_s=3600)
    try:
        for index in range(50):
            log.submit(prediction(f"r{index}"))
        log.flush().result(5)
        log.prune().result(5)
        status = log.status()
    finally:
        log.close()
    assert [row["request_id"] for row in rows_of(log_path)] == [f"r{index}" for index in range(30, 50)]
    assert status["rows_pruned"] == 30 and status["last_pruned_at"] is not None


def test_retention_by_days_deletes_old_rows(log_path):
    log = PredictionLog(log_path, retention_days=1, prune_interval_s=3600)
    try:
        now = time.time()
        for index in range(5):
            log.submit(prediction(f"old{index}", epoch=now - 3 * 86_400))
        log.submit(prediction("new", epoch=now))
        log.flush().result(5)
        log.prune().result(5)
    finally:
        log.close()
    assert [row["request_id"] for row in rows_of(log_path)] == ["new"]


def test_retention_runs_by_itself_on_its_interval(log_path):
    log = PredictionLog(log_path, retention_rows=3, prune_interval_s=0.05)
    try:
        for index in range(10):
            log.submit(prediction(f"r{index}")).result(5)
        deadline = time.monotonic() + 5
        while log.rows_pruned < 7 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        log.close()
    assert [row["request_id"] for row in rows_of(log_path)] == ["r7", "r8", "r9"]


def test_unwritable_path_fails_every_write_and_counts_it(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")
    path = blocker / "predictions.db"
    with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
        check_prediction_log(path)  # what serve runs before it starts
    log = PredictionLog(path)
    try:
        with caplog.at_level(logging.ERROR, logger="runtime._monitor.predictlog"):
            assert log.submit(prediction("a", rows=2)).result(5) == "failed"
            assert log.submit(rejection("b")).result(5) == "failed"
        status = log.status()
    finally:
        log.close()
    assert (log.rows_written, log.write_failures) == (0, 3)
    assert status["write_failures"] == 3
    assert status["last_error"] == "OperationalError: unable to open database file"
    assert status["last_error_at"] is not None
    assert "row(s) not written" in caplog.text and "unable to open database file" in caplog.text


def test_locked_database_fails_the_write_then_recovers(log_path):
    log = PredictionLog(log_path, busy_timeout_s=0.1)
    try:
        assert log.submit(prediction("before")).result(5) == "written"
        with closing(sqlite3.connect(log_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
            assert log.submit(prediction("while-locked")).result(5) == "failed"
            other.execute("ROLLBACK")
        assert log.submit(prediction("after")).result(5) == "written"
    finally:
        log.close()
    assert log.write_failures == 1 and "locked" in (log.last_error or "")
    assert [row["request_id"] for row in rows_of(log_path)] == ["before", "after"]


def test_a_full_queue_refuses_entries_and_counts_them(log_path):
    log = PredictionLog(log_path, max_queue_rows=0)
    try:
        assert log.submit(prediction("x")).result(5) == "failed"
    finally:
        log.close()
    assert log.write_failures == 1
    assert log.last_error == "entry not queued: more than 0 rows are waiting"


def test_close_writes_what_is_queued_and_later_entries_fail(log_path):
    log = PredictionLog(log_path)
    futures = [log.submit(prediction(f"q{index}")) for index in range(100)]
    log.close()
    assert {future.result(5) for future in futures} == {"written"}
    assert len(rows_of(log_path)) == 100
    assert log.submit(prediction("late")).result(5) == "failed"


def test_a_log_of_another_schema_version_is_refused(log_path):
    with closing(sqlite3.connect(log_path)) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(
        sqlite3.DatabaseError,
        match="has schema version 7, newer than this runtime reads \\(2\\): upgrade the runtime or",
    ):
        check_prediction_log(log_path)


def test_options_are_checked():
    with pytest.raises(ValueError, match="retention_rows == 0, must be >= 1 or None"):
        PredictionLog("unused.db", retention_rows=0)
    with pytest.raises(ValueError, match="retention_days == -1, must be > 0 or None"):
        PredictionLog("unused.db", retention_days=-1)
