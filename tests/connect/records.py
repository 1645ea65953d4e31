"""Valid records for the shipped model (the predict tests' own draw, some nullable values missing), each
with an ``id``."""

from __future__ import annotations

from typing import Any

import runtime
from tests.runtime.cli.rows import valid_records

__all__ = ["records_for"]


def records_for(model: runtime.Model, count: int, seed: int = 12, *, complete: bool = False) -> list[dict[str, Any]]:
    """``count`` records; ``complete`` ones have no missing value (an OPC UA node always holds one)."""
    drawn = valid_records(model, count * 3 if complete else count, seed)
    if complete:
        drawn = [record for record in drawn if None not in record.values()][:count]
    return [{"id": f"part-{index}", **record} for index, record in enumerate(drawn)]
