"""Rows for the predict tests, and CSV / JSON Lines files written and read back the plain way."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import runtime


def valid_records(model: runtime.Model, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Records drawn from the manifest's ranges and categories, about 10 % of nullable values missing."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        record: dict[str, Any] = {}
        for spec in model.manifest.inputs:
            if spec.nullable and rng.random() < 0.1:
                record[spec.name] = None
            elif spec.kind == "number":
                low, high = spec.valid_range or (-100.0, 100.0)
                record[spec.name] = round(rng.uniform(low, high), 3)
            else:
                assert spec.categories
                record[spec.name] = rng.choice(spec.categories)
        records.append(record)
    return records


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def write_csv(path: Path, records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    columns = list(columns or records[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow([csv_text(record.get(name)) for name in columns])
    return path


def write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def read_csv(path_or_text: Path | str) -> list[dict[str, str]]:
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    return list(csv.DictReader(io.StringIO(text)))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def first_number_with_range(model: runtime.Model) -> runtime.ColumnSpec:
    return next(spec for spec in model.manifest.inputs if spec.kind == "number" and spec.valid_range)


def first_required_category(model: runtime.Model) -> runtime.ColumnSpec:
    for spec in model.manifest.inputs:
        if spec.kind == "category" and not spec.nullable:
            return spec
    pytest.skip("the bundle has no category column that refuses missing values")
