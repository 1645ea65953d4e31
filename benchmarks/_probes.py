"""Cold start and peak memory, each measured in a fresh Python process.

The probes are :mod:`export._performance`'s, the same the export measures a bundle with: the parent
notes the wall clock (``time.time_ns``, shared by every process on the machine) just before it
starts the interpreter; the child notes it again right after printing its first prediction. Their
difference is the cold start a user waits for. The child also reports the time from its own first
line to that print (``in_process_s``: imports, load, first prediction), and its peak resident
memory in MiB (``VmHWM``, field ``peak_rss_mb``), read by code carried in the probe script itself:
importing anything of this project would import numpy and onnxruntime into the scikit-learn
process and inflate its memory. (``ru_maxrss`` is not used: on Linux it keeps the forked parent's
high-water mark across ``exec``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from export._performance import RUNTIME_PROBE, ProbeError, probe_script
from export._performance import run_probe as _run_probe

from ._errors import MeasurementError
from ._stats import ratio_spread, spread

__all__ = ["RUNTIME_PROBE", "SKLEARN_PROBE", "cold_start", "run_probe"]

Progress = Callable[[str], None]

# load the joblib twin in argv[1], call the method named in argv[3] on the record in argv[2] (JSON);
# argv[4], when not empty, sets the estimator's n_jobs first
SKLEARN_PROBE = probe_script(
    """
import joblib, pandas
p = joblib.load(sys.argv[1])["pipeline"]
if sys.argv[4]:
    p.steps[-1][1].n_jobs = int(sys.argv[4])
output = getattr(p, sys.argv[3])(pandas.DataFrame([json.loads(sys.argv[2])]))
print(json.dumps(output[0].tolist()), flush=True)
"""
)


def run_probe(script: str, arguments: Sequence[str], cwd: Path, timeout: float = 300.0) -> dict[str, Any]:
    """:func:`export._performance.run_probe`, its failure reported as a :class:`MeasurementError`."""
    try:
        return _run_probe(script, arguments, cwd, timeout)
    except ProbeError as error:
        raise MeasurementError(f"cold-start {error}") from None


def _without_clock(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run's report without the raw clock readings (epoch nanoseconds mean nothing in a report)."""
    return {key: value for key, value in run.items() if key not in ("started_ns", "printed_ns")}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: spread([run[key] for run in runs])
        for key in ("cold_start_s", "in_process_s", "interpreter_start_s", "process_s", "peak_rss_mb")
    }


def cold_start(
    bundle: Path,
    twin_path: Path,
    record: Mapping[str, Any],
    sklearn_record: Mapping[str, Any],
    *,
    classifier: bool,
    runs: int,
    sklearn_n_jobs: int | None = None,
    cwd: Path,
    progress: Progress,
) -> dict[str, Any]:
    """``runs`` fresh processes each for the runtime and scikit-learn, alternating which goes first.

    One untimed run of each comes first so both read their files from a warm page cache: the figures
    are a process start on a machine that has run the program before, not a first boot.
    """
    arguments = {
        "runtime": (RUNTIME_PROBE, [str(bundle), json.dumps(dict(record))]),
        "sklearn": (
            SKLEARN_PROBE,
            [
                str(twin_path),
                json.dumps(dict(sklearn_record)),
                "predict_proba" if classifier else "predict",
                "" if sklearn_n_jobs is None else str(sklearn_n_jobs),
            ],
        ),
    }
    for script, args in arguments.values():
        run_probe(script, args, cwd)
    results: dict[str, list[dict[str, Any]]] = {"runtime": [], "sklearn": []}
    for index in range(runs):
        for path in ("runtime", "sklearn") if index % 2 == 0 else ("sklearn", "runtime"):
            script, args = arguments[path]
            results[path].append(run_probe(script, args, cwd))
        progress(
            f"cold start {index + 1}/{runs}: runtime {results['runtime'][-1]['cold_start_s'] * 1e3:.0f} ms "
            f"{results['runtime'][-1]['peak_rss_mb']:.0f} MiB, scikit-learn "
            f"{results['sklearn'][-1]['cold_start_s'] * 1e3:.0f} ms {results['sklearn'][-1]['peak_rss_mb']:.0f} MiB"
        )
    return {
        "runs": runs,
        "commands": {
            "runtime": "import runtime; m = runtime.load(PATH); m.predict(record)",
            "sklearn": 'import joblib, pandas; p = joblib.load(twin)["pipeline"]; '
            + ("" if sklearn_n_jobs is None else f"p.steps[-1][1].n_jobs = {sklearn_n_jobs}; ")
            + f"p.{'predict_proba' if classifier else 'predict'}(pandas.DataFrame([record]))",
        },
        "runtime": _summary(results["runtime"]),
        "sklearn": _summary(results["sklearn"]),
        "raw": {path: [_without_clock(run) for run in runs] for path, runs in results.items()},
        "ratios": {
            "cold_start_runtime_over_sklearn": ratio_spread(
                [r["cold_start_s"] for r in results["runtime"]], [r["cold_start_s"] for r in results["sklearn"]]
            ),
            "in_process_runtime_over_sklearn": ratio_spread(
                [r["in_process_s"] for r in results["runtime"]], [r["in_process_s"] for r in results["sklearn"]]
            ),
            "peak_rss_runtime_over_sklearn": ratio_spread(
                [r["peak_rss_mb"] for r in results["runtime"]], [r["peak_rss_mb"] for r in results["sklearn"]]
            ),
        },
    }
