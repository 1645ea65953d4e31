"""The connector's TOML file, read strictly: every key known, every value typed, every refusal one line.

A refusal is a :class:`ConfigError` naming the file, the key (``mqtt.qos``), the value and what is
allowed, e.g. ``connect.toml: mqtt.qos == 2, must be 0 or 1``. Unknown keys are refused (a typo such as
``brokr`` would otherwise silently fall back to a default), node ids must parse, topic templates may
name only levels every subscription has. What needs the model (every input column mapped, renames
and units naming real columns) is checked by :func:`check_against_model` once the bundle is loaded.

Paths in the file are relative to the file's folder. Secrets are never in the file itself: a
password is read from ``password_file`` (its first line).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

from .._errors import FactoryEdgeError
from .._fields import shown
from .._model import Model
from .._validation import UnknownPolicy, cap_list

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover -- Python 3.10 reads TOML with tomli (the "connect" extra installs it there)
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "ConnectConfig",
    "MqttConfig",
    "OpcuaConfig",
    "TlsConfig",
    "Unit",
    "check_against_model",
    "read_config",
]

T = TypeVar("T")
MAX_CONFIG_BYTES = 1024 * 1024
# OPC UA's string form of a NodeId (Part 6, 5.3.1.10): an optional namespace, then i=, s=, g= or b=.
_NODE_ID = re.compile(
    r"(?:(?:ns=\d{1,5}|nsu=[^;]+);)?"
    r"(?:i=\d{1,10}|s=.+|g=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/=]+)",
    re.DOTALL,
)
_LEVEL = re.compile(r"\{(\d+)\}")


class ConfigError(FactoryEdgeError, ValueError):
    """The connector's configuration file is unreadable or holds something it cannot use."""


@dataclass(frozen=True)
class TlsConfig:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int
    client_id: str
    subscribe: tuple[str, ...]
    publish: str
    errors: str | None
    qos: int = 1
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = None
    tls: TlsConfig | None = None
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    max_payload_bytes: int = 64 * 1024


@dataclass(frozen=True)
class OpcuaConfig:
    endpoint: str
    trigger: str
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]
    username: str | None = None
    password: str | None = None
    timeout_s: float = 4.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True)
class Unit:
    """A linear conversion of an incoming number to the model's unit: ``value * scale + offset``."""

    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class ConnectConfig:
    path: Path
    bundle: Path
    outbox: Path
    log: Path | None = None
    log_retention_rows: int | None = None
    log_retention_days: float | None = None
    metrics_port: int | None = 9108
    on_unknown: UnknownPolicy = "reject"
    poll_s: float = 2.0
    allow_interface_change: bool = False
    batch_max_rows: int = 64
    batch_max_wait_ms: float = 5.0
    outbox_max_messages: int = 100_000
    outbox_max_age_s: float = 7 * 24 * 3600.0
    renames: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, Unit] = field(default_factory=dict)
    mqtt: MqttConfig | None = None
    opcua: OpcuaConfig | None = None


class _Table:
    """One TOML table being read: typed getters that name the key, and a check for leftover keys."""

    def __init__(self, data: Mapping[str, Any], where: str, file: Path) -> None:
        self.data, self.where, self.file, self.seen = data, where, file, set[str]()

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.file.name}: {self.where}{key} {message}")

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: Any = None, *, required: bool = False) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f"{self.file.name}: {self.where}{key} is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.error(key, f"== {shown(value)} has type {type(value).__name__}, must be {names}")
        return float(value) if float in kinds and isinstance(value, int) and not isinstance(value, bool) else value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value: float = self.get(key, (int, float), default)
        if not low <= value <= high:
            raise self.error(key, f"== {shown(value)}, must be within [{low:g}, {high:g}]")
        return value

    def whole(self, key: str, default: int | None, low: int, high: int) -> Any:
        value = self.get(key, int, default)
        if value is not None and not low <= value <= high:
            raise self.error(key, f"== {value}, must be within [{low}, {high}]")
        return value

    def table(self, key: str) -> _Table | None:
        value = self.get(key, dict)
        return _Table(value, f"{self.where}{key}.", self.file) if value is not None else None

    def path(self, key: str, *, required: bool = False, default: str | None = None) -> Path | None:
        text = self.get(key, str, default, required=required)
        return None if text is None else (self.file.parent / text)

    def secret(self, key: str) -> str | None:
        """The first line of the file named by ``key`` (a password is never written in the config)."""
        path = self.path(key)
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        except (OSError, UnicodeDecodeError, IndexError) as error:
            raise self.error(key, f"== {str(path)!r} cannot be read: {error}") from None

    def finish(self) -> None:
        unknown = [key for key in self.data if key not in self.seen]
        if unknown:
            raise ConfigError(
                f"{self.file.name}: unknown key {self.where}{unknown[0]}"
                + (f" (and {cap_list(unknown[1:])})" if len(unknown) > 1 else "")
                + f"; allowed in {self.where.rstrip('.') or 'the top level'}: {', '.join(sorted(self.seen))}"
            )


def read_config(path: str | Path) -> ConnectConfig:
    """Read and check ``path``; raises :class:`ConfigError` with one line naming what is wrong.

    >>> read_config("connect.toml").mqtt.publish  # doctest: +SKIP
    'plant/line3/{2}/quality'
    """
    file = Path(path)
    try:
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{file.name}: larger than {MAX_CONFIG_BYTES} bytes; this is not a connector config")
        data = tomllib.loads(file.read_bytes().decode("utf-8"))
    except OSError as error:
        raise ConfigError(f"{file}: cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file.name}: not UTF-8 text at byte {error.start}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{file.name}: not valid TOML: {error}") from None
    top = _Table(data, "", file)
    config = ConnectConfig(
        path=file,
        bundle=top.path("bundle", required=True) or file,
        outbox=top.path("outbox", default="outbox.db") or file,
        log=top.path("log"),
        log_retention_rows=top.whole("log_retention_rows", None, 1, 10**12),
        log_retention_days=_positive(top, "log_retention_days"),
        metrics_port=top.whole("metrics_port", 9108, 0, 65535),
        on_unknown=cast(UnknownPolicy, _choice(top, "on_unknown", get_args(UnknownPolicy), "reject")),
        poll_s=top.number("poll_s", 2.0, 0.0, 86400.0),
        allow_interface_change=top.get("allow_interface_change", bool, False),
        batch_max_rows=top.whole("batch_max_rows", 64, 1, 10_000),
        batch_max_wait_ms=top.number("batch_max_wait_ms", 5.0, 0.0, 1000.0),
        outbox_max_messages=top.whole("outbox_max_messages", 100_000, 1, 100_000_000),
        outbox_max_age_s=top.number("outbox_max_age_s", 7 * 24 * 3600.0, 1.0, 365 * 24 * 3600.0),
        renames=_strings(top.table("columns")),
        units=_units(top.table("units")),
        mqtt=_mqtt(top.table("mqtt")),
        opcua=_opcua(top.table("opcua")),
    )
    top.finish()
    if config.mqtt is None and config.opcua is None:
        raise ConfigError(f"{file.name}: neither [mqtt] nor [opcua] is configured: there is nothing to connect")
    return config


def _positive(table: _Table, key: str) -> float | None:
    value: float | None = table.get(key, (int, float))
    if value is not None and not 0 < value < float("inf"):
        raise table.error(key, f"== {shown(value)}, must be a number > 0")
    return value


def _choice(table: _Table, key: str, allowed: tuple[str, ...], default: str) -> str:
    value: str = table.get(key, str, default)
    if value not in allowed:
        raise table.error(key, f"== {shown(value)}, must be one of {', '.join(map(repr, allowed))}")
    return value


def _strings(table: _Table | None) -> dict[str, str]:
    if table is None:
        return {}
    values = {key: table.get(key, str, required=True) for key in table.data}
    table.finish()
    return values


def _units(table: _Table | None) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    for column in table.data if table is not None else ():
        assert table is not None
        entry = table.table(column)
        assert entry is not None
        units[column] = Unit(entry.number("scale", 1.0, -1e300, 1e300), entry.number("offset", 0.0, -1e300, 1e300))
        entry.finish()
    return units


def _host_port(table: _Table, key: str) -> tuple[str, int]:
    text: str = table.get(key, str, required=True)
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = text, "1883"
    if not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise table.error(key, f"== {shown(text)}, must be HOST:PORT (e.g. '127.0.0.1:1883')")
    return host.strip("[]"), int(port)


def _topic_filter(table: _Table, key: str, text: str) -> str:
    levels = text.split("/")
    bad_hash = "#" in text and (levels[-1] != "#" or text.count("#") > 1)
    bad_plus = any("+" in level and level != "+" for level in levels)
    if not text or bad_hash or bad_plus or "\x00" in text:
        raise table.error(key, f"has the topic filter {shown(text)}: '+' and '#' must be whole levels, '#' the last")
    return text


def _template(table: _Table, key: str, subscribe: tuple[str, ...], *, required: bool) -> str | None:
    text: str | None = table.get(key, str, required=required)
    if text is None:
        return None
    rest = _LEVEL.sub("", text)
    if not text or "{" in rest or "}" in rest or "+" in rest or "#" in rest:
        raise table.error(key, f"== {shown(text)}, must be a topic where {{N}} stands for level N of the incoming one")
    for index in (int(n) for n in _LEVEL.findall(text)):
        for pattern in subscribe:
            fixed = pattern.split("/")
            if "#" not in fixed and index >= len(fixed) or "#" in fixed and index >= fixed.index("#"):
                raise table.error(key, f"== {shown(text)} uses level {{{index}}}, but {pattern!r} has no level {index}")
    return text


def _mqtt(table: _Table | None) -> MqttConfig | None:
    if table is None:
        return None
    host, port = _host_port(table, "broker")
    subscribe_list = table.get("subscribe", list, required=True)
    if not subscribe_list or not all(isinstance(item, str) for item in subscribe_list):
        raise table.error("subscribe", f"== {shown(subscribe_list)}, must be a non-empty list of topic filters")
    subscribe = tuple(_topic_filter(table, "subscribe", item) for item in subscribe_list)
    client_id: str = table.get("client_id", str, required=True)
    if not 0 < len(client_id.encode("utf-8")) <= 65535:
        raise table.error("client_id", "must not be empty: the broker keeps this client's session under it")
    qos = table.whole("qos", 1, 0, 1)
    tls_table = table.table("tls")
    tls = None
    if tls_table is not None:
        tls = TlsConfig(
            tls_table.path("ca_file"),
            tls_table.path("cert_file"),
            tls_table.path("key_file"),
            tls_table.get("insecure", bool, False),
        )
        tls_table.finish()
    config = MqttConfig(
        host=host,
        port=port,
        client_id=client_id,
        subscribe=subscribe,
        publish=_template(table, "publish", subscribe, required=True) or "",
        errors=_template(table, "errors", subscribe, required=False),
        qos=qos,
        keepalive_s=table.whole("keepalive_s", 30, 5, 3600),
        username=table.get("username", str),
        password=table.secret("password_file"),
        tls=tls,
        reconnect_min_s=table.number("reconnect_min_s", 0.5, 0.01, 60.0),
        reconnect_max_s=table.number("reconnect_max_s", 30.0, 0.01, 3600.0),
        max_payload_bytes=table.whole("max_payload_bytes", 64 * 1024, 16, 16 * 1024 * 1024),
    )
    table.finish()
    return config


def _node_map(
    table: _Table | None, name: str, parent: _Table, allowed: tuple[str, ...] | None = None
) -> dict[str, str]:
    if table is None:
        raise parent.error(name, "is missing: a table of column -> node id")
    nodes = _strings(table)
    for key, node in nodes.items():
        if allowed is not None and key not in allowed:
            raise table.error(key, f"is not an output; allowed: {', '.join(allowed)}")
        _check_node(table, key, node)
    return nodes


def _check_node(table: _Table, key: str, node: str) -> str:
    if not _NODE_ID.fullmatch(node):
        raise table.error(key, f"== {shown(node)} is not an OPC UA node id (e.g. 'ns=2;s=Line3.Temperature', 'i=2258')")
    return node


def _opcua(table: _Table | None) -> OpcuaConfig | None:
    if table is None:
        return None
    endpoint: str = table.get("endpoint", str, required=True)
    if not endpoint.startswith("opc.tcp://"):
        raise table.error("endpoint", f"== {shown(endpoint)}, must start with 'opc.tcp://'")
    config = OpcuaConfig(
        endpoint=endpoint,
        trigger=_check_node(table, "trigger", table.get("trigger", str, required=True)),
        inputs=_node_map(table.table("inputs"), "inputs", table),
        outputs=_node_map(table.table("outputs"), "outputs", table, ("label", "probability", "value", "error")),
        username=table.get("username", str),
        password=table.secret("password_file"),
        timeout_s=table.number("timeout_s", 4.0, 0.1, 600.0),
        reconnect_min_s=table.number("reconnect_min_s", 0.5, 0.01, 60.0),
        reconnect_max_s=table.number("reconnect_max_s", 30.0, 0.01, 3600.0),
    )
    table.finish()
    return config


def check_against_model(config: ConnectConfig, model: Model) -> None:
    """Refuse what does not fit the loaded model: unmapped or unknown columns, units of categories,
    outputs the model's task has no value for."""
    where = f"{config.path.name}: "
    columns = model.columns
    numbers = {rule.name for rule in model.rules if rule.is_number}
    described = f"model {model.name!r} {model.version}"
    for source, target in config.renames.items():
        if target not in columns:
            raise ConfigError(
                f"{where}columns.{source} == {target!r} is not a column of {described}: {cap_list(columns)}"
            )
    for column in config.units:
        if column not in numbers:
            raise ConfigError(f"{where}units.{column}: not a number column of {described}: {cap_list(sorted(numbers))}")
    if config.opcua is None:
        return
    missing = [column for column in columns if column not in config.opcua.inputs]
    unknown = [column for column in config.opcua.inputs if column not in columns]
    if missing or unknown:
        parts = ([f"missing {cap_list(missing)}"] if missing else []) + (
            [f"unknown {cap_list(unknown)}"] if unknown else []
        )
        raise ConfigError(f"{where}opcua.inputs must map every input column of {described}: {'; '.join(parts)}")
    regressor = model.classes is None
    wrong = [key for key in config.opcua.outputs if key in (("label", "probability") if regressor else ("value",))]
    if wrong:
        kind = (
            "a regressor (outputs: value, error)" if regressor else "a classifier (outputs: label, probability, error)"
        )
        raise ConfigError(f"{where}opcua.outputs.{wrong[0]}: {described} is {kind}")
