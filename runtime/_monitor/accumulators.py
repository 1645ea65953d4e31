"""Fixed-size accumulators for drift: a window of any length is folded in chunk by chunk, and what is
kept depends on the reference (its bins, categories and quantiles), never on the number of rows.

Per number column (and a regressor's predicted values), :class:`NumberAccumulator` keeps

- the rows and the missing (NaN) values seen;
- counts per reference bin, counted as :func:`runtime._evidence.bin_shares` counts (PSI is exact);
- a :class:`KsGrid`: counts on a fine grid over the reference quantiles, from which the KS statistic
  is computed to within :data:`KS_ERROR_BOUND` of the exact :func:`runtime._monitor.drift.ks_statistic`.

Per category column, :class:`CategoryAccumulator` keeps counts per known category, the number of
unknown ones (exact) and a Misra-Gries summary of at most :data:`UNKNOWN_EXAMPLES_KEPT` unknown values,
from which the most frequent are named. Predicted classes are counted by :class:`LabelAccumulator`.
:class:`DriftAccumulator` holds one of each per column of a manifest.

The KS grid and its bound
-------------------------
The reference CDF F is linear between its quantiles q_0 <= ... <= q_Q (probabilities 0, 1/Q, ..., 1),
0 below q_0 and 1 above q_Q. The grid holds every quantile and ``K - 1`` evenly spaced points inside
each quantile segment, K = ceil(KS_GRID_CELLS / Q) (50 for the 101 quantiles a bundle records), so each
open cell between neighbouring grid points lies inside one segment and carries reference mass at most
1 / (Q K) <= 1 / KS_GRID_CELLS. Values are counted exactly on a grid point (``at_points``) or strictly
inside a cell (``between``; cell 0 is below the grid, the last one above it, where F is 0 or 1).

The exact statistic (as scipy's ``kstest`` computes it) is the largest of ``i/n - F(x_i)`` and
``F(x_i) - (i-1)/n`` over the sorted sample. For values on a grid point both are known exactly from
the counts. For a cell holding values, the counts give the ranks of its first and last value, and F
within the cell lies between its values at the cell's ends, so the cell's contribution is known to
within the cell's reference mass. The largest lower and upper bounds bracket the exact statistic in
an interval no wider than 1 / KS_GRID_CELLS, and :meth:`KsGrid.statistic` returns its midpoint:

    |KsGrid.statistic() - ks_statistic(values, quantiles)| <= KS_ERROR_BOUND = 1 / (2 KS_GRID_CELLS)

(1e-4, against sampling noise of 1.36 / sqrt(n) = 0.004 at n = 100,000; discrete values that all lie
on grid points give the exact statistic). ``tests/runtime/test_drift_streaming.py`` checks the bound
against the exact statistic on samples of several shapes.

Memory: about 3 x KS_GRID_CELLS numbers per number column (120 kB), whatever the window's length.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._contract import MISSING_CATEGORY
from .._evidence import CategoryReference, NumberReference
from .._manifest import Manifest

__all__ = [
    "KS_ERROR_BOUND",
    "KS_GRID_CELLS",
    "UNKNOWN_EXAMPLES_KEPT",
    "CategoryAccumulator",
    "ColumnAccumulator",
    "DriftAccumulator",
    "KsGrid",
    "LabelAccumulator",
    "NumberAccumulator",
]

# At least this many cells of equal reference mass between the lowest and highest quantile.
KS_GRID_CELLS = 5000
KS_ERROR_BOUND = 1.0 / (2 * KS_GRID_CELLS)
# Distinct unknown categories tracked per column (Misra-Gries): any value more frequent than
# 1 / (UNKNOWN_EXAMPLES_KEPT + 1) of the unknowns is always among them; the reports name the top 5.
UNKNOWN_EXAMPLES_KEPT = 100


def _counts(indices: np.ndarray, size: int) -> np.ndarray:
    counts: np.ndarray = np.bincount(indices, minlength=size).astype(np.int64, copy=False)
    return counts


class KsGrid:
    """Counts of values on a fine grid over the reference quantiles, for the KS statistic (see the
    module's docstring for the grid and its error bound).

    Examples
    --------
    >>> grid = KsGrid([0.0, 1.0])
    >>> grid.add(np.array([0.25, 0.5, 0.75]))
    >>> abs(grid.statistic() - 0.25) <= KS_ERROR_BOUND
    True
    """

    def __init__(self, quantiles: Sequence[float]) -> None:
        points = np.asarray(quantiles, dtype=np.float64)
        probabilities = np.linspace(0.0, 1.0, len(points))
        segments = len(points) - 1
        pieces = [points]
        if segments > 0:
            per_segment = math.ceil(KS_GRID_CELLS / segments)
            steps = np.arange(1, per_segment, dtype=np.float64) / per_segment
            low, high = points[:-1, None], points[1:, None]
            pieces.append(np.clip(low + (high - low) * steps[None, :], low, high).ravel())
        self.points: np.ndarray = np.unique(np.concatenate(pieces))
        # F at each grid point as drift.reference_cdf evaluates it (np.interp: at a repeated quantile,
        # a point mass, the value after the jump) and F's limit from the left (before the jump).
        self.cdf_at: np.ndarray = np.interp(self.points, points, probabilities, left=0.0, right=1.0)
        self.cdf_before: np.ndarray = np.interp(-self.points, -points[::-1], probabilities[::-1], left=1.0, right=0.0)
        size = len(self.points)
        self.at_points = np.zeros(size, dtype=np.int64)
        self.between = np.zeros(size + 1, dtype=np.int64)  # below the grid, the cells, above it

    @property
    def count(self) -> int:
        return int(self.at_points.sum() + self.between.sum())

    def add(self, values: np.ndarray) -> None:
        """Count present (non-NaN) values."""
        size = len(self.points)
        position = np.searchsorted(self.points, values, side="left")
        on_point = position < size
        on_point[on_point] = self.points[position[on_point]] == values[on_point]
        self.at_points += _counts(position[on_point], size)
        self.between += _counts(position[~on_point], size + 1)

    def bounds(self) -> tuple[float, float]:
        """The lower and upper bound of the exact KS statistic of the values counted (0, 0 for none)."""
        n = self.count
        if n == 0:
            return 0.0, 0.0
        # groups in value order: cell 0, point 0, cell 1, point 1, ..., point m-1, cell m
        counts = np.empty(2 * len(self.points) + 1, dtype=np.int64)
        counts[0::2], counts[1::2] = self.between, self.at_points
        after = np.cumsum(counts)
        before = after - counts
        low = np.empty(len(counts))
        high = np.empty(len(counts))
        low[1::2] = high[1::2] = self.cdf_at
        low[0::2] = np.concatenate([[0.0], self.cdf_at])  # F just after the cell's lower end
        high[0::2] = np.concatenate([self.cdf_before, [1.0]])  # F just before its upper end
        occupied = counts > 0
        after_share = after[occupied] / n
        before_share = before[occupied] / n
        low, high = low[occupied], high[occupied]
        # i/n - F(x_i) is largest at a group's last value, F(x_i) - (i-1)/n at its first
        lower = max(float((after_share - high).max()), float((low - before_share).max()))
        upper = max(float((after_share - low).max()), float((high - before_share).max()))
        return lower, upper

    def statistic(self) -> float:
        """The KS statistic, within ``KS_ERROR_BOUND`` of the exact one."""
        lower, upper = self.bounds()
        return (lower + upper) / 2


class NumberAccumulator:
    """Rows, missing values, reference-bin counts and the KS grid of one number column."""

    kind = "number"

    def __init__(self, reference: NumberReference) -> None:
        self.reference = reference
        self.rows = 0
        self.missing = 0
        self._edges = np.asarray(reference.bin_edges, dtype=np.float64)
        self.bin_counts = np.zeros(len(self._edges) + 1, dtype=np.int64)
        self.grid = KsGrid(reference.quantiles) if reference.quantiles else None

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def add(self, values: np.ndarray | Sequence[float]) -> None:
        """Fold in a chunk of values (NaN for missing)."""
        numbers = np.asarray(values, dtype=np.float64)
        missing = np.isnan(numbers)
        present = numbers[~missing]
        self.rows += len(numbers)
        self.missing += int(missing.sum())
        # [lower, upper) bins as bin_shares counts them, so a value on an edge lands where training's did
        self.bin_counts += _counts(np.searchsorted(self._edges, present, side="right"), len(self.bin_counts))
        if self.grid is not None:
            self.grid.add(present)

    def bin_shares(self) -> np.ndarray:
        """The share of the present values in each reference bin (as ``bin_shares`` of all of them)."""
        shares: np.ndarray = self.bin_counts / max(1, self.present)
        return shares

    def ks(self) -> float:
        return self.grid.statistic() if self.grid is not None else 0.0


def _is_missing_category(value: Any) -> bool:
    return value is None or value == MISSING_CATEGORY or (isinstance(value, float) and math.isnan(value))


class CategoryAccumulator:
    """Rows, missing values, counts per known category and of unknown ones, for one category column."""

    kind = "category"

    def __init__(self, reference: CategoryReference, *, examples_kept: int = UNKNOWN_EXAMPLES_KEPT) -> None:
        self.reference = reference
        self.rows = 0
        self.missing = 0
        self.known: dict[str, int] = dict.fromkeys(reference.shares, 0)
        self.unknown = 0
        # a Misra-Gries summary: counts of the unknown values seen, never more than examples_kept of
        # them; exact until then, and each an undercount by at most unknown / (examples_kept + 1) after
        self.unknown_counts: dict[str, int] = {}
        self._examples_kept = examples_kept

    @property
    def present(self) -> int:
        return self.rows - self.missing

    def add(self, values: np.ndarray | Sequence[Any]) -> None:
        """Fold in a chunk of values (missing as None, ``MISSING_CATEGORY`` or NaN)."""
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        self.rows += len(items)
        for value, count in Counter(items).items():  # first-seen order, as the examples' ties are broken
            if _is_missing_category(value):
                self.missing += count
                continue
            key = str(value)
            if key in self.known:
                self.known[key] += count
            else:
                self.unknown += count
                self.unknown_counts[key] = self.unknown_counts.get(key, 0) + count
        if len(self.unknown_counts) > self._examples_kept:
            cut = sorted(self.unknown_counts.values(), reverse=True)[self._examples_kept]
            self.unknown_counts = {key: n - cut for key, n in self.unknown_counts.items() if n > cut}

    def unknown_examples(self, limit: int = 5) -> list[str]:
        """The most frequent unknown values, most frequent first (ties: the first seen first)."""
        return sorted(self.unknown_counts, key=lambda key: -self.unknown_counts[key])[:limit]

    def shares(self) -> tuple[list[float], float]:
        """The share of each known category among the present values, and of the unknown ones."""
        total = max(1, self.present)
        return [count / total for count in self.known.values()], self.unknown / total


ColumnAccumulator = NumberAccumulator | CategoryAccumulator


class LabelAccumulator:
    """Predicted labels counted per class of the reference (as text); ``total`` counts all of them."""

    def __init__(self, classes: Iterable[str]) -> None:
        self.counts: dict[str, int] = dict.fromkeys(classes, 0)
        self.total = 0

    def add(self, labels: np.ndarray | Sequence[Any]) -> None:
        items = labels.tolist() if isinstance(labels, np.ndarray) else list(labels)
        self.total += len(items)
        for label, count in Counter(items).items():
            key = str(label)
            if key in self.counts:
                self.counts[key] += count


class DriftAccumulator:
    """Everything a drift report over a window needs, per column of ``manifest`` with a reference
    (all of them, or those in ``columns``) and for the predictions.

    Examples
    --------
    >>> accumulator = DriftAccumulator(manifest)  # doctest: +SKIP
    >>> for chunk in chunks:  # one array per column each  # doctest: +SKIP
    ...     accumulator.add(chunk)
    >>> drift_report_from(accumulator).status  # doctest: +SKIP
    'ok'
    """

    def __init__(self, manifest: Manifest, *, columns: Iterable[str] | None = None) -> None:
        self.manifest = manifest
        reference = manifest.drift_reference.columns
        wanted = None if columns is None else set(columns)
        self.columns: dict[str, ColumnAccumulator] = {}
        self._number_columns: set[str] = set()
        for spec in manifest.inputs:
            column_reference = reference.get(spec.name)
            if column_reference is None or (wanted is not None and spec.name not in wanted):
                continue
            if spec.kind == "number":
                self._number_columns.add(spec.name)
            self.columns[spec.name] = (
                NumberAccumulator(column_reference)
                if isinstance(column_reference, NumberReference)
                else CategoryAccumulator(column_reference)
            )
        self.rows = 0
        predictions = manifest.drift_reference.predictions
        self.labels = LabelAccumulator(predictions.shares if predictions and predictions.shares else ())
        self.value_rows = 0
        self.values = NumberAccumulator(predictions.values) if predictions is not None and predictions.values else None

    def add(
        self,
        columns: Mapping[str, np.ndarray | Sequence[Any]],
        *,
        predicted_labels: np.ndarray | Sequence[Any] | None = None,
        predicted_values: np.ndarray | Sequence[float] | None = None,
    ) -> None:
        """Fold in a chunk: one array per column (missing as NaN / None / ""), and the predictions
        made for those rows (a classifier's labels or a regressor's values), if any."""
        rows = 0
        for name, accumulator in self.columns.items():
            if name not in columns:
                continue
            values = np.asarray(columns[name], dtype=np.float64 if name in self._number_columns else object)
            rows = max(rows, len(values))
            accumulator.add(values)
        self.rows += rows
        if predicted_labels is not None:
            self.labels.add(predicted_labels)
        if predicted_values is not None:
            values = np.asarray(predicted_values, dtype=np.float64)
            self.value_rows += len(values)
            if self.values is not None:
                self.values.add(values)
