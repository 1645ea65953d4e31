"""The running server exposes drift over its own prediction log, as JSON and as metrics (issue 6).

Traffic is drawn with numpy from the bundle's own drift reference (tests/runtime/traffic.py), so the
test runs on a device-only install: nothing from ``export``, no pandas.
"""

from __future__ import annotations

from typing import Any

import runtime
from runtime._contract import ExitCode
from runtime._monitor.drift import Thresholds
from tests.runtime.cli.invoke import run
from tests.runtime.traffic import records_like_training

# The temperature sensor reads about one training SD high; values stay inside its valid range.
TEMPERATURE_SHIFT = 18.0


def _records(manifest: runtime.Manifest, rows: int, seed: int, shift: float = 0.0) -> list[dict[str, Any]]:
    records = records_like_training(manifest, rows, seed)
    spec = next(spec for spec in manifest.inputs if spec.name == "temperature")
    assert spec.valid_range is not None
    for record in records:
        if shift and record["temperature"] is not None:
            record["temperature"] = min(record["temperature"] + shift, spec.valid_range[1] - 1.0)
    return records


def test_drift_json_and_metrics_follow_the_log(bundles, start_server):
    folder = bundles.model_folder()
    manifest = runtime.load(folder).manifest
    with start_server(folder, "--drift-window", "600") as server:
        steady_records = _records(manifest, 600, seed=31)
        for start in range(0, 600, 200):
            assert server.post_json("/v1/predict", steady_records[start : start + 200]).status == 200
        steady = server.get("/v1/drift").json()
        assert steady["rows"] == 600 and steady["status"] == "ok"
        assert {column["status"] for column in steady["columns"].values()} == {"ok"}
        assert server.metric('factory_edge_drift_status{scope="overall"}') == 0.0

        shifted_records = _records(manifest, 600, seed=32, shift=TEMPERATURE_SHIFT)
        for start in range(0, 600, 200):
            assert server.post_json("/v1/predict", shifted_records[start : start + 200]).status == 200
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


def test_six_logged_requests_are_insufficient_data_not_an_alert(bundles, start_server, capsys):
    """The first requests after a deployment: a real server, six logged requests, then /v1/drift, the
    gauges and ``python -m runtime drift`` over the same log (issue 11, must show 6)."""
    folder = bundles.model_folder()
    manifest = runtime.load(folder).manifest
    minimum = Thresholds().min_rows
    with start_server(folder) as server:
        for record in _records(manifest, 6, seed=41):
            assert server.post_json("/v1/predict", record).status == 200
        report = server.get("/v1/drift").json()
        assert (report["rows"], report["status"]) == (6, "insufficient data")
        for column in report["columns"].values():
            assert (column["status"], column["psi"], column["ks"]) == ("insufficient data", None, None)
            assert column["reasons"] == [f"only 6 rows; at least {minimum} are needed to judge a column (min_rows)"]
        assert report["predictions"]["status"] == "insufficient data"
        assert report["thresholds"]["min_rows"] == minimum
        assert server.metric('factory_edge_drift_status{scope="overall"}') == -1.0
        assert server.metric('factory_edge_drift_column_status{column="temperature"}') == -1.0
        assert "factory_edge_drift_psi{" not in server.get("/metrics").body.decode()
        assert server.log_path is not None
        code, out, err = run(capsys, "drift", folder, "--log", server.log_path)
        assert (code, err) == (ExitCode.NOTHING_TO_JUDGE, "")
        assert out.startswith(f"drift of quality {manifest.version} over 6 rows from ")
        assert out.splitlines()[0].endswith(": INSUFFICIENT DATA")
        assert "alert" not in out
        # the minimum is what keeps this quiet: without it the same six rows alert, as they did before
        code, out, _ = run(capsys, "drift", folder, "--log", server.log_path, "--min-rows", "1")
        assert code == ExitCode.DRIFT_ALERT and out.splitlines()[0].endswith(": ALERT")
