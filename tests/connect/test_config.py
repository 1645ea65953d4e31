"""The connector's TOML file is read strictly: each refusal is one line naming the key, the value and what is
allowed, from ``python -m runtime connect`` as exit 4 before anything connects; a bundle that fails the
trust policy is refused (exit 3) before anything connects either."""

from __future__ import annotations

from pathlib import Path

import pytest

import runtime
from runtime._connect.config import ConfigError, check_against_model, read_config
from tests.connect.conftest import example_config
from tests.runtime.cli.invoke import one_line, run
from tests.runtime.signing import make_key_pair

BROKER, ENDPOINT = "127.0.0.1:1883", "opc.tcp://127.0.0.1:4840"

# (what changes in the example config, the exact message)
REFUSALS = [
    (lambda t: "brokr = 1\n" + t, "connect.toml: unknown key brokr; allowed in the top level: allow_interface_change, batch_max_rows, batch_max_wait_ms, bundle, columns, log, log_retention_days, log_retention_rows, metrics_port, mqtt, on_unknown, opcua, outbox, outbox_max_age_s, outbox_max_messages, poll_s, units"),
    (lambda t: t.replace("qos = 1", "qos = 2"), "connect.toml: mqtt.qos == 2, must be within [0, 1]"),
    (lambda t: t.replace("qos = 1", 'qos = "1"'), "connect.toml: mqtt.qos == '1' has type str, must be int"),
    (lambda t: t.replace('temperature = "ns=2;s=Line3.Temperature"', 'temperature = "Line3.Temperature"'), "connect.toml: opcua.inputs.temperature == 'Line3.Temperature' is not an OPC UA node id (e.g. 'ns=2;s=Line3.Temperature', 'i=2258')"),
    (lambda t: t.replace('shift = "ns=2;s=Line3.Shift"\n', ""), "connect.toml: opcua.inputs must map every input column of model 'quality' 1.0.0: missing ['shift']"),
    (lambda t: t + 'colour = "ns=2;s=Line3.Quality.Colour"\n', "connect.toml: opcua.outputs.colour is not an output; allowed: label, probability, value, error"),
    (lambda t: t.replace('"plant/line3/{2}/quality"', '"plant/{7}/quality"'), "connect.toml: mqtt.publish == 'plant/{7}/quality' uses level {7}, but 'plant/line3/+/telemetry' has no level 7"),
    (lambda t: t.replace('"plant/line3/+/telemetry"', '"plant/line3/te#"'), "connect.toml: mqtt.subscribe has the topic filter 'plant/line3/te#': '+' and '#' must be whole levels, '#' the last"),
    (lambda t: t.replace(BROKER, "127.0.0.1:99999"), "connect.toml: mqtt.broker == '127.0.0.1:99999', must be HOST:PORT (e.g. '127.0.0.1:1883')"),
    (lambda t: t.replace(ENDPOINT, "tcp://127.0.0.1:4840"), "connect.toml: opcua.endpoint == 'tcp://127.0.0.1:4840', must start with 'opc.tcp://'"),
    (lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("bundle")), "connect.toml: bundle is missing"),
    (lambda t: t + '[columns]\n"Air temperature" = "air"\n', "connect.toml: columns.Air temperature == 'air' is not a column of model 'quality' 1.0.0: ['temperature', 'pressure', 'speed', 'humidity', 'vibration', and 2 more]"),
    (lambda t: t + "[units]\nshift = { scale = 2.0 }\n", "connect.toml: units.shift: not a number column of model 'quality' 1.0.0: ['humidity', 'pressure', 'speed', 'temperature', 'vibration']"),
    (lambda t: t + "[units]\ntemperature = { scale = 2.0, offest = 1.0 }\n", "connect.toml: unknown key units.temperature.offest; allowed in units.temperature: offset, scale"),
    (lambda t: 'bundle = "models/quality"\n', "connect.toml: neither [mqtt] nor [opcua] is configured: there is nothing to connect"),
    (lambda t: "log_retention_days = 0\n" + t, "connect.toml: log_retention_days == 0.0, must be a number > 0"),
    (lambda t: "x = [", "connect.toml: not valid TOML: Invalid value (at end of document)"),
]  # fmt: skip


@pytest.fixture
def write(tmp_path: Path, shipped_bundle: Path):
    def write(change) -> Path:
        path = tmp_path / "connect.toml"
        path.write_text(change(example_config(shipped_bundle, BROKER, ENDPOINT, 0)), encoding="utf-8")
        return path

    return write


def test_the_example_config_reads_as_written(write, shipped_bundle: Path) -> None:
    config = read_config(write(lambda t: t))
    check_against_model(config, runtime.load(shipped_bundle))
    assert config.mqtt is not None and config.opcua is not None
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.qos) == ("127.0.0.1", 1883, 1)
    assert config.mqtt.publish == "plant/line3/{2}/quality" and config.outbox == config.path.parent / "outbox.db"
    assert set(config.opcua.inputs) == set(runtime.load(shipped_bundle).columns)


@pytest.mark.parametrize(("change", "message"), REFUSALS, ids=[m.split(": ", 1)[1][:40] for _, m in REFUSALS])
def test_a_bad_config_is_refused_with_one_line(write, shipped_bundle: Path, change, message: str) -> None:
    path = write(change)
    with pytest.raises(ConfigError) as caught:
        check_against_model(read_config(path), runtime.load(shipped_bundle))
    assert str(caught.value) == message


def test_the_command_line_refuses_a_bad_config_before_connecting(write, capsys) -> None:
    code, _, stderr = run(capsys, "connect", write(lambda t: t.replace("qos = 1", "qos = 2")))
    assert (code, one_line(stderr)) == (4, "error: connect.toml: mqtt.qos == 2, must be within [0, 1]")


def test_an_unsigned_bundle_is_refused_when_a_key_is_trusted(write, tmp_path: Path, capsys) -> None:
    pytest.importorskip("cryptography", reason='needs the "verify" extra')
    key = make_key_pair(tmp_path / "keys")
    code, _, stderr = run(capsys, "connect", write(lambda t: t), "--trusted-key", key.public_pem)
    assert code == 3
    assert one_line(stderr).startswith("error: bundle refused: ") and "model.sig" in stderr
