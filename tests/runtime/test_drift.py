"""Data drift against the bundle's training reference (issue 6, must show 1-3)."""

from __future__ import annotations

import numpy as np
import pytest

import runtime
from runtime._monitor.drift import Thresholds, drift_report, ks_statistic, psi, reference_cdf

pd = pytest.importorskip("pandas")
from export._data import make_demo_data  # noqa: E402  (the demo generator: the training distribution)

NUMBERS = ["temperature", "pressure", "speed", "humidity", "vibration"]


@pytest.fixture(scope="module")
def manifest(shipped_bundle):
    return runtime.load(shipped_bundle).manifest


def traffic(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Fresh rows from the training distribution (the demo generator with another seed)."""
    frame = make_demo_data(rows, seed=seed)
    return {
        name: np.array(frame[name], dtype=np.float64 if name in NUMBERS else object)
        for name in frame.columns
        if name != "defect"
    }


@pytest.mark.parametrize("window", [500, 5000])
def test_traffic_from_the_training_distribution_is_ok(manifest, window):
    report = drift_report(manifest, traffic(window, seed=7))
    assert {name: column.status for name, column in report.columns.items()} == dict.fromkeys(report.columns, "ok")
    assert report.status == "ok"
    assert report.rows == window


def test_one_sensor_shifted_by_one_sd_alerts_alone(manifest):
    recent = traffic(5000, seed=8)
    sd = manifest.drift_reference["columns"]["temperature"]["std"]
    recent["temperature"] = recent["temperature"] + sd
    report = drift_report(manifest, recent)
    statuses = {name: column.status for name, column in report.columns.items()}
    assert statuses.pop("temperature") == "alert"
    assert set(statuses.values()) == {"ok"}
    assert report.status == "alert"
    assert report.columns["temperature"].psi > 0.25


def test_new_machine_type_is_an_unknown_category_alert(manifest):
    recent = traffic(5000, seed=9)
    recent["machine_type"][:250] = "D"  # a new machine on the line: 5 % of parts
    column = drift_report(manifest, recent).columns["machine_type"]
    assert column.status == "alert"
    assert column.unknown_rate == pytest.approx(0.05)
    assert column.unknown_examples == ["D"]
    assert any("unknown categories in 5.0% of rows" in reason for reason in column.reasons)


def test_rising_missing_rate_is_reported(manifest):
    recent = traffic(5000, seed=10)
    recent["humidity"][:1000] = np.nan  # a failing sensor: 20 % dropouts
    column = drift_report(manifest, recent).columns["humidity"]
    assert column.status == "alert"
    assert column.missing_rate > 0.2
    assert column.reasons[0].startswith("missing in ")


def test_prediction_shift(manifest, shipped_bundle):
    model = runtime.load(shipped_bundle)
    recent = traffic(2000, seed=11)
    labels = model.predict_batch(recent).labels
    assert drift_report(manifest, recent, predicted_labels=labels).predictions["status"] == "ok"
    always_defect = np.ones(2000, dtype=int)
    assert drift_report(manifest, recent, predicted_labels=always_defect).predictions["status"] == "alert"


def test_thresholds_are_configurable(manifest):
    recent = traffic(500, seed=12)
    strict = drift_report(manifest, recent, thresholds=Thresholds(psi_warn=0.0001, psi_alert=0.0002))
    assert strict.status == "alert"


# -- agreement with independent implementations (must show 3) --------------------------------------


def test_psi_agrees_with_a_histogram_implementation(manifest):
    stats = pytest.importorskip("scipy.stats")
    del stats
    reference = manifest.drift_reference["columns"]["pressure"]
    values = traffic(3000, seed=13)["pressure"]
    values = values[~np.isnan(values)] + 2.0
    edges = np.concatenate([[-np.inf], reference["bin_edges"], [np.inf]])
    # bins are [lower, upper), as the export counted the training data
    counts = np.array([np.sum((values >= lo) & (values < hi)) for lo, hi in zip(edges[:-1], edges[1:])])
    shares = np.maximum(counts / counts.sum(), 1e-4)
    expected = np.maximum(np.asarray(reference["bin_shares"]), 1e-4)
    independent = sum((a - e) * np.log(a / e) for a, e in zip(shares, expected))
    column = drift_report(manifest, {"pressure": values + 0.0})
    assert column.columns["pressure"].psi == pytest.approx(independent, abs=1e-9)
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0


@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_ks_agrees_with_scipy(manifest, shift):
    stats = pytest.importorskip("scipy.stats")
    reference = manifest.drift_reference["columns"]["vibration"]
    values = traffic(2000, seed=14)["vibration"]
    values = values[~np.isnan(values)] * (1 + shift)
    ours = ks_statistic(values, reference["quantiles"])
    theirs = stats.kstest(values, reference_cdf(reference["quantiles"])).statistic
    assert ours == pytest.approx(theirs, abs=1e-9)
