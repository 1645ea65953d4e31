"""The rejects file keeps each bad row exactly as read: a CSV row with too few fields is not padded with
empty ones (which would read back as valid missing values), one with too many keeps its extra values, and
every reject says where it was (row and input line) and why (issue 11)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

import runtime
from tests.runtime.cli.invoke import counts, run
from tests.runtime.cli.rows import csv_text, read_jsonl


def source_lines(model: runtime.Model, rows: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """A header, a good row, a short row, a blank line, a long row, a good row; and the bad rows' fields."""
    header = ",".join(model.columns)
    good = [",".join(csv_text(row[name]) for name in model.columns) for row in rows[:2]]
    fields = good[0].split(",")
    short = fields[:3]
    long = [*fields, "x", ""]
    text = "\n".join([header, good[0], ",".join(short), "", ",".join(long), good[1]]) + "\n"
    return text, [",".join(short), ",".join(long)]


def predict_with_rejects(capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, text: str, suffix: str):
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    rejects = tmp_path / f"rejects{suffix}"
    code, _, err = run(
        capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.csv", "--on-error", "skip", "--rejects", rejects
    )
    assert code == 1 and counts(err) == (4, 2, 2)
    return rejects


def test_csv_rejects_hold_the_rows_as_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    text, bad = source_lines(model, rows)
    rejects = predict_with_rejects(capsys, tmp_path, bundle, text, ".csv")
    header, *written = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8"))))
    assert header == ["row", "input_line", "reason", *model.columns]
    assert [(row, line) for row, line, *_ in written] == [("2", "3"), ("3", "5")]  # the blank line 4 is no row
    assert written[0][2].startswith(f"has 3 fields, the header has {len(model.columns)} (no value for [")
    assert written[1][2].startswith(
        f"has {len(model.columns) + 2} fields, the header has {len(model.columns)} (extra values ['x', ''])"
    )
    # the fields as read, as many as the row had: 3 (not padded to 7), and 9 (nothing dropped)
    assert [",".join(fields) for _, _, _, *fields in written] == bad
    assert len(written[0]) == 3 + 3 and len(written[1]) == 3 + len(model.columns) + 2


def test_jsonl_rejects_key_the_fields_the_row_had(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    text, bad = source_lines(model, rows)
    rejects = predict_with_rejects(capsys, tmp_path, bundle, text, ".jsonl")
    short, long = read_jsonl(rejects)
    fields = bad[1].split(",")
    assert short == {
        "row": 2,
        "input_line": 3,
        "reason": short["reason"],
        **dict(zip(model.columns[:3], fields[:3])),  # the other columns are absent, not ""
    }
    assert long == {
        "row": 3,
        "input_line": 5,
        "reason": long["reason"],
        **dict(zip(model.columns, fields)),
        "extra_fields": ["x", ""],
    }


def test_a_line_too_long_to_read_has_no_fields(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    header = ",".join(model.columns)
    good = ",".join(csv_text(rows[0][name]) for name in model.columns)
    source = tmp_path / "in.csv"
    source.write_text(f"{header}\n{good}\n{'9' * 200}\n{good}\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    code, _, _ = run(
        capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.csv", "--on-error", "skip",
        "--rejects", rejects, "--max-line-bytes", "100",
    )  # fmt: skip
    assert code == 1
    _, written = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8"))))
    assert written[:2] == ["2", "3"] and len(written) == 3  # row, input_line, reason: no empty fields
    assert "more than --max-line-bytes 100" in written[2]
