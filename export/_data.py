"""Training data: the built-in factory demo set, and the user's own CSV or Parquet file.

The demo set
------------
Each row is one part leaving an injection-moulding-like process. Sensors:

- ``temperature`` (deg C, process window 150-250, set point 200), ``pressure`` (bar, 30-70),
  ``speed`` (parts/min, 80-120), ``humidity`` (% RH, 20-80), ``vibration`` (mm/s RMS, ~0.3-4);
- ``machine_type``: ``A`` (new), ``B`` (standard), ``C`` (older, worn bearings);
- ``shift``: ``day``, ``evening``, ``night``.

A part is defective when a process engineer would expect it to be:

1. temperature leaves its safe band (below 170 or above 230): material under-melts or degrades;
2. vibration is high (above 2.5 mm/s) on any machine, or above 1.8 mm/s on the older type ``C``;
3. on the night shift, high humidity (above 65 %) combined with low pressure (below 45 bar) leaves
   short shots (moisture in the material, less supervision);
4. speed above 112 with temperature above 220: not enough cooling time.

Then 5 % of labels are flipped at random (inspection error and causes the sensors do not see), so
no model can be right much more than ~95 % of the time; a random forest reaches about 92-94 %.
Sensor dropouts: every sensor reads missing (NaN) on about 2-3 % of rows, and ``shift`` is missing
(empty) on 1 % of rows, as when the badge system fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runtime._contract import MISSING_CATEGORY

__all__ = ["DEMO_NUMERIC_RANGES", "TableSpec", "load_table", "make_demo_data", "prepare_frame", "read_schema_file"]

DEMO_TARGET = "defect"
# Physical valid ranges of the demo sensors: what the runtime accepts on the device.
DEMO_NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (100.0, 300.0),
    "pressure": (0.0, 120.0),
    "speed": (0.0, 200.0),
    "humidity": (0.0, 100.0),
    "vibration": (0.0, 20.0),
}
# Ranges inferred from data are widened by this share of the observed span on each side
# (but not below 0 for a column that is never negative in training).
RANGE_MARGIN = 0.10


def make_demo_data(n_rows: int = 20_000, seed: int = 42) -> pd.DataFrame:
    """The deterministic demo data set described in this module's docstring."""
    rng = np.random.default_rng(seed)
    temperature = rng.normal(200.0, 18.0, n_rows).clip(150.0, 250.0)
    pressure = rng.normal(50.0, 7.0, n_rows).clip(30.0, 70.0)
    speed = rng.normal(100.0, 6.0, n_rows).clip(80.0, 120.0)
    humidity = rng.normal(50.0, 11.0, n_rows).clip(20.0, 80.0)
    vibration = rng.lognormal(np.log(1.0), 0.45, n_rows).clip(0.3, 6.0)
    machine_type = rng.choice(np.array(["A", "B", "C"]), n_rows, p=[0.35, 0.4, 0.25])
    shift = rng.choice(np.array(["day", "evening", "night"]), n_rows, p=[0.4, 0.35, 0.25])

    defect = (
        (temperature < 170.0)
        | (temperature > 230.0)
        | (vibration > 2.5)
        | ((machine_type == "C") & (vibration > 1.8))
        | ((shift == "night") & (humidity > 65.0) & (pressure < 45.0))
        | ((speed > 112.0) & (temperature > 220.0))
    )
    flipped = rng.random(n_rows) < 0.05
    defect = np.where(flipped, ~defect, defect).astype(np.int64)

    frame = pd.DataFrame(
        {
            "temperature": temperature.round(2),
            "pressure": pressure.round(2),
            "speed": speed.round(1),
            "humidity": humidity.round(1),
            "vibration": vibration.round(3),
            "machine_type": machine_type.astype(object),
            "shift": shift.astype(object),
            DEMO_TARGET: defect,
        }
    )
    for column, rate in (
        ("temperature", 0.02),
        ("pressure", 0.03),
        ("speed", 0.02),
        ("humidity", 0.03),
        ("vibration", 0.025),
    ):
        frame.loc[rng.random(n_rows) < rate, column] = np.nan
    frame.loc[rng.random(n_rows) < 0.01, "shift"] = MISSING_CATEGORY
    return frame


def load_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, keeping column names exactly as written."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    raise ValueError(f"data file {str(path)!r} has suffix {suffix!r}; expected .csv or .parquet")


def read_schema_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read the optional schema file: ``{"columns": {name: {"valid_range": [lo, hi], "nullable": bool,
    "kind": "number"|"category", "description": str}}}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    columns = data.get("columns") if isinstance(data, dict) else None
    if not isinstance(columns, dict):
        raise ValueError(f'schema file {str(path)!r} must hold {{"columns": {{name: {{...}}}}}}')
    return columns


@dataclass(frozen=True)
class TableSpec:
    """Which columns are features of which kind, and the target."""

    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


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
