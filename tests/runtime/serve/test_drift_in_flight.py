"""The data plane's drift computations (issue 10, finding 8): one at a time, shared by the requests
for its window, and never awaited by /metrics, which shows the last finished report and refreshes
it in the background. drift_from_log is replaced by one that blocks until the test releases it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import runtime
from runtime._holder import ModelHolder
from runtime._monitor.predictlog import PredictionLog
from runtime._monitor.windows import MAX_WINDOW_ROWS
from runtime._serve.config import ServeConfig
from runtime._serve.dataplane import DataPlane

WINDOW = 50


class BlockingDrift:
    """A drift_from_log that waits for :meth:`release` and records the windows it was asked for."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.running = 0
        self.most_running = 0
        self._gate = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, path: Any, manifest: runtime.Manifest, *, last: int) -> dict[str, Any]:
        with self._lock:
            self.calls.append(last)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            assert self._gate.wait(timeout=10), "the test never released the drift computation"
            return {"model": manifest.name, "rows": last, "status": "ok", "columns": {}, "call": len(self.calls)}
        finally:
            with self._lock:
                self.running -= 1

    def release(self) -> None:
        self._gate.set()


@pytest.fixture
def blocking(monkeypatch) -> BlockingDrift:
    drift = BlockingDrift()
    monkeypatch.setattr("runtime._serve.dataplane.drift_from_log", drift)
    return drift


@pytest.fixture
def plane(bundles, tmp_path):
    folder = bundles.model_folder()
    log = PredictionLog(tmp_path / "log.db")
    holder = ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=0)
    plane = DataPlane(holder, log=log, config=ServeConfig(drift_window_rows=WINDOW, worker_threads=4))
    yield plane
    log.close()


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_metrics_answer_at_once_while_drift_runs(plane, blocking):
    async def scenario() -> tuple[float, bytes, dict[str, Any], bytes]:
        request = asyncio.ensure_future(plane.drift())
        await until(lambda: blocking.running == 1)
        started = time.monotonic()
        during = await plane.metrics_text()
        waited = time.monotonic() - started
        blocking.release()
        report = await request
        return waited, during, report, await plane.metrics_text()

    waited, during, report, after = asyncio.run(scenario())
    assert waited < 0.5
    assert b"factory_edge_drift_status" not in during  # nothing finished yet: no gauges, no waiting
    assert report["rows"] == WINDOW
    assert f"factory_edge_drift_window_rows {float(WINDOW)}" in after.decode()
    assert "factory_edge_drift_report_timestamp_seconds" in after.decode()
    assert blocking.calls == [WINDOW]  # /metrics found the report fresh and started no refresh


def test_requests_for_the_window_in_flight_share_its_computation(plane, blocking):
    async def scenario() -> list[dict[str, Any]]:
        requests = [asyncio.ensure_future(plane.drift(last)) for last in (None, str(WINDOW), None)]
        await until(lambda: blocking.running == 1)
        await asyncio.sleep(0.05)
        blocking.release()
        return await asyncio.gather(*requests)

    reports = asyncio.run(scenario())
    assert blocking.calls == [WINDOW]
    assert reports[0] == reports[1] == reports[2]


def test_a_request_for_another_window_waits_for_the_one_in_flight(plane, blocking):
    async def scenario() -> list[dict[str, Any]]:
        first = asyncio.ensure_future(plane.drift())
        await until(lambda: blocking.running == 1)
        second = asyncio.ensure_future(plane.drift("7"))
        third = asyncio.ensure_future(plane.drift("7"))
        await asyncio.sleep(0.05)
        assert blocking.calls == [WINDOW]  # not started beside the first
        blocking.release()
        return await asyncio.gather(first, second, third)

    reports = asyncio.run(scenario())
    assert blocking.calls == [WINDOW, 7] and blocking.most_running == 1
    assert [report["rows"] for report in reports] == [WINDOW, 7, 7]
    assert plane.last_drift()["rows"] == WINDOW  # the gauges keep showing the configured window


def test_a_stale_report_is_refreshed_in_the_background(plane, blocking):
    async def scenario() -> tuple[bytes, bytes]:
        first = await plane.metrics_text()  # starts the first refresh, does not wait for it
        await until(lambda: blocking.running == 1)
        second = await plane.metrics_text()  # a refresh is in flight: no second one
        blocking.release()
        await until(lambda: plane.last_drift() is not None)
        return first, second

    first, second = asyncio.run(scenario())
    assert b"factory_edge_drift_status" not in first + second
    assert blocking.calls == [WINDOW]
    assert plane.last_drift()["rows"] == WINDOW


def test_a_client_that_goes_away_does_not_cancel_the_computation(plane, blocking):
    async def scenario() -> dict[str, Any]:
        gone = asyncio.ensure_future(plane.drift())
        await until(lambda: blocking.running == 1)
        staying = asyncio.ensure_future(plane.drift())
        gone.cancel()
        await asyncio.sleep(0.01)
        blocking.release()
        return await staying

    assert asyncio.run(scenario())["rows"] == WINDOW
    assert blocking.calls == [WINDOW]


def test_more_rows_than_a_window_holds_are_the_newest_max_rows(plane, blocking):
    blocking.release()
    assert asyncio.run(plane.drift(str(10**30)))["rows"] == MAX_WINDOW_ROWS
