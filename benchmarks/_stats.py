"""Summaries of timings and ratios across rounds: pure functions, no clocks.

Every figure the report states is computed here from lists of raw values, so the arithmetic can be
tested on fixed arrays without timing anything.

>>> summarize([1.0, 2.0, 3.0, 4.0])["p50"]
2.5
>>> ratio_spread([2.0, 3.0, 5.0], [4.0, 4.0, 4.0])["median"]
0.75
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "CDF_PERCENTS",
    "cdf_points",
    "percentile",
    "ratio_spread",
    "rows_per_second",
    "spread",
    "summarize",
]

# Percentiles kept for the latency CDF: every whole percent plus the far tail, so a chart can be
# redrawn from the JSON alone without storing every call.
CDF_PERCENTS: tuple[float, ...] = (*(float(p) for p in range(100)), 99.5, 99.9, 100.0)


def percentile(values: Sequence[float] | np.ndarray, percent: float) -> float:
    """The ``percent``-th percentile with linear interpolation between samples (numpy's default).

    >>> percentile([10, 20, 30, 40, 50], 90)
    46.0
    """
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        raise ValueError("percentile of no values: at least one value is needed")
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"percent == {percent!r}, must be within [0, 100]")
    return float(np.percentile(array, percent))


def summarize(values: Sequence[float] | np.ndarray, scale: float = 1.0) -> dict[str, Any]:
    """Count, mean, min, p50, p90, p99 and max of ``values``, each multiplied by ``scale``.

    ``scale`` converts units once, e.g. ``1e-3`` turns nanoseconds into microseconds.
    """
    array = np.asarray(values, dtype=np.float64) * scale
    if array.size == 0:
        raise ValueError("summary of no values: at least one value is needed")
    return {
        "count": int(array.size),
        "mean": float(array.mean()),
        "min": float(array.min()),
        "p50": percentile(array, 50),
        "p90": percentile(array, 90),
        "p99": percentile(array, 99),
        "max": float(array.max()),
    }


def cdf_points(values: Sequence[float] | np.ndarray, scale: float = 1.0) -> dict[str, list[float]]:
    """The percentiles in :data:`CDF_PERCENTS` of ``values`` (times ``scale``), for a CDF chart."""
    array = np.asarray(values, dtype=np.float64) * scale
    if array.size == 0:
        raise ValueError("CDF of no values: at least one value is needed")
    return {"percent": list(CDF_PERCENTS), "value": [float(v) for v in np.percentile(array, CDF_PERCENTS)]}


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of per-round values, and the values themselves in round order.

    >>> spread([3.0, 1.0, 2.0])
    {'median': 2.0, 'min': 1.0, 'max': 3.0, 'values': [3.0, 1.0, 2.0]}
    """
    numbers = [float(v) for v in values]
    if not numbers:
        raise ValueError("spread of no values: at least one round is needed")
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"spread of non-finite values {numbers!r}")
    return {
        "median": float(np.median(numbers)),
        "min": min(numbers),
        "max": max(numbers),
        "values": numbers,
    }


def ratio_spread(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """Per-round ratios ``numerators[i] / denominators[i]``, summarized by :func:`spread`.

    Ratios are taken within a round first, so noise that slows a whole round cancels out; the
    median of those ratios is the headline figure and the min–max shows how much rounds disagree.
    """
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators but {len(denominators)} denominators: pair them by round")
    if any(float(d) <= 0.0 for d in denominators):
        raise ValueError(f"denominators must be > 0, got {list(denominators)!r}")
    return spread([float(n) / float(d) for n, d in zip(numerators, denominators)])


def rows_per_second(rows: int, seconds: float) -> float:
    """Throughput of a batch of ``rows`` that took ``seconds``.

    >>> rows_per_second(10_000, 0.5)
    20000.0
    """
    if seconds <= 0.0:
        raise ValueError(f"seconds == {seconds!r}, must be > 0")
    return rows / seconds
