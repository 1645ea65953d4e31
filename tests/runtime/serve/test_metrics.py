"""Server metrics (runtime._metrics): a private registry per app, state read from the holder and the log."""

from __future__ import annotations

import runtime
from runtime._holder import ModelHolder
from runtime._monitor.predictlog import PredictionLog
from runtime._serve.metrics import ERROR_KINDS, ServerMetrics


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not found in:\n{text}")


def test_each_app_has_its_own_registry(bundles):
    folder = bundles.model_folder()
    holder = ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=0)
    first, second = ServerMetrics(holder, None), ServerMetrics(holder, None)  # no "Duplicated timeseries"
    first.observe("/v1/predict", 400, 0.002, "bad_input")
    first.predicted_rows.labels("1.0.0").inc(3)
    text = first.render().decode()
    assert sample(text, 'factory_edge_http_requests_total{endpoint="/v1/predict",status="400"}') == 1
    assert sample(text, 'factory_edge_http_errors_total{kind="bad_input"}') == 1
    assert sample(text, 'factory_edge_predicted_rows_total{version="1.0.0"}') == 3
    assert sample(text, 'factory_edge_http_request_duration_seconds_bucket{endpoint="/v1/predict",le="0.005"}') == 1
    other = second.render().decode()
    assert 'factory_edge_http_requests_total{endpoint="/v1/predict"' not in other
    for kind in ERROR_KINDS:  # every kind is there from the start, at 0
        assert sample(other, f'factory_edge_http_errors_total{{kind="{kind}"}}') == 0


def test_state_is_read_from_the_holder_and_the_log_at_scrape_time(bundles, tmp_path):
    folder = bundles.model_folder()
    holder = ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=0)
    log = PredictionLog(tmp_path / "not-a-dir" / "log.db")  # every write fails: the parent is missing
    try:
        metrics = ServerMetrics(holder, log)
        bundles.add_version(folder, "1.0.1", damage="golden")
        bundles.set_current(folder, "1.0.1")
        holder.check_pointer()
        from runtime._monitor.predictlog import LogEntry

        entry = LogEntry("r", 0.0, "/v1/predict", 400, None, None, 0.1, error="x")
        assert log.submit(entry).result(5) == "failed"
        text = metrics.render().decode()
    finally:
        log.close()
    assert sample(text, 'factory_edge_reloads_total{outcome="refused"}') == 1
    assert sample(text, 'factory_edge_reloads_total{outcome="succeeded"}') == 0
    assert sample(text, f'factory_edge_model_info{{model="quality",path="{folder / "1.0.0"}",version="1.0.0"}}') == 1
    assert sample(text, "factory_edge_prediction_log_write_failures_total") == 1
    assert sample(text, "factory_edge_prediction_log_rows_written_total") == 0
