"""``python -m runtime feedback``: store true labels that arrived after the prediction, in the prediction
log beside the predictions, where ``drift`` joins them to measure accuracy."""

from __future__ import annotations

import argparse
import sqlite3

from .._contract import ExitCode
from .._model import load
from .._monitor.windows import ingest_feedback
from ._base import CliError, Console

__all__ = ["DESCRIPTION", "EXIT_CODES", "add_arguments", "run"]

DESCRIPTION = """\
Read true labels from FILE (CSV or JSON Lines with request_id, label and, for batch requests,
row) and store them in the prediction log, where `drift` joins them with the predictions to
measure accuracy. Labels must be classes of the model; a repeated request id and row replaces
the earlier label."""
EXIT_CODES = frozenset({ExitCode.OK, ExitCode.BUNDLE_REFUSED})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help="the bundle whose classes the labels belong to")
    parser.add_argument("file", metavar="FILE", help="labels: .csv or .jsonl")
    parser.add_argument("--log", metavar="DB", required=True, help="the server's prediction log (SQLite)")


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    model = load(args.bundle, on_unknown="flag")
    if not model.manifest.is_classifier:
        raise CliError("feedback measures classification accuracy; this bundle is a regressor", ExitCode.USAGE)
    try:
        counts = ingest_feedback(args.log, args.file, model.manifest)
    except ValueError as error:
        raise CliError(str(error), ExitCode.USAGE) from None
    except sqlite3.Error as error:  # a file that is not a prediction log
        raise CliError(f"cannot store labels in --log {args.log!r}: {error}", ExitCode.USAGE) from None
    console.stdout.write(
        f"stored {counts['ingested']:,} labels; the log now holds {counts['labels_stored']:,}, of which "
        f"{counts['labels_matching_a_prediction']:,} match a logged prediction\n"
    )
    return ExitCode.OK
