"""Small text helpers the runtime's layers share, one copy each: JSON-safe values, UTC timestamps, numbers.

>>> json_safe({"a": float("nan"), "b": (1, 2.5)})
{'a': None, 'b': [1, 2.5]}
>>> utc_iso(0.0)
'1970-01-01T00:00:00.000Z'
>>> format_number(12345), format_number(0.94451), format_number(None)
('12,345', '0.9445', 'n/a')
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = ["format_number", "json_safe", "utc_iso"]


def json_safe(value: Any) -> Any:
    """A copy that standard JSON can hold: NaN and infinities as None (JSON's null is a missing
    number), numpy scalars as Python scalars, tuples as lists, mapping keys as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if not isinstance(value, (str, bytes, int)) and callable(getattr(value, "item", None)):
        return json_safe(value.item())  # numpy scalars, without importing numpy here
    return value


def utc_iso(epoch: float | None = None, *, timespec: Literal["seconds", "milliseconds"] = "milliseconds") -> str:
    """``epoch`` (default: now) as ISO 8601 UTC with a ``Z``, e.g. ``2026-12-01T19:40:38.123Z``."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=timezone.utc)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def format_number(value: Any, digits: int = 4) -> str:
    """For people: counts with thousands separators, other numbers to ``digits`` significant digits,
    ``n/a`` for None; anything else as ``str``."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"
