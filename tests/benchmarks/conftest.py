"""A fixed, hand-made results dict shaped like ``benchmark.json``, for report and target tests.

Numbers are chosen so every ratio is easy to check by hand: runtime p50 20 µs against bare 16 µs
(1.25 exactly in round 1) and scikit-learn 8,000 µs (1/400).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.export.conftest import tiny_export  # noqa: F401  (the export suite's tiny export, built once)

BENCHMARKS_IMPORTABLE = (
    'benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"'
)
NOTES = "The forest's TreeEnsemble walks 100 trees per row; **tried**: ORT format (-30 % RSS)."


def _summary(p50: float, p99: float, count: int) -> dict[str, Any]:
    return {
        "count": count,
        "mean": p50 * 1.05,
        "min": p50 * 0.9,
        "p50": p50,
        "p90": p50 * 1.1,
        "p99": p99,
        "max": p99 * 3,
    }


def _spread(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {"median": ordered[len(ordered) // 2], "min": ordered[0], "max": ordered[-1], "values": values}


def _cdf(p50: float) -> dict[str, list[float]]:
    percents = [float(p) for p in range(100)] + [99.5, 99.9, 100.0]
    return {"percent": percents, "value": [p50 * (0.9 + p / 400) for p in percents]}


def _batch_entry(rows: int, threads: int, runtime_s: list[float], sklearn_s: list[float]) -> dict[str, Any]:
    def side(times: list[float]) -> dict[str, Any]:
        median = sorted(times)[len(times) // 2]
        return {
            "times_s": times,
            "median_s": median,
            "rows_per_s": rows / median,
            "rows_per_s_min": rows / max(times),
            "rows_per_s_max": rows / min(times),
        }

    return {
        "rows": rows,
        "threads": threads,
        "repeats": len(runtime_s),
        "runtime": side(runtime_s),
        "sklearn": side(sklearn_s),
        "runtime_over_sklearn": _spread([s / r for s, r in zip(sklearn_s, runtime_s)]),
    }


def make_results() -> dict[str, Any]:
    # imported here, not at the top: a conftest that fails to import would stop every test session
    from benchmarks._run import collect_ratios
    from benchmarks._targets import evaluate_targets

    rounds = [
        {
            "round": 1,
            "order": ["runtime", "bare", "sklearn"],
            "runtime": _summary(20.0, 40.0, 5000),
            "bare": _summary(16.0, 20.0, 5000),
            "sklearn": _summary(8000.0, 9000.0, 300),
        },
        {
            "round": 2,
            "order": ["bare", "sklearn", "runtime"],
            "runtime": _summary(21.0, 84.0, 5000),
            "bare": _summary(15.0, 19.0, 5000),
            "sklearn": _summary(8400.0, 9900.0, 300),
        },
        {
            "round": 3,
            "order": ["sklearn", "runtime", "bare"],
            "runtime": _summary(19.0, 38.0, 5000),
            "bare": _summary(16.0, 21.0, 5000),
            "sklearn": _summary(7600.0, 9100.0, 300),
        },
    ]
    results: dict[str, Any] = {
        "format": 1,
        "created_at": "2026-01-02T03:04:05+00:00",
        "command": "python -m benchmarks /tmp/bench-models/quality --notes gaps.md",
        "quick": False,
        "bundle": {
            "path": "/tmp/bench-models/quality/1.0.0",
            "name": "quality",
            "version": "1.0.0",
            "task": "binary_classification",
            "joblib_twin": "/tmp/bench-models/quality/1.0.0.joblib",
            "records": 16,
            "record_kinds": ["held-out", "missing"],
        },
        "context": {
            "machine": {
                "platform": "Linux-6.1-x86_64",
                "system": "Linux",
                "architecture": "x86_64",
                "cpu_model": "AMD EPYC",
                "cores": 2,
                "cores_usable": 2,
                "memory_gb": 23.5,
                "load_average": [1.0, 1.0, 1.0],
            },
            "libraries": {
                "python": "3.11.7",
                "numpy": "2.4.6",
                "onnxruntime": "1.32.0",
                "scikit-learn": "1.9.1",
                "pandas": "3.1.1",
                "joblib": "1.6.0",
            },
            "model": {
                "estimator": "RandomForestClassifier",
                "steps": ["preprocess", "model"],
                "n_jobs": -1,
                "trees": 100,
                "tree_nodes": 227140,
                "max_depth": 31,
                "max_depth_param": None,
                "training_rows": 16000,
                "source": "demo",
                "accuracy": 0.9455,
                "macro_f1": 0.895,
                "onnx_operators": {"Cast": 6, "TreeEnsemble": 1},
                "onnx_bytes": 4312115,
                "exported_with": {},
            },
            "timer_overhead_ns": 40.0,
            "noise": {
                "load_average_start": [1.0, 1.0, 1.0],
                "load_average_end": [1.2, 1.0, 1.0],
                "cpu_share": {"single_record": {"own": 0.5, "others": 0.25, "steal": 0.0}},
            },
        },
        "agreement": {"rows": 2000, "max_abs_diff": 1.1e-16, "label_mismatches": 0, "tolerance": 1e-9},
        "single_record": {
            "unit": "µs",
            "rounds": 3,
            "blocks_per_round": 5,
            "calls_per_round": {"runtime": 5000, "bare": 5000, "sklearn": 300},
            "records": 16,
            "sklearn_n_jobs": -1,
            "per_round": rounds,
            "pooled": {
                "runtime": _summary(20.0, 45.0, 15000),
                "bare": _summary(16.0, 20.0, 15000),
                "sklearn": _summary(8000.0, 9500.0, 900),
            },
            "cdf": {"runtime": _cdf(20.0), "bare": _cdf(16.0), "sklearn": _cdf(8000.0)},
            "ratios": {
                "runtime_over_sklearn": _spread([20.0 / 8000.0, 21.0 / 8400.0, 19.0 / 7600.0]),
                "runtime_over_bare": _spread([1.25, 1.4, 1.1875]),
                "runtime_p99_over_p50": _spread([2.0, 4.0, 2.0]),
            },
            "duration_s": 12.0,
        },
        "batch": {
            "sizes": [1, 10_000],
            "threads": [1, 2],
            "all_cores": 2,
            "sklearn_thread_control": {
                "1": "RandomForestClassifier.n_jobs = 1",
                "2": "RandomForestClassifier.n_jobs = 2",
            },
            "runtime_thread_control": "runtime.load(path, threads=N)",
            "input": "synthetic rows",
            "results": [
                _batch_entry(1, 1, [4e-5, 5e-5, 6e-5], [5e-3, 5e-3, 5e-3]),
                _batch_entry(1, 2, [5e-5, 5e-5, 5e-5], [9e-3, 9e-3, 9e-3]),
                _batch_entry(10_000, 1, [0.04, 0.05, 0.05], [0.025, 0.025, 0.03]),
                _batch_entry(10_000, 2, [0.02, 0.02, 0.025], [0.02, 0.025, 0.025]),
            ],
            "duration_s": 30.0,
        },
        "cold_start": {
            "runs": 3,
            "commands": {"runtime": "import runtime; ...", "sklearn": "import joblib, pandas; ..."},
            "runtime": {
                "cold_start_s": _spread([0.5, 0.55, 0.6]),
                "in_process_s": _spread([0.45, 0.5, 0.55]),
                "interpreter_start_s": _spread([0.02, 0.02, 0.02]),
                "process_s": _spread([0.6, 0.6, 0.7]),
                "peak_rss_mb": _spread([140.0, 140.0, 141.0]),
            },
            "sklearn": {
                "cold_start_s": _spread([1.0, 1.1, 1.2]),
                "in_process_s": _spread([0.95, 1.0, 1.1]),
                "interpreter_start_s": _spread([0.02, 0.02, 0.02]),
                "process_s": _spread([1.2, 1.3, 1.4]),
                "peak_rss_mb": _spread([250.0, 250.0, 252.0]),
            },
            "raw": {"runtime": [], "sklearn": []},
            "ratios": {
                "cold_start_runtime_over_sklearn": _spread([0.5, 0.5, 0.5]),
                "in_process_runtime_over_sklearn": _spread([0.47, 0.5, 0.5]),
                "peak_rss_runtime_over_sklearn": _spread([0.56, 0.56, 0.5595]),
            },
            "duration_s": 10.0,
        },
        "files": {
            "onnx_bytes": 4_312_115,
            "joblib_twin": {"path": "/tmp/x.joblib", "bytes": 4_083_723, "compress": 3},
            "joblib_levels": [
                {"compress": 0, "bytes": 20_000_000, "save_s": 0.1, "load_s": _spread([0.05, 0.06, 0.07])},
                {"compress": 3, "bytes": 4_083_723, "save_s": 0.4, "load_s": _spread([0.1, 0.1, 0.1])},
            ],
            "runtime_load_s": _spread([0.3, 0.31, 0.32]),
            "runtime_load_note": "manifest, sha256, golden cases",
            "duration_s": 3.0,
        },
        "notes": NOTES,
        "charts": [],
        "duration_s": 60.0,
    }
    results["ratios"] = collect_ratios(results)
    results["targets"] = evaluate_targets(results["ratios"])
    return results


@pytest.fixture
def results() -> dict[str, Any]:
    pytest.importorskip("benchmarks", reason=BENCHMARKS_IMPORTABLE)
    return copy.deepcopy(make_results())
