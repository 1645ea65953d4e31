"""Data drift against the bundle's training reference (issue 6, must show 1-3)."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

import runtime
from runtime._monitor.drift import Thresholds, drift_report, ks_statistic, psi
from tests.conftest import SHIPPED_VERSION as SHIPPED
from tests.runtime.traffic import columns_like_training

NUMBERS = ["temperature", "pressure", "speed", "humidity", "vibration"]


@pytest.fixture(scope="module")
def manifest(shipped_bundle):
    return runtime.load(shipped_bundle).manifest


@functools.cache
def shipped_manifest() -> runtime.Manifest:
    return runtime.load(SHIPPED).manifest


def traffic(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Fresh rows from the training distribution the bundle records (numpy only)."""
    return columns_like_training(shipped_manifest(), rows, seed)


@pytest.mark.parametrize("window", [500, 5000])
def test_traffic_from_the_training_distribution_is_ok(manifest, window):
    report = drift_report(manifest, traffic(window, seed=7))
    assert {name: column.status for name, column in report.columns.items()} == dict.fromkeys(report.columns, "ok")
    assert report.status == "ok"
    assert report.rows == window


def test_one_sensor_shifted_by_one_sd_alerts_alone(manifest):
    recent = traffic(5000, seed=8)
    sd = manifest.drift_reference.columns["temperature"].std
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
    reference = manifest.drift_reference.columns["pressure"]
    values = traffic(3000, seed=13)["pressure"]
    values = values[~np.isnan(values)] + 2.0
    edges = np.concatenate([[-np.inf], reference.bin_edges, [np.inf]])
    # bins are [lower, upper), as the export counted the training data
    counts = np.array([np.sum((values >= lo) & (values < hi)) for lo, hi in zip(edges[:-1], edges[1:])])
    shares = np.maximum(counts / counts.sum(), 1e-4)
    expected = np.maximum(np.asarray(reference.bin_shares), 1e-4)
    independent = sum((a - e) * np.log(a / e) for a, e in zip(shares, expected))
    column = drift_report(manifest, {"pressure": values + 0.0})
    assert column.columns["pressure"].psi == pytest.approx(independent, abs=1e-9)
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0


@pytest.mark.parametrize("shift", [0.0, 0.5, 3.0])
def test_ks_agrees_with_scipy(manifest, shift):
    """Against scipy's two-sample KS with a dense sample of the reference distribution, drawn with
    scipy's own interpolation of the recorded quantiles: nothing of drift.py feeds the expected value."""
    stats = pytest.importorskip("scipy.stats")
    interpolate = pytest.importorskip("scipy.interpolate")
    quantiles = np.asarray(manifest.drift_reference.columns["pressure"].quantiles)
    inverse_cdf = interpolate.interp1d(np.linspace(0.0, 1.0, len(quantiles)), quantiles)
    dense = inverse_cdf((np.arange(200_000) + 0.5) / 200_000)
    values = traffic(2000, seed=14)["pressure"]
    values = values[~np.isnan(values)] + shift * 7.0
    ours = ks_statistic(values, quantiles)
    theirs = stats.ks_2samp(values, dense).statistic
    # the dense sample's empirical CDF is within 1/200,000 of the continuous reference CDF
    assert ours == pytest.approx(theirs, abs=2e-5)
    assert (ours > 0.2) is (shift >= 0.5)


# -- a regressor's predicted values (issue 9, must show 6) --------------------------------------------


def regression_manifest(manifest: runtime.Manifest, held_out_values: np.ndarray) -> runtime.Manifest:
    """The shipped manifest as a regressor's, whose held-out predictions were ``held_out_values``."""
    reference = dataclasses.replace(
        manifest.drift_reference,
        predictions=runtime.PredictionReference(
            "held-out split", values=runtime.NumberReference.build(held_out_values)
        ),
    )
    return dataclasses.replace(
        manifest,
        task="regression",
        classes=None,
        outputs=runtime.OutputSpec(value="value"),
        drift_reference=reference,
        golden_cases=(),
    )


def test_a_regressors_shifted_predictions_alert(manifest):
    rng = np.random.default_rng(15)
    regressor = regression_manifest(manifest, rng.normal(40.0, 5.0, 4000))
    recent = traffic(2000, seed=16)
    steady = drift_report(regressor, recent, predicted_values=rng.normal(40.0, 5.0, 2000))
    assert steady.predictions is not None and steady.predictions["status"] == "ok"
    assert steady.status == "ok"
    shifted = drift_report(regressor, recent, predicted_values=rng.normal(45.0, 5.0, 2000))
    assert shifted.predictions["status"] == "alert"
    assert shifted.predictions["ks"] > 0.2 and shifted.predictions["psi"] > 0.25
    assert shifted.status == "alert"
    assert any(reason.startswith("PSI ") for reason in shifted.predictions["reasons"])
