"""The drift minimum sample size: below ``Thresholds.min_rows`` rows a column is "insufficient data", never
ok, warn or alert, and nothing about it is computed; its values then decide nothing (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from runtime._monitor.drift import MIN_ROWS, Thresholds, drift_report, worst
from tests.runtime.traffic import columns_like_training


@pytest.fixture(scope="module")
def manifest(shipped_bundle):
    return runtime.load(shipped_bundle).manifest


def shifted(manifest: runtime.Manifest, rows: int) -> dict[str, np.ndarray]:
    """Rows from training, with every temperature at the top of its valid range: an alert when judged."""
    columns = columns_like_training(manifest, rows, seed=5)
    columns["temperature"] = np.full(rows, 299.0)
    return columns


def test_the_default_is_documented_and_a_thresholds_field():
    assert Thresholds().min_rows == MIN_ROWS == 300


@pytest.mark.parametrize(("rows", "status"), [(MIN_ROWS - 1, "insufficient data"), (MIN_ROWS, "alert")])
def test_a_column_is_judged_from_min_rows_on(manifest, rows, status):
    report = drift_report(manifest, shifted(manifest, rows), predicted_labels=[0] * rows)
    temperature = report.columns["temperature"]
    assert (temperature.status, report.status) == (status, status)
    if status == "insufficient data":
        assert (temperature.psi, temperature.ks) == (None, None)
        assert report.predictions is not None and report.predictions["status"] == "insufficient data"
        assert report.predictions["psi"] is None
    else:
        assert temperature.psi is not None and temperature.psi > Thresholds().psi_alert


def test_min_rows_is_a_setting(manifest):
    report = drift_report(manifest, shifted(manifest, 50), thresholds=Thresholds(min_rows=50))
    assert report.columns["temperature"].status == "alert"


def test_a_column_of_too_few_values_is_judged_on_its_missing_rate_only(manifest):
    rows = 1000
    columns = shifted(manifest, rows)
    columns["temperature"][: rows - 10] = np.nan  # 10 values: far too few for PSI or KS
    column = drift_report(manifest, columns).columns["temperature"]
    assert (column.psi, column.ks) == (None, None)
    assert column.status == "alert"  # 99 % missing against 2 % in training
    assert column.reasons[-1] == (
        "distribution not judged: only 10 of the 1,000 rows have a value, at least 300 are needed (min_rows)"
    )


def test_insufficient_data_is_below_ok():
    assert worst(["insufficient data"]) == "insufficient data"
    assert worst(["insufficient data", "ok"]) == "ok"
    assert worst(["insufficient data", "warn", "ok"]) == "warn"
