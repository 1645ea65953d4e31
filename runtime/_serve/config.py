"""``ServeConfig``: everything ``python -m runtime serve`` was told. The defaults are defined here only;
the command line takes its defaults from this class."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._monitor.predictlog import SyncMode
from .._validation import RangePolicy, UnknownPolicy

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``serve`` was told, with the CLI's defaults."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 8 * 1024 * 1024
    timeout_s: float = 10.0
    poll_s: float = 2.0
    threads: int = 1
    on_unknown: UnknownPolicy = "reject"
    # a number outside its valid range is a 400 (reject), or is predicted and flagged (flag)
    on_out_of_range: RangePolicy = "reject"
    worker_threads: int = max(1, os.cpu_count() or 1)
    access_log: bool = False
    log_path: str | None = None
    log_retention_rows: int | None = None
    log_retention_days: float | None = None
    log_sync: SyncMode = "normal"
    drift_window_rows: int = 5_000
    # a prediction whose log row was not committed is answered 503 instead of 200 (a complete audit trail)
    log_required: bool = False
    # a reload whose task, classes or inputs differ is refused unless its major version differs
    allow_interface_change: bool = False
    drift_max_age_s: float = 60.0
    # -- connections (finding 3): sized for a 2-core, 1-4 GB gateway ----------------------------------
    # a connection that has sent nothing this long after connecting is closed
    idle_timeout_s: float = 5.0
    # a request head (request line and headers) must be complete this long after its first byte
    header_timeout_s: float = 10.0
    # an idle keep-alive connection is closed this long after its last response (uvicorn's timeout_keep_alive)
    keep_alive_s: float = 5.0
    # requests on connections beyond this many are answered 503 (uvicorn's limit_concurrency); connections
    # beyond twice this many are closed as they arrive, so file descriptors stay bounded
    max_connections: int = 256
    # the largest request head in bytes (uvicorn's h11_max_incomplete_event_size); larger ones get a 400
    max_header_bytes: int = 16 * 1024
    # -- request size (finding 4): the most values (rows x columns) one request may declare --------------
    max_elements: int = 10_000_000
    # the request bodies all requests in progress may hold together (503 beyond): what bounds the
    # memory of many large requests at once (two bodies of the default 8 MiB)
    max_inflight_body_bytes: int = 16 * 1024 * 1024
    # -- access (finding 12) -------------------------------------------------------------------------------
    admin_token_file: str | None = None
    api_token_file: str | None = None
    # Host header values accepted ("name" for any port, "name:port"); None: the bound address and the
    # loopback names, with the port
    allowed_hosts: tuple[str, ...] | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # public keys (paths or PEM bytes) every load and reload trusts, beside the trust directory's
    trusted_keys: tuple[str | os.PathLike[str] | bytes, ...] = ()
