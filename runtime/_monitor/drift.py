"""Data drift against the training reference stored in the bundle, with numpy only.

Per number column: PSI over the reference's equal-frequency bins, and the Kolmogorov–Smirnov
statistic against the reference's empirical CDF (rebuilt from its 101 quantiles, linear between
them). Per category column: PSI over the categories plus an "unknown" bucket, and the share of
unknown categories. Every column: the missing-value rate against training. Predictions: PSI of the
predicted class shares against those on the held-out split (a classifier), or PSI and KS of the
predicted values (a regressor).

A window is counted into the fixed-size accumulators of :mod:`.accumulators` (one pass, in chunks,
memory independent of its length) and judged from those counts: PSI, shares and missing rates are
exactly those of the whole window; the KS statistic is within ``KS_ERROR_BOUND`` (1e-4) of
:func:`ks_statistic` over all of its values.

Thresholds (defaults, all configurable through :class:`Thresholds`):

- PSI: below 0.1 ok, 0.1 to 0.25 warn, 0.25 and above alert (the usual reading: stable /
  moderate / significant shift).
- KS statistic: 0.1 warn, 0.2 alert. Sampling noise alone stays near 1.36/sqrt(n) at the 95th
  percentile: 0.06 at n = 500, 0.02 at n = 5,000.
- Missing rate: warn when it exceeds training's by 5 percentage points, alert at 10.
- Unknown categories: warn above 0 % (any), alert at 1 % of the window.
- Sample size: a column is judged only from ``min_rows`` (300) rows on; below that its status is
  "insufficient data" and nothing about it is computed (a gauge or a script could not mistake
  the PSI of six rows for a shift). PSI and KS (and the unknown share) need ``min_rows`` present
  values as well; a column with enough rows but fewer values is judged on its missing rate only.

Why 300: windows drawn from the training distribution itself (the shipped bundle's reference, 7
columns, 2,000 windows each) warn somewhere in 96 % of windows of 100 rows (5 % alert), 26 % at
200, 3.5 % at 300 (none alerts), 0.4 % at 400. Per column, the 95th percentile of sampling noise
alone is below the warning thresholds from about 185 rows (KS, 1.36/sqrt(n) < 0.1) and 170 (PSI
over 10 bins, chi2_9's 16.9 / n < 0.1); 300 keeps the chance that one of several columns warns on
noise alone at a few percent, while a line making one part a minute fills it in five hours.

A column's status is the worst of its checks; the report's status the worst of all, "insufficient
data" only when nothing could be judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from .._evidence import bin_shares
from .._manifest import Manifest
from .accumulators import CategoryAccumulator, DriftAccumulator, LabelAccumulator, NumberAccumulator

__all__ = [
    "INSUFFICIENT",
    "MIN_ROWS",
    "ColumnDrift",
    "DriftReport",
    "Thresholds",
    "bin_shares",
    "drift_report",
    "drift_report_from",
    "ks_statistic",
    "psi",
    "worst",
]

Status = Literal["insufficient data", "ok", "warn", "alert"]
INSUFFICIENT: Status = "insufficient data"
# "insufficient data" is below ok: a judged column outweighs one that could not be judged
_ORDER = {INSUFFICIENT: -1, "ok": 0, "warn": 1, "alert": 2}
# The fewest rows (and present values) a column is judged from; see the module's docstring for why.
MIN_ROWS = 300
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
    # a column with fewer rows is "insufficient data", never ok, warn or alert (see the module docstring)
    min_rows: int = MIN_ROWS


def _grade(value: float, warn: float, alert: float, *, strictly_above_warn: bool = False) -> Status:
    if value >= alert:
        return "alert"
    if value > warn if strictly_above_warn else value >= warn:
        return "warn"
    return "ok"


def worst(statuses: Sequence[Status]) -> Status:
    """The most severe of the statuses (insufficient data < ok < warn < alert)."""
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
    name: str,
    kind: str,
    counted: NumberAccumulator | CategoryAccumulator,
    thresholds: Thresholds,
) -> tuple[ColumnDrift, list[Status], bool]:
    """A column's report with its missing-rate check done, and whether its distribution can be judged
    (``min_rows`` present values); a column of fewer than ``min_rows`` rows is not judged at all."""
    rows, minimum = counted.rows, thresholds.min_rows
    column = ColumnDrift(
        name,
        kind,
        INSUFFICIENT,
        rows,
        missing_rate=counted.missing / rows if rows else 0.0,
        reference_missing_rate=counted.reference.missing_rate,
    )
    if rows < minimum:
        column.reasons.append(f"only {rows:,} rows; at least {minimum:,} are needed to judge a column (min_rows)")
        return column, [INSUFFICIENT], False
    statuses = [_missing_status(column, thresholds)]
    if counted.present < minimum:
        column.reasons.append(
            f"distribution not judged: only {counted.present:,} of the {rows:,} rows have a value, "
            f"at least {minimum:,} are needed (min_rows)"
        )
        return column, statuses, False
    return column, statuses, True


def _check(column: ColumnDrift, label: str, value: float, warn: float, alert: float) -> Status:
    """Grade one statistic and record why when it is not ok."""
    status = _grade(value, warn, alert)
    if status != "ok":
        column.reasons.append(f"{label} {value:.3f} (warn at {warn}, alert at {alert})")
    return status


def _number_drift(name: str, counted: NumberAccumulator, thresholds: Thresholds) -> ColumnDrift:
    reference = counted.reference
    column, statuses, judged = _start(name, "number", counted, thresholds)
    if judged and reference.quantiles:
        column.psi = psi(reference.bin_shares, counted.bin_shares())
        column.ks = counted.ks()
        statuses.append(_check(column, "PSI", column.psi, thresholds.psi_warn, thresholds.psi_alert))
        statuses.append(_check(column, "KS", column.ks, thresholds.ks_warn, thresholds.ks_alert))
    column.status = worst(statuses)
    return column


def _category_drift(name: str, counted: CategoryAccumulator, thresholds: Thresholds) -> ColumnDrift:
    reference = counted.reference
    column, statuses, judged = _start(name, "category", counted, thresholds)
    if judged:
        recent, unknown_share = counted.shares()
        column.unknown_rate = unknown_share
        column.unknown_examples = counted.unknown_examples()
        column.psi = psi([*reference.shares.values(), 0.0], [*recent, unknown_share])
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
    and the recent predictions (a classifier's labels or a regressor's values) with the held-out ones.

    The arrays are counted as one chunk of a :class:`DriftAccumulator`; a window too large for memory is
    folded into one chunk by chunk and judged with :func:`drift_report_from`, with the same result.
    """
    accumulator = DriftAccumulator(manifest, columns=columns.keys())
    accumulator.add(columns, predicted_labels=predicted_labels, predicted_values=predicted_values)
    return drift_report_from(accumulator, thresholds=thresholds)


def drift_report_from(accumulator: DriftAccumulator, *, thresholds: Thresholds | None = None) -> DriftReport:
    """The drift report over everything ``accumulator`` counted."""
    thresholds = thresholds or Thresholds()
    manifest = accumulator.manifest
    results: dict[str, ColumnDrift] = {}
    for name, counted in accumulator.columns.items():
        if isinstance(counted, NumberAccumulator):
            results[name] = _number_drift(name, counted, thresholds)
        else:
            results[name] = _category_drift(name, counted, thresholds)
    statuses = [column.status for column in results.values()]
    predictions: dict[str, Any] | None = None
    if accumulator.labels.total:
        predictions = _label_drift(manifest, accumulator.labels, thresholds)
    elif accumulator.value_rows:
        predictions = _value_drift(accumulator.values, thresholds)
    if predictions is not None:
        statuses.append(predictions["status"])
    return DriftReport(
        manifest.name, manifest.version, accumulator.rows, worst(statuses), results, predictions, thresholds
    )


def _label_drift(manifest: Manifest, counted: LabelAccumulator, thresholds: Thresholds) -> dict[str, Any] | None:
    """PSI of the predicted class shares against those on the held-out split."""
    reference = manifest.drift_reference.predictions
    if reference is None or reference.shares is None:
        return None
    classes = list(reference.shares)
    recent = [counted.counts[c] / counted.total for c in classes]
    enough = counted.total >= thresholds.min_rows
    value = psi([reference.shares[c] for c in classes], recent) if enough else None
    return {
        "psi": value,
        "status": _grade(value, thresholds.psi_warn, thresholds.psi_alert) if value is not None else INSUFFICIENT,
        "recent_shares": dict(zip(classes, recent)),
        "reference_shares": dict(reference.shares),
    }


def _value_drift(counted: NumberAccumulator | None, thresholds: Thresholds) -> dict[str, Any] | None:
    """A regressor's predicted values against those on the held-out split: PSI and KS, as for an input."""
    if counted is None:  # the manifest records no held-out predicted values
        return None
    column = _number_drift("predicted value", counted, thresholds)
    return {
        "psi": column.psi,
        "ks": column.ks,
        "status": column.status,
        "rows": column.rows,
        "reasons": column.reasons,
    }
