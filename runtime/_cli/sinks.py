"""Writing ``predict``'s output and rejects: CSV or JSON Lines sinks, atomic files, the input fields of a row.

Reading is :mod:`.tabular`; this module only writes. An output or rejects file is written under a
hidden partial name and renamed when the run completes (:func:`open_sink` with ``atomic``).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from collections.abc import Sequence
from typing import Any, Protocol, TextIO

from .._contract import ExitCode
from .._text import json_safe
from ._base import CliError
from .csv_dialect import DEFAULT_DIALECT, CsvDialect
from .tabular import Layout, Record

__all__ = ["EXTRA_FIELDS", "Fields", "Sink", "csv_text", "open_sink", "partial_name"]

# The key of a JSON reject that holds the values of a CSV row beyond its header's columns.
EXTRA_FIELDS = "extra_fields"


def csv_text(value: Any, dialect: CsvDialect = DEFAULT_DIALECT) -> str:
    """A value as a CSV field: numbers as Python writes them (with the dialect's decimal mark),
    missing as empty, flags "; "-joined."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else dialect.format_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "; ".join(value)  # flags
    return json.dumps(value, ensure_ascii=False)


class Sink(Protocol):
    # where the rows are until finish() renames the file to its name; None: written in place
    partial: str | None

    def write(self, items: list[tuple[str, Any]]) -> None: ...

    def flush(self) -> None: ...

    def finish(self) -> None: ...


class _Stream:
    """The stream a sink writes, and for an atomic file the rename that makes it final."""

    def __init__(self, stream: TextIO, partial: str | None = None, final: str | None = None) -> None:
        self._stream = stream
        self.partial = partial
        self._final = final

    def flush(self) -> None:
        self._stream.flush()

    def finish(self) -> None:
        """The run completed: the file gets its name (a rename in one folder, so never half there)."""
        self._stream.flush()
        if self.partial is not None and self._final is not None:
            self._stream.close()
            os.replace(self.partial, self._final)
            self.partial = None


class _CsvSink(_Stream):
    def __init__(
        self,
        stream: TextIO,
        columns: Sequence[str],
        partial: str | None = None,
        final: str | None = None,
        dialect: CsvDialect = DEFAULT_DIALECT,
    ):
        super().__init__(stream, partial, final)
        self._dialect = dialect
        self._writer = csv.writer(stream, lineterminator="\n", delimiter=dialect.delimiter)
        self._writer.writerow(columns)

    def write(self, items: list[tuple[str, Any]]) -> None:
        self._writer.writerow([csv_text(value, self._dialect) for _, value in items])


class _JsonlSink(_Stream):
    def write(self, items: list[tuple[str, Any]]) -> None:
        # Standard JSON has no NaN or infinity: NaN (a missing number) and the infinities a
        # rejected row may hold are written as null; the reject reason still names the value.
        self._stream.write(json.dumps(json_safe(dict(items)), ensure_ascii=False, allow_nan=False) + "\n")


class Fields:
    """Turns a record's fields into the input part of an output or reject row."""

    def __init__(self, layout: Layout, input_format: str, header: Sequence[str] | None) -> None:
        self._csv_input = input_format == "csv"
        # the input columns of a CSV sink: the CSV header, or the model's columns for JSON Lines
        self.columns: tuple[str, ...] = tuple(header) if header is not None else layout.columns

    def as_read(self, record: Record, *, for_json: bool) -> list[tuple[str, Any]]:
        """A rejected row's fields exactly as read, for the rejects file.

        A CSV row keeps its own number of fields: a short row is not padded with empty fields (which
        would read back as missing values) and a long one keeps its extra values. In a CSV rejects
        file they follow ``row``, ``input_line`` and ``reason`` in the order read; in JSON the
        fields the row had are keyed by column and the extra ones listed under ``extra_fields``.
        JSON Lines input keeps its object as read.
        """
        if not self._csv_input:
            return self.items(record, for_json=for_json, typed=False)
        raw = record.raw or []
        if not for_json:
            return [(self.columns[i] if i < len(self.columns) else "", value) for i, value in enumerate(raw)]
        items: list[tuple[str, Any]] = [(name, record.fields[name]) for name in self.columns if name in record.fields]
        if len(raw) > len(self.columns):
            items.append((EXTRA_FIELDS, raw[len(self.columns) :]))
        return items

    def items(self, record: Record, *, for_json: bool, typed: bool) -> list[tuple[str, Any]]:
        if not for_json:
            return [(name, record.fields.get(name, "" if self._csv_input else None)) for name in self.columns]
        if not self._csv_input:
            return list(record.fields.items())
        if not typed:  # rejects keep the text exactly as read
            return [(name, record.fields.get(name, "")) for name in self.columns]
        return [
            (name, record.values[name] if name in record.values else record.fields.get(name, ""))
            for name in self.columns
        ]


def partial_name(path: str) -> str:
    """Where ``path`` is written until the run completes: a hidden name in the same folder.

    >>> partial_name("out/predictions.csv").startswith("out/.predictions.csv.partial-")
    True
    """
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.partial-{os.getpid()}")


def open_sink(
    path: str,
    kind: str,
    columns: Sequence[str],
    stack: contextlib.ExitStack,
    stdout: TextIO,
    *,
    atomic: bool = False,
    dialect: CsvDialect = DEFAULT_DIALECT,
) -> Sink:
    """A writer of ``kind`` rows to ``path`` (``-``: ``stdout``); a CSV gets its header at once, and
    its fields are separated and its numbers written as ``dialect`` says.

    ``atomic``: the file is written under :func:`partial_name` and renamed to ``path`` by the
    sink's ``finish()``; a run that stops, is interrupted or killed leaves no file named ``path``
    (the partial one stays for inspection).
    """
    partial = None
    if path == "-":
        stream = stdout
    else:
        partial = partial_name(path) if atomic else None
        try:
            # closed by the caller's ExitStack
            stream = open(partial or path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as error:
            raise CliError(f"cannot write {path!r}: {error.strerror or error}", ExitCode.USAGE) from None
        stack.enter_context(stream)
    final = path if partial is not None else None
    return _CsvSink(stream, columns, partial, final, dialect) if kind == "csv" else _JsonlSink(stream, partial, final)
