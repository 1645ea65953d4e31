"""Targets: met or missed, by how much, and in how many rounds; and every target has a measured key."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "benchmarks",
    reason='benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"',
)

from benchmarks._run import collect_ratios  # noqa: E402
from benchmarks._targets import TARGETS, evaluate_target, evaluate_targets  # noqa: E402


def _target(direction: str, bound: float) -> dict:
    return {"name": "a target", "key": "k", "bound": bound, "direction": direction}


def _measured(median: float, values: list[float]) -> dict:
    return {"median": median, "min": min(values), "max": max(values), "values": values}


@pytest.mark.parametrize(
    ("direction", "bound", "median", "values", "met", "factor", "rounds_met", "verdict"),
    [
        ("<=", 1.25, 1.5, [1.4, 1.5, 1.6], False, 1.2, 0, "missed by 1.20× (measured 1.5, needs ≤ 1.25)"),
        (
            "<=",
            1 / 300,
            1 / 600,
            [1 / 700, 1 / 600, 1 / 250],
            True,
            0.5,
            2,
            "met with 2.00× to spare (measured 1/600, needs ≤ 1/300)",
        ),
        ("<=", 1 / 300, 1 / 150, [1 / 150], False, 2.0, 0, "missed by 2.00× (measured 1/150, needs ≤ 1/300)"),
        ("<=", 0.4, 0.4, [0.39, 0.4, 0.41], True, 1.0, 2, "met with 1.00× to spare (measured 0.4, needs ≤ 0.4)"),
        (">=", 1.0, 0.8, [0.7, 0.8, 1.1], False, 1.25, 1, "missed by 1.25× (measured 0.8, needs ≥ 1)"),
        (">=", 1.0, 1.5, [1.5], True, 1 / 1.5, 1, "met with 1.50× to spare (measured 1.5, needs ≥ 1)"),
        ("<=", 0.2, 0.55, [0.5, 0.55, 0.6], False, 2.75, 0, "missed by 2.75× (measured 0.55, needs ≤ 0.2)"),
    ],
)
def test_verdicts(direction, bound, median, values, met, factor, rounds_met, verdict):
    result = evaluate_target(_target(direction, bound), _measured(median, values))
    assert result["met"] is met
    assert result["factor"] == pytest.approx(factor)
    assert (result["rounds_met"], result["rounds"]) == (rounds_met, len(values))
    assert result["verdict"] == verdict
    assert (result["measured"], result["min"], result["max"]) == (median, min(values), max(values))


def test_a_target_without_a_measurement_is_not_judged():
    result = evaluate_target(_target("<=", 1.0), None)
    assert result["verdict"] == "not measured"
    assert result["met"] is None and result["measured"] is None


def test_a_bad_direction_is_refused():
    with pytest.raises(ValueError, match=r"^target 'a target' has direction '<', must be '<=' or '>='$"):
        evaluate_target(_target("<", 1.0), _measured(1.0, [1.0]))


def test_the_table_holds_the_issue_targets():
    bounds = {t["key"]: (t["direction"], t["bound"]) for t in TARGETS}
    assert bounds == {
        "latency_p50_runtime_over_sklearn": ("<=", pytest.approx(1 / 300)),
        "latency_p50_runtime_over_bare": ("<=", 1.25),
        "latency_runtime_p99_over_p50": ("<=", 3.0),
        "throughput_10000_rows_1_thread_runtime_over_sklearn": (">=", 1.0),
        "throughput_10000_rows_all_cores_runtime_over_sklearn": (">=", 1.0),
        "peak_rss_runtime_over_sklearn": ("<=", 0.4),
        "cold_start_runtime_over_sklearn": ("<=", 0.2),
    }


def test_every_target_key_is_collected_from_a_full_run(results):
    ratios = collect_ratios(results)
    assert {t["key"] for t in TARGETS} <= set(ratios)
    assert all(t["verdict"] != "not measured" for t in evaluate_targets(ratios))


def test_all_cores_equal_to_one_thread_fills_both_keys(results):
    results["batch"]["all_cores"] = 1
    results["batch"]["results"] = [e for e in results["batch"]["results"] if e["threads"] == 1]
    ratios = collect_ratios(results)
    assert (
        ratios["throughput_10000_rows_1_thread_runtime_over_sklearn"]
        is ratios["throughput_10000_rows_all_cores_runtime_over_sklearn"]
    )


def test_missing_sections_leave_targets_unmeasured():
    verdicts = [t["verdict"] for t in evaluate_targets(collect_ratios({}))]
    assert verdicts == ["not measured"] * len(TARGETS)
