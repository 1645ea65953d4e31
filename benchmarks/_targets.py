"""The issue's performance targets, in one table, and how a measured ratio is judged against them.

Each target names a ratio key of the run's ``ratios`` (a :func:`benchmarks._stats.ratio_spread`
dict), a bound and a direction. The verdict is taken on the median across rounds; the number of
rounds that meet the bound on their own is reported beside it, so a verdict that rests on noise shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from export._format import format_ratio

__all__ = ["TARGETS", "evaluate_target", "evaluate_targets"]

TARGETS: list[dict[str, Any]] = [
    {
        "name": "single record p50: runtime at least 300× faster than scikit-learn",
        "key": "latency_p50_runtime_over_sklearn",
        "bound": 1 / 300,
        "direction": "<=",
    },
    {
        "name": "single record p50: runtime at most 1.25× bare InferenceSession.run",
        "key": "latency_p50_runtime_over_bare",
        "bound": 1.25,
        "direction": "<=",
    },
    {
        "name": "single record: runtime p99 at most 3× its p50",
        "key": "latency_runtime_p99_over_p50",
        "bound": 3.0,
        "direction": "<=",
    },
    {
        "name": "10,000-row batch, 1 thread: runtime throughput ≥ scikit-learn's",
        "key": "throughput_10000_rows_1_thread_runtime_over_sklearn",
        "bound": 1.0,
        "direction": ">=",
    },
    {
        "name": "10,000-row batch, all cores: runtime throughput ≥ scikit-learn's",
        "key": "throughput_10000_rows_all_cores_runtime_over_sklearn",
        "bound": 1.0,
        "direction": ">=",
    },
    {
        "name": "peak RSS: runtime process at most 0.4× the scikit-learn process",
        "key": "peak_rss_runtime_over_sklearn",
        "bound": 0.4,
        "direction": "<=",
    },
    {
        "name": "cold start to first prediction: runtime at most 0.2× scikit-learn",
        "key": "cold_start_runtime_over_sklearn",
        "bound": 0.2,
        "direction": "<=",
    },
]


def _meets(value: float, bound: float, direction: str) -> bool:
    return value <= bound if direction == "<=" else value >= bound


def evaluate_target(target: Mapping[str, Any], measured: Mapping[str, Any] | None) -> dict[str, Any]:
    """Judge one target against a measured ratio spread (``None`` when it was not measured).

    ``factor`` is how far the median is from the bound in the bad direction: above 1 the target is
    missed by that factor (``measured / bound`` for an upper bound, ``bound / measured`` for a lower
    bound); at or below 1 it is met, with ``1 / factor`` to spare.

    >>> evaluate_target({"name": "t", "key": "k", "bound": 1.25, "direction": "<="},
    ...                 {"median": 1.5, "min": 1.4, "max": 1.6, "values": [1.4, 1.5, 1.6]})["verdict"]
    'missed by 1.20× (measured 1.5, needs ≤ 1.25)'
    """
    direction = target["direction"]
    if direction not in ("<=", ">="):
        raise ValueError(f"target {target['name']!r} has direction {direction!r}, must be '<=' or '>='")
    bound = float(target["bound"])
    result: dict[str, Any] = {
        "name": target["name"],
        "key": target["key"],
        "bound": bound,
        "direction": direction,
        "measured": None,
        "min": None,
        "max": None,
        "met": None,
        "factor": None,
        "rounds_met": None,
        "rounds": None,
        "verdict": "not measured",
    }
    if measured is None:
        return result
    median = float(measured["median"])
    values = [float(v) for v in measured.get("values", [])]
    factor = median / bound if direction == "<=" else bound / median
    met = _meets(median, bound, direction)
    needs = f"needs {'≤' if direction == '<=' else '≥'} {format_ratio(bound)}"
    if met:
        verdict = f"met with {1 / factor:.2f}× to spare (measured {format_ratio(median)}, {needs})"
    else:
        verdict = f"missed by {factor:.2f}× (measured {format_ratio(median)}, {needs})"
    result.update(
        measured=median,
        min=float(measured["min"]),
        max=float(measured["max"]),
        met=met,
        factor=factor,
        rounds_met=sum(_meets(v, bound, direction) for v in values),
        rounds=len(values),
        verdict=verdict,
    )
    return result


def evaluate_targets(
    ratios: Mapping[str, Mapping[str, Any]], targets: Sequence[Mapping[str, Any]] = TARGETS
) -> list[dict[str, Any]]:
    """:func:`evaluate_target` for every target, looking its key up in ``ratios``."""
    return [evaluate_target(target, ratios.get(target["key"])) for target in targets]
