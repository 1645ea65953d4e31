"""``/metrics``, ``/v2/health/live``, ``/v2/health/ready``, ``/v1/status`` and ``/v1/drift`` on 127.0.0.1 only.

The standard library's threading HTTP server: a connector has no HTTP API, so it needs no web
framework, and this endpoint binds to the loopback address only (a scraper or a local agent reads
it; nothing on the plant network can reach it). ``ready`` is 200 when every configured link is
connected (503 otherwise, with which one is not); ``live`` is 200 while the process runs;
``/v1/drift[?last=N]`` is serve's drift report over the prediction log (400 for a bad ``last``, 409
without a log).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .metrics import Counters, render_metrics

__all__ = ["HealthServer"]

HOST = "127.0.0.1"


class HealthServer:
    """Serves the endpoints on a thread; ``port`` 0 picks a free one (see :attr:`port`)."""

    def __init__(
        self,
        port: int,
        counters: Counters,
        status: Callable[[], dict[str, Any]],
        drift: Callable[[str | None], dict[str, Any]],
    ) -> None:
        self.counters, self.status, self.drift = counters, status, drift
        handler = _handler(self)
        self._server = ThreadingHTTPServer((HOST, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="connect-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def ready(self) -> tuple[bool, dict[str, Any]]:
        links = {link.name: link.connected for link in self.counters.links}
        return all(links.values()), {"ready": all(links.values()), "links": links}


def _handler(health: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "factory-edge-connect"

        def do_GET(self) -> None:  # noqa: N802 -- the standard library's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, render_metrics(health.counters), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/v2/health/live":
                self._json(200, {"live": True})
            elif path == "/v2/health/ready":
                ready, body = health.ready()
                self._json(200 if ready else 503, body)
            elif path == "/v1/status":
                self._json(200, health.status())
            elif path == "/v1/drift":
                self._drift()
            else:
                known = "/metrics, /v2/health/live, /v2/health/ready, /v1/status, /v1/drift"
                self._json(404, {"error": f"no endpoint {path[:100]!r} here: {known}"})

        def _drift(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            try:
                self._json(200, health.drift(query.get("last", [None])[-1]))
            except ValueError as error:  # InputError: a bad ?last=
                self._json(400, {"error": str(error)})
            except LookupError as error:  # no prediction log
                self._json(409, {"error": str(error.args[0])})
            except (OSError, sqlite3.Error) as error:
                self._json(503, {"error": f"cannot read the prediction log: {error}"})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body, ensure_ascii=True, default=str).encode("ascii"), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the standard library's name
            return  # scrapes every few seconds would flood the log

    return Handler
