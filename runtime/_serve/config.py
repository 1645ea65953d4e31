"""``ServeConfig``: everything ``python -m runtime serve`` was told. The defaults are defined here only;
the command line takes its defaults from this class."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._monitor.predictlog import SyncMode
from .._validation import UnknownPolicy

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
    # public keys (paths or PEM bytes) every load and reload trusts, beside the trust directory's
    trusted_keys: tuple[str | os.PathLike[str] | bytes, ...] = ()
