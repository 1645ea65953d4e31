"""runtime.spark.predict on a real local Spark equals predict_batch row for row (issue 14, must show 1),
with every input row out exactly once, and the added columns as documented."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import runtime
import runtime.spark
from tests.spark import rows
from tests.spark.scored import SCHEMA, SCHEMA_COLUMNS, assert_same, reference, spark_scored


@pytest.mark.slow
def test_200k_rows_equal_predict_batch_row_for_row(spark, shipped_bundle, shipped_model, tmp_path):
    data = rows.write(shipped_model, tmp_path / "history.parquet", 200_000)
    scored = spark_scored(spark, tmp_path / "history.parquet", shipped_bundle, tmp_path / "scored")
    predicted, rejected = assert_same(shipped_model, data, scored)
    assert data.num_rows == predicted + rejected == 200_000
    assert rejected > 4_000  # every kind of damage is in there, and rows with two reasons
    reasons = scored.column("reject_reason").drop_null().to_pylist()
    for words in ("must be within", "is not a known category", "does not allow missing values", "== inf"):
        assert any(words in reason for reason in reasons), words
    assert any(reason.count(". ") >= 1 for reason in reasons)  # two problems in one row: both reasons


def test_a_small_file_equals_predict_batch(spark, shipped_bundle, shipped_model, tmp_path):
    data = rows.write(shipped_model, tmp_path / "small.parquet", 3_000)
    scored = spark_scored(spark, tmp_path / "small.parquet", shipped_bundle, tmp_path / "scored")
    predicted, rejected = assert_same(shipped_model, data, scored)
    assert predicted + rejected == 3_000 and rejected > 0 and predicted > 0


def test_the_added_columns_and_their_types(spark, shipped_bundle, shipped_model, tmp_path):
    rows.write(shipped_model, tmp_path / "in.parquet", 50)
    scored = runtime.spark.predict(spark.read.parquet(str(tmp_path / "in.parquet")), shipped_bundle)
    names = [field.name for field in scored.schema.fields]
    classes = [f"probability_{label}" for label in shipped_model.classes]
    assert names[-(len(classes) + 4) :] == ["label", *classes, "model", "version", "reject_reason"]
    types = {field.name: field.dataType.simpleString() for field in scored.schema.fields}
    assert (types["label"], types[classes[0]], types["reject_reason"], types["id"]) == (
        "bigint",
        "double",
        "string",
        "bigint",
    )


def test_every_row_of_a_bad_only_batch_comes_back_rejected(spark, shipped_bundle, shipped_model):
    frame = spark.createDataFrame(
        [(1, 999.0, 50.0, 100.0, 40.0, 1.0, "Z", "day"), (2, 200.0, 50.0, 100.0, 40.0, 1.0, None, "night")],
        "id long, " + SCHEMA,
    )
    result = {row["id"]: row for row in runtime.spark.predict(frame, shipped_bundle).collect()}
    expected, reasons = reference(shipped_model, _as_table(frame))
    assert len(expected.rows) == 0
    assert {key - 1: row["reject_reason"] for key, row in result.items()} == reasons
    assert all(row["label"] is None and row["probability_0"] is None for row in result.values())


def test_unknown_categories_are_flagged_and_predicted_with_on_unknown_flag(spark, shipped_bundle):
    frame = spark.createDataFrame(
        [(200.0, 50.0, 100.0, 40.0, 1.0, "Z", "day")],
        SCHEMA,
    )
    [row] = runtime.spark.predict(frame, shipped_bundle, on_unknown="flag").collect()
    record = {name: row[name] for name in SCHEMA_COLUMNS}
    flagged = runtime.load(shipped_bundle, on_unknown="flag").predict(record)
    assert row["reject_reason"] is None and row["label"] == flagged.label
    assert row["flags"] == list(flagged.flags) == ["unknown category: machine_type == 'Z'"]


def test_errors_raise_fails_the_job_with_the_first_reason(spark, shipped_bundle):
    frame = spark.createDataFrame(
        [(999.0, 50.0, 100.0, 40.0, 1.0, "A", "day")],
        SCHEMA,
    )
    scored = runtime.spark.predict(frame, shipped_bundle, errors="raise")
    with pytest.raises(Exception, match=r"temperature == 999\.0, must be within \[100\.0, 300\.0\]"):
        scored.collect()


def _as_table(frame) -> pa.Table:
    return pa.Table.from_pylist([row.asDict() for row in frame.collect()])


def test_a_bundle_path_in_a_model_folder_and_a_version_folder_score_alike(spark, shipped_bundle, tmp_path):
    frame = spark.createDataFrame([(200.0, 50.0, 100.0, 40.0, 1.0, "A", "day")], SCHEMA)
    by_model = runtime.spark.predict(frame, shipped_bundle).collect()
    by_version = runtime.spark.predict(frame, Path(shipped_bundle) / "1.0.0").collect()
    assert by_model == by_version


def test_out_of_range_values_are_flagged_and_predicted_with_on_out_of_range_flag(spark, shipped_bundle):
    frame = spark.createDataFrame([(999.0, 50.0, 100.0, 40.0, 1.0, "A", "day")], SCHEMA)
    [row] = runtime.spark.predict(frame, shipped_bundle, on_out_of_range="flag").collect()
    record = {name: row[name] for name in SCHEMA_COLUMNS}
    flagged = runtime.load(shipped_bundle, on_out_of_range="flag").predict(record)
    assert row["reject_reason"] is None and row["label"] == flagged.label
    assert row["probability_1"] == flagged.probabilities[1]
    assert row["flags"] == list(flagged.flags) and len(row["flags"]) == 1 and "temperature" in row["flags"][0]
