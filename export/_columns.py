"""Column policy: which columns are numbers or categories, how their values are typed, which may be
missing, the valid range of each number, and the optional schema file that overrides them.

The result is one :class:`runtime.ColumnSpec` per feature, what the runtime checks every record
against on the device. The schema file::

    {"columns": {name: {"valid_range": [lo, hi], "nullable": bool, "description": str}}}

wins over what the data suggests, but may not contradict the training data (a training value
outside a declared range, or missing where the file says never missing, stops the export).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import runtime
from runtime._contract import MISSING_CATEGORY

from ._config import TableSpec
from ._errors import ExportError

__all__ = ["RANGE_MARGIN", "column_specs", "describe_ranges", "infer_spec", "prepare_frame", "read_schema_file"]

# Ranges inferred from data are widened by this share of the observed span on each side
# (but not below 0 for a column that is never negative in training).
RANGE_MARGIN = 0.10


def read_schema_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read the optional schema file: ``{"columns": {name: {"valid_range": [lo, hi], "nullable": bool,
    "kind": "number"|"category", "description": str}}}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    columns = data.get("columns") if isinstance(data, dict) else None
    if not isinstance(columns, dict):
        raise ValueError(f'schema file {str(path)!r} must hold {{"columns": {{name: {{...}}}}}}')
    return columns


def infer_spec(
    frame: pd.DataFrame,
    target: str,
    *,
    numeric: tuple[str, ...] = (),
    categorical: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
) -> TableSpec:
    """Split columns into numbers and categories; explicit lists win over inference.

    A column is numeric when pandas reads it as a number (bools are categories); everything else
    is a category. Columns named in ``drop`` and the target are not features.
    """
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} is not in the data; columns are {list(frame.columns)}")
    for name in (*numeric, *categorical, *drop):
        if name not in frame.columns:
            raise ValueError(f"column {name!r} is not in the data; columns are {list(frame.columns)}")
    both = set(numeric) & set(categorical)
    if both:
        raise ValueError(f"columns {sorted(both)} are listed as both numeric and categorical")
    inferred_numeric: list[str] = []
    inferred_categorical: list[str] = []
    for name in frame.columns:
        if name == target or name in drop:
            continue
        if name in numeric:
            inferred_numeric.append(name)
        elif name in categorical:
            inferred_categorical.append(name)
        elif pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name]):
            inferred_numeric.append(name)
        else:
            inferred_categorical.append(name)
    if not inferred_numeric and not inferred_categorical:
        raise ValueError("no feature columns are left after dropping the target and --drop columns")
    return TableSpec(target, tuple(inferred_numeric), tuple(inferred_categorical), tuple(drop))


def prepare_frame(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """The feature frame both scikit-learn and the parity proof see: numbers as float64,
    categories as strings with ``""`` for missing (the marker the ONNX imputer understands)."""
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name in spec.numeric:
        try:
            out[name] = pd.to_numeric(frame[name], errors="raise").astype(np.float64).to_numpy()
        except (ValueError, TypeError) as error:
            raise ValueError(f"column {name!r} is declared numeric but holds non-numbers: {error}") from None
    for name in spec.categorical:
        values = frame[name].to_numpy(dtype=object)
        out[name] = np.array([MISSING_CATEGORY if _is_missing(v) else _category_text(v) for v in values], dtype=object)
    return out


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _category_text(value: Any) -> str:
    # 1.0 read from a CSV column of integers with gaps becomes "1", not "1.0".
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def column_specs(
    spec: TableSpec,
    features: pd.DataFrame,
    schema: Mapping[str, dict[str, Any]],
    *,
    demo_ranges: Mapping[str, tuple[float, float]] | None = None,
    range_margin: float = RANGE_MARGIN,
) -> tuple[runtime.ColumnSpec, ...]:
    """One :class:`runtime.ColumnSpec` per feature, in the order of ``spec.features``.

    ``demo_ranges`` are the demo data's physical sensor limits (``None`` for a user's data): they
    set the valid range of their columns unless the schema file declares one. Other ranges come
    from the training data widened by ``range_margin`` of the span on each side (``--range-margin``).
    """
    columns = []
    for name in spec.features:
        _refuse_empty(name, features[name], spec)
        declared = schema.get(name, {})
        if name in spec.numeric:
            values = features[name].to_numpy(dtype=np.float64)
            columns.append(_number_column(name, values, declared, demo_ranges or {}, range_margin))
        else:
            columns.append(_category_column(name, features[name].to_numpy(dtype=object), declared))
    return tuple(columns)


def _refuse_empty(name: str, values: pd.Series, spec: TableSpec) -> None:
    """A feature missing in every training row teaches the model nothing and its imputer drops it."""
    missing = values.isna() if name in spec.numeric else values == MISSING_CATEGORY
    if len(values) and bool(missing.all()):
        raise ExportError(
            f"column {name!r} is missing in all {len(values)} training rows: "
            f"drop it (--drop {shlex.quote(name)}) or fill it"
        )


def _number_column(
    name: str,
    values: np.ndarray,
    declared: dict[str, Any],
    demo_ranges: Mapping[str, tuple[float, float]],
    range_margin: float,
) -> runtime.ColumnSpec:
    present = values[~np.isnan(values)]
    nullable = _nullable(name, declared, len(values) - len(present))
    low, high, source = _valid_range(name, present, declared, demo_ranges, range_margin)
    outside = int(((present < low) | (present > high)).sum())
    if outside:
        raise ExportError(
            f"{outside} training values of {name!r} lie outside its valid range [{low}, {high}] "
            f"from {source}: widen the range or clean the data"
        )
    return runtime.ColumnSpec(name, "number", nullable, name, (low, high), source, None, declared.get("description"))


def _category_column(name: str, text: np.ndarray, declared: dict[str, Any]) -> runtime.ColumnSpec:
    nullable = _nullable(name, declared, int((text == MISSING_CATEGORY).sum()))
    categories = tuple(sorted({str(v) for v in text if v != MISSING_CATEGORY}))
    return runtime.ColumnSpec(name, "category", nullable, name, None, None, categories, declared.get("description"))


def _valid_range(
    name: str,
    present: np.ndarray,
    declared: dict[str, Any],
    demo_ranges: Mapping[str, tuple[float, float]],
    range_margin: float = RANGE_MARGIN,
) -> tuple[float, float, str]:
    """``(low, high, where it came from)``: the schema file, the demo's sensor limits, or the data
    widened by ``range_margin`` of its span (the source says by how much, e.g. ``10%``)."""
    if "valid_range" in declared:
        low, high = (float(v) for v in declared["valid_range"])
        return low, high, "the schema file"
    if name in demo_ranges:
        low, high = demo_ranges[name]
        return low, high, "the demo data's physical sensor limits"
    span = float(present.max() - present.min()) if len(present) else 0.0
    margin = range_margin * span if span > 0 else max(1.0, abs(float(present.max())) * range_margin)
    low, high = float(present.min()) - margin, float(present.max()) + margin
    source = f"training data min/max widened by {range_margin * 100:g}% of the span"
    if len(present) and present.min() >= 0 > low:
        # a quantity never negative in training (wear, counts, speeds) stays non-negative
        low = 0.0
        source += ", not below 0"
    return low, high, source


def _nullable(name: str, declared: dict[str, Any], missing: int) -> bool:
    """Missing values are allowed where training had them, unless a schema file says otherwise."""
    if "nullable" not in declared:
        return missing > 0
    if not isinstance(declared["nullable"], bool):
        raise ExportError(f"schema file: {name!r} nullable == {declared['nullable']!r}, must be true or false")
    if not declared["nullable"] and missing:
        raise ExportError(
            f"the schema file says {name!r} is never missing, but {missing} training rows have it missing: "
            "fill or drop those rows, or declare the column nullable"
        )
    return bool(declared["nullable"])


def describe_ranges(columns: tuple[runtime.ColumnSpec, ...]) -> list[str]:
    """One line per number column: its valid range and where it came from, for the console summary.

    >>> describe_ranges((runtime.ColumnSpec("t", "number", False, "t", (1.0, 2.5), "the schema file"),))
    ['t: [1, 2.5] (the schema file)']
    """
    return [
        f"{column.name}: [{column.valid_range[0]:.6g}, {column.valid_range[1]:.6g}] ({column.range_source})"
        for column in columns
        if column.valid_range is not None
    ]
