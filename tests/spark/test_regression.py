"""A regressor on Spark: ``value`` instead of label and probabilities, equal to predict_batch's, and null
for the rejected rows (needs the export extra to make the tiny regression bundle)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import runtime
from tests.spark import rows
from tests.spark.scored import PROBABILITY_TOLERANCE, reference, spark_scored

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason='needs the "export" extra'),
]


def test_a_regressor_adds_value_equal_to_predict_batch(spark, tmp_path):
    from export import ExportConfig, run_export

    config = ExportConfig(
        output=tmp_path / "models",
        demo_rows=400,
        task="regression",  # the demo's 0/1 target read as a number: a regressor to score
        estimator="random_forest_regressor",
        params={"n_estimators": 5, "max_depth": 4},
        measure=False,
        allow_weak=True,  # a 5-tree regressor on 400 rows; this test is about Spark, not the gate
    )
    bundle = run_export(config).bundle
    model = runtime.load(bundle)
    data = rows.write(model, tmp_path / "in.parquet", 1_000)
    scored = spark_scored(spark, tmp_path / "in.parquet", bundle, tmp_path / "out")
    names = scored.schema.names
    assert names[-4:] == ["value", "model", "version", "reject_reason"] and "label" not in names
    expected, reasons = reference(model, data)
    assert expected.values is not None and reasons
    values = scored.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    assert np.max(np.abs(values[expected.rows] - expected.values)) <= PROBABILITY_TOLERANCE
    assert np.isnan(values[sorted(reasons)]).all()  # null where rejected
    got = {row: reason for row, reason in enumerate(scored.column("reject_reason").to_pylist()) if reason}
    assert got == reasons
