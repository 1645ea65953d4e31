"""Split thresholds moved from the model's input back to the raw column: the exact float64 fold.

A tree of scikit-learn compares ``g(x) <= t`` where ``x`` is the raw number, ``g`` the column's
preprocessing as scikit-learn computes it (for a StandardScaler ``(x - mean) / scale`` in float64,
then the tree's cast to float32) and ``t`` the split's float64 threshold. ``g`` is monotone
non-decreasing (every step is an affine map with a positive slope, and IEEE rounding is monotone),
so the raw values that go left are exactly ``x <= x*`` for one float64 ``x*``: the largest ``x``
with ``g(x) <= t``. It is found here by a binary search over the float64 values themselves
(ordered by their bit patterns), for every threshold of a column at once, and then checked: ``x*``
passes and the next float64 above it fails, both evaluated by the real fitted preprocessing.

The naive fold ``x <= mean + t * scale`` is wrong: about half of scikit-learn's thresholds are
exact float32 values, and data on a decimal grid hits them, so rows on the boundary take the other
branch. :func:`naive_raw_thresholds` is that fold, kept only so a test can prove the parity proof
catches it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._errors import ConversionError

__all__ = ["ColumnMap", "naive_raw_thresholds", "raw_thresholds"]

# raw float64 column values -> the values the trees compare with their thresholds (float64 array)
ColumnMap = Callable[[np.ndarray], np.ndarray]

_SIGN = np.uint64(1 << 63)
_LARGEST = np.finfo(np.float64).max


def _ordered(values: np.ndarray) -> np.ndarray:
    """float64 -> uint64 keys in the same order as the values (-0.0 just below +0.0)."""
    bits = values.astype(np.float64).view(np.uint64)
    negative = (bits & _SIGN) != 0
    return np.where(negative, ~bits, bits | _SIGN)


def _from_ordered(keys: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_ordered`."""
    positive = (keys & _SIGN) != 0
    bits = np.where(positive, keys & ~_SIGN, ~keys)
    values: np.ndarray = bits.view(np.float64)
    return values


def raw_thresholds(column_map: ColumnMap, thresholds: np.ndarray) -> np.ndarray:
    """For each threshold ``t``, the largest finite float64 ``x`` with ``column_map(x) <= t``.

    ``-inf`` where no finite ``x`` passes (every row goes right). Raises ConversionError if the
    check after the search fails, which means ``column_map`` is not monotone.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    n = len(thresholds)
    if not n:
        return np.empty(0)
    low = np.full(n, -_LARGEST)
    high = np.full(n, _LARGEST)
    none_pass = ~(column_map(low) <= thresholds)
    all_pass = column_map(high) <= thresholds
    # invariant: column_map(low) <= t < column_map(high), searched on the ordered keys
    low_key, high_key = _ordered(low), _ordered(high)
    searching = ~none_pass & ~all_pass
    while True:
        open_gap = searching & (high_key - low_key > np.uint64(1))
        if not open_gap.any():
            break
        middle_key = low_key + (high_key - low_key) // np.uint64(2)
        passes = column_map(_from_ordered(middle_key)) <= thresholds
        low_key = np.where(open_gap & passes, middle_key, low_key)
        high_key = np.where(open_gap & ~passes, middle_key, high_key)
    found = _from_ordered(low_key)
    found[all_pass] = _LARGEST
    found[none_pass] = -np.inf
    _check(column_map, thresholds, found)
    return found


def _check(column_map: ColumnMap, thresholds: np.ndarray, found: np.ndarray) -> None:
    """x* passes and the next float64 above it fails, by the real preprocessing."""
    finite = np.isfinite(found)
    passes = column_map(np.where(finite, found, 0.0)) <= thresholds
    above = np.nextafter(found, np.inf)
    fails = ~(column_map(np.where(np.isfinite(above), above, 0.0)) <= thresholds)
    good = (passes | ~finite) & (fails | ~np.isfinite(above))
    if not good.all():
        bad = int(np.flatnonzero(~good)[0])
        raise ConversionError(
            f"folding threshold {thresholds[bad]!r} into the raw column failed its check at {found[bad]!r}: "
            "the column's preprocessing is not monotone"
        )


def naive_raw_thresholds(mean: np.ndarray | float, scale: np.ndarray | float, thresholds: np.ndarray) -> np.ndarray:
    """``mean + t * scale``: the WRONG fold, for the test that proves the parity proof catches it."""
    return np.asarray(mean + np.asarray(thresholds, dtype=np.float64) * scale, dtype=np.float64)
