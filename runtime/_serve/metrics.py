"""Prometheus metrics of one server, in a private registry (``GET /metrics``).

Counted by the request handlers:

- ``factory_edge_http_requests_total{endpoint, status}``: every response; ``endpoint`` is the route
  template (``/v2/models/{name}/infer``), ``unmatched`` for paths no route serves;
- ``factory_edge_http_errors_total{kind}``: ``bad_input`` (400), ``not_found`` (404),
  ``method_not_allowed`` (405), ``too_large`` (413), ``timeout`` (503), ``internal`` (500),
  ``unauthorized`` (401), ``forbidden`` (403), ``misdirected`` (421, a Host not allowed),
  ``overloaded`` (503, ``--max-inflight-body-bytes``);
- ``factory_edge_connections_closed_total{reason}``: connections the server closed before a request
  head was complete: ``idle`` (nothing sent), ``header`` (head too slow), ``evicted`` (the oldest
  waiting one, for a new connection at ``--max-connections``), ``over_capacity``;
- ``factory_edge_http_request_duration_seconds{endpoint}``: latency histogram;
- ``factory_edge_predicted_rows_total{version}``: rows predicted, by the version that served them;
- ``factory_edge_flagged_values_total{policy}``: values accepted and flagged in predicted rows, by
  the policy that accepted them: ``on_unknown`` (unknown categories, ``--on-unknown flag``) and
  ``on_out_of_range`` (numbers outside the valid range, ``--on-out-of-range flag``);
- ``factory_edge_prediction_log_unconfirmed_total``: answers sent before the log confirmed them.

Read at scrape time from the model holder and the prediction log, so they cannot drift from
``GET /v1/status``:

- ``factory_edge_model_info{model, version, path}`` (always 1) and
  ``factory_edge_model_loaded_timestamp_seconds``;
- ``factory_edge_reloads_total{outcome="succeeded"|"refused"}``;
- ``factory_edge_prediction_log_rows_written_total``, ``..._write_failures_total`` (rows not
  written), ``..._rows_pruned_total``, ``..._queued_rows``;

plus the standard ``process_*`` metrics (resident memory, CPU seconds, open files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .._holder import ModelHolder
from .._monitor.predictlog import PredictionLog
from .._validation import FLAG_KINDS, flag_kind

__all__ = ["CLOSE_REASONS", "ERROR_KINDS", "ServerMetrics"]

ERROR_KINDS = (
    "bad_input",
    "not_found",
    "method_not_allowed",
    "too_large",
    "timeout",
    "log_required",
    "internal",
    "unauthorized",
    "forbidden",
    "misdirected",
    "overloaded",
)
CLOSE_REASONS = ("idle", "header", "evicted", "over_capacity")
# From a single-record call on a small device (well under a millisecond) to a large batch.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _StateCollector(Collector):
    def __init__(self, holder: ModelHolder, log: PredictionLog | None) -> None:
        self._holder = holder
        self._log = log

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        holder = self._holder
        model = holder.current
        info = GaugeMetricFamily(
            "factory_edge_model_info", "The model version being served (always 1)", labels=["model", "version", "path"]
        )
        info.add_metric([model.name, model.version, str(model.path)], 1.0)
        yield info
        verified = GaugeMetricFamily(
            "factory_edge_model_signature_verified",
            "1 when the served bundle's model.sig verified with a trusted key, 0 when it is unverified",
            labels=["model", "version", "key_id"],
        )
        signature = model.signature
        verified.add_metric([model.name, model.version, signature.key_id or ""], 1.0 if signature.verified else 0.0)
        yield verified
        loaded = GaugeMetricFamily(
            "factory_edge_model_loaded_timestamp_seconds", "When the served version was loaded (Unix time)"
        )
        loaded.add_metric([], holder.loaded_epoch)
        yield loaded
        reloads = CounterMetricFamily(
            "factory_edge_reloads", "Reload attempts that swapped in a new version or were refused", labels=["outcome"]
        )
        reloads.add_metric(["succeeded"], float(holder.succeeded))
        reloads.add_metric(["refused"], float(holder.refused))
        yield reloads
        log = self._log
        written = CounterMetricFamily(
            "factory_edge_prediction_log_rows_written", "Rows committed to the prediction log"
        )
        failures = CounterMetricFamily(
            "factory_edge_prediction_log_write_failures", "Rows the prediction log failed to write"
        )
        pruned = CounterMetricFamily("factory_edge_prediction_log_rows_pruned", "Rows deleted by log retention")
        queued = GaugeMetricFamily("factory_edge_prediction_log_queued_rows", "Rows waiting for the log writer")
        written.add_metric([], float(log.rows_written) if log else 0.0)
        failures.add_metric([], float(log.write_failures) if log else 0.0)
        pruned.add_metric([], float(log.rows_pruned) if log else 0.0)
        queued.add_metric([], float(log.queued_rows) if log else 0.0)
        yield from (written, failures, pruned, queued)


# -1: too few rows to judge ("insufficient data"), so an alert rule on >= 1 never fires on it
_STATUS_VALUE = {"insufficient data": -1.0, "ok": 0.0, "warn": 1.0, "alert": 2.0}
_POLICY_OF_KIND = {kind: policy for policy, kind in FLAG_KINDS.items()}


class DriftCollector(Collector):
    """Gauges from the server's last finished drift report: status per column (-1 insufficient data,
    0 ok, 1 warn, 2 alert),
    PSI, the overall status, the window size, when the report finished and, with fed-back labels,
    accuracy. A scrape never computes one: the data plane refreshes the report in the background."""

    def __init__(
        self, report: Callable[[], dict[str, Any] | None], finished: Callable[[], float | None] | None = None
    ) -> None:
        self._report = report
        self._finished = finished

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        report = self._report()
        if not report or report.get("status") not in _STATUS_VALUE:
            return
        overall = GaugeMetricFamily(
            "factory_edge_drift_status", "Drift status: -1 insufficient data, 0 ok, 1 warn, 2 alert", labels=["scope"]
        )
        overall.add_metric(["overall"], _STATUS_VALUE[report["status"]])
        if report.get("predictions"):
            overall.add_metric(["predictions"], _STATUS_VALUE[report["predictions"]["status"]])
        accuracy = report.get("accuracy") or {}
        overall.add_metric(["accuracy"], _STATUS_VALUE[accuracy.get("status", "ok")])
        yield overall
        columns = GaugeMetricFamily(
            "factory_edge_drift_column_status",
            "Drift status per input column: -1 insufficient data, 0 ok, 1 warn, 2 alert",
            labels=["column"],
        )
        psi = GaugeMetricFamily(
            "factory_edge_drift_psi", "Population stability index per input column", labels=["column"]
        )
        for name, column in report["columns"].items():
            columns.add_metric([name], _STATUS_VALUE[column["status"]])
            if column.get("psi") is not None:
                psi.add_metric([name], float(column["psi"]))
        yield columns
        yield psi
        rows = GaugeMetricFamily("factory_edge_drift_window_rows", "Logged predictions in the drift window")
        rows.add_metric([], float(report["rows"]))
        yield rows
        finished = self._finished() if self._finished is not None else None
        if finished is not None:
            timestamp = GaugeMetricFamily(
                "factory_edge_drift_report_timestamp_seconds", "When the drift report shown finished (Unix time)"
            )
            timestamp.add_metric([], finished)
            yield timestamp
        if "accuracy" in accuracy:
            value = GaugeMetricFamily("factory_edge_accuracy", "Accuracy over fed-back labels in the drift window")
            value.add_metric([], float(accuracy["accuracy"]))
            yield value


class ServerMetrics:
    """The metrics of one app instance; several apps in one process never share a series."""

    def __init__(self, holder: ModelHolder, log: PredictionLog | None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "factory_edge_http_requests",
            "HTTP responses by endpoint and status code",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.errors = Counter("factory_edge_http_errors", "Failed requests by kind", ["kind"], registry=self.registry)
        for kind in ERROR_KINDS:
            self.errors.labels(kind)  # present at 0 from the start, so alerts can use rate()
        self.latency = Histogram(
            "factory_edge_http_request_duration_seconds",
            "Time from the request's arrival to its response",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "factory_edge_connections_closed",
            "Connections closed by the server before their request head was complete, by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in CLOSE_REASONS:
            self.connections_closed.labels(reason)
        self.predicted_rows = Counter(
            "factory_edge_predicted_rows",
            "Rows predicted, by the model version that served them",
            ["version"],
            registry=self.registry,
        )
        self.flagged_values = Counter(
            "factory_edge_flagged_values",
            "Values accepted and flagged in predicted rows, by the policy that accepted them",
            ["policy"],
            registry=self.registry,
        )
        for policy in FLAG_KINDS:
            self.flagged_values.labels(policy)
        self.log_unconfirmed = Counter(
            "factory_edge_prediction_log_unconfirmed",
            "Predictions answered before the log confirmed their commit (the request's time ran out)",
            registry=self.registry,
        )
        self.registry.register(_StateCollector(holder, log))
        ProcessCollector(registry=self.registry)

    def observe(self, endpoint: str, status: int, seconds: float, error_kind: str | None) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if error_kind is not None:
            self.errors.labels(error_kind).inc()

    def count_flags(self, flags: Mapping[int, Iterable[str]]) -> None:
        """Count the flags of one answer's rows (row -> flags) by the policy that accepted each value."""
        for row_flags in flags.values():
            for flag in row_flags:
                policy = _POLICY_OF_KIND.get(flag_kind(flag))
                if policy is not None:
                    self.flagged_values.labels(policy).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
