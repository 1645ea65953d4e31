"""The connector process: its parts wired together, the run loop, and how it stops.

:class:`Connector` owns the model holder (hot reload on a ``CURRENT`` change, with the interface
guard, as in ``serve``), the outbox, the batcher, one link per configured section (MQTT, OPC UA)
and the metrics endpoint. :func:`run_until_signalled` runs it in the main thread:

- ``SIGTERM`` / ``SIGINT``: stop taking input (MQTT messages that arrive from now on stay
  unacknowledged with the broker for the next run), predict and commit what was taken, deliver
  what the outbox holds (for up to ``flush_timeout_s``; what is left stays in the outbox and is
  sent on the next start), then disconnect;
- ``SIGHUP``: reload the bundle now.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from .._errors import InputError
from .._holder import ModelHolder
from .._model import Model
from .._monitor.predictlog import PredictionLog
from .._monitor.windows import MAX_WINDOW_ROWS, drift_from_log
from .._text import json_safe, utc_iso
from .batcher import Batcher
from .config import ConnectConfig, check_against_model
from .health import HealthServer
from .metrics import Counters, Link
from .outbox import Outbox
from .routes import Router

__all__ = ["Connector", "run_until_signalled"]

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 10.0
DRIFT_WINDOW_ROWS = 10_000


class _LinkPart(Link, Protocol):
    """A link as the connector drives it (MQTT, OPC UA)."""

    def start(self) -> None: ...
    def stop_input(self) -> None: ...
    def flush(self, timeout_s: float) -> bool: ...
    def stop(self) -> None: ...


class Connector:
    """Every part of one connector; :meth:`start`, then :meth:`shutdown`.

    Examples
    --------
    >>> connector = Connector(read_config("connect.toml"), runtime.load(...), loader=runtime.load)  # doctest: +SKIP
    >>> connector.start(); ...; connector.shutdown()  # doctest: +SKIP
    """

    def __init__(
        self,
        config: ConnectConfig,
        model: Model,
        *,
        loader: Callable[[Path], Model],
        log: PredictionLog | None = None,
    ) -> None:
        check_against_model(config, model)
        self.config, self.log = config, log
        self.started_at = utc_iso()
        self.holder = ModelHolder(
            config.bundle,
            model,
            loader=loader,
            poll_s=config.poll_s,
            allow_interface_change=config.allow_interface_change,
            process="connector",
        )
        self.outbox = Outbox(config.outbox, max_messages=config.outbox_max_messages, max_age_s=config.outbox_max_age_s)
        self.counters = Counters()
        self.counters.attach(self.holder, self.outbox, log)
        self.batcher = Batcher(
            self.holder,
            self.outbox,
            Router(config),
            self.counters,
            log=log,
            max_rows=config.batch_max_rows,
            max_wait_ms=config.batch_max_wait_ms,
        )
        self.links: list[_LinkPart] = []
        if config.mqtt is not None:
            from .mqtt import MqttLink

            decode = {"columns": frozenset(model.columns), "renames": config.renames, "units": config.units}
            self.links.append(MqttLink(config.mqtt, self.batcher, self.outbox, decode))
        if config.opcua is not None:
            from .opcua import OpcuaLink

            self.links.append(OpcuaLink(config.opcua, self.batcher, self.outbox, config.units))
        self.counters.links = list(self.links)
        port = config.metrics_port
        self.health = HealthServer(port, self.counters, self.status, self.drift) if port is not None else None
        self._drift_lock = threading.Lock()

    def start(self) -> None:
        if self.health is not None:
            self.health.start()
        self.holder.start()
        self.batcher.start()
        for link in self.links:
            link.start()
        model = self.holder.current
        logger.info(
            "connecting %r %s: %s; outbox %s (%d queued)",
            model.name,
            model.version,
            ", ".join(link.name for link in self.links),
            self.config.outbox,
            self.outbox.queued,
        )

    def shutdown(self, flush_timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Stop taking input, commit what was taken, deliver the outbox; True if it emptied."""
        for link in self.links:
            link.stop_input()
        self.batcher.stop()
        deadline = time.monotonic() + flush_timeout_s
        flushed = all([link.flush(max(0.0, deadline - time.monotonic())) for link in self.links])
        if not flushed:
            logger.warning(
                "stopping with %d messages still in the outbox; they are sent on the next start", self.outbox.queued
            )
        for link in self.links:
            link.stop()
        self.holder.stop()
        if self.health is not None:
            self.health.stop()
        self.outbox.close()
        return flushed

    def drift(self, last: str | None) -> dict[str, Any]:
        """``GET /v1/drift[?last=N]``: drift of the last N logged predictions (default 10,000), as serve's.

        Raises :class:`runtime.InputError` for a bad ``last`` and ``LookupError`` without a log; one
        computation at a time (it reads the log in chunks, in fixed memory).
        """
        if self.log is None:
            raise LookupError('drift is measured on the prediction log: set log = "FILE" in the config')
        try:
            rows = int(last) if last is not None else DRIFT_WINDOW_ROWS
        except ValueError:
            raise InputError(f"last == {last!r} must be a whole number of rows") from None
        if rows < 1:
            raise InputError(f"last == {rows} must be >= 1")
        self.log.flush().result(10)
        with self._drift_lock:
            report = drift_from_log(self.log.path, self.holder.current.manifest, last=min(rows, MAX_WINDOW_ROWS))
        return dict(json_safe(report))

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/status`` shows."""
        counters, outbox = self.counters, self.outbox
        return {
            "started_at": self.started_at,
            "model": self.holder.status(),
            "links": {link.name: {"connected": link.connected, "reconnects": link.reconnects} for link in self.links},
            "messages_in": dict(counters.messages_in),
            "predictions": counters.predictions,
            "errors": counters.errors,
            "duplicates": counters.duplicates,
            "outbox": {
                "path": str(outbox.path),
                "depth": outbox.queued,
                "oldest_age_s": outbox.oldest_age_s(),
                "delivered": outbox.delivered,
                "dropped": outbox.dropped,
                "expired": outbox.expired,
                "resent": outbox.resent,
                "max_messages": outbox.max_messages,
                "max_age_s": outbox.max_age_s,
            },
            "log": self.log.status() if self.log is not None else None,
        }


def run_until_signalled(
    connector: Connector, *, flush_timeout_s: float = FLUSH_TIMEOUT_S, ready: Callable[[Connector], None] | None = None
) -> bool:
    """Start ``connector``, run until SIGTERM or SIGINT (SIGHUP reloads), shut down; True if flushed."""
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        logger.info("%s: stopping (no more input; flushing the outbox)", signal.Signals(signum).name)
        stop.set()

    def reload(signum: int, frame: FrameType | None) -> None:
        connector.holder.request_reload("SIGHUP")

    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGHUP, reload)
    try:
        connector.start()
        if ready is not None:
            ready(connector)
        while not stop.wait(0.5):
            pass
        return connector.shutdown(flush_timeout_s)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
