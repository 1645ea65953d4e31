"""Percentiles, summaries and per-round ratio spreads on fixed arrays with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip(
    "benchmarks",
    reason='benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"',
)

from benchmarks._stats import CDF_PERCENTS, cdf_points, percentile, ratio_spread, rows_per_second, spread, summarize  # noqa: E402


def test_summary_of_1_to_100_has_the_textbook_percentiles():
    summary = summarize(np.arange(1, 101))
    assert summary == {
        "count": 100,
        "mean": 50.5,
        "min": 1.0,
        "p50": 50.5,
        "p90": pytest.approx(90.1),
        "p99": pytest.approx(99.01),
        "max": 100.0,
    }


def test_summary_scales_nanoseconds_to_microseconds():
    summary = summarize([1000, 2000, 3000, 4000, 100_000], scale=1e-3)
    assert summary["p50"] == 3.0
    assert summary["max"] == 100.0
    assert summary["mean"] == pytest.approx(22.0)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([10, 20, 30, 40, 50], 90, 46.0),
        ([10, 20, 30, 40, 50], 50, 30.0),
        ([10, 20, 30, 40, 50], 0, 10.0),
        ([10, 20, 30, 40, 50], 100, 50.0),
        ([7.5], 99, 7.5),
        ([1, 2], 50, 1.5),
    ],
)
def test_percentile_interpolates_linearly(values, percent, expected):
    assert percentile(values, percent) == expected


@pytest.mark.parametrize(
    ("call", "exception", "message"),
    [
        (lambda: percentile([], 50), ValueError, "percentile of no values: at least one value is needed"),
        (lambda: percentile([1.0], 101), ValueError, "percent == 101, must be within [0, 100]"),
        (lambda: summarize([]), ValueError, "summary of no values: at least one value is needed"),
        (lambda: spread([]), ValueError, "spread of no values: at least one round is needed"),
        (lambda: spread([1.0, math.nan]), ValueError, "spread of non-finite values [1.0, nan]"),
        (lambda: ratio_spread([1.0, 2.0], [1.0]), ValueError, "2 numerators but 1 denominators: pair them by round"),
        (lambda: ratio_spread([1.0], [0.0]), ValueError, "denominators must be > 0, got [0.0]"),
        (lambda: rows_per_second(10, 0.0), ValueError, "seconds == 0.0, must be > 0"),
        (lambda: cdf_points([]), ValueError, "CDF of no values: at least one value is needed"),
    ],
)
def test_invalid_inputs_are_refused_with_a_clear_message(call, exception, message):
    with pytest.raises(exception) as caught:
        call()
    assert str(caught.value) == message


def test_spread_keeps_round_order_and_takes_the_median():
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "values": [3.0, 1.0, 2.0]}
    assert spread([4.0, 1.0, 2.0, 3.0])["median"] == 2.5


def test_ratios_are_taken_within_each_round_before_the_median():
    # round 2 is slow for both paths: its ratio is unaffected, while a ratio of medians would not be
    runtime = [20.0, 40.0, 21.0]
    sklearn = [8000.0, 16000.0, 7000.0]
    result = ratio_spread(runtime, sklearn)
    assert result["values"] == [0.0025, 0.0025, 0.003]
    assert result["median"] == 0.0025
    assert (result["min"], result["max"]) == (0.0025, 0.003)


def test_ratio_spread_of_known_values():
    result = ratio_spread([2.0, 3.0, 5.0], [4.0, 4.0, 4.0])
    assert result == {"median": 0.75, "min": 0.5, "max": 1.25, "values": [0.5, 0.75, 1.25]}


def test_cdf_points_are_the_listed_percentiles():
    points = cdf_points(np.arange(0, 101), scale=2.0)
    assert points["percent"] == list(CDF_PERCENTS)
    assert points["value"][:3] == [0.0, 2.0, 4.0]
    assert points["value"][-3:] == [199.0, pytest.approx(199.8), 200.0]
    assert points["value"] == sorted(points["value"])


def test_rows_per_second():
    assert rows_per_second(10_000, 0.5) == 20_000.0
