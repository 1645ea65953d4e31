"""Issue 12, must show 2: nothing is lost. The broker stopped for seconds and restarted mid-stream, and the
connector killed with SIGKILL mid-stream and restarted: every record the broker took has its prediction
delivered (at least once; duplicates are counted, and lost must be 0). And the outbox alone: messages a
run left undelivered are sent, in order, once the broker is back.

The counts of each run are printed (``pytest -s``) for the closing note.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._connect.outbox import Outbox
from tests.connect.clients import Collector, Publisher, wait_for
from tests.connect.conftest import example_config
from tests.connect.records import records_for

TOPIC = "plant/line3/press-1/telemetry"


def _stream(publisher: Publisher, records: list[dict[str, Any]], pause_s: float) -> threading.Thread:
    def send() -> None:
        for record in records:
            publisher.send(TOPIC, record)
            time.sleep(pause_s)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _counts(
    what: str, records: list[dict[str, Any]], publisher: Publisher, collector: Collector, **more: Any
) -> dict[str, Any]:
    received = collector.ids("/quality")
    delivered = set(received)
    counts = {
        "sent": len(records),
        "acknowledged_by_broker": publisher.acknowledged,
        "delivered": len(delivered),
        "duplicates": len(received) - len(delivered),
        "lost": len({r["id"] for r in records} - delivered),
        **more,
    }
    print(f"\n{what}: {counts}")
    return counts


class _Stream:
    """A connector on the example config, a collector of its predictions, and 1,500 records streaming in."""

    def __init__(self, bundle: Path, broker: Any, connector_factory: Any) -> None:
        self.connector = connector_factory(lambda port: example_config(bundle, broker.address, None, port))
        self.connector.start()
        self.collector = Collector(broker.address, ["plant/line3/+/quality"])
        self.publisher = Publisher(broker.address)
        self.records = records_for(runtime.load(bundle), 1500)
        self.sender = _stream(self.publisher, self.records, 0.002)

    def wait_for_predictions(self, count: int, what: str) -> None:
        wait_for(lambda: len(self.collector.ids("/quality")) >= count, 60, what)

    def finish(self, what: str, more: Any) -> dict[str, Any]:
        """Wait for every prediction, count, stop the connector (SIGTERM: exit 0)."""
        self.sender.join(60)
        wanted = {r["id"] for r in self.records}
        wait_for(lambda: set(self.collector.ids("/quality")) >= wanted, 120, "every prediction")
        # The broker's PUBACK to the publisher and the prediction it caused travel on different sockets,
        # read by different client threads: the last PUBACK may be counted after the last prediction lands.
        wait_for(lambda: self.publisher.acknowledged >= len(self.records), 30, "the broker's PUBACK for every record")
        counts = _counts(what, self.records, self.publisher, self.collector, **more(self.connector.status()))
        assert counts["lost"] == 0 and counts["delivered"] == len(self.records)
        assert self.publisher.acknowledged == len(self.records)
        assert self.connector.terminate() == 0
        self.collector.close()
        self.publisher.close()
        return counts


@pytest.mark.slow
def test_a_broker_outage_mid_stream_loses_no_prediction(
    shipped_bundle: Path, broker: Any, connector_factory: Any
) -> None:
    stream = _Stream(shipped_bundle, broker, connector_factory)
    stream.wait_for_predictions(300, "300 predictions before the outage")
    broker.stop()
    outage_started = time.monotonic()
    deepest = 0
    while time.monotonic() - outage_started < 5.0:  # the broker is down for 5 s
        deepest = max(deepest, stream.connector.status()["outbox"]["depth"])
        time.sleep(0.1)
    broker.start()
    counts = stream.finish(
        "broker outage",
        more=lambda status: {
            "predicted": status["predictions"],
            "reconnects": status["links"]["mqtt"]["reconnects"],
            "outbox_depth_during_outage": deepest,
            "redelivered_inputs": status["duplicates"],
        },
    )
    assert counts["reconnects"] >= 1


@pytest.mark.slow
def test_sigkill_mid_stream_leaves_no_acknowledged_input_without_its_prediction(
    shipped_bundle: Path, broker: Any, connector_factory: Any
) -> None:
    stream = _Stream(shipped_bundle, broker, connector_factory)
    stream.wait_for_predictions(400, "400 predictions before the kill")
    stream.connector.kill()  # SIGKILL: no flush, no goodbye
    before_restart = len(set(stream.collector.ids("/quality")))
    time.sleep(1.0)
    stream.connector.start()
    stream.finish(
        "SIGKILL",
        more=lambda status: {
            "delivered_before_the_kill": before_restart,
            "predicted_after_restart": status["predictions"],
            "redelivered_inputs": status["duplicates"],
            "outbox_resent": status["outbox"]["resent"],
        },
    )


@pytest.mark.slow
def test_what_an_earlier_run_left_in_the_outbox_is_sent_in_order_when_the_broker_returns(
    shipped_bundle: Path, broker: Any, connector_factory: Any
) -> None:
    connector = connector_factory(lambda port: example_config(shipped_bundle, broker.address, None, port))
    outbox = Outbox(connector.config.parent / "outbox.db")
    outbox.put([("mqtt", "plant/line3/press-1/quality", b'{"id": %d}' % index) for index in range(200)])
    outbox.close()
    collector = Collector(broker.address, ["plant/line3/+/quality"])
    broker.stop()
    connector.start(until="/v2/health/live")
    time.sleep(2.0)
    assert connector.get("/v2/health/ready")[0] == 503  # the broker is down: not ready, messages wait
    assert connector.status()["outbox"]["depth"] == 200
    broker.start()
    wait_for(lambda: len(collector.ids("/quality")) >= 200, 60, "the queued messages")
    assert collector.ids("/quality") == list(range(200))
    wait_for(lambda: connector.status()["outbox"]["depth"] == 0, 10, "an empty outbox")
    assert connector.terminate() == 0
    collector.close()
