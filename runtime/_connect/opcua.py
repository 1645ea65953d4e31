"""The OPC UA link (asyncua): a data change of the trigger node makes one record; outputs are written back.

The client runs its own asyncio loop on a thread. Once connected it subscribes to the trigger node;
each data change after the first notification (which is only the node's current value) reads
every input node in one ``Read`` and hands the record to the batcher. The prediction's values
(label, positive-class probability, or value; an error text) go through the outbox like MQTT
messages and are written to the output nodes in order, each row deleted once its writes are answered
Good. A write is typed as the node is (an Int32 node gets an Int32), so a PLC tag is never retyped.

When the server is unreachable the link reconnects with exponential backoff (``reconnect_min_s`` up
to ``reconnect_max_s``), and output values wait in the outbox. OPC UA has no redelivery of its own:
a trigger that changes while the connector is not connected makes no record (unlike MQTT QoS 1).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.ua.uaerrors import UaError

from .batcher import Batcher, Inbound
from .config import OpcuaConfig, Unit
from .outbox import Outbox
from .payload import convert

__all__ = ["OpcuaLink"]

logger = logging.getLogger(__name__)

_INTEGERS = {
    ua.VariantType.SByte, ua.VariantType.Byte, ua.VariantType.Int16, ua.VariantType.UInt16,
    ua.VariantType.Int32, ua.VariantType.UInt32, ua.VariantType.Int64, ua.VariantType.UInt64,
}  # fmt: skip
_FLOATS = {ua.VariantType.Float, ua.VariantType.Double}
CHECK_INTERVAL_S = 0.05


def typed(value: Any, kind: ua.VariantType) -> ua.Variant:
    """``value`` as a Variant of the node's type (a label 1 for a String node is ``"1"``)."""
    if kind in _INTEGERS:
        return ua.Variant(int(value), kind)
    if kind in _FLOATS:
        return ua.Variant(float(value), kind)
    if kind == ua.VariantType.Boolean:
        return ua.Variant(bool(value), kind)
    if kind == ua.VariantType.String:
        return ua.Variant(str(value), kind)
    return ua.Variant(value)


class _Trigger:
    """asyncua's subscription handler: every data change but the first makes one record."""

    def __init__(self, link: OpcuaLink) -> None:
        self.link = link
        self.first = True

    def datachange_notification(self, node: Node, value: Any, data: Any) -> None:
        if self.first:
            self.first = False
            return
        self.link.triggered()


class OpcuaLink:
    """One asyncua client on its own thread and loop."""

    name = "opcua"

    def __init__(self, config: OpcuaConfig, batcher: Batcher, outbox: Outbox, units: Mapping[str, Unit]) -> None:
        self.config, self.batcher, self.outbox, self.units = config, batcher, outbox, units
        self.connected = False
        self.reconnects = 0
        self._connected_once = False
        self._taking_input = True
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0
        self._types: dict[str, ua.VariantType] = {}
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="connect-opcua", daemon=True)
        quiet = logging.getLogger("asyncua")
        if quiet.level == logging.NOTSET:  # its warnings about revised session values are not the user's concern
            quiet.setLevel(logging.ERROR)

    def start(self) -> None:
        self._thread.start()

    def stop_input(self) -> None:
        self._taking_input = False

    def flush(self, timeout_s: float) -> bool:
        stop = threading.Event()
        for _ in range(int(timeout_s / CHECK_INTERVAL_S)):
            if not self.outbox.peek("opcua", 1) and self._pending == 0:
                return True
            stop.wait(CHECK_INTERVAL_S)
        return False

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10.0)

    # -- the loop ---------------------------------------------------------------------------------
    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        delay = self.config.reconnect_min_s
        attempts = 0
        while not self._stopping.is_set():
            client = Client(url=self.config.endpoint, timeout=self.config.timeout_s)
            if self.config.username is not None:
                client.set_user(self.config.username)
                client.set_password(self.config.password or "")
            try:
                await client.connect()
            except (OSError, asyncio.TimeoutError, UaError) as error:
                if attempts % 10 == 0:  # the first failure, then every tenth
                    logger.warning("OPC UA %s unreachable (%s); retrying", self.config.endpoint, error)
                attempts += 1
                await self._sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                continue
            self.reconnects += self._connected_once
            self._connected_once = True
            attempts, delay = 0, self.config.reconnect_min_s
            try:
                await self._session(client)
            except (OSError, asyncio.TimeoutError, UaError, ConnectionError) as error:
                logger.warning("OPC UA connection to %s lost (%s); reconnecting", self.config.endpoint, error)
            finally:
                self.connected = False
                try:
                    await asyncio.wait_for(client.disconnect(), self.config.timeout_s)
                except Exception:  # noqa: BLE001 -- the connection is gone either way
                    pass

    async def _sleep(self, seconds: float) -> None:
        for _ in range(max(1, int(seconds / CHECK_INTERVAL_S))):
            if self._stopping.is_set():
                return
            await asyncio.sleep(CHECK_INTERVAL_S)

    async def _session(self, client: Client) -> None:
        self.client = client
        self._inputs = {column: client.get_node(node) for column, node in self.config.inputs.items()}
        for node_id in self.config.outputs.values():
            self._types[node_id] = await client.get_node(node_id).read_data_type_as_variant_type()
        subscription = await client.create_subscription(max(1, int(CHECK_INTERVAL_S * 1000)), _Trigger(self))
        await subscription.subscribe_data_change(client.get_node(self.config.trigger))
        self.connected = True
        logger.info("OPC UA connected to %s, watching %s", self.config.endpoint, self.config.trigger)
        while not self._stopping.is_set():
            await self._deliver(client)
            await client.check_connection()
            await asyncio.sleep(CHECK_INTERVAL_S)
        await self._deliver(client)

    def triggered(self) -> None:
        if self._taking_input and self._loop is not None:
            self._pending += 1
            self._loop.create_task(self._read_record())

    async def _read_record(self) -> None:
        try:
            columns = list(self._inputs)
            values = await self.client.read_values([self._inputs[column] for column in columns])
            record = convert(dict(zip(columns, values)), renames={}, units=self.units)
            item = Inbound("opcua", "opcua", record)
            await asyncio.get_running_loop().run_in_executor(None, self.batcher.submit, item)
        except (OSError, asyncio.TimeoutError, UaError, ConnectionError) as error:
            logger.error("OPC UA: reading the inputs for a trigger failed (%s); no record was made", error)
        finally:
            self._pending -= 1

    async def _deliver(self, client: Client) -> None:
        """Write the outbox's output values in order; a row is deleted once all its writes are Good."""
        while True:
            rows = self.outbox.peek("opcua", 32)
            if not rows:
                return
            for row in rows:
                values: dict[str, Any] = json.loads(row.payload)
                nodes = [client.get_node(node_id) for node_id in values]
                variants = [ua.DataValue(typed(value, self._types[node_id])) for node_id, value in values.items()]
                await client.write_values(nodes, variants)  # raises on a Bad status: the row stays
                self.outbox.mark_sent([row])
                self.outbox.confirm([row.id])
