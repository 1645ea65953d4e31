"""Parquet test data made from a bundle's own columns: good rows inside every valid range, and bad rows
of each kind the runtime refuses, at known places.

Every file has ``id`` (0..n-1, to line rows up again), ``recorded_at`` (a timestamp) and ``note``
(a string): columns the model does not read, which must pass through untouched. ``speed`` is written
as an integer column, so an integer column with nulls is covered too.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import runtime

INTEGER_COLUMN = "speed"
# (kind of damage, every how many rows, offset): rows hit by two kinds carry both reasons
DAMAGE = (
    ("out_of_range", 97, 3),
    ("unknown_category", 131, 7),
    ("null_not_nullable", 173, 11),
    ("not_finite", 211, 13),
)


def good_columns(model: runtime.Model, n_rows: int, rng: np.random.Generator) -> dict[str, list[object]]:
    """Values inside each column's range or categories, with nulls (about 2 %) where the column allows them."""
    columns: dict[str, list[object]] = {}
    for spec in model.manifest.inputs:
        if spec.kind == "number":
            low, high = spec.valid_range if spec.valid_range is not None else (-1e3, 1e3)
            values: list[object] = rng.uniform(low, high, n_rows).tolist()
            if spec.name == INTEGER_COLUMN:
                values = [int(round(v)) for v in values]  # type: ignore[call-overload]
        else:
            values = rng.choice(np.array(spec.categories, dtype=object), n_rows).tolist()
        if spec.nullable:
            for row in np.flatnonzero(rng.random(n_rows) < 0.02).tolist():
                values[row] = None
        columns[spec.name] = values
    return columns


def damage(model: runtime.Model, columns: dict[str, list[object]]) -> None:
    """Bad values in place, at the rows ``DAMAGE`` names."""
    n_rows = len(next(iter(columns.values())))
    numbers = [spec for spec in model.manifest.inputs if spec.kind == "number" and spec.valid_range is not None]
    floats = [spec for spec in numbers if spec.name != INTEGER_COLUMN]
    categories = [spec for spec in model.manifest.inputs if spec.kind == "category"]
    strict = [spec for spec in model.manifest.inputs if not spec.nullable]
    for kind, every, offset in DAMAGE:
        for count, row in enumerate(range(offset, n_rows, every)):
            if kind == "out_of_range":
                spec = numbers[count % len(numbers)]
                assert spec.valid_range is not None
                high = spec.valid_range[1]
                columns[spec.name][row] = int(high) + 7 if spec.name == INTEGER_COLUMN else high * 1.5 + 0.25
            elif kind == "unknown_category":
                columns[categories[count % len(categories)].name][row] = f"new-{count % 3}"
            elif kind == "null_not_nullable" and strict:
                columns[strict[count % len(strict)].name][row] = None
            elif kind == "not_finite":
                columns[floats[count % len(floats)].name][row] = math.inf if count % 2 else -math.inf


def table(model: runtime.Model, n_rows: int, *, seed: int = 14, bad: bool = True) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns = good_columns(model, n_rows, rng)
    if bad:
        damage(model, columns)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    fields: dict[str, pa.Array] = {
        "id": pa.array(np.arange(n_rows, dtype=np.int64)),
        "recorded_at": pa.array(
            [start + datetime.timedelta(seconds=row) for row in range(n_rows)], pa.timestamp("us", tz="UTC")
        ),
        "note": pa.array([f"part {row}" if row % 5 else None for row in range(n_rows)], pa.string()),
    }
    for spec in model.manifest.inputs:
        kind = pa.string() if spec.kind == "category" else pa.int64() if spec.name == INTEGER_COLUMN else pa.float64()
        fields[spec.name] = pa.array(columns[spec.name], kind)
    return pa.table(fields)


def write(model: runtime.Model, path: Path, n_rows: int, **options: object) -> pa.Table:
    data = table(model, n_rows, **options)  # type: ignore[arg-type]
    pq.write_table(data, path, row_group_size=50_000)
    return data
