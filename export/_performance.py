"""What a bundle costs on the device path: single-record latency, and the peak memory and cold start of
a fresh process that loads it and predicts once; and the device budget an export may be held to.

The export records these in the manifest's ``performance`` (and fails with :class:`BudgetError`
when a budget is missed); ``python -m benchmarks`` uses the same probe and timing loop for its cold
start and latency sections, so both report the same thing the same way.

Memory is the peak resident set size (``VmHWM`` on Linux) in MiB; the manifest field keeps its name
``peak_rss_mb``. ``ru_maxrss`` is not used on Linux: it keeps the forked parent's high-water mark
across ``exec``, so a child of a large parent would report the parent's peak.
"""

from __future__ import annotations

import compileall
import functools
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import runtime

from ._errors import BudgetError

Progress = Callable[[str], None]

__all__ = [
    "RUNTIME_PROBE",
    "ProbeError",
    "check_budget",
    "compile_runtime",
    "fresh_processes",
    "joblib_costs",
    "measure",
    "peak_rss_mib",
    "probe_script",
    "run_probe",
    "single_record_latency",
    "time_calls",
    "untimed_calls",
]

WARMUP_CALLS = 200
TIMED_CALLS = 2000
FRESH_PROCESSES = 3
PROBE_TIMEOUT_S = 300.0


class ProbeError(RuntimeError):
    """A probe process failed or timed out; the message holds the last line of its stderr."""


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB (``VmHWM`` on Linux, ``ru_maxrss`` elsewhere).

    Self-contained, imports inside: its source also runs in the probe processes, which must not
    import this package (numpy and onnxruntime would inflate a scikit-learn process's memory).
    """
    import resource
    import sys

    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


_PROBE_START = "import time; _started_ns = time.time_ns(); _started = time.perf_counter()\nimport json, sys\n"
_PROBE_REPORT = """
_printed_ns = time.time_ns(); _printed = time.perf_counter()
{peak_rss_source}
print(json.dumps({{"started_ns": _started_ns, "printed_ns": _printed_ns, "in_process_s": _printed - _started,
                  "peak_rss_mb": peak_rss_mib()}}), flush=True)
"""


def probe_script(body: str) -> str:
    """A fresh-process probe: ``body`` (which prints one line of output) between a clock started on
    the first line and a last line reporting the clocks and :func:`peak_rss_mib` as JSON.

    ``body`` sees ``json``, ``sys`` and ``time``; its arguments are ``sys.argv[1:]``.
    """
    report = _PROBE_REPORT.format(peak_rss_source=inspect.getsource(peak_rss_mib))
    return _PROBE_START + body.strip() + "\n" + report


# load the bundle in argv[1], predict the record in argv[2] (JSON), print the outputs
RUNTIME_PROBE = probe_script(
    """
import runtime
m = runtime.load(sys.argv[1])
prediction = m.predict(json.loads(sys.argv[2]))
print(json.dumps(list(prediction.probabilities.values()) if prediction.probabilities else prediction.value), flush=True)
"""
)


def run_probe(script: str, arguments: Sequence[str], cwd: Path, timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; return its report with the parent-side wall times.

    ``cold_start_s`` runs from just before the interpreter starts to the printed output (the wall
    clock is shared by every process on the machine), ``in_process_s`` from the script's first line.
    The runtime is byte-compiled first, untimed (:func:`compile_runtime`).
    """
    compile_runtime()
    started_ns = time.time_ns()
    try:
        completed = subprocess.run(
            [sys.executable, "-c", script, *arguments],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            env=dict(os.environ),
        )
    except subprocess.TimeoutExpired:
        raise ProbeError(f"probe process did not finish within {timeout:.0f} s") from None
    ended_ns = time.time_ns()
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or len(lines) < 2:
        detail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProbeError(f"probe process exited with {completed.returncode}: {detail}")
    report: dict[str, Any] = json.loads(lines[-1])
    report["first_output"] = lines[0]
    report["cold_start_s"] = (report["printed_ns"] - started_ns) / 1e9
    report["interpreter_start_s"] = (report["started_ns"] - started_ns) / 1e9
    report["process_s"] = (ended_ns - started_ns) / 1e9
    return report


def time_calls(
    call: Callable[[Any], Any], inputs: Sequence[Any], count: int, out: list[int], *, offset: int = 0
) -> None:
    """Time ``count`` calls one by one (``perf_counter_ns``), cycling through ``inputs`` from ``offset``;
    the durations in ns are appended to ``out``."""
    clock = time.perf_counter_ns
    size = len(inputs)
    for index in range(offset, offset + count):
        item = inputs[index % size]
        start = clock()
        call(item)
        out.append(clock() - start)


def untimed_calls(call: Callable[[Any], Any], inputs: Sequence[Any], count: int) -> None:
    """``count`` calls cycling through ``inputs``, to warm a path up before it is timed."""
    for index in range(count):
        call(inputs[index % len(inputs)])


def single_record_latency(
    model: runtime.Model, records: Sequence[Mapping[str, Any]], *, calls: int = TIMED_CALLS
) -> runtime.Latency:
    """p50, p90 and p99 in µs of ``model.predict`` on one record at a time, after a warm-up."""
    untimed_calls(model.predict, records, WARMUP_CALLS)
    timings: list[int] = []
    time_calls(model.predict, records, calls, timings)
    p50, p90, p99 = (float(p) for p in np.percentile(np.asarray(timings) / 1000.0, [50, 90, 99]))
    return runtime.Latency(p50=p50, p90=p90, p99=p99, calls=len(timings))


@functools.cache
def compile_runtime() -> None:
    """Byte-compile the runtime package, as installing it on a device does, before timing fresh processes.

    A device gets the runtime from a wheel, which pip byte-compiles at install, and so is the
    scikit-learn the benchmarks compare with. A source checkout run with ``PYTHONDONTWRITEBYTECODE``
    (as on this project's machines) would instead compile every runtime module from source in every
    probe: about 35 ms and 1.2 MiB more per fresh process, measured, which no device pays. Writes
    only ``__pycache__`` beside the sources; a read-only tree is left as it is. Once per process.
    """
    compileall.compile_dir(Path(runtime.__file__).resolve().parent, quiet=2)


def fresh_processes(
    bundle: Path, record: Mapping[str, Any], *, runs: int = FRESH_PROCESSES, progress: Progress = lambda message: None
) -> list[dict[str, Any]]:
    """:data:`RUNTIME_PROBE` reports of ``runs`` fresh processes loading ``bundle`` and predicting ``record``."""
    # the folder holding the runtime package, so the probe imports this same runtime
    cwd = Path(runtime.__file__).resolve().parent.parent
    reports = []
    for run in range(runs):
        progress(f"measuring: fresh process {run + 1} of {runs} (load, predict once, peak RSS)")
        reports.append(run_probe(RUNTIME_PROBE, [str(bundle), json.dumps(dict(record))], cwd))
    return reports


def measure(bundle: Path, example: Mapping[str, Any], progress: Progress = lambda message: None) -> runtime.Performance:
    """The manifest's ``performance``: latency in this process, memory and cold start in fresh ones."""
    progress(f"measuring: single-record latency ({TIMED_CALLS:,} calls)")
    latency = single_record_latency(runtime.load(bundle), [example])
    runs = fresh_processes(bundle, example, progress=progress)
    return runtime.Performance(
        single_record_latency_us=latency,
        peak_rss_mb=float(np.median([run["peak_rss_mb"] for run in runs])),
        load_and_first_prediction_s=float(np.median([run["in_process_s"] for run in runs])),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        threads=1,
        note=f"measured by the export on the export machine; medians of {len(runs)} fresh processes for memory",
    )


def joblib_costs(
    payload: Any, folder: Path, *, levels: Sequence[int], loads: int, progress: Progress = lambda message: None
) -> list[dict[str, Any]]:
    """Per joblib compression level: file size, save time and ``loads`` load times of ``payload``,
    each written to ``folder`` and removed again. The export and the benchmarks both report these."""
    import joblib

    rows = []
    for level in levels:
        progress(f"joblib: size and load time at compress={level} ({loads} loads)")
        path = folder / f"probe-{level}.joblib"
        start = time.perf_counter()
        joblib.dump(payload, path, compress=level)
        saved = time.perf_counter() - start
        load_times = []
        for _ in range(loads):
            start = time.perf_counter()
            joblib.load(path)
            load_times.append(time.perf_counter() - start)
        rows.append({"compress": level, "bytes": path.stat().st_size, "save_s": saved, "load_times_s": load_times})
        path.unlink()
    return rows


def check_budget(
    performance: runtime.Performance, max_memory_mb: float | None, max_latency_us: float | None
) -> runtime.Budget:
    """Compare the measured figures with the device budget; raise :class:`BudgetError` on a miss.

    >>> latency = runtime.Latency(p50=20.0, p90=21.0, p99=30.0, calls=2000)
    >>> check_budget(runtime.Performance(latency, peak_rss_mb=60.0), 100.0, None)
    Budget(max_memory_mb=100.0, max_latency_us=None, met=True)
    """
    assert performance.peak_rss_mb is not None and performance.single_record_latency_us is not None
    measured = {
        "peak RSS": (performance.peak_rss_mb, max_memory_mb, "MiB"),
        "single-record p50 latency": (performance.single_record_latency_us.p50, max_latency_us, "µs"),
    }
    misses = [
        f"{label} {value:,.1f} {unit} exceeds the budget of {limit:,.1f} {unit} by {value - limit:,.1f} {unit} "
        f"({value / limit - 1:.0%})"
        for label, (value, limit, unit) in measured.items()
        if limit is not None and value > limit
    ]
    if misses:
        raise BudgetError(
            "the bundle misses the device budget: " + "; ".join(misses) + ". Shrink the model (e.g. "
            "--param max_depth=10 or min_samples_leaf=5) or raise the budget; the current version was not changed."
        )
    return runtime.Budget(max_memory_mb, max_latency_us, met=max_memory_mb is not None or max_latency_us is not None)
