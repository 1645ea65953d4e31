"""Acceptance 3: SIGKILL the server while it logs under load; every acknowledged prediction is in the log.

"Acknowledged" means the client received the whole HTTP 200 response. The server answers only
after the commit of the request's rows (WAL, synchronous=NORMAL), so after ``kill -9`` the database
must pass ``PRAGMA integrity_check`` and hold every row of every acknowledged request.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from contextlib import closing

import pytest

from tests.runtime.serve.records import EXAMPLE

CLIENT_THREADS = 4
KILL_AFTER_S = 1.5
MAX_REQUESTS_PER_THREAD = 20_000

RECORD = EXAMPLE


def v2_body(request_id: str, rows: int) -> bytes:
    inputs = [
        {
            "name": name,
            "shape": [rows],
            "datatype": "BYTES" if isinstance(value, str) else "FP64",
            "data": [value] * rows,
        }
        for name, value in RECORD.items()
    ]
    return json.dumps({"id": request_id, "inputs": inputs}).encode()


def client(port: int, index: int, acknowledged: dict[str, int], problems: list[str], lock: threading.Lock) -> None:
    """Send requests until the server dies; record the ids (and row counts) answered with 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for count in range(MAX_REQUESTS_PER_THREAD):
            request_id = f"kill-{index}-{count}"
            rows = 1 + count % 3
            if count % 2:
                path, body, headers = "/v2/models/quality/infer", v2_body(request_id, rows), {}
            else:
                rows = 1
                path, body, headers = "/v1/predict", json.dumps(RECORD).encode(), {"X-Request-Id": request_id}
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone: this request was never acknowledged
            with lock:
                if response.status != 200:
                    problems.append(f"{request_id}: {response.status}")
                elif response.getheader("X-Log-Status") != "written":
                    problems.append(f"{request_id}: X-Log-Status {response.getheader('X-Log-Status')}")
                else:
                    acknowledged[request_id] = rows
    finally:
        connection.close()


@pytest.mark.slow  # seconds of sustained load: CI runs it, -m "not slow" skips it
def test_kill_9_under_load_loses_no_acknowledged_prediction(bundles, start_server):
    acknowledged: dict[str, int] = {}
    problems: list[str] = []
    lock = threading.Lock()
    with start_server(bundles.model_folder()) as server:
        threads = [
            threading.Thread(target=client, args=(server.port, index, acknowledged, problems, lock))
            for index in range(CLIENT_THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(KILL_AFTER_S)
        with lock:
            acknowledged_before_kill = len(acknowledged)
        server.process.kill()  # SIGKILL: no shutdown, no final commit, no checkpoint
        server.process.wait(10)
        for thread in threads:
            thread.join(30)
        assert server.log_path is not None
        log_path = server.log_path

    assert problems == []
    assert acknowledged_before_kill > 50, "the load never got going"
    assert (log_path.parent / (log_path.name + "-wal")).exists()  # killed with its WAL in place
    with closing(sqlite3.connect(log_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        counts = dict(
            db.execute("SELECT request_id, count(*) FROM predictions WHERE status = 200 GROUP BY request_id").fetchall()
        )
    missing = {request_id: rows for request_id, rows in acknowledged.items() if counts.get(request_id) != rows}
    print(
        f"\nkill -9: {len(acknowledged)} requests acknowledged ({sum(acknowledged.values())} rows), "
        f"{len(counts)} requests in the log, {len(missing)} acknowledged but missing"
    )
    assert missing == {}
