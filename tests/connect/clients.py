"""The other side of the line in tests: a publisher of telemetry and a collector of what the connector sends.

Both are real paho-mqtt clients with persistent sessions at QoS 1, so they lose nothing across a
broker restart either: whatever the counts say missing, the connector lost.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

__all__ = ["Collector", "Publisher", "Secure", "wait_for"]


@dataclass(frozen=True)
class Secure:
    """TLS (trusting ``ca_file``) and a username and password."""

    ca_file: Path
    username: str
    password: str


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


def _client(address: str, name: str, secure: Secure | None) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:8]}", clean_session=False)
    if secure is not None:
        client.tls_set(ca_certs=str(secure.ca_file))
        client.username_pw_set(secure.username, secure.password)
    client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]
    client.max_inflight_messages_set(0)
    host, port = address.rsplit(":", 1)
    client.connect_async(host, int(port), 30)
    return client


class Collector:
    """Subscribes to ``topics`` and keeps every message, in arrival order."""

    def __init__(self, address: str, topics: list[str], secure: Secure | None = None) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._subscribed = threading.Event()
        self.client = _client(address, "collector", secure)
        self.client.on_connect = lambda client, *_: client.subscribe([(topic, 1) for topic in topics])
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = lambda client, userdata, message: self.messages.append(
            (message.topic, json.loads(message.payload))
        )
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the collector did not subscribe within 10 s")

    def on(self, suffix: str) -> list[tuple[str, dict[str, Any]]]:
        return [(topic, body) for topic, body in list(self.messages) if topic.endswith(suffix)]

    def ids(self, suffix: str) -> list[Any]:
        return [body["id"] for _, body in self.on(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """Publishes at QoS 1; ``acknowledged`` counts the PUBACKs (messages the broker took)."""

    def __init__(self, address: str, secure: Secure | None = None) -> None:
        self.acknowledged = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = _client(address, "publisher", secure)
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.on_publish = self._on_publish
        self.client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("the publisher did not connect within 10 s")

    def _on_publish(self, *_: Any) -> None:
        with self._lock:  # counted on paho's network thread, read on the test's
            self.acknowledged += 1

    def send(self, topic: str, payload: bytes | dict[str, Any]) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(topic, body, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
