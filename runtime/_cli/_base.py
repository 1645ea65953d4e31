"""The device command line, ``python -m runtime``: ``info`` describes a bundle, ``predict`` scores
files.

Only the standard library, numpy and onnxruntime are used, like the rest of ``runtime``. This is the
one module of the package that writes to stdout and stderr.

Exit codes (also in ``--help``)::

    0    every row was predicted (or, for info, the bundle was described)
    1    predict --on-error skip: some rows were rejected and written to the rejects file
    2    bad input: a bad row under --on-error stop, or a file whose columns, encoding or syntax
         do not fit the model
    3    the bundle was refused at load (hash, manifest, golden cases, ...); nothing was predicted
    4    usage or I/O error: bad options, an unreadable input, an unwritable output
    5    internal error (a bug): rerun with --verbose for the traceback
    130  interrupted (Ctrl-C)

Adding a subcommand (``serve`` and ``drift`` are planned): write
``_add_<name>(subcommands, common)`` that creates its parser with ``parents=[common]`` (which
gives it ``--verbose``) and sets ``run=<function(args, console) -> exit code>``, then append it to
``_COMMANDS``. Expected failures raise :class:`CliError` with a one-line message and an exit code;
:func:`main` prints it. An optional dependency is imported inside the run function, and its
ImportError names the extra to install.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol, TextIO

import numpy as np

from .._errors import BundleError, InputError
from .._manifest import ColumnSpec, Label
from .._model import BatchPrediction, Model, load
from .._text import json_safe
from .._validation import UNKNOWN_HINT, ColumnRule, UnknownPolicy, cap_list, compile_rules, describe_allowed
from .monitor import add_drift, add_feedback

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BUNDLE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "CliError",
    "Console",
    "build_parser",
    "main",
    "model_summary",
    "prediction_columns",
]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_BAD_INPUT = 2
EXIT_BUNDLE = 3
EXIT_USAGE = 4
EXIT_INTERNAL = 5
EXIT_INTERRUPTED = 130

PROG = "python -m runtime"

EXIT_CODES_HELP = """\
exit codes:
  0    success (predict: every row was predicted)
  1    --on-error skip: some rows were rejected (see the rejects file); the rest were predicted
  2    bad input: a bad row under --on-error stop, or an input file whose columns,
       encoding or syntax do not fit the model
  3    the bundle was refused at load (hash, manifest, golden cases); nothing was predicted
  4    usage or I/O error (bad options, unreadable input, unwritable output)
  5    internal error (a bug): rerun with --verbose for the traceback
  130  interrupted"""

DEFAULT_CHUNK_SIZE = 10_000
# The progress line is redrawn at most this often; a terminal flooded with redraws slows the run.
PROGRESS_INTERVAL_S = 0.2

_SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# What a number looks like in a CSV field. Python's float() also takes "1_000" and non-ASCII digits;
# those are refused rather than read as something the writer may not have meant. nan/inf spellings
# are let through so the runtime's validation words the refusal (inf is never valid, nan is
# missing).
_NUMBER_TEXT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE | re.ASCII)
_RUNTIME_FLAG_HINT = UNKNOWN_HINT
_CLI_FLAG_HINT = "(pass --on-unknown flag to accept and flag it)"
_REJECT_COLUMNS = ("row", "reason")


class CliError(Exception):
    """An expected failure: ``main`` prints the one-line message and returns ``exit_code``."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Console:
    """Where a command writes; taken when ``main`` runs, so tests can capture the streams."""

    stdout: TextIO
    stderr: TextIO

    def error_line(self, message: str) -> None:
        self.stderr.write("error: " + message.replace("\r", " ").replace("\n", " ") + "\n")
        self.stderr.flush()


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 4) instead of usage text and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see {self.prog} --help)", EXIT_USAGE)


class _Command(Protocol):
    def __call__(self, args: argparse.Namespace, console: Console) -> int: ...


# ---------------------------------------------------------------------------------------------
# entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Examples
    --------
    >>> from runtime._cli import main
    >>> main(["info", "models/quality"])  # doctest: +SKIP
    0
    """
    console = Console(sys.stdout, sys.stderr)
    verbose = False
    try:
        # --help and --version print, then "exit": return their code instead of exiting.
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else EXIT_OK
        verbose = bool(getattr(args, "verbose", False))
        run: _Command = args.run
        with _verbose_logging(verbose, console.stderr):
            return run(args, console)
    except CliError as error:
        return _fail(console, str(error), error.exit_code, verbose)
    except BundleError as error:
        return _fail(console, f"bundle refused: {error}", EXIT_BUNDLE, verbose)
    except InputError as error:
        return _fail(console, str(error), EXIT_BAD_INPUT, verbose)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): point stdout at devnull so the
        # interpreter's final flush does not print a second error.
        with contextlib.suppress(OSError, AttributeError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), console.stdout.fileno())
        return _fail(console, "output closed early (broken pipe)", EXIT_USAGE, verbose)
    except OSError as error:
        return _fail(console, _os_error_text(error), EXIT_USAGE, verbose)
    except KeyboardInterrupt:
        return _fail(console, "interrupted", EXIT_INTERRUPTED, verbose)
    # A bug: still one line, and the traceback with --verbose.
    except Exception as error:  # noqa: BLE001
        return _fail(
            console,
            f"internal error: {type(error).__name__}: {error} (rerun with --verbose for the traceback)",
            EXIT_INTERNAL,
            verbose,
        )


def _fail(console: Console, message: str, code: int, verbose: bool) -> int:
    if verbose:
        traceback.print_exc(file=console.stderr)
    console.error_line(message)
    return code


def _os_error_text(error: OSError) -> str:
    if error.filename is not None:
        return f"{error.strerror or error}: {str(error.filename)!r}"
    return str(error)


@contextlib.contextmanager
def _verbose_logging(verbose: bool, stream: TextIO) -> Iterator[None]:
    """With --verbose, show the runtime's log (what load verified) on stderr during this call."""
    if not verbose:
        yield
        return
    logger = logging.getLogger("runtime")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with every subcommand in ``_COMMANDS``."""
    from .. import __version__

    parser = _Parser(
        prog=PROG,
        description="Verify factory-edge model bundles and predict with them (numpy + onnxruntime only).",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"factory-edge runtime {__version__}")
    common = _Parser(add_help=False)
    common.add_argument(
        "--verbose",
        action="store_true",
        help="on errors, also print the traceback; log what load verified",
    )
    subcommands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(subcommands, common)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


# ---------------------------------------------------------------------------------------------
# info


def _add_info(subcommands: Any, common: argparse.ArgumentParser) -> None:
    info = subcommands.add_parser(
        "info",
        parents=[common],
        help="verify a bundle and show what it expects and what it was proven to do",
        description=(
            "Load (and so verify: sha256, manifest, golden cases) a bundle and print what it "
            "expects: every input column with its kind, whether it may be missing, its valid range "
            "or categories; the classes and output columns; the metrics, parity proof, export "
            "libraries and measured performance recorded at export."
        ),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("bundle", metavar="PATH", help="a version folder or a model folder with a CURRENT file")
    info.add_argument("--json", action="store_true", help="print one machine-readable JSON object instead of text")
    info.set_defaults(run=_run_info)


def _run_info(args: argparse.Namespace, console: Console) -> int:
    model = load(args.bundle)
    summary = model_summary(model)
    if args.json:
        console.stdout.write(json.dumps(json_safe(summary), indent=2, ensure_ascii=False) + "\n")
    else:
        console.stdout.write(_info_text(summary))
    console.stdout.flush()
    return EXIT_OK


def prediction_columns(model: Model, *, flags: bool = False) -> list[str]:
    """The columns ``predict`` adds: label and probability_<class> per class, or value; flags."""
    if model.classes is not None:
        columns = ["label", *(f"probability_{label}" for label in model.classes)]
    else:
        columns = ["value"]
    return columns + (["flags"] if flags else [])


def model_summary(model: Model) -> dict[str, Any]:
    """What ``info --json`` prints: a plain dict describing a loaded (so verified) bundle."""
    manifest = model.manifest
    parity = manifest.parity
    return {
        "name": manifest.name,
        "version": manifest.version,
        "task": manifest.task,
        "target": manifest.target,
        "description": manifest.description,
        "created_at": manifest.created_at,
        "schema_version": manifest.schema_version,
        "path": str(model.path),
        "model_file": manifest.model_file.to_dict(),
        "inputs": [_column_summary(column) for column in manifest.inputs],
        "classes": list(manifest.classes) if manifest.classes is not None else None,
        "output": {
            "columns": prediction_columns(model),
            "onnx_output": manifest.outputs.probabilities if manifest.is_classifier else manifest.outputs.value,
            "label_tie_tolerance": manifest.label_tie_tolerance if manifest.is_classifier else None,
        },
        "metrics": {
            name: value
            for name in ("held_out_rows", "accuracy", "macro_f1", "roc_auc", "mae", "rmse", "r2")
            if (value := getattr(manifest.metrics, name)) is not None
        },
        "parity": {
            "passed": parity.passed if parity.recorded else None,
            "cases": parity.total_cases if parity.recorded else None,
            "label_mismatches": parity.label_mismatches if parity.recorded else None,
            "max_abs_diff": parity.max_abs_diff,
            "tolerance": parity.tolerance if parity.tolerance is not None else manifest.tolerance,
            "notes": list(parity.notes),
        },
        "golden_cases": len(manifest.golden_cases),
        "libraries": dict(manifest.libraries),
        "performance": manifest.performance.to_dict() or None,
    }


def _column_summary(column: ColumnSpec) -> dict[str, Any]:
    return {
        "name": column.name,
        "kind": column.kind,
        "nullable": column.nullable,
        "valid_range": list(column.valid_range) if column.valid_range is not None else None,
        "range_source": column.range_source,
        "categories": list(column.categories) if column.categories is not None else None,
        "description": column.description,
        "accepts": describe_allowed(column),
    }


_METRIC_NAMES = {
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
    "roc_auc": "ROC AUC",
    "mae": "MAE",
    "rmse": "RMSE",
    "r2": "R2",
}
_CATEGORIES_SHOWN = 10


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _info_text(summary: Mapping[str, Any]) -> str:
    lines: list[str] = []
    task = summary["task"].replace("_", " ")
    target = f" of {summary['target']!r}" if summary.get("target") else ""
    lines.append(f"{summary['name']} {summary['version']}: {task}{target}")
    if summary.get("description"):
        lines.append(f"  {summary['description']}")
    sha256 = summary["model_file"]["sha256"]
    lines.append(f"{'created':<12}{summary['created_at']}")
    lines.append(
        f"{'bundle':<12}{summary['path']} (verified: sha256 {sha256[:12]}..., "
        f"{summary['golden_cases']} golden cases reproduced)"
    )

    lines += ["", f"inputs ({len(summary['inputs'])} columns, all required, any order):"]
    table = [("column", "kind", "nullable", "accepts")]
    for column in summary["inputs"]:
        if column["kind"] == "number":
            if column["valid_range"] is not None:
                low, high = column["valid_range"]
                source = f" (valid range from {column['range_source']})" if column.get("range_source") else ""
                accepts = f"[{float(low)!r}, {float(high)!r}]{source}"
            else:
                accepts = "any finite number"
        else:
            categories = column["categories"] or []
            accepts = ", ".join(repr(category) for category in categories[:_CATEGORIES_SHOWN])
            if len(categories) > _CATEGORIES_SHOWN:
                accepts += f", and {len(categories) - _CATEGORIES_SHOWN} more (see --json)"
        table.append((column["name"], column["kind"], "yes" if column["nullable"] else "no", accepts))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3])

    lines.append("")
    output = summary["output"]
    if summary["classes"] is not None:
        lines.append(f"{'classes':<12}{', '.join(repr(label) for label in summary['classes'])}")
    lines.append(f"{'output':<12}{', '.join(output['columns'])} (ONNX output {output['onnx_output']!r})")

    metrics = summary["metrics"]
    shown = [f"{label} {_number(metrics[key])}" for key, label in _METRIC_NAMES.items() if key in metrics]
    held_out = f" on {_number(metrics['held_out_rows'])} held-out rows" if "held_out_rows" in metrics else ""
    lines.append(f"{'metrics':<12}{', '.join(shown) + held_out if shown else 'not recorded'}")

    parity = summary["parity"]
    if parity.get("cases") is None:
        lines.append(f"{'parity':<12}not recorded")
    else:
        verdict = "passed" if parity.get("passed") else "FAILED"
        diff = parity.get("max_abs_diff")
        diff_text = f"{diff:.3g}" if isinstance(diff, (int, float)) else "?"
        tolerance = parity.get("tolerance")
        tolerance_text = f"{tolerance:g}" if isinstance(tolerance, (int, float)) else "?"
        lines.append(
            f"{'parity':<12}{verdict}: {_number(parity['cases'])} cases, "
            f"{_number(parity.get('label_mismatches'))} label mismatches, max |diff| {diff_text} "
            f"(tolerance {tolerance_text})"
        )
    libraries = summary["libraries"]
    lines.append(
        f"{'exported by':<12}"
        + (", ".join(f"{name} {version}" for name, version in libraries.items()) if libraries else "not recorded")
    )
    lines.append(f"{'performance':<12}{_performance_text(summary['performance'])}")
    return "\n".join(lines) + "\n"


def _performance_text(performance: Mapping[str, Any] | None) -> str:
    if not performance:
        return "not measured at export"
    parts = []
    latency = performance.get("single_record_latency_us")
    if isinstance(latency, Mapping):
        parts.append(
            "single-record latency "
            + ", ".join(f"{key} {_number(latency[key], 1)} us" for key in ("p50", "p90", "p99") if key in latency)
        )
    if "load_and_first_prediction_s" in performance:
        parts.append(f"load + first prediction {_number(performance['load_and_first_prediction_s'], 2)} s")
    if "peak_rss_mb" in performance:
        parts.append(f"peak RSS {_number(performance['peak_rss_mb'], 1)} MB")
    where = ", ".join(
        str(performance[key]) + (" thread(s)" if key == "threads" else "")
        for key in ("machine", "threads")
        if key in performance
    )
    text = "; ".join(parts) if parts else json.dumps(json_safe(performance))
    return text + (f" ({where})" if where else "")


# ---------------------------------------------------------------------------------------------
# predict: options


PREDICT_DESCRIPTION = """\
Predict every row of a CSV or JSON Lines file and write the rows with their predictions.

The input is streamed in chunks (--chunk-size rows at a time), so files larger than memory work.
Formats come from --input-format / --format or the file suffix (.csv, .jsonl, .ndjson); stdin
needs --input-format, stdout defaults to CSV. Files are UTF-8.

Input:
  CSV: the header names the columns, in any order. In a number column an empty field is
    missing and anything else must be a number written like 12.5 or -3e-2 (nan is read as
    missing, inf is refused by validation); in a category column the text is the category and
    an empty field is missing. Nothing is coerced. Blank lines are ignored.
  JSON Lines: one JSON object per line, values passed as they are (a string "3.5" in a number
    column is refused). Each line must hold every model column. Blank lines are ignored.
  Columns the model does not know are refused, unless --keep-extra: then they are carried to
    the output unchanged and never given to the model. (With JSON Lines input, --keep-extra
    needs JSON Lines output and rejects, as the extra keys may differ from line to line.)
  Rows are numbered from 1, counting data rows only (not the header, not blank lines);
  messages also give the line of the file where the row starts.

Output: the input columns as read (names unchanged, spaces and brackets included), then
  label and probability_<class> for each class in class order (classifiers) or value
  (regressors), then flags with --on-unknown flag (unknown categories, "; "-separated in CSV,
  a list in JSON). JSON output is standard JSON: a missing number is written as null, and
  from CSV input the model's number columns are written as numbers. A summary of rows read,
  predicted and rejected goes to stderr at the end.

Bad rows (not a number, out of range, missing where not allowed, an unknown category, not
UTF-8, malformed JSON, the wrong number of fields):
  --on-error stop  (default) stop at the first bad row with exit code 2; the output then holds
                   every row before it, and the message says how many.
  --on-error skip  write bad rows to --rejects FILE (.csv or .jsonl; the original fields plus
                   row and reason, all reasons joined with "; "; created even when empty) and
                   go on; the exit code is 1 if any row was rejected, and always
                   read == predicted + rejected.
  A file that cannot be parsed past some line (a CSV quote left open) stops with exit code 2
  under either policy, after writing every row before it.
"""


def _add_predict(subcommands: Any, common: argparse.ArgumentParser) -> None:
    predict = subcommands.add_parser(
        "predict",
        parents=[common],
        help="predict the rows of a CSV or JSON Lines file",
        description=PREDICT_DESCRIPTION,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("bundle", metavar="PATH", help="a version folder or a model folder with a CURRENT file")
    predict.add_argument("--input", "-i", required=True, metavar="FILE|-", help="the rows to predict; - is stdin")
    predict.add_argument("--input-format", choices=("csv", "jsonl"), help="input format (default: from the suffix)")
    predict.add_argument(
        "--output",
        "-o",
        default="-",
        metavar="FILE|-",
        help="where to write; - is stdout (default)",
    )
    predict.add_argument(
        "--format",
        "--output-format",
        dest="output_format",
        choices=("csv", "jsonl"),
        help="output format (default: from the output suffix, csv for stdout)",
    )
    predict.add_argument(
        "--on-error",
        choices=("stop", "skip"),
        default="stop",
        help="what a bad row does (default: stop)",
    )
    predict.add_argument(
        "--rejects",
        metavar="FILE",
        help="with --on-error skip (required): where bad rows go, .csv or .jsonl",
    )
    predict.add_argument(
        "--on-unknown",
        choices=("reject", "flag"),
        default="reject",
        help="an unknown category is a bad row (reject, default), or is predicted and listed in "
        "the flags column (flag)",
    )
    predict.add_argument(
        "--keep-extra",
        action="store_true",
        help="carry input columns the model does not know through to the output unchanged "
        "(the model never sees them); without it they are refused",
    )
    predict.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=DEFAULT_CHUNK_SIZE,
        metavar="N",
        help=f"rows read, validated and predicted at a time (default: {DEFAULT_CHUNK_SIZE:,})",
    )
    predict.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        metavar="N",
        help="onnxruntime threads (default: 1)",
    )
    predict.add_argument("--no-progress", action="store_true", help="no progress line on stderr, even on a terminal")
    predict.set_defaults(run=_run_predict)


def _format_of(path: str, explicit: str | None, option: str, *, stdout_default: str | None = None) -> str:
    if explicit is not None:
        return explicit
    if path == "-":
        if stdout_default is not None:
            return stdout_default
        raise CliError(f"reading stdin needs {option} csv or {option} jsonl", EXIT_USAGE)
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise CliError(
            f"cannot tell the format of {path!r} from its suffix {suffix!r}: use .csv, .jsonl or "
            f".ndjson, or pass {option} csv|jsonl",
            EXIT_USAGE,
        )
    return _SUFFIX_FORMATS[suffix]


def _same_file(first: str, second: str) -> bool:
    if first == "-" or second == "-":
        return False
    with contextlib.suppress(OSError):
        if os.path.exists(first) and os.path.exists(second):
            return os.path.samefile(first, second)
    return Path(first).resolve() == Path(second).resolve()


# ---------------------------------------------------------------------------------------------
# predict: reading


@dataclass
class _Record:
    """One data row: where it is, its fields as read, what the model gets, what became of it.

    ``row`` is 1-based and counts data rows only; ``line`` is the file's line where the row
    starts. ``fields`` holds the row as read (CSV text by header name, or the JSON object),
    ``values`` what is validated and fed for each model column that could be read, and
    ``column_problems`` why the others could not. ``problems`` are row-level (a malformed line,
    the wrong number of fields, missing keys). ``fatal`` marks the point past which the file
    cannot be read (CSV syntax). ``reasons`` and ``prediction`` are the outcome.
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


@dataclass(frozen=True)
class _Layout:
    """What the reader checks each row against."""

    source: str  # the input's name for messages: the path or "stdin"
    columns: tuple[str, ...]  # model columns, manifest order
    numbers: frozenset[str]  # model columns of kind number
    specs: Mapping[str, ColumnSpec]
    keep_extra: bool
    reserved: frozenset[str]  # names the output or rejects file adds

    def where(self, record: _Record) -> str:
        return f"row {record.row} (line {record.line} of {self.source})"


def _csv_number_allowed(spec: ColumnSpec) -> str:
    text = "a number"
    if spec.valid_range is not None:
        text += f" within [{spec.valid_range[0]!r}, {spec.valid_range[1]!r}]"
    return text + (", or an empty field for missing" if spec.nullable else "")


class _Lines:
    """The input's lines as text, decoded one at a time.

    A line that is not UTF-8 costs only its own row: it is decoded with U+FFFD in place of the
    bad bytes and noted in ``bad``, which the readers turn into a reason to reject the row.
    Decoding a whole block at once would instead fail the file at an unknown line.
    """

    def __init__(self, raw: Iterable[bytes] | Iterable[str]) -> None:
        self._raw = raw
        self.number = 0
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for raw in self._raw:
            self.number += 1
            if isinstance(raw, str):  # stdin replaced by a text stream
                yield raw.removeprefix("\ufeff") if self.number == 1 else raw
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

    def take(self, first: int, last: int) -> list[str]:
        """The decoding problems of lines ``first`` to ``last``, forgotten once taken."""
        return [self.bad.pop(number) for number in range(first, last + 1) if number in self.bad]


class _CsvReader:
    """Reads the header, then one record per CSV row, parsing model columns without coercion."""

    def __init__(self, lines: _Lines, layout: _Layout) -> None:
        self._lines = lines
        self._layout = layout
        # strict: a stray quote is an error, not silently glued into the field
        self._reader = csv.reader(lines, strict=True)
        self.header = self._read_header()

    def _read_header(self) -> list[str]:
        source = self._layout.source
        try:
            header = next(self._reader)
        except StopIteration:
            raise CliError(
                f"{source} is empty: the first line must be a header naming the columns",
                EXIT_BAD_INPUT,
            ) from None
        except csv.Error as error:
            raise CliError(f"the header of {source} cannot be read as CSV: {error}", EXIT_BAD_INPUT) from None
        problems = self._lines.take(1, self._reader.line_num)
        if problems:
            raise CliError(f"the header of {source} cannot be read: {problems[0]}", EXIT_BAD_INPUT)
        return header

    def records(self) -> Iterator[_Record]:
        layout, header, reader = self._layout, self.header, self._reader
        width = len(header)
        row = 0
        last_line = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                # The reader cannot tell where a broken row ends, so reading stops here.
                yield _Record(
                    row + 1,
                    last_line + 1,
                    {},
                    fatal=(
                        f"line {last_line + 1} of {layout.source} cannot be read as CSV: {error} (check the quoting)"
                    ),
                )
                return
            line, last_line = last_line + 1, reader.line_num
            if not fields:
                continue
            row += 1
            record = _Record(row, line, dict(zip(header, fields)))
            if self._lines.bad:
                record.problems.extend(self._lines.take(line, last_line))
            if len(fields) != width:
                if len(fields) > width:
                    detail = f"extra values {cap_list(fields[width:])}"
                else:
                    detail = f"no value for {cap_list(header[len(fields) :])}"
                record.problems.append(
                    f"has {len(fields)} fields, the header has {width} ({detail}); "
                    "check the delimiters and quoting of this line"
                )
            for name in layout.columns:
                text = record.fields.get(name)
                if text is None:
                    continue  # a short row, reported above
                if name not in layout.numbers:
                    record.values[name] = text if text != "" else None
                elif text == "":
                    record.values[name] = None
                elif _NUMBER_TEXT.fullmatch(text.strip()):
                    record.values[name] = float(text)
                else:
                    record.column_problems[name] = (
                        f"{name} == {text!r} is not a number, must be "
                        f"{_csv_number_allowed(layout.specs[name])}; numbers are written like "
                        "12.5 or -3e-2, and text is not converted."
                    )
            yield record


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


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _JsonlReader:
    """One record per non-blank line; values are passed as they are, keys checked per line."""

    header: list[str] | None = None

    def __init__(self, lines: _Lines, layout: _Layout) -> None:
        self._lines = lines
        self._layout = layout

    def records(self) -> Iterator[_Record]:
        layout = self._layout
        model_columns = frozenset(layout.columns)
        row = 0
        for text in self._lines:
            line = self._lines.number
            if not text.strip():
                continue
            row += 1
            record = _Record(row, line, {})
            if self._lines.bad:
                record.problems.extend(self._lines.take(line, line))
            try:
                data = json.loads(text, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as error:
                preview = text.strip()
                preview = preview if len(preview) <= 60 else preview[:57] + "..."
                record.problems.append(f"is not valid JSON ({error.msg} at column {error.colno}): {preview!r}")
                yield record
                continue
            except _DuplicateKey as error:
                record.problems.append(f"names key {error.args[0]!r} twice; each column must appear once")
                yield record
                continue
            if not isinstance(data, dict):
                record.problems.append(
                    f"is a JSON {_JSON_TYPES.get(type(data), type(data).__name__)}, expected an "
                    "object of column -> value on each line"
                )
                yield record
                continue
            record.fields = data
            missing = [name for name in layout.columns if name not in data]
            unknown = [key for key in data if key not in model_columns]
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
            for name in layout.columns:
                if name not in data:
                    continue
                value = data[name]
                # json gives arbitrarily large ints; float() of one would raise OverflowError.
                if name in layout.numbers and type(value) is int and abs(value) > sys.float_info.max:
                    record.column_problems[name] = (
                        f"{name} == {value!r} is too large for a float, must be {describe_allowed(layout.specs[name])}."
                    )
                    continue
                record.values[name] = value
            yield record


def _check_csv_header(header: Sequence[str], layout: _Layout, model_label: str) -> None:
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
            EXIT_BAD_INPUT,
        )
    model_columns = set(layout.columns)
    missing = [name for name in layout.columns if name not in seen]
    unknown = [name for name in header if name not in model_columns]
    if missing or (unknown and not layout.keep_extra):
        parts = []
        if missing:
            parts.append(f"missing {cap_list(missing)}")
        if unknown:
            parts.append(f"unknown {cap_list(unknown)}")
        fix = ""
        if len(header) == 1 and any(mark in header[0] for mark in ";\t|"):
            fix = "; the header looks delimited by something other than commas (only commas are read)"
        elif unknown and not missing:
            fix = "; pass --keep-extra to carry extra columns through unchanged (never to the model)"
        raise CliError(
            f"{source} has {len(header)} columns, but model {model_label} expects "
            f"{len(layout.columns)}: " + "; ".join(parts) + fix,
            EXIT_BAD_INPUT,
        )
    clashes = [name for name in header if name in layout.reserved]
    if clashes:
        raise CliError(
            f"{source} has column(s) {cap_list(clashes)}, which the output adds: rename or drop them",
            EXIT_BAD_INPUT,
        )


# ---------------------------------------------------------------------------------------------
# predict: prediction


class _Predictor:
    """Validates and predicts one chunk of records with ``Model.predict_batch``."""

    def __init__(self, model: Model) -> None:
        self._model = model
        self._rules: tuple[ColumnRule, ...] = compile_rules(model.manifest.inputs)
        self._policy: UnknownPolicy = model.on_unknown

    def run(self, chunk: Sequence[_Record]) -> None:
        good: list[_Record] = []
        for record in chunk:
            if record.fatal is not None:
                continue
            if record.problems or record.column_problems:
                record.reasons = self._reasons(record)
            else:
                good.append(record)
        if not good:
            return
        columns = {
            rule.name: _column_array(rule, [record.values[rule.name] for record in good]) for rule in self._rules
        }
        result = self._model.predict_batch(columns, errors="skip")
        for rejected in result.rejected:
            record = good[rejected.row]
            # The batch words its reasons with the row's place in this chunk; the same checks on
            # the single values give the runtime's words without it, and the CLI adds the file row.
            record.reasons = self._reasons(record) or [
                reason.replace(_RUNTIME_FLAG_HINT, _CLI_FLAG_HINT) for reason in rejected.reasons
            ]
        self._attach(result, good)

    def _reasons(self, record: _Record) -> list[str]:
        reasons = list(record.problems)
        flags: list[str] = []
        for rule in self._rules:
            if rule.name in record.column_problems:
                reasons.append(record.column_problems[rule.name])
                continue
            if rule.name not in record.values:
                continue
            value = record.values[rule.name]
            try:
                if rule.is_number:
                    rule.number(value)
                else:
                    rule.category(value, self._policy, flags)
            except InputError as error:
                reasons.append(str(error).replace(_RUNTIME_FLAG_HINT, _CLI_FLAG_HINT))
        return reasons

    def _attach(self, result: BatchPrediction, good: Sequence[_Record]) -> None:
        flags_wanted = self._policy == "flag"
        for position, index in enumerate(result.rows.tolist()):
            items: list[tuple[str, Any]]
            if result.classes is not None:
                assert result.labels is not None and result.probabilities is not None
                label: Label = result.labels[position].item()
                items = [("label", label)]
                items += [
                    (f"probability_{name}", probability)
                    for name, probability in zip(result.classes, result.probabilities[position].tolist())
                ]
            else:
                assert result.values is not None
                items = [("value", float(result.values[position]))]
            if flags_wanted:
                items.append(("flags", list(result.flags.get(index, ()))))
            good[index].prediction = items


def _column_array(rule: ColumnRule, values: list[Any]) -> np.ndarray:
    """A 1-D array for one column; built item by item so a list value cannot add a dimension."""
    if rule.is_number and all(type(value) is float or value is None for value in values):
        return np.array([math.nan if value is None else value for value in values], dtype=np.float64)
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array


# ---------------------------------------------------------------------------------------------
# predict: writing


def _csv_text(value: Any) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "; ".join(value)  # flags
    return json.dumps(value, ensure_ascii=False)


class _Sink(Protocol):
    def write(self, items: list[tuple[str, Any]]) -> None: ...

    def flush(self) -> None: ...


class _CsvSink:
    def __init__(self, stream: TextIO, columns: Sequence[str]) -> None:
        self._stream = stream
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(columns)

    def write(self, items: list[tuple[str, Any]]) -> None:
        self._writer.writerow([_csv_text(value) for _, value in items])

    def flush(self) -> None:
        self._stream.flush()


class _JsonlSink:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, items: list[tuple[str, Any]]) -> None:
        # Standard JSON has no NaN or infinity: NaN (a missing number) and the infinities a
        # rejected row may hold are written as null; the reject reason still names the value.
        self._stream.write(json.dumps(json_safe(dict(items)), ensure_ascii=False, allow_nan=False) + "\n")

    def flush(self) -> None:
        self._stream.flush()


class _Fields:
    """Turns a record's fields into the input part of an output or reject row."""

    def __init__(self, layout: _Layout, input_format: str, header: Sequence[str] | None) -> None:
        self._layout = layout
        self._csv_input = input_format == "csv"
        # the input columns of a CSV sink: the CSV header, or the model's columns for JSON Lines
        self.columns: tuple[str, ...] = tuple(header) if header is not None else layout.columns

    def items(self, record: _Record, *, for_json: bool, typed: bool) -> list[tuple[str, Any]]:
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


@dataclass
class _Counts:
    read: int = 0
    predicted: int = 0
    rejected: int = 0


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


def _joined(reasons: Iterable[str]) -> str:
    """Reasons as one line: "a; b; c", without the full stops that end each one."""
    return "; ".join(reason.rstrip(".") for reason in reasons)


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def _chunks(records: Iterable[_Record], size: int) -> Iterator[list[_Record]]:
    chunk: list[_Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size or record.fatal is not None:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------------------------
# predict: the command


def _run_predict(args: argparse.Namespace, console: Console) -> int:
    input_format = _format_of(args.input, args.input_format, "--input-format")
    output_format = _format_of(args.output, args.output_format, "--format", stdout_default="csv")
    skip = args.on_error == "skip"
    rejects_format: str | None = None
    if skip and not args.rejects:
        raise CliError(
            "--on-error skip needs --rejects FILE (.csv or .jsonl) to write the bad rows to",
            EXIT_USAGE,
        )
    if args.rejects:
        if not skip:
            raise CliError("--rejects is only used with --on-error skip", EXIT_USAGE)
        if args.rejects == "-":
            raise CliError("--rejects needs a file (.csv or .jsonl), not -", EXIT_USAGE)
        rejects_format = _SUFFIX_FORMATS.get(Path(args.rejects).suffix.lower())
        if rejects_format is None:
            raise CliError(f"--rejects {args.rejects!r} needs a .csv, .jsonl or .ndjson suffix", EXIT_USAGE)
    if args.keep_extra and input_format == "jsonl" and "csv" in (output_format, rejects_format):
        raise CliError(
            "--keep-extra with JSON Lines input needs JSON Lines output and rejects: the extra "
            "keys may differ from line to line, and a CSV header cannot",
            EXIT_USAGE,
        )
    paths = [("--input", args.input), ("--output", args.output)] + (
        [("--rejects", args.rejects)] if args.rejects else []
    )
    for index, (first_option, first) in enumerate(paths):
        for second_option, second in paths[index + 1 :]:
            if _same_file(first, second):
                raise CliError(f"{first_option} and {second_option} are the same file ({first!r})", EXIT_USAGE)

    with contextlib.ExitStack() as stack:
        lines, source = _open_input(args.input, stack)
        model = load(args.bundle, threads=args.threads, on_unknown=args.on_unknown)
        model_label = f"{model.name!r} {model.version}"
        predictions = prediction_columns(model, flags=args.on_unknown == "flag")
        layout = _Layout(
            source=source,
            columns=model.columns,
            numbers=frozenset(spec.name for spec in model.manifest.inputs if spec.kind == "number"),
            specs={spec.name: spec for spec in model.manifest.inputs},
            keep_extra=args.keep_extra,
            reserved=frozenset(predictions + (list(_REJECT_COLUMNS) if skip else [])),
        )
        reader: _CsvReader | _JsonlReader
        if input_format == "csv":
            reader = _CsvReader(lines, layout)
            _check_csv_header(reader.header, layout, model_label)
        else:
            reader = _JsonlReader(lines, layout)
        fields = _Fields(layout, input_format, reader.header)

        output_name = "stdout" if args.output == "-" else repr(args.output)
        output: _Sink = _open_sink(args.output, output_format, list(fields.columns) + predictions, stack, console)
        rejects: _Sink | None = None
        if skip:
            assert rejects_format is not None
            rejects = _open_sink(
                args.rejects,
                rejects_format,
                list(fields.columns) + list(_REJECT_COLUMNS),
                stack,
                console,
            )

        counts = _Counts()
        predictor = _Predictor(model)
        # Not when the rows themselves go to the same terminal: the line would be drawn into them.
        show_progress = _isatty(console.stderr) and not (args.output == "-" and _isatty(console.stdout))
        progress = _Progress(console.stderr, show_progress and not args.no_progress)

        output_json, rejects_json = output_format == "jsonl", rejects_format == "jsonl"

        def outcome() -> str:
            text = f"read {_rows(counts.read)}: {counts.predicted:,} predicted "
            text += f"(written to {output_name})"
            if skip:
                text += f", {counts.rejected:,} rejected (written to {args.rejects!r})"
            return text

        def flush() -> None:
            output.flush()
            if rejects is not None:
                rejects.flush()

        def stop_at(record: _Record) -> CliError:
            before = f"{_rows(counts.predicted)} before it {'was' if counts.predicted == 1 else 'were'}"
            return CliError(
                f"stopped at {layout.where(record)}: {_joined(record.reasons)}. {before} "
                f"predicted and written to {output_name}; pass --on-error skip --rejects FILE "
                "to set bad rows aside and go on",
                EXIT_BAD_INPUT,
            )

        # Rows are written in input order as each chunk is done, so whatever stops the run
        # leaves complete output for every row before the one that stopped it.
        try:
            for chunk in _chunks(reader.records(), args.chunk_size):
                predictor.run(chunk)
                for record in chunk:
                    if record.fatal is not None:
                        flush()
                        raise CliError(f"{record.fatal}; stopped after it: {outcome()}", EXIT_BAD_INPUT)
                    if record.reasons and rejects is None:
                        flush()
                        raise stop_at(record)
                    counts.read += 1
                    if record.reasons:
                        assert rejects is not None
                        reason = [("row", record.row), ("reason", _joined(record.reasons))]
                        rejects.write(fields.items(record, for_json=rejects_json, typed=False) + reason)
                        counts.rejected += 1
                    else:
                        assert record.prediction is not None
                        output.write(fields.items(record, for_json=output_json, typed=True) + record.prediction)
                        counts.predicted += 1
                flush()
                progress.update(counts.read)
        finally:
            progress.clear()
        assert counts.read == counts.predicted + counts.rejected
        console.stderr.write(outcome() + "\n")
        console.stderr.flush()
    return EXIT_REJECTED if counts.rejected else EXIT_OK


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _open_input(path: str, stack: contextlib.ExitStack) -> tuple[_Lines, str]:
    """The input's lines (UTF-8, a byte-order mark dropped) and its name for messages."""
    if path == "-":
        # bytes when possible, so decoding is ours; text if an embedding program replaced sys.stdin
        return _Lines(getattr(sys.stdin, "buffer", sys.stdin)), "stdin"
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- closed by the caller's ExitStack
    except OSError as error:
        raise CliError(f"cannot read --input {path!r}: {error.strerror or error}", EXIT_USAGE) from None
    stack.enter_context(stream)
    return _Lines(stream), repr(path)


def _open_sink(path: str, kind: str, columns: Sequence[str], stack: contextlib.ExitStack, console: Console) -> _Sink:
    if path == "-":
        stream = console.stdout
    else:
        try:
            # closed by the caller's ExitStack
            stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as error:
            raise CliError(f"cannot write {path!r}: {error.strerror or error}", EXIT_USAGE) from None
        stack.enter_context(stream)
    return _CsvSink(stream, columns) if kind == "csv" else _JsonlSink(stream)


# ---------------------------------------------------------------------------------------------
# serve


SERVE_DESCRIPTION = """\
Serve a bundle over HTTP (uvicorn + Starlette; needs the "serve" extra: pip install ".[serve]").

PATH is a model folder (its CURRENT file names the version) or a version folder. The bundle is
loaded and verified before the server listens; a refused bundle exits with code 3.

Endpoints (errors are {"error": "..."} with 400, 404, 405, 413, 503 or 500):
  Open Inference Protocol (KServe v2), as spoken by Triton and tritonclient.http:
    GET  /v2, /v2/health/live, /v2/health/ready
    GET  /v2/models/NAME[/versions/V][/ready]      metadata (inputs, outputs, classes), readiness
    POST /v2/models/NAME[/versions/V]/infer        one tensor per column: FP64 or FP32 for numbers,
                                                   BYTES for categories, shape [N] or [N, 1]; JSON
                                                   "data" or binary tensor data; outputs "label"
                                                   and "probabilities" [N, K] (or "value")
    POST /v2/repository/index, /v2/repository/models/NAME/load (reload now)
  For people and scripts:
    POST /v1/predict     one record {"column": value, ...} or a list of records
    GET  /v1/status      model, reloads, prediction log, uptime, memory
    POST /v1/admin/reload
    GET  /metrics        Prometheus text format
  JSON has no NaN: null is a missing value (numbers and categories alike; in binary tensor data a
  missing number is NaN and a missing category ""). Whether a column may be missing, and every
  other rule, is the bundle's, checked as by "predict".

Prediction log (--log FILE, SQLite in WAL mode): one row per predicted record and one per rejected
  request, with request id, UTC time, model version, inputs, outputs, latency and flags. A response
  is sent only after its rows are committed (header X-Log-Status: written), so every answered
  prediction survives a crash of the server. If the log cannot write (disk full, locked), the
  prediction is still returned with X-Log-Status: failed, and the failure is counted in /metrics
  and /v1/status and logged. Retention (--log-retention-rows/-days) is applied every minute.

Hot reload: when CURRENT names another version (read every --poll-s seconds), on SIGHUP, or on
  POST /v1/admin/reload, the bundle is loaded and verified (sha256, manifest, golden cases) in the
  background and swapped in atomically; requests in flight finish on the version they started
  with. A bundle that fails verification is refused and the old version keeps serving; the
  refusal shows in /v1/status, /metrics and the log. Every response names the version that served
  it.
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} must be within [0, 65535] (0 picks a free port)")
    return value


def _add_serve(subcommands: Any, common: argparse.ArgumentParser) -> None:
    serve = subcommands.add_parser(
        "serve",
        parents=[common],
        help="serve a bundle over HTTP (Open Inference Protocol and a plain JSON endpoint)",
        description=SERVE_DESCRIPTION,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("bundle", metavar="PATH", help="a model folder with a CURRENT file, or a version folder")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default: 8000; 0 picks a free one)")
    serve.add_argument("--log", metavar="FILE", help="SQLite prediction log to append to (default: no log)")
    serve.add_argument(
        "--log-retention-rows", type=_positive_int, metavar="N", help="keep at most the newest N rows in the log"
    )
    serve.add_argument(
        "--log-retention-days", type=_positive_float, metavar="D", help="delete log rows older than D days"
    )
    serve.add_argument(
        "--log-sync",
        choices=("normal", "full"),
        default="normal",
        help="normal (default): committed rows survive a crash of the server; full: also a power cut, "
        "at the cost of an fsync per group commit",
    )
    serve.add_argument(
        "--drift-window",
        type=_positive_int,
        default=5_000,
        metavar="N",
        help="GET /v1/drift and the drift gauges in /metrics judge the last N logged predictions "
        "(default 5000; recomputed at most once a minute for /metrics)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=8 * 1024 * 1024,
        metavar="N",
        help="refuse request bodies larger than this with 413 (default: 8 MiB)",
    )
    serve.add_argument(
        "--timeout-s",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="answer 503 when reading a request or predicting it takes longer (default: 10)",
    )
    serve.add_argument(
        "--threads", type=_positive_int, default=1, metavar="N", help="onnxruntime threads per call (default: 1)"
    )
    serve.add_argument(
        "--on-unknown",
        choices=("reject", "flag"),
        default="reject",
        help="an unknown category is a 400 (reject, default), or is predicted and listed in the flags (flag)",
    )
    serve.add_argument(
        "--poll-s",
        type=_non_negative_float,
        default=2.0,
        metavar="S",
        help="how often the model folder's CURRENT file is read for a new version (default: 2; 0: never, "
        "reload with SIGHUP or POST /v1/admin/reload)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    serve.set_defaults(run=_run_serve)


_SERVE_EXTRA = frozenset({"uvicorn", "starlette", "prometheus_client", "anyio", "h11"})


def _run_serve(args: argparse.Namespace, console: Console) -> int:
    try:
        from .._serve import server as _serve
    except ImportError as error:
        if (error.name or "").split(".")[0] not in _SERVE_EXTRA:
            raise
        raise CliError(f'{PROG} serve needs the "serve" extra: pip install ".[serve]"', EXIT_USAGE) from error
    import sqlite3

    from .._monitor.predictlog import check_prediction_log

    model = load(args.bundle, threads=args.threads, on_unknown=args.on_unknown)
    if args.log is not None:
        try:
            check_prediction_log(args.log)
        except (OSError, sqlite3.Error) as error:
            raise CliError(f"cannot open --log {args.log!r}: {error}", EXIT_USAGE) from error
    config = _serve.ServeConfig(
        host=args.host,
        port=args.port,
        max_body_bytes=args.max_body_bytes,
        timeout_s=args.timeout_s,
        poll_s=args.poll_s,
        threads=args.threads,
        on_unknown=args.on_unknown,
        access_log=args.access_log,
        log_path=args.log,
        log_retention_rows=args.log_retention_rows,
        log_retention_days=args.log_retention_days,
        log_sync=args.log_sync,
        drift_window_rows=args.drift_window,
    )
    try:
        sock = _serve.bind_socket(args.host, args.port)
    except OSError as error:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}", EXIT_USAGE) from None
    with sock:
        _serve.serve(model, args.bundle, config, sock, console.stderr)
    return EXIT_OK


_COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    _add_info,
    _add_predict,
    _add_serve,
    add_drift,
    add_feedback,
]
