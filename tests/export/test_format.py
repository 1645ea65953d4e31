"""How numbers are written for people: one formatter for the documents and the benchmark report."""

from __future__ import annotations

import math

import pytest

from export._format import format_bytes, format_number, format_ratio, format_seconds, format_value


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, 4, "n/a"),
        (math.nan, 4, "n/a"),
        (True, 4, "True"),
        (2000, 4, "2,000"),
        (0.94451, 4, "0.9445"),
        (0.25, 4, "0.25"),
        (18.2, 3, "18.2"),
        (19.0, 3, "19"),
        (999.4, 3, "999"),
        (23530.9, 3, "23,531"),
        (1.1102230246251565e-15, 3, "1.11e-15"),
        (1e-9, 3, "1e-09"),
        (0.0, 3, "0"),
        ("RandomForestClassifier", 4, "RandomForestClassifier"),
    ],
)
def test_format_number(value, digits, text):
    assert format_number(value, digits) == text


def test_the_figures_of_the_benchmark_report():
    assert [format_value(v) for v in (0.012345, 1.0, 21.04, 999.4, 23530.9)] == ["0.0123", "1", "21", "999", "23,531"]
    assert [format_seconds(s) for s in (2.5e-5, 0.187, 1.2)] == ["25 µs", "187 ms", "1.2 s"]
    assert [format_ratio(r) for r in (1 / 357, 0.4123, None, -1.0)] == ["1/357", "0.412", "n/a", "n/a"]


@pytest.mark.parametrize(
    ("size", "text"), [(680_443, "680.44 kB"), (4_312_115, "4.31 MB"), (1_000_000, "1.00 MB"), (None, "n/a")]
)
def test_sizes_are_si(size, text):
    # the shipped model.onnx is 680,443 bytes: the documents used to call that "664.5 KB" (KiB)
    assert format_bytes(size) == text
