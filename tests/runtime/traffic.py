"""Traffic for the runtime suite, made with numpy from the bundle itself: no export code, no pandas.

Rows are drawn from the training distribution the bundle records in its drift reference (each number
column by inverting the reference's 101 quantiles, each category column by its shares, missing values
at the training rate where the column allows them), so the runtime suite can exercise drift, the
log and the server on a device-only install.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import runtime


def columns_like_training(manifest: runtime.Manifest, rows: int, seed: int) -> dict[str, np.ndarray]:
    """One array per input column: float64 with NaN for missing numbers, object with None for categories."""
    rng = np.random.default_rng(seed)
    reference = manifest.drift_reference.columns
    columns: dict[str, np.ndarray] = {}
    for spec in manifest.inputs:
        column = reference[spec.name]
        missing = rng.random(rows) < (column.missing_rate if spec.nullable else 0.0)
        if spec.kind == "number":
            quantiles = np.asarray(column.quantiles, dtype=np.float64)
            values = np.interp(rng.random(rows), np.linspace(0.0, 1.0, len(quantiles)), quantiles)
            values[missing] = np.nan
        else:
            categories = list(column.shares)
            shares = np.asarray([column.shares[c] for c in categories], dtype=np.float64)
            values = np.asarray(rng.choice(np.asarray(categories, dtype=object), rows, p=shares / shares.sum()))
            values[missing] = None
        columns[spec.name] = values
    return columns


def records_like_training(manifest: runtime.Manifest, rows: int, seed: int) -> list[dict[str, Any]]:
    """The same rows as records (column -> value), missing values as None, as JSON would carry them."""
    columns = columns_like_training(manifest, rows, seed)
    records: list[dict[str, Any]] = [{} for _ in range(rows)]
    for name, values in columns.items():
        for record, value in zip(records, values.tolist()):
            record[name] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
    return records
