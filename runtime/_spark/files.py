"""Parquet in, Parquet out: what ``python -m runtime spark-predict`` runs, with Spark's own failures turned
into one :class:`SparkFailure` the command line maps to its exit codes."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from .predict import scoring
from .shipping import LoadOptions

__all__ = ["ScoredFiles", "SparkFailure", "score_parquet", "session"]

# A refusal raised on a worker reaches the driver inside Spark's error as "<module>.<Error>: <message>".
_RUNTIME_ERROR = re.compile(r"runtime\._errors\.(BundleError|InputError|SchemaVersionError): (.*)")


class SparkFailure(Exception):
    """Spark failed: ``kind`` is "bundle" or "input" for a refusal on a worker, "path" for an input
    Spark cannot find, else "spark"; the message is one line."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ScoredFiles:
    rows: int
    rejected: int
    master: str
    scoring_s: float


def session(master: str | None, *, verbose: bool) -> tuple[SparkSession, bool]:
    """The active Spark session, or a new one (then ``created`` is True and the caller stops it)."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    builder = SparkSession.builder.appName("factory-edge spark-predict")
    if master is not None:
        builder = builder.master(master)
    # spark-submit starts the JVM first and hands its port over; then the master and Python are its to set
    local = master.startswith("local") if master is not None else "PYSPARK_GATEWAY_PORT" not in os.environ
    if local:
        # local workers must run this interpreter, where the runtime is installed; nothing listens beyond loopback
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    return builder.config("spark.log.level", "WARN" if verbose else "ERROR").getOrCreate(), True


def score_parquet(
    spark: SparkSession, source: str, destination: str, bundle: str, options: LoadOptions, *, hints: dict[str, str]
) -> ScoredFiles:
    """Score the Parquet at ``source`` into a new Parquet folder ``destination``; count what was written."""
    started = time.monotonic()
    try:
        scored = scoring(spark.read.parquet(source), bundle, options, errors="skip", hints=hints)
        scored.write.parquet(destination)
        scoring_s = time.monotonic() - started
        counts = spark.read.parquet(destination).select(F.count("*"), F.count("reject_reason")).first()
    except PySparkException as error:
        raise _failure(error) from None
    except Exception as error:  # py4j's Py4JJavaError: the JVM's exception, not a PySparkException
        if type(error).__module__.startswith("py4j"):
            raise _failure(error) from None
        raise
    assert counts is not None
    return ScoredFiles(int(counts[0]), int(counts[1]), str(spark.sparkContext.master), scoring_s)


def _failure(error: Any) -> SparkFailure:
    text = str(error)
    found = _RUNTIME_ERROR.search(text)
    if found is not None:
        return SparkFailure(found.group(2).strip(), "input" if found.group(1) == "InputError" else "bundle")
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return SparkFailure(first[:500], "path" if "PATH_NOT_FOUND" in text else "spark")
