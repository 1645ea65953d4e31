"""The running server exposes drift over its own prediction log, as JSON and as metrics (issue 6)."""

from __future__ import annotations

import math

import pytest

pd = pytest.importorskip("pandas")
from export._data import make_demo_data  # noqa: E402

FEATURES = ["temperature", "pressure", "speed", "humidity", "vibration", "machine_type", "shift"]


def _records(rows: int, seed: int, shift: float = 0.0) -> list[dict]:
    frame = make_demo_data(rows, seed=seed)
    frame["temperature"] = (frame["temperature"] + shift).clip(upper=299.0)
    records = []
    for row in frame[FEATURES].itertuples(index=False):
        record = {}
        for name, value in zip(FEATURES, row):
            record[name] = None if value == "" or (isinstance(value, float) and math.isnan(value)) else value
        records.append(record)
    return records


def test_drift_json_and_metrics_follow_the_log(bundles, start_server):
    with start_server(bundles.model_folder(), "--drift-window", "600") as server:
        for start in range(0, 600, 200):
            assert server.post_json("/v1/predict", _records(600, seed=31)[start : start + 200]).status == 200
        steady = server.get("/v1/drift").json()
        assert steady["rows"] == 600 and steady["status"] == "ok"
        assert {column["status"] for column in steady["columns"].values()} == {"ok"}
        assert server.metric('factory_edge_drift_status{scope="overall"}') == 0.0

        for start in range(0, 600, 200):  # the temperature sensor now reads one SD high
            assert (
                server.post_json("/v1/predict", _records(600, seed=32, shift=18.0)[start : start + 200]).status == 200
            )
        shifted = server.get("/v1/drift?last=600").json()
        assert shifted["status"] == "alert"
        assert [name for name, column in shifted["columns"].items() if column["status"] == "alert"] == ["temperature"]
        assert server.metric('factory_edge_drift_column_status{column="temperature"}') == 2.0
        assert server.metric('factory_edge_drift_column_status{column="pressure"}') == 0.0
        assert server.metric("factory_edge_drift_window_rows") == 600.0
        assert server.get("/v1/drift?last=zero").status == 400


def test_drift_needs_the_log(bundles, start_server):
    with start_server(bundles.model_folder(), log=False) as server:
        reply = server.get("/v1/drift")
        assert reply.status == 409
        assert reply.json() == {"error": "drift is measured on the prediction log: start the server with --log"}
