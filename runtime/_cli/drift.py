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
from pathlib import Path
from typing import Any

from .._contract import ExitCode
from .._manifest import Manifest
from .._model import load
from .._monitor.drift import Thresholds, drift_report
from .._monitor.windows import drift_from_log, parse_duration, read_csv_window, read_log_window
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
}


def _thresholds_paragraph(defaults: Thresholds) -> str:
    def points(share: float) -> str:
        return f"{share * 100:g}"

    return textwrap.fill(
        f"Default thresholds (each has an option): PSI warn {defaults.psi_warn:g}, alert {defaults.psi_alert:g}; "
        f"KS warn {defaults.ks_warn:g}, alert {defaults.ks_alert:g}; missing rate +{points(defaults.missing_warn)} / "
        f"+{points(defaults.missing_alert)} points over training; unknown categories warn above "
        f"{points(defaults.unknown_warn)} %, alert at {points(defaults.unknown_alert)} %; accuracy alert "
        f"{defaults.accuracy_drop:g} below baseline (warn at half).",
        width=96,
    )


DESCRIPTION = f"""\
Compare recent inputs with the training reference stored in the bundle: per number column PSI
over the reference's quantile bins and the KS statistic; per category column PSI and the rate of
unknown categories; per column the missing-value rate against training; the shift of the
predictions; and, when true labels were fed back (python -m runtime feedback), accuracy and macro
F1 against the baseline recorded at export.

{_thresholds_paragraph(THRESHOLD_DEFAULTS)}

The exit code is the overall status (ok, warn or alert), so a monitoring plugin can run this as it is."""
EXIT_CODES = frozenset(
    {ExitCode.OK, ExitCode.DRIFT_WARN, ExitCode.DRIFT_ALERT, ExitCode.NOTHING_TO_JUDGE, ExitCode.BUNDLE_REFUSED}
)
STATUS_EXIT = {"ok": ExitCode.OK, "warn": ExitCode.DRIFT_WARN, "alert": ExitCode.DRIFT_ALERT}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help=BUNDLE_HELP)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--log", metavar="DB", help="the server's prediction log (SQLite)")
    source.add_argument("--input", metavar="CSV", help="a CSV of recent inputs instead of the log")
    parser.add_argument("--since", metavar="DURATION", help="only log rows of the last DURATION (e.g. 30m, 24h, 7d)")
    parser.add_argument("--last", type=positive_int, metavar="N", help="only the N most recent log rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--html", metavar="FILE", help="also write an HTML report with histograms (needs matplotlib)")
    for threshold in dataclasses.fields(Thresholds):
        parser.add_argument(
            f"--{threshold.name.replace('_', '-')}",
            type=non_negative_float,
            default=threshold.default,
            metavar="X",
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
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report over the log's window, and (for --html only) the window's columns."""
    since = parse_duration(args.since) if args.since is not None else None
    data = drift_from_log(args.log, manifest, since_s=since, last=args.last, thresholds=thresholds)
    if data["status"] == "no data":
        raise CliError(f"no predictions of {manifest.name!r} in {args.log} for that window", ExitCode.NOTHING_TO_JUDGE)
    # the histograms need the raw window; the text and JSON report do not
    columns = read_log_window(args.log, manifest, since_s=since, last=args.last).columns if args.html else {}
    return data, columns


def _judge_csv(
    args: argparse.Namespace, manifest: Manifest, thresholds: Thresholds
) -> tuple[dict[str, Any], dict[str, Any]]:
    if args.since is not None or args.last is not None:
        raise CliError("--since and --last select log rows; they do not apply to --input", ExitCode.USAGE)
    window = read_csv_window(args.input, manifest)
    if window.rows == 0:
        raise CliError(f"{args.input} holds no rows", ExitCode.NOTHING_TO_JUDGE)
    report = drift_report(manifest, window.columns, thresholds=thresholds)
    return report.to_dict() | {"source": window.source}, window.columns
