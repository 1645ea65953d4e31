"""The CSV and JSON Lines layer on its own: formats from suffixes, decoding line by line, readers that
coerce nothing, header checks and the text a value gets in a CSV field."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._cli._base import CliError
from runtime._cli.sinks import Fields, csv_text, open_sink
from runtime._cli.tabular import (
    CsvReader,
    JsonlReader,
    Layout,
    Lines,
    Record,
    check_csv_header,
    format_of,
    preview,
)
from runtime._contract import ExitCode


@pytest.fixture(scope="module")
def layout(model: runtime.Model) -> Layout:
    return make_layout(model)


def make_layout(model: runtime.Model, *, keep_extra: bool = False) -> Layout:
    return Layout(
        source="'in'",
        columns=model.columns,
        numbers=frozenset(spec.name for spec in model.manifest.inputs if spec.kind == "number"),
        specs={spec.name: spec for spec in model.manifest.inputs},
        keep_extra=keep_extra,
        reserved=frozenset({"label", "row", "reason"}),
    )


def lines_of(text: str | bytes) -> Lines:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return Lines(io.BytesIO(data))


def csv_records(layout: Layout, text: str | bytes) -> list[Record]:
    return list(CsvReader(lines_of(text), layout).records())


def good_line(model: runtime.Model) -> dict[str, Any]:
    return {"temperature": 201.5, "pressure": 48.0, "speed": 101.0, "humidity": 45.0, "vibration": 0.8,
            "machine_type": "B", "shift": "night"}  # fmt: skip


# -- formats ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "explicit", "stdout_default", "expected"),
    [
        ("a.csv", None, None, "csv"),
        ("a.CSV", None, None, "csv"),
        ("a.jsonl", None, None, "jsonl"),
        ("a.ndjson", None, None, "jsonl"),
        ("a.txt", "jsonl", None, "jsonl"),
        ("-", None, "csv", "csv"),
    ],
)
def test_format_from_option_or_suffix(
    path: str, explicit: str | None, stdout_default: str | None, expected: str
) -> None:
    assert format_of(path, explicit, "--format", stdout_default=stdout_default) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("-", "reading stdin needs --input-format csv or --input-format jsonl"),
        (
            "a.tsv",
            "cannot tell the format of 'a.tsv' from its suffix '.tsv': use .csv, .jsonl or .ndjson, "
            "or pass --input-format csv|jsonl",
        ),
        (
            "a",
            "cannot tell the format of 'a' from its suffix '': use .csv, .jsonl or .ndjson, or pass --input-format csv|jsonl",
        ),
    ],
)
def test_format_that_cannot_be_told_is_a_usage_error(path: str, message: str) -> None:
    with pytest.raises(CliError) as caught:
        format_of(path, None, "--input-format")
    assert (str(caught.value), caught.value.exit_code) == (message, ExitCode.USAGE)


# -- lines -----------------------------------------------------------------------------------------


def test_lines_drop_the_byte_order_mark_and_note_bad_bytes() -> None:
    lines = lines_of(b"\xef\xbb\xbfa,b\nok\nbad\xff\n")
    assert list(lines) == ["a,b\n", "ok\n", "bad\ufffd\n"]
    assert lines.bad == {3: "line 3 is not UTF-8 text (byte 0xff at position 4; bad bytes are shown as U+FFFD)"}
    assert lines.take(1, 2) == []
    assert lines.take(2, 3) == ["line 3 is not UTF-8 text (byte 0xff at position 4; bad bytes are shown as U+FFFD)"]
    assert lines.bad == {}  # forgotten once taken


def test_lines_from_a_text_stream_drop_the_byte_order_mark() -> None:
    assert list(Lines(io.StringIO("\ufeffa\nb\n"))) == ["a\n", "b\n"]


# -- CSV -------------------------------------------------------------------------------------------


def test_csv_numbers_are_parsed_and_nothing_else_is_coerced(model: runtime.Model, layout: Layout) -> None:
    header = ",".join(model.columns)
    [record] = csv_records(layout, f"{header}\n 201.5 ,nan,,1e1,-0,B,\n")
    assert record.values["temperature"] == 201.5  # surrounding spaces are fine
    assert math.isnan(record.values["pressure"])  # nan is missing, for validation to judge
    assert record.values["speed"] is None  # an empty number field is missing
    assert record.values["humidity"] == 10.0
    assert record.values["machine_type"] == "B"
    assert record.values["shift"] is None  # an empty category field is missing
    assert (record.row, record.line, record.problems, record.column_problems) == (1, 2, [], {})
    assert record.readable


@pytest.mark.parametrize("text", ["hot", "1_000", "0x10", "\u0663", "1,5", "true", "12 5"])
def test_csv_text_that_is_not_a_number_is_refused_in_a_number_column(
    model: runtime.Model, layout: Layout, text: str
) -> None:
    values = {**{name: "" for name in model.columns}, "temperature": text, "machine_type": "B"}
    source = ",".join(model.columns) + "\n" + ",".join(f'"{values[name]}"' for name in model.columns) + "\n"
    [record] = csv_records(layout, source)
    # a decimal comma is named as such, with the option that reads it
    hint = (
        " (it is written with ',' as the decimal mark: pass --decimal , if the file uses it)" if text == "1,5" else ""
    )
    assert record.column_problems == {
        "temperature": f"temperature == {text!r} is not a number, must be a number within [100.0, 300.0], or an "
        f"empty field for missing; numbers are written like 12.5 or -3e-2, and text is not converted{hint}."
    }
    assert "temperature" not in record.values and not record.readable


def test_csv_rows_count_data_rows_and_lines_count_the_file(model: runtime.Model, layout: Layout) -> None:
    header = ",".join(model.columns)
    row = "201.5,48,101,45,0.8,B,night"
    quoted = '201.5,48,101,45,0.8,B,"ni\nght"'  # a field spanning two lines
    records = csv_records(layout, f"{header}\n{row}\n\n{quoted}\n{row}\n")
    assert [(record.row, record.line) for record in records] == [(1, 2), (2, 4), (3, 6)]
    assert records[1].values["shift"] == "ni\nght"


def test_csv_rows_with_the_wrong_number_of_fields(model: runtime.Model, layout: Layout) -> None:
    header = ",".join(model.columns)
    short, long = csv_records(layout, f"{header}\n201.5,48,101\n201.5,48,101,45,0.8,B,night,x,y\n")
    assert short.problems == [
        "has 3 fields, the header has 7 (no value for ['humidity', 'vibration', 'machine_type', 'shift']); "
        "check the delimiters and quoting of this line"
    ]
    assert set(short.values) == {"temperature", "pressure", "speed"}
    assert long.problems == [
        "has 9 fields, the header has 7 (extra values ['x', 'y']); check the delimiters and quoting of this line"
    ]


def test_a_broken_quote_ends_the_file(model: runtime.Model, layout: Layout) -> None:
    header = ",".join(model.columns)
    records = csv_records(layout, f'{header}\n201.5,48,101,45,0.8,B,night\n"201.5,48\n')
    assert [record.fatal is None for record in records] == [True, False]
    assert records[1].row == 2 and records[1].fatal is not None
    assert records[1].fatal.startswith("line 3 of 'in' cannot be read as CSV: ")
    assert records[1].fatal.endswith(" (check the quoting)")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "'in' is empty: the first line must be a header naming the columns"),
        (
            b"temp\xffrature\n",
            "the header of 'in' cannot be read: line 1 is not UTF-8 text (byte 0xff at position 5; bad bytes are shown as U+FFFD)",
        ),
    ],
)
def test_a_header_that_cannot_be_read(layout: Layout, data: bytes, message: str) -> None:
    with pytest.raises(CliError) as caught:
        CsvReader(lines_of(data), layout)
    assert (str(caught.value), caught.value.exit_code) == (message, ExitCode.BAD_INPUT)


@pytest.mark.parametrize(
    ("header", "keep_extra", "message"),
    [
        (["temperature"] * 2, False, "the header of 'in' names ['temperature'] more than once"),
        (
            ["temperature;pressure;speed;humidity;vibration;machine_type;shift"],
            False,
            "'in' has 1 columns, but model 'quality' 1.0.0 expects 7: missing ['temperature', 'pressure', 'speed', "
            "'humidity', 'vibration', and 2 more]; unknown ['temperature;pressure;speed;humidity;vibration;"
            "machine_type;shift']; the header looks separated by ';', not ',': pass --delimiter ';' (and --decimal , "
            "if its numbers are written like 3,5)",
        ),
        (
            "{columns} extra",
            False,
            "'in' has 8 columns, but model 'quality' 1.0.0 expects 7: unknown ['extra']; pass --keep-extra to carry "
            "extra columns through unchanged (never to the model)",
        ),
        ("{columns} label", True, "'in' has column(s) ['label'], which the output adds: rename or drop them"),
    ],
    ids=["duplicate", "semicolons", "extra", "reserved"],
)
def test_csv_header_checks(model: runtime.Model, header: Any, keep_extra: bool, message: str) -> None:
    if isinstance(header, str):
        header = [*model.columns, header.split()[1]]
    with pytest.raises(CliError) as caught:
        check_csv_header(header, make_layout(model, keep_extra=keep_extra), "'quality' 1.0.0")
    assert (str(caught.value), caught.value.exit_code) == (message, ExitCode.BAD_INPUT)


def test_csv_header_with_extra_columns_is_fine_with_keep_extra(model: runtime.Model) -> None:
    check_csv_header(["extra", *reversed(model.columns)], make_layout(model, keep_extra=True), "'quality' 1.0.0")


# -- JSON Lines ------------------------------------------------------------------------------------


def jsonl_records(layout: Layout, text: str) -> list[Record]:
    return list(JsonlReader(lines_of(text), layout).records())


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes at column 2): '{not json'"),
        (
            '{"a": 1 ' + "x" * 80,
            "is not valid JSON (Expecting ',' delimiter at column 9): '{\"a\": 1 " + "x" * 49 + "...'",
        ),
        (
            '{"temperature": 201.5',
            "is not valid JSON (Expecting ',' delimiter at column 22): '{\"temperature\": 201.5'",
        ),
        ('{"temperature": 1, "temperature": 2}', "names key 'temperature' twice; each column must appear once"),
        ("[1, 2]", "is a JSON array, expected an object of column -> value on each line"),
        ('"text"', "is a JSON string, expected an object of column -> value on each line"),
        ("3", "is a JSON number, expected an object of column -> value on each line"),
        ("null", "is a JSON null, expected an object of column -> value on each line"),
        ("true", "is a JSON boolean, expected an object of column -> value on each line"),
    ],
    ids=["syntax", "long-preview", "cut-short", "duplicate-key", "array", "string", "number", "null", "boolean"],
)
def test_jsonl_lines_that_are_not_an_object(layout: Layout, line: str, problem: str) -> None:
    for ending in ("\n", "\r\n", ""):
        [record] = jsonl_records(layout, line + ending)
        assert record.problems == [problem] and record.fields == {} and record.values == {}


def test_jsonl_keys_are_checked_per_line(model: runtime.Model) -> None:
    good = good_line(model)
    missing = {key: value for key, value in good.items() if key != "shift"}
    lines = [missing, {**good, "extra": 1}, {**good, "label": 1}]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    strict = jsonl_records(make_layout(model), text)
    assert [record.problems for record in strict] == [
        ["has no key(s) ['shift']: every model column is needed on every line"],
        [
            "has unknown key(s) ['extra']; pass --keep-extra to carry extra keys through unchanged (the model never sees them)"
        ],
        [
            "has unknown key(s) ['label']; pass --keep-extra to carry extra keys through unchanged (the model never sees them)"
        ],
    ]
    carried = jsonl_records(make_layout(model, keep_extra=True), text)
    assert [record.problems for record in carried] == [
        ["has no key(s) ['shift']: every model column is needed on every line"],
        [],
        ["has key(s) ['label'], which the output adds; rename them"],
    ]


def test_jsonl_values_are_passed_as_they_are(model: runtime.Model, layout: Layout) -> None:
    huge = 10**400
    text = json.dumps({**good_line(model), "temperature": "3.5", "pressure": True}) + "\n"
    text += (
        '{"temperature": '
        + str(huge)
        + ', "pressure": 1, "speed": 1, "humidity": 1, "vibration": 1, "machine_type": "B", "shift": null}\n'
    )
    first, second = jsonl_records(layout, text)
    assert (first.values["temperature"], first.values["pressure"]) == ("3.5", True)  # validation words the refusal
    assert first.readable
    assert second.column_problems == {
        "temperature": f"temperature == {huge!r} is too large for a float, must be a finite number within "
        "[100.0, 300.0] or missing (None)."
    }
    assert second.values["shift"] is None and second.values["pressure"] == 1


def test_jsonl_counts_rows_without_blank_lines(model: runtime.Model, layout: Layout) -> None:
    line = json.dumps(good_line(model))
    records = jsonl_records(layout, f"\n{line}\n   \n{line}\n")
    assert [(record.row, record.line) for record in records] == [(1, 2), (2, 4)]


# -- writing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("a, b", "a, b"),
        (None, ""),
        (math.nan, ""),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (3, "3"),
        (True, "true"),
        (False, "false"),
        (["unknown category: shift == 'x'", "b"], "unknown category: shift == 'x'; b"),
        ([], ""),
        ({"a": [1, None]}, '{"a": [1, null]}'),
        ([1, 2], "[1, 2]"),
        ("ünïcode", "ünïcode"),
    ],
)
def test_csv_text_of_a_value(value: Any, text: str) -> None:
    assert csv_text(value) == text


def test_sinks_write_csv_with_a_header_and_standard_json(tmp_path: Path) -> None:
    stdout = io.StringIO()
    with contextlib.ExitStack() as stack:
        csv_sink = open_sink("-", "csv", ["a", "b"], stack, stdout)
        csv_sink.write([("a", 1.5), ("b", None)])
        json_sink = open_sink(str(tmp_path / "out.jsonl"), "jsonl", ["ignored"], stack, stdout)
        json_sink.write([("a", math.nan), ("b", math.inf), ("c", "ü")])
        json_sink.flush()
    assert stdout.getvalue() == "a,b\n1.5,\n"
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == '{"a": null, "b": null, "c": "ü"}\n'


def test_fields_of_a_record_for_each_output(model: runtime.Model, layout: Layout) -> None:
    record = Record(1, 2, {"temperature": "201.5", "extra": "x"}, values={"temperature": 201.5})
    csv_fields = Fields(layout, "csv", ["temperature", "extra"])
    assert csv_fields.columns == ("temperature", "extra")
    assert csv_fields.items(record, for_json=False, typed=True) == [("temperature", "201.5"), ("extra", "x")]
    assert csv_fields.items(record, for_json=True, typed=True) == [("temperature", 201.5), ("extra", "x")]
    assert csv_fields.items(record, for_json=True, typed=False) == [("temperature", "201.5"), ("extra", "x")]
    json_fields = Fields(layout, "jsonl", None)
    assert json_fields.columns == model.columns
    assert json_fields.items(record, for_json=True, typed=True) == [("temperature", "201.5"), ("extra", "x")]
    assert json_fields.items(record, for_json=False, typed=True)[:2] == [("temperature", "201.5"), ("pressure", None)]


# -- long values in reasons ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("short", "'short'"),
        ("x" * 58, repr("x" * 58)),
        ("x" * 1_000_000, "'" + "x" * 56 + "... (1,000,000 characters)"),
        (list(range(100)), repr(list(range(100)))[:57] + "... (390 characters as written)"),
    ],
)
def test_preview_cuts_long_values(value: Any, text: str) -> None:
    assert preview(value) == text


def test_a_long_csv_text_in_a_number_column_is_quoted_short(model: runtime.Model, layout: Layout) -> None:
    header = ",".join(model.columns)
    [record] = csv_records(layout, f"{header}\n{'y' * 100_000},1,1,1,1,B,\n")
    assert record.column_problems["temperature"].startswith(
        "temperature == '" + "y" * 56 + "... (100,000 characters) is not a number, must be a number within"
    )
