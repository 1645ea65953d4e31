"""Data drift against the training reference stored in the bundle, with numpy only.

Per number column: PSI over the reference's equal-frequency bins, and the Kolmogorov–Smirnov
statistic against the reference's empirical CDF (rebuilt from its 101 quantiles, linear between
them). Per category column: PSI over the categories plus an "unknown" bucket, and the share of
unknown categories. Every column: the missing-value rate against training. Predictions: PSI of the
predicted class shares against those on the held-out split.

Thresholds (defaults, all configurable through :class:`Thresholds`):

- PSI: below 0.1 ok, 0.1 to 0.25 warn, 0.25 and above alert (the usual reading: stable /
  moderate / significant shift).
- KS statistic: 0.1 warn, 0.2 alert. Sampling noise alone stays near 1.36/sqrt(n) at the 95th
  percentile: 0.06 at n = 500, 0.02 at n = 5,000.
- Missing rate: warn when it exceeds training's by 5 percentage points, alert at 10.
- Unknown categories: warn above 0 % (any), alert at 1 % of the window.

A column's status is the worst of its checks; the report's status the worst of all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from .._contract import MISSING_CATEGORY
from .._evidence import CategoryReference, NumberReference, bin_shares
from .._manifest import Manifest

__all__ = ["ColumnDrift", "DriftReport", "Thresholds", "bin_shares", "drift_report", "ks_statistic", "psi", "worst"]

Status = Literal["ok", "warn", "alert"]
_ORDER = {"ok": 0, "warn": 1, "alert": 2}
# Shares of zero make PSI infinite; both sides are floored at this share, as is customary.
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Thresholds:
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    ks_warn: float = 0.1
    ks_alert: float = 0.2
    missing_warn: float = 0.05
    missing_alert: float = 0.10
    unknown_warn: float = 0.0
    unknown_alert: float = 0.01
    # accuracy over fed-back labels this far below the export's baseline alerts; half as far warns
    accuracy_drop: float = 0.05


def _grade(value: float, warn: float, alert: float, *, strictly_above_warn: bool = False) -> Status:
    if value >= alert:
        return "alert"
    if value > warn if strictly_above_warn else value >= warn:
        return "warn"
    return "ok"


def worst(statuses: Sequence[Status]) -> Status:
    """The most severe of the statuses (ok < warn < alert)."""
    return max(statuses, key=_ORDER.__getitem__, default="ok")


def psi(reference: Sequence[float] | np.ndarray, recent: Sequence[float] | np.ndarray) -> float:
    """Population stability index: sum((recent - reference) * ln(recent / reference)) over bins.

    Both share vectors are floored at ``PSI_FLOOR`` so an empty bin gives a large, finite value.
    """
    expected = np.maximum(np.asarray(reference, dtype=np.float64), PSI_FLOOR)
    actual = np.maximum(np.asarray(recent, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def reference_cdf(quantiles: Sequence[float]) -> Any:
    """The reference CDF: linear between the quantiles (probabilities 0, 1/100, ..., 1), 0 and 1 outside."""
    points = np.asarray(quantiles, dtype=np.float64)
    probabilities = np.linspace(0.0, 1.0, len(points))

    def cdf(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        # np.interp needs increasing x; repeated quantiles (point masses) jump at their value
        result: np.ndarray = np.interp(x, points, probabilities, left=0.0, right=1.0)
        return result

    return cdf


def ks_statistic(values: np.ndarray, quantiles: Sequence[float]) -> float:
    """sup |F_recent(x) - F_reference(x)|, as scipy.stats.kstest computes it for a continuous CDF."""
    sample = np.sort(np.asarray(values, dtype=np.float64))
    n = len(sample)
    if n == 0:
        return 0.0
    cdf = reference_cdf(quantiles)(sample)
    above = np.arange(1, n + 1) / n - cdf
    below = cdf - np.arange(0, n) / n
    return float(max(above.max(), below.max()))


@dataclass
class ColumnDrift:
    name: str
    kind: str
    status: Status
    rows: int
    psi: float | None = None
    ks: float | None = None
    missing_rate: float = 0.0
    reference_missing_rate: float = 0.0
    unknown_rate: float | None = None
    unknown_examples: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class DriftReport:
    model: str
    version: str
    rows: int
    status: Status
    columns: dict[str, ColumnDrift]
    predictions: dict[str, Any] | None
    thresholds: Thresholds
    accuracy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "rows": self.rows,
            "status": self.status,
            "columns": {name: asdict(column) for name, column in self.columns.items()},
            "predictions": self.predictions,
            "accuracy": self.accuracy,
            "thresholds": asdict(self.thresholds),
        }


def _missing_status(column: ColumnDrift, thresholds: Thresholds) -> Status:
    rise = column.missing_rate - column.reference_missing_rate
    status = _grade(rise, thresholds.missing_warn, thresholds.missing_alert)
    if status != "ok":
        column.reasons.append(
            f"missing in {column.missing_rate:.1%} of rows, {column.reference_missing_rate:.1%} in training"
        )
    return status


def _start(
    name: str, kind: str, missing: np.ndarray, reference: NumberReference | CategoryReference, thresholds: Thresholds
) -> tuple[ColumnDrift, list[Status]]:
    """A column's report with its missing-rate check done."""
    column = ColumnDrift(
        name,
        kind,
        "ok",
        len(missing),
        missing_rate=float(missing.mean()) if len(missing) else 0.0,
        reference_missing_rate=reference.missing_rate,
    )
    return column, [_missing_status(column, thresholds)]


def _check(column: ColumnDrift, label: str, value: float, warn: float, alert: float) -> Status:
    """Grade one statistic and record why when it is not ok."""
    status = _grade(value, warn, alert)
    if status != "ok":
        column.reasons.append(f"{label} {value:.3f} (warn at {warn}, alert at {alert})")
    return status


def _number_drift(name: str, values: np.ndarray, reference: NumberReference, thresholds: Thresholds) -> ColumnDrift:
    numbers = np.asarray(values, dtype=np.float64)
    missing = np.isnan(numbers)
    present = numbers[~missing]
    column, statuses = _start(name, "number", missing, reference, thresholds)
    if len(present) and reference.quantiles:
        column.psi = psi(reference.bin_shares, bin_shares(reference.bin_edges, present))
        column.ks = ks_statistic(present, reference.quantiles)
        statuses.append(_check(column, "PSI", column.psi, thresholds.psi_warn, thresholds.psi_alert))
        statuses.append(_check(column, "KS", column.ks, thresholds.ks_warn, thresholds.ks_alert))
    column.status = worst(statuses)
    return column


def _category_drift(name: str, values: np.ndarray, reference: CategoryReference, thresholds: Thresholds) -> ColumnDrift:
    text = np.asarray(values, dtype=object)
    missing = np.array(
        [v is None or v == MISSING_CATEGORY or (isinstance(v, float) and math.isnan(v)) for v in text], dtype=bool
    )
    present = text[~missing]
    shares = reference.shares
    column, statuses = _start(name, "category", missing, reference, thresholds)
    if len(present):
        known = list(shares)
        counts = {category: 0 for category in known}
        unknown: dict[str, int] = {}
        for value in present.tolist():
            key = str(value)
            if key in counts:
                counts[key] += 1
            else:
                unknown[key] = unknown.get(key, 0) + 1
        total = len(present)
        unknown_count = sum(unknown.values())
        column.unknown_rate = unknown_count / total
        column.unknown_examples = sorted(unknown, key=lambda k: -unknown[k])[:5]
        column.psi = psi(
            [shares[c] for c in known] + [0.0], [counts[c] / total for c in known] + [unknown_count / total]
        )
        statuses.append(_check(column, "PSI", column.psi, thresholds.psi_warn, thresholds.psi_alert))
        unknown_status = _grade(
            column.unknown_rate, thresholds.unknown_warn, thresholds.unknown_alert, strictly_above_warn=True
        )
        if unknown_status != "ok":
            column.reasons.append(f"unknown categories in {column.unknown_rate:.1%} of rows: {column.unknown_examples}")
        statuses.append(unknown_status)
    column.status = worst(statuses)
    return column


def drift_report(
    manifest: Manifest,
    columns: Mapping[str, np.ndarray | Sequence[Any]],
    *,
    predicted_labels: Sequence[Any] | np.ndarray | None = None,
    predicted_values: Sequence[float] | np.ndarray | None = None,
    thresholds: Thresholds | None = None,
) -> DriftReport:
    """Compare recent inputs (one array per column; missing as NaN / None / "") with the bundle's reference,
    and the recent predictions (a classifier's labels or a regressor's values) with the held-out ones."""
    thresholds = thresholds or Thresholds()
    reference = manifest.drift_reference.columns
    results: dict[str, ColumnDrift] = {}
    rows = 0
    for spec in manifest.inputs:
        column_reference = reference.get(spec.name)
        if spec.name not in columns or column_reference is None:
            continue
        values = np.asarray(columns[spec.name], dtype=np.float64 if spec.kind == "number" else object)
        rows = max(rows, len(values))
        if isinstance(column_reference, NumberReference):
            results[spec.name] = _number_drift(spec.name, values, column_reference, thresholds)
        else:
            results[spec.name] = _category_drift(spec.name, values, column_reference, thresholds)
    statuses = [column.status for column in results.values()]
    predictions: dict[str, Any] | None = None
    if predicted_labels is not None and len(predicted_labels):
        predictions = _label_drift(manifest, predicted_labels, thresholds)
    elif predicted_values is not None and len(predicted_values):
        predictions = _value_drift(manifest, predicted_values, thresholds)
    if predictions is not None:
        statuses.append(predictions["status"])
    return DriftReport(manifest.name, manifest.version, rows, worst(statuses), results, predictions, thresholds)


def _label_drift(
    manifest: Manifest, predicted_labels: Sequence[Any] | np.ndarray, thresholds: Thresholds
) -> dict[str, Any] | None:
    """PSI of the predicted class shares against those on the held-out split."""
    reference = manifest.drift_reference.predictions
    if reference is None or reference.shares is None:
        return None
    labels = [str(label) for label in np.asarray(predicted_labels, dtype=object).tolist()]
    classes = list(reference.shares)
    recent = [labels.count(c) / len(labels) for c in classes]
    value = psi([reference.shares[c] for c in classes], recent)
    return {
        "psi": value,
        "status": _grade(value, thresholds.psi_warn, thresholds.psi_alert),
        "recent_shares": dict(zip(classes, recent)),
        "reference_shares": dict(reference.shares),
    }


def _value_drift(
    manifest: Manifest, predicted_values: Sequence[float] | np.ndarray, thresholds: Thresholds
) -> dict[str, Any] | None:
    """A regressor's predicted values against those on the held-out split: PSI and KS, as for an input."""
    reference = manifest.drift_reference.predictions
    if reference is None or reference.values is None:
        return None
    column = _number_drift(
        "predicted value", np.asarray(predicted_values, dtype=np.float64), reference.values, thresholds
    )
    return {
        "psi": column.psi,
        "ks": column.ks,
        "status": column.status,
        "rows": column.rows,
        "reasons": column.reasons,
    }
