"""Micro-batching (issue 12): under load the connector predicts what queued as one batch, up to
``max_rows``; a record waits for company at most ``max_wait_ms``; every message is in the outbox
before its input is acknowledged.

The batcher runs here with its real parts: the shipped model in a holder, a SQLite outbox. Batches
are read off the order of events: within a batch every record is routed, then committed, then
acknowledged, so each run of acknowledgements is one batch.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._connect.batcher import Batcher, Inbound
from runtime._connect.metrics import Counters
from runtime._connect.outbox import Outbox
from runtime._holder import ModelHolder
from tests.connect.clients import wait_for
from tests.connect.records import records_for


class _Events:
    """What the batcher did, in order: ``("route", id)`` and ``("ack", id, outbox depth then)``."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.log: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()
        self.results: dict[str, Any] = {}

    def route(self, item: Inbound, model: runtime.Model, request_id: str, result: Any) -> list[tuple[str, str, bytes]]:
        with self.lock:
            self.log.append(("route", item.message_id))
            self.results[item.message_id] = result
        return [("mqtt", "plant/line3/press-1/quality", json.dumps({"id": item.message_id}).encode())]

    def inbound(self, record: dict[str, Any]) -> Inbound:
        identifier = record["id"]
        body = {k: v for k, v in record.items() if k != "id"}

        def ack() -> None:
            with self.lock:
                self.log.append(("ack", identifier, self.outbox.depth()))

        return Inbound("mqtt", "plant/line3/press-1/telemetry", body, message_id=identifier, ack=ack)

    def batches(self) -> list[int]:
        """Sizes of the runs of acknowledgements."""
        sizes: list[int] = []
        previous = None
        for event in self.log:
            if event[0] == "ack":
                if previous == "ack":
                    sizes[-1] += 1
                else:
                    sizes.append(1)
            previous = event[0]
        return sizes

    def acked(self) -> int:
        return sum(1 for event in self.log if event[0] == "ack")


@pytest.fixture
def parts(shipped_bundle: Path, tmp_path: Path) -> Any:
    model = runtime.load(shipped_bundle)
    holder = ModelHolder(shipped_bundle, model, loader=runtime.load, poll_s=None)
    outbox = Outbox(tmp_path / "outbox.db")
    events = _Events(outbox)
    yield model, holder, outbox, events
    outbox.close()


def _batcher(parts: Any, **options: Any) -> Batcher:
    model, holder, outbox, events = parts
    return Batcher(holder, outbox, events.route, Counters(), **options)


def test_what_queued_is_predicted_in_batches_of_at_most_max_rows_and_committed_before_its_ack(parts: Any) -> None:
    model, _, outbox, events = parts
    records = records_for(model, 150)
    batcher = _batcher(parts, max_rows=64, max_wait_ms=0)
    for record in records:  # a backlog: everything queued before the thread starts
        batcher.submit(events.inbound(record))
    batcher.start()
    wait_for(lambda: events.acked() == 150, 30, "150 acknowledgements")
    batcher.stop()
    assert events.batches() == [64, 64, 22]
    # every acknowledgement came after its message was committed: the outbox already held it
    acked_depths = [event[2] for event in events.log if event[0] == "ack"]
    assert acked_depths[:64] == [64] * 64 and acked_depths[64:128] == [128] * 64 and acked_depths[128:] == [150] * 22
    expected = model.predict_batch([{k: v for k, v in r.items() if k != "id"} for r in records])
    assert expected.labels is not None and expected.probabilities is not None
    for index, record in enumerate(records):
        result = events.results[record["id"]]
        assert result.label == expected.labels[index]
        assert result.probabilities == expected.probabilities[index].tolist()


def test_a_record_waits_for_company_only_within_max_wait_ms(parts: Any) -> None:
    model, _, _, events = parts
    first, second, third = records_for(model, 3)
    # no waiting: a record that arrives after the previous batch was acknowledged is a batch of its own
    batcher = _batcher(parts, max_rows=64, max_wait_ms=0)
    batcher.start()
    batcher.submit(events.inbound(first))
    wait_for(lambda: events.acked() == 1, 10, "the first record alone")
    batcher.submit(events.inbound(second))
    wait_for(lambda: events.acked() == 2, 10, "the second record alone")
    batcher.stop()
    assert events.batches() == [1, 1]
    # a long window: a record arriving 0.1 s after the first joins its batch
    events.log.clear()
    batcher = _batcher(parts, max_rows=64, max_wait_ms=5_000)
    batcher.start()
    batcher.submit(events.inbound(first))
    threading.Event().wait(0.1)
    batcher.submit(events.inbound(third))
    batcher.stop()  # stop takes what is queued now: the window does not hold a stopping connector
    assert events.batches() == [2]
