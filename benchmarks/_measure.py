"""In-process measurements: single-record latency, batch throughput, model files and load times.

Timing rules used throughout: every call is timed on its own with ``time.perf_counter_ns``; each
path is warmed up before it is timed and again, briefly, each time the run switches back to it
(switching evicts caches a deployment would keep warm); paths alternate in blocks inside each
round and their order rotates between rounds, so a burst of machine noise hits all of them alike;
ratios are taken within a round before they are summarized. The garbage collector stays on, as in
a deployment, but is emptied before each round.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import runtime
from export._format import format_bytes
from export._performance import joblib_costs, time_calls, untimed_calls

from ._records import onnx_feeds, sklearn_frame, sklearn_record, synthetic_columns
from ._stats import cdf_points, ratio_spread, rows_per_second, spread, summarize

__all__ = [
    "PATHS",
    "agreement",
    "bare_session",
    "batch_throughput",
    "model_files",
    "single_record_latency",
    "estimator_n_jobs",
    "sklearn_threads",
    "timer_overhead_ns",
]

Progress = Callable[[str], None]
PATHS = ("runtime", "bare", "sklearn")
# untimed calls when a path starts a round, and when the run switches back to it within a round
WARMUP_CALLS = {"runtime": 200, "bare": 200, "sklearn": 3}
REWARM_CALLS = {"runtime": 20, "bare": 20, "sklearn": 1}


def bare_session(model: runtime.Model) -> Any:
    """An ``InferenceSession`` built exactly as :func:`runtime.load` builds it, from the same bytes."""
    import onnxruntime as ort

    model_bytes = (model.path / model.manifest.model_file.path).read_bytes()
    return ort.InferenceSession(model_bytes, sess_options=runtime.session_options(), providers=["CPUExecutionProvider"])


def output_names(manifest: runtime.Manifest) -> list[str]:
    """The one output the runtime requests: probabilities for a classifier, value for a regressor."""
    name = manifest.outputs.probabilities if manifest.is_classifier else manifest.outputs.value
    assert name is not None
    return [name]


def timer_overhead_ns(samples: int = 10_000) -> float:
    """Median cost of one ``perf_counter_ns`` pair around nothing: the floor under every timing."""
    clock = time.perf_counter_ns
    costs = []
    for _ in range(samples):
        start = clock()
        costs.append(clock() - start)
    return float(np.median(costs))


def _split(total: int, parts: int) -> list[int]:
    """``total`` calls spread over ``parts`` blocks as evenly as possible."""
    return [total // parts + (1 if block < total % parts else 0) for block in range(parts)]


def single_record_latency(
    model: runtime.Model,
    pipeline: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    rounds: int,
    calls: int,
    sklearn_calls: int,
    blocks: int,
    sklearn_n_jobs: int | None = None,
    progress: Progress,
) -> dict[str, Any]:
    """Time one record at a time through the runtime, bare onnxruntime and scikit-learn.

    ``calls`` runtime and bare calls and ``sklearn_calls`` scikit-learn calls per round, cycling
    through ``records``. The scikit-learn call includes building the one-row DataFrame, as a service
    receiving a record does; the runtime call includes validating the record and building its
    arrays; the bare call gets arrays prepared in advance, the floor the runtime is compared with.
    scikit-learn runs with the estimator's ``n_jobs`` as saved unless ``sklearn_n_jobs`` is given.
    """
    import pandas as pd

    manifest = model.manifest
    session = bare_session(model)
    inputs: dict[str, list[Any]] = {
        "runtime": list(records),
        "bare": [onnx_feeds(record, manifest) for record in records],
        "sklearn": [sklearn_record(record, manifest) for record in records],
    }
    method = pipeline.predict_proba if manifest.is_classifier else pipeline.predict
    paths: dict[str, Callable[[Any], Any]] = {
        "runtime": model.predict,
        "bare": functools.partial(session.run, output_names(manifest)),
        "sklearn": lambda record: method(pd.DataFrame([record])),
    }
    counts = {"runtime": calls, "bare": calls, "sklearn": sklearn_calls}
    with estimator_n_jobs(pipeline, sklearn_n_jobs):
        n_jobs = getattr(pipeline.steps[-1][1], "n_jobs", None)
        per_round, pooled = _rounds(paths, inputs, counts, rounds=rounds, blocks=blocks, progress=progress)
    runtime_p50 = [r["runtime"]["p50"] for r in per_round]
    return {
        "unit": "µs",
        "rounds": rounds,
        "blocks_per_round": blocks,
        "calls_per_round": counts,
        "records": len(records),
        "warmup_calls": WARMUP_CALLS,
        "rewarm_calls": REWARM_CALLS,
        "sklearn_n_jobs": n_jobs,
        "per_round": per_round,
        "pooled": {path: summarize(pooled[path], 1e-3) for path in PATHS},
        "cdf": {path: cdf_points(pooled[path], 1e-3) for path in PATHS},
        "ratios": {
            "runtime_over_sklearn": ratio_spread(runtime_p50, [r["sklearn"]["p50"] for r in per_round]),
            "runtime_over_bare": ratio_spread(runtime_p50, [r["bare"]["p50"] for r in per_round]),
            "runtime_p99_over_p50": ratio_spread([r["runtime"]["p99"] for r in per_round], runtime_p50),
        },
        "sklearn_n_jobs_source": f"--sklearn-n-jobs {sklearn_n_jobs}" if sklearn_n_jobs is not None else "as saved",
    }


def _rounds(
    paths: Mapping[str, Callable[[Any], Any]],
    inputs: Mapping[str, Sequence[Any]],
    counts: Mapping[str, int],
    *,
    rounds: int,
    blocks: int,
    progress: Progress,
) -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
    """The timing rounds (see the module docstring): per-round summaries, and every timing per path."""
    per_round: list[dict[str, Any]] = []
    pooled: dict[str, list[int]] = {path: [] for path in PATHS}
    for round_index in range(rounds):
        order = PATHS[round_index % 3 :] + PATHS[: round_index % 3]
        timings: dict[str, list[int]] = {path: [] for path in PATHS}
        offsets = dict.fromkeys(PATHS, 0)
        gc.collect()
        for path in order:
            untimed_calls(paths[path], inputs[path], WARMUP_CALLS[path])
        block_counts = {path: _split(counts[path], blocks) for path in PATHS}
        for block in range(blocks):
            for path in order:
                count = block_counts[path][block]
                if count == 0:
                    continue
                untimed_calls(paths[path], inputs[path], REWARM_CALLS[path])
                time_calls(paths[path], inputs[path], count, timings[path], offset=offsets[path])
                offsets[path] += count
        summaries = {path: summarize(timings[path], 1e-3) for path in PATHS}
        per_round.append({"round": round_index + 1, "order": list(order), **summaries})
        for path in PATHS:
            pooled[path].extend(timings[path])
        progress(
            f"single record round {round_index + 1}/{rounds}: p50 runtime {summaries['runtime']['p50']:.1f} µs, "
            f"bare {summaries['bare']['p50']:.1f} µs, scikit-learn {summaries['sklearn']['p50']:.0f} µs"
        )
    return per_round, pooled


@contextlib.contextmanager
def estimator_n_jobs(pipeline: Any, n_jobs: int | None) -> Iterator[bool]:
    """Set the final estimator's ``n_jobs`` for the duration (``None``: leave it as saved).

    Yields whether the estimator has ``n_jobs`` at all; the saved value is restored afterwards.
    """
    estimator = pipeline.steps[-1][1]
    has_n_jobs = hasattr(estimator, "n_jobs")
    original = getattr(estimator, "n_jobs", None)
    if has_n_jobs and n_jobs is not None:
        estimator.n_jobs = n_jobs
    try:
        yield has_n_jobs
    finally:
        if has_n_jobs:
            estimator.n_jobs = original


@contextlib.contextmanager
def sklearn_threads(pipeline: Any, threads: int) -> Iterator[str]:
    """Run scikit-learn on ``threads`` threads: the estimator's ``n_jobs`` (restored afterwards), and
    native thread pools through ``threadpoolctl`` when it is installed. Yields how it was done."""
    estimator = pipeline.steps[-1][1]
    controls = []
    if hasattr(estimator, "n_jobs"):
        controls.append(f"{type(estimator).__name__}.n_jobs = {threads}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=threads)
        controls.append(f"threadpoolctl limits = {threads}")
    with estimator_n_jobs(pipeline, threads), limits:
        yield "; ".join(controls) or "not controllable (no n_jobs, no threadpoolctl)"


def batch_repeats(rows: int, budget_rows: int, low: int, high: int) -> int:
    """Repeats for a batch size: about ``budget_rows`` rows in all, at least ``low``, at most ``high``."""
    return max(low, min(high, round(budget_rows / rows)))


def batch_throughput(
    models: Mapping[int, runtime.Model],
    pipeline: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    sizes: Sequence[int],
    all_cores: int,
    repeats: Callable[[int], int],
    progress: Progress,
) -> dict[str, Any]:
    """Rows per second of ``predict_batch`` and ``predict_proba`` per batch size, at 1 thread and all cores.

    ``models`` maps a thread count to a runtime model loaded with it. Each repeat times the runtime
    and scikit-learn back to back (alternating which goes first), so each repeat gives one ratio.
    Throughput is rows over the median time of the repeats.
    """
    manifest = next(iter(models.values())).manifest
    method_name = "predict_proba" if manifest.is_classifier else "predict"
    thread_counts = sorted({1, all_cores})
    entries: list[dict[str, Any]] = []
    controls: dict[int, str] = {}
    for rows in sizes:
        columns = synthetic_columns(manifest, rows, records, seed=rows)
        frame = sklearn_frame(columns, manifest)
        count = repeats(rows)
        for threads in thread_counts:
            model = models[threads]
            with sklearn_threads(pipeline, threads) as how:
                controls[threads] = how
                method = getattr(pipeline, method_name)
                calls = {
                    "runtime": functools.partial(model.predict_batch, columns),
                    "sklearn": functools.partial(method, frame),
                }
                for call in calls.values():
                    call()
                times: dict[str, list[float]] = {"runtime": [], "sklearn": []}
                gc.collect()
                for repeat in range(count):
                    for path in ("runtime", "sklearn") if repeat % 2 == 0 else ("sklearn", "runtime"):
                        start = time.perf_counter_ns()
                        calls[path]()
                        times[path].append((time.perf_counter_ns() - start) / 1e9)
            entry: dict[str, Any] = {"rows": rows, "threads": threads, "repeats": count}
            for path in ("runtime", "sklearn"):
                median = float(np.median(times[path]))
                entry[path] = {
                    "times_s": times[path],
                    "median_s": median,
                    "rows_per_s": rows_per_second(rows, median),
                    "rows_per_s_min": rows_per_second(rows, max(times[path])),
                    "rows_per_s_max": rows_per_second(rows, min(times[path])),
                }
            entry["runtime_over_sklearn"] = ratio_spread(times["sklearn"], times["runtime"])
            entries.append(entry)
            progress(
                f"batch {rows:,} rows, {threads} thread{'s' if threads > 1 else ''}: runtime "
                f"{entry['runtime']['rows_per_s']:,.0f} rows/s, "
                f"scikit-learn {entry['sklearn']['rows_per_s']:,.0f} rows/s"
            )
    return {
        "sizes": list(sizes),
        "threads": thread_counts,
        "all_cores": all_cores,
        "sklearn_thread_control": {str(k): v for k, v in controls.items()},
        "runtime_thread_control": "runtime.load(path, threads=N): onnxruntime intra_op_num_threads",
        "input": "synthetic rows drawn from the manifest's drift_reference (quantiles and category shares), "
        "within valid ranges, missing at the training rate; runtime: column -> numpy array; "
        "scikit-learn: a DataFrame built beforehand",
        "results": entries,
    }


def agreement(
    model: runtime.Model, pipeline: Any, records: Sequence[Mapping[str, Any]], rows: int = 2000
) -> dict[str, Any]:
    """Largest difference between the runtime and scikit-learn on the benchmark's own inputs.

    Proves the two sides of every ratio compute the same thing (the export's parity proof is the
    thorough version of this).
    """
    manifest = model.manifest
    columns = synthetic_columns(manifest, rows, records, seed=12345)
    frame = sklearn_frame(columns, manifest)
    result = model.predict_batch(columns)
    if manifest.is_classifier:
        assert result.probabilities is not None and result.labels is not None
        expected = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
        got = result.probabilities
        labels = np.asarray(pipeline.classes_)[np.argmax(expected, axis=1)]
        mismatches = int(np.sum(labels != result.labels))
    else:
        assert result.values is not None
        expected = np.asarray(pipeline.predict(frame), dtype=np.float64)
        got = result.values
        mismatches = 0
    return {
        "rows": rows,
        "max_abs_diff": float(np.max(np.abs(got - expected))),
        "label_mismatches": mismatches,
        "tolerance": manifest.tolerance,
    }


def model_files(
    model: runtime.Model,
    twin_path: Path,
    payload: Any,
    *,
    levels: Sequence[int],
    joblib_loads: int,
    runtime_loads: int,
    progress: Progress,
) -> dict[str, Any]:
    """ONNX and joblib sizes, joblib save/load time per compression level, and ``runtime.load`` time."""
    with tempfile.TemporaryDirectory(prefix="bench-joblib-") as folder:
        costs = joblib_costs(payload, Path(folder), levels=levels, loads=joblib_loads)
    levels_report = []
    for cost in costs:
        loads = cost["load_times_s"]
        levels_report.append(
            {"compress": cost["compress"], "bytes": cost["bytes"], "save_s": cost["save_s"], "load_s": spread(loads)}
        )
        progress(f"joblib compress={cost['compress']}: {format_bytes(cost['bytes'])}, load {np.median(loads):.3f} s")
    load_times = []
    for _ in range(runtime_loads):
        gc.collect()
        start = time.perf_counter()
        runtime.load(model.path)
        load_times.append(time.perf_counter() - start)
    progress(f"runtime.load: {np.median(load_times):.3f} s (median of {runtime_loads})")
    metadata = payload.get("metadata", {}) if isinstance(payload, Mapping) else {}
    export_config = metadata.get("export_config") or {}
    return {
        "onnx_bytes": (model.path / model.manifest.model_file.path).stat().st_size,
        "joblib_twin": {
            "path": str(twin_path),
            "bytes": twin_path.stat().st_size,
            "compress": export_config.get("compress"),
        },
        "joblib_levels": levels_report,
        "runtime_load_s": spread(load_times),
        "runtime_load_note": "manifest, sha256, external-data check, session, signature, golden-case replay",
    }
