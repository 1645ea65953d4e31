"""Where each record's result goes: the outbox rows for one prediction or refusal.

An MQTT record's prediction goes to ``publish`` and its refusal to ``errors`` (nothing to the
prediction topic), each with ``{N}`` replaced by level N of the incoming topic. Without an
``errors`` topic a refusal is only logged and counted. An OPC UA record's values go to its output
nodes (a refusal to the ``error`` node, when there is one).
"""

from __future__ import annotations

import re
import time

from .._model import Model
from .batcher import Inbound, Outgoing
from .config import ConnectConfig
from .messages import Predicted, error_message, opcua_error, opcua_values, prediction_message

__all__ = ["Router", "topic_for"]

_LEVEL = re.compile(r"\{(\d+)\}")


def topic_for(template: str, topic: str) -> str:
    """``template`` with ``{N}`` replaced by level N of ``topic`` (the config checked every N exists).

    >>> topic_for("plant/line3/{2}/quality", "plant/line3/press-7/telemetry")
    'plant/line3/press-7/quality'
    """
    levels = topic.split("/")
    return _LEVEL.sub(lambda match: levels[int(match.group(1))], template)


class Router:
    """The batcher's ``route``: outbox rows ``(channel, topic, payload)`` for one record's result."""

    def __init__(self, config: ConnectConfig) -> None:
        self.mqtt, self.opcua = config.mqtt, config.opcua

    def __call__(self, item: Inbound, model: Model, request_id: str, result: Predicted | str) -> list[Outgoing]:
        if item.source == "opcua":
            assert self.opcua is not None
            if isinstance(result, str):
                values = opcua_error(result, self.opcua.outputs)
                return [("opcua", "opcua", values)] if values is not None else []
            return [("opcua", "opcua", opcua_values(model, result, self.opcua.outputs))]
        assert self.mqtt is not None
        if isinstance(result, str):
            if self.mqtt.errors is None:
                return []
            body = error_message(model, result, request_id=request_id, message_id=item.message_id)
            return [("mqtt", topic_for(self.mqtt.errors, item.topic), body)]
        latency_us = (time.perf_counter_ns() - item.arrived_ns) // 1000
        body = prediction_message(
            model, result, request_id=request_id, message_id=item.message_id, latency_us=latency_us
        )
        return [("mqtt", topic_for(self.mqtt.publish, item.topic), body)]
