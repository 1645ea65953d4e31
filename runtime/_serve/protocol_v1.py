"""``POST /v1/predict`` payloads, for people and scripts: one record or a list of records in; label,
probabilities keyed by class (as strings), value and flags out.

A request body is a JSON object of column -> value (``null`` for missing) or a list of them::

    {"temperature": 206.61, "pressure": null, ..., "shift": "day"}

A single record is answered with ``request_id``, ``model``, ``version`` and its prediction
(``label``, ``probabilities``, ``flags``; ``value`` for regressors); a list with ``request_id``,
``model``, ``version`` and ``predictions``, one per record, in order. Only the standard library, no HTTP.
"""

from __future__ import annotations

from typing import Any

from .._errors import InputError
from .._json_body import dump_json
from .outcome import Outcome

__all__ = ["check_records", "encode_predict_response", "prediction_item"]


def check_records(data: Any) -> dict[str, Any] | list[Any]:
    """``data`` if it is one record (a dict) or a list of records; the items are checked by the runtime."""
    if isinstance(data, (dict, list)):
        return data
    raise InputError(
        "request body must be one record (a JSON object of column -> value) or a list of records, "
        f"got {type(data).__name__}."
    )


def prediction_item(outcome: Outcome, index: int) -> dict[str, Any]:
    """Row ``index`` of ``outcome`` as the endpoint answers it."""
    item: dict[str, Any] = {}
    if outcome.labels is not None and outcome.probabilities is not None and outcome.classes is not None:
        item["label"] = outcome.labels[index]
        item["probabilities"] = {str(label): p for label, p in zip(outcome.classes, outcome.probabilities[index])}
    else:
        assert outcome.values is not None
        item["value"] = outcome.values[index]
    item["flags"] = list(outcome.flags.get(index, ()))
    return item


def encode_predict_response(outcome: Outcome, request_id: str, *, single: bool) -> bytes:
    """The response body: one record's prediction inline (``single``), or a list of ``predictions``."""
    head = {"request_id": request_id, "model": outcome.model, "version": outcome.version}
    if single:
        return dump_json({**head, **prediction_item(outcome, 0)})
    return dump_json({**head, "predictions": [prediction_item(outcome, index) for index in range(outcome.rows)]})
