"""The Markdown report and benchmark.json, written from a fixed hand-made results dict."""

from __future__ import annotations

import math

import pytest

pytest.importorskip(
    "benchmarks",
    reason='benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"',
)

from benchmarks._report import (  # noqa: E402
    JSON_FILE,
    MARKDOWN_FILE,
    format_spread,
    read_json,
    render_markdown,
    write_json,
    write_report,
)
from benchmarks._targets import TARGETS  # noqa: E402
from export._documents._markup import md_table  # noqa: E402
from export._format import format_ratio, format_seconds, format_value  # noqa: E402


def _table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """The cells of the table whose header row starts with ``header_start``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_markdown_table_aligns_and_escapes():
    assert md_table(["a", "b"], [[1, "x|y"], ["two\nlines", 2.5]], align="lr") == (
        "| a | b |\n|:---|---:|\n| 1 | x\\|y |\n| two lines | 2.5 |"
    )


@pytest.mark.parametrize(
    ("headers", "rows", "align", "message"),
    [
        (["a", "b"], [[1]], None, "row 0 has 1 cells for 2 columns"),
        (["a", "b"], [[1, 2]], "l", "align 'l' has 1 letters for 2 columns"),
    ],
)
def test_markdown_table_refuses_ragged_input(headers, rows, align, message):
    with pytest.raises(ValueError) as caught:
        md_table(headers, rows, align=align)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1 / 400, "1/400"),
        (0.0999, "1/10"),
        (0.1, "0.1"),
        (1.25, "1.25"),
        (12.345, "12.3"),
        (2500.0, "2,500"),
        (None, "n/a"),
        (math.inf, "n/a"),
        (0.0, "n/a"),
    ],
)
def test_format_ratio(value, text):
    assert format_ratio(value) == text


def test_format_value_and_seconds():
    assert [format_value(v) for v in (0.012345, 1.0, 21.04, 999.4, 23530.9)] == ["0.0123", "1", "21", "999", "23,531"]
    assert [format_seconds(s) for s in (2.5e-5, 0.187, 1.2)] == ["25 µs", "187 ms", "1.2 s"]


def test_format_spread():
    assert format_spread({"median": 0.5, "min": 0.4, "max": 0.61, "values": [0.4, 0.5, 0.61]}) == "0.5 (0.4 – 0.61)"
    assert format_spread({"median": 0.5, "min": 0.5, "max": 0.5, "values": [0.5]}) == "0.5"
    assert format_spread(None) == "n/a"


def test_targets_table_has_one_row_per_target_with_its_verdict(results):
    markdown = render_markdown(results)
    rows = _table_rows(markdown, "| Target |")
    assert [row[0] for row in rows] == [t["name"] for t in TARGETS]
    assert rows[0] == [
        "single record p50: runtime at least 300× faster than scikit-learn",
        "≤ 1/300",
        "1/400",
        "1/400 – 1/400",
        "3 of 3",
        "met with 1.33× to spare (measured 1/400, needs ≤ 1/300)",
    ]
    assert rows[1][2:] == ["1.25", "1.19 – 1.4", "2 of 3", "met with 1.00× to spare (measured 1.25, needs ≤ 1.25)"]
    assert rows[3][2:] == ["0.6", "0.5 – 0.625", "0 of 3", "missed by 1.67× (measured 0.6, needs ≥ 1)"]
    assert rows[5][-1] == "missed by 1.40× (measured 0.56, needs ≤ 0.4)"
    assert rows[6][-1] == "missed by 2.50× (measured 0.5, needs ≤ 0.2)"


def test_figures_table_shows_values_ratios_and_spreads(results):
    rows = _table_rows(render_markdown(results), "| Measure |")
    by_name = {row[0]: row[1:] for row in rows}
    assert by_name["single record, p50"] == ["20 µs", "16 µs", "8,000 µs", "1/400", "1.25 (1.19 – 1.4)"]
    assert by_name["batch of 10,000 rows, 1 thread"][3] == "0.6 (0.5 – 0.625)"
    assert by_name["batch of 10,000 rows, all cores (2 threads)"][3] == "1 (1 – 1.25)"
    assert by_name["peak RSS, fresh process, load + 1 prediction"] == [
        "140 MiB",
        "—",
        "250 MiB",
        "0.56 (0.559 – 0.56)",
        "—",
    ]
    assert by_name["cold start to first prediction"][:4] == ["550 ms", "—", "1.1 s", "0.5"]
    assert by_name["model file"][0] == "4.31 MB (ONNX)"


def test_report_has_every_section_the_command_and_the_context(results):
    markdown = render_markdown(results)
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Headline",
        "## Single-record latency",
        "## Batch throughput",
        "## Cold start and peak memory",
        "## Model files",
        "## Context",
        "## Notes on gaps",
    ]
    assert "python -m benchmarks /tmp/bench-models/quality --notes gaps.md" in markdown
    for text in (
        "AMD EPYC",
        "onnxruntime 1.32.0",
        "scikit-learn 1.9.1",
        "RandomForestClassifier",
        "227,140",
        "0.9455",
        "0.8950",
    ):
        assert text in markdown
    assert "Quick run" not in markdown


def test_notes_on_gaps_lists_the_missed_targets_and_the_notes_file_text(results):
    notes = render_markdown(results).split("## Notes on gaps", 1)[1]
    assert results["notes"] in notes
    assert (
        "- 10,000-row batch, 1 thread: runtime throughput ≥ scikit-learn's: missed by 1.67× (measured 0.6, needs ≥ 1)."
        in notes
    )
    assert "- cold start to first prediction: runtime at most 0.2× scikit-learn: missed by 2.50×" in notes
    assert "single record p50: runtime at least 300×" not in notes


def test_without_notes_the_section_says_how_to_add_them(results):
    results["notes"] = None
    for target in results["targets"]:
        target["met"] = True
    notes = render_markdown(results).split("## Notes on gaps", 1)[1]
    assert "No target was missed in this run." in notes
    assert "pass `--notes FILE`" in notes


def test_quick_runs_are_marked_and_charts_are_linked(results):
    results["quick"] = True
    results["charts"] = ["latency.png", "throughput.png"]
    markdown = render_markdown(results)
    assert "**Quick run**" in markdown
    assert "![Single-record latency distribution](latency.png)" in markdown
    assert "![Batch throughput](throughput.png)" in markdown
    assert "memory_cold_start.png" not in markdown


def test_json_round_trips(results, tmp_path):
    paths = write_report(results, tmp_path / "reports")
    assert [p.name for p in paths] == [JSON_FILE, MARKDOWN_FILE]
    assert read_json(paths[0]) == results
    assert paths[1].read_text(encoding="utf-8") == render_markdown(results)


def test_json_turns_tuples_numpy_and_non_finite_values_into_plain_json(tmp_path):
    np = pytest.importorskip("numpy")
    path = write_json({"a": (1, 2), "b": np.float64(0.5), "c": math.nan, "d": {"e": np.int64(3)}}, tmp_path / "x.json")
    assert read_json(path) == {"a": [1, 2], "b": 0.5, "c": None, "d": {"e": 3}}


def test_charts_are_drawn_from_the_results_alone(results, tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks._charts import draw_charts

    names = draw_charts(results, tmp_path)
    assert names == ["latency.png", "throughput.png", "memory_cold_start.png"]
    for name in names:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
