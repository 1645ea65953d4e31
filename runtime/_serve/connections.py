"""Connection limits uvicorn does not have: idle and request-head timeouts, and a hard connection cap.

uvicorn arms its keep-alive timer (``timeout_keep_alive``) only after a response, so a connection
that never sends a request, or sends its headers a byte at a time (slowloris), is kept forever: a
few hundred of them exhaust file descriptors. :func:`guarded_h11_protocol` makes a subclass of
uvicorn's h11 protocol that

- closes a connection that sent nothing within ``idle_timeout_s`` of connecting;
- closes one whose request head (request line and headers) is not complete ``header_timeout_s``
  after its first byte, with a ``408`` when some of it arrived; the same for every later request
  on a kept-alive connection;
- when a new connection makes ``max_connections``, closes the oldest one still waiting for a
  request head (idle, slowloris, or kept alive between requests), so a flood of connections that
  send nothing cannot keep a real request from being served;
- beyond that, uvicorn answers 503 to requests on connections past ``max_connections`` (its
  ``limit_concurrency``: they are all busy with requests), and a connection arriving while twice
  ``max_connections`` are open is closed at once, so file descriptors stay bounded.

The body phase is bounded by ``--timeout-s`` (the endpoints answer 503), and the keep-alive phase
by uvicorn's ``timeout_keep_alive``. Closing is quiet (no traceback); each close is counted by
the ``on_close`` callback (``factory_edge_connections_closed_total{reason}`` in ``/metrics``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["guarded_h11_protocol"]

_TIMEOUT_BODY = b'{"error":"request head not complete in time (--header-timeout-s)."}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


def guarded_h11_protocol(
    *,
    idle_timeout_s: float,
    header_timeout_s: float,
    max_connections: int,
    on_close: Callable[[str], None] = lambda reason: None,
) -> type[H11Protocol]:
    """A subclass of uvicorn's ``H11Protocol`` with these limits, for ``uvicorn.Config(http=...)``."""
    hard_cap = 2 * max_connections
    # The connections waiting for a request head, oldest first (a dict keeps insertion order); one
    # class, so one registry, per server.
    waiting: dict[GuardedH11Protocol, None] = {}

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None
        _head_reason = "idle"

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > hard_cap:
                on_close("over_capacity")
                transport.abort()
                return
            # below max_connections, so this connection's request is not refused by limit_concurrency
            while len(self.connections) >= max_connections and waiting:
                oldest = next(iter(waiting))
                oldest._disarm()
                on_close("evicted")
                oldest.transport.abort()
                self.connections.discard(oldest)  # connection_lost comes on a later loop turn
            self._arm(idle_timeout_s, "idle")

        def data_received(self, data: bytes) -> None:
            waiting = self.conn.their_state is h11.IDLE
            if waiting and self._head_timer is not None and self._head_reason == "idle":
                self._arm(header_timeout_s, "header")  # the first byte of a request head: its own deadline
            elif waiting and self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm(header_timeout_s, "header")  # the next request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()  # the head is in (or the connection failed): the body has --timeout-s

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                waiting[self] = None  # kept alive, waiting for its next request: evictable (no timer of ours)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, seconds: float, reason: str) -> None:
            self._disarm()
            self._head_reason = reason
            self._head_timer = self.loop.call_later(seconds, self._head_timed_out)
            waiting[self] = None

        def _disarm(self) -> None:
            waiting.pop(self, None)
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            waiting.pop(self, None)
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            on_close(self._head_reason)
            if self._head_reason == "header":
                self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()

    return GuardedH11Protocol
