"""Throughput and latency of ``python -m runtime connect`` through Mosquitto on loopback: not a test, a script.

    python benchmarks/connector.py [--messages 20000] [--paced 2000 --rate 200] [--bundle models/quality]

Needs the ``connect`` extra and the ``mosquitto`` binary (Debian: ``apt-get install mosquitto``). It
starts a Mosquitto on a free 127.0.0.1 port and the real connector (a subprocess, with its outbox and
prediction log in a temporary folder) subscribed to ``bench/line/+/telemetry``, and then

1. **sustained**: publishes ``--messages`` records as fast as one QoS 1 publisher can, and times the
   first publish to the last prediction received: messages/s end to end (broker in, predict, outbox
   commit, ack, broker out), with the latency of every message under that saturation;
2. **paced**: publishes ``--paced`` records at ``--rate`` per second (below saturation, as a line
   sends) and reports publish -> prediction received latency p50 / p99 / max.

Every record is valid for the bundle (drawn inside each column's rules); every message is matched to
its prediction by ``id``, so a lost one would show as missing. Each phase is bounded by
``--timeout-s``; everything is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

import runtime

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def records(model: runtime.Model, count: int, seed: int = 7) -> list[dict[str, Any]]:
    draw = random.Random(seed)
    rows = []
    for index in range(count):
        row: dict[str, Any] = {"id": index}
        for spec in model.manifest.inputs:
            if spec.kind == "number":
                low, high = spec.valid_range or (0.0, 1.0)
                row[spec.name] = round(draw.uniform(low, high), 3)
            else:
                row[spec.name] = draw.choice(sorted(spec.categories or ()))
        rows.append(row)
    return rows


@contextlib.contextmanager
def process(argv: list[str], **options: Any) -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(argv, **options)
    try:
        yield child
    finally:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def wait_ready(metrics_port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the connector exited with {child.returncode}")
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection(HOST, metrics_port, timeout=2)
            connection.request("GET", "/v2/health/ready")
            if connection.getresponse().status == 200:
                return
        time.sleep(0.05)
    raise SystemExit(f"the connector was not ready within {STARTUP_S} s")


class Receiver:
    """Subscribes to the prediction topic and stamps each prediction's arrival by id."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[int, float] = {}
        self.duplicates = 0
        self.ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-receiver")
        self.client.on_connect = lambda client, *_: client.subscribe("bench/line/+/quality", 1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect(HOST, port)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise SystemExit("the receiver did not subscribe")

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        now = time.perf_counter()
        message_id = json.loads(message.payload)["id"]
        if message_id in self.arrived:
            self.duplicates += 1
        else:
            self.arrived[message_id] = now

    def wait(self, ids: range, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(message_id in self.arrived for message_id in (ids[-1], *ids[::97])) and len(
                [i for i in ids if i in self.arrived]
            ) == len(ids):
                return True
            time.sleep(0.02)
        return False


def publish(port: int, rows: list[dict[str, Any]], rate: float | None) -> dict[int, float]:
    """Publish at QoS 1 (as fast as possible, or ``rate`` per second); the send time of each id."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-publisher-{rate}")
    client.max_inflight_messages_set(1000)
    client.connect(HOST, port)
    client.loop_start()
    sent: dict[int, float] = {}
    start = time.perf_counter()
    infos = []
    for index, row in enumerate(rows):
        if rate is not None:
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent[row["id"]] = time.perf_counter()
        infos.append(client.publish(f"bench/line/m{index % 4}/telemetry", json.dumps(row), qos=1))
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    return sent


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def phase(
    name: str, port: int, receiver: Receiver, rows: list[dict[str, Any]], rate: float | None, timeout_s: float, pid: int
) -> None:
    cpu_before = cpu_s(pid)
    sent = publish(port, rows, rate)
    ids = range(rows[0]["id"], rows[-1]["id"] + 1)
    complete = receiver.wait(ids, timeout_s)
    received = [i for i in ids if i in receiver.arrived]
    latencies_ms = [(receiver.arrived[i] - sent[i]) * 1000 for i in received]
    elapsed = max(receiver.arrived[i] for i in received) - min(sent.values())
    cpu_us = (cpu_s(pid) - cpu_before) / max(1, len(received)) * 1e6
    print(
        f"{name}: {len(rows):,} published, {len(received):,} predictions received"
        + ("" if complete else f" (TIMED OUT after {timeout_s:g} s)")
        + f"; {len(received) / elapsed:,.0f} messages/s end to end over {elapsed:.2f} s; latency ms "
        f"p50 {statistics.median(latencies_ms):.2f}, p99 {percentile(latencies_ms, 0.99):.2f}, "
        f"max {max(latencies_ms):.2f}; connector CPU {cpu_us:.0f} us per message "
        f"(~{1e6 / cpu_us:,.0f} messages/s per core it gets)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="sustained phase messages (default 20,000)")
    parser.add_argument("--paced", type=int, default=2_000, help="paced phase messages (default 2,000)")
    parser.add_argument("--rate", type=float, default=200.0, help="paced phase messages/s (default 200)")
    parser.add_argument("--timeout-s", type=float, default=180.0, help="bound of each phase (default 180)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "models" / "quality", help="the model folder")
    args = parser.parse_args(argv)
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    model = runtime.load(args.bundle)
    rows = records(model, args.messages + args.paced)
    with tempfile.TemporaryDirectory(prefix="connector-bench-") as temporary:
        folder = Path(temporary)
        broker_port, metrics_port = free_port(), free_port()
        (folder / "mosquitto.conf").write_text(
            f"listener {broker_port} {HOST}\nallow_anonymous true\nmax_queued_messages 1000000\n", encoding="utf-8"
        )
        (folder / "connect.toml").write_text(
            f'bundle = "{args.bundle.resolve()}"\nlog = "predictions.db"\noutbox = "outbox.db"\n'
            f'metrics_port = {metrics_port}\n\n[mqtt]\nbroker = "{HOST}:{broker_port}"\n'
            'client_id = "bench-connector"\nsubscribe = ["bench/line/+/telemetry"]\n'
            'publish = "bench/line/{2}/quality"\nerrors = "bench/line/{2}/errors"\nqos = 1\n',
            encoding="utf-8",
        )
        quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        with process([mosquitto, "-c", str(folder / "mosquitto.conf")], **quiet):
            time.sleep(0.3)
            command = [sys.executable, "-m", "runtime", "connect", str(folder / "connect.toml")]
            with process(command, cwd=ROOT, **quiet) as connector:
                wait_ready(metrics_port, connector)
                receiver = Receiver(broker_port)
                print(f"connector on Mosquitto {HOST}:{broker_port}, bundle {model.name} {model.version}")
                phase("sustained", broker_port, receiver, rows[: args.messages], None, args.timeout_s, connector.pid)
                paced, rate = rows[args.messages :], args.rate
                phase(f"paced at {rate:g}/s", broker_port, receiver, paced, rate, args.timeout_s, connector.pid)
                print(f"duplicates received: {receiver.duplicates}")
                print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
