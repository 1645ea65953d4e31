"""What the connector sends: prediction and error messages (JSON), and the values for OPC UA outputs.

A prediction (one incoming record)::

    {"id": "part-17", "label": 0, "probabilities": {"0": 0.93, "1": 0.07}, "flags": [],
     "model": "quality", "version": "1.0.0", "request_id": "5f0c...", "latency_us": 412}

``value`` replaces ``label`` and ``probabilities`` for a regressor; ``id`` is the incoming payload's
``id`` field (null when it had none). ``latency_us`` runs from the message's arrival to its
prediction (micro-batching included). An error::

    {"id": "part-18", "error": "temperature == 412.0, must be within [...]", "model": "quality",
     "version": "1.0.0", "request_id": "..."}

The error text is the one the API gives for the same record. OPC UA outputs get ``label``,
``probability`` (of the positive class: the decision's, else the last class) or ``value``, and
``error`` (an empty string after a good record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._json_body import dump_json
from .._model import Model

__all__ = ["Predicted", "error_message", "opcua_error", "opcua_values", "positive_index", "prediction_message"]


@dataclass(frozen=True, slots=True)
class Predicted:
    """One record's prediction, as plain values."""

    label: Any
    probabilities: Sequence[float] | None
    value: float | None
    flags: tuple[str, ...]


def positive_index(model: Model) -> int:
    """The column of ``probabilities`` an OPC UA ``probability`` output carries."""
    assert model.classes is not None
    decision = getattr(model.manifest, "decision", None)  # the manifest's optional decision threshold
    if decision is not None:
        return list(model.classes).index(decision.positive_class)
    return len(model.classes) - 1


def _head(model: Model, request_id: str, message_id: Any) -> dict[str, Any]:
    return {"id": message_id, "model": model.name, "version": model.version, "request_id": request_id}


def prediction_message(
    model: Model, predicted: Predicted, *, request_id: str, message_id: Any, latency_us: int
) -> bytes:
    body = _head(model, request_id, message_id)
    if predicted.probabilities is not None and model.classes is not None:
        body["label"] = predicted.label
        body["probabilities"] = {str(label): p for label, p in zip(model.classes, predicted.probabilities)}
    else:
        body["value"] = predicted.value
    body["flags"] = list(predicted.flags)
    body["latency_us"] = latency_us
    return dump_json(body)


def error_message(model: Model, error: str, *, request_id: str, message_id: Any) -> bytes:
    return dump_json({**_head(model, request_id, message_id), "error": error})


def opcua_values(model: Model, predicted: Predicted, outputs: Mapping[str, str]) -> bytes:
    """The output node values for one prediction, as the outbox keeps them (node id -> value)."""
    values: dict[str, Any] = {}
    if "label" in outputs:
        values[outputs["label"]] = predicted.label
    if "probability" in outputs and predicted.probabilities is not None:
        values[outputs["probability"]] = predicted.probabilities[positive_index(model)]
    if "value" in outputs:
        values[outputs["value"]] = predicted.value
    if "error" in outputs:
        values[outputs["error"]] = ""
    return dump_json(values)


def opcua_error(error: str, outputs: Mapping[str, str]) -> bytes | None:
    """The output node values for a refused record: its error, when an ``error`` node is configured."""
    return dump_json({outputs["error"]: error}) if "error" in outputs else None
