"""Issue 12, must show 1: the example config, against a real Mosquitto and asyncua's server.

Predictions equal ``predict_batch`` on the same records, on the topic the template names; refused
payloads reach the error topic with the API's message and nothing reaches the prediction topic for
them; OPC UA output nodes hold the label and the positive-class probability after each trigger;
everything is in the prediction log; SIGTERM ends with an empty outbox and exit 0.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._connect.batcher import CONNECT_HINTS
from runtime._errors import InputError
from runtime._json_body import parse_json
from tests.connect.clients import Collector, Publisher, wait_for
from tests.connect.conftest import example_config
from tests.connect.opcua_server import LABEL, PROBABILITY, TRIGGER, input_node
from tests.connect.records import records_for

MACHINES = ("press-1", "press-2", "lathe-7")
DRIFT_STATUSES = {"ok", "warn", "alert"}


def api_message(model: runtime.Model, payload: bytes) -> str:
    """What the API says about ``payload``: the server's JSON reading, then ``Model.predict``."""
    try:
        data = parse_json(payload)
        if not isinstance(data, dict):
            raise InputError(
                f"request body must be one record (a JSON object of column -> value), got {type(data).__name__}."
            )
        data.pop("id", None)
        model.predict(data)
    except InputError as error:
        return error.render(hints=CONNECT_HINTS)
    raise AssertionError(f"{payload!r} was expected to be refused")


BAD_PAYLOADS = [
    b"not json at all",
    b'[{"temperature": 200.0}]',
    b'{"id": "bad-range", "temperature": 412.0, "pressure": 59.94, "speed": 97.5, "humidity": 38.7, '
    b'"vibration": 1.122, "machine_type": "B", "shift": "day"}',
    b'{"id": "bad-missing", "temperature": 206.61}',
    b'{"id": "bad-category", "temperature": 206.61, "pressure": 59.94, "speed": 97.5, "humidity": 38.7, '
    b'"vibration": 1.122, "machine_type": "Z", "shift": "day"}',
    b'{"id": "bad-string", "temperature": "hot", "pressure": 59.94, "speed": 97.5, "humidity": 38.7, '
    b'"vibration": 1.122, "machine_type": "B", "shift": "day"}',
    b'{"id": "bad-nan", "temperature": NaN}',
]


@pytest.mark.slow
def test_the_example_config_against_mosquitto_and_asyncua(
    shipped_bundle: Path, broker: Any, opcua_server: Any, connector_factory: Any
) -> None:
    model = runtime.load(shipped_bundle)
    connector = connector_factory(
        lambda port: example_config(shipped_bundle, broker.address, opcua_server.endpoint, port)
    )
    connector.start()
    collector = Collector(broker.address, ["plant/line3/+/quality", "plant/line3/+/errors"])
    publisher = Publisher(broker.address)
    records = records_for(model, 300)
    for index, record in enumerate(records):
        publisher.send(f"plant/line3/{MACHINES[index % 3]}/telemetry", record)
    for payload in BAD_PAYLOADS:
        publisher.send("plant/line3/press-2/telemetry", payload)
    wait_for(lambda: len(collector.on("/quality")) >= len(records), 60, "every prediction")
    wait_for(lambda: len(collector.on("/errors")) >= len(BAD_PAYLOADS), 30, "every error")

    # -- predictions: equal to predict_batch, on the right topic, each once -------------------------
    expected = model.predict_batch([{k: v for k, v in r.items() if k != "id"} for r in records])
    by_id = {body["id"]: (topic, body) for topic, body in collector.on("/quality")}
    assert sorted(by_id) == sorted(r["id"] for r in records)
    assert len(collector.on("/quality")) == len(records)
    for index, record in enumerate(records):
        topic, body = by_id[record["id"]]
        assert topic == f"plant/line3/{MACHINES[index % 3]}/quality"
        assert body["label"] == expected.labels[index]
        assert body["probabilities"] == {str(c): p for c, p in zip(model.classes, expected.probabilities[index])}
        assert (body["model"], body["version"], body["flags"]) == ("quality", "1.0.0", [])
        assert len(body["request_id"]) == 32 and body["latency_us"] >= 0

    # -- errors: the API's message, on the error topic, nothing on the prediction topic -------------
    errors = collector.on("/errors")
    assert [topic for topic, _ in errors] == ["plant/line3/press-2/errors"] * len(BAD_PAYLOADS)
    assert sorted(body["error"] for _, body in errors) == sorted(api_message(model, p) for p in BAD_PAYLOADS)
    assert {body["id"] for _, body in errors} == {None, "bad-range", "bad-missing", "bad-category", "bad-string"}
    assert not {body["id"] for _, body in errors} & set(by_id)

    # -- OPC UA: each trigger reads the inputs; the outputs hold label and probability --------------
    triggered = records_for(model, 5, seed=99, complete=True)
    expected_opcua = model.predict_batch([{k: v for k, v in r.items() if k != "id"} for r in triggered])
    for count, record in enumerate(triggered, start=1):
        opcua_server.write({LABEL: -1, PROBABILITY: -1.0})
        opcua_server.write({input_node(column): record[column] for column in model.columns})
        opcua_server.write({TRIGGER: count})
        wait_for(lambda: opcua_server.read(PROBABILITY) != -1.0, 20, f"the outputs of trigger {count}")
        assert opcua_server.read(LABEL) == expected_opcua.labels[count - 1]
        assert opcua_server.read(PROBABILITY) == expected_opcua.probabilities[count - 1][1]

    # -- counters, metrics, then SIGTERM: exit 0, nothing left in the outbox -----------------------
    status = connector.status()
    assert status["messages_in"] == {"mqtt": len(records) + len(BAD_PAYLOADS), "opcua": len(triggered)}
    assert (status["predictions"], status["errors"]) == (len(records) + len(triggered), len(BAD_PAYLOADS))
    metrics = connector.get("/metrics")[1]
    assert 'factory_edge_connect_messages_in_total{source="mqtt"} 307.0' in metrics
    assert "factory_edge_connect_outbox_depth 0.0" in metrics
    drift_status, drift = connector.get("/v1/drift?last=1000")
    assert drift_status == 200 and drift["rows"] == len(records) + len(triggered) and drift["status"] in DRIFT_STATUSES
    assert connector.get("/v1/drift?last=zero") == (400, {"error": "last == 'zero' must be a whole number of rows"})
    assert connector.terminate() == 0
    collector.close()
    publisher.close()
    folder = connector.config.parent
    with sqlite3.connect(folder / "outbox.db") as outbox:
        assert outbox.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    with sqlite3.connect(folder / "predictions.db") as log:
        rows = log.execute("SELECT status, COUNT(*) FROM predictions GROUP BY status ORDER BY status").fetchall()
    assert rows == [(200, len(records) + len(triggered)), (400, len(BAD_PAYLOADS))]
