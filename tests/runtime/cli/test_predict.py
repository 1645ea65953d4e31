"""``python -m runtime predict``: files in, predictions out, every bad row accounted for with its exact
reason, and every option refused with one line before anything is read."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._cli import main
from runtime._cli._base import command_exit_codes, load_command
from runtime._cli.predict import CLI_FLAG_HINT, CLI_HINTS, DEFAULT_CHUNK_SIZE
from runtime._cli.sinks import partial_name
from runtime._contract import exit_codes_text
from tests.runtime.cli.invoke import counts, one_line, run
from tests.runtime.cli.rows import (
    csv_text,
    first_number_with_range,
    first_required_category,
    read_csv,
    read_jsonl,
    write_csv,
    write_jsonl,
)
from tests.runtime.damage import bundle_copy, flip_byte

# -- round trips -----------------------------------------------------------------------------------


def test_predict_csv_matches_predict_batch(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    source = write_csv(tmp_path / "in.csv", rows)
    code, out, err = run(capsys, "predict", bundle, "--input", source, "--output", tmp_path / "out.csv")
    assert (code, out) == (0, "")
    assert err == f"read {len(rows)} rows: {len(rows)} predicted (written to {str(tmp_path / 'out.csv')!r})\n"
    written = read_csv(tmp_path / "out.csv")
    expected = model.predict_batch(rows)
    assert expected.labels is not None and expected.probabilities is not None and model.classes is not None
    assert list(written[0]) == [*model.columns, "label", *(f"probability_{label}" for label in model.classes)]
    assert len(written) == len(rows)
    for record, result, label, probabilities in zip(rows, written, expected.labels, expected.probabilities):
        assert all(result[name] == csv_text(record[name]) for name in model.columns)  # carried as read
        assert result["label"] == str(label.item())
        assert [float(result[f"probability_{c}"]) for c in model.classes] == probabilities.tolist()


def test_predict_jsonl_matches_predict_batch(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.ndjson")
    assert code == 0 and counts(err) == (len(rows), len(rows), 0)
    written = read_jsonl(tmp_path / "out.ndjson")
    expected = model.predict_batch(rows)
    assert expected.labels is not None and expected.probabilities is not None and model.classes is not None
    assert len(written) == len(rows)
    for record, result, label, probabilities in zip(rows, written, expected.labels, expected.probabilities):
        assert {name: result[name] for name in model.columns} == record
        assert result["label"] == label.item()
        assert [result[f"probability_{c}"] for c in model.classes] == probabilities.tolist()
        assert "flags" not in result


def test_csv_input_gives_typed_json_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    """From CSV, the model's number columns are written to JSON as numbers and missing ones as null."""
    source = write_csv(tmp_path / "in.csv", rows)
    code, _, _ = run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.jsonl")
    assert code == 0
    written = read_jsonl(tmp_path / "out.jsonl")
    assert [{name: result[name] for name in model.columns} for result in written] == rows


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_small_chunks_give_the_same_output(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
    suffix: str,
) -> None:
    source = (write_csv if suffix == ".csv" else write_jsonl)(tmp_path / f"in{suffix}", rows)
    outputs = []
    for chunk_size in ("1", "7", str(DEFAULT_CHUNK_SIZE)):
        target = tmp_path / f"out-{chunk_size}{suffix}"
        code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", target, "--chunk-size", chunk_size)
        assert code == 0 and counts(err) == (len(rows), len(rows), 0)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_stdin_to_stdout(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
) -> None:
    source = write_csv(tmp_path / "in.csv", rows)
    run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.csv")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(source.read_bytes()), encoding="utf-8"))
    code, out, err = run(capsys, "predict", bundle, "--input", "-", "--input-format", "csv")
    assert code == 0
    assert out == (tmp_path / "out.csv").read_text(encoding="utf-8")  # stdout defaults to CSV
    assert (
        err == f"read {len(rows)} rows: {len(rows)} predicted (written to stdout)\n"
    )  # no progress line: not a terminal


def test_extra_columns_are_refused_or_carried_unchanged(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    extra = "Air temperature [K]"
    records = [{**record, extra: f"{i}, with a comma"} for i, record in enumerate(rows[:5])]
    source = write_csv(tmp_path / "in.csv", records, [extra, *model.columns])
    code, out, err = run(capsys, "predict", bundle, "-i", source)
    assert (code, out) == (2, "")
    assert one_line(err) == (
        f"error: {str(source)!r} has 8 columns, but model {model.name!r} {model.version} expects 7: "
        f"unknown [{extra!r}]; pass --keep-extra to carry extra columns through unchanged (never to the model)"
    )

    code, out, err = run(capsys, "predict", bundle, "-i", source, "--keep-extra")
    assert code == 0
    written = read_csv(out)
    assert list(written[0])[:2] == [extra, model.columns[0]]
    assert [record[extra] for record in written] == [f"{i}, with a comma" for i in range(5)]


def test_on_unknown_flag_predicts_and_flags(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    category = next(spec for spec in model.manifest.inputs if spec.kind == "category")
    records = [rows[0], {**rows[1], category.name: "never seen"}]
    source = write_csv(tmp_path / "in.csv", records)
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--on-unknown", "flag")
    assert code == 0 and counts(err) == (2, 2, 0)
    written = read_csv(out)
    assert [record["flags"] for record in written] == ["", f"unknown category: {category.name} == 'never seen'"]
    expected = model.predict_batch(records, on_unknown="flag")
    assert expected.labels is not None
    assert [record["label"] for record in written] == [str(label) for label in expected.labels.tolist()]

    code, _, _ = run(capsys, "predict", bundle, "-i", source, "--on-unknown", "flag", "-o", tmp_path / "out.jsonl")
    assert code == 0
    assert [record["flags"] for record in read_jsonl(tmp_path / "out.jsonl")] == [
        [],
        [f"unknown category: {category.name} == 'never seen'"],
    ]


def test_on_out_of_range_flag_predicts_and_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    number = first_number_with_range(model)
    assert number.valid_range is not None
    low, high = number.valid_range
    records = [rows[0], {**rows[1], number.name: high + 1000}]
    source = write_csv(tmp_path / "in.csv", records)
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--on-out-of-range", "flag")
    assert code == 0 and counts(err) == (2, 2, 0)
    written = read_csv(out)
    flag = f"out of range: {number.name} == {high + 1000!r}, outside [{low!r}, {high!r}]"
    assert [record["flags"] for record in written] == ["", flag]
    expected = model.predict_batch(records, on_out_of_range="flag")
    assert expected.labels is not None
    assert [record["label"] for record in written] == [str(label) for label in expected.labels.tolist()]
    assert written[1][number.name] == csv_text(high + 1000)  # carried as read, never clipped
    # the default refuses it, naming the option that would accept it
    code, _, err = run(capsys, "predict", bundle, "-i", source)
    assert code == 2 and f"{CLI_HINTS['on_out_of_range']}. 1 row before it was predicted" in one_line(err)


# -- bad rows --------------------------------------------------------------------------------------


def bad_rows(model: runtime.Model, good: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(row, its exact reason as the CLI words it, full stop included) for each kind of bad value."""
    number = first_number_with_range(model)
    category = first_required_category(model)
    assert number.valid_range is not None
    low, high = number.valid_range
    allowed = f"[{low!r}, {high!r}]"
    categories = f"[{', '.join(repr(c) for c in category.categories or ())}]"
    return [
        (
            {**good, number.name: "hot"},
            f"{number.name} == 'hot' is not a number, must be a number within {allowed}"
            f"{', or an empty field for missing' if number.nullable else ''}; numbers are written like 12.5 or "
            "-3e-2, and text is not converted.",
        ),
        (
            {**good, category.name: "never seen"},
            f"{category.name} == 'never seen' is not a known category, must be one of {categories} {CLI_FLAG_HINT}.",
        ),
        (
            {**good, category.name: None},
            f"{category.name} is missing (None), but the column does not allow missing values: must be a string, "
            f"one of {categories}.",
        ),
        (
            {**good, number.name: high + 1000},
            f"{number.name} == {high + 1000!r}, must be within {allowed} (valid range from {number.range_source}) "
            f"{CLI_HINTS['on_out_of_range']}.",
        ),
        (
            {**good, number.name: "inf"},
            f"{number.name} == inf, must be a finite number within {allowed}"
            f"{' or missing (None)' if number.nullable else ''}.",
        ),
    ]


@pytest.mark.parametrize("case", range(5), ids=["string", "unknown", "missing", "range", "inf"])
def test_stop_at_the_first_bad_row(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
    case: int,
) -> None:
    bad, reason = bad_rows(model, rows[0])[case]
    source = write_csv(tmp_path / "in.csv", [rows[0], rows[1], bad, rows[2]], model.columns)
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "predict", bundle, "-i", source, "-o", target, "--chunk-size", "2")
    assert (code, out) == (2, "")
    partial = partial_name(str(target))
    assert one_line(err) == (
        f"error: stopped at row 3 (line 4 of {str(source)!r}): {reason} 2 rows before it were predicted and "
        f"written to {partial!r} (kept under that name, as the run did not complete; {str(target)!r} was not "
        "written); pass --on-error skip --rejects FILE to set bad rows aside and go on"
    )
    assert not target.exists()  # nothing under the final name looks finished
    assert len(read_csv(Path(partial))) == 2  # complete for the rows before the bad one


def test_stop_at_the_first_row_says_one_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    bad, _ = bad_rows(model, rows[0])[0]
    source = write_csv(tmp_path / "in.csv", [rows[0], bad], model.columns)
    code, _, err = run(capsys, "predict", bundle, "-i", source)
    assert code == 2
    assert " 1 row before it was predicted and written to stdout; " in one_line(err)


def test_skip_writes_every_bad_row_with_its_reasons(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    number = first_number_with_range(model)
    category = first_required_category(model)
    records: list[dict[str, Any]] = []
    expected: dict[int, list[str]] = {}
    for index, (record, reason) in enumerate(bad_rows(model, rows[0])):
        records.append(rows[index])
        records.append(record)
        expected[len(records)] = [reason]
    # a row with two problems gets both reasons, in column order
    two = {**rows[0], number.name: "x", category.name: "never seen"}
    records.append(two)
    expected[len(records)] = [
        bad_rows(model, two)[0][1].replace("'hot'", "'x'"),
        bad_rows(model, rows[0])[1][1],
    ]
    source = write_csv(tmp_path / "in.csv", records, model.columns)
    rejects = tmp_path / "rejects.csv"
    code, out, err = run(
        capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.csv",
        "--chunk-size", "3", "--on-error", "skip", "--rejects", rejects,
    )  # fmt: skip
    assert (code, out) == (1, "")
    read, predicted, rejected = counts(err)
    assert (read, predicted, rejected) == (len(records), len(records) - len(expected), len(expected))
    assert len(read_csv(tmp_path / "out.csv")) == predicted
    written = read_csv(rejects)
    assert list(written[0]) == ["row", "input_line", "reason", *model.columns]
    assert [int(record["row"]) for record in written] == list(expected)
    assert [int(record["input_line"]) for record in written] == [row + 1 for row in expected]  # after the header
    for record, reasons in zip(written, expected.values()):
        assert record["reason"] == "; ".join(reason.rstrip(".") for reason in reasons)
    assert written[0][number.name] == "hot"  # fields as read


def test_skip_jsonl_accounts_for_malformed_lines(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    number = first_number_with_range(model)
    assert number.valid_range is not None
    lines = [
        json.dumps(rows[0]),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({**rows[1], number.name: "3.5"}),
        json.dumps({**rows[2], "extra": 1}),
        json.dumps(rows[3]),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    code, _, err = run(
        capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.jsonl",
        "--on-error", "skip", "--rejects", rejects,
    )  # fmt: skip
    assert code == 1 and counts(err) == (6, 2, 4)  # the blank line is not a row
    written = read_jsonl(rejects)
    assert [record["row"] for record in written] == [2, 3, 4, 5]
    low, high = number.valid_range
    assert [record["reason"] for record in written] == [
        "is not valid JSON (Expecting property name enclosed in double quotes at column 2): '{not json'",
        "is a JSON array, expected an object of column -> value on each line",
        f"{number.name} == '3.5' has type str, must be a finite number within [{low!r}, {high!r}] or missing (None): "
        "strings are not converted to numbers",
        "has unknown key(s) ['extra']; pass --keep-extra to carry extra keys through unchanged (the model never sees them)",
    ]
    assert written[2][number.name] == "3.5"


def test_a_value_of_the_wrong_type_is_one_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    """A number in a category column that refuses missing values is wrongly typed, and only that (the batch
    also counts it as missing)."""
    category = first_required_category(model)
    source = write_jsonl(tmp_path / "in.jsonl", [rows[0], {**rows[1], category.name: 3}])
    rejects = tmp_path / "rejects.jsonl"
    code, _, _ = run(capsys, "predict", bundle, "-i", source, "--on-error", "skip", "--rejects", rejects)
    assert code == 1
    [rejected] = read_jsonl(rejects)
    assert rejected["reason"] == (
        f"{category.name} == 3 has type int, must be a string, one of "
        f"[{', '.join(repr(c) for c in category.categories or ())}]: "
        "categories are matched as strings and numbers are not converted"
    )


def test_a_line_that_is_not_utf8_rejects_only_its_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:3])
    lines = source.read_bytes().split(b"\r\n")  # csv.writer ends lines with CRLF
    lines[2] = lines[2] + b"\xff"  # the last field of data row 2 gets a byte that is not UTF-8
    source.write_bytes(b"\r\n".join(lines))
    rejects = tmp_path / "rejects.csv"
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--on-error", "skip", "--rejects", rejects)
    assert code == 1 and counts(err) == (3, 2, 1)
    assert len(read_csv(out)) == 2
    [rejected] = read_csv(rejects)
    assert rejected["row"] == "2"
    position = len(lines[2])
    assert rejected["reason"].startswith(
        f"line 3 is not UTF-8 text (byte 0xff at position {position}; bad bytes are shown as U+FFFD)"
    )


def test_an_unparseable_csv_stops_after_the_rows_before_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:4])
    text = source.read_text(encoding="utf-8").splitlines()
    text[3] = '"' + text[3]  # data row 3 opens a quote that never closes
    source.write_text("\n".join(text) + "\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    rejects = tmp_path / "rejects.csv"
    code, _, err = run(
        capsys, "predict", bundle, "-i", source, "-o", target, "--on-error", "skip", "--rejects", rejects
    )
    assert code == 2
    message = one_line(err)
    assert message.startswith(f"error: line 4 of {str(source)!r} cannot be read as CSV: ")
    kept = "(kept under that name, as the run did not complete; {} was not written)"
    assert message.endswith(
        "(check the quoting); stopped after it: read 2 rows: 2 predicted "
        f"(written to {partial_name(str(target))!r} {kept.format(repr(str(target)))}), 0 rejected "
        f"(written to {partial_name(str(rejects))!r} {kept.format(repr(str(rejects)))})"
    )
    assert not target.exists() and not rejects.exists()
    assert len(read_csv(Path(partial_name(str(target))))) == 2


@pytest.mark.parametrize(
    ("header_edit", "message"),
    [
        ("drop first", "{source} has 6 columns, but model {model} expects 7: missing [{first!r}]"),
        ("duplicate first", "the header of {source} names [{first!r}] more than once"),
        ("add label", "{source} has column(s) ['label'], which the output adds: rename or drop them"),
    ],
)
def test_header_that_does_not_fit_exits_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
    header_edit: str,
    message: str,
) -> None:
    columns = list(model.columns)
    first = columns[0]
    if header_edit == "drop first":
        columns = columns[1:]
    elif header_edit == "duplicate first":
        columns = [*columns, first]
    else:
        columns = [*columns, "label"]
    source = write_csv(tmp_path / "in.csv", rows[:2], columns)
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--keep-extra")
    assert (code, out) == (2, "")
    expected = message.format(model=f"{model.name!r} {model.version}", first=first, source=repr(str(source)))
    assert one_line(err) == f"error: {expected}"


# -- options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--on-error", "skip"], "--on-error skip needs --rejects FILE (.csv or .jsonl) to write the bad rows to"),
        (["--rejects", "r.csv"], "--rejects is only used with --on-error skip"),
        (["--on-error", "skip", "--rejects", "-"], "--rejects needs a file (.csv or .jsonl), not -"),
        (["--on-error", "skip", "--rejects", "r.txt"], "--rejects 'r.txt' needs a .csv, .jsonl or .ndjson suffix"),
        (["--chunk-size", "0"], "argument --chunk-size: '0' must be >= 1 (see python -m runtime predict --help)"),
        (["--threads", "x"], "argument --threads: 'x' is not a whole number (see python -m runtime predict --help)"),
        (
            ["--format", "xml"],
            "argument --format/--output-format: invalid choice: 'xml' (choose from 'csv', 'jsonl') "
            "(see python -m runtime predict --help)",
        ),
        (
            ["--output", "out.txt"],
            "cannot tell the format of 'out.txt' from its suffix '.txt': use .csv, .jsonl or .ndjson, "
            "or pass --format csv|jsonl",
        ),
        (["--output", "{input}"], "--input and --output are the same file ({input!r})"),
        (
            ["--on-error", "skip", "--rejects", "{input}"],
            "--input and --rejects are the same file ({input!r})",
        ),
        (
            ["--input-format", "jsonl", "--keep-extra"],
            "--keep-extra with JSON Lines input needs JSON Lines output and rejects: the extra keys may differ "
            "from line to line, and a CSV header cannot",
        ),
    ],
)
def test_usage_errors_exit_4(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
    argv: list[str],
    message: str,
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:2])
    argv = [arg.replace("{input}", str(source)) for arg in argv]
    code, out, err = run(capsys, "predict", bundle, "-i", source, *argv)
    assert (code, out) == (4, "")
    assert one_line(err) == "error: " + message.replace("{input!r}", repr(str(source)))


def test_unreadable_input_unwritable_output_and_stdin_without_format_exit_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run(capsys, "predict", bundle, "-i", missing)
    assert code == 4 and one_line(err) == f"error: cannot read --input {str(missing)!r}: No such file or directory"
    code, _, err = run(capsys, "predict", bundle, "-i", "-")
    assert code == 4 and one_line(err) == "error: reading stdin needs --input-format csv or --input-format jsonl"
    source = write_csv(tmp_path / "in.csv", rows[:2])
    target = tmp_path / "no-such-folder" / "out.csv"
    code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", target)
    assert code == 4 and one_line(err) == f"error: cannot write {str(target)!r}: No such file or directory"


def test_help_documents_the_formats_and_exactly_its_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "--help")
    assert code == 0
    assert "--keep-extra" in out and "--on-unknown" in out
    assert f"(default: {DEFAULT_CHUNK_SIZE:,})" in " ".join(out.split())
    assert out.endswith(exit_codes_text(command_exit_codes(load_command("predict"))) + "\n")
    assert "  1    predict --on-error skip: some rows were rejected" in out


def test_progress_line_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    source = write_csv(tmp_path / "in.csv", rows)
    for extra, shown in (([], True), (["--no-progress"], False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main(["predict", str(bundle), "-i", str(source), "-o", str(tmp_path / "out.csv"), *extra]) == 0
        assert (f"\r{len(rows)} rows, " in terminal.getvalue()) is shown
        assert terminal.getvalue().rstrip("\n").split("\r")[-1].startswith(f"read {len(rows)} rows")
    # rows written to the same terminal: no progress line drawn into them
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert main(["predict", str(bundle), "-i", str(source)]) == 0
    assert "\r" not in terminal.getvalue()


def test_a_refused_bundle_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    damaged = bundle_copy(bundle / "1.0.0", tmp_path / "damaged")
    flip_byte(damaged)
    source = write_csv(tmp_path / "in.csv", rows[:3])
    code, out, err = run(capsys, "predict", damaged, "-i", source, "-o", tmp_path / "out.csv")
    assert (code, out) == (3, "")
    assert one_line(err).startswith("error: bundle refused: ") and " has sha256 " in err
    assert not (tmp_path / "out.csv").exists()


def test_an_infinity_is_rejected_and_written_as_null_in_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    number = first_number_with_range(model)
    source = write_csv(tmp_path / "in.csv", [rows[0], {**rows[1], number.name: math.inf}], model.columns)
    rejects = tmp_path / "rejects.jsonl"
    code, _, _ = run(capsys, "predict", bundle, "-i", source, "--on-error", "skip", "--rejects", rejects)
    assert code == 1
    [rejected] = read_jsonl(rejects)
    assert rejected[number.name] == "inf"  # rejects keep the text as read
    assert rejected["reason"].startswith(f"{number.name} == inf, must be a finite number")
