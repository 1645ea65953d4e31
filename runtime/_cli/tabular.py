"""CSV and JSON Lines, streamed: the input's lines decoded one at a time, readers that turn them into
:class:`Record` objects without coercing anything. Writing the output and reject rows is :mod:`.sinks`.

What the files may hold, and how it is read, is in ``python -m runtime predict --help``
(:data:`runtime._cli.predict.DESCRIPTION`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .._contract import ExitCode
from .._fields import refusing_duplicate_keys
from .._manifest import ColumnSpec
from .._validation import cap_list, describe_allowed
from ._base import CliError
from .csv_dialect import CsvDialect, delimiter_hint

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "SUFFIX_FORMATS",
    "CsvReader",
    "JsonlReader",
    "Layout",
    "Lines",
    "Record",
    "check_csv_header",
    "format_of",
    "open_input",
    "preview",
]

SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# A line that is not JSON, or a value, is quoted in a reason up to this many characters.
_PREVIEW_CHARS = 60
# Lines longer than this are not read (--max-line-bytes): one line must not take the memory of
# the device. It is also the csv module's field size limit, so a quoted record over many lines
# is bounded too.
DEFAULT_MAX_LINE_BYTES = 1 << 20


def format_of(path: str, explicit: str | None, option: str, *, stdout_default: str | None = None) -> str:
    """``csv`` or ``jsonl``: ``explicit`` when given, else from the suffix of ``path`` (``-`` is a stream)."""
    if explicit is not None:
        return explicit
    if path == "-":
        if stdout_default is not None:
            return stdout_default
        raise CliError(f"reading stdin needs {option} csv or {option} jsonl", ExitCode.USAGE)
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise CliError(
            f"cannot tell the format of {path!r} from its suffix {suffix!r}: use .csv, .jsonl or "
            f".ndjson, or pass {option} csv|jsonl",
            ExitCode.USAGE,
        )
    return SUFFIX_FORMATS[suffix]


def preview(value: Any) -> str:
    """``repr(value)``, cut to about 60 characters with its length, so a huge value makes a short reason.

    >>> preview("x" * 1000)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (1,000 characters)"
    """
    text = repr(value)
    if len(text) <= _PREVIEW_CHARS:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters as written"
    return f"{text[: _PREVIEW_CHARS - 3]}... ({size})"


# ---------------------------------------------------------------------------------------------
# records


@dataclass
class Record:
    """One data row: where it is, its fields as read, what the model gets, what became of it.

    ``row`` is 1-based and counts data rows only; ``line`` is the file's line where the row
    starts. ``fields`` holds the row as read (CSV text by header name, or the JSON object),
    ``values`` what is validated and fed for each model column that could be read, and
    ``column_problems`` why the others could not. ``problems`` are row-level (a malformed line,
    the wrong number of fields, missing keys). ``fatal`` marks the point past which the file
    cannot be read (CSV syntax). ``reasons`` and ``prediction`` are the outcome. ``raw`` is a CSV
    row's fields in the order read, however many there were (None: no fields could be read).
    """

    row: int
    line: int
    fields: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    column_problems: dict[str, str] = field(default_factory=dict)
    fatal: str | None = None
    reasons: list[str] = field(default_factory=list)
    prediction: list[tuple[str, Any]] | None = None
    raw: list[str] | None = None

    @property
    def readable(self) -> bool:
        """Every model column could be read and nothing is wrong with the row as a whole."""
        return self.fatal is None and not self.problems and not self.column_problems


@dataclass(frozen=True)
class Layout:
    """What the reader checks each row against."""

    source: str  # the input's name for messages: the path or "stdin"
    columns: tuple[str, ...]  # model columns, manifest order
    numbers: frozenset[str]  # model columns of kind number
    specs: Mapping[str, ColumnSpec]
    keep_extra: bool
    reserved: frozenset[str]  # names the output or rejects file adds
    dialect: CsvDialect = CsvDialect()  # of CSV input and output: --delimiter, --decimal

    def where(self, record: Record) -> str:
        return f"row {record.row} (line {record.line} of {self.source})"


class Lines:
    """The input's lines as text, decoded one at a time, each read in bounded memory.

    A line that is not UTF-8 costs only its own row: it is decoded with U+FFFD in place of the
    bad bytes and noted in ``bad``, which the readers turn into a reason to reject the row.
    Decoding a whole block at once would instead fail the file at an unknown line.

    A line longer than ``max_line_bytes`` (without its line ending) is never held whole: from a
    binary stream it is read with ``readline(limit)`` and the rest skipped up to the next
    newline, so one 300 MB line costs no more memory than a short one. It is noted in ``bad``
    and ``too_long`` and given to the reader as a bare newline.
    """

    def __init__(
        self, raw: Iterable[bytes] | Iterable[str] | BinaryIO, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    ) -> None:
        self._raw = raw
        self.max_line_bytes = max_line_bytes
        self.number = 0
        self.bad: dict[int, str] = {}
        self.too_long: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        limit = self.max_line_bytes
        for raw in self._bounded():
            self.number += 1
            if isinstance(raw, int):  # the length of a line too long to read
                self._too_long(raw)
                yield "\n"
                continue
            if isinstance(raw, str):  # stdin replaced by a text stream
                if len(raw.rstrip("\r\n")) > limit:
                    self._too_long(len(raw.rstrip("\r\n").encode("utf-8", errors="surrogatepass")))
                    yield "\n"
                    continue
                yield raw.removeprefix("\ufeff") if self.number == 1 else raw
                continue
            if len(raw.rstrip(b"\r\n")) > limit:  # an iterable of bytes (tests, embedding programs)
                self._too_long(len(raw.rstrip(b"\r\n")))
                yield "\n"
                continue
            if self.number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                self.bad[self.number] = (
                    f"line {self.number} is not UTF-8 text (byte 0x{raw[error.start]:02x} at "
                    f"position {error.start + 1}; bad bytes are shown as U+FFFD)"
                )
                yield raw.decode("utf-8", errors="replace")

    def _bounded(self) -> Iterator[bytes | str | int]:
        """Lines as given; from a binary stream, an int (the byte length) for each line too long."""
        readline = getattr(self._raw, "readline", None)
        if readline is None or isinstance(self._raw, io.TextIOBase):
            yield from self._raw
            return
        limit = self.max_line_bytes
        while True:
            # limit + 2: a line of exactly ``limit`` bytes may still end in \r\n
            line: bytes = readline(limit + 2)
            if not line:
                return
            if len(line.rstrip(b"\r\n")) <= limit:
                yield line
                continue
            length = len(line)
            while not line.endswith(b"\n"):
                line = readline(limit + 2)  # bounded pieces; the line is never held whole
                if not line:
                    break
                length += len(line)
            yield length - (2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0)

    def _too_long(self, length: int) -> None:
        self.too_long.add(self.number)
        self.bad[self.number] = (
            f"line {self.number} is {length:,} bytes long, more than --max-line-bytes "
            f"{self.max_line_bytes:,}; it was not read"
        )

    def take(self, first: int, last: int) -> list[str]:
        """The decoding problems of lines ``first`` to ``last``, forgotten once taken."""
        for number in range(first, last + 1):
            self.too_long.discard(number)
        return [self.bad.pop(number) for number in range(first, last + 1) if number in self.bad]


# ---------------------------------------------------------------------------------------------
# CSV


def _csv_number_allowed(spec: ColumnSpec) -> str:
    text = "a number"
    if spec.valid_range is not None:
        text += f" within [{spec.valid_range[0]!r}, {spec.valid_range[1]!r}]"
    return text + (", or an empty field for missing" if spec.nullable else "")


class CsvReader:
    """Reads the header, then one record per CSV row, parsing model columns without coercion."""

    def __init__(self, lines: Lines, layout: Layout) -> None:
        self._lines = lines
        self._layout = layout
        # strict: a stray quote is an error, not silently glued into the field. The field limit
        # bounds a quoted record spanning many lines as --max-line-bytes bounds one line (it is
        # the csv module's global setting: the command line reads one file per process).
        csv.field_size_limit(lines.max_line_bytes)
        self._reader = csv.reader(lines, strict=True, delimiter=layout.dialect.delimiter)
        self.header: list[str] | None = self._read_header()

    def _read_header(self) -> list[str]:
        source = self._layout.source
        try:
            header = next(self._reader)
            if not header and 1 in self._lines.too_long:
                header = [""]  # a header too long to read: refused below with its length
        except StopIteration:
            raise CliError(
                f"{source} is empty: the first line must be a header naming the columns",
                ExitCode.BAD_INPUT,
            ) from None
        except csv.Error as error:
            raise CliError(f"the header of {source} cannot be read as CSV: {error}", ExitCode.BAD_INPUT) from None
        problems = self._lines.take(1, self._reader.line_num)
        if problems:
            raise CliError(f"the header of {source} cannot be read: {problems[0]}", ExitCode.BAD_INPUT)
        return header

    def records(self) -> Iterator[Record]:
        reader = self._reader
        row = 0
        last_line = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                # The reader cannot tell where a broken row ends, so reading stops here.
                where = f"line {last_line + 1} of {self._layout.source}"
                if "field larger than field limit" in str(error):
                    fatal = (
                        f"{where} starts a record with a field longer than --max-line-bytes "
                        f"{self._lines.max_line_bytes:,} (a quote left open, or a value too large)"
                    )
                else:
                    fatal = f"{where} cannot be read as CSV: {error} (check the quoting)"
                yield Record(row + 1, last_line + 1, {}, fatal=fatal)
                return
            line, last_line = last_line + 1, reader.line_num
            if not fields:
                if line in self._lines.too_long:  # given as a bare newline; still a row
                    row += 1
                    yield Record(row, line, {}, problems=self._lines.take(line, line))
                continue
            row += 1
            yield self._record(row, line, last_line, fields)

    def _record(self, row: int, line: int, last_line: int, fields: list[str]) -> Record:
        header = self.header
        assert header is not None
        record = Record(row, line, dict(zip(header, fields)), raw=fields)
        if self._lines.bad:
            record.problems.extend(self._lines.take(line, last_line))
        width = len(header)
        if len(fields) != width:
            if len(fields) > width:
                detail = f"extra values {cap_list(fields[width:])}"
            else:
                detail = f"no value for {cap_list(header[len(fields) :])}"
            record.problems.append(
                f"has {len(fields)} fields, the header has {width} ({detail}); "
                "check the delimiters and quoting of this line"
            )
        for name in self._layout.columns:
            text = record.fields.get(name)
            if text is not None:  # None: a short row, reported above
                self._read_value(record, name, text)
        return record

    def _read_value(self, record: Record, name: str, text: str) -> None:
        if name not in self._layout.numbers:
            record.values[name] = text if text != "" else None
        elif text == "":
            record.values[name] = None
        elif (number := self._layout.dialect.number(text)) is not None:
            record.values[name] = number
        else:
            dialect = self._layout.dialect
            record.column_problems[name] = (
                f"{name} == {preview(text)} is not a number, must be "
                f"{_csv_number_allowed(self._layout.specs[name])}; numbers are written like "
                f"{dialect.example()}, and text is not converted{dialect.decimal_hint(text)}."
            )


def check_csv_header(header: Sequence[str], layout: Layout, model_label: str) -> None:
    """Refuse, before any output, a CSV whose columns cannot give every row to the model."""
    source = layout.source
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in header:
        if name in seen:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise CliError(
            f"the header of {source} names {cap_list(sorted(set(duplicates)))} more than once",
            ExitCode.BAD_INPUT,
        )
    model_columns = set(layout.columns)
    missing = [name for name in layout.columns if name not in seen]
    unknown = [name for name in header if name not in model_columns]
    if missing or (unknown and not layout.keep_extra):
        raise CliError(_header_mismatch(header, layout, model_label, missing, unknown), ExitCode.BAD_INPUT)
    clashes = [name for name in header if name in layout.reserved]
    if clashes:
        raise CliError(
            f"{source} has column(s) {cap_list(clashes)}, which the output adds: rename or drop them",
            ExitCode.BAD_INPUT,
        )


def _header_mismatch(
    header: Sequence[str], layout: Layout, model_label: str, missing: list[str], unknown: list[str]
) -> str:
    parts = []
    if missing:
        parts.append(f"missing {cap_list(missing)}")
    if unknown:
        parts.append(f"unknown {cap_list(unknown)}")
    fix = delimiter_hint(header, layout.dialect)
    if not fix and unknown and not missing:
        fix = "; pass --keep-extra to carry extra columns through unchanged (never to the model)"
    return (
        f"{layout.source} has {len(header)} columns, but model {model_label} expects "
        f"{len(layout.columns)}: " + "; ".join(parts) + fix
    )


# ---------------------------------------------------------------------------------------------
# JSON Lines


_JSON_TYPES = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class _DuplicateKey(Exception):
    pass


_unique_keys = refusing_duplicate_keys(_DuplicateKey)


# A \ud800-\udfff escape: the only way a JSON line decoded from UTF-8 can hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _json_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The line's object, or None and why the line is not one.

    Never raises for any text: json's own limits (an integer longer than Python's
    int-string limit, nesting deeper than the recursion limit) become reasons too.
    """
    try:
        # without the line ending: json counts an error at the end of the line as column 1 of the next
        data = json.loads(text.rstrip("\r\n"), object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        return None, f"is not valid JSON ({error.msg} at column {error.colno}): {_line_preview(text)}"
    except _DuplicateKey as error:
        return None, f"names key {preview(error.args[0])} twice; each column must appear once"
    except RecursionError:
        return None, f"nests arrays or objects too deeply to be read: {_line_preview(text)}"
    except ValueError:  # int("9" * 5000): Python refuses integers of more than sys.get_int_max_str_digits()
        return None, (
            f"holds an integer of more than {sys.get_int_max_str_digits():,} digits, which is not read: "
            f"{_line_preview(text)}"
        )
    if not isinstance(data, dict):
        kind = _JSON_TYPES.get(type(data), type(data).__name__)
        return None, f"is a JSON {kind}, expected an object of column -> value on each line"
    if _SURROGATE_ESCAPE.search(text):
        problem = _lone_surrogate(data)
        if problem is not None:
            return None, problem
    return data, None


def _line_preview(text: str) -> str:
    line = text.strip()
    if len(line) > _PREVIEW_CHARS:
        line = line[: _PREVIEW_CHARS - 3] + "..."
    return repr(line)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _lone_surrogate(data: dict[str, Any]) -> str | None:
    """Why ``data`` cannot be written as UTF-8 (a lone surrogate escape in a key or a string), or None.

    Such a row is rejected rather than carried: the output and rejects files must stay UTF-8.
    """
    fix = "JSON text must be valid Unicode (a \\ud800-\\udfff escape needs its pair)"
    for key, value in data.items():
        if _has_surrogate(key):
            return f"has a lone surrogate in the key {preview(key)}; {fix}"
        pending: list[Any] = [value]
        while pending:  # nested values too: --keep-extra writes them out
            item = pending.pop()
            if isinstance(item, str) and _has_surrogate(item):
                return f"has a lone surrogate in the value of key {preview(key)}: {preview(item)}; {fix}"
            if isinstance(item, dict):
                for inner_key, inner in item.items():
                    if _has_surrogate(inner_key):
                        return f"has a lone surrogate in a key inside the value of key {preview(key)}; {fix}"
                    pending.append(inner)
            elif isinstance(item, list):
                pending.extend(item)
    return None


class JsonlReader:
    """One record per non-blank line; values are passed as they are, keys checked per line."""

    header: list[str] | None = None

    def __init__(self, lines: Lines, layout: Layout) -> None:
        self._lines = lines
        self._layout = layout
        self._model_columns = frozenset(layout.columns)

    def records(self) -> Iterator[Record]:
        row = 0
        for text in self._lines:
            line = self._lines.number
            too_long = line in self._lines.too_long
            if not text.strip() and not too_long:
                continue
            row += 1
            record = Record(row, line, {})
            if self._lines.bad:
                record.problems.extend(self._lines.take(line, line))
            if too_long:
                yield record
                continue
            data, problem = _json_object(text)
            if data is None:
                assert problem is not None
                record.problems.append(problem)
            else:
                record.fields = data
                self._check_keys(record, data)
                self._read_values(record, data)
            yield record

    def _check_keys(self, record: Record, data: dict[str, Any]) -> None:
        layout = self._layout
        missing = [name for name in layout.columns if name not in data]
        unknown = [key for key in data if key not in self._model_columns]
        if missing:
            record.problems.append(f"has no key(s) {cap_list(missing)}: every model column is needed on every line")
        if unknown and not layout.keep_extra:
            record.problems.append(
                f"has unknown key(s) {cap_list(unknown)}; pass --keep-extra to carry extra "
                "keys through unchanged (the model never sees them)"
            )
        clashes = [key for key in unknown if key in layout.reserved]
        if clashes and layout.keep_extra:
            record.problems.append(f"has key(s) {cap_list(clashes)}, which the output adds; rename them")

    def _read_values(self, record: Record, data: dict[str, Any]) -> None:
        layout = self._layout
        for name in layout.columns:
            if name not in data:
                continue
            value = data[name]
            # json gives arbitrarily large ints; float() of one would raise OverflowError.
            if name in layout.numbers and type(value) is int and abs(value) > sys.float_info.max:
                record.column_problems[name] = (
                    # in full: json already caps an integer at 4,300 digits
                    f"{name} == {value!r} is too large for a float, must be {describe_allowed(layout.specs[name])}."
                )
                continue
            record.values[name] = value


# ---------------------------------------------------------------------------------------------
# opening


def open_input(
    path: str, stack: contextlib.ExitStack, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> tuple[Lines, str]:
    """The input's lines (UTF-8, a byte-order mark dropped) and its name for messages."""
    if path == "-":
        # bytes when possible, so decoding is ours; text if an embedding program replaced sys.stdin
        return Lines(getattr(sys.stdin, "buffer", sys.stdin), max_line_bytes=max_line_bytes), "stdin"
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- closed by the caller's ExitStack
    except OSError as error:
        raise CliError(f"cannot read --input {path!r}: {error.strerror or error}", ExitCode.USAGE) from None
    stack.enter_context(stream)
    return Lines(stream, max_line_bytes=max_line_bytes), repr(path)
