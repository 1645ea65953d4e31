"""Fixtures for the connector tests: a real Mosquitto, asyncua's own server, and the connector itself
run as ``python -m runtime connect CONFIG.toml`` in a subprocess, exactly as on a gateway."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("paho.mqtt", reason='needs the "connect" extra: pip install ".[connect]"')
pytest.importorskip("asyncua", reason='needs the "connect" extra: pip install ".[connect]"')

from tests.connect.broker import Mosquitto, free_port  # noqa: E402
from tests.connect.opcua_server import LABEL, PROBABILITY, TRIGGER, OpcuaServer, input_node  # noqa: E402
from tests.runtime.serve.records import EXAMPLE  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0


def example_config(bundle: Path, broker: str, endpoint: str | None, metrics_port: int, extra: str = "") -> str:
    """The issue's example config, every input column filled in, pointed at the test's broker and server."""
    text = f"""\
bundle = "{bundle}"
log = "predictions.db"          # the same prediction log as `serve`
outbox = "outbox.db"            # durable store-and-forward queue
metrics_port = {metrics_port}             # /metrics and /v2/health/* on 127.0.0.1
{extra}
[mqtt]
broker = "{broker}"
client_id = "line3-quality"
subscribe = ["plant/line3/+/telemetry"]   # one JSON object per message: column -> value
publish = "plant/line3/{{2}}/quality"       # {{N}} = level N (0-based) of the incoming topic
errors = "plant/line3/{{2}}/errors"
qos = 1
"""
    if endpoint is not None:
        inputs = "\n".join(f'{column} = "{input_node(column)}"' for column in EXAMPLE)
        text += f"""
[opcua]
endpoint = "{endpoint}"
trigger = "{TRIGGER}"     # a data change of this node makes one record
[opcua.inputs]                            # column -> node id, read when the trigger fires
{inputs}
[opcua.outputs]
label = "{LABEL}"
probability = "{PROBABILITY}"   # the positive class
"""
    return text


class ConnectorProcess:
    """``python -m runtime connect`` on a config file; stopped with SIGTERM (or killed) by the test."""

    def __init__(self, config: Path, metrics_port: int) -> None:
        self.config, self.metrics_port = config, metrics_port
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr = config.parent / "connector.stderr"

    def start(self, *, until: str = "/v2/health/ready") -> None:
        """Start and wait until ``until`` answers 200 (``/v2/health/live`` while a link is down)."""
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.stderr, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "runtime", "connect", str(self.config)],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the connector exited with {self.process.returncode}: {self.stderr.read_text()}")
            try:
                if self.get(until)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the connector was not ready within {STARTUP_TIMEOUT_S} s: {self.stderr.read_text()}")

    def get(self, path: str) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        return response.status, json.loads(body) if path != "/metrics" else body.decode()

    def status(self) -> dict[str, Any]:
        return self.get("/v1/status")[1]  # type: ignore[no-any-return]

    def terminate(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout_s)
        self.process = None
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)
        self.process = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    folder = tmp_path / "broker"
    folder.mkdir()
    mosquitto = Mosquitto(folder)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def opcua_server() -> Iterator[OpcuaServer]:
    server = OpcuaServer(free_port(), EXAMPLE)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def connector_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[ConnectorProcess] = []

    def make(text_for_port: Any) -> ConnectorProcess:
        port = free_port()
        config = tmp_path / "connect.toml"
        config.write_text(text_for_port(port), encoding="utf-8")
        connector = ConnectorProcess(config, port)
        started.append(connector)
        return connector

    yield make
    for connector in started:
        if connector.process is not None and connector.process.poll() is None:
            connector.kill()
