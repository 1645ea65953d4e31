"""A prediction log deleted or renamed while in use is noticed, never reported as written (issue 10, finding 9)."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

import pytest

from runtime._monitor.predictlog import LogEntry, PredictionLog


def _entry(request_id: str) -> LogEntry:
    return LogEntry(
        request_id=request_id,
        epoch=time.time(),
        endpoint="/v1/predict",
        status=200,
        model="quality",
        version="1.0.0",
        latency_ms=0.2,
        inputs=[{"temperature": 201.5}],
        classes=(0, 1),
        labels=[0],
        probabilities=[[0.9, 0.1]],
    )


def _requests(path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [request_id for (request_id,) in db.execute("SELECT request_id FROM predictions ORDER BY id")]


@pytest.mark.parametrize("how", ["renamed", "deleted"])
def test_a_log_moved_away_fails_the_batch_then_writes_a_new_file(tmp_path, how):
    path = tmp_path / "predictions.db"
    log = PredictionLog(path)
    try:
        assert log.submit(_entry("before")).result(timeout=10) == "written"
        if how == "renamed":
            path.rename(tmp_path / "archived.db")
        else:
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / f"predictions.db{suffix}").unlink(missing_ok=True)
        assert log.submit(_entry("lost")).result(timeout=10) == "failed"
        status = log.status()
        assert status["reopened"] == 1 and status["write_failures"] == 1
        assert status["last_error"] == (
            f"OSError: prediction log {str(path)!r} was deleted or replaced while in use; "
            "these rows were not written, later ones go to a new file at that path"
        )
        assert log.submit(_entry("after")).result(timeout=10) == "written"
    finally:
        log.close()
    # the new file holds only what came after; "before" stayed in the old file's WAL, which SQLite
    # does not apply to another database (move a log together with its -wal file, or when stopped)
    assert _requests(path) == ["after"]
