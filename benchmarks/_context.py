"""What a reader needs to trust the figures: the machine, library versions, the model, and noise.

CPU use by other processes is read from ``/proc/stat`` around each section: on a shared machine that
share (and the hypervisor's steal time) says how much of a section's spread is the neighbours'.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "cpu_share",
    "cpu_snapshot",
    "libraries",
    "load_average",
    "machine",
    "model_description",
    "onnx_operators",
    "relative",
]

# /proc/stat "cpu" line: user nice system idle iowait irq softirq steal (guest is inside user)
_IDLE, _IOWAIT, _STEAL = 3, 4, 7


def _read_first(path: str, prefix: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line
    except OSError:
        return None
    return None


def machine() -> dict[str, Any]:
    """Platform, CPU model, logical cores, and total memory (Linux ``/proc``; ``None`` where unknown)."""
    cpu_line = _read_first("/proc/cpuinfo", "model name")
    memory_line = _read_first("/proc/meminfo", "MemTotal:")
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {
        "platform": platform.platform(),
        "system": platform.system(),
        "architecture": platform.machine(),
        "cpu_model": cpu_line.split(":", 1)[1].strip() if cpu_line else (platform.processor() or None),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gb": round(int(memory_line.split()[1]) / 1024**2, 1) if memory_line else None,
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (``None`` where the platform has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def libraries() -> dict[str, str]:
    """Versions of the libraries on every timed path."""
    import joblib
    import numpy
    import onnxruntime
    import pandas
    import sklearn

    versions = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "onnxruntime": onnxruntime.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "joblib": joblib.__version__,
    }
    try:
        import threadpoolctl

        versions["threadpoolctl"] = threadpoolctl.__version__
    except ImportError:
        pass
    return versions


def onnx_operators(model_bytes: bytes) -> dict[str, int] | None:
    """Operator counts of the graph, or ``None`` without the ``onnx`` package (it is in the export extra)."""
    try:
        import onnx
    except ImportError:
        return None
    graph = onnx.load_from_string(model_bytes).graph
    counts: dict[str, int] = {}
    for node in graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def _trees(estimator: Any) -> list[Any]:
    """The fitted ``sklearn.tree._tree.Tree`` objects of a tree ensemble or tree (empty for other models)."""
    if hasattr(estimator, "tree_"):
        return [estimator.tree_]
    members = getattr(estimator, "estimators_", None)
    if members is None:
        return []
    flat: list[Any] = []
    for member in getattr(members, "flat", members):
        flat.extend(_trees(member))
    return flat


def model_description(
    pipeline: Any, manifest_training: Mapping[str, Any], metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """Estimator, tree count, total nodes and max depth (tree models), and the bundle's held-out metrics."""
    estimator = pipeline.steps[-1][1]
    trees = _trees(estimator)
    description: dict[str, Any] = {
        "estimator": type(estimator).__name__,
        "steps": [name for name, _ in pipeline.steps],
        "n_jobs": getattr(estimator, "n_jobs", None),
        "trees": len(trees) if trees else None,
        "tree_nodes": int(sum(tree.node_count for tree in trees)) if trees else None,
        "max_depth": int(max(tree.max_depth for tree in trees)) if trees else None,
        "max_depth_param": getattr(estimator, "max_depth", None),
        "training_rows": manifest_training.get("train_rows"),
        "source": manifest_training.get("source"),
    }
    predictors = getattr(estimator, "_predictors", None)  # HistGradientBoosting*
    if not trees and predictors:
        nodes = [predictor.nodes for iteration in predictors for predictor in iteration]
        description["trees"] = len(nodes)
        description["tree_nodes"] = int(sum(len(n) for n in nodes))
        description["max_depth"] = int(max(int(n["depth"].max()) for n in nodes)) if nodes else None
    for name in ("accuracy", "macro_f1", "roc_auc", "r2", "mae", "rmse"):
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            description[name] = float(value)
    if metrics.get("versus_unconstrained"):
        # the export's evidence that a size limit kept quality (same split, fully grown twin)
        description["versus_unconstrained"] = dict(metrics["versus_unconstrained"])
    return description


def cpu_snapshot() -> dict[str, float] | None:
    """Machine-wide CPU ticks from ``/proc/stat`` and this process's CPU seconds (children included)."""
    line = _read_first("/proc/stat", "cpu ")
    if line is None:
        return None
    fields = [float(v) for v in line.split()[1:9]]
    times = os.times()
    return {
        "total": sum(fields),
        "idle": fields[_IDLE] + fields[_IOWAIT],
        "steal": fields[_STEAL] if len(fields) > _STEAL else 0.0,
        "own_seconds": times.user + times.system + times.children_user + times.children_system,
        "ticks_per_second": float(os.sysconf("SC_CLK_TCK")) if hasattr(os, "sysconf") else 100.0,
    }


def cpu_share(before: Mapping[str, float] | None, after: Mapping[str, float] | None) -> dict[str, float] | None:
    """Shares of the machine's CPU time between two snapshots: used by this run, by others, stolen.

    >>> cpu_share({"total": 0, "idle": 0, "steal": 0, "own_seconds": 0, "ticks_per_second": 100},
    ...           {"total": 400, "idle": 100, "steal": 20, "own_seconds": 2.0, "ticks_per_second": 100})
    {'own': 0.5, 'others': 0.2, 'steal': 0.05}
    """
    if before is None or after is None:
        return None
    total = after["total"] - before["total"]
    if total <= 0:
        return None
    busy = total - (after["idle"] - before["idle"])
    own = (after["own_seconds"] - before["own_seconds"]) * after["ticks_per_second"]
    steal = after["steal"] - before["steal"]
    others = max(0.0, busy - own - steal)
    return {"own": round(own / total, 4), "others": round(others / total, 4), "steal": round(steal / total, 4)}


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else absolute: for command lines in the report."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
