"""One Arrow record batch in, the same rows out with their predictions or the reasons they were refused.

This is what runs on a Spark worker for every batch ``mapInArrow`` hands it (10,000 rows by default,
``spark.sql.execution.arrow.maxRecordsPerBatch``): Arrow columns become numpy arrays without a
Python loop where the values allow it, ``Model.predict_batch`` checks and predicts them, and the
input's Arrow arrays go back out unchanged beside the added columns, in the same row order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .._errors import InputError
from .._model import BatchPrediction, Model
from .._validation import ColumnRule
from .schema import added_columns, arrow_label_type
from .shipping import LoadOptions, worker_model

__all__ = ["ScoringJob", "column_values", "reject_reasons", "score_batch", "score_partition"]


@dataclass(frozen=True)
class ScoringJob:
    """Everything a worker needs, pickled once with the function: the broadcast bundle and the options."""

    broadcast: Any  # pyspark.Broadcast of a BundleSnapshot
    digest: str
    options: LoadOptions
    errors: str = "skip"
    hints: Mapping[str, str] | None = None  # policy -> how the caller's users accept such values

    @property
    def flags(self) -> bool:
        return self.options.flags


def score_partition(job: ScoringJob, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow``'s function: the worker's verified model (loaded once per process) on each batch."""
    model: Model | None = None
    for batch in batches:
        if model is None:
            model = worker_model(job.broadcast, job.digest, job.options)
        yield score_batch(model, batch, job)


def column_values(array: pa.Array, rule: ColumnRule) -> np.ndarray:
    """One Arrow column as the array ``predict_batch`` checks, holding the values a reference reader
    (``to_pylist``) would give, so every message names the value as it is.

    Numbers without nulls and nullable floats are numpy views (a null and a NaN are both missing
    there, and neither is named); strings are object arrays with None for null; a non-nullable or
    integer column with nulls becomes an object array, so a null reads as None and an integer
    stays an integer in the message.
    """
    if pa.types.is_null(array.type):
        return np.full(len(array), None, dtype=object)
    if not rule.is_number or array.null_count == 0 or (pa.types.is_floating(array.type) and rule.nullable):
        plain: np.ndarray = array.to_numpy(zero_copy_only=False)
        return plain
    values: np.ndarray = array.fill_null(0).to_numpy(zero_copy_only=False).astype(object)
    values[array.is_null().to_numpy(zero_copy_only=False)] = None
    return values


def reject_reasons(result: BatchPrediction, n_rows: int, hints: Mapping[str, str] | None) -> np.ndarray:
    """None for a predicted row; for a rejected one, each of its problems as ``predict_batch`` words it,
    without " in row N" (a row of a Spark batch has no lasting number: the reason sits on the row)."""
    reasons = np.full(n_rows, None, dtype=object)
    for rejected in result.rejected:
        reasons[rejected.row] = " ".join(problem.render(row=False, hints=hints) for problem in rejected.problems)
    return reasons


def score_batch(model: Model, batch: pa.RecordBatch, job: ScoringJob) -> pa.RecordBatch:
    """``batch`` with the added columns of :func:`runtime._spark.schema.added_columns`."""
    n_rows = batch.num_rows
    names = [*batch.schema.names, *added_columns(model, flags=job.flags)]
    if n_rows == 0:
        return pa.RecordBatch.from_arrays([*batch.columns, *_empty_added(model, job.flags)], names=names)
    columns = {rule.name: column_values(batch.column(rule.name), rule) for rule in model.rules}
    options = job.options
    result = model.predict_batch(
        columns, errors="skip", on_unknown=options.on_unknown, on_out_of_range=options.on_out_of_range
    )
    if job.errors == "raise" and result.rejected:
        first = result.rejected[0].problems[0]
        raise InputError(first.render(row=False, hints=job.hints), column=first.column, value=first.value)
    refused = np.ones(n_rows, dtype=bool)
    refused[result.rows] = False
    added = _predictions(model, result, n_rows, refused)
    added += [
        pa.array([model.name] * n_rows, type=pa.string()),
        pa.array([model.version] * n_rows, type=pa.string()),
        pa.array(reject_reasons(result, n_rows, job.hints), type=pa.string()),
    ]
    if job.flags:
        row_flags = [None if refused[row] else list(result.flags.get(row, ())) for row in range(n_rows)]
        added.append(pa.array(row_flags, type=pa.list_(pa.string())))
    return pa.RecordBatch.from_arrays([*batch.columns, *added], names=names)


def _predictions(model: Model, result: BatchPrediction, n_rows: int, refused: np.ndarray) -> list[pa.Array]:
    if model.classes is None:
        assert result.values is not None or len(result.rows) == 0
        values = result.values if result.values is not None else np.empty(0)
        return [_scattered(values, result.rows, n_rows, refused, pa.float64())]
    if len(result.rows) == 0:
        labels, probabilities = np.empty(0), np.empty((0, len(model.classes)))
    else:
        assert result.labels is not None and result.probabilities is not None
        labels, probabilities = result.labels, result.probabilities
    arrays = [_scattered(labels, result.rows, n_rows, refused, arrow_label_type(model.classes))]
    arrays += [
        _scattered(probabilities[:, index], result.rows, n_rows, refused, pa.float64())
        for index in range(len(model.classes))
    ]
    return arrays


def _scattered(values: np.ndarray, rows: np.ndarray, n_rows: int, refused: np.ndarray, kind: pa.DataType) -> pa.Array:
    """The predicted rows' ``values`` at their rows, null at the refused ones."""
    numeric = values.dtype.kind in "biuf" and not pa.types.is_string(kind)
    full = np.zeros(n_rows, dtype=values.dtype) if numeric else np.full(n_rows, None, dtype=object)
    full[rows] = values
    return pa.array(full, mask=refused, type=kind)


def _empty_added(model: Model, flags: bool) -> list[pa.Array]:
    kinds: list[pa.DataType] = []
    if model.classes is not None:
        kinds += [arrow_label_type(model.classes), *(pa.float64() for _ in model.classes)]
    else:
        kinds.append(pa.float64())
    kinds += [pa.string(), pa.string(), pa.string(), *([pa.list_(pa.string())] if flags else [])]
    return [pa.array([], type=kind) for kind in kinds]
