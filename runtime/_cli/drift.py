"""``python -m runtime drift``: judge a window of recent inputs (the prediction log, or a CSV) against the
training reference in the bundle; the exit code is the verdict, as monitoring plugins read it.

The thresholds are the fields of :class:`runtime._monitor.drift.Thresholds`, one option each, with
that class's defaults; the accuracy drop's default is that of :func:`drift_from_log`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._contract import ExitCode
from .._manifest import Manifest
from .._model import load
from .._monitor.accumulators import ColumnAccumulator
from .._monitor.drift import Thresholds, drift_report_from
from .._monitor.windows import MAX_WINDOW_ROWS, count_csv_window, count_log_window, parse_duration, report_log_window
from .._text import json_safe
from ._base import BUNDLE_HELP, CliError, Console, non_negative_float, positive_int
from .drift_report import report_text, write_html

__all__ = ["DESCRIPTION", "EXIT_CODES", "STATUS_EXIT", "add_arguments", "run"]

THRESHOLD_DEFAULTS = Thresholds()

_THRESHOLD_HELP = {
    "psi_warn": "PSI at which a column or the predictions warn",
    "psi_alert": "PSI at which a column or the predictions alert",
    "ks_warn": "KS statistic at which a number column warns",
    "ks_alert": "KS statistic at which a number column alerts",
    "missing_warn": "rise of a column's missing-value rate over training at which it warns (0.05: 5 points)",
    "missing_alert": "rise of a column's missing-value rate over training at which it alerts",
    "unknown_warn": "share of unknown categories above which a column warns",
    "unknown_alert": "share of unknown categories at which a column alerts",
    "accuracy_drop": "accuracy this far below the baseline alerts, half as far warns (needs fed-back labels)",
    "min_rows": "rows (and values) a column needs before it can warn or alert; below it: insufficient data",
}


def _thresholds_paragraph(defaults: Thresholds) -> str:
    def points(share: float) -> str:
        return f"{share * 100:g}"

    return textwrap.fill(
        f"Default thresholds (each has an option): PSI warn {defaults.psi_warn:g}, alert {defaults.psi_alert:g}; "
        f"KS warn {defaults.ks_warn:g}, alert {defaults.ks_alert:g}; missing rate +{points(defaults.missing_warn)} / "
        f"+{points(defaults.missing_alert)} points over training; unknown categories warn above "
        f"{points(defaults.unknown_warn)} %, alert at {points(defaults.unknown_alert)} %; accuracy alert "
        f"{defaults.accuracy_drop:g} below baseline (warn at half). A column is judged from {defaults.min_rows} rows "
        f"on (--min-rows); with fewer its status is insufficient data: on a window drawn from training itself, 96 % "
        f"of 100-row windows warn somewhere and 5 % alert, 3.5 % of 300-row windows warn and none alerts.",
        width=96,
        break_on_hyphens=False,  # keeps --min-rows whole
    )


DESCRIPTION = f"""\
Compare recent inputs with the training reference stored in the bundle: per number column PSI
over the reference's quantile bins and the KS statistic; per category column PSI and the rate of
unknown categories; per column the missing-value rate against training; the shift of the
predictions; and, when true labels were fed back (python -m runtime feedback), accuracy and macro
F1 against the baseline recorded at export.

{_thresholds_paragraph(THRESHOLD_DEFAULTS)}

A log window holds at most {MAX_WINDOW_ROWS:,} rows, the newest (--last cannot ask for more); a CSV is
read whole. Either is read in chunks, so memory does not grow with the window.

The exit code is the overall status (ok 0, warn 6, alert 7), so a monitoring plugin can run this as
it is; 8 when nothing was judged: the window is empty, or every column has fewer than --min-rows
rows (the report is still printed, its status "insufficient data")."""
EXIT_CODES = frozenset(
    {ExitCode.OK, ExitCode.DRIFT_WARN, ExitCode.DRIFT_ALERT, ExitCode.NOTHING_TO_JUDGE, ExitCode.BUNDLE_REFUSED}
)
STATUS_EXIT = {
    "ok": ExitCode.OK,
    "warn": ExitCode.DRIFT_WARN,
    "alert": ExitCode.DRIFT_ALERT,
    "insufficient data": ExitCode.NOTHING_TO_JUDGE,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help=BUNDLE_HELP)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--log", metavar="DB", help="the server's prediction log (SQLite)")
    source.add_argument("--input", metavar="CSV", help="a CSV of recent inputs instead of the log")
    parser.add_argument("--since", metavar="DURATION", help="only log rows of the last DURATION (e.g. 30m, 24h, 7d)")
    parser.add_argument(
        "--last", type=positive_int, metavar="N", help=f"only the N most recent log rows (at most {MAX_WINDOW_ROWS:,})"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--html", metavar="FILE", help="also write an HTML report with histograms (needs matplotlib)")
    for threshold in dataclasses.fields(Thresholds):
        whole = threshold.type in (int, "int")  # min_rows: a count of rows
        parser.add_argument(
            f"--{threshold.name.replace('_', '-')}",
            type=positive_int if whole else non_negative_float,
            default=threshold.default,
            metavar="N" if whole else "X",
            help=f"{_THRESHOLD_HELP[threshold.name]} (default {threshold.default:g})",
        )


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    model = load(args.bundle, on_unknown="flag")
    manifest = model.manifest
    thresholds = Thresholds(**{field.name: getattr(args, field.name) for field in dataclasses.fields(Thresholds)})
    try:
        if args.log is not None:
            data, window_columns = _judge_log(args, manifest, thresholds)
        else:
            data, window_columns = _judge_csv(args, manifest, thresholds)
    except ValueError as error:
        raise CliError(str(error), ExitCode.USAGE) from None
    except sqlite3.Error as error:  # a file that is not a prediction log
        raise CliError(f"cannot read --log {args.log!r}: {error}", ExitCode.USAGE) from None
    if args.json:
        console.stdout.write(json.dumps(json_safe(data), indent=2) + "\n")
    else:
        console.stdout.write(report_text(data))
    if args.html:
        write_html(Path(args.html), data, manifest.drift_reference.columns, window_columns)
    console.stdout.flush()
    return STATUS_EXIT[data["status"]]


def _judge_log(
    args: argparse.Namespace, manifest: Manifest, thresholds: Thresholds
) -> tuple[dict[str, Any], Mapping[str, ColumnAccumulator]]:
    """The report over the log's window, and the counts per column it was judged from (for --html)."""
    if args.last is not None and args.last > MAX_WINDOW_ROWS:
        raise CliError(
            f"--last {args.last} is more rows than a drift window holds: at most {MAX_WINDOW_ROWS:,} "
            "(the newest of the log, or of --since)",
            ExitCode.USAGE,
        )
    since = parse_duration(args.since) if args.since is not None else None
    counts = count_log_window(args.log, manifest, since_s=since, last=args.last)
    data = report_log_window(counts, thresholds=thresholds)
    if data["status"] == "no data":
        raise CliError(f"no predictions of {manifest.name!r} in {args.log} for that window", ExitCode.NOTHING_TO_JUDGE)
    return data, counts.drift.columns


def _judge_csv(
    args: argparse.Namespace, manifest: Manifest, thresholds: Thresholds
) -> tuple[dict[str, Any], Mapping[str, ColumnAccumulator]]:
    if args.since is not None or args.last is not None:
        raise CliError("--since and --last select log rows; they do not apply to --input", ExitCode.USAGE)
    counts = count_csv_window(args.input, manifest)
    if counts.rows == 0:
        raise CliError(f"{args.input} holds no rows", ExitCode.NOTHING_TO_JUDGE)
    report = drift_report_from(counts, thresholds=thresholds)
    return report.to_dict() | {"source": f"CSV {args.input}"}, counts.columns
