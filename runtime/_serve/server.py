"""``python -m runtime serve``: uvicorn around the app, on a socket the command line bound.

Needs the ``serve`` extra (uvicorn, starlette, prometheus-client); nothing else in ``runtime``
imports this package, so the device runtime works without it. The endpoints are listed in
:mod:`runtime._serve.app`.

>>> sock = bind_socket("127.0.0.1", 8000)  # doctest: +SKIP
>>> serve(runtime.load("models/quality"), "models/quality", ServeConfig(), sock, sys.stderr)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from typing import TextIO

import prometheus_client
import uvicorn

from .._holder import ModelHolder
from .._logging import runtime_log_to
from .._model import Model, load
from .._monitor.predictlog import PredictionLog
from .access import AccessPolicy, read_token_file
from .app import create_app
from .config import ServeConfig
from .connections import guarded_h11_protocol

# ServeConfig is re-exported: the command line took it from here before config.py existed.
__all__ = ["ServeConfig", "access_policy", "bind_socket", "serve"]

logger = logging.getLogger(__name__)


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
    with (
        runtime_log_to(stream, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s", unless_configured=True),
        contextlib.ExitStack() as stack,
    ):
        log = None
        if config.log_path is not None:
            log = PredictionLog(
                config.log_path,
                retention_rows=config.log_retention_rows,
                retention_days=config.log_retention_days,
                sync=config.log_sync,
            )
            stack.callback(log.close)  # a no-op after the lifespan closed it
        loader = functools.partial(
            load,
            threads=config.threads,
            on_unknown=config.on_unknown,
            on_out_of_range=config.on_out_of_range,
            trusted_keys=config.trusted_keys,
        )
        holder = ModelHolder(
            path, model, loader=loader, poll_s=config.poll_s, allow_interface_change=config.allow_interface_change
        )
        host, port = sock.getsockname()[:2]
        app = create_app(holder, log=log, config=config, access=access_policy(config, host, port))
        closed = app.state.plane.metrics.connections_closed
        protocol = guarded_h11_protocol(
            idle_timeout_s=config.idle_timeout_s,
            header_timeout_s=config.header_timeout_s,
            max_connections=config.max_connections,
            on_close=lambda reason: closed.labels(reason).inc(),
        )
        uvicorn_config = uvicorn.Config(
            app,
            http=protocol,
            loop="asyncio",
            ws="none",
            lifespan="on",
            interface="asgi3",
            access_log=config.access_log,
            log_level="info",
            server_header=False,
            timeout_graceful_shutdown=10,
            timeout_keep_alive=config.keep_alive_s,  # type: ignore[arg-type]  # used as call_later seconds
            limit_concurrency=config.max_connections,
            h11_max_incomplete_event_size=config.max_header_bytes,
            ssl_certfile=config.ssl_certfile,
            ssl_keyfile=config.ssl_keyfile,
        )
        shown = f"[{host}]" if ":" in host else host
        logger.info("listening on %s://%s:%d", "https" if config.ssl_certfile else "http", shown, port)
        uvicorn.Server(uvicorn_config).run(sockets=[sock])


def access_policy(config: ServeConfig, host: str, port: int) -> AccessPolicy:
    """The access rules of ``config`` for a server bound to ``host``:``port``; ValueError for a token
    file that cannot serve (unreadable, empty, readable by every user)."""
    admin = read_token_file(config.admin_token_file, "--admin-token-file") if config.admin_token_file else None
    api = read_token_file(config.api_token_file, "--api-token-file") if config.api_token_file else None
    policy = AccessPolicy.create(host, port, allowed_hosts=config.allowed_hosts, admin_token=admin, api_token=api)
    if not policy.bound_to_loopback and config.allowed_hosts is None:
        logger.warning(
            "bound to %s without --allowed-hosts: only requests with Host %s are served",
            host,
            ", ".join(policy.allowed_hosts),
        )
    return policy
