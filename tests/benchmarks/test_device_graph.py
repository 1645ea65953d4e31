"""The device-graph benchmark (issue 13) on the tiny export: its inputs are right and it judges every target."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

import runtime  # noqa: E402
from benchmarks._records import benchmark_records, column_records, synthetic_columns  # noqa: E402
from benchmarks.device_graph import ISSUE_TARGETS, _markdown, _packed_row, batches, latency  # noqa: E402


def test_the_prepared_packed_rows_are_what_the_runtime_feeds(tiny_export):
    model = runtime.load(tiny_export.bundle)
    records = column_records(synthetic_columns(model.manifest, 200, benchmark_records(model), seed=1), 200)
    assert any(value is None for record in records for value in record.values())  # missing values are in it
    feeds, _, problems, _ = model.validate_batch(records)
    assert not problems
    packed = model._packed.batch(feeds)["packed"]
    prepared = np.vstack([_packed_row(record, model.manifest.device_graph)["packed"] for record in records])
    np.testing.assert_array_equal(prepared, packed)


def test_a_tiny_run_measures_every_path_and_every_target(tiny_export, tmp_path):
    from benchmarks.device_graph import _public_copy

    model = runtime.load(tiny_export.bundle)
    public = runtime.load(_public_copy(model.path, tmp_path))
    records = column_records(synthetic_columns(model.manifest, 300, benchmark_records(model), seed=2), 300)
    single = latency(model, public, tiny_export.pipeline, records, rounds=2, calls=50, sklearn_calls=3, progress=print)
    assert single["p50_us"]["runtime"]["median"] > 0 and single["ratios"]["predict_over_bare_public"]["median"] > 0
    batch = batches(
        model.path, tiny_export.pipeline, records[:5], sizes=(100, 10_000), budget_rows=20_000, progress=print
    )
    ratios = {**single["ratios"], **batch["ratios"]}
    keys = {target["key"] for target in ISSUE_TARGETS}
    measured = keys & set(ratios)
    assert {
        "predict_p50_us",
        "predict_over_bare_public",
        "predict_over_sklearn_1",
        "batch_10000_1",
        "batch_10000_2",
    } <= measured
    assert "records_over_columns" in ratios
    text = _markdown(
        [{"bundle": "b", "estimator": "e", "params": {}, "latency": single, "batches": batch, "targets": []}],
        quick=True,
    )
    assert "| 10,000 | 2 |" in text


def test_a_fully_grown_forest_is_judged_by_its_own_memory_bound_and_the_rest_by_the_defaults():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    from benchmarks.device_graph import targets_for

    def bound(estimator):
        return {t["key"]: t["bound"] for t in targets_for(estimator)}

    assert bound(RandomForestClassifier(max_depth=None))["peak_rss_over_sklearn"] == 0.6
    assert bound(RandomForestClassifier(max_depth=10))["peak_rss_over_sklearn"] == 0.35
    assert bound(HistGradientBoostingClassifier())["peak_rss_over_sklearn"] == 0.35
    grown = bound(RandomForestClassifier(max_depth=None))
    assert {k: v for k, v in grown.items() if k != "peak_rss_over_sklearn"} == {
        k: v for k, v in bound(RandomForestClassifier(max_depth=10)).items() if k != "peak_rss_over_sklearn"
    }
