"""One benchmark run: load the bundle and its joblib twin, measure every section, collect the ratios."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import runtime

from . import _context, _measure, _probes
from ._errors import SetupError
from ._records import benchmark_records, distinct_records, sklearn_record
from ._targets import evaluate_targets

__all__ = ["DEFAULT", "QUICK", "FORMAT_VERSION", "Settings", "collect_ratios", "find_twin", "run_benchmarks"]

Progress = Callable[[str], None]
FORMAT_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much to measure. :data:`DEFAULT` finishes in a few minutes on 2 cores, :data:`QUICK` in under one."""

    rounds: int
    calls: int
    sklearn_calls: int
    blocks: int
    batch_sizes: tuple[int, ...]
    batch_rows_budget: int
    batch_repeats_low: int
    batch_repeats_high: int
    cold_runs: int
    joblib_levels: tuple[int, ...]
    joblib_loads: int
    runtime_loads: int
    threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)

    def batch_repeats(self, rows: int) -> int:
        return _measure.batch_repeats(rows, self.batch_rows_budget, self.batch_repeats_low, self.batch_repeats_high)


DEFAULT = Settings(
    rounds=5,
    calls=5000,
    sklearn_calls=300,
    blocks=5,
    batch_sizes=(1, 10, 100, 1_000, 10_000, 100_000),
    batch_rows_budget=300_000,
    batch_repeats_low=5,
    batch_repeats_high=50,
    cold_runs=5,
    joblib_levels=(0, 3, 9),
    joblib_loads=3,
    runtime_loads=5,
)
QUICK = dataclasses.replace(
    DEFAULT,
    rounds=2,
    calls=300,
    sklearn_calls=20,
    blocks=2,
    batch_sizes=(1, 100, 10_000),
    batch_rows_budget=30_000,
    batch_repeats_low=2,
    batch_repeats_high=10,
    cold_runs=2,
    joblib_loads=1,
    runtime_loads=2,
)


def find_twin(model: runtime.Model) -> Path:
    """The joblib file the export saved beside the bundle: ``<model folder>/<version>.joblib``."""
    twin = model.path.parent / f"{model.path.name}.joblib"
    if not twin.is_file():
        raise SetupError(
            f"no joblib twin for {model.name!r} {model.version}: {str(twin)!r} is missing (the export saves it "
            'beside the bundle and it is not committed to git); run "python -m export" to create one'
        )
    return twin


def _load_twin(twin: Path, model: runtime.Model) -> tuple[Any, Any]:
    import joblib

    payload = joblib.load(twin)
    if not isinstance(payload, Mapping) or "pipeline" not in payload:
        raise SetupError(f"{str(twin)!r} is not an export's joblib file (a dict with 'pipeline' and 'metadata')")
    recorded = (payload.get("metadata") or {}).get("onnx_sha256")
    if recorded is not None and recorded != model.manifest.model_file.sha256:
        raise SetupError(
            f"{str(twin)!r} belongs to another export: its ONNX sha256 {recorded[:12]}… differs from the bundle's "
            f"{model.manifest.model_file.sha256[:12]}…; benchmark the bundle it was exported with"
        )
    return payload, payload["pipeline"]


def collect_ratios(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ratio of the run under one flat key, as the targets look them up."""
    ratios: dict[str, dict[str, Any]] = {}
    single = results.get("single_record")
    if single:
        ratios["latency_p50_runtime_over_sklearn"] = single["ratios"]["runtime_over_sklearn"]
        ratios["latency_p50_runtime_over_bare"] = single["ratios"]["runtime_over_bare"]
        ratios["latency_runtime_p99_over_p50"] = single["ratios"]["runtime_p99_over_p50"]
    batch = results.get("batch")
    if batch:
        for entry in batch["results"]:
            labels = []
            if entry["threads"] == 1:
                labels.append("1_thread")
            if entry["threads"] == batch["all_cores"]:
                labels.append("all_cores")
            for label in labels:
                ratios[f"throughput_{entry['rows']}_rows_{label}_runtime_over_sklearn"] = entry["runtime_over_sklearn"]
    cold = results.get("cold_start")
    if cold:
        ratios.update(cold["ratios"])
    return ratios


def run_benchmarks(
    bundle: Path,
    settings: Settings,
    *,
    command: str,
    quick: bool,
    notes: str | None,
    progress: Progress,
    sklearn_n_jobs: int | None = None,
) -> dict[str, Any]:
    """Measure ``bundle`` against its joblib twin; return the results dict written to ``benchmark.json``."""
    started = time.perf_counter()
    noise: dict[str, Any] = {"load_average_start": _context.load_average()}
    progress(f"loading {bundle} (threads 1 and {settings.threads})")
    model = runtime.load(bundle)
    twin = find_twin(model)
    models = {1: model}
    if settings.threads != 1:
        models[settings.threads] = runtime.load(bundle, threads=settings.threads)
    progress(f"loading the joblib twin {twin}")
    payload, pipeline = _load_twin(twin, model)
    records = benchmark_records(model)
    results = _description(model, twin, pipeline, records, settings, command=command, quick=quick)
    progress("checking that the runtime and scikit-learn agree on the benchmark inputs")
    results["agreement"] = _measure.agreement(model, pipeline, records)
    sections = _sections(models, twin, payload, pipeline, records, settings, sklearn_n_jobs, progress)
    noise["cpu_share"] = {}
    for name, measure in sections.items():
        before = _context.cpu_snapshot()
        section_started = time.perf_counter()
        results[name] = measure()
        results[name]["duration_s"] = time.perf_counter() - section_started
        noise["cpu_share"][name] = _context.cpu_share(before, _context.cpu_snapshot())
    noise["load_average_end"] = _context.load_average()
    results["context"]["noise"] = noise
    results["ratios"] = collect_ratios(results)
    results["targets"] = evaluate_targets(results["ratios"])
    results["notes"] = notes
    results["duration_s"] = time.perf_counter() - started
    return results


def _description(
    model: runtime.Model,
    twin: Path,
    pipeline: Any,
    records: list[dict[str, Any]],
    settings: Settings,
    *,
    command: str,
    quick: bool,
) -> dict[str, Any]:
    """What was measured, how, and on what: the head of ``benchmark.json``."""
    manifest = model.manifest
    model_bytes = (model.path / manifest.model_file.path).read_bytes()
    return {
        "format": FORMAT_VERSION,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "quick": quick,
        "settings": {
            **dataclasses.asdict(settings),
            "batch_repeats": {str(n): settings.batch_repeats(n) for n in settings.batch_sizes},
        },
        "bundle": {
            "path": str(model.path),
            "name": manifest.name,
            "version": manifest.version,
            "task": manifest.task,
            "joblib_twin": str(twin),
            "records": len(records),
            "record_kinds": sorted({case.kind for case in manifest.golden_cases if dict(case.inputs) in records}),
        },
        "context": {
            "machine": _context.machine(),
            "libraries": _context.libraries(),
            "model": {
                **_context.model_description(pipeline, manifest.training.to_dict(), manifest.metrics.to_dict()),
                "onnx_operators": _context.onnx_operators(model_bytes),
                "onnx_bytes": len(model_bytes),
                "exported_with": dict(manifest.libraries),
            },
            "timer_overhead_ns": _measure.timer_overhead_ns(),
        },
    }


# single-record latency runs over this many distinct records (drawn from the training distribution)
DISTINCT_RECORDS = 10_000


def _sections(
    models: Mapping[int, runtime.Model],
    twin: Path,
    payload: Any,
    pipeline: Any,
    records: list[dict[str, Any]],
    settings: Settings,
    sklearn_n_jobs: int | None,
    progress: Progress,
) -> dict[str, Callable[[], dict[str, Any]]]:
    """The measurements, in the order they run, each a call that returns its section of the results."""
    model = models[1]
    manifest = model.manifest
    return {
        "single_record": lambda: _measure.single_record_latency(
            model,
            pipeline,
            distinct_records(model, records, DISTINCT_RECORDS),
            rounds=settings.rounds,
            calls=settings.calls,
            sklearn_calls=settings.sklearn_calls,
            blocks=settings.blocks,
            sklearn_n_jobs=sklearn_n_jobs,
            progress=progress,
        ),
        "batch": lambda: _measure.batch_throughput(
            models,
            pipeline,
            records,
            sizes=settings.batch_sizes,
            all_cores=settings.threads,
            repeats=settings.batch_repeats,
            progress=progress,
        ),
        "cold_start": lambda: _probes.cold_start(
            model.path,
            twin,
            records[0],
            sklearn_record(records[0], manifest),
            classifier=manifest.is_classifier,
            runs=settings.cold_runs,
            sklearn_n_jobs=sklearn_n_jobs,
            cwd=REPO_ROOT,
            progress=progress,
        ),
        "files": lambda: _measure.model_files(
            model,
            twin,
            payload,
            levels=settings.joblib_levels,
            joblib_loads=settings.joblib_loads,
            runtime_loads=settings.runtime_loads,
            progress=progress,
        ),
    }
