"""The connector's counters and their Prometheus exposition (``GET /metrics`` on 127.0.0.1:metrics_port).

Counted as things happen (plain integers, written by one thread each, read at scrape time):

- ``factory_edge_connect_messages_in_total{source}``: records taken in (``mqtt``, ``opcua``);
- ``factory_edge_connect_predictions_total`` and ``factory_edge_connect_errors_total``: records
  predicted, and refused (each refusal went to the error topic or node, and to the log);
- ``factory_edge_connect_duplicates_total``: inbound messages the broker marked as redelivered
  (DUP), whose prediction may already have been sent: delivery is at least once;
- ``factory_edge_connect_reconnects_total{link}`` and ``factory_edge_connect_connected{link}``;
- ``factory_edge_connect_outbox_commit_failures_total``;
- ``factory_edge_connect_latency_seconds``: arrival to prediction, a histogram.

Read from the outbox, the holder and the log at scrape time:

- ``factory_edge_connect_messages_out_total`` (delivered and confirmed),
  ``factory_edge_connect_outbox_depth`` (queued), ``factory_edge_connect_outbox_oldest_age_seconds``,
  ``factory_edge_connect_outbox_dropped_total{reason="overflow"|"expired"}``,
  ``factory_edge_connect_outbox_resent_total`` (sent again: possible duplicates);
- ``factory_edge_model_info{model, version, path}``, ``factory_edge_reloads_total{outcome}``;
- ``factory_edge_prediction_log_rows_written_total``, ``..._write_failures_total``;

plus the standard ``process_*`` metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .._holder import ModelHolder
from .._monitor.predictlog import PredictionLog
from .outbox import Outbox

__all__ = ["Counters", "Link", "render_metrics"]

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Link(Protocol):
    """What a connection (MQTT, OPC UA) reports: whether it is up, how often it reconnected."""

    name: str
    connected: bool
    reconnects: int


@dataclass
class Counters:
    """What the connector counts; one registry per connector (tests run several in one process)."""

    messages_in: dict[str, int] = field(default_factory=dict)
    predictions: int = 0
    errors: int = 0
    duplicates: int = 0
    outbox_failures: int = 0
    links: list[Link] = field(default_factory=list)
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        self.latency = Histogram(
            "factory_edge_connect_latency_seconds",
            "From a record's arrival to its prediction (micro-batching included)",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)

    def attach(self, holder: ModelHolder, outbox: Outbox, log: PredictionLog | None) -> None:
        self.registry.register(_StateCollector(self, holder, outbox, log))


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, text, value=value)


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


class _StateCollector(Collector):
    def __init__(self, counters: Counters, holder: ModelHolder, outbox: Outbox, log: PredictionLog | None) -> None:
        self.counters, self.holder, self.outbox, self.log = counters, holder, outbox, log

    def describe(self) -> Iterable[Metric]:
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        counters, outbox = self.counters, self.outbox
        inbound = CounterMetricFamily("factory_edge_connect_messages_in", "Records taken in", labels=["source"])
        for source, count in sorted(counters.messages_in.items()):
            inbound.add_metric([source], count)
        yield inbound
        yield _counter("factory_edge_connect_predictions", "Records predicted", counters.predictions)
        yield _counter("factory_edge_connect_errors", "Records refused (sent to the error topic)", counters.errors)
        yield _counter("factory_edge_connect_duplicates", "Inbound messages redelivered (DUP)", counters.duplicates)
        yield _counter("factory_edge_connect_outbox_commit_failures", "Failed outbox commits", counters.outbox_failures)
        reconnects = CounterMetricFamily("factory_edge_connect_reconnects", "Reconnections", labels=["link"])
        connected = GaugeMetricFamily("factory_edge_connect_connected", "1 while connected", labels=["link"])
        for link in counters.links:
            reconnects.add_metric([link.name], link.reconnects)
            connected.add_metric([link.name], 1.0 if link.connected else 0.0)
        yield reconnects
        yield connected
        yield _counter("factory_edge_connect_messages_out", "Messages delivered and confirmed", outbox.delivered)
        yield _gauge("factory_edge_connect_outbox_depth", "Messages queued in the outbox", outbox.queued)
        yield _gauge(
            "factory_edge_connect_outbox_oldest_age_seconds", "Age of the oldest queued", outbox.oldest_age_s()
        )
        dropped = CounterMetricFamily(
            "factory_edge_connect_outbox_dropped", "Messages the outbox gave up", labels=["reason"]
        )
        dropped.add_metric(["overflow"], outbox.dropped)
        dropped.add_metric(["expired"], outbox.expired)
        yield dropped
        yield _counter("factory_edge_connect_outbox_resent", "Messages sent again (possible duplicates)", outbox.resent)
        yield from self._model()

    def _model(self) -> Iterable[Metric]:
        model = self.holder.current
        info = GaugeMetricFamily(
            "factory_edge_model_info", "The model version in use (always 1)", labels=["model", "version", "path"]
        )
        info.add_metric([model.name, model.version, str(model.path)], 1.0)
        yield info
        reloads = CounterMetricFamily("factory_edge_reloads", "Reload attempts", labels=["outcome"])
        reloads.add_metric(["succeeded"], self.holder.succeeded)
        reloads.add_metric(["refused"], self.holder.refused)
        yield reloads
        if self.log is not None:
            yield _counter("factory_edge_prediction_log_rows_written", "Rows committed", self.log.rows_written)
            yield _counter("factory_edge_prediction_log_write_failures", "Rows not written", self.log.write_failures)


def render_metrics(counters: Counters) -> bytes:
    """The Prometheus text exposition of ``counters``' registry."""
    return generate_latest(counters.registry)
