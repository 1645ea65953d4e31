"""``python -m runtime connect CONFIG.toml``: MQTT and OPC UA connectors (the "connect" extra)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sqlite3
from pathlib import Path

from .._contract import ExitCode
from .._model import load
from .._monitor.predictlog import PredictionLog, check_prediction_log
from ._base import PROG, CliError, Console, non_negative_float

__all__ = ["DESCRIPTION", "EXIT_CODES", "add_arguments", "run"]

DESCRIPTION = """\
Connect a bundle to the line: records in over MQTT and/or OPC UA, predictions out, every outgoing
message through a durable outbox (needs the "connect" extra: pip install ".[connect]").

CONFIG is a TOML file (paths in it are relative to its folder):

  bundle = "models/quality"           # a model folder (CURRENT) or a version folder
  log = "predictions.db"              # the prediction log, as for serve (optional;
                                      # log_retention_rows, log_retention_days as serve's options)
  outbox = "outbox.db"                # durable store-and-forward queue
  metrics_port = 9108                 # /metrics, /v2/health/live|ready, /v1/status, /v1/drift
                                      # on 127.0.0.1 (0: a free port, named on stderr)
  # on_unknown = "reject"             # or "flag"; poll_s = 2.0 (CURRENT), allow_interface_change
  # batch_max_rows = 64, batch_max_wait_ms = 5.0 (extra latency a record may wait for a batch)
  # outbox_max_messages = 100000, outbox_max_age_s = 604800 (beyond: oldest dropped, counted)
  # [columns] "Air temperature" = "temperature"   incoming name -> model column
  # [units] temperature = { scale = 1.0, offset = -273.15 }   value * scale + offset

  [mqtt]
  broker = "127.0.0.1:1883"
  client_id = "line3-quality"         # the broker keeps this client's session (unacked messages)
  subscribe = ["plant/line3/+/telemetry"]   # one JSON object per message: column -> value
  publish = "plant/line3/{2}/quality"       # {N} = level N (0-based) of the incoming topic
  errors = "plant/line3/{2}/errors"         # refused records, with the API's message
  qos = 1
  # username = "...", password_file = "...", keepalive_s = 30, max_payload_bytes = 65536
  # reconnect_min_s = 0.5, reconnect_max_s = 30
  # [mqtt.tls] ca_file = "ca.pem", cert_file = "...", key_file = "...", insecure = false

  [opcua]
  endpoint = "opc.tcp://127.0.0.1:4840"
  trigger = "ns=2;s=Line3.PartComplete"     # a data change of this node makes one record
  [opcua.inputs]                            # every input column -> node id
  temperature = "ns=2;s=Line3.Temperature"
  [opcua.outputs]                           # label, probability (positive class), value, error
  label = "ns=2;s=Line3.Quality.Label"
  probability = "ns=2;s=Line3.Quality.DefectProbability"

A prediction message: {"id", "label", "probabilities", "flags", "model", "version", "request_id",
"latency_us"} ("value" for regressors; "id" is the incoming payload's). Delivery is at least once:
an inbound QoS 1 message is acknowledged only after its prediction is committed to the outbox, and an
outbox row is deleted only once the broker (PUBACK) or the OPC UA server confirmed it, so a crash
can resend a message (counted: factory_edge_connect_duplicates_total, ..._outbox_resent_total).

SIGTERM or SIGINT: stop taking input, deliver what the outbox holds (up to --flush-timeout-s; the
rest is sent on the next start), exit 0. SIGHUP: reload the bundle now. The bundle is reloaded when
CURRENT names another version, with the interface guard of serve.
"""
# Stopping (SIGTERM, SIGINT) is a normal end: OK.
EXIT_CODES = frozenset({ExitCode.OK, ExitCode.BUNDLE_REFUSED})
# The connector's own dependencies: an ImportError naming one of them means the extra is missing.
_CONNECT_EXTRA = frozenset({"paho", "asyncua", "prometheus_client", "tomli"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG.toml", type=Path, help="the connector's configuration")
    parser.add_argument(
        "--flush-timeout-s",
        type=non_negative_float,
        default=10.0,
        metavar="S",
        help="on SIGTERM, how long to keep delivering the outbox before exiting (default: %(default)g)",
    )
    parser.add_argument(
        "--allow-interface-change",
        action="store_true",
        help="hot reload a version whose task, classes or input columns differ within the same major version "
        "(refused by default; the config's allow_interface_change = true does the same)",
    )


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    try:
        from .._connect.config import ConfigError, read_config
        from .._connect.process import Connector, run_until_signalled
    except ImportError as error:
        if (error.name or "").split(".")[0] not in _CONNECT_EXTRA:
            raise
        raise CliError(f'{PROG} connect needs the "connect" extra: pip install ".[connect]"', ExitCode.USAGE) from error
    try:
        config = read_config(args.config)
        if args.allow_interface_change:
            config = dataclasses.replace(config, allow_interface_change=True)
    except ConfigError as error:
        raise CliError(str(error), ExitCode.USAGE) from None
    model = load(config.bundle, on_unknown=config.on_unknown)
    log = None
    if config.log is not None:
        try:
            check_prediction_log(config.log)
        except (OSError, sqlite3.Error) as error:
            raise CliError(f"cannot open the log {str(config.log)!r}: {error}", ExitCode.USAGE) from error
        log = PredictionLog(
            config.log, retention_rows=config.log_retention_rows, retention_days=config.log_retention_days
        )
    try:
        connector = Connector(config, model, loader=functools.partial(load, on_unknown=config.on_unknown), log=log)
    except ConfigError as error:
        raise CliError(str(error), ExitCode.USAGE) from None
    except (OSError, sqlite3.Error) as error:
        raise CliError(f"cannot start the connector: {error}", ExitCode.USAGE) from error
    try:
        run_until_signalled(connector, flush_timeout_s=args.flush_timeout_s, ready=lambda c: _announce(c, console))
    finally:
        if log is not None:
            log.close()
    return ExitCode.OK


def _announce(connector: object, console: Console) -> None:
    from .._connect.process import Connector

    assert isinstance(connector, Connector)
    model = connector.holder.current
    where = f"127.0.0.1:{connector.health.port}" if connector.health is not None else "off"
    console.stderr.write(
        f"connecting {model.name} {model.version}: {', '.join(link.name for link in connector.links)}; "
        f"metrics {where}; outbox {connector.config.outbox} ({connector.outbox.queued} queued)\n"
    )
    console.stderr.flush()
