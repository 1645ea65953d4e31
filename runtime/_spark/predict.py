"""``runtime.spark.predict``: score a Spark DataFrame with a bundle, on Spark's Python workers."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping

from pyspark.sql import DataFrame

from .._errors import BundleError
from .._model import Model, load
from .._signature import TrustedKeySource
from .._validation import RangePolicy, UnknownPolicy
from .batches import ScoringJob, score_partition
from .schema import check_schema, output_schema
from .shipping import BundleSnapshot, LoadOptions, load_snapshot, read_bundle, trusted_pems

__all__ = ["predict", "scoring", "verified_snapshot"]


def predict(
    df: DataFrame,
    bundle: str | os.PathLike[str],
    *,
    errors: str = "skip",
    on_unknown: UnknownPolicy = "reject",
    on_out_of_range: RangePolicy = "reject",
    threads: int = 1,
    trusted_keys: Iterable[TrustedKeySource] | None = None,
) -> DataFrame:
    """Score every row of ``df`` with the bundle at ``bundle``; every input row comes out exactly once.

    The result holds every column of ``df`` untouched (the model reads its own columns; ids and
    timestamps pass through), then ``label`` and ``probability_<class>`` per class (classifiers) or
    ``value`` (regressors), ``model``, ``version`` and ``reject_reason``: null for a predicted row;
    for a row that failed validation, every reason ``predict_batch`` gives (without " in row N"),
    with null predictions. ``on_unknown="flag"`` or ``on_out_of_range="flag"`` adds ``flags``.

    Up front, on the driver, before any task runs: the bundle is verified as :func:`runtime.load`
    verifies it (a refusal raises its :class:`~runtime.BundleError`), and ``df``'s schema is checked
    against the manifest (a missing or mistyped column raises :class:`~runtime.InputError` naming it).
    The verified bytes are broadcast; each Python worker verifies them again and keeps one
    onnxruntime session (``threads`` intra-op threads) for all its tasks.

    Parameters
    ----------
    df : any DataFrame of a classic Spark session (not Spark Connect: the bundle travels as a broadcast).
    bundle : a version folder or a model folder with ``CURRENT``, readable by the driver.
    errors : ``"skip"`` (default) returns bad rows with their reasons; ``"raise"`` fails the job at
        the first bad row, with its message.
    on_unknown, on_out_of_range : ``"reject"`` (default) or ``"flag"``, as for :func:`runtime.load`.
    threads : onnxruntime intra-op threads per worker process (1: Spark already runs a task per core).
    trusted_keys : as for :func:`runtime.load`; the driver's keys travel to the workers as PEM.

    Examples
    --------
    >>> import runtime.spark
    >>> scored = runtime.spark.predict(spark.read.parquet("history.parquet"), "models/quality")  # doctest: +SKIP
    >>> scored.where("reject_reason IS NOT NULL").select("reject_reason").show()  # doctest: +SKIP
    """
    pems = trusted_pems(trusted_keys)
    options = LoadOptions(threads, on_unknown=on_unknown, on_out_of_range=on_out_of_range, trusted_pems=pems)
    return scoring(df, bundle, options, errors=errors)


def scoring(
    df: DataFrame,
    bundle: str | os.PathLike[str],
    options: LoadOptions,
    *,
    errors: str,
    hints: Mapping[str, str] | None = None,
) -> DataFrame:
    """:func:`predict` with its load options resolved, and the hints (policy -> text) the caller's users
    read in a reason (the command line has its own)."""
    if errors not in ("skip", "raise"):
        raise ValueError(f"errors == {errors!r}, must be 'skip' or 'raise'")
    snapshot, model = verified_snapshot(bundle, options)
    check_schema(df.schema, model, flags=options.flags)
    broadcast = df.sparkSession.sparkContext.broadcast(snapshot)
    job = ScoringJob(broadcast, snapshot.digest, options, errors, dict(hints) if hints is not None else None)
    schema = output_schema(df.schema, model, flags=job.flags)
    return df.mapInArrow(functools.partial(score_partition, job), schema)


def verified_snapshot(bundle: str | os.PathLike[str], options: LoadOptions) -> tuple[BundleSnapshot, Model]:
    """The bundle's bytes and the model they load to, proven on the driver.

    The snapshot is loaded from a private copy, so what is shipped is what was verified. When that
    fails, the bundle is loaded where it lies, for the message :func:`runtime.load` gives there
    (naming the user's paths, not the copy's).
    """
    snapshot = read_bundle(bundle)
    try:
        return snapshot, load_snapshot(snapshot, options)
    except BundleError as copy_error:
        load(
            bundle,
            threads=options.threads,
            on_unknown=options.on_unknown,
            on_out_of_range=options.on_out_of_range,
            trusted_keys=list(options.trusted_pems),
        )
        raise copy_error from None
