"""Any input lines give records or reasons, never an exception other than the CLI's one-line CliError
(issue 10, finding 11).

Property-based with Hypothesis, bounded so CI stays fast: arbitrary bytes as lines, and JSON-ish lines
built around the committed model's columns, through the CSV and JSON Lines readers, with a small
--max-line-bytes so the too-long path is reached too.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

import runtime
from runtime._cli._base import CliError
from runtime._cli.tabular import CsvReader, JsonlReader, Layout, Lines, check_csv_header
from tests.runtime.cli.test_tabular import make_layout

hypothesis = pytest.importorskip("hypothesis", reason="property tests need the dev extra (hypothesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MAX_LINE_BYTES = 200

byte_lines = st.lists(st.binary(max_size=300), max_size=8)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "Infinity", "\ud800", "A", "B"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


def _lines(chunks: list[bytes], separator: bytes = b"\n") -> Lines:
    return Lines(io.BytesIO(separator.join(chunks)), max_line_bytes=MAX_LINE_BYTES)


def _check(records: list[Any]) -> None:
    for record in records:
        assert record.readable or record.problems or record.column_problems or record.fatal
        for text in [*record.problems, *record.column_problems.values(), record.fatal or ""]:
            text.encode("utf-8")  # every reason can be written to a UTF-8 rejects file


@SETTINGS
@given(chunks=byte_lines)
def test_jsonl_reader_takes_any_bytes(chunks: list[bytes], model: runtime.Model) -> None:
    layout = make_layout(model)
    _check(list(JsonlReader(_lines(chunks), layout).records()))


@SETTINGS
@given(values=st.lists(st.fixed_dictionaries({}, optional={"temperature": json_values, "machine_type": json_values})))
def test_jsonl_reader_takes_any_json_values(values: list[dict[str, Any]], model: runtime.Model) -> None:
    layout = make_layout(model, keep_extra=True)
    good = dict.fromkeys(model.columns, 1.0)
    text = "\n".join(json.dumps({**good, **value}) for value in values).encode("utf-8")
    _check(list(JsonlReader(_lines([text]), layout).records()))


@SETTINGS
@given(chunks=byte_lines, header_first=st.booleans())
def test_csv_reader_takes_any_bytes(chunks: list[bytes], header_first: bool, model: runtime.Model) -> None:
    layout: Layout = make_layout(model)
    if header_first:
        chunks = [",".join(model.columns).encode(), *chunks]
    try:
        reader = CsvReader(_lines(chunks), layout)
        assert reader.header is not None
        check_csv_header(reader.header, layout, "'quality' 1.0.0")
    except CliError as error:
        assert "\n" not in str(error)
        return
    _check(list(reader.records()))
