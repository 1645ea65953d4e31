"""The OPC UA link reconnects: asyncua's server stopped and started again on its port, and the next trigger
is predicted and its outputs written, with the reconnection counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runtime
from tests.connect.broker import free_port
from tests.connect.clients import wait_for
from tests.connect.conftest import example_config
from tests.connect.opcua_server import LABEL, PROBABILITY, TRIGGER, OpcuaServer, input_node
from tests.runtime.serve.records import EXAMPLE


@pytest.mark.slow
def test_the_opcua_link_reconnects_after_the_server_restarts(
    shipped_bundle: Path, broker: Any, connector_factory: Any
) -> None:
    model = runtime.load(shipped_bundle)
    expected = model.predict(EXAMPLE)
    port = free_port()
    server = OpcuaServer(port, EXAMPLE)
    server.start()
    connector = connector_factory(
        lambda metrics: example_config(shipped_bundle, broker.address, server.endpoint, metrics)
    )
    connector.start()
    server.stop()
    wait_for(lambda: connector.get("/v2/health/ready")[0] == 503, 30, "the link to notice the server is gone")
    server = OpcuaServer(port, EXAMPLE)
    server.start()
    try:
        wait_for(lambda: connector.get("/v2/health/ready")[0] == 200, 60, "the reconnection")
        server.write({input_node(column): EXAMPLE[column] for column in model.columns})
        server.write({TRIGGER: 1})
        wait_for(lambda: server.read(PROBABILITY) != -1.0, 20, "the outputs after the reconnection")
        assert (server.read(LABEL), server.read(PROBABILITY)) == (expected.label, expected.probabilities[1])
        assert connector.status()["links"]["opcua"]["reconnects"] == 1
        assert connector.terminate() == 0
    finally:
        server.stop()
