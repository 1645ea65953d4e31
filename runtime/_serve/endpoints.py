"""The HTTP face of the data plane: Starlette handlers and the wrapper every request goes through.

Here only: the request id (``X-Request-Id`` header), reading the body within ``--max-body-bytes``
and ``--timeout-s``, the status for each typed error (:mod:`runtime._serve.errors`) with its
``{"error": ...}`` body, the headers (``X-Request-Id``, ``X-Model-Version``, ``X-Log-Status``) and
the request metrics. What is answered is :class:`runtime._serve.dataplane.DataPlane`'s.

=====================================  ======  ===================
error                                  status  metrics ``kind``
=====================================  ======  ===================
:class:`runtime.InputError`            400     ``bad_input`` (a batch's bad rows also in ``rejected``)
:class:`.errors.NotServedError`        404     ``not_found``
(no route; wrong method)               404/405 ``not_found``, ``method_not_allowed``
:class:`.errors.RefusedError`          409
body over ``--max-body-bytes``         413     ``too_large``
bodies in progress over                503     ``overloaded``
``--max-inflight-body-bytes``
:class:`.access.AccessRefusal`         401     ``unauthorized`` (``WWW-Authenticate: Bearer``)
                                       403/421 ``forbidden``, ``misdirected`` (:mod:`.access`)
:class:`.errors.DeadlineError`         503     ``timeout``
:class:`.errors.LogUnreadableError`    503
anything else (a bug, logged)          500     ``internal``
=====================================  ======  ===================

Error bodies are ASCII JSON (non-ASCII escaped), so a message quoting a client's lone surrogate can
still be sent; the prediction log keeps the message with such characters backslash-escaped.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .._errors import InputError
from .._json_body import dump_json
from .access import AccessPolicy, AccessRefusal, RouteClass
from .bad_rows import RowsRefusedError
from .call import Call
from .dataplane import Answer, DataPlane
from .errors import DeadlineError, LogRequiredError, LogUnreadableError, NotServedError, RefusedError
from .protocol_v2 import HEADER_LENGTH

__all__ = ["INTERNAL_ERROR", "Endpoints", "Handler"]

logger = logging.getLogger(__name__)

Handler = Callable[[Request, Call], Awaitable[Response]]

INTERNAL_ERROR = "internal error, see the server log"
# The longest query string read (only /v1/drift takes one, ?last=N); and the digits of a row count.
_MAX_QUERY_BYTES = 1024
_MAX_ROWS_DIGITS = 100
_STATUS: tuple[tuple[type[Exception], int, str | None], ...] = (
    (InputError, 400, "bad_input"),
    (NotServedError, 404, "not_found"),
    (RefusedError, 409, None),
    (DeadlineError, 503, "timeout"),
    (LogUnreadableError, 503, None),
    (LogRequiredError, 503, "log_required"),
)


class _TransportError(Exception):
    """A refusal only HTTP knows: a body too large (413) or too slow to arrive (503); the connection closes."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def _json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dump_json(payload), status_code=status, headers=dict(headers or {}), media_type="application/json")


def _error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json_response({"error": message}, status, headers)


def _answer_response(answer: Answer) -> Response:
    return Response(answer.body, headers={**answer.headers, "X-Log-Status": answer.log_status})


class Endpoints:
    """The handlers of one app, over one :class:`DataPlane`."""

    def __init__(self, plane: DataPlane, access: AccessPolicy | None = None) -> None:
        self.plane = plane
        # None: no access checks (an app built in-process, as the tests' TestClient does)
        self.access = access
        # Bytes of request bodies held by requests in progress (one event loop: no lock), bounded by
        # --max-inflight-body-bytes so many slow uploads cannot fill the memory between them.
        self.inflight_body_bytes = 0

    # -- the wrapper every endpoint goes through --------------------------------------------------
    def route(
        self, template: str, handler: Handler, *, prediction: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` for the route ``template``, wrapped: request id, errors, headers, metrics;
        a refused ``prediction`` request is logged."""
        plane = self.plane
        route_class = _route_class(template)

        async def run(request: Request) -> Response:
            call = Call(plane.config.timeout_s, template)
            kind: str | None = None
            try:
                if self.access is not None:
                    self.access.check(request.method, request.headers, route_class)
                if len(request.scope.get("query_string", b"")) > _MAX_QUERY_BYTES:
                    raise InputError(f"query string is longer than {_MAX_QUERY_BYTES} bytes.")
                given = request.headers.get("x-request-id")
                if given is not None:
                    call.set_request_id(given, "X-Request-Id header")
                response = await handler(request, call)
            except Exception as error:  # noqa: BLE001 -- every failure gets an answer; a bug is logged too
                response, kind, message = self._failure(request, call, error)
                if prediction:
                    # the message may quote a client's lone surrogate, which no UTF-8 text (nor SQLite) holds
                    logged = message.encode("utf-8", "backslashreplace").decode("utf-8")
                    response.headers["X-Log-Status"] = await plane.log_rejection(call, response.status_code, logged)
            finally:
                self.inflight_body_bytes -= len(call.body or b"")
            return self._finish(response, call, kind)

        return run

    def _finish(self, response: Response, call: Call, kind: str | None) -> Response:
        """The headers every response carries, and the request metrics."""
        response.headers["X-Request-Id"] = call.request_id
        # Every response names the version that served it (or, for the rest, the one serving now).
        response.headers["X-Model-Version"] = (call.model or self.plane.holder.current).version
        self.plane.metrics.observe(call.endpoint, response.status_code, time.perf_counter() - call.started, kind)
        return response

    def _failure(self, request: Request, call: Call, error: Exception) -> tuple[Response, str | None, str]:
        """The response for ``error``, its metrics kind, and the message the log keeps."""
        if isinstance(error, _TransportError):
            return _error_response(error.status, str(error), {"Connection": "close"}), error.kind, str(error)
        if isinstance(error, AccessRefusal):
            return _error_response(error.status, str(error), error.headers), error.kind, str(error)
        if isinstance(error, RowsRefusedError):
            return _json_response({"error": str(error), **error.details()}, 400), "bad_input", str(error)
        for kind, status, label in _STATUS:
            if isinstance(error, kind):
                return _error_response(status, str(error)), label, str(error)
        logger.exception("internal error answering %s %s (request %s)", request.method, call.endpoint, call.request_id)
        return _error_response(500, INTERNAL_ERROR), "internal", f"internal error: {type(error).__name__}: {error}"

    async def not_routed(self, request: Request, error: Exception) -> Response:
        """404 and 405 raised by the router, before any endpoint runs (and without its wrapper)."""
        call = Call(self.plane.config.timeout_s, "unmatched")
        if self.access is not None:
            try:
                # a path that is not served is answered the same way to every Host
                self.access.check("GET", request.headers, "health")
            except AccessRefusal as refusal:
                return self._finish(_error_response(refusal.status, str(refusal), refusal.headers), call, refusal.kind)
        given = request.headers.get("x-request-id")
        if given is not None:
            with contextlib.suppress(InputError):  # a bad id gets a new one: the 404 or 405 is the answer
                call.set_request_id(given, "X-Request-Id header")
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
        return self._finish(_error_response(status, message, headers), call, kind)

    async def _body(self, request: Request, call: Call) -> bytes:
        """The body, refused with 413 as soon as it passes the limit and 503 if it is too slow."""
        encoding = request.headers.get("content-encoding")
        if encoding is not None and encoding.strip().lower() != "identity":
            raise InputError(f"Content-Encoding {encoding!r} is not supported: send the body uncompressed.")
        limit = self.plane.config.max_body_bytes
        declared = request.headers.get("content-length")
        digits = len(str(limit))
        if declared is not None and declared.isascii() and declared.isdigit():
            if len(declared) > digits or int(declared) > limit:
                raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        budget = self.plane.config.max_inflight_body_bytes
        try:
            with anyio.move_on_after(call.remaining()) as scope:
                while True:
                    message = await request.receive()
                    if message["type"] == "http.disconnect":
                        raise InputError("client disconnected before sending the whole body.")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise self._too_large()
                    chunks.append(chunk)
                    self.inflight_body_bytes += len(chunk)
                    if self.inflight_body_bytes > budget:
                        raise _TransportError(
                            503,
                            "overloaded",
                            f"server busy: request bodies in progress hold more than {budget} bytes "
                            "(--max-inflight-body-bytes); retry later.",
                        )
                    if not message.get("more_body", False):
                        break
        finally:
            # the chunks' bytes are held again below, as call.body, until the request ends
            self.inflight_body_bytes -= sum(len(chunk) for chunk in chunks)
        if scope.cancelled_caught:
            timeout = self.plane.config.timeout_s
            raise _TransportError(
                503, "timeout", f"request timed out after {timeout:g} s (--timeout-s) while reading the body."
            )
        call.body = b"".join(chunks)
        self.inflight_body_bytes += len(call.body)
        return call.body

    def _too_large(self) -> _TransportError:
        # The rest of the body is never read, so the connection cannot be reused: it closes.
        limit = self.plane.config.max_body_bytes
        return _TransportError(
            413, "too_large", f"request body is larger than the limit of {limit} bytes (--max-body-bytes)."
        )

    # -- Open Inference Protocol ------------------------------------------------------------------
    async def server_metadata(self, request: Request, call: Call) -> Response:
        return _json_response(self.plane.server_metadata())

    async def live(self, request: Request, call: Call) -> Response:
        return _json_response({"live": True})

    async def ready(self, request: Request, call: Call) -> Response:
        return _json_response({"ready": True})

    async def metadata(self, request: Request, call: Call) -> Response:
        name, version = _model_in_path(request)
        return _json_response(self.plane.model_metadata(call, name, version))

    async def model_ready(self, request: Request, call: Call) -> Response:
        name, version = _model_in_path(request)
        return _json_response(self.plane.model_ready(call, name, version))

    async def infer(self, request: Request, call: Call) -> Response:
        model = self.plane.served_model(call, *_model_in_path(request))
        body = await self._body(request, call)
        return _answer_response(await self.plane.infer(call, model, body, request.headers.get(HEADER_LENGTH)))

    async def repository_index(self, request: Request, call: Call) -> Response:
        await self._body(request, call)
        return _json_response(self.plane.repository_index())

    async def repository_load(self, request: Request, call: Call) -> Response:
        self.plane.served_model(call, request.path_params["name"])
        await self.plane.load(await self._body(request, call))
        return _json_response({})

    async def repository_unload(self, request: Request, call: Call) -> Response:
        self.plane.served_model(call, request.path_params["name"])
        self.plane.unload()

    # -- for people and scripts -------------------------------------------------------------------
    async def predict(self, request: Request, call: Call) -> Response:
        return _answer_response(await self.plane.predict(call, await self._body(request, call)))

    async def status(self, request: Request, call: Call) -> Response:
        return _json_response(self.plane.status())

    async def admin_reload(self, request: Request, call: Call) -> Response:
        await self._body(request, call)
        return _json_response((await self.plane.reload("admin")).to_dict())

    async def drift(self, request: Request, call: Call) -> Response:
        """Drift of the last ``?last=N`` logged predictions (default: the configured window)."""
        last = request.query_params.get("last")
        # int() alone takes "١٢" (Arabic-Indic digits), spaces and underscores, and raises past 4,300 digits;
        # a row count is ASCII digits (more rows than the log holds means all of them)
        if last is not None and not (last.isascii() and last.isdigit() and len(last) <= _MAX_ROWS_DIGITS):
            shown = last if len(last) <= 40 else f"{last[:40]}...({len(last)} characters)"
            raise InputError(f"last == {shown!r} must be a whole number of rows (at most {_MAX_ROWS_DIGITS} digits).")
        return _json_response(await self.plane.drift(last))

    async def metrics(self, request: Request, call: Call) -> Response:
        return Response(await self.plane.metrics_text(), headers={"content-type": CONTENT_TYPE_LATEST})


def _route_class(template: str) -> RouteClass:
    """Which token a route needs (:mod:`.access`): none for health, the admin one for admin routes."""
    if template.startswith("/v2/health/"):
        return "health"
    if template == "/v1/admin/reload" or template.startswith("/v2/repository/"):
        return "admin"
    return "api"


def _model_in_path(request: Request) -> tuple[str, str | None]:
    """The model name and version (None for the unversioned URLs) in the request's path."""
    return request.path_params["name"], request.path_params.get("version")
