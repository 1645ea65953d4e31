"""PNG charts of a run, drawn from the results dict alone (matplotlib, Agg backend, imported here only)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["draw_charts"]

COLORS = {"runtime": "#1f77b4", "bare": "#2ca02c", "sklearn": "#ff7f0e"}
NAMES = {"runtime": "runtime", "bare": "bare onnxruntime", "sklearn": "scikit-learn"}


def _latency(plt: Any, single: Mapping[str, Any], path: Path) -> None:
    from export._format import format_value

    figure, (body, tail) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name in ("bare", "runtime", "sklearn"):
        cdf = single["cdf"][name]
        label = f"{NAMES[name]} (p50 {format_value(single['pooled'][name]['p50'])} µs)"
        body.plot(cdf["value"], cdf["percent"], label=label, color=COLORS[name])
        slower = [(v, 100.0 - p) for v, p in zip(cdf["value"], cdf["percent"]) if p < 100.0]
        tail.plot([v for v, _ in slower], [s for _, s in slower], label=NAMES[name], color=COLORS[name], marker=".")
    body.set_ylabel("calls at or below (%)")
    body.set_ylim(0, 100)
    body.axhline(50, color="grey", linewidth=0.5)
    body.set_title("Distribution (CDF)")
    body.legend(loc="lower right", fontsize="small")
    tail.set_yscale("log")
    tail.set_ylabel("calls slower than (%, log scale)")
    tail.axhline(1, color="grey", linewidth=0.5, linestyle=":")
    tail.set_title("Tail (p99 where a curve crosses 1 %)")
    for axes in (body, tail):
        axes.set_xscale("log")
        axes.set_xlabel("time per call (µs, log scale)")
        axes.grid(True, which="both", alpha=0.3)
    figure.suptitle("Single-record latency, all calls of all rounds")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _throughput(plt: Any, batch: Mapping[str, Any], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(8, 4.5))
    for name in ("runtime", "sklearn"):
        for threads in batch["threads"]:
            entries = [e for e in batch["results"] if e["threads"] == threads]
            rows = [e["rows"] for e in entries]
            rates = [e[name]["rows_per_s"] for e in entries]
            low = [r - e[name]["rows_per_s_min"] for r, e in zip(rates, entries)]
            high = [e[name]["rows_per_s_max"] - r for r, e in zip(rates, entries)]
            label = f"{NAMES[name]}, {threads} thread{'s' if threads > 1 else ''}"
            axes.errorbar(
                rows,
                rates,
                yerr=[low, high],
                label=label,
                color=COLORS[name],
                marker="o",
                capsize=3,
                linestyle="-" if threads == 1 else "--",
            )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("rows per batch (log scale)")
    axes.set_ylabel("rows per second (log scale)")
    axes.grid(True, which="both", alpha=0.3)
    axes.set_title("Batch throughput (median of repeats; bars: slowest and fastest repeat)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _memory_cold_start(plt: Any, cold: Mapping[str, Any], path: Path) -> None:
    figure, (memory, start) = plt.subplots(1, 2, figsize=(9, 4))
    names = ["runtime", "sklearn"]

    def bars(axes: Any, key: str, scale: float, offset: float, width: float, label: str | None, alpha: float) -> None:
        medians = [cold[n][key]["median"] * scale for n in names]
        low = [m - cold[n][key]["min"] * scale for m, n in zip(medians, names)]
        high = [cold[n][key]["max"] * scale - m for m, n in zip(medians, names)]
        axes.bar(
            [i + offset for i in range(len(names))],
            medians,
            width,
            yerr=[low, high],
            capsize=4,
            color=[COLORS[n] for n in names],
            alpha=alpha,
            label=label,
        )

    bars(memory, "peak_rss_mb", 1.0, 0.0, 0.6, None, 1.0)
    memory.set_xticks(range(len(names)), [NAMES[n] for n in names])
    memory.set_ylabel("peak RSS (MiB)")
    memory.set_title("Peak memory: load + 1 prediction")
    bars(start, "cold_start_s", 1e3, -0.2, 0.4, "cold start (from before the interpreter)", 1.0)
    bars(start, "in_process_s", 1e3, 0.2, 0.4, "in-process (from the first line)", 0.5)
    start.set_xticks(range(len(names)), [NAMES[n] for n in names])
    start.set_ylabel("time to first prediction (ms)")
    start.set_title("Cold start")
    start.legend(fontsize="small", loc="upper left")
    for axes in (memory, start):
        axes.grid(True, axis="y", alpha=0.3)
    figure.suptitle(f"Fresh processes, median of {cold['runs']} (bars: min–max)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draw_charts(results: Mapping[str, Any], output: Path) -> list[str]:
    """Draw the charts the results have data for into ``output``; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, key, draw in (
        ("latency.png", "single_record", _latency),
        ("throughput.png", "batch", _throughput),
        ("memory_cold_start.png", "cold_start", _memory_cold_start),
    ):
        if results.get(key):
            draw(plt, results[key], output / name)
            drawn.append(name)
    return drawn
