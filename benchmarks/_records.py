"""The inputs every path is timed on: records for single calls, synthetic columns for batches.

All three paths see the same values in the form each takes natively: the runtime a record (or a
mapping of column -> numpy array), bare onnxruntime one prepared ``(1, 1)`` array per graph input,
scikit-learn a pandas DataFrame with NaN for a missing number and ``""`` for a missing category
(the markers the Pipeline's imputers were trained on, see ``export/_data.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import runtime
from runtime._contract import MISSING_CATEGORY

__all__ = [
    "MISSING_CATEGORY",
    "benchmark_records",
    "column_records",
    "distinct_records",
    "onnx_feeds",
    "sklearn_record",
    "synthetic_columns",
    "sklearn_frame",
]


def benchmark_records(model: runtime.Model, limit: int = 16) -> list[dict[str, Any]]:
    """Up to ``limit`` golden-case inputs that ``model`` accepts with its own policy.

    Golden cases include unknown categories, which a model loaded with the default
    ``on_unknown="reject"`` refuses; those are left out, so every timed call is a real prediction.
    Falls back to the bundle's ``example_input.json`` when no golden case qualifies.
    """
    records: list[dict[str, Any]] = []
    for case in model.manifest.golden_cases:
        try:
            model.predict(case.inputs)
        except runtime.InputError:
            continue
        records.append(dict(case.inputs))
        if len(records) == limit:
            break
    if not records:
        example = model.path / "example_input.json"
        if example.is_file():
            records.append(json.loads(example.read_text(encoding="utf-8")))
            model.predict(records[0])
    if not records:
        raise runtime.BundleError(
            f"bundle {str(model.path)!r} has no golden case or example input this runtime accepts to time"
        )
    return records


def onnx_feeds(record: Mapping[str, Any], manifest: runtime.Manifest) -> dict[str, np.ndarray]:
    """One ``(1, 1)`` array per graph input, as the runtime builds them: float64 or object (string)."""
    feeds: dict[str, np.ndarray] = {}
    for column in manifest.inputs:
        value = record[column.name]
        if column.kind == "number":
            feeds[column.onnx_input] = np.array([[math.nan if value is None else float(value)]], dtype=np.float64)
        else:
            feeds[column.onnx_input] = np.array([[MISSING_CATEGORY if value is None else str(value)]], dtype=object)
    return feeds


def sklearn_record(record: Mapping[str, Any], manifest: runtime.Manifest) -> dict[str, Any]:
    """The record as the Pipeline was trained on it: NaN for a missing number, ``""`` for a missing category."""
    converted: dict[str, Any] = {}
    for column in manifest.inputs:
        value = record[column.name]
        if column.kind == "number":
            converted[column.name] = math.nan if value is None else float(value)
        else:
            converted[column.name] = MISSING_CATEGORY if value is None else str(value)
    return converted


def _number_column(
    column: runtime.ColumnSpec, reference: Mapping[str, Any], rows: int, rng: np.random.Generator
) -> np.ndarray:
    quantiles = np.asarray(reference["quantiles"], dtype=np.float64)
    # inverse of the empirical CDF the 101 quantiles describe: uniform draws mapped through it
    values = np.interp(rng.random(rows), np.linspace(0.0, 1.0, len(quantiles)), quantiles)
    if column.valid_range is not None:
        values = np.clip(values, *column.valid_range)
    if column.nullable:
        values[rng.random(rows) < float(reference.get("missing_rate", 0.0))] = math.nan
    return values


def _category_column(
    column: runtime.ColumnSpec, reference: Mapping[str, Any], rows: int, rng: np.random.Generator
) -> np.ndarray:
    categories = list(column.categories or ())
    shares = reference.get("shares") or {}
    weights = np.array([max(0.0, float(shares.get(c, 0.0))) for c in categories], dtype=np.float64)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(categories), 1.0 / len(categories))
    values = np.array(categories, dtype=object)[rng.choice(len(categories), size=rows, p=weights)]
    if column.nullable:
        values[rng.random(rows) < float(reference.get("missing_rate", 0.0))] = None
    return values


def synthetic_columns(
    manifest: runtime.Manifest, rows: int, records: Sequence[Mapping[str, Any]], seed: int = 0
) -> dict[str, np.ndarray]:
    """``rows`` rows as column -> numpy array (float64 with NaN; object with None), for ``predict_batch``.

    Numbers are drawn from the manifest's ``drift_reference`` quantiles (the training distribution)
    and clipped to the column's ``valid_range``; categories by their training shares, only known
    ones; values go missing at the training missing rate, only in nullable columns. A column with no
    usable reference is resampled from ``records`` instead.
    """
    if rows < 1:
        raise ValueError(f"rows == {rows!r}, must be >= 1")
    rng = np.random.default_rng(seed)
    references = {name: reference.to_dict() for name, reference in manifest.drift_reference.columns.items()}
    columns: dict[str, np.ndarray] = {}
    for column in manifest.inputs:
        reference = references.get(column.name) or {}
        if column.kind == "number" and len(reference.get("quantiles") or ()) >= 2:
            columns[column.name] = _number_column(column, reference, rows, rng)
        elif column.kind == "category" and column.categories:
            columns[column.name] = _category_column(column, reference, rows, rng)
        else:
            picks = rng.integers(0, len(records), size=rows)
            known = [records[i][column.name] for i in picks]
            if column.kind == "number":
                columns[column.name] = np.array([math.nan if v is None else v for v in known], dtype=np.float64)
            else:
                columns[column.name] = np.array(known, dtype=object)
    return columns


def sklearn_frame(columns: Mapping[str, np.ndarray], manifest: runtime.Manifest) -> Any:
    """The same rows as a pandas DataFrame in the Pipeline's form (``""`` for a missing category)."""
    import pandas as pd

    data: dict[str, Any] = {}
    for column in manifest.inputs:
        values = columns[column.name]
        if column.kind == "number":
            data[column.name] = np.asarray(values, dtype=np.float64)
        else:
            data[column.name] = np.array([MISSING_CATEGORY if v is None else str(v) for v in values], dtype=object)
    return pd.DataFrame(data)


def column_records(columns: Mapping[str, np.ndarray], rows: int) -> list[dict[str, Any]]:
    """Row dicts of synthetic columns, missing values as None (what a client sends)."""
    names = list(columns)
    lists = [columns[name].tolist() for name in names]
    return [
        {
            name: (None if value is None or (isinstance(value, float) and math.isnan(value)) else value)
            for name, value in zip(names, row)
        }
        for row in zip(*lists)
    ][:rows]


def distinct_records(model: runtime.Model, examples: Sequence[Mapping[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` distinct records drawn like :func:`synthetic_columns` (seed 7): what single-record
    latency cycles through, so no path is timed on a handful of inputs its caches have learned."""
    return column_records(synthetic_columns(model.manifest, count, examples, seed=7), count)
