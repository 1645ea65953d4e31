"""Drift over windows counted chunk by chunk (issue 10, finding 8): the streamed report equals the
in-memory one (PSI, shares, missing rates exactly; KS within KS_ERROR_BOUND of the exact statistic),
for windows of many chunks, empty windows, regressors, the log, CSVs and fed-back labels."""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runtime
from runtime._evidence import CategoryReference, NumberReference, bin_shares
from runtime._monitor.accumulators import (
    KS_ERROR_BOUND,
    KS_GRID_CELLS,
    CategoryAccumulator,
    DriftAccumulator,
    KsGrid,
)
from runtime._monitor.drift import drift_report, drift_report_from, ks_statistic, psi
from runtime._monitor.predictlog import LogEntry, PredictionLog
from runtime._monitor.windows import (
    MAX_WINDOW_ROWS,
    accuracy_report,
    count_csv_window,
    count_log_window,
    drift_from_log,
    ingest_feedback,
    read_csv_window,
    read_log_window,
    report_log_window,
)
from tests.conftest import SHIPPED_VERSION as SHIPPED
from tests.runtime.test_drift import regression_manifest
from tests.runtime.traffic import columns_like_training, records_like_training

# The exact and the grid statistic are both computed in floating point.
ROUNDING = 1e-12


@functools.cache
def shipped_manifest() -> runtime.Manifest:
    return runtime.load(SHIPPED).manifest


def chunks_of(columns: dict[str, np.ndarray], size: int) -> list[dict[str, np.ndarray]]:
    rows = len(next(iter(columns.values())))
    return [{name: values[start : start + size] for name, values in columns.items()} for start in range(0, rows, size)]


def in_memory_column(values: np.ndarray, reference: NumberReference | CategoryReference) -> dict[str, Any]:
    """A column judged over all of its values at once, as drift.py did before it counted chunks."""
    if isinstance(reference, NumberReference):
        numbers = np.asarray(values, dtype=np.float64)
        missing = np.isnan(numbers)
        present = numbers[~missing]
        return {
            "missing_rate": float(missing.mean()),
            "psi": psi(reference.bin_shares, bin_shares(reference.bin_edges, present)),
            "ks": ks_statistic(present, reference.quantiles),
        }
    items = [v for v in values.tolist() if v is not None]
    known = list(reference.shares)
    unknown = [v for v in items if v not in reference.shares]
    return {
        "missing_rate": 1 - len(items) / len(values),
        "psi": psi(
            [reference.shares[c] for c in known] + [0.0],
            [items.count(c) / len(items) for c in known] + [len(unknown) / len(items)],
        ),
        "unknown_rate": len(unknown) / len(items),
    }


def assert_same_column(streamed: Any, expected: dict[str, Any]) -> None:
    assert streamed.missing_rate == pytest.approx(expected["missing_rate"], abs=1e-15)
    assert streamed.psi == expected["psi"]
    if "ks" in expected:
        assert abs(streamed.ks - expected["ks"]) <= KS_ERROR_BOUND + ROUNDING
    else:
        assert streamed.unknown_rate == expected["unknown_rate"]


# -- the KS grid and its bound ---------------------------------------------------------------------


def samples() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, reference quantiles, recent values) of several shapes."""
    rng = np.random.default_rng(40)
    manifest = shipped_manifest()
    pressure = np.asarray(manifest.drift_reference.columns["pressure"].quantiles)
    sd = float(np.std(pressure))
    smooth = np.quantile(rng.normal(0, 1, 50_000), np.linspace(0, 1, 101))
    # a reference with point masses (repeated quantiles), like a sensor stuck at 0 in 30 % of parts
    masses = np.quantile(np.concatenate([np.zeros(3000), rng.integers(1, 5, 7000)]), np.linspace(0, 1, 101))
    return [
        ("like training", pressure, np.interp(rng.random(20_000), np.linspace(0, 1, 101), pressure)),
        ("shifted half a sd", pressure, np.interp(rng.random(20_000), np.linspace(0, 1, 101), pressure) + sd / 2),
        ("beyond the reference", pressure, rng.normal(pressure[-1] + sd, sd, 3000)),
        ("ten values", smooth, rng.normal(0.2, 1.0, 10)),
        ("one value", smooth, np.array([0.1])),
        ("heavy tails", smooth, rng.standard_t(2, 30_000)),
        ("integers", masses, rng.integers(0, 6, 20_000).astype(np.float64)),
        ("on the quantiles", smooth, rng.choice(smooth, 5000)),
        ("around point masses", masses, rng.normal(1.0, 1.5, 20_000)),
        ("two quantiles", np.array([0.0, 10.0]), rng.uniform(-1.0, 12.0, 5000)),
        ("a constant reference", np.full(101, 3.0), rng.normal(3.0, 0.1, 1000)),
    ]


@pytest.mark.parametrize(("reference", "values"), [case[1:] for case in samples()], ids=[case[0] for case in samples()])
def test_the_grid_ks_is_within_its_bound_of_the_exact_one(reference, values):
    grid = KsGrid(reference)
    for chunk in np.array_split(values, 7):
        grid.add(chunk)
    exact = ks_statistic(values, reference)
    lower, upper = grid.bounds()
    assert lower - ROUNDING <= exact <= upper + ROUNDING
    assert upper - lower <= 2 * KS_ERROR_BOUND + ROUNDING
    assert abs(grid.statistic() - exact) <= KS_ERROR_BOUND + ROUNDING


def test_values_on_grid_points_give_the_exact_statistic():
    reference = np.quantile(np.random.default_rng(41).normal(size=1000), np.linspace(0, 1, 101))
    values = np.random.default_rng(42).choice(reference, 2000)
    grid = KsGrid(reference)
    grid.add(values)
    assert grid.statistic() == pytest.approx(ks_statistic(values, reference), abs=ROUNDING)


def test_the_grid_is_fixed_size_and_fine_enough_for_its_bound():
    reference = shipped_manifest().drift_reference.columns["temperature"].quantiles
    grid = KsGrid(reference)
    size = len(grid.points)
    for _ in range(3):
        grid.add(np.random.default_rng(43).normal(200.0, 20.0, 100_000))
    assert len(grid.points) == size and len(grid.between) == size + 1 and size <= KS_GRID_CELLS + 1
    # no cell carries more reference mass than 1 / KS_GRID_CELLS
    assert float(np.max(grid.cdf_before[1:] - grid.cdf_at[:-1])) <= 1 / KS_GRID_CELLS + ROUNDING
    assert grid.count == 300_000


# -- columns: streamed == in memory ---------------------------------------------------------------------


@pytest.mark.parametrize("chunk_rows", [1, 97, 1000, 25_000])
def test_a_window_counted_in_chunks_is_judged_as_the_whole_window(chunk_rows):
    manifest = shipped_manifest()
    rows = 25_000 if chunk_rows > 1 else 500
    columns = columns_like_training(manifest, rows, seed=44)
    columns["temperature"] = columns["temperature"] + 3.0  # something to see
    columns["humidity"][: rows // 30] = np.nan
    columns["machine_type"][::50] = "D"
    accumulator = DriftAccumulator(manifest)
    for chunk in chunks_of(columns, chunk_rows):
        accumulator.add(chunk)
    report = drift_report_from(accumulator)
    whole = drift_report(manifest, columns)
    assert report.rows == whole.rows == rows
    for name, column in report.columns.items():
        assert_same_column(column, in_memory_column(columns[name], manifest.drift_reference.columns[name]))
        assert dataclasses.replace(column, ks=None) == dataclasses.replace(whole.columns[name], ks=None)
        if column.ks is not None:
            assert column.ks == pytest.approx(whole.columns[name].ks, abs=2 * KS_ERROR_BOUND)
    assert report.columns["machine_type"].unknown_examples == ["D"]
    assert report.to_dict().keys() == whole.to_dict().keys()


def test_an_empty_window_is_judged_as_before():
    manifest = shipped_manifest()
    empty = {spec.name: np.array([], dtype=np.float64 if spec.kind == "number" else object) for spec in manifest.inputs}
    report = drift_report(manifest, empty)
    assert report.rows == 0 and report.status == "insufficient data" and report.predictions is None
    assert {(c.psi, c.ks, c.missing_rate, c.unknown_rate) for c in report.columns.values()} == {(None, None, 0.0, None)}
    assert drift_report_from(DriftAccumulator(manifest)).to_dict() == report.to_dict()


def test_a_column_never_present_counts_missing_only():
    manifest = shipped_manifest()
    columns = columns_like_training(manifest, 300, seed=45)
    columns["vibration"][:] = np.nan
    column = drift_report(manifest, columns).columns["vibration"]
    assert (column.missing_rate, column.psi, column.ks) == (1.0, None, None)
    assert column.status == "alert"


def test_unknown_examples_are_bounded_and_the_frequent_ones_named():
    reference = CategoryReference(0.0, {"A": 0.5, "B": 0.5})
    counted = CategoryAccumulator(reference, examples_kept=10)
    rng = np.random.default_rng(46)
    for _ in range(20):
        # 5,000 distinct one-off values a chunk, and two frequent new ones
        chunk = [f"serial-{n}" for n in rng.integers(0, 10**9, 5000)] + ["E"] * 900 + ["F"] * 600 + ["A"] * 100
        counted.add(np.array(chunk, dtype=object))
        assert len(counted.unknown_counts) <= 10
    assert counted.unknown == 20 * 6500  # exact, whatever was dropped from the summary
    assert counted.unknown_examples()[:2] == ["E", "F"]
    assert counted.known == {"A": 2000, "B": 0}


def test_ties_among_unknown_values_name_the_first_seen_first():
    manifest = shipped_manifest()
    columns = columns_like_training(manifest, 2000, seed=47)
    columns["machine_type"][100:110] = "Y"
    columns["machine_type"][1500:1510] = "X"
    columns["machine_type"][1700:1720] = "Z"
    accumulator = DriftAccumulator(manifest)
    for chunk in chunks_of(columns, 300):
        accumulator.add(chunk)
    assert drift_report_from(accumulator).columns["machine_type"].unknown_examples == ["Z", "Y", "X"]


# -- predictions --------------------------------------------------------------------------------------------


def test_predicted_classes_counted_in_chunks():
    manifest = shipped_manifest()
    columns = columns_like_training(manifest, 10_000, seed=48)
    labels = np.random.default_rng(49).choice([0, 1], 10_000, p=[0.7, 0.3])
    accumulator = DriftAccumulator(manifest)
    for start in range(0, 10_000, 999):
        chunk = {name: values[start : start + 999] for name, values in columns.items()}
        accumulator.add(chunk, predicted_labels=labels[start : start + 999])
    streamed = drift_report_from(accumulator).predictions
    whole = drift_report(manifest, columns, predicted_labels=labels).predictions
    assert streamed == whole
    assert streamed["recent_shares"]["1"] == np.mean(labels == 1)


def test_a_regressors_predicted_values_counted_in_chunks():
    rng = np.random.default_rng(50)
    regressor = regression_manifest(shipped_manifest(), rng.normal(40.0, 5.0, 4000))
    columns = columns_like_training(regressor, 12_000, seed=51)
    values = rng.normal(41.0, 5.5, 12_000)
    accumulator = DriftAccumulator(regressor)
    for start in range(0, 12_000, 5000):
        chunk = {name: v[start : start + 5000] for name, v in columns.items()}
        accumulator.add(chunk, predicted_values=values[start : start + 5000])
    streamed = drift_report_from(accumulator).predictions
    reference = regressor.drift_reference.predictions.values
    assert streamed["rows"] == 12_000
    assert streamed["psi"] == psi(reference.bin_shares, bin_shares(reference.bin_edges, values))
    assert abs(streamed["ks"] - ks_statistic(values, reference.quantiles)) <= KS_ERROR_BOUND + ROUNDING
    whole = drift_report(regressor, columns, predicted_values=values).predictions
    assert streamed == whole


# -- the log ------------------------------------------------------------------------------------------------


def write_log(path: Path, manifest: runtime.Manifest, model: runtime.Model | None, rows: int, seed: int) -> Path:
    """``rows`` predictions like training through the server's log writer, 1,000 per request; a
    regressor's values are drawn around 40 (``model`` None), a classifier's predicted by ``model``."""
    records = records_like_training(manifest, rows, seed)
    rng = np.random.default_rng(seed)
    log = PredictionLog(path)
    try:
        for request, start in enumerate(range(0, rows, 1000)):
            chunk = records[start : start + 1000]
            outputs: dict[str, Any]
            if model is not None:
                result = model.predict_batch(chunk)
                outputs = {
                    "classes": model.classes,
                    "labels": result.labels.tolist(),
                    "probabilities": result.probabilities.tolist(),
                }
            else:
                outputs = {"values": rng.normal(40.0, 5.0, len(chunk)).tolist()}
            entry = LogEntry(
                request_id=f"req-{request}",
                epoch=time.time(),
                endpoint="/v1/predict",
                status=200,
                model=manifest.name,
                version=manifest.version,
                latency_ms=1.0,
                inputs=chunk,
                **outputs,
            )
            assert log.submit(entry).result(timeout=30) == "written"
    finally:
        log.close()
    return path


@pytest.fixture(scope="module")
def model() -> runtime.Model:
    return runtime.load(SHIPPED)


@pytest.fixture(scope="module")
def classifier_log(model, tmp_path_factory) -> Path:
    return write_log(tmp_path_factory.mktemp("log") / "predictions.db", model.manifest, model, 12_000, seed=52)


def in_memory_report(path: Path, manifest: runtime.Manifest, **window: Any) -> dict[str, Any]:
    """The report over the whole window read into memory (read_log_window + drift_report)."""
    whole = read_log_window(path, manifest, **window)
    values = whole.values[~np.isnan(whole.values)] if whole.values is not None else None
    report = drift_report(manifest, whole.columns, predicted_labels=whole.labels, predicted_values=values)
    if manifest.is_classifier:
        report.accuracy = accuracy_report(path, whole, manifest)
    return report.to_dict()


def without_ks(report: dict[str, Any]) -> dict[str, Any]:
    columns = {name: column | {"ks": None} for name, column in report["columns"].items()}
    predictions = report["predictions"] and report["predictions"] | {"ks": None}
    return report | {"columns": columns, "predictions": predictions, "source": None}


@pytest.mark.parametrize("window", [{}, {"last": 7_500}, {"last": 10}, {"since_s": 3600.0}])
def test_the_log_counted_in_chunks_equals_the_whole_window(model, classifier_log, window, tmp_path):
    manifest = model.manifest
    counts = count_log_window(classifier_log, manifest, chunk_rows=1000, **window)
    streamed = report_log_window(counts)
    expected = in_memory_report(classifier_log, manifest, **window)
    assert streamed["rows"] == window.get("last", 12_000)
    assert without_ks(streamed) == without_ks(expected)
    for name, column in streamed["columns"].items():
        if column["ks"] is not None:
            assert column["ks"] == pytest.approx(expected["columns"][name]["ks"], abs=2 * KS_ERROR_BOUND)
    assert streamed["source"] == f"prediction log {classifier_log}"
    assert drift_from_log(classifier_log, manifest, **window)["columns"] == streamed["columns"]


def test_fed_back_labels_are_joined_chunk_by_chunk(model, classifier_log, tmp_path):
    manifest = model.manifest
    database = tmp_path / "labelled.db"
    database.write_bytes(classifier_log.read_bytes())
    whole = read_log_window(database, manifest)
    rng = np.random.default_rng(53)
    with open(tmp_path / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "row", "label"])
        for request_id, row, label in list(zip(whole.request_ids, whole.row_numbers, whole.labels))[::3]:
            writer.writerow([request_id, row, 1 - label if rng.random() < 0.2 else label])
        writer.writerow(["not-logged", 0, 1])  # kept and counted, never joined
    ingest_feedback(database, tmp_path / "labels.csv", manifest)
    streamed = report_log_window(count_log_window(database, manifest, chunk_rows=777))["accuracy"]
    assert streamed == accuracy_report(database, whole, manifest)
    assert streamed["labelled_rows"] == 4000 and streamed["status"] == "alert"
    recent = report_log_window(count_log_window(database, manifest, last=3000, chunk_rows=500))["accuracy"]
    assert recent == accuracy_report(database, read_log_window(database, manifest, last=3000), manifest)


def test_a_regressors_log_counted_in_chunks(model, tmp_path):
    rng = np.random.default_rng(54)
    regressor = regression_manifest(model.manifest, rng.normal(40.0, 5.0, 4000))
    database = write_log(tmp_path / "regressor.db", regressor, None, 5_500, seed=55)
    streamed = report_log_window(count_log_window(database, regressor, chunk_rows=1000))
    expected = in_memory_report(database, regressor)
    assert without_ks(streamed) == without_ks(expected)
    assert streamed["predictions"]["rows"] == 5_500
    assert abs(streamed["predictions"]["ks"] - expected["predictions"]["ks"]) <= 2 * KS_ERROR_BOUND
    assert streamed["accuracy"] is None


def test_an_empty_log_window_is_no_data(model, classifier_log):
    report = drift_from_log(classifier_log, model.manifest, since_s=0.0)
    assert report == {
        "model": "quality",
        "version": model.version,
        "rows": 0,
        "status": "no data",
        "source": f"prediction log {classifier_log}",
    }
    other = dataclasses.replace(model.manifest, name="another")
    assert drift_from_log(classifier_log, other)["status"] == "no data"


def test_a_window_holds_at_most_max_rows(model, classifier_log):
    counts = count_log_window(classifier_log, model.manifest, max_rows=5000, chunk_rows=1000)
    assert counts.rows == 5000
    assert read_log_window(classifier_log, model.manifest, max_rows=5000).request_ids[0] == "req-7"
    with pytest.raises(ValueError) as error:
        drift_from_log(classifier_log, model.manifest, last=5001, max_rows=5000)
    assert str(error.value) == (
        "last == 5,001 is more rows than a drift window holds (at most 5,000, MAX_WINDOW_ROWS): "
        "judge fewer rows, or a shorter time with --since"
    )
    assert MAX_WINDOW_ROWS == 1_000_000


# -- CSV --------------------------------------------------------------------------------------------


def write_csv(path: Path, manifest: runtime.Manifest, rows: int, seed: int) -> dict[str, np.ndarray]:
    columns = columns_like_training(manifest, rows, seed)
    names = [spec.name for spec in manifest.inputs]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ignored", *reversed(names)])
        for index, values in enumerate(zip(*(columns[name].tolist() for name in reversed(names)))):
            writer.writerow(
                [index, *("" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values)]
            )
            if index % 1000 == 0:
                writer.writerow([])  # blank lines are skipped, as csv.DictReader skips them
    return columns


def test_a_csv_counted_in_chunks_is_judged_as_the_whole_file(tmp_path):
    manifest = shipped_manifest()
    columns = write_csv(tmp_path / "recent.csv", manifest, 8_000, seed=56)
    counted = count_csv_window(tmp_path / "recent.csv", manifest, chunk_rows=999)
    assert counted.rows == 8_000
    streamed = drift_report_from(counted)
    whole = read_csv_window(tmp_path / "recent.csv", manifest)
    assert whole.rows == 8_000
    np.testing.assert_array_equal(whole.columns["temperature"], columns["temperature"])
    for name, column in streamed.columns.items():
        assert_same_column(column, in_memory_column(columns[name], manifest.drift_reference.columns[name]))


def test_unreadable_numbers_in_a_csv_are_counted_over_the_whole_file(tmp_path):
    manifest = shipped_manifest()
    names = [spec.name for spec in manifest.inputs]
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for index in range(2500):
            record = records_like_training(manifest, 1, seed=index)[0]
            record["temperature"] = "hot" if index % 1000 == 0 else record["temperature"]
            writer.writerow(["" if record[name] is None else record[name] for name in names])
    with pytest.raises(ValueError) as error:
        count_csv_window(path, manifest, chunk_rows=100)
    assert str(error.value) == f"{str(path)!r} has 3 number fields that are not numbers; fix or blank them"


def test_a_time_window_holds_every_row_of_its_time_whatever_the_order_of_ids(model, tmp_path):
    """A slow request is logged after a faster, later one: ids and times disagree at the edge."""
    from runtime._monitor.logdb import connect

    records = records_like_training(model.manifest, 6, seed=57)
    now = time.time()
    epochs = [now - 7200, now - 100, now - 4000, now - 50, now - 3500, now - 10]  # in id order
    connection = connect(tmp_path / "log.db")
    try:
        for index, (record, epoch) in enumerate(zip(records, epochs)):
            connection.execute(
                "INSERT INTO predictions (request_id, row, time_utc, time_epoch, endpoint, status, model, version, "
                "inputs, outputs) VALUES (?, 0, '', ?, '/v1/predict', 200, ?, ?, ?, '{\"label\": 1}')",
                [f"req-{index}", epoch, model.name, model.version, json.dumps(record)],
            )
    finally:
        connection.close()
    hour = read_log_window(tmp_path / "log.db", model.manifest, since_s=3600)
    assert hour.request_ids == ["req-1", "req-3", "req-4", "req-5"]
    assert count_log_window(tmp_path / "log.db", model.manifest, since_s=3600, chunk_rows=1).rows == 4
    assert read_log_window(tmp_path / "log.db", model.manifest, since_s=3600, last=2).request_ids == ["req-4", "req-5"]
    assert count_log_window(tmp_path / "log.db", model.manifest, since_s=1).rows == 0
