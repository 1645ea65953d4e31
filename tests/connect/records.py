"""Valid records for the shipped model, drawn at random inside every column's rules, each with an ``id``."""

from __future__ import annotations

import random
from typing import Any

import runtime

__all__ = ["records_for"]


def records_for(model: runtime.Model, count: int, seed: int = 12) -> list[dict[str, Any]]:
    draw = random.Random(seed)
    records = []
    for index in range(count):
        record: dict[str, Any] = {}
        for spec in model.manifest.inputs:
            if spec.kind == "number":
                low, high = spec.valid_range or (0.0, 1.0)
                record[spec.name] = round(draw.uniform(low, high), 3)
            else:
                record[spec.name] = draw.choice(sorted(spec.categories or ()))
        records.append({"id": f"part-{index}", **record})
    return records
