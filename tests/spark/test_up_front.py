"""What fails before any task runs (issue 14, must show 2): a missing column, a column of a type that is
not converted, a name predict would add, and a refused bundle, each with the runtime's message and no
Spark job started. The jobs are counted per job group, and a good call is shown to start jobs there."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import functions as F

import runtime
import runtime.spark
from tests.runtime.damage import bundle_copy, flip_byte, golden_drift, wrong_hash
from tests.spark.scored import SCHEMA

ROW = (200.0, 50.0, 100.0, 40.0, 1.0, "A", "day")


def jobs_during(spark: Any, call: Callable[[], Any]) -> tuple[list[int], BaseException | None]:
    """Run ``call`` in a fresh job group; the ids of the Spark jobs it started, and what it raised."""
    group = f"up-front-{uuid.uuid4().hex}"
    spark.sparkContext.setJobGroup(group, "factory-edge up-front check")
    try:
        call()
        raised = None
    except Exception as error:  # noqa: BLE001 - handed to the test to compare
        raised = error
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return list(spark.sparkContext.statusTracker().getJobIdsForGroup(group)), raised


def test_a_scoring_that_runs_starts_jobs_in_its_group(spark, shipped_bundle):
    frame = spark.createDataFrame([ROW], SCHEMA)
    jobs, raised = jobs_during(spark, lambda: runtime.spark.predict(frame, shipped_bundle).collect())
    assert raised is None and jobs  # the counter sees jobs when there are some


COLUMN_CASES = [
    (
        lambda df: df.drop("shift"),
        "DataFrame has no column ['shift'], which model 'quality' 1.0.0 needs; other columns pass through untouched.",
    ),
    (
        lambda df: df.drop("shift").withColumn("Shift", F.lit("day")),
        "DataFrame has no column ['shift'], which model 'quality' 1.0.0 needs (names are matched exactly; the "
        "DataFrame has 'Shift'); other columns pass through untouched.",
    ),
    (
        lambda df: df.withColumn("temperature", F.col("temperature").cast("string")),
        "column 'temperature' is string in the DataFrame, but model 'quality' 1.0.0 needs a number column (double, "
        "float, bigint, int, smallint or tinyint): strings are not converted to numbers. Cast it yourself if that "
        "is what the values mean.",
    ),
    (
        lambda df: df.withColumn("speed", F.col("speed").cast("decimal(10,2)")),
        "column 'speed' is decimal(10,2) in the DataFrame, but model 'quality' 1.0.0 needs a number column (double, "
        "float, bigint, int, smallint or tinyint): decimal(10,2) is not converted. Cast it yourself if that is what "
        "the values mean.",
    ),
    (
        lambda df: df.withColumn("vibration", F.lit(True)),
        "column 'vibration' is boolean in the DataFrame, but model 'quality' 1.0.0 needs a number column (double, "
        "float, bigint, int, smallint or tinyint): boolean is not converted. Cast it yourself if that is what the "
        "values mean.",
    ),
    (
        lambda df: df.withColumn("machine_type", F.lit(1)),
        "column 'machine_type' is int in the DataFrame, but model 'quality' 1.0.0 needs a string column: categories "
        "are matched as strings and numbers are not converted. Cast it yourself if that is what the values mean.",
    ),
    (
        lambda df: df.withColumn("label", F.lit(0)),
        "DataFrame already has the column 'label', which predict adds (['label', 'probability_0', 'probability_1', "
        "'model', 'version', and 1 more]): rename or drop it first.",
    ),
]


@pytest.mark.parametrize(("change", "message"), COLUMN_CASES)
def test_a_column_problem_fails_before_any_task_runs(spark, shipped_bundle, change, message):
    frame = change(spark.createDataFrame([ROW], SCHEMA))
    jobs, raised = jobs_during(spark, lambda: runtime.spark.predict(frame, shipped_bundle))
    assert isinstance(raised, runtime.InputError) and str(raised) == message
    assert jobs == []


@pytest.mark.parametrize("damage", [flip_byte, wrong_hash, golden_drift], ids=lambda f: f.__name__)
def test_a_refused_bundle_fails_before_any_task_runs_with_loads_message(spark, shipped_bundle, tmp_path, damage):
    bundle = bundle_copy(Path(shipped_bundle) / "1.0.0", tmp_path)
    damage(bundle)
    with pytest.raises(runtime.BundleError) as by_load:
        runtime.load(bundle)
    frame = spark.createDataFrame([ROW], SCHEMA)
    jobs, raised = jobs_during(spark, lambda: runtime.spark.predict(frame, bundle))
    assert isinstance(raised, runtime.BundleError) and str(raised) == str(by_load.value)
    assert jobs == []


def test_nulls_only_columns_are_accepted_as_missing(spark, shipped_bundle, shipped_model):
    frame = spark.createDataFrame([ROW], SCHEMA).withColumn("humidity", F.lit(None))
    [row] = runtime.spark.predict(frame, shipped_bundle).collect()
    record = dict(zip(SCHEMA.split(", "), ROW))
    expected = shipped_model.predict({k.split()[0]: v for k, v in record.items()} | {"humidity": None})
    assert row["reject_reason"] is None and row["label"] == expected.label
    assert row["probability_1"] == pytest.approx(expected.probabilities[1], abs=1e-12)
