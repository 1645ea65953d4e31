"""Finding 3: idle and slow connections cannot knock the server over.

~1,000 idle TCP connections, or a few hundred sending their headers a byte at a time, exhausted file
descriptors: health checks timed out and the log filled with tracebacks. Every loop here is bounded
in count and time; traffic stays on loopback.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

IDLE_CONNECTIONS = 300


@contextlib.contextmanager
def open_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _read_until_closed(sock: socket.socket, limit_s: float) -> bytes:
    sock.settimeout(limit_s)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


@pytest.fixture(scope="module")
def guarded_server(bundles, start_server):
    """Short timeouts, so the tests that wait for them stay short."""
    with start_server(
        bundles.model_folder(), "--idle-timeout-s", "1", "--header-timeout-s", "1", "--timeout-s", "3", log=False
    ) as server:
        yield server


def test_health_answers_within_a_second_beside_300_idle_connections(bundles, start_server):
    with start_server(bundles.model_folder(), log=False) as server:  # the default limits
        with open_connections(server.port, IDLE_CONNECTIONS):
            time.sleep(0.5)  # let the server accept all of them
            started = time.perf_counter()
            reply = server.get("/v2/health/ready", timeout_s=5)
            elapsed = time.perf_counter() - started
            assert (reply.status, reply.json()) == (200, {"ready": True})
            assert elapsed < 1.0, f"health took {elapsed:.3f} s"
            # past --max-connections (256) the oldest idle ones made room
            assert server.metric('factory_edge_connections_closed_total{reason="evicted"}') >= IDLE_CONNECTIONS - 256
        assert "Traceback" not in server.stderr()


def test_an_idle_connection_is_closed_after_the_idle_timeout(guarded_server):
    with open_connections(guarded_server.port, 1) as (sock,):
        started = time.perf_counter()
        assert _read_until_closed(sock, 5) == b""  # closed without a word: it never asked anything
        assert 0.8 < time.perf_counter() - started < 3
    assert guarded_server.metric('factory_edge_connections_closed_total{reason="idle"}') >= 1


def test_a_slowloris_client_is_cut_off_after_the_header_timeout(guarded_server):
    head = f"GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1:{guarded_server.port}\r\nX-Slow: ".encode()
    with open_connections(guarded_server.port, 1) as (sock,):
        started = time.perf_counter()
        cut_off = False
        for index in range(40):  # a byte every 0.1 s: 4 s at most, the timeout is 1 s
            try:
                sock.sendall(head[index : index + 1] if index < len(head) else b"x")
            except OSError:
                cut_off = True
                break
            time.sleep(0.1)
            sock.settimeout(0.01)
            with contextlib.suppress(TimeoutError, BlockingIOError):
                if sock.recv(4096, socket.MSG_PEEK):
                    cut_off = True
                    break
        elapsed = time.perf_counter() - started
        assert cut_off, "the server kept a header arriving a byte at a time"
        data = _read_until_closed(sock, 2)
        assert 0.8 < elapsed < 2.5
    assert data.startswith(b"HTTP/1.1 408 ")
    assert data.endswith(b'{"error":"request head not complete in time (--header-timeout-s)."}')
    assert guarded_server.metric('factory_edge_connections_closed_total{reason="header"}') >= 1


def test_beyond_the_connection_cap_requests_get_503_and_no_traceback(bundles, start_server):
    """Three requests whose bodies never arrive hold three of four places; the fourth request is a 503."""
    with start_server(bundles.model_folder(), "--max-connections", "4", "--timeout-s", "2", log=False) as server:
        head = (f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: 100\r\n\r\n{{").encode()
        with open_connections(server.port, 3) as busy:
            for sock in busy:
                sock.sendall(head)
            time.sleep(0.3)
            reply = server.get("/v2/health/ready")
            assert reply.status == 503
        assert server.get("/v2/health/ready").status == 200  # the places are free again
        assert "Traceback" not in server.stderr()


def test_a_request_head_growing_past_max_header_bytes_is_a_400(guarded_server):
    """h11 refuses an incomplete head once it passes --max-header-bytes (16 KiB), however slowly it came."""
    head = f"GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1:{guarded_server.port}\r\nX-Big: ".encode()
    with open_connections(guarded_server.port, 1) as (sock,):
        sock.sendall(head + b"x" * 20_000)  # no blank line: the head is never complete
        data = _read_until_closed(sock, 3)
    assert data.startswith(b"HTTP/1.1 400 ")
    assert data.endswith(b"Invalid HTTP request received.")
