"""``python -m runtime serve``: an HTTP server (uvicorn + Starlette) for one model bundle.

Needs the ``serve`` extra (uvicorn, starlette, prometheus-client); nothing else in ``runtime``
imports this module, so the device runtime works without it.

Endpoints
---------
Open Inference Protocol (KServe v2) REST, as spoken by Triton and ``tritonclient.http``:

====================================================  ===============================================
``GET  /v2``                                          server metadata
``GET  /v2/health/live``, ``/v2/health/ready``        liveness, readiness
``GET  /v2/models/{name}[/versions/{v}]``             model metadata: inputs, outputs, classes
``GET  /v2/models/{name}[/versions/{v}]/ready``       model readiness
``POST /v2/models/{name}[/versions/{v}]/infer``       predict (see :mod:`runtime._serve.protocol_v2`)
``POST /v2/repository/index``                         the one model and its state
``POST /v2/repository/models/{name}/load``            reload the bundle folder now (409 if refused)
====================================================  ===============================================

For people and scripts:

- ``POST /v1/predict``: one record (a JSON object of column -> value, ``null`` for missing) or a
  list of records; answers ``label``, ``probabilities`` keyed by class (as strings), ``flags``,
  ``model``, ``version`` and ``request_id`` (a list gets ``predictions``, one per record);
- ``GET /v1/status``: the model served, its reloads, the prediction log, uptime and memory;
- ``POST /v1/admin/reload``: reload now (200 with what was loaded, 409 if refused);
- ``GET /metrics``: Prometheus metrics (:mod:`runtime._serve.metrics`).

Every response carries ``X-Request-Id`` (the request's ``X-Request-Id`` header or infer ``id``, else a
new one); prediction responses carry ``X-Log-Status``: ``written`` (committed to the prediction log
before this response was sent), ``failed`` (the log could not write it: the prediction is still
returned, the failure is counted in ``/metrics`` and ``/v1/status`` and logged), ``unconfirmed`` (the
log did not confirm within the request's time; also counted) or ``off`` (no ``--log``).

Errors are ``{"error": "..."}``: 400 for anything wrong with a request (the runtime's validation
messages name the column, value and row), 404 unknown model, version or path, 405 wrong method,
409 for a well-formed request the server's state refuses (a reload whose bundle fails verification,
drift without ``--log``), 413 body over ``--max-body-bytes`` (counted while reading, whatever
Content-Length says), 503 when ``--timeout-s`` passes while reading the body or predicting, 500
(``internal error, see the server log``) for a bug, logged with its traceback.

Concurrency: one event loop. A request of up to ``INLINE_ROWS`` rows is validated and predicted on
the loop itself (a record takes tens of microseconds; a thread hop would cost more); larger
requests, and bodies over ``INLINE_BODY_BYTES``, are parsed and predicted in a worker thread so the
loop keeps answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TextIO, TypeVar

import anyio
import anyio.to_thread
import prometheus_client
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._errors import InputError
from .._model import BatchPrediction, Model, Prediction, load
from .._monitor.predictlog import LogEntry, PredictionLog
from .._monitor.windows import drift_from_log
from .._process import current_rss_mb, peak_rss_mb
from .._text import utc_iso
from .._validation import UNKNOWN_HINT
from .config import ServeConfig
from .holder import ModelHolder
from .metrics import DriftCollector, ServerMetrics
from .protocol_v2 import (
    HEADER_LENGTH,
    InferRequest,
    Outcome,
    decode_infer_request,
    encode_infer_response,
    model_metadata,
    parse_json,
)

__all__ = ["ServeConfig", "create_app", "serve"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

INLINE_ROWS = 16
INLINE_BODY_BYTES = 64 * 1024
# However little of --timeout-s is left, the log gets this long to confirm a commit.
LOG_WAIT_MIN_S = 1.0
INTERNAL_ERROR = "internal error, see the server log"
# The runtime's unknown-category messages say how to load a model that flags them; a server is started instead.
_SERVE_FLAG_HINT = "(start the server with --on-unknown flag to accept and flag it)"
_SQLITE_MAX_INT = 2**63 - 1
_REQUEST_ID = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,255}")


class HttpError(Exception):
    """A response other than 200 that is not a bad input (404, 409, 413, 503, a refused reload).

    Never leaves the server: the wrapper around every endpoint turns it into ``{"error": ...}``.
    """

    def __init__(self, status: int, kind: str | None, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.headers = dict(headers or {})


class _Call:
    """What the wrapper around every endpoint knows about the request being answered."""

    __slots__ = ("started", "epoch", "request_id", "model", "body", "error", "deadline")

    def __init__(self, timeout_s: float) -> None:
        self.started = time.perf_counter()
        self.epoch = time.time()
        self.deadline = self.started + timeout_s
        self.request_id = uuid.uuid4().hex
        self.model: Model | None = None
        self.body: bytes | None = None
        self.error: str | None = None

    def set_request_id(self, value: str, source: str) -> None:
        if not _REQUEST_ID.fullmatch(value):
            raise InputError(
                f"{source} == {value[:40]!r}{'...' if len(value) > 40 else ''} must be 1 to 256 printable ASCII "
                "characters (no leading space)."
            )
        self.request_id = value

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def latency_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


def _json_body(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(_json_body(payload), status_code=status, headers=dict(headers or {}), media_type="application/json")


def _error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json_response({"error": message}, status, headers)


def _outcome_of_prediction(prediction: Prediction, classes: tuple[Any, ...] | None) -> Outcome:
    flags = {0: prediction.flags} if prediction.flags else {}
    if prediction.probabilities is not None:
        return Outcome(
            prediction.model,
            prediction.version,
            classes,
            labels=[prediction.label],
            probabilities=[list(prediction.probabilities.values())],
            flags=flags,
        )
    assert prediction.value is not None
    return Outcome(prediction.model, prediction.version, None, values=[prediction.value], flags=flags)


def _outcome_of_batch(batch: BatchPrediction) -> Outcome:
    flags = {int(row): tuple(reasons) for row, reasons in batch.flags.items()}
    if batch.labels is not None and batch.probabilities is not None:
        return Outcome(
            batch.model,
            batch.version,
            batch.classes,
            labels=batch.labels.tolist(),
            probabilities=batch.probabilities.tolist(),
            flags=flags,
        )
    assert batch.values is not None
    return Outcome(batch.model, batch.version, None, values=batch.values.tolist(), flags=flags)


def _predict_record(model: Model, record: Mapping[str, Any], row_numbers: bool) -> Outcome:
    """One record on the fast path; on bad input, the batch path words the error with its row."""
    try:
        return _outcome_of_prediction(model.predict(record), model.classes)
    except InputError:
        if not row_numbers:
            raise
    return _outcome_of_batch(model.predict_batch([record]))


def _predict_columns(model: Model, request: InferRequest) -> Outcome:
    if request.rows == 1:
        return _predict_record(model, request.record(0), row_numbers=True)
    return _outcome_of_batch(model.predict_batch(request.columns))


def _v1_item(outcome: Outcome, index: int) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if outcome.labels is not None and outcome.probabilities is not None and outcome.classes is not None:
        item["label"] = outcome.labels[index]
        item["probabilities"] = {str(label): p for label, p in zip(outcome.classes, outcome.probabilities[index])}
    else:
        assert outcome.values is not None
        item["value"] = outcome.values[index]
    item["flags"] = list(outcome.flags.get(index, ()))
    return item


class _Server:
    """The endpoints of one app, sharing the model holder, the log and the metrics."""

    def __init__(self, holder: ModelHolder, log: PredictionLog | None, config: ServeConfig) -> None:
        self.holder = holder
        self.log = log
        self.config = config
        self.metrics = ServerMetrics(holder, log)
        self.limiter = anyio.CapacityLimiter(config.worker_threads)
        self.started_at = datetime.now(timezone.utc)
        self.started_monotonic = time.monotonic()
        self.log_unconfirmed = 0
        # The last drift report over the log (monotonic time, report): /v1/drift and /metrics share it.
        self.drift: tuple[float, dict[str, Any]] | None = None
        self.drift_lock = asyncio.Lock()
        self.metrics.registry.register(DriftCollector(lambda: self.drift[1] if self.drift else None))

    # -- the wrapper every endpoint goes through --------------------------------------------------
    def endpoint(
        self, route: str, handler: Callable[[Request, _Call], Awaitable[Response]], *, prediction: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            call = _Call(self.config.timeout_s)
            kind: str | None = None
            try:
                given = request.headers.get("x-request-id")
                if given is not None:
                    call.set_request_id(given, "X-Request-Id header")
                response = await handler(request, call)
            except HttpError as error:
                kind, message = error.kind, str(error)
                response = _error_response(error.status, message, error.headers)
            except InputError as error:
                kind, message = "bad_input", str(error).replace(UNKNOWN_HINT, _SERVE_FLAG_HINT)
                response = _error_response(400, message)
            except Exception as error:  # noqa: BLE001 -- a bug must still get a response, and be logged
                logger.exception("internal error answering %s %s (request %s)", request.method, route, call.request_id)
                kind, message = "internal", f"internal error: {type(error).__name__}: {error}"
                response = _error_response(500, INTERNAL_ERROR)
            if kind is not None and prediction:
                call.error = message
                response.headers["X-Log-Status"] = await self._log_rejection(route, call, response.status_code)
            response.headers["X-Request-Id"] = call.request_id
            # Every response names the version that served it (or, for the rest, the one serving now).
            response.headers["X-Model-Version"] = (call.model or self.holder.current).version
            self.metrics.observe(route, response.status_code, time.perf_counter() - call.started, kind)
            return response

        return run

    async def http_exception(self, request: Request, error: Exception) -> Response:
        """404 and 405 raised by the router, before any endpoint runs."""
        started = time.perf_counter()
        status = error.status_code if isinstance(error, HTTPException) else 500
        headers = dict(error.headers or {}) if isinstance(error, HTTPException) else {}
        if status == 405:
            kind = "method_not_allowed"
            # Starlette keeps a route's methods in a set: sort them so the message is stable.
            allowed = ", ".join(sorted(method.strip() for method in headers.get("Allow", "").split(",")))
            headers["Allow"] = allowed
            message = f"method {request.method} is not allowed at {request.url.path}; use {allowed}."
        elif status == 404:
            kind, message = "not_found", f"no endpoint at {request.url.path}."
        else:
            kind = "bad_input" if status < 500 else "internal"
            message = str(error.detail) if isinstance(error, HTTPException) else INTERNAL_ERROR
        self.metrics.observe("unmatched", status, time.perf_counter() - started, kind)
        return _error_response(status, message, headers)

    # -- shared steps -----------------------------------------------------------------------------
    async def _read_body(self, request: Request, call: _Call) -> bytes:
        """The body, refused with 413 as soon as it passes the limit and 503 if it is too slow."""
        encoding = request.headers.get("content-encoding")
        if encoding is not None and encoding.strip().lower() != "identity":
            raise InputError(f"Content-Encoding {encoding!r} is not supported: send the body uncompressed.")
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        receive = request.receive
        with anyio.move_on_after(call.remaining()) as scope:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise HttpError(400, "bad_input", "client disconnected before sending the whole body.")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise self._too_large()
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if scope.cancelled_caught:
            raise HttpError(
                503,
                "timeout",
                f"request timed out after {self.config.timeout_s:g} s (--timeout-s) while reading the body.",
                {"Connection": "close"},
            )
        body = b"".join(chunks)
        call.body = body
        return body

    def _too_large(self) -> HttpError:
        return HttpError(
            413,
            "too_large",
            f"request body is larger than the limit of {self.config.max_body_bytes} bytes (--max-body-bytes).",
            {"Connection": "close"},  # the rest of the body is never read, so the connection cannot be reused
        )

    async def _offload(self, call: _Call, work: Callable[[], T], what: str) -> T:
        """Run ``work`` in a worker thread within the request's time; 503 when it runs out.

        onnxruntime cannot be interrupted: a timed-out call finishes in its thread, unobserved.
        """
        with anyio.move_on_after(call.remaining()):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True, limiter=self.limiter)
        raise HttpError(
            503, "timeout", f"request timed out after {self.config.timeout_s:g} s (--timeout-s) while {what}."
        )

    async def _wait_for_log(self, call: _Call, entry: LogEntry) -> str:
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

    async def _log_rejection(self, route: str, call: _Call, status: int) -> str:
        if self.log is None:
            return "off"
        model = call.model or self.holder.current
        body = call.body
        entry = LogEntry(
            request_id=call.request_id,
            epoch=call.epoch,
            endpoint=route,
            status=status,
            model=model.name,
            version=model.version,
            latency_ms=call.latency_ms(),
            error=call.error,
            request_excerpt=body[:4096].decode("utf-8", errors="replace") if body else None,
        )
        return await self._wait_for_log(call, entry)

    def _served_model(self, request: Request, call: _Call) -> Model:
        """The model named in the path, as served now (404 for another name or version)."""
        model = self.holder.current
        name = request.path_params["name"]
        if name != model.name:
            raise HttpError(404, "not_found", f"unknown model {name!r}: this server serves {model.name!r}.")
        version = request.path_params.get("version")
        if version is not None and version != model.version:
            raise HttpError(
                404, "not_found", f"model {name!r} has no version {version!r} here: it serves {model.version}."
            )
        call.model = model
        return model

    def _finish(self, call: _Call, outcome: Outcome, inputs: Any, route: str) -> LogEntry:
        self.metrics.predicted_rows.labels(outcome.version).inc(outcome.rows)
        return LogEntry(
            request_id=call.request_id,
            epoch=call.epoch,
            endpoint=route,
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

    # -- Open Inference Protocol ------------------------------------------------------------------
    async def server_metadata(self, request: Request, call: _Call) -> Response:
        from .. import __version__

        return _json_response(
            {"name": "factory-edge", "version": __version__, "extensions": ["binary_tensor_data", "model_repository"]}
        )

    async def live(self, request: Request, call: _Call) -> Response:
        return _json_response({"live": True})

    async def ready(self, request: Request, call: _Call) -> Response:
        return _json_response({"ready": True})

    async def metadata(self, request: Request, call: _Call) -> Response:
        return _json_response(model_metadata(self._served_model(request, call)))

    async def model_ready(self, request: Request, call: _Call) -> Response:
        model = self._served_model(request, call)
        return _json_response({"name": model.name, "version": model.version, "ready": True})

    async def infer(self, request: Request, call: _Call) -> Response:
        route = "/v2/models/{name}/infer"
        model = self._served_model(request, call)
        body = await self._read_body(request, call)
        header_length = request.headers.get(HEADER_LENGTH)

        def respond(decoded: InferRequest) -> tuple[Outcome, bytes, dict[str, str]]:
            outcome = _predict_columns(model, decoded)
            content, headers = encode_infer_response(outcome, decoded, call.request_id)
            return outcome, content, headers

        def decode() -> InferRequest:
            decoded = decode_infer_request(body, header_length, model)
            if decoded.id is not None:
                call.set_request_id(decoded.id, 'infer request field "id"')
            return decoded

        if len(body) > INLINE_BODY_BYTES:
            decoded = await self._offload(call, decode, "reading the request")
        else:
            decoded = decode()
        if decoded.rows > INLINE_ROWS or len(body) > INLINE_BODY_BYTES:
            outcome, content, headers = await self._offload(
                call, functools.partial(respond, decoded), f"predicting {decoded.rows} rows"
            )
        else:
            outcome, content, headers = respond(decoded)
        entry = self._finish(call, outcome, decoded.columns, route)
        headers["X-Log-Status"] = await self._wait_for_log(call, entry)
        return Response(content, headers=headers)

    async def repository_index(self, request: Request, call: _Call) -> Response:
        await self._read_body(request, call)
        model = self.holder.current
        return _json_response([{"name": model.name, "version": model.version, "state": "READY", "reason": ""}])

    async def repository_load(self, request: Request, call: _Call) -> Response:
        self._served_model(request, call)
        body = await self._read_body(request, call)
        if body.strip():
            options = parse_json(body)
            parameters = options.get("parameters") if isinstance(options, dict) else None
            if parameters:
                raise InputError(
                    "load with a config or files is not supported: the server reloads its own bundle folder "
                    f"({self.holder.path})."
                )
        attempt = await asyncio.wrap_future(self.holder.request_reload("admin"))
        if attempt.outcome == "refused":
            raise HttpError(409, None, f"reload refused: {attempt.error}; still serving {attempt.serving}.")
        return _json_response({})

    async def repository_unload(self, request: Request, call: _Call) -> Response:
        self._served_model(request, call)
        raise InputError("unload is not supported: this server serves one model; stop the server to stop serving it.")

    # -- for people and scripts -------------------------------------------------------------------
    async def predict(self, request: Request, call: _Call) -> Response:
        route = "/v1/predict"
        model = self.holder.current
        call.model = model
        body = await self._read_body(request, call)
        if len(body) > INLINE_BODY_BYTES:
            data = await self._offload(call, lambda: parse_json(body), "reading the request")
        else:
            data = parse_json(body)
        inputs: list[Any]
        if isinstance(data, dict):
            outcome = _predict_record(model, data, row_numbers=False)
            single = {"request_id": call.request_id, "model": outcome.model, "version": outcome.version}
            content = _json_body({**single, **_v1_item(outcome, 0)})
            inputs = [data]
        elif isinstance(data, list):
            records = data

            def batch() -> tuple[Outcome, bytes]:
                outcome = _outcome_of_batch(model.predict_batch(records))
                items = [_v1_item(outcome, index) for index in range(outcome.rows)]
                payload = {
                    "request_id": call.request_id,
                    "model": outcome.model,
                    "version": outcome.version,
                    "predictions": items,
                }
                return outcome, _json_body(payload)

            if len(records) > INLINE_ROWS:
                outcome, content = await self._offload(call, batch, f"predicting {len(records)} rows")
            else:
                outcome, content = batch()
            inputs = records
        else:
            raise InputError(
                "request body must be one record (a JSON object of column -> value) or a list of records, "
                f"got {type(data).__name__}."
            )
        entry = self._finish(call, outcome, inputs, route)
        status = await self._wait_for_log(call, entry)
        return Response(content, headers={"X-Log-Status": status}, media_type="application/json")

    async def status(self, request: Request, call: _Call) -> Response:
        from .. import __version__

        return _json_response(
            {
                "model": self.holder.status(),
                "log": self.log.status() if self.log is not None else None,
                "log_unconfirmed": self.log_unconfirmed,
                "server": {
                    "runtime_version": __version__,
                    "pid": os.getpid(),
                    "started_at": utc_iso(self.started_at.timestamp(), timespec="seconds"),
                    "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
                    "rss_mb": round(current_rss_mb(), 1),
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                    "max_body_bytes": self.config.max_body_bytes,
                    "timeout_s": self.config.timeout_s,
                },
            }
        )

    async def admin_reload(self, request: Request, call: _Call) -> Response:
        await self._read_body(request, call)
        attempt = await asyncio.wrap_future(self.holder.request_reload("admin"))
        if attempt.outcome == "refused":
            raise HttpError(409, None, f"reload refused: {attempt.error}; still serving {attempt.serving}.")
        return _json_response(attempt.to_dict())

    async def metrics_text(self, request: Request, call: _Call) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        if self.log is not None:
            try:
                await self._drift_report(max_age_s=self.config.drift_max_age_s)
            except (OSError, sqlite3.Error) as error:
                # the drift gauges keep their last values; the log's own failure counters tell the story
                logger.warning("drift over %s not refreshed for /metrics: %s", self.log.path, error)
        return Response(self.metrics.render(), headers={"content-type": CONTENT_TYPE_LATEST})

    async def drift_status(self, request: Request, call: _Call) -> Response:
        """Drift of the last ``?last=N`` logged predictions (default: the configured window)."""
        if self.log is None:
            raise HttpError(409, None, "drift is measured on the prediction log: start the server with --log")
        last = request.query_params.get("last")
        try:
            rows = int(last) if last is not None else self.config.drift_window_rows
        except ValueError:
            raise HttpError(400, "bad_input", f"last == {last!r} must be a whole number of rows") from None
        if rows < 1:
            raise HttpError(400, "bad_input", f"last == {rows} must be >= 1")
        # More rows than SQLite's LIMIT can hold means all of them (int64 overflow raised a 500).
        rows = min(rows, _SQLITE_MAX_INT)
        try:
            return _json_response(await self._drift_report(max_age_s=0.0, rows=rows))
        except (OSError, sqlite3.Error) as error:
            raise HttpError(503, None, f"cannot read the prediction log {str(self.log.path)!r}: {error}") from None

    async def _drift_report(self, *, max_age_s: float, rows: int | None = None) -> dict[str, Any]:
        """The drift report over the log, recomputed when older than ``max_age_s`` (in a worker thread)."""
        async with self.drift_lock:
            if self.drift is not None and rows is None and time.monotonic() - self.drift[0] < max_age_s:
                return self.drift[1]
            window_rows = rows or self.config.drift_window_rows
            manifest = self.holder.current.manifest
            assert self.log is not None
            log_path = self.log.path
            report = await anyio.to_thread.run_sync(
                lambda: drift_from_log(log_path, manifest, last=window_rows), limiter=self.limiter
            )
            if rows is None or rows == self.config.drift_window_rows:
                self.drift = (time.monotonic(), report)
            return report

    # -- lifecycle --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.holder.start()
        loop = asyncio.get_running_loop()
        hangup = False
        try:
            loop.add_signal_handler(signal.SIGHUP, self.holder.request_reload, "sighup")
            hangup = True
        except (AttributeError, NotImplementedError, RuntimeError, ValueError) as error:
            logger.warning("SIGHUP will not reload (%s); use POST /v1/admin/reload", error)
        model = self.holder.current
        logger.info(
            "serving %r %s from %s (log: %s)",
            model.name,
            model.version,
            model.path,
            self.log.path if self.log is not None else "off",
        )
        try:
            yield
        finally:
            if hangup:
                loop.remove_signal_handler(signal.SIGHUP)
            await anyio.to_thread.run_sync(self.holder.stop)
            if self.log is not None:
                await anyio.to_thread.run_sync(self.log.close)


def create_app(
    holder: ModelHolder, *, log: PredictionLog | None = None, config: ServeConfig | None = None
) -> Starlette:
    """The Starlette app serving ``holder``'s model; its lifespan starts and stops the holder and log.

    Examples
    --------
    >>> holder = ModelHolder("models/quality", runtime.load("models/quality"), loader=runtime.load)  # doctest: +SKIP
    >>> uvicorn.run(create_app(holder))  # doctest: +SKIP
    """
    server = _Server(holder, log, config or ServeConfig())
    table: list[tuple[str, Callable[[Request, _Call], Awaitable[Response]], str, bool]] = [
        ("/v2", server.server_metadata, "GET", False),
        ("/v2/health/live", server.live, "GET", False),
        ("/v2/health/ready", server.ready, "GET", False),
        ("/v2/models/{name}", server.metadata, "GET", False),
        ("/v2/models/{name}/versions/{version}", server.metadata, "GET", False),
        ("/v2/models/{name}/ready", server.model_ready, "GET", False),
        ("/v2/models/{name}/versions/{version}/ready", server.model_ready, "GET", False),
        ("/v2/models/{name}/infer", server.infer, "POST", True),
        ("/v2/models/{name}/versions/{version}/infer", server.infer, "POST", True),
        ("/v2/repository/index", server.repository_index, "POST", False),
        ("/v2/repository/models/{name}/load", server.repository_load, "POST", False),
        ("/v2/repository/models/{name}/unload", server.repository_unload, "POST", False),
        ("/v1/predict", server.predict, "POST", True),
        ("/v1/status", server.status, "GET", False),
        ("/v1/admin/reload", server.admin_reload, "POST", False),
        ("/v1/drift", server.drift_status, "GET", False),
        ("/metrics", server.metrics_text, "GET", False),
    ]
    routes = [
        Route(path, server.endpoint(path, handler, prediction=prediction), methods=[method])
        for path, handler, method, prediction in table
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: server.http_exception}, lifespan=server.lifespan)
    app.state.server = server
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (IPv6 when ``host`` is an IPv6 address); raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and
    # without it every response waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(model: Model, path: str, config: ServeConfig, sock: socket.socket, stream: TextIO) -> None:
    """Serve ``model`` (loaded from ``path``) on the bound ``sock`` until SIGINT or SIGTERM.

    The runtime's log (loads, reloads, refusals, log failures) goes to ``stream``.
    """
    # The *_created series double every counter's output for no use here (a server process owns its metrics).
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    runtime_logger = logging.getLogger("runtime")
    handler: logging.Handler | None = None
    if not runtime_logger.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        runtime_logger.addHandler(handler)
        runtime_logger.setLevel(logging.INFO)
    log = None
    try:
        if config.log_path is not None:
            log = PredictionLog(
                config.log_path,
                retention_rows=config.log_retention_rows,
                retention_days=config.log_retention_days,
                sync=config.log_sync,
            )
        loader = functools.partial(load, threads=config.threads, on_unknown=config.on_unknown)
        holder = ModelHolder(path, model, loader=loader, poll_s=config.poll_s)
        app = create_app(holder, log=log, config=config)
        uvicorn_config = uvicorn.Config(
            app,
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="on",
            interface="asgi3",
            access_log=config.access_log,
            log_level="info",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        logger.info("listening on http://%s:%d", shown, port)
        uvicorn.Server(uvicorn_config).run(sockets=[sock])
    finally:
        if log is not None:
            log.close()  # a no-op after the lifespan closed it
        if handler is not None:
            runtime_logger.removeHandler(handler)
