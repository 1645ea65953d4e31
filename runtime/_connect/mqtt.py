"""The MQTT link (paho-mqtt 2.x): records in from the subscriptions, the outbox's messages out.

Inbound: a persistent session (``clean_session=False`` under the configured ``client_id``) and
manual acknowledgements (``manual_ack=True``): a QoS 1 message is acknowledged (``client.ack``) only
by the batcher, after its prediction is committed to the outbox. Until then the broker keeps it
and redelivers it after a reconnect or a restart of the connector, flagged DUP (counted as a
duplicate: its prediction may already have been sent).

Outbound: one thread sends the outbox's ``mqtt`` rows in order while connected, keeping up to
``WINDOW`` unconfirmed at a time, and deletes each row when its PUBACK arrives. While the broker is
unreachable nothing is taken from the outbox; what paho already holds it retransmits on reconnect.

Reconnects: paho's own loop with exponential backoff between ``reconnect_min_s`` and
``reconnect_max_s``; each reconnection is counted.
"""

from __future__ import annotations

import collections
import logging
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .batcher import Batcher, Inbound
from .config import MqttConfig
from .outbox import Outbox
from .payload import decode_payload

__all__ = ["MqttLink"]

logger = logging.getLogger(__name__)

WINDOW = 256
EXCERPT_BYTES = 2_000


class MqttLink:
    """One paho client: subscribe, hand records to ``batcher``, publish what ``outbox`` holds."""

    name = "mqtt"

    def __init__(self, config: MqttConfig, batcher: Batcher, outbox: Outbox, decode: dict[str, Any]) -> None:
        self.config, self.batcher, self.outbox, self.decode = config, batcher, outbox, decode
        self.connected = False
        self.reconnects = 0
        self._connected_once = False
        self._failures = 0
        self._taking_input = True
        self._stopping = threading.Event()
        self._acked_mids: collections.deque[int] = collections.deque()
        self._inflight: dict[int, int] = {}  # mid -> outbox row id (the sender thread's alone)
        self._wake = threading.Event()
        outbox.notify(self._wake)
        self.client = self._client()
        self._sender = threading.Thread(target=self._send_loop, name="connect-mqtt-sender", daemon=True)

    def _client(self) -> paho.Client:
        config = self.config
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls is not None:
            tls = config.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.tls_insecure_set(tls.insecure)
        client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)  # type: ignore[arg-type]
        # The sender keeps at most WINDOW unconfirmed itself; a paho limit would make it rescan every
        # queued message on each PUBACK (Client._update_inflight), O(window) per message.
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self.client.loop_start()
        self._sender.start()

    def stop_input(self) -> None:
        """Take no more records: later messages stay unacknowledged with the broker, for the next run."""
        self._taking_input = False

    def flush(self, timeout_s: float) -> bool:
        """Wait until the outbox holds no MQTT message (True) or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.outbox.peek("mqtt", 1):
                return True
            self._wake.set()
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._sender.join(5.0)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho callbacks (its network thread) ------------------------------------------------------
    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.error("MQTT broker %s:%d refused the connection: %s", self.config.host, self.config.port, reason)
            return
        if self._connected_once:
            self.reconnects += 1
        self._connected_once = True
        self._failures = 0
        self.connected = True
        client.subscribe([(topic, self.config.qos) for topic in self.config.subscribe])
        logger.info(
            "MQTT connected to %s:%d (session present: %s)", self.config.host, self.config.port, flags.session_present
        )
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._failures += 1
        if self._failures % 10 == 1:  # the first failure, then every tenth
            where = f"{self.config.host}:{self.config.port}"
            logger.warning("MQTT broker %s unreachable (%d attempts); retrying with backoff", where, self._failures)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connected and not self._stopping.is_set():
            logger.warning(
                "MQTT disconnected from %s:%d (%s); reconnecting", self.config.host, self.config.port, reason
            )
        self.connected = False

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        if not self._taking_input:
            return  # not acknowledged: the broker keeps it for the next run
        payload = bytes(message.payload)
        mid, qos = message.mid, message.qos

        def ack() -> None:
            client.ack(mid, qos)

        item = Inbound("mqtt", message.topic, None, ack=ack if qos > 0 else None, duplicate=bool(message.dup))
        try:
            item.record, item.message_id = decode_payload(
                payload, max_bytes=self.config.max_payload_bytes, **self.decode
            )
        except ValueError as error:  # InputError: not JSON, too large, not an object
            item.error = str(error)
            item.excerpt = payload[:EXCERPT_BYTES].decode("utf-8", errors="replace")
        self.batcher.submit(item)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._acked_mids.append(mid)  # no lock: paho may hold its own while calling this
        self._wake.set()

    # -- the sender thread ------------------------------------------------------------------------
    def _send_loop(self) -> None:
        last_id = 0
        while not self._stopping.is_set():
            self._confirm()
            if not self.connected or len(self._inflight) >= WINDOW:
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            rows = self.outbox.peek("mqtt", WINDOW - len(self._inflight), after_id=last_id)
            if not rows:
                if not self._inflight:
                    last_id = 0  # rows put after an expiry or a resend start over from the oldest
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            sent = []
            for row in rows:
                info = self.client.publish(row.topic, row.payload, qos=self.config.qos)
                if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                    logger.error("MQTT publish to %r failed: %s", row.topic, paho.error_string(info.rc))
                    break
                # NO_CONN: paho keeps a QoS 1 message and sends it once reconnected.
                self._inflight[info.mid] = row.id
                last_id = row.id
                sent.append(row)
                if self.config.qos == 0 and info.rc == paho.MQTT_ERR_SUCCESS:
                    self._acked_mids.append(info.mid)
            self.outbox.mark_sent(sent)

    def _confirm(self) -> None:
        """Delete the rows whose PUBACK arrived. Only this thread publishes and stores mids, and it
        stores each before it next drains the acknowledgements, so every PUBACK finds its row."""
        done = []
        while self._acked_mids:
            row_id = self._inflight.pop(self._acked_mids.popleft(), None)
            if row_id is not None:
                done.append(row_id)
        self.outbox.confirm(done)
