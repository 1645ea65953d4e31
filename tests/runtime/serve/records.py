"""What the serving tests send: the example record (valid for the shipped model, every column
present) and the JSON infer request for a list of records."""

from __future__ import annotations

from typing import Any

EXAMPLE = {
    "temperature": 206.61,
    "pressure": 59.94,
    "speed": 97.5,
    "humidity": 38.7,
    "vibration": 1.122,
    "machine_type": "B",
    "shift": "day",
}
COLUMNS = tuple(EXAMPLE)
NUMBERS = COLUMNS[:5]


def v2_body(rows: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """A JSON infer request with one [N, 1] tensor per column."""
    inputs = [
        {
            "name": name,
            "shape": [len(rows), 1],
            "datatype": "FP64" if name in NUMBERS else "BYTES",
            "data": [row[name] for row in rows],
        }
        for name in COLUMNS
    ]
    return {"inputs": inputs, **overrides}
