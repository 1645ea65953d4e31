"""Acceptance 2: sustained load from another process on loopback, with a hot swap in the middle.

Client threads in this (pytest) process keep one HTTP/1.1 connection each and send single-record
``/v1/predict`` requests and small ``/v2`` infer batches for ``DURATION_S``; a third of the way in,
CURRENT is rewritten to a new version. The test asserts what must hold on any machine (no failed
request, the swap happened, every request sent after the first new-version answer is served by
the new version) and prints the figures (``pytest -s``): requests per second, p50/p99 latency,
the server's RSS before and after.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

import pytest

from tests.runtime.serve.records import EXAMPLE

DURATION_S = 8.0
SWAP_AT_S = 3.0
CLIENT_THREADS = 4
MAX_REQUESTS = 200_000  # a bound on the count as well as the time

RECORD = EXAMPLE
V1_BODY = json.dumps(RECORD).encode()
V2_BODY = json.dumps(
    {
        "inputs": [
            {
                "name": name,
                "shape": [4, 1],
                "datatype": "BYTES" if isinstance(value, str) else "FP64",
                "data": [value] * 4,
            }
            for name, value in RECORD.items()
        ]
    }
).encode()


@dataclass
class Sample:
    sent: float
    received: float
    status: int
    version: str | None


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(port: int, stop_at: float, index: int, results: Results) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    local: list[Sample] = []
    count = 0
    try:
        while time.perf_counter() < stop_at and count < MAX_REQUESTS // CLIENT_THREADS:
            use_v2 = count % 5 == 4
            path, body = ("/v2/models/quality/infer", V2_BODY) if use_v2 else ("/v1/predict", V1_BODY)
            sent = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers={"X-Request-Id": f"load-{index}-{count}"})
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                with results.lock:
                    results.errors.append(f"{type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            received = time.perf_counter()
            version = None
            if response.status == 200:
                payload = json.loads(data)
                version = payload["model_version"] if use_v2 else payload["version"]
                if response.getheader("X-Log-Status") != "written":
                    with results.lock:
                        results.errors.append(f"log status {response.getheader('X-Log-Status')}")
            else:
                with results.lock:
                    results.errors.append(f"{response.status}: {data[:200]!r}")
            local.append(Sample(sent, received, response.status, version))
            count += 1
    finally:
        connection.close()
        with results.lock:
            results.samples.extend(local)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@pytest.mark.slow  # seconds of sustained load: CI runs it, -m "not slow" skips it
def test_sustained_load_with_a_hot_swap_fails_no_request(bundles, start_server):
    folder = bundles.model_folder()
    bundles.add_version(folder, "1.0.1")
    with start_server(folder, "--poll-s", "0.2") as server:
        for _ in range(50):  # warm up: first calls allocate onnxruntime's buffers
            assert server.post_json("/v1/predict", RECORD).status == 200
        rss_before = server.rss_mb()
        results = Results()
        started = time.perf_counter()
        stop_at = started + DURATION_S
        threads = [
            threading.Thread(target=client_loop, args=(server.port, stop_at, index, results))
            for index in range(CLIENT_THREADS)
        ]
        for thread in threads:
            thread.start()
        time.sleep(SWAP_AT_S)
        swapped_at = time.perf_counter()
        bundles.set_current(folder, "1.0.1")
        for thread in threads:
            thread.join(DURATION_S + 30)
        elapsed = time.perf_counter() - started
        rss_after = server.rss_mb()
        status = server.get("/v1/status").json()

    samples = results.samples
    latencies_ms = [(s.received - s.sent) * 1000 for s in samples]
    new_version = [s for s in samples if s.version == "1.0.1"]
    first_new = min(s.received for s in new_version) if new_version else None
    print(
        f"\nload: {len(samples)} requests in {elapsed:.1f} s = {len(samples) / elapsed:,.0f} req/s "
        f"({CLIENT_THREADS} client threads, 1 in 5 a 4-row v2 batch); "
        f"latency p50 {percentile(latencies_ms, 0.5):.2f} ms, p99 {percentile(latencies_ms, 0.99):.2f} ms, "
        f"max {max(latencies_ms):.1f} ms; errors {len(results.errors)}; "
        f"server RSS {rss_before:.1f} MB before, {rss_after:.1f} MB after; "
        + (
            f"swap: first 1.0.1 answer {(first_new - swapped_at) * 1000:.0f} ms after CURRENT was rewritten; "
            if first_new is not None
            else "swap: never seen; "
        )
        + f"{sum(s.version == '1.0.0' for s in samples)} answers by 1.0.0, {len(new_version)} by 1.0.1; "
        f"log rows written {status['log']['rows_written']}, write failures {status['log']['write_failures']}"
    )
    assert results.errors == []
    assert samples and all(s.status == 200 for s in samples)
    assert status["model"]["version"] == "1.0.1"
    assert status["model"]["reloads"] == {"succeeded": 1, "refused": 0}
    assert status["log"]["write_failures"] == 0
    assert first_new is not None, "no answer named the new version"
    # Requests in flight during the swap may finish on 1.0.0; anything sent after a 1.0.1 answer may not.
    late_old = [s for s in samples if s.sent > first_new and s.version != "1.0.1"]
    assert late_old == []
    assert any(s.version == "1.0.0" for s in samples), "the swap happened before the load started"
