"""``python -m runtime serve``: serve a bundle over HTTP (the "serve" extra).

Every option is a field of :class:`runtime._serve.config.ServeConfig` (the option's ``dest`` is the
field's name) and takes its default from there, so the defaults are written once. Importing the config
needs no extra, so ``serve --help`` works on a device without it; the server itself is imported only
when the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sqlite3
from typing import Any, get_args

from .._contract import ExitCode
from .._model import load
from .._monitor.predictlog import SyncMode, check_prediction_log
from .._monitor.windows import MAX_WINDOW_ROWS
from .._serve.config import ServeConfig
from ._base import ON_UNKNOWN_CHOICES, PROG, CliError, Console, non_negative_float, port, positive_float, positive_int

__all__ = ["DESCRIPTION", "EXIT_CODES", "add_arguments", "run"]

DESCRIPTION = """\
Serve a bundle over HTTP (uvicorn + Starlette; needs the "serve" extra: pip install ".[serve]").

PATH is a model folder (its CURRENT file names the version) or a version folder. The bundle is
loaded and verified before the server listens; a refused bundle exits with code 3.

Endpoints (errors are {"error": "..."} with 400, 401, 403, 404, 405, 408, 409, 413, 421, 503 or 500):
  Open Inference Protocol (KServe v2), as spoken by Triton and tritonclient.http:
    GET  /v2, /v2/health/live, /v2/health/ready
    GET  /v2/models/NAME[/versions/V][/ready]      metadata (inputs, outputs, classes), readiness
    POST /v2/models/NAME[/versions/V]/infer        one tensor per column: FP64 or FP32 for numbers,
                                                   BYTES for categories, shape [N] or [N, 1]; JSON
                                                   "data" or binary tensor data; outputs "label"
                                                   and "probabilities" [N, K] (or "value")
    POST /v2/repository/index, /v2/repository/models/NAME/load (reload now; 409 if the bundle is refused)
  For people and scripts:
    POST /v1/predict     one record {"column": value, ...} or a list of records
    GET  /v1/status      model, reloads, prediction log, uptime, memory
    POST /v1/admin/reload  reload now (409 if the bundle is refused)
    GET  /v1/drift[?last=N]  drift of the last N logged predictions (409 without --log)
    GET  /metrics        Prometheus text format
  JSON has no NaN: null is a missing value (numbers and categories alike; in binary tensor data a
  missing number is NaN and a missing category ""). Whether a column may be missing, and every
  other rule, is the bundle's, checked as by "predict".

Prediction log (--log FILE, SQLite in WAL mode): one row per predicted record and one per rejected
  request, with request id, UTC time, model version, inputs, outputs, latency and flags. A response
  is sent only after its rows are committed (header X-Log-Status: written), so every answered
  prediction survives a crash of the server. If the log cannot write (disk full, locked), the
  prediction is still returned with X-Log-Status: failed (with --log-required: a 503 instead), and
  the failure is counted in /metrics and /v1/status and logged. A log file deleted or renamed while
  serving is noticed (X-Log-Status: failed) and a new file is started at the path. Retention
  (--log-retention-rows/-days) is applied every minute.

Hot reload: when CURRENT names another version (read every --poll-s seconds), on SIGHUP, or on
  POST /v1/admin/reload, the bundle is loaded and verified (sha256, manifest, golden cases) in the
  background and swapped in atomically; requests in flight finish on the version they started
  with. A bundle that fails verification is refused and the old version keeps serving; the
  refusal shows in /v1/status, /metrics and the log. A version whose task, classes or input
  columns differ from the serving one is refused too, unless its major version differs (or
  --allow-interface-change). Every response names the version that served it.

Access: /v2/health/* is always open. /v1/admin/reload and /v2/repository/* need the bearer token of
  --admin-token-file (without it they answer only on a loopback --host, 403 elsewhere); with
  --api-token-file every other endpoint needs its token (401 with WWW-Authenticate: Bearer). A Host
  header not in --allowed-hosts gets 421 (DNS rebinding); a POST from a browser on another origin
  (Origin not an allowed host, or Sec-Fetch-Site: cross-site) gets 403; no CORS header is ever sent.
  Tokens files hold the token on their first line and must not be readable by other users.
  --ssl-certfile/--ssl-keyfile serve HTTPS.

Limits: a connection that sends nothing for --idle-timeout-s, or whose request head is not complete
  --header-timeout-s after its first byte, is closed (408); kept-alive connections close after
  --keep-alive-s; beyond --max-connections requests get 503 (the oldest connections still waiting
  for a request make room first). Declared tensor shapes are checked against --max-elements and the
  data sent before anything is allocated for them.
  Memory: one request costs up to ~40 x its body at peak (measured: an 8 MB JSON infer body of
  400,000 rows, +305 MB; 8 MB of binary tensor data, +134 MB; 6.6 MB of /v1/predict records,
  +114 MB), and the bodies of all requests in progress are limited to --max-inflight-body-bytes
  (503 beyond), so requests use at most ~40 x --max-inflight-body-bytes (~650 MB at the defaults;
  on a 1 GB gateway halve it and --max-body-bytes).
"""
# Stopping the server (SIGINT, SIGTERM) is a normal end: OK.
EXIT_CODES = frozenset({ExitCode.OK, ExitCode.BUNDLE_REFUSED})

DEFAULTS: dict[str, Any] = {field.name: field.default for field in dataclasses.fields(ServeConfig)}
# The server's own dependencies: an ImportError naming one of them means the extra is missing.
_SERVE_EXTRA = frozenset({"uvicorn", "starlette", "prometheus_client", "anyio", "h11"})
_MIB = 1024 * 1024


def _window_rows(text: str) -> int:
    value = positive_int(text)
    if value > MAX_WINDOW_ROWS:
        raise argparse.ArgumentTypeError(f"{text!r} is over the drift window's cap of {MAX_WINDOW_ROWS:,} rows")
    return value


def _size_text(size: int) -> str:
    return f"{size // _MIB} MiB" if size % _MIB == 0 else f"{size:,} bytes"


# (flag, ServeConfig field, help, argparse settings): the option's value lands in the field and
# defaults to the field's default; "%(default)s" in a help is argparse's, so the help shows that default.
_OPTIONS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("--host", "host", "address to listen on (default: %(default)s, this machine only)", {}),
    ("--port", "port", "TCP port (default: %(default)s; 0 picks a free one)", {"type": port}),
    ("--log", "log_path", "SQLite prediction log to append to (default: no log)", {"metavar": "FILE"}),
    (
        "--log-retention-rows",
        "log_retention_rows",
        "keep at most the newest N rows in the log",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--log-retention-days",
        "log_retention_days",
        "delete log rows older than D days",
        {"type": positive_float, "metavar": "D"},
    ),
    (
        "--log-sync",
        "log_sync",
        "normal (default): committed rows survive a crash of the server; full: also a power cut, at the cost of "
        "an fsync per group commit",
        {"choices": get_args(SyncMode)},
    ),
    (
        "--drift-window",
        "drift_window_rows",
        "GET /v1/drift and the drift gauges in /metrics judge the last N logged predictions (default %(default)s, "
        f"at most {MAX_WINDOW_ROWS:,}; counted in fixed memory, recomputed in the background at most once a minute "
        "for /metrics)",
        {"type": _window_rows, "metavar": "N"},
    ),
    (
        "--max-body-bytes",
        "max_body_bytes",
        f"refuse request bodies larger than this with 413 (default: {_size_text(DEFAULTS['max_body_bytes'])})",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--timeout-s",
        "timeout_s",
        "answer 503 when reading a request or predicting it takes longer (default: %(default)g)",
        {"type": positive_float, "metavar": "S"},
    ),
    (
        "--threads",
        "threads",
        "onnxruntime threads per call (default: %(default)s)",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--on-unknown",
        "on_unknown",
        "an unknown category is a 400 (reject, default), or is predicted and listed in the flags (flag)",
        {"choices": ON_UNKNOWN_CHOICES},
    ),
    (
        "--on-out-of-range",
        "on_out_of_range",
        "a number outside its column's valid range is a 400 (reject, default), or is predicted and listed in "
        "the flags (flag)",
        {"choices": ON_UNKNOWN_CHOICES},
    ),
    (
        "--poll-s",
        "poll_s",
        "how often the model folder's CURRENT file is read for a new version (default: %(default)g; 0: never, "
        "reload with SIGHUP or POST /v1/admin/reload)",
        {"type": non_negative_float, "metavar": "S"},
    ),
    (
        "--log-required",
        "log_required",
        "answer 503 instead of 200 when a prediction's log row was not committed, so every answer is in the "
        "log (needs --log)",
        {"action": "store_true"},
    ),
    (
        "--allow-interface-change",
        "allow_interface_change",
        "hot reload a version whose task, classes or input columns differ from the served one within the same "
        "major version (refused by default)",
        {"action": "store_true"},
    ),
    ("--access-log", "access_log", "log every request (uvicorn's access log)", {"action": "store_true"}),
    (
        "--idle-timeout-s",
        "idle_timeout_s",
        "close a connection that sends nothing this long after connecting (default: %(default)g)",
        {"type": positive_float, "metavar": "S"},
    ),
    (
        "--header-timeout-s",
        "header_timeout_s",
        "close a connection whose request line and headers are not complete this long after their first byte, "
        "with 408 (default: %(default)g)",
        {"type": positive_float, "metavar": "S"},
    ),
    (
        "--keep-alive-s",
        "keep_alive_s",
        "close an idle kept-alive connection this long after its last response (default: %(default)g)",
        {"type": positive_float, "metavar": "S"},
    ),
    (
        "--max-connections",
        "max_connections",
        "answer 503 to requests on connections beyond this many; close connections beyond twice this many as "
        "they arrive (default: %(default)s)",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--max-header-bytes",
        "max_header_bytes",
        "refuse a request line and headers larger than this with 400 (default: %(default)s)",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--max-elements",
        "max_elements",
        "refuse an infer request declaring more values than this (rows x model columns), before anything is "
        "allocated for it (default: %(default)s)",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--max-inflight-body-bytes",
        "max_inflight_body_bytes",
        "answer 503 when the bodies of all requests in progress would hold more than this "
        f"(default: {_size_text(DEFAULTS['max_inflight_body_bytes'])})",
        {"type": positive_int, "metavar": "N"},
    ),
    (
        "--admin-token-file",
        "admin_token_file",
        "bearer token (first line of FILE, not readable by other users) for /v1/admin/reload and /v2/repository/*; "
        "without it those answer only on a loopback address, and 403 elsewhere",
        {"metavar": "FILE"},
    ),
    (
        "--api-token-file",
        "api_token_file",
        "bearer token for every other endpoint except /v2/health/* (default: none needed)",
        {"metavar": "FILE"},
    ),
    (
        "--allowed-hosts",
        "allowed_hosts",
        "comma-separated Host header values served (NAME for any port, NAME:PORT); others get 421 (default: the "
        "--host address, localhost, 127.0.0.1 and [::1], with the port)",
        {"type": lambda text: tuple(part.strip() for part in text.split(",") if part.strip()), "metavar": "LIST"},
    ),
    (
        "--ssl-certfile",
        "ssl_certfile",
        "serve HTTPS with this PEM certificate (needs --ssl-keyfile)",
        {"metavar": "FILE"},
    ),
    ("--ssl-keyfile", "ssl_keyfile", "the certificate's PEM private key", {"metavar": "FILE"}),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help="a model folder with a CURRENT file, or a version folder")
    for flag, field, help, settings in _OPTIONS:
        parser.add_argument(flag, dest=field, default=DEFAULTS[field], help=help, **settings)


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    try:
        from .._serve.server import bind_socket, serve
    except ImportError as error:
        if (error.name or "").split(".")[0] not in _SERVE_EXTRA:
            raise
        raise CliError(f'{PROG} serve needs the "serve" extra: pip install ".[serve]"', ExitCode.USAGE) from error
    if args.log_required and args.log_path is None:
        # without a log no row is ever committed, and every prediction would be a 503
        raise CliError("--log-required needs --log FILE", ExitCode.USAGE)
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        raise CliError("--ssl-certfile and --ssl-keyfile go together", ExitCode.USAGE)
    from .._serve.access import read_token_file

    for option, path in (("--admin-token-file", args.admin_token_file), ("--api-token-file", args.api_token_file)):
        if path is not None:
            try:
                read_token_file(path, option)
            except ValueError as error:
                raise CliError(str(error), ExitCode.USAGE) from None
    model = load(args.bundle, threads=args.threads, on_unknown=args.on_unknown, on_out_of_range=args.on_out_of_range)
    config = ServeConfig(**{name: getattr(args, name) for name in DEFAULTS if hasattr(args, name)})
    if config.log_path is not None:
        try:
            check_prediction_log(config.log_path)
        except (OSError, sqlite3.Error) as error:
            raise CliError(f"cannot open --log {config.log_path!r}: {error}", ExitCode.USAGE) from error
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as error:
        raise CliError(
            f"cannot listen on {config.host}:{config.port}: {error.strerror or error}", ExitCode.USAGE
        ) from None
    with sock:
        serve(model, args.bundle, config, sock, console.stderr)
    return ExitCode.OK
