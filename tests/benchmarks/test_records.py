"""The inputs the paths are timed on: valid for the runtime, and the same values in each path's form."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip(
    "benchmarks",
    reason='benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"',
)

import runtime  # noqa: E402
from benchmarks._records import benchmark_records, onnx_feeds, sklearn_frame, sklearn_record, synthetic_columns  # noqa: E402


@pytest.fixture(scope="module")
def model(shipped_bundle) -> runtime.Model:
    return runtime.load(shipped_bundle)


def test_benchmark_records_leave_out_unknown_categories(model):
    records = benchmark_records(model)
    assert 1 <= len(records) <= 16
    for record in records:
        for column in model.manifest.inputs:
            if column.kind == "category" and record[column.name] is not None:
                assert record[column.name] in column.categories
    assert len(benchmark_records(model, limit=3)) == 3


def test_synthetic_columns_respect_ranges_categories_and_nullability(model):
    columns = synthetic_columns(model.manifest, 5000, benchmark_records(model), seed=1)
    for column in model.manifest.inputs:
        values = columns[column.name]
        assert len(values) == 5000
        if column.kind == "number":
            assert values.dtype == np.float64
            present = values[~np.isnan(values)]
            low, high = column.valid_range
            assert present.min() >= low and present.max() <= high
            assert column.nullable or len(present) == 5000
        else:
            present = [v for v in values if v is not None]
            assert set(present) <= set(column.categories)
            assert column.nullable or len(present) == 5000
    assert len(model.predict_batch(columns)) == 5000


def test_synthetic_columns_are_deterministic_per_seed(model):
    records = benchmark_records(model)
    first = synthetic_columns(model.manifest, 50, records, seed=3)
    again = synthetic_columns(model.manifest, 50, records, seed=3)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    with pytest.raises(ValueError, match=r"^rows == 0, must be >= 1$"):
        synthetic_columns(model.manifest, 0, records)


def test_without_a_drift_reference_rows_are_resampled_from_the_records(model):
    import dataclasses

    manifest = dataclasses.replace(model.manifest, drift_reference=runtime.DriftReference())
    records = benchmark_records(model)
    columns = synthetic_columns(manifest, 200, records, seed=0)
    assert len(model.predict_batch(columns)) == 200


def test_feeds_and_sklearn_records_mark_missing_values_as_the_imputers_expect(model):
    record = {
        c.name: None if c.nullable else (c.categories[0] if c.kind == "category" else c.valid_range[0])
        for c in model.manifest.inputs
    }
    feeds = onnx_feeds(record, model.manifest)
    converted = sklearn_record(record, model.manifest)
    for column in model.manifest.inputs:
        array = feeds[column.onnx_input]
        assert array.shape == (1, 1)
        if column.kind == "number":
            assert array.dtype == np.float64
            assert math.isnan(array[0, 0]) == column.nullable
            assert math.isnan(converted[column.name]) == column.nullable
        else:
            assert array.dtype == object
            assert (array[0, 0] == "") == column.nullable
            assert (converted[column.name] == "") == column.nullable


def test_sklearn_frame_holds_the_same_rows(model):
    pytest.importorskip("pandas")
    columns = synthetic_columns(model.manifest, 100, benchmark_records(model), seed=2)
    frame = sklearn_frame(columns, model.manifest)
    assert list(frame.columns) == [c.name for c in model.manifest.inputs]
    for column in model.manifest.inputs:
        if column.kind == "number":
            np.testing.assert_array_equal(frame[column.name].to_numpy(), columns[column.name])
        else:
            expected = ["" if v is None else v for v in columns[column.name]]
            assert frame[column.name].tolist() == expected


def test_distinct_records_are_distinct_and_accepted(model):
    """Single-record latency runs over these: none repeats, and the model predicts every one."""
    from benchmarks._records import distinct_records

    records = distinct_records(model, benchmark_records(model), 500)
    assert len(records) == 500 and len({tuple(sorted(r.items(), key=str)) for r in records}) == 500
    assert len(model.predict_batch(records)) == 500
    assert any(value is None for record in records for value in record.values())  # missing values too
