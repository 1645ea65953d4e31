"""``python -m runtime spark-predict``: score a Parquet file or folder on Apache Spark, writing Parquet.

The bundle is loaded (so verified) before the JVM starts, then :func:`runtime.spark.predict` checks
the input's schema and verifies the shipped bytes on the driver and on every worker. The summary on
stderr separates Spark's start-up from the scoring.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from .._contract import ExitCode
from .._model import load
from .._validation import policy_hints
from ._base import BUNDLE_HELP, ON_UNKNOWN_CHOICES, CliError, Console, positive_int

__all__ = ["DESCRIPTION", "EXIT_CODES", "add_arguments", "run"]

DESCRIPTION = """\
Score every row of a Parquet file (or a folder of Parquet files) on Apache Spark and write the rows
with their predictions as Parquet files into a new folder. Needs the "spark" extra
(pip install ".[spark]") and Java 17 or newer.

Before Spark runs a task: the bundle is verified as every runtime command verifies it (exit 3 if
refused) and the input's columns are checked against the manifest (exit 2 if one is missing, or of a
type that is not converted: a number column takes double, float and integer types, a category column
strings; either may be all null). Other columns pass through untouched.

Output (DIR, which must not exist yet): every input row exactly once, with its columns unchanged,
then label and probability_<class> for each class (classifiers) or value (regressors), model,
version and reject_reason. A predicted row has a null reject_reason; a rejected row (out of range,
an unknown category, missing where not allowed, not finite) has null predictions and every reason,
worded as predict words them. The exit code is 1 if any row was rejected. With --on-unknown flag
or --on-out-of-range flag, such values are predicted and listed in a flags column.

--master defaults to what spark-submit or the Spark configuration sets, else local[*]. On a local
master the workers run this Python (PYSPARK_PYTHON, unless set). The summary on stderr gives the
rows read, predicted and rejected, Spark's start-up time and the scoring time.
"""
EXIT_CODES = frozenset({ExitCode.OK, ExitCode.REJECTED_ROWS, ExitCode.BAD_INPUT, ExitCode.BUNDLE_REFUSED})

# How a reason tells a command-line user to accept such values (as predict says it).
CLI_HINTS = policy_hints("(pass {option} flag to accept and flag it)")
SPARK_EXTRA = 'spark-predict needs the "spark" extra: pip install ".[spark]"'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", metavar="PATH", help=BUNDLE_HELP)
    parser.add_argument(
        "--input", "-i", required=True, metavar="PARQUET", help="a Parquet file or folder (any URI Spark reads)"
    )
    parser.add_argument(
        "--output", "-o", required=True, metavar="DIR", help="the Parquet folder to write; must not exist"
    )
    parser.add_argument(
        "--master", help="Spark master, e.g. local[2] or yarn (default: Spark's configuration, else local[*])"
    )
    parser.add_argument(
        "--on-unknown",
        choices=ON_UNKNOWN_CHOICES,
        default="reject",
        help="reject (default) or flag categories the model was not trained on",
    )
    parser.add_argument(
        "--on-out-of-range",
        choices=ON_UNKNOWN_CHOICES,
        default="reject",
        help="reject (default) or flag values outside a column's valid range (predicted as given, never clipped)",
    )
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="onnxruntime threads per Spark worker process (default 1)"
    )


def run(args: argparse.Namespace, console: Console) -> ExitCode:
    try:
        from .._spark.files import SparkFailure, score_parquet, session
        from .._spark.shipping import LoadOptions, trusted_pems
    except ImportError:
        raise CliError(SPARK_EXTRA, ExitCode.USAGE) from None
    # pyspark's own notice about pandas 3 on every session and Arrow UDF: not the user's concern here
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    _check_paths(args.input, args.output)
    policies = {"on_unknown": args.on_unknown, "on_out_of_range": args.on_out_of_range}
    load(args.bundle, threads=args.threads, **policies)  # refused before the JVM starts
    options = LoadOptions(args.threads, **policies, trusted_pems=trusted_pems(None))  # --trusted-key's too
    started = time.monotonic()
    spark, created = session(args.master, verbose=args.verbose)
    startup_s = time.monotonic() - started
    try:
        scored = score_parquet(spark, args.input, args.output, args.bundle, options, hints=CLI_HINTS)
    except SparkFailure as failure:
        raise CliError(f"{_FAILURE_PREFIX[failure.kind]}{failure}", _FAILURE_CODE[failure.kind]) from None
    finally:
        if created:
            spark.stop()
    console.stderr.write(
        f"spark-predict: {scored.rows:,} rows read on {scored.master}: {scored.rows - scored.rejected:,} predicted, "
        f"{scored.rejected:,} rejected (reason in column reject_reason) -> {args.output}\n"
        f"  Spark start-up {startup_s:.1f} s; scoring and writing {scored.scoring_s:.1f} s "
        f"({scored.rows / max(scored.scoring_s, 1e-9):,.0f} rows/s)\n"
    )
    return ExitCode.REJECTED_ROWS if scored.rejected else ExitCode.OK


_FAILURE_PREFIX = {
    "bundle": "bundle refused on a Spark worker: ",
    "input": "",
    "path": "Spark: ",
    "spark": "Spark failed: ",
}
_FAILURE_CODE = {
    "bundle": ExitCode.BUNDLE_REFUSED,
    "input": ExitCode.BAD_INPUT,
    "path": ExitCode.USAGE,
    "spark": ExitCode.INTERNAL,
}


def _check_paths(source: str, destination: str) -> None:
    """Local paths are checked before the JVM starts; URIs (s3a://, abfss://) are left to Spark."""
    if "://" not in source and not os.path.exists(source):
        raise CliError(f"--input {source!r} does not exist", ExitCode.USAGE)
    if "://" not in destination and os.path.lexists(destination):
        raise CliError(f"--output {destination!r} exists; spark-predict writes a new folder", ExitCode.USAGE)
