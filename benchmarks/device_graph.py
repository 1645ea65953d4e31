"""The device graph against its honest anchors (issue 13): not a test, a script.

    python -m benchmarks.device_graph models/quality [more model folders] [--quick] [--output DIR]

For each bundle (a model folder with its joblib twin beside it, as the export writes it) it times,
interleaved in rounds whose order rotates:

- one record at a time over 10,000 **distinct** records (drawn from the bundle's drift reference,
  missing at the training rate): ``runtime.predict`` on the device graph; ``runtime.predict`` on
  the public graph (the same bundle without its device graph: what the runtime did before); a bare
  ``session.run`` of the public per-column graph on arrays prepared in advance (the "converter"
  anchor: what skl2onnx plus onnxruntime gives a user); a bare ``session.run`` of the device graph
  on packed rows prepared in advance; scikit-learn ``predict_proba`` on a one-row DataFrame with
  ``n_jobs=1`` (the headline) and with ``n_jobs=-1`` beside it;
- batches of 1 to 1,000,000 rows at 1 and 2 threads (the same thread count on both sides), and the
  list-of-records input against the column-mapping input;
- cold start and peak RSS in fresh processes (:mod:`benchmarks._probes`).

The issue's targets are the default bundle's; every other bundle is judged against the same bounds
for reference, except a fully grown forest's peak RSS (≤ 0.6, the issue's own bound for it).
It writes ``device_graph.json`` and ``device_graph.md`` into ``--output``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import runtime
from export._performance import time_calls, untimed_calls

from ._context import cpu_share, cpu_snapshot, libraries, load_average, machine
from ._measure import output_names, sklearn_threads
from ._probes import cold_start
from ._records import (
    benchmark_records,
    column_records,
    distinct_records,
    onnx_feeds,
    sklearn_frame,
    sklearn_record,
    synthetic_columns,
)
from ._report import cpu_share_sentence
from ._run import REPO_ROOT, find_twin
from ._stats import ratio_spread, spread
from ._targets import evaluate_target

__all__ = ["ISSUE_TARGETS", "main", "targets_for"]

Progress = Callable[[str], None]
DISTINCT_RECORDS = 10_000
LATENCY_PATHS = ("runtime", "runtime_public", "bare_public", "bare_device", "sklearn_1", "sklearn_all")
SIZES = (1, 100, 10_000, 100_000, 1_000_000)
TARGET_SIZES = (10_000, 100_000, 1_000_000)

ISSUE_TARGETS: list[dict[str, Any]] = [
    {"name": "runtime.predict p50, distinct records (µs)", "key": "predict_p50_us", "bound": 10.0, "direction": "<="},
    {
        "name": "runtime.predict ÷ bare run of the public per-column graph",
        "key": "predict_over_bare_public",
        "bound": 0.6,
        "direction": "<=",
    },
    {
        "name": "runtime.predict ÷ scikit-learn n_jobs=1, p50",
        "key": "predict_over_sklearn_1",
        "bound": 1 / 600,
        "direction": "<=",
    },
    {"name": "runtime.predict p99 ÷ p50", "key": "predict_p99_over_p50", "bound": 2.0, "direction": "<="},
    *[
        {
            "name": f"predict_batch ÷ scikit-learn, {rows:,} rows, {threads} thread{'s' if threads > 1 else ''}",
            "key": f"batch_{rows}_{threads}",
            "bound": 1.2,
            "direction": ">=",
        }
        for rows in TARGET_SIZES
        for threads in (1, 2)
    ],
    {
        "name": "list-of-records input ÷ column-mapping input (throughput)",
        "key": "records_over_columns",
        "bound": 0.9,
        "direction": ">=",
    },
    {"name": "peak RSS ÷ scikit-learn", "key": "peak_rss_over_sklearn", "bound": 0.35, "direction": "<="},
    {"name": "cold start ÷ scikit-learn", "key": "cold_start_over_sklearn", "bound": 0.12, "direction": "<="},
]


def targets_for(estimator: Any) -> list[dict[str, Any]]:
    """The issue's targets for this bundle: a fully grown forest's peak RSS has its own bound (≤ 0.6);
    every other bound is the default bundle's, and other bundles are judged against it for reference."""
    fully_grown = type(estimator).__name__.startswith("RandomForest") and getattr(estimator, "max_depth", 0) is None
    if not fully_grown:
        return ISSUE_TARGETS
    return [
        {**target, "name": "peak RSS ÷ scikit-learn (fully grown forest)", "bound": 0.6}
        if target["key"] == "peak_rss_over_sklearn"
        else target
        for target in ISSUE_TARGETS
    ]


def _public_copy(bundle: Path, folder: Path) -> Path:
    """The bundle without its device graph, as an export before issue 13 wrote it."""
    target = folder / bundle.name
    shutil.copytree(bundle, target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("device_graph", None)
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def _packed_row(record: Mapping[str, Any], graph: runtime.DeviceGraph) -> dict[str, np.ndarray]:
    """The device graph's [1, width] input for ``record``, from the manifest's layout (prepared in advance)."""
    row = np.zeros((1, graph.width))
    for name, column in graph.columns.items():
        value = record[name]
        if column.value is not None or column.negated is not None:
            number = math.nan if value is None else float(value)
            if column.value is not None:
                row[0, column.value] = number
            if column.negated is not None:
                row[0, column.negated] = -number
        else:
            slot = column.categories.get("" if value is None else value)
            if slot is not None:
                row[0, slot] = 1.0
    return {graph.input: row}


def _session(path: Path) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(
        path.read_bytes(), sess_options=runtime.session_options(), providers=["CPUExecutionProvider"]
    )


def _latency_paths(model: runtime.Model, public: runtime.Model, pipeline: Any) -> dict[str, Callable[[Any], Any]]:
    import pandas as pd

    manifest = model.manifest
    assert manifest.device_graph is not None
    bare_public = _session(model.path / manifest.model_file.path)
    bare_device = _session(model.path / manifest.device_graph.file.path)
    names = output_names(manifest)
    method = pipeline.predict_proba if manifest.is_classifier else pipeline.predict
    return {
        "runtime": model.predict,
        "runtime_public": public.predict,
        "bare_public": lambda feeds: bare_public.run(names, feeds),
        "bare_device": lambda feeds: bare_device.run(names, feeds),
        "sklearn_1": lambda record: method(pd.DataFrame([record])),
        "sklearn_all": lambda record: method(pd.DataFrame([record])),
    }


def latency(
    model: runtime.Model,
    public: runtime.Model,
    pipeline: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    rounds: int,
    calls: int,
    sklearn_calls: int,
    progress: Progress,
) -> dict[str, Any]:
    """p50 and p99 per path and round over distinct records, and the per-round ratios."""
    manifest = model.manifest
    assert manifest.device_graph is not None
    inputs: dict[str, list[Any]] = {
        "runtime": list(records),
        "runtime_public": list(records),
        "bare_public": [onnx_feeds(record, manifest) for record in records],
        "bare_device": [_packed_row(record, manifest.device_graph) for record in records],
        "sklearn_1": [sklearn_record(record, manifest) for record in records],
    }
    inputs["sklearn_all"] = inputs["sklearn_1"]
    paths = _latency_paths(model, public, pipeline)
    estimator = pipeline.steps[-1][1]
    saved_n_jobs = getattr(estimator, "n_jobs", None)
    per_round: list[dict[str, dict[str, float]]] = []
    for index in range(rounds):
        order = LATENCY_PATHS[index % len(LATENCY_PATHS) :] + LATENCY_PATHS[: index % len(LATENCY_PATHS)]
        summary: dict[str, dict[str, float]] = {}
        gc.collect()
        for path in order:
            if hasattr(estimator, "n_jobs"):
                estimator.n_jobs = -1 if path == "sklearn_all" else 1
            count = sklearn_calls if path.startswith("sklearn") else calls
            offset = index * count
            untimed_calls(paths[path], inputs[path][offset % len(records) :], 3 if path.startswith("sklearn") else 100)
            timings: list[int] = []
            time_calls(paths[path], inputs[path], count, timings, offset=offset)
            p50, p99 = np.percentile(np.asarray(timings) / 1e3, [50, 99])
            summary[path] = {"p50": float(p50), "p99": float(p99)}
        per_round.append(summary)
        progress(
            f"latency round {index + 1}/{rounds}: "
            + ", ".join(f"{path} {summary[path]['p50']:.1f} µs" for path in LATENCY_PATHS)
        )
    if hasattr(estimator, "n_jobs"):
        estimator.n_jobs = saved_n_jobs
    p50 = {path: [r[path]["p50"] for r in per_round] for path in LATENCY_PATHS}
    p99 = {path: [r[path]["p99"] for r in per_round] for path in LATENCY_PATHS}
    return {
        "records": len(records),
        "calls_per_round": {"onnxruntime": calls, "sklearn": sklearn_calls},
        "p50_us": {path: spread(values) for path, values in p50.items()},
        "p99_us": {path: spread(values) for path, values in p99.items()},
        "ratios": {
            "predict_p50_us": spread(p50["runtime"]),
            "predict_over_bare_public": ratio_spread(p50["runtime"], p50["bare_public"]),
            "predict_over_sklearn_1": ratio_spread(p50["runtime"], p50["sklearn_1"]),
            "predict_over_sklearn_all": ratio_spread(p50["runtime"], p50["sklearn_all"]),
            "predict_p99_over_p50": ratio_spread(p99["runtime"], p50["runtime"]),
            "public_predict_over_bare_public": ratio_spread(p50["runtime_public"], p50["bare_public"]),
            "bare_device_over_bare_public": ratio_spread(p50["bare_device"], p50["bare_public"]),
        },
    }


def _timed(call: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def batches(
    bundle: Path,
    pipeline: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    sizes: Sequence[int],
    budget_rows: int,
    progress: Progress,
) -> dict[str, Any]:
    """Throughput ratios (scikit-learn time ÷ runtime time) per size and thread count, and records ÷ columns."""
    models = {threads: runtime.load(bundle, threads=threads) for threads in (1, 2)}
    manifest = models[1].manifest
    method = pipeline.predict_proba if manifest.is_classifier else pipeline.predict
    results: list[dict[str, Any]] = []
    ratios: dict[str, Any] = {}
    for rows in sizes:
        columns = synthetic_columns(manifest, rows, records, seed=rows)
        frame = sklearn_frame(columns, manifest)
        repeats = max(1, min(7, budget_rows // rows))
        for threads, model in models.items():
            with sklearn_threads(pipeline, threads):
                model.predict_batch(columns), method(frame)  # warm both
                runtime_times, sklearn_times = [], []
                for _ in range(repeats):  # back to back, so each repeat gives one ratio
                    runtime_times += _timed(functools.partial(model.predict_batch, columns), 1)
                    sklearn_times += _timed(functools.partial(method, frame), 1)
            ratio = ratio_spread(sklearn_times, runtime_times)
            ratios[f"batch_{rows}_{threads}"] = ratio
            results.append(
                {
                    "rows": rows,
                    "threads": threads,
                    "repeats": repeats,
                    "runtime_rows_per_s": rows / float(np.median(runtime_times)),
                    "sklearn_rows_per_s": rows / float(np.median(sklearn_times)),
                    "ratio": ratio,
                }
            )
            progress(f"batch {rows:,} rows, {threads} threads: runtime ÷ scikit-learn {ratio['median']:.2f}")
        if rows in (10_000, 100_000):
            listed = column_records(columns, rows)
            by_records = _timed(functools.partial(models[1].predict_batch, listed), repeats)
            by_columns = _timed(functools.partial(models[1].predict_batch, columns), repeats)
            ratios.setdefault("records_over_columns_by_size", {})[str(rows)] = ratio_spread(by_columns, by_records)
    by_size = ratios.pop("records_over_columns_by_size", {})
    if by_size:
        ratios["records_over_columns"] = min(by_size.values(), key=lambda r: r["median"])
        ratios["records_over_columns_by_size"] = by_size
    return {"results": results, "ratios": ratios}


def _load_average() -> float | None:
    loads = load_average()
    return loads[0] if loads else None


def _bench_bundle(folder: Path, work: Path, *, quick: bool, progress: Progress) -> dict[str, Any]:
    """One bundle's figures and verdicts, with how busy the machine was meanwhile (``noise``)."""
    load_before, cpu_before, started = _load_average(), cpu_snapshot(), time.perf_counter()
    run = _measure_bundle(folder, work, quick=quick, progress=progress)
    run["noise"] = {
        "load_average_1min": [load_before, _load_average()],
        "cpu_share": cpu_share(cpu_before, cpu_snapshot()),
        "duration_s": round(time.perf_counter() - started, 1),
    }
    return run


def _measure_bundle(folder: Path, work: Path, *, quick: bool, progress: Progress) -> dict[str, Any]:
    import joblib

    model = runtime.load(folder)
    if model.manifest.device_graph is None:
        raise SystemExit(f"{folder} has no device graph: export it with this version first")
    twin = find_twin(model)
    pipeline = joblib.load(twin)["pipeline"]
    public = runtime.load(_public_copy(model.path, work / model.name))
    examples = benchmark_records(model)
    records = distinct_records(model, examples, DISTINCT_RECORDS)
    progress(
        f"{folder}: {model.manifest.training.to_dict().get('estimator')}, device graph width "
        f"{model.manifest.device_graph.width}"
    )
    single = latency(
        model,
        public,
        pipeline,
        records,
        rounds=3 if quick else 5,
        calls=2000 if quick else 5000,
        sklearn_calls=30 if quick else 200,
        progress=progress,
    )
    batch = batches(
        model.path,
        pipeline,
        examples,
        sizes=SIZES if not quick else SIZES[:-1] + (1_000_000,),
        budget_rows=300_000 if quick else 1_000_000,
        progress=progress,
    )
    start = cold_start(
        model.path,
        twin,
        records[0],
        sklearn_record(records[0], model.manifest),
        classifier=model.manifest.is_classifier,
        runs=2 if quick else 5,
        sklearn_n_jobs=1,
        cwd=REPO_ROOT,
        progress=progress,
    )
    ratios = {
        **single["ratios"],
        **batch["ratios"],
        "peak_rss_over_sklearn": start["ratios"]["peak_rss_runtime_over_sklearn"],
        "cold_start_over_sklearn": start["ratios"]["cold_start_runtime_over_sklearn"],
    }
    return {
        "bundle": str(model.path),
        "estimator": type(pipeline.steps[-1][1]).__name__,
        "params": {
            k: v
            for k, v in pipeline.steps[-1][1].get_params().items()
            if k in ("max_depth", "n_estimators", "max_iter")
        },
        "latency": single,
        "batches": batch,
        "cold_start": {k: start[k] for k in ("runtime", "sklearn", "ratios")},
        "ratios": ratios,
        "targets": [evaluate_target(t, ratios.get(t["key"])) for t in targets_for(pipeline.steps[-1][1])],
    }


def _context_lines(context: Mapping[str, Any] | None) -> list[str]:
    if not context:
        return []
    where = context["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in context["libraries"].items())
    return [
        f"Command: `{context['command']}`, started {context['started']}.",
        "",
        f"Machine: {where['architecture']}, {where['cpu_model']}, {where['cores']} cores, "
        f"{where['memory_gb']} GB. Libraries: {versions}.",
        "",
    ]


def _noise_line(noise: Mapping[str, Any] | None) -> list[str]:
    if not noise:
        return []
    load = " → ".join("?" if value is None else f"{value:.2f}" for value in noise["load_average_1min"])
    share = noise.get("cpu_share")
    used = cpu_share_sentence(share) if share else "CPU shares not readable"
    return [f"Noise: 1-minute load average {load}; {used}; {noise['duration_s']:.0f} s.", ""]


def _markdown(runs: list[dict[str, Any]], quick: bool, context: Mapping[str, Any] | None = None) -> str:
    lines = [
        "# Device graph benchmark (issue 13)",
        "",
        f"{'Quick run' if quick else 'Run'}: medians over rounds; every ratio is taken within a round "
        "(or a back-to-back repeat) and a target is judged on the median. Targets are those of issue 13.",
        "",
        *_context_lines(context),
    ]
    for run in runs:
        lines += [
            f"## {run['estimator']} {run['params']} ({run['bundle']})",
            "",
            *_noise_line(run.get("noise")),
            "| target | measured | min–max | verdict |",
            "|---|---|---|---|",
        ]
        for target in run["targets"]:
            low, high = target["min"], target["max"]
            span = f"{low:.4g}–{high:.4g}" if low is not None else ""
            measured = f"{target['measured']:.4g}" if target["measured"] is not None else ""
            lines.append(f"| {target['name']} | {measured} | {span} | {target['verdict']} |")
        p50 = run["latency"]["p50_us"]
        lines += [
            "",
            "| single record p50 (µs) | " + " | ".join(LATENCY_PATHS) + " |",
            "|---|" + "---|" * len(LATENCY_PATHS),
            "| median | " + " | ".join(f"{p50[p]['median']:.1f}" for p in LATENCY_PATHS) + " |",
            "",
        ]
        lines += ["| rows | threads | runtime rows/s | scikit-learn rows/s | ratio |", "|---|---|---|---|---|"]
        for entry in run["batches"]["results"]:
            lines.append(
                f"| {entry['rows']:,} | {entry['threads']} | {entry['runtime_rows_per_s']:,.0f} | "
                f"{entry['sklearn_rows_per_s']:,.0f} | {entry['ratio']['median']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device_graph", description=__doc__.split("\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path, help="model folders (joblib twin beside the version)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and repeats (about two minutes a bundle)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "reports")
    args = parser.parse_args(argv)
    context = {
        "command": "python -m benchmarks.device_graph " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "libraries": libraries(),
    }
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-device-") as work:
        for index, folder in enumerate(args.bundles):
            runs.append(_bench_bundle(folder, Path(work) / str(index), quick=args.quick, progress=print))
    args.output.mkdir(parents=True, exist_ok=True)
    report = {"context": context, "runs": runs}
    (args.output / "device_graph.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = _markdown(runs, args.quick, context)
    (args.output / "device_graph.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
