"""asyncua's own Server, in this process on a thread with its own event loop, on a free loopback port.

It holds a PLC-like address space for the example config: ``ns=2;s=Line3.<Column>`` for each input,
``ns=2;s=Line3.PartComplete`` (an Int32 counter: the trigger) and the two outputs
``ns=2;s=Line3.Quality.Label`` (Int32) and ``ns=2;s=Line3.Quality.DefectProbability`` (Double).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from asyncua import Server, ua

__all__ = ["LABEL", "PROBABILITY", "TRIGGER", "OpcuaServer", "input_node"]

T = TypeVar("T")
NAMESPACE = "urn:factory-edge:tests:line3"
TRIGGER = "ns=2;s=Line3.PartComplete"
LABEL = "ns=2;s=Line3.Quality.Label"
PROBABILITY = "ns=2;s=Line3.Quality.DefectProbability"


def input_node(column: str) -> str:
    return f"ns=2;s=Line3.{column.title().replace('_', '')}"


class OpcuaServer:
    def __init__(self, port: int, example: Mapping[str, Any]) -> None:
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/factory-edge/"
        self.example = dict(example)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="opcua-server", daemon=True)
        self.nodes: dict[str, Any] = {}

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def start(self) -> None:
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        self.server = Server()
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        index = await self.server.register_namespace(NAMESPACE)
        assert index == 2, index
        line = await self.server.nodes.objects.add_object(ua.NodeId("Line3", index), "Line3")
        for column, value in self.example.items():
            kind = ua.VariantType.String if isinstance(value, str) else ua.VariantType.Double
            await self._variable(line, input_node(column), column, value, kind)
        await self._variable(line, TRIGGER, "PartComplete", 0, ua.VariantType.Int32)
        await self._variable(line, LABEL, "QualityLabel", -1, ua.VariantType.Int32)
        await self._variable(line, PROBABILITY, "DefectProbability", -1.0, ua.VariantType.Double)
        await self.server.start()

    async def _variable(self, parent: Any, node_id: str, name: str, value: Any, kind: ua.VariantType) -> None:
        node = await parent.add_variable(ua.NodeId.from_string(node_id), name, ua.Variant(value, kind))
        await node.set_writable()
        self.nodes[node_id] = node

    def write(self, values: Mapping[str, Any]) -> None:
        """Set node values as a PLC would (each keeps its type)."""

        async def write() -> None:
            for node_id, value in values.items():
                node = self.nodes[node_id]
                kind = await node.read_data_type_as_variant_type()
                await node.write_value(ua.DataValue(ua.Variant(value, kind)))

        self.call(write())

    def read(self, node_id: str) -> Any:
        return self.call(self.nodes[node_id].read_value())

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
