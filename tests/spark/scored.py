"""Scoring a Parquet file on Spark and with ``predict_batch``, and comparing the two row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import runtime
import runtime.spark

PROBABILITY_TOLERANCE = 1e-12
# The shipped bundle's columns as a Spark DDL schema, for small DataFrames made in a test.
SCHEMA = (
    "temperature double, pressure double, speed double, humidity double, vibration double, "
    "machine_type string, shift string"
)
SCHEMA_COLUMNS = tuple(part.split()[0] for part in SCHEMA.split(", "))


def spark_scored(spark: Any, source: Path, bundle: Path, destination: Path, **options: Any) -> pa.Table:
    """``runtime.spark.predict`` of the Parquet file ``source``, written by Spark and read back, in id order."""
    scored = runtime.spark.predict(spark.read.parquet(str(source)), bundle, **options)
    scored.write.parquet(str(destination))
    result = pq.read_table(destination)
    return result.take(pc.sort_indices(result, [("id", "ascending")]))


def reference(
    model: runtime.Model, data: pa.Table, hints: dict[str, str] | None = None
) -> tuple[runtime.BatchPrediction, dict[int, str]]:
    """``predict_batch(errors="skip")`` of the rows as Python values, and each rejected row's reasons
    (with ``hints``, policy -> text, as a caller other than the Python API words them)."""
    columns = {name: data.column(name).to_pylist() for name in model.columns}
    result = model.predict_batch(columns, errors="skip")
    reasons = {
        rejected.row: " ".join(p.render(row=False, hints=hints) for p in rejected.problems)
        for rejected in result.rejected
    }
    return result, reasons


def assert_same(model: runtime.Model, data: pa.Table, scored: pa.Table) -> tuple[int, int]:
    """Spark's output equals ``predict_batch`` row for row; returns (predicted, rejected)."""
    assert scored.column("id").to_pylist() == list(range(data.num_rows))  # every row, exactly once
    expected, reasons = reference(model, data)
    assert expected.classes is not None and expected.labels is not None and expected.probabilities is not None
    rows = expected.rows
    got_reasons = scored.column("reject_reason").to_pylist()
    assert {row: reason for row, reason in enumerate(got_reasons) if reason is not None} == reasons
    labels = scored.column("label").to_numpy(zero_copy_only=False)
    assert np.array_equal(labels[rows].astype(np.int64), expected.labels)
    for index, name in enumerate(expected.classes):
        got = scored.column(f"probability_{name}").to_numpy(zero_copy_only=False)
        assert np.max(np.abs(got[rows].astype(np.float64) - expected.probabilities[:, index])) <= PROBABILITY_TOLERANCE
    rejected_rows = sorted(reasons)
    for column in ("label", *(f"probability_{name}" for name in expected.classes)):
        assert scored.column(column).take(rejected_rows).null_count == len(rejected_rows)
    assert set(scored.column("model").to_pylist()) == {model.name}
    assert set(scored.column("version").to_pylist()) == {model.version}
    for name in ("note", *model.columns):  # passed through untouched
        assert scored.column(name).to_pylist() == data.column(name).to_pylist(), name
    instants = [value.timestamp() for value in scored.column("recorded_at").to_pylist()]
    assert instants == [value.timestamp() for value in data.column("recorded_at").to_pylist()]
    return len(rows), len(rejected_rows)
