"""``python -m runtime predict``: predict every row of a CSV or JSON Lines file, streamed in chunks.

The options are checked before anything is opened; then the bundle is loaded, and each chunk of
records is validated and predicted with ``Model.predict_batch`` and written, in input order, to the
output or the rejects file. The file formats live in :mod:`runtime._cli.tabular`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .._contract import ExitCode
from .._errors import InputError
from .._model import Model, RejectedRow, load
from .._validation import ColumnRule, first_per_column, policy_hints
from ._base import BUNDLE_HELP, ON_UNKNOWN_CHOICES, CliError, Console, positive_int
from .csv_dialect import DECIMAL_MARKS, CsvDialect
from .outputs import prediction_columns, prediction_items
from .sinks import EXTRA_FIELDS, Fields, Sink, open_sink
from .tabular import (
    DEFAULT_MAX_LINE_BYTES,
    SUFFIX_FORMATS,
    CsvReader,
    JsonlReader,
    Layout,
    Lines,
    Record,
    check_csv_header,
    format_of,
    open_input,
)

__all__ = ["CLI_FLAG_HINT", "CLI_HINTS", "DEFAULT_CHUNK_SIZE", "DESCRIPTION", "EXIT_CODES", "add_arguments", "run"]

DESCRIPTION = """\
Predict every row of a CSV or JSON Lines file and write the rows with their predictions.

The input is streamed in chunks (--chunk-size rows at a time), so files larger than memory work.
Formats come from --input-format / --format or the file suffix (.csv, .jsonl, .ndjson); stdin
needs --input-format, stdout defaults to CSV. Files are UTF-8.

Input:
  CSV: the header names the columns, in any order. In a number column an empty field is
    missing and anything else must be a number written like 12.5 or -3e-2 (nan is read as
    missing, inf is refused by validation); in a category column the text is the category and
    an empty field is missing. Nothing is coerced. Blank lines are ignored.
    --delimiter ';' --decimal , read a European spreadsheet's export (298,1 is then a number and
    298.1 is refused, never guessed); output and rejects CSV are written in the same dialect. A
    header that reads as one column holding ';' (or a tab, or '|') is refused with the option to pass.
  JSON Lines: one JSON object per line, values passed as they are (a string "3.5" in a number
    column is refused). Each line must hold every model column. Blank lines are ignored.
  Columns the model does not know are refused, unless --keep-extra: then they are carried to
    the output unchanged and never given to the model. (With JSON Lines input, --keep-extra
    needs JSON Lines output and rejects, as the extra keys may differ from line to line.)
  Rows are numbered from 1, counting data rows only (not the header, not blank lines);
  messages also give the line of the file where the row starts: "row 3 (line 4 of in.csv)".
  (The Python API and the server count a batch's rows from 0, as list indices: row 3 here
  is row 2 there.)

Output: the input columns as read (names unchanged, spaces and brackets included), then
  label and probability_<class> for each class in class order (classifiers) or value
  (regressors), then flags with --on-unknown flag or --on-out-of-range flag (unknown
  categories, numbers outside the valid range; "; "-separated in CSV, a list in JSON). JSON
  output is standard JSON: a missing number is written as null, and from CSV input the
  model's number columns are written as numbers. A summary of rows read, predicted and
  rejected goes to stderr at the end.

Bad rows (not a number, out of range, missing where not allowed, an unknown category, not
UTF-8, malformed JSON or JSON Python cannot hold (an integer of more than 4,300 digits,
nesting too deep, a lone \\ud800-\\udfff escape), the wrong number of fields, a line longer
than --max-line-bytes):
  --on-error stop  (default) stop at the first bad row with exit code 2; the partial output
                   then holds every row before it, and the message says how many.
  --on-error skip  write bad rows to --rejects FILE (.csv or .jsonl; created even when empty)
                   and go on; the exit code is 1 if any row was rejected, and always
                   read == predicted + rejected. Each reject holds row, input_line, reason
                   (all reasons joined with "; "), then the row's fields exactly as read: a
                   CSV row with too few or too many fields keeps its own count (never padded
                   with empty fields, which would read back as missing values; in .jsonl the
                   values past the header are listed under extra_fields).
  A file that cannot be parsed past some line (a CSV quote left open) stops with exit code 2
  under either policy, after writing every row before it.

Output and rejects files are written under a hidden name in the same folder
(.NAME.partial-PID) and renamed to NAME only when the run completes. A run that stops (exit
2 or 4), is interrupted or is killed leaves no file named NAME; the partial file is kept for
inspection (the message names it) and may be deleted. stdout is written as it goes.
"""
EXIT_CODES = frozenset({ExitCode.OK, ExitCode.REJECTED_ROWS, ExitCode.BAD_INPUT, ExitCode.BUNDLE_REFUSED})

DEFAULT_CHUNK_SIZE = 10_000
# The progress line is redrawn at most this often; a terminal flooded with redraws slows the run.
PROGRESS_INTERVAL_S = 0.2
# How a reason tells a command-line user to accept an unknown category or a value out of range.
CLI_HINTS = policy_hints("(pass {option} flag to accept and flag it)")
CLI_FLAG_HINT = CLI_HINTS["on_unknown"]
# A reject starts with where it was and why; its fields follow as read (Fields.as_read).
REJECT_COLUMNS = ("row", "input_line", "reason")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help=BUNDLE_HELP)
    parser.add_argument("--input", "-i", required=True, metavar="FILE|-", help="the rows to predict; - is stdin")
    parser.add_argument("--input-format", choices=("csv", "jsonl"), help="input format (default: from the suffix)")
    parser.add_argument("--output", "-o", default="-", metavar="FILE|-", help="where to write; - is stdout (default)")
    parser.add_argument(
        "--format",
        "--output-format",
        dest="output_format",
        choices=("csv", "jsonl"),
        help="output format (default: from the output suffix, csv for stdout)",
    )
    parser.add_argument(
        "--on-error", choices=("stop", "skip"), default="stop", help="what a bad row does (default: stop)"
    )
    parser.add_argument(
        "--rejects", metavar="FILE", help="with --on-error skip (required): where bad rows go, .csv or .jsonl"
    )
    parser.add_argument(
        "--on-unknown",
        choices=ON_UNKNOWN_CHOICES,
        default="reject",
        help="an unknown category is a bad row (reject, default), or is predicted and listed in "
        "the flags column (flag)",
    )
    parser.add_argument(
        "--on-out-of-range",
        choices=ON_UNKNOWN_CHOICES,
        default="reject",
        help="a number outside its column's valid range is a bad row (reject, default), or is "
        "predicted as it is and listed in the flags column (flag)",
    )
    parser.add_argument(
        "--keep-extra",
        action="store_true",
        help="carry input columns the model does not know through to the output unchanged "
        "(the model never sees them); without it they are refused",
    )
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=DEFAULT_CHUNK_SIZE,
        metavar="N",
        help=f"rows read, validated and predicted at a time (default: {DEFAULT_CHUNK_SIZE:,})",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=positive_int,
        default=DEFAULT_MAX_LINE_BYTES,
        metavar="N",
        help=f"a longer line (or CSV field) is a bad row, skipped unread in bounded memory; a CSV "
        f"record with a longer quoted field stops the run (default: {DEFAULT_MAX_LINE_BYTES:,} = 1 MiB)",
    )
    parser.add_argument(
        "--delimiter",
        default=",",
        metavar="CHAR",
        help="CSV field delimiter of the input, output and rejects (default ','; ';' for European "
        "spreadsheet exports, '\\t' for tabs)",
    )
    parser.add_argument(
        "--decimal",
        choices=DECIMAL_MARKS,
        default=".",
        metavar="MARK",
        help="CSV decimal mark (default '.'; ',' reads 298,1 and refuses 298.1, and writes numbers so)",
    )
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N", help="onnxruntime threads (default: 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr, even on a terminal")


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    formats = _check_options(args)
    with contextlib.ExitStack() as stack:
        lines, source = open_input(args.input, stack, max_line_bytes=args.max_line_bytes)
        model = load(
            args.bundle, threads=args.threads, on_unknown=args.on_unknown, on_out_of_range=args.on_out_of_range
        )
        counts = _Job(args, formats, model, lines, source, stack, console).run()
    return ExitCode.REJECTED_ROWS if counts.rejected else ExitCode.OK


# ---------------------------------------------------------------------------------------------
# options: everything that can be refused before a file is opened or the bundle loaded


@dataclass(frozen=True)
class _Formats:
    input: str
    output: str
    rejects: str | None  # None: no rejects file (--on-error stop)
    dialect: CsvDialect = CsvDialect()


def _dialect(args: argparse.Namespace) -> CsvDialect:
    try:
        return CsvDialect("\t" if args.delimiter in ("\\t", "tab") else args.delimiter, args.decimal)
    except ValueError as error:
        raise CliError(str(error), ExitCode.USAGE) from None


def _check_options(args: argparse.Namespace) -> _Formats:
    formats = _Formats(
        input=format_of(args.input, args.input_format, "--input-format"),
        output=format_of(args.output, args.output_format, "--format", stdout_default="csv"),
        rejects=_rejects_format(args),
        dialect=_dialect(args),
    )
    if formats.dialect != CsvDialect() and "csv" not in (formats.input, formats.output, formats.rejects):
        raise CliError("--delimiter and --decimal apply to CSV files; no file of this run is CSV", ExitCode.USAGE)
    if args.keep_extra and formats.input == "jsonl" and "csv" in (formats.output, formats.rejects):
        raise CliError(
            "--keep-extra with JSON Lines input needs JSON Lines output and rejects: the extra "
            "keys may differ from line to line, and a CSV header cannot",
            ExitCode.USAGE,
        )
    paths = [("--input", args.input), ("--output", args.output)] + (
        [("--rejects", args.rejects)] if args.rejects else []
    )
    for index, (first_option, first) in enumerate(paths):
        for second_option, second in paths[index + 1 :]:
            if _same_file(first, second):
                raise CliError(f"{first_option} and {second_option} are the same file ({first!r})", ExitCode.USAGE)
    return formats


def _rejects_format(args: argparse.Namespace) -> str | None:
    skip = args.on_error == "skip"
    if skip and not args.rejects:
        raise CliError("--on-error skip needs --rejects FILE (.csv or .jsonl) to write the bad rows to", ExitCode.USAGE)
    if not args.rejects:
        return None
    if not skip:
        raise CliError("--rejects is only used with --on-error skip", ExitCode.USAGE)
    if args.rejects == "-":
        raise CliError("--rejects needs a file (.csv or .jsonl), not -", ExitCode.USAGE)
    rejects_format = SUFFIX_FORMATS.get(Path(args.rejects).suffix.lower())
    if rejects_format is None:
        raise CliError(f"--rejects {args.rejects!r} needs a .csv, .jsonl or .ndjson suffix", ExitCode.USAGE)
    return rejects_format


def _same_file(first: str, second: str) -> bool:
    if first == "-" or second == "-":
        return False
    with contextlib.suppress(OSError):
        if os.path.exists(first) and os.path.exists(second):
            return os.path.samefile(first, second)
    return Path(first).resolve() == Path(second).resolve()


# ---------------------------------------------------------------------------------------------
# validating and predicting a chunk


class _Predictor:
    """Validates and predicts one chunk of records with ``Model.predict_batch``."""

    def __init__(self, model: Model) -> None:
        self._model = model
        self._flags = _flags_column(model)

    def run(self, chunk: Sequence[Record]) -> None:
        """Set each record's ``reasons`` (it is rejected) or its ``prediction``."""
        good: list[Record] = []
        for record in chunk:
            if record.readable:
                good.append(record)
            elif record.fatal is None:
                record.reasons = self._unreadable_reasons(record)
        if not good:
            return
        rules = self._model.rules
        columns = {rule.name: _column_array(rule, [record.values[rule.name] for record in good]) for rule in rules}
        result = self._model.predict_batch(columns, errors="skip")
        for rejected in result.rejected:
            good[rejected.row].reasons = _batch_reasons(rejected)
        for position, index in enumerate(result.rows.tolist()):
            good[index].prediction = prediction_items(result, position, flags=self._flags)

    def _unreadable_reasons(self, record: Record) -> list[str]:
        """Every reason of a row the batch never sees: what the reader found, then each value's check."""
        reasons = list(record.problems)
        for rule in self._model.rules:
            if rule.name in record.column_problems:
                reasons.append(record.column_problems[rule.name])
            elif rule.name in record.values:
                problem = _value_problem(self._model, rule, record.values[rule.name])
                if problem is not None:
                    reasons.append(problem)
        return reasons


def _flags_column(model: Model) -> bool:
    """Whether the output has a flags column: when either policy accepts and flags values."""
    return "flag" in (model.on_unknown, model.on_out_of_range)


def _value_problem(model: Model, rule: ColumnRule, value: Any) -> str | None:
    """Why ``value`` is refused under ``model``'s policies, worded for the command line; None when it is fine."""
    try:
        if rule.is_number:
            rule.number(value, [] if model.on_out_of_range == "flag" else None)
        else:
            rule.category(value, model.on_unknown, [])
    except InputError as error:
        return error.render(row=False, hints=CLI_HINTS)
    return None


def _batch_reasons(rejected: RejectedRow) -> list[str]:
    """The reasons of a row the batch rejected, without the batch's row number, one per column."""
    return [problem.render(row=False, hints=CLI_HINTS) for problem in first_per_column(rejected.problems)]


def _column_array(rule: ColumnRule, values: list[Any]) -> np.ndarray:
    """A 1-D array for one column; built item by item so a list value cannot add a dimension.

    Numbers go in as float64 when all are floats or allowed to be missing; otherwise as objects,
    so a refused None is named as None (as for a single record), not as the NaN it would become.
    """
    if rule.is_number and all(type(value) is float or (value is None and rule.nullable) for value in values):
        return np.array([math.nan if value is None else value for value in values], dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size or record.fatal is not None:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------------------------
# the run: read, predict and write chunk by chunk


@dataclass
class _Counts:
    read: int = 0
    predicted: int = 0
    rejected: int = 0


class _Job:
    """One predict run over an opened input: its reader, sinks, counts and progress line."""

    def __init__(
        self,
        args: argparse.Namespace,
        formats: _Formats,
        model: Model,
        lines: Lines,
        source: str,
        stack: contextlib.ExitStack,
        console: Console,
    ) -> None:
        predictions = prediction_columns(model, flags=_flags_column(model))
        layout = Layout(
            source=source,
            columns=model.columns,
            numbers=frozenset(rule.name for rule in model.rules if rule.is_number),
            specs={spec.name: spec for spec in model.manifest.inputs},
            keep_extra=args.keep_extra,
            reserved=frozenset(predictions + ([*REJECT_COLUMNS, EXTRA_FIELDS] if formats.rejects else [])),
            dialect=formats.dialect,
        )
        self._reader = _reader(formats.input, lines, layout, f"{model.name!r} {model.version}")
        self._fields = Fields(layout, formats.input, self._reader.header)
        self._where = layout.where
        columns = list(self._fields.columns)
        self._output_name = "stdout" if args.output == "-" else repr(args.output)
        dialect = layout.dialect
        self._output = open_sink(
            args.output, formats.output, columns + predictions, stack, console.stdout, atomic=True, dialect=dialect
        )
        self._output_json = formats.output == "jsonl"
        self._rejects: Sink | None = None
        self._rejects_name = repr(args.rejects)
        self._rejects_json = formats.rejects == "jsonl"
        if formats.rejects is not None:
            reject_columns = list(REJECT_COLUMNS) + columns
            self._rejects = open_sink(
                args.rejects, formats.rejects, reject_columns, stack, console.stdout, atomic=True, dialect=dialect
            )
        self._chunk_size: int = args.chunk_size
        self._predictor = _Predictor(model)
        self._stderr = console.stderr
        # Not when the rows themselves go to the same terminal: the line would be drawn into them.
        shown = _isatty(console.stderr) and not (args.output == "-" and _isatty(console.stdout))
        self._progress = _Progress(console.stderr, shown and not args.no_progress)
        self.counts = _Counts()

    def run(self) -> _Counts:
        # Rows are written in input order as each chunk is done, so whatever stops the run
        # leaves complete output for every row before the one that stopped it.
        try:
            for chunk in _chunks(self._reader.records(), self._chunk_size):
                self._predictor.run(chunk)
                for record in chunk:
                    self._write(record)
                self._flush()
                self._progress.update(self.counts.read)
        finally:
            self._progress.clear()
        assert self.counts.read == self.counts.predicted + self.counts.rejected
        self._output.finish()
        if self._rejects is not None:
            self._rejects.finish()
        self._stderr.write(self._outcome() + "\n")
        self._stderr.flush()
        return self.counts

    def _write(self, record: Record) -> None:
        if record.fatal is not None:
            self._flush()
            raise CliError(f"{record.fatal}; stopped after it: {self._outcome()}", ExitCode.BAD_INPUT)
        if record.reasons and self._rejects is None:
            self._flush()
            raise self._stopped_at(record)
        self.counts.read += 1
        if record.reasons:
            assert self._rejects is not None
            where = [("row", record.row), ("input_line", record.line), ("reason", _joined(record.reasons))]
            self._rejects.write(where + self._fields.as_read(record, for_json=self._rejects_json))
            self.counts.rejected += 1
        else:
            assert record.prediction is not None
            self._output.write(self._fields.items(record, for_json=self._output_json, typed=True) + record.prediction)
            self.counts.predicted += 1

    def _flush(self) -> None:
        self._output.flush()
        if self._rejects is not None:
            self._rejects.flush()

    def _outcome(self) -> str:
        counts = self.counts
        output = _name(self._output, self._output_name)
        text = f"read {_rows(counts.read)}: {counts.predicted:,} predicted (written to {output})"
        if self._rejects is not None:
            text += f", {counts.rejected:,} rejected (written to {_name(self._rejects, self._rejects_name)})"
        return text

    def _stopped_at(self, record: Record) -> CliError:
        predicted = self.counts.predicted
        before = f"{_rows(predicted)} before it {'was' if predicted == 1 else 'were'}"
        return CliError(
            f"stopped at {self._where(record)}: {_joined(record.reasons)}. {before} "
            f"predicted and written to {_name(self._output, self._output_name)}; pass --on-error skip --rejects FILE "
            "to set bad rows aside and go on",
            ExitCode.BAD_INPUT,
        )


def _reader(input_format: str, lines: Lines, layout: Layout, model_label: str) -> CsvReader | JsonlReader:
    if input_format == "jsonl":
        return JsonlReader(lines, layout)
    reader = CsvReader(lines, layout)
    assert reader.header is not None
    check_csv_header(reader.header, layout, model_label)
    return reader


def _name(sink: Sink, name: str) -> str:
    """A sink's name for messages: the partial file while the run has not completed."""
    if sink.partial is None:
        return name
    return f"{sink.partial!r} (kept under that name, as the run did not complete; {name} was not written)"


def _joined(reasons: Iterable[str]) -> str:
    """Reasons as one line: "a; b; c", without the full stops that end each one."""
    return "; ".join(reason.rstrip(".") for reason in reasons)


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


# ---------------------------------------------------------------------------------------------
# progress


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Progress:
    """A single updating line on stderr: rows processed and rows per second."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._started = time.perf_counter()
        self._last = -math.inf
        self._width = 0

    def update(self, rows: int) -> None:
        if not self._enabled:
            return
        now = time.perf_counter()
        if now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        rate = rows / max(now - self._started, 1e-9)
        text = f"{rows:,} rows, {rate:,.0f} rows/s"
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self._enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
