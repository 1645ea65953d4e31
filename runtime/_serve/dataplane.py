"""The data plane: what the server does, with no HTTP in it (as MLServer's ``DataPlane``).

Predictions (``/v1/predict`` records, Open Inference Protocol infer), model metadata and readiness,
status, reloads, drift over the prediction log (with its cache) and the log itself. Inputs are
plain Python values and request bodies as bytes; outputs are plain results (an :class:`Answer` for a
prediction, dicts for the rest) or typed errors: :class:`runtime.InputError` for a bad request and
those of :mod:`runtime._serve.errors`. :mod:`runtime._serve.endpoints` only moves bytes, limits
them and picks the HTTP status, so everything here is tested without a server
(``tests/runtime/serve/test_dataplane.py``).

Concurrency: one event loop. A request of up to ``INLINE_ROWS`` rows is validated and predicted on
the loop itself (a record takes tens of microseconds; a thread hop would cost more); larger
requests, and bodies over ``INLINE_BODY_BYTES``, are parsed and predicted in a worker thread so the
loop keeps answering. A worker thread gets what is left of the request's time; onnxruntime cannot be
interrupted, so a call that runs out finishes in its thread, unobserved, and the request gets a
:class:`DeadlineError`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import anyio
import anyio.to_thread

from .. import __version__
from .._errors import InputError
from .._holder import ModelHolder, ReloadAttempt
from .._json_body import parse_json
from .._model import Model
from .._monitor.predictlog import LogEntry, PredictionLog
from .._monitor.windows import MAX_WINDOW_ROWS, drift_from_log
from .._process import current_rss_mb, peak_rss_mb
from .._text import json_safe, utc_iso
from .._validation import policy_hints
from .bad_rows import rows_refused
from .call import Call
from .config import ServeConfig
from .errors import DeadlineError, LogRequiredError, LogUnreadableError, NotServedError, RefusedError
from .metrics import DriftCollector, ServerMetrics
from .outcome import Outcome
from .protocol_v1 import check_records, encode_predict_response
from .protocol_v2 import InferRequest, decode_infer_request, encode_infer_response, model_metadata

__all__ = ["INLINE_BODY_BYTES", "INLINE_ROWS", "SERVE_FLAG_HINT", "Answer", "DataPlane"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

INLINE_ROWS = 16
INLINE_BODY_BYTES = 64 * 1024
# However little of --timeout-s is left, the log gets this long to confirm a commit.
LOG_WAIT_MIN_S = 1.0
# How a server is told to accept unknown categories or values out of range (the runtime's messages
# name load(on_unknown="flag")).
SERVE_HINTS = policy_hints("(start the server with {option} flag to accept and flag it)")
SERVE_FLAG_HINT = SERVE_HINTS["on_unknown"]
_JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Answer:
    """A prediction answered: the encoded response and its headers (content type, and the JSON
    header's length for binary v2 outputs), the predictions, and what the log did with them
    (``written``, ``failed``, ``unconfirmed`` or ``off``)."""

    body: bytes
    headers: Mapping[str, str]
    outcome: Outcome
    log_status: str


def _predict_record(model: Model, record: Mapping[str, Any], *, row_numbers: bool) -> Outcome:
    """One record on the fast path; on bad input, the batch path words the error with its row."""
    try:
        return Outcome.of_prediction(model.predict(record), model.classes)
    except InputError as error:
        if not row_numbers:
            raise _as_served(error) from None
    return _predict_batch(model, [record])


def _predict_batch(model: Model, batch: Any) -> Outcome:
    """A batch predicted, or refused naming every bad row (:mod:`.bad_rows`); a batch of the wrong
    shape is refused as the runtime words it."""
    try:
        result = model.predict_batch(batch, errors="skip")
    except InputError as error:
        raise _as_served(error) from None
    if result.rejected:
        raise rows_refused(result.rejected, len(result) + len(result.rejected), SERVE_HINTS)
    return Outcome.of_batch(result)


def _predict_columns(model: Model, request: InferRequest) -> Outcome:
    if request.rows == 1:
        return _predict_record(model, request.record(0), row_numbers=True)
    return _predict_batch(model, request.columns)


def _as_served(error: InputError) -> InputError:
    """``error`` worded for the server: an unknown category's hint names ``--on-unknown flag``
    where the runtime's names ``load(on_unknown="flag")`` (and so for values out of range); other
    errors are returned as they are."""
    problem = error.problem
    if problem is None or problem.hint is None:
        return error
    return InputError(
        error.render(hints=SERVE_HINTS),
        column=error.column,
        value=error.value,
        row=error.row,
        problem=problem,
        invalid_rows=error.invalid_rows,
    )


class DataPlane:
    """Everything one server answers, over ``holder``'s model, the optional ``log`` and ``config``.

    Examples
    --------
    >>> plane = DataPlane(ModelHolder(path, runtime.load(path), loader=runtime.load))  # doctest: +SKIP
    >>> answer = asyncio.run(plane.predict(Call(10.0, "/v1/predict"), b'{"temperature": 201.5, ...}'))  # doctest: +SKIP
    >>> json.loads(answer.body)["label"], answer.log_status  # doctest: +SKIP
    (0, 'off')
    """

    def __init__(
        self, holder: ModelHolder, *, log: PredictionLog | None = None, config: ServeConfig | None = None
    ) -> None:
        self.holder = holder
        self.log = log
        self.config = config or ServeConfig()
        self.metrics = ServerMetrics(holder, log)
        self.limiter = anyio.CapacityLimiter(self.config.worker_threads)
        self.started_epoch = time.time()
        self.started_monotonic = time.monotonic()
        self.log_unconfirmed = 0
        # The last finished drift report the gauges show (see _keep_drift), the one computation in
        # flight (its window and task) and /metrics' background refresh of the gauges.
        self._drift: _FinishedDrift | None = None
        self._drift_running: tuple[int, asyncio.Task[dict[str, Any]]] | None = None
        self._drift_refresh: asyncio.Task[None] | None = None
        if self.config.drift_window_rows > MAX_WINDOW_ROWS:
            logger.warning(
                "--drift-window %d is more than a drift window holds; judging the newest %d rows",
                self.config.drift_window_rows,
                MAX_WINDOW_ROWS,
            )
        self.metrics.registry.register(DriftCollector(self.last_drift, self.last_drift_epoch))

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the holder's reload threads (the log's writer runs from its creation)."""
        self.holder.start()
        model = self.holder.current
        where = self.log.path if self.log is not None else "off"
        logger.info("serving %r %s from %s (log: %s)", model.name, model.version, model.path, where)

    async def close(self) -> None:
        """Stop the reload threads, then write what the log holds and close it."""
        await anyio.to_thread.run_sync(self.holder.stop)
        if self.log is not None:
            await anyio.to_thread.run_sync(self.log.close)

    # -- the model served -------------------------------------------------------------------------
    def served_model(self, call: Call, name: str, version: str | None = None) -> Model:
        """The model named ``name`` (and ``version``, if given), as served now; it answers ``call``."""
        model = self.holder.current
        if name != model.name:
            raise NotServedError(f"unknown model {name!r}: this server serves {model.name!r}.")
        if version is not None and version != model.version:
            raise NotServedError(f"model {name!r} has no version {version!r} here: it serves {model.version}.")
        call.model = model
        return model

    def server_metadata(self) -> dict[str, Any]:
        return {
            "name": "factory-edge",
            "version": __version__,
            "extensions": ["binary_tensor_data", "model_repository"],
        }

    def model_metadata(self, call: Call, name: str, version: str | None = None) -> dict[str, Any]:
        return model_metadata(self.served_model(call, name, version))

    def model_ready(self, call: Call, name: str, version: str | None = None) -> dict[str, Any]:
        model = self.served_model(call, name, version)
        return {"name": model.name, "version": model.version, "ready": True}

    def repository_index(self) -> list[dict[str, Any]]:
        model = self.holder.current
        return [{"name": model.name, "version": model.version, "state": "READY", "reason": ""}]

    # -- predictions ------------------------------------------------------------------------------
    async def predict(self, call: Call, body: bytes) -> Answer:
        """``POST /v1/predict``: one record or a list of records (:mod:`runtime._serve.protocol_v1`)."""
        model = call.model = self.holder.current
        if len(body) > INLINE_BODY_BYTES:
            data = await self._offload(call, lambda: parse_json(body), "reading the request")
        else:
            data = parse_json(body)
        records = check_records(data)
        if isinstance(records, dict):
            outcome = _predict_record(model, records, row_numbers=False)
            content = encode_predict_response(outcome, call.request_id, single=True)
            return await self._answer(call, outcome, [records], content, _JSON)

        def batch() -> tuple[Outcome, bytes]:
            outcome = _predict_batch(model, records)
            return outcome, encode_predict_response(outcome, call.request_id, single=False)

        if len(records) > INLINE_ROWS:
            outcome, content = await self._offload(call, batch, f"predicting {len(records)} rows")
        else:
            outcome, content = batch()
        return await self._answer(call, outcome, records, content, _JSON)

    async def infer(self, call: Call, model: Model, body: bytes, header_length: str | None) -> Answer:
        """``POST /v2/models/{name}/infer`` (:mod:`runtime._serve.protocol_v2`) with ``model``, what
        :meth:`served_model` returned for the request's name: resolving it first lets a request
        for another model be refused before its body is read."""

        def decode() -> InferRequest:
            decoded = decode_infer_request(body, header_length, model, max_elements=self.config.max_elements)
            if decoded.id is not None:
                call.set_request_id(decoded.id, 'infer request field "id"')
            return decoded

        def respond(decoded: InferRequest) -> tuple[Outcome, bytes, dict[str, str]]:
            outcome = _predict_columns(model, decoded)
            content, headers = encode_infer_response(outcome, decoded, call.request_id)
            return outcome, content, headers

        large = len(body) > INLINE_BODY_BYTES
        decoded = await self._offload(call, decode, "reading the request") if large else decode()
        if decoded.rows > INLINE_ROWS or large:
            work = functools.partial(respond, decoded)
            outcome, content, headers = await self._offload(call, work, f"predicting {decoded.rows} rows")
        else:
            outcome, content, headers = respond(decoded)
        return await self._answer(call, outcome, decoded.columns, content, headers)

    async def _offload(self, call: Call, work: Callable[[], T], what: str) -> T:
        """Run ``work`` in a worker thread within the request's time."""
        with anyio.move_on_after(call.remaining()):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=self.limiter)
        raise DeadlineError(f"request timed out after {self.config.timeout_s:g} s (--timeout-s) while {what}.")

    async def _answer(
        self, call: Call, outcome: Outcome, inputs: Any, body: bytes, headers: Mapping[str, str]
    ) -> Answer:
        """Count the rows, log them and wait for the log's commit, then hand the answer back."""
        self.metrics.predicted_rows.labels(outcome.version).inc(outcome.rows)
        if outcome.flags:
            self.metrics.count_flags(outcome.flags)
        entry = LogEntry(
            request_id=call.request_id,
            epoch=call.epoch,
            endpoint=call.endpoint,
            status=200,
            model=outcome.model,
            version=outcome.version,
            latency_ms=call.latency_ms(),
            inputs=inputs,
            classes=outcome.classes,
            labels=outcome.labels,
            probabilities=outcome.probabilities,
            values=outcome.values,
            flags=outcome.flags,
        )
        log_status = await self._wait_for_log(call, entry)
        if self.config.log_required and log_status != "written":
            raise LogRequiredError(
                f"the prediction was made but its log row was not committed (log status {log_status}); this "
                "server answers only predictions it has logged (--log-required): see /v1/status for the log's error"
            )
        return Answer(body, headers, outcome, log_status)

    # -- the prediction log -----------------------------------------------------------------------
    async def log_rejection(self, call: Call, status: int, error: str) -> str:
        """Log a prediction request that was refused with ``status``; what the log did with it."""
        if self.log is None:
            return "off"
        model = call.model or self.holder.current
        body = call.body
        entry = LogEntry(
            request_id=call.request_id,
            epoch=call.epoch,
            endpoint=call.endpoint,
            status=status,
            model=model.name,
            version=model.version,
            latency_ms=call.latency_ms(),
            error=error,
            request_excerpt=body[:4096].decode("utf-8", errors="replace") if body else None,
        )
        return await self._wait_for_log(call, entry)

    async def _wait_for_log(self, call: Call, entry: LogEntry) -> str:
        if self.log is None:
            return "off"
        future = self.log.submit(entry)
        if future.done():
            return future.result()
        with anyio.move_on_after(max(call.remaining(), LOG_WAIT_MIN_S)):
            return await asyncio.wrap_future(future)
        self.log_unconfirmed += 1
        self.metrics.log_unconfirmed.inc()
        logger.warning("prediction log did not confirm request %s in time; answered anyway", call.request_id)
        return "unconfirmed"

    # -- state and reloads ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """``GET /v1/status``: the model served and its reloads, the log, the server."""
        return {
            "model": self.holder.status(),
            "log": self.log.status() if self.log is not None else None,
            "log_unconfirmed": self.log_unconfirmed,
            "server": {
                "runtime_version": __version__,
                "pid": os.getpid(),
                "started_at": utc_iso(self.started_epoch, timespec="seconds"),
                "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
                "rss_mb": round(current_rss_mb(), 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "max_body_bytes": self.config.max_body_bytes,
                "timeout_s": self.config.timeout_s,
            },
        }

    async def reload(self, trigger: str = "admin") -> ReloadAttempt:
        """Load the bundle folder again now; :class:`RefusedError` if its bundle fails verification."""
        attempt = await asyncio.wrap_future(self.holder.request_reload(trigger))
        if attempt.outcome == "refused":
            raise RefusedError(f"reload refused: {attempt.error}; still serving {attempt.serving}.")
        return attempt

    async def load(self, body: bytes) -> None:
        """The repository extension's load: a reload of the server's own bundle folder."""
        if body.strip():
            options = parse_json(body)
            parameters = options.get("parameters") if isinstance(options, dict) else None
            if parameters:
                raise InputError(
                    "load with a config or files is not supported: the server reloads its own bundle folder "
                    f"({self.holder.path})."
                )
        await self.reload("admin")

    def unload(self) -> NoReturn:
        raise InputError("unload is not supported: this server serves one model; stop the server to stop serving it.")

    # -- drift ------------------------------------------------------------------------------------
    # One drift computation at a time, in a worker thread, over its own read of the log: a request
    # for the window being computed gets that computation's result, one for another window waits for
    # it first. /metrics never waits: it shows the last finished report and starts a refresh in the
    # background when that is older than drift_max_age_s.

    @property
    def _drift_window(self) -> int:
        """The configured window (--drift-window), within the cap."""
        return min(self.config.drift_window_rows, MAX_WINDOW_ROWS)

    async def drift(self, last: str | None = None) -> dict[str, Any]:
        """Drift of the last ``last`` logged predictions (as given in ``?last=``; default: the configured
        window), computed now; more than ``MAX_WINDOW_ROWS`` means the newest ``MAX_WINDOW_ROWS``."""
        if self.log is None:
            raise RefusedError("drift is measured on the prediction log: start the server with --log")
        try:
            rows = int(last) if last is not None else self._drift_window
        except ValueError:
            raise InputError(f"last == {last!r} must be a whole number of rows") from None
        if rows < 1:
            raise InputError(f"last == {rows} must be >= 1")
        try:
            return await self._drift_report(min(rows, MAX_WINDOW_ROWS))
        except (OSError, sqlite3.Error) as error:
            raise LogUnreadableError(f"cannot read the prediction log {str(self.log.path)!r}: {error}") from None

    def last_drift(self) -> dict[str, Any] | None:
        """The drift report the gauges show, or None before the first finished."""
        return self._drift.report if self._drift is not None else None

    def last_drift_epoch(self) -> float | None:
        """When the report the gauges show was finished (Unix time), or None before the first."""
        return self._drift.epoch if self._drift is not None else None

    async def metrics_text(self) -> bytes:
        """The Prometheus exposition with the last finished drift report's gauges; when that is older
        than ``drift_max_age_s`` (or of another window), a new one is started in the background."""
        if self.log is not None and not self._drift_fresh() and not _running(self._drift_refresh):
            self._drift_refresh = asyncio.get_running_loop().create_task(self._refresh_drift())
        return self.metrics.render()

    def _drift_fresh(self) -> bool:
        finished = self._drift
        return (
            finished is not None
            and finished.rows == self._drift_window
            and time.monotonic() - finished.monotonic < self.config.drift_max_age_s
        )

    async def _refresh_drift(self) -> None:
        assert self.log is not None
        try:
            await self._drift_report(self._drift_window)
        except (OSError, sqlite3.Error) as error:
            # the drift gauges keep their last values; the log's own failure counters tell the story
            logger.warning("drift over %s not refreshed for /metrics: %s", self.log.path, error)
        except Exception:  # a bug: logged here, as no request awaits this task
            logger.exception("drift over %s not refreshed for /metrics", self.log.path)

    async def _drift_report(self, rows: int) -> dict[str, Any]:
        """The drift report over the newest ``rows`` of the log: the computation in flight for that
        window if there is one, else a new one once any other has finished."""
        while True:
            running = self._drift_running
            if running is None or not _running(running[1]):
                task = asyncio.get_running_loop().create_task(self._compute_drift(rows))
                self._drift_running = (rows, task)
                task.add_done_callback(self._drift_finished)
                # shielded: a client that goes away does not cancel what other requests wait for
                return await asyncio.shield(task)
            if running[0] == rows:
                return await asyncio.shield(running[1])
            await asyncio.wait([running[1]])

    def _drift_finished(self, task: asyncio.Task[dict[str, Any]]) -> None:
        if self._drift_running is not None and self._drift_running[1] is task:
            self._drift_running = None
        if not task.cancelled():
            task.exception()  # retrieved here; the requests that awaited it have raised it

    async def _compute_drift(self, rows: int) -> dict[str, Any]:
        manifest = self.holder.current.manifest
        assert self.log is not None
        log_path = self.log.path
        # Another layer's values: json_safe turns numpy scalars and non-finite floats into JSON
        # once, here, where dump_json would refuse them with a 500.
        report: dict[str, Any] = await anyio.to_thread.run_sync(
            lambda: json_safe(drift_from_log(log_path, manifest, last=rows)), limiter=self.limiter
        )
        self._keep_drift(rows, report)
        return report

    def _keep_drift(self, rows: int, report: dict[str, Any]) -> None:
        """Keep ``report`` for the gauges if it is over the configured window, or until one of those
        has finished, over any (so /metrics shows the first /v1/drift?last= before its own refresh)."""
        if rows == self._drift_window or self._drift is None or self._drift.rows != self._drift_window:
            self._drift = _FinishedDrift(rows, time.monotonic(), time.time(), report)


@dataclass(frozen=True)
class _FinishedDrift:
    """A finished drift report, the window it covered, and when it finished."""

    rows: int
    monotonic: float
    epoch: float
    report: dict[str, Any]


def _running(task: asyncio.Task[Any] | None) -> bool:
    """Whether ``task`` is still running on this event loop (a test may run several loops in turn)."""
    return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()
