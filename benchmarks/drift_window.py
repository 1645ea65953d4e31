"""Memory and responsiveness of drift over a large window (issue 10, finding 8): not a test, a script.

    python benchmarks/drift_window.py [--rows 1000000] [--csv-rows 5000000] [--bundle models/quality]

Needs only the runtime and its ``serve`` extra. It

1. writes a prediction log of ``--rows`` predictions like training (drawn with numpy from the
   bundle's own drift reference, predicted by the bundle) through the server's own log writer, with
   a true label fed back for one row in ten;
2. starts the real server (``python -m runtime serve`` on a free 127.0.0.1 port with ``--log`` and
   ``--drift-window`` of all those rows), fires ``GET /v1/drift`` (twice at once: the second must
   share the first's computation) and, while it runs, polls ``/metrics`` and the server's resident
   memory (``VmRSS`` in ``/proc/PID/status``); prints RSS before / peak / after, the drift's duration
   and the ``/metrics`` latencies;
3. writes a CSV of ``--csv-rows`` rows and runs ``python -m runtime drift --input`` on it, printing
   that process's peak RSS (``VmHWM``, read as it exits) and its duration.

Targets: the server's RSS grows by less than 100 MB and /metrics answers within 100 ms while drift
runs; the CLI stays within a couple of hundred MB. Everything lives in a temporary folder, removed
at the end; every loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import runtime

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
REQUEST_ROWS = 1000
POLL_S = 0.02
DRIFT_TIMEOUT_S = 600.0
# Reads VmHWM as the CLI exits (atexit runs on its SystemExit), so the figure is its own peak.
CLI_WITH_PEAK = (
    "import atexit, runpy, sys\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'): print('VMHWM_KB', line.split()[1], file=sys.stderr, flush=True)\n"
    "atexit.register(peak)\n"
    "sys.argv = ['python -m runtime', *sys.argv[1:]]\n"
    "runpy.run_module('runtime', run_name='__main__', alter_sys=True)\n"
)


def columns_like_training(manifest: runtime.Manifest, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One array per input: numbers by inverting the reference quantiles, categories by their shares,
    missing at the training rate where allowed (as tests/runtime/traffic.py draws them)."""
    reference = manifest.drift_reference.columns
    columns: dict[str, np.ndarray] = {}
    for spec in manifest.inputs:
        column = reference[spec.name]
        missing = rng.random(rows) < (column.missing_rate if spec.nullable else 0.0)
        if isinstance(column, runtime.NumberReference):
            quantiles = np.asarray(column.quantiles, dtype=np.float64)
            values = np.interp(rng.random(rows), np.linspace(0.0, 1.0, len(quantiles)), quantiles)
            values[missing] = np.nan
        else:
            categories = list(column.shares)
            shares = np.asarray([column.shares[c] for c in categories], dtype=np.float64)
            values = np.asarray(rng.choice(np.asarray(categories, dtype=object), rows, p=shares / shares.sum()))
            values[missing] = None
        columns[spec.name] = values
    return columns


def fill_log(path: Path, model: runtime.Model, rows: int) -> list[tuple[str, int, str]]:
    """Insert ``rows`` predictions like training into the log the server created, ``REQUEST_ROWS`` per
    request id, as the server's writer stores them (the columns of runtime/_monitor/logdb.py, inputs
    and outputs as compact JSON); returns a true label for every tenth row, to be fed back."""
    rng = np.random.default_rng(10)
    keys = [str(label) for label in model.classes or ()]
    labels: list[tuple[str, int, str]] = []
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        for request, start in enumerate(range(0, rows, REQUEST_ROWS)):
            count = min(REQUEST_ROWS, rows - start)
            columns = columns_like_training(model.manifest, count, rng)
            result = model.predict_batch(columns)
            assert result.labels is not None and result.probabilities is not None
            request_id = f"bench-{request}"
            epoch = time.time()
            inputs = [
                json.dumps({name: None if v != v else v for name, v in zip(columns, values)}, separators=(",", ":"))
                for values in zip(*(columns[name].tolist() for name in columns))
            ]
            outputs = [
                json.dumps({"label": label, "probabilities": dict(zip(keys, shares))}, separators=(",", ":"))
                for label, shares in zip(result.labels.tolist(), result.probabilities.tolist())
            ]
            if request % 10 == 0:
                connection.execute("BEGIN")
            connection.executemany(
                "INSERT INTO predictions (request_id, row, time_utc, time_epoch, endpoint, status, model, version, "
                "inputs, outputs, latency_ms) VALUES (?, ?, ?, ?, '/v1/predict', 200, ?, ?, ?, ?, 1.0)",
                [
                    (request_id, row, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)), epoch, model.name)
                    + (model.version, inputs[row], outputs[row])
                    for row in range(count)
                ],
            )
            if request % 10 == 9 or start + count >= rows:
                connection.execute("COMMIT")
            labels += [(request_id, row, str(label)) for row, label in enumerate(result.labels.tolist())][::10]
    finally:
        connection.close()
    return labels


def feed_back(bundle: Path, log: Path, labels: list[tuple[str, int, str]], folder: Path) -> None:
    """Store the labels through ``python -m runtime feedback``, as an operator would."""
    path = folder / "labels.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "row", "label"])
        writer.writerows(labels)
    command = [sys.executable, "-m", "runtime", "feedback", str(bundle), str(path), "--log", str(log)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def vm_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def mb(kilobytes: float | None) -> str:
    return "?" if kilobytes is None else f"{kilobytes / 1024:.1f} MB"


@contextlib.contextmanager
def server(bundle: Path, log: Path, window: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    command = [sys.executable, "-m", "runtime", "serve", str(bundle), "--host", HOST, "--port", str(port)]
    command += ["--log", str(log), "--drift-window", str(window)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                status, _, _ = get(port, "/v1/status", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /v1/status within 60 s")
            time.sleep(0.1)
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def get(port: int, path: str, *, timeout: float, connection: http.client.HTTPConnection | None = None) -> Any:
    """(status, body, seconds) of one GET."""
    own = connection is None
    connection = connection or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - started
    finally:
        if own:
            connection.close()


def measure_server(bundle: Path, model: runtime.Model, folder: Path, rows: int) -> None:
    log = folder / "predictions.db"
    with server(bundle, log, rows) as (process, port):
        # the server created the log with its schema; it sits idle while the rows go in
        started = time.perf_counter()
        labels = fill_log(log, model, rows)
        feed_back(bundle, log, labels, folder)
        size, seconds = log.stat().st_size / 2**20, time.perf_counter() - started
        print(f"wrote {rows:,} predictions ({size:.0f} MB) and {len(labels):,} labels in {seconds:.0f} s")
        time.sleep(1.0)
        started_rss = vm_kb(process.pid, "VmRSS")
        print(f"server started on {HOST}:{port}: RSS {mb(started_rss)}")
        for run in (1, 2):
            before = vm_kb(process.pid, "VmRSS")
            results: list[Any] = []

            def fire(results: list[Any] = results) -> None:
                results.append(get(port, "/v1/drift", timeout=DRIFT_TIMEOUT_S))

            requests = [threading.Thread(target=fire) for _ in range(2)]
            started = time.perf_counter()
            for thread in requests:
                thread.start()
                time.sleep(0.05)
            latencies: list[float] = []
            peak = before or 0
            scrape = http.client.HTTPConnection(HOST, port, timeout=10)
            deadline = time.monotonic() + DRIFT_TIMEOUT_S
            while any(thread.is_alive() for thread in requests) and time.monotonic() < deadline:
                status, _, seconds = get(port, "/metrics", timeout=10, connection=scrape)
                assert status == 200
                latencies.append(seconds)
                peak = max(peak, vm_kb(process.pid, "VmRSS") or 0)
                time.sleep(POLL_S)
            for thread in requests:
                thread.join(timeout=DRIFT_TIMEOUT_S)
            duration = time.perf_counter() - started
            scrape.close()
            after = vm_kb(process.pid, "VmRSS")
            reports = [json.loads(body) for _, body, _ in results]
            assert all(status == 200 for status, _, _ in results), results
            answered = sorted(f"{s:.2f}" for _, _, s in results)
            print(f"server, drift run {run}: GET /v1/drift over {reports[0]['rows']:,} rows: {reports[0]['status']}")
            same = reports[0] == reports[1]
            print(f"  two concurrent requests answered in {' and '.join(answered)} s (identical reports: {same})")
            print(f"  drift duration (first request to last answer): {duration:.2f} s")
            growth = (peak - (before or 0)) / 1024
            print(f"  RSS before {mb(before)}, peak {mb(peak)} (+{growth:.1f} MB), after {mb(after)}")
            if latencies:
                print(
                    f"  /metrics during drift: {len(latencies)} scrapes, "
                    f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
                )
        idle = [get(port, "/metrics", timeout=10)[2] for _ in range(20)]
        print(f"  /metrics idle: median {statistics.median(idle) * 1000:.1f} ms, max {max(idle) * 1000:.1f} ms")
        print(f"  server VmHWM (peak of its whole life, startup included): {mb(vm_kb(process.pid, 'VmHWM'))}")


def write_csv(path: Path, manifest: runtime.Manifest, rows: int) -> None:
    rng = np.random.default_rng(11)
    names = [spec.name for spec in manifest.inputs]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(names) + "\n")
        for start in range(0, rows, 100_000):
            columns = columns_like_training(manifest, min(100_000, rows - start), rng)
            texts = [
                [
                    "" if v is None or v != v else (f"{v:.6g}" if isinstance(v, float) else str(v))
                    for v in values.tolist()
                ]
                for values in (columns[name] for name in names)
            ]
            handle.write("".join(",".join(fields) + "\n" for fields in zip(*texts)))


def _field(value: Any) -> str:
    if value is None or value != value:  # missing: None or NaN
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def measure_cli(bundle: Path, csv_path: Path, rows: int) -> None:
    command = [sys.executable, "-c", CLI_WITH_PEAK, "drift", str(bundle), "--input", str(csv_path), "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=1800)
    duration = time.perf_counter() - started
    peak = next((int(line.split()[1]) for line in err.decode().splitlines() if line.startswith("VMHWM_KB")), None)
    report = json.loads(out)
    size = csv_path.stat().st_size / 2**20
    print(f"CLI: drift --input of a {rows:,}-row CSV ({size:.0f} MB): {report['status']}, exit {process.returncode}")
    print(f"  {report['rows']:,} rows judged in {duration:.1f} s, peak RSS (VmHWM) {mb(peak)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="prediction log rows (default 1,000,000)")
    parser.add_argument("--csv-rows", type=int, default=5_000_000, help="CSV rows for the CLI (default 5,000,000)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "quality", help="the model folder")
    args = parser.parse_args(argv)
    model = runtime.load(args.bundle)
    with tempfile.TemporaryDirectory(prefix="drift-window-") as folder:
        measure_server(args.bundle, model, Path(folder), args.rows)
        for path in Path(folder).glob("predictions.db*"):
            path.unlink()
        csv_path = Path(folder) / "recent.csv"
        started = time.perf_counter()
        write_csv(csv_path, model.manifest, args.csv_rows)
        print(f"wrote {args.csv_rows:,} CSV rows in {time.perf_counter() - started:.0f} s")
        measure_cli(args.bundle, csv_path, args.csv_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
