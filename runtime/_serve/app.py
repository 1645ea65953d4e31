"""The Starlette app: the route table and the lifespan around one :class:`DataPlane`.

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

- ``POST /v1/predict``: one record or a list of records (see :mod:`runtime._serve.protocol_v1`);
- ``GET /v1/status``: the model served, its reloads, the prediction log, uptime and memory;
- ``POST /v1/admin/reload``: reload now (200 with what was loaded, 409 if refused);
- ``GET /v1/drift[?last=N]``: drift of the last N logged predictions (409 without ``--log``);
- ``GET /metrics``: Prometheus metrics (:mod:`runtime._serve.metrics`).

Every response carries ``X-Request-Id`` (the request's ``X-Request-Id`` header or infer ``id``, else a
new one) and ``X-Model-Version``; prediction responses carry ``X-Log-Status``: ``written``
(committed to the prediction log before this response was sent), ``failed`` (the log could not
write it: the prediction is still returned, the failure is counted in ``/metrics`` and
``/v1/status`` and logged), ``unconfirmed`` (the log did not confirm within the request's time;
also counted) or ``off`` (no ``--log``).

Errors are ``{"error": "..."}``: 400 for anything wrong with a request (the runtime's validation
messages name the column, value and row), 404 unknown model, version or path, 405 wrong method,
409 for a well-formed request the server's state refuses (a reload whose bundle fails verification,
drift without ``--log``), 413 body over ``--max-body-bytes`` (counted while reading, whatever
Content-Length says), 503 when ``--timeout-s`` passes while reading the body or predicting (or the
bodies in progress pass ``--max-inflight-body-bytes``); 401, 403 and 421 for requests
:mod:`runtime._serve.access` refuses (token, origin, Host), 408 for a request head not complete
within ``--header-timeout-s`` (:mod:`runtime._serve.connections`), 500
(``internal error, see the server log``) for a bug, logged with its traceback
(:mod:`runtime._serve.endpoints` has the table).

The lifespan starts the model holder's reload threads, reloads on ``SIGHUP``, and on shutdown
stops them and closes the prediction log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from .._holder import ModelHolder
from .._monitor.predictlog import PredictionLog
from .access import AccessPolicy
from .config import ServeConfig
from .dataplane import DataPlane
from .endpoints import Endpoints, Handler

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def _route_table(endpoints: Endpoints) -> list[tuple[str, Handler, str, bool]]:
    """(path, handler, method, is a prediction) for every route."""
    return [
        ("/v2", endpoints.server_metadata, "GET", False),
        ("/v2/health/live", endpoints.live, "GET", False),
        ("/v2/health/ready", endpoints.ready, "GET", False),
        ("/v2/models/{name}", endpoints.metadata, "GET", False),
        ("/v2/models/{name}/versions/{version}", endpoints.metadata, "GET", False),
        ("/v2/models/{name}/ready", endpoints.model_ready, "GET", False),
        ("/v2/models/{name}/versions/{version}/ready", endpoints.model_ready, "GET", False),
        ("/v2/models/{name}/infer", endpoints.infer, "POST", True),
        ("/v2/models/{name}/versions/{version}/infer", endpoints.infer, "POST", True),
        ("/v2/repository/index", endpoints.repository_index, "POST", False),
        ("/v2/repository/models/{name}/load", endpoints.repository_load, "POST", False),
        ("/v2/repository/models/{name}/unload", endpoints.repository_unload, "POST", False),
        ("/v1/predict", endpoints.predict, "POST", True),
        ("/v1/status", endpoints.status, "GET", False),
        ("/v1/admin/reload", endpoints.admin_reload, "POST", False),
        ("/v1/drift", endpoints.drift, "GET", False),
        ("/metrics", endpoints.metrics, "GET", False),
    ]


def _lifespan(plane: DataPlane) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        plane.start()
        loop = asyncio.get_running_loop()
        hangup = False
        try:
            loop.add_signal_handler(signal.SIGHUP, plane.holder.request_reload, "sighup")
            hangup = True
        except (AttributeError, NotImplementedError, RuntimeError, ValueError) as error:
            logger.warning("SIGHUP will not reload (%s); use POST /v1/admin/reload", error)
        try:
            yield
        finally:
            if hangup:
                loop.remove_signal_handler(signal.SIGHUP)
            await plane.close()

    return lifespan


def create_app(
    holder: ModelHolder,
    *,
    log: PredictionLog | None = None,
    config: ServeConfig | None = None,
    access: AccessPolicy | None = None,
) -> Starlette:
    """The Starlette app serving ``holder``'s model; its lifespan starts and stops the holder and log.

    ``access`` (tokens, allowed hosts; :mod:`runtime._serve.access`) is checked before every handler;
    None checks nothing (an app built in-process for tests).

    Examples
    --------
    >>> holder = ModelHolder("models/quality", runtime.load("models/quality"), loader=runtime.load)  # doctest: +SKIP
    >>> uvicorn.run(create_app(holder))  # doctest: +SKIP
    """
    plane = DataPlane(holder, log=log, config=config)
    endpoints = Endpoints(plane, access)
    routes = [
        Route(path, endpoints.route(path, handler, prediction=prediction), methods=[method])
        for path, handler, method, prediction in _route_table(endpoints)
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: endpoints.not_routed}, lifespan=_lifespan(plane))
    app.state.plane = plane
    return app
