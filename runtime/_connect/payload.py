"""Incoming records, from an MQTT payload or OPC UA node values, turned into the model's columns.

An MQTT payload is one JSON object of column -> value, read as strictly as the server reads a
request body (:func:`runtime._json_body.parse_json`: UTF-8, no NaN, no number beyond the float
range, no lone surrogate; the same messages), and bounded in size before it is parsed. Its ``id``
field, when it has one and the model has no column of that name, is not an input: it is echoed in
the prediction. Then, as the config says, columns are renamed (incoming name -> model column) and
numbers converted to the model's units (``value * scale + offset``); nothing else is changed, so
every value is checked by the model's own validation as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InputError
from .._json_body import parse_json
from .config import Unit

__all__ = ["ID_FIELD", "convert", "decode_payload"]

ID_FIELD = "id"


def decode_payload(
    payload: bytes,
    *,
    max_bytes: int,
    columns: frozenset[str],
    renames: Mapping[str, str],
    units: Mapping[str, Unit],
) -> tuple[dict[str, Any], Any]:
    """``(record, id)`` from one MQTT payload; raises :class:`InputError` with the API's wording."""
    if len(payload) > max_bytes:
        raise InputError(f"request body has {len(payload):,} bytes, more than the {max_bytes:,} allowed.")
    data = parse_json(payload)
    if not isinstance(data, dict):
        raise InputError(
            f"request body must be one record (a JSON object of column -> value), got {type(data).__name__}."
        )
    message_id = data.pop(ID_FIELD, None) if ID_FIELD not in columns else None
    return convert(data, renames=renames, units=units), message_id


def convert(record: Mapping[str, Any], *, renames: Mapping[str, str], units: Mapping[str, Unit]) -> dict[str, Any]:
    """``record`` with its columns renamed and its numbers in the model's units."""
    converted: dict[str, Any] = {}
    for name, value in record.items():
        column = renames.get(name, name)
        if column in converted:
            raise InputError(f"column {column!r} is given twice in one record (as {name!r} and under its own name).")
        converted[column] = value
    for column, unit in units.items():
        value = converted.get(column)
        if isinstance(value, (int, float)) and type(value) is not bool:  # the rest is left to validation
            converted[column] = value * unit.scale + unit.offset
    return converted
