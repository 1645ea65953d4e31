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

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import type_of_target

from runtime._contract import MISSING_CATEGORY

from ._columns import infer_spec, prepare_frame
from ._config import ExportConfig, PreparedData
from ._errors import ExportError

__all__ = [
    "DEMO_NUMERIC_RANGES",
    "DEMO_TARGET",
    "MAX_DETECTED_CLASSES",
    "TASK_OPTIONS",
    "check_dialect",
    "detect_task",
    "load_table",
    "make_demo_data",
    "prepare_data",
]

DEMO_TARGET = "defect"
# Physical valid ranges of the demo sensors: what the runtime accepts on the device.
DEMO_NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (100.0, 300.0),
    "pressure": (0.0, 120.0),
    "speed": (0.0, 200.0),
    "humidity": (0.0, 100.0),
    "vibration": (0.0, 20.0),
}
# --task values and the manifest's task names they stand for.
TASK_OPTIONS: dict[str, str] = {
    "binary": "binary_classification",
    "multiclass": "multiclass_classification",
    "regression": "regression",
}
# More distinct target values than this are not taken for classes without --task: 246 whole numbers
# (tool wear in minutes) are a quantity to regress, 10,000 product ids no target at all.
MAX_DETECTED_CLASSES = 50


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


def load_table(path: str | Path, *, delimiter: str = ",", decimal: str = ".") -> pd.DataFrame:
    """Read a CSV or Parquet file, keeping column names exactly as written.

    A CSV is read with ``delimiter`` between fields and ``decimal`` as the decimal mark
    (``--delimiter ';' --decimal ,`` for a European spreadsheet's export). A file that looks written
    in another dialect is refused with the options that read it (:func:`check_dialect`), never
    read as one column of text or as numbers turned into categories.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        if (delimiter, decimal) != (",", "."):
            raise ExportError("--delimiter and --decimal apply to CSV files; a Parquet file has typed columns")
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        frame = pd.read_csv(path, sep=delimiter, decimal=decimal)
        check_dialect(frame, str(path), delimiter=delimiter, decimal=decimal)
        return frame
    raise ValueError(f"data file {str(path)!r} has suffix {suffix!r}; expected .csv or .parquet")


# A number as text in either notation: 3.5, -3,5, 1e-3. Thousands separators are not numbers here.
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_OTHER_DELIMITERS = (";", "\t", "|", ",")


def check_dialect(frame: pd.DataFrame, source: str, *, delimiter: str, decimal: str) -> None:
    """Refuse a table read in the wrong CSV dialect, naming the options that read it.

    Two signs: the whole header is one column holding another delimiter (``UDI;Product ID;...``),
    or a text column whose every value is a number written with the other decimal mark
    (``298,1`` read with ``--decimal .``).
    """
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        for mark in _OTHER_DELIMITERS:
            if mark != delimiter and mark in header:
                shown = "'\\t'" if mark == "\t" else repr(mark)
                hint = " (and --decimal , if its numbers are written like 3,5)" if decimal == "." else ""
                raise ExportError(
                    f"data file {source!r} looks separated by {shown}, not {delimiter!r}: its header is one column "
                    f"{header[:60]!r}; pass --delimiter {shown}{hint}"
                )
    other = "," if decimal == "." else "."
    for name in frame.columns:
        if frame[name].dtype != object and not pd.api.types.is_string_dtype(frame[name]):
            continue
        present = frame[name].dropna().astype(str)
        marked = present[present.str.contains(other, regex=False)]
        if len(present) and len(marked) and bool(present.map(lambda text: bool(_NUMBER_TEXT.fullmatch(text))).all()):
            raise ExportError(
                f"column {name!r} of {source!r} holds numbers written with {other!r} as the decimal mark "
                f"(e.g. {marked.iloc[0]!r}), but --decimal is {decimal!r}: pass --decimal {other} "
                "(numbers are never read as categories)"
            )


def prepare_data(config: ExportConfig, *, task: str | None = None) -> PreparedData:
    """Load, type and split the data deterministically (``export check`` repeats this exactly).

    The task comes from the target (:func:`detect_task`, or ``config.task``); ``task`` (a
    manifest task name) forces it, as ``export check`` does with the recorded one. Rows without a
    target value are left out; classes are stratified when every class has at least two rows.
    """
    raw, target, source = _load(config)
    spec = infer_spec(raw, target, numeric=config.numeric, categorical=config.categorical, drop=config.drop)
    labelled = raw[raw[target].notna()].reset_index(drop=True)
    features = prepare_frame(labelled, spec)
    y = labelled[target].to_numpy()
    task = task or detect_task(y, target, requested=config.task)
    if task == "regression":
        y = _numeric_target(y, target)
    stratify = y if task != "regression" and pd.Series(y).value_counts().min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        features, y, test_size=config.test_size, random_state=config.seed, stratify=stratify
    )
    summary = {
        "source": source,
        "rows": int(len(raw)),
        "rows_without_target": int(len(raw) - len(labelled)),
        "train_rows": int(len(x_train)),
        "test_rows": int(len(x_test)),
        "target": target,
        "numeric": list(spec.numeric),
        "categorical": list(spec.categorical),
        "dropped": list(spec.dropped),
        "fingerprint_sha256": fingerprint(labelled),
        "test_size": config.test_size,
        "seed": config.seed,
    }
    return PreparedData(
        spec, features, y, task, x_train.reset_index(drop=True), x_test.reset_index(drop=True), y_train, y_test, summary
    )


def _load(config: ExportConfig) -> tuple[pd.DataFrame, str, str]:
    """The raw table, the target column and a description of where the data came from."""
    if config.data is None:
        source = f"built-in demo data set ({config.demo_rows} rows, seed {config.seed})"
        return make_demo_data(config.demo_rows, config.seed), config.target or DEMO_TARGET, source
    if not config.target:
        raise ExportError("--target COLUMN is required with --data")
    return load_table(config.data, delimiter=config.delimiter, decimal=config.decimal), config.target, str(config.data)


def detect_task(y: np.ndarray, target: str, *, requested: str | None = None) -> str:
    """The manifest's task for target values ``y``: scikit-learn's ``type_of_target`` rules, or
    ``requested`` (a ``--task`` value) where the values allow it.

    Two distinct values are binary, more are multiclass (whole numbers too, as scikit-learn reads
    them), fractional numbers are continuous, hence regression. More than
    :data:`MAX_DETECTED_CLASSES` classes need ``--task`` said out loud.

    >>> detect_task(np.array([0, 1, 1]), "defect"), detect_task(np.array([1.5, 2.25]), "torque")
    ('binary_classification', 'regression')
    """
    distinct = len(pd.unique(y))
    if requested is not None:
        return _requested_task(y, target, requested, distinct)
    kind = type_of_target(y)
    if kind == "continuous":
        return "regression"
    if kind not in ("binary", "multiclass"):
        raise ExportError(
            f"target {target!r} is {kind!r} by scikit-learn's type_of_target: the export predicts one column "
            "of classes (binary, multiclass) or of numbers (continuous)"
        )
    if distinct < 2:
        raise ExportError(f"target {target!r} has a single value ({y[0]!r}) in every labelled row: nothing to learn")
    if distinct > MAX_DETECTED_CLASSES:
        whole = "whole numbers" if pd.api.types.is_numeric_dtype(y) else "values"
        raise ExportError(
            f"target {target!r} holds {distinct:,} distinct {whole}: pass --task regression to predict it as a "
            f"number, or --task multiclass for {distinct:,} classes"
        )
    return "binary_classification" if kind == "binary" else "multiclass_classification"


def _requested_task(y: np.ndarray, target: str, requested: str, distinct: int) -> str:
    """``--task`` as the manifest's task name, once the target's values allow it."""
    if requested not in TASK_OPTIONS:
        raise ExportError(f"--task {requested!r} is not known; choose one of {', '.join(TASK_OPTIONS)}")
    if requested == "regression":
        _numeric_target(y, target)
    elif type_of_target(y) == "continuous":
        raise ExportError(
            f"--task {requested} needs classes, but target {target!r} holds fractional numbers: "
            "use --task regression, or leave out --task"
        )
    elif distinct < 2 or (distinct == 2) != (requested == "binary"):
        other = "binary" if distinct == 2 else "multiclass"
        raise ExportError(
            f"--task {requested} does not fit target {target!r}, which has {distinct:,} distinct values"
            + (f": use --task {other}" if distinct >= 2 else "")
        )
    return TASK_OPTIONS[requested]


def _numeric_target(y: np.ndarray, target: str) -> np.ndarray:
    """The target of a regression as float64, or an error naming a value that is not a number."""
    numbers = pd.to_numeric(pd.Series(y), errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        raise ExportError(
            f"target {target!r} == {y[bad][0]!r} is not a number: a regression needs numbers; "
            "leave out --task regression to predict classes"
        )
    return np.asarray(numbers, dtype=np.float64)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the column names and every value: ``export check`` refuses other data with it."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
