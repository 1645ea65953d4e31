"""The report's two headline tables (targets with verdicts, figures with ratios) and the cell formats they
share with the report's sections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from export._documents._markup import md_table
from export._format import format_bytes, format_number, format_ratio, format_seconds, format_value

from ._stats import ratio_spread

__all__ = [
    "batch_entry",
    "figures_table",
    "format_spread",
    "mebibytes",
    "micro",
    "rate",
    "targets_table",
    "threads_label",
]


def format_spread(spread: Mapping[str, Any] | None, formatter: Callable[[float], str] = format_ratio) -> str:
    """``median (min – max)``, or just the median when there was one round.

    >>> format_spread({"median": 0.5, "min": 0.4, "max": 0.61, "values": [0.4, 0.5, 0.61]})
    '0.5 (0.4 – 0.61)'
    """
    if not spread:
        return "n/a"
    if len(spread.get("values", ())) <= 1 or formatter(spread["min"]) == formatter(spread["max"]):
        return formatter(spread["median"])
    return f"{formatter(spread['median'])} ({formatter(spread['min'])} – {formatter(spread['max'])})"


def micro(value: float | None) -> str:
    return "n/a" if value is None else f"{format_value(value)} µs"


def mebibytes(value: float | None) -> str:
    return "n/a" if value is None else f"{format_value(value)} MiB"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{format_value(value)} rows/s"


def threads_label(threads: int, all_cores: int) -> str:
    if threads == 1:
        return "1 thread" + (" (= all cores)" if all_cores == 1 else "")
    return f"all cores ({threads} threads)" if threads == all_cores else f"{threads} threads"


def batch_entry(results: Mapping[str, Any], rows: int, threads: int) -> Mapping[str, Any] | None:
    for entry in (results.get("batch") or {}).get("results", []):
        if entry["rows"] == rows and entry["threads"] == threads:
            found: Mapping[str, Any] = entry
            return found
    return None


def _bound_text(target: Mapping[str, Any]) -> str:
    return f"{'≤' if target['direction'] == '<=' else '≥'} {format_ratio(target['bound'])}"


def targets_table(results: Mapping[str, Any]) -> str:
    rows = []
    for target in results.get("targets", []):
        rounds = "n/a" if target["rounds"] is None else f"{target['rounds_met']} of {target['rounds']}"
        spread_text = (
            "n/a" if target["min"] is None else f"{format_ratio(target['min'])} – {format_ratio(target['max'])}"
        )
        rows.append(
            [
                target["name"],
                _bound_text(target),
                format_ratio(target["measured"]),
                spread_text,
                rounds,
                target["verdict"],
            ]
        )
    return md_table(
        [
            "Target",
            "Bound (runtime ÷ other)",
            "Measured (median)",
            "Min–max across rounds",
            "Rounds meeting it",
            "Verdict",
        ],
        rows,
        align="lrrrrl",
    )


def figures_table(results: Mapping[str, Any]) -> str:
    """The headline figures beside their ratios, all from this run."""
    rows = _single_rows(results) + _batch_rows(results) + _cold_rows(results) + _file_rows(results)
    return (
        md_table(
            ["Measure", "runtime", "bare onnxruntime", "scikit-learn", "runtime ÷ scikit-learn", "runtime ÷ bare"],
            rows,
            align="lrrrrr",
        )
        + "\n\nRatios are median (min – max) across rounds. For times, memory and sizes a ratio below 1 favours "
        "the runtime; for batch throughput (rows/s) a ratio above 1 does."
    )


def _single_rows(results: Mapping[str, Any]) -> list[list[str]]:
    single = results.get("single_record")
    if not single:
        return []
    pooled, ratios, per_round = single["pooled"], single["ratios"], single["per_round"]
    runtime_p99 = [r["runtime"]["p99"] for r in per_round]
    return [
        [
            "single record, p50",
            micro(pooled["runtime"]["p50"]),
            micro(pooled["bare"]["p50"]),
            micro(pooled["sklearn"]["p50"]),
            format_spread(ratios["runtime_over_sklearn"]),
            format_spread(ratios["runtime_over_bare"]),
        ],
        [
            "single record, p99",
            micro(pooled["runtime"]["p99"]),
            micro(pooled["bare"]["p99"]),
            micro(pooled["sklearn"]["p99"]),
            format_spread(ratio_spread(runtime_p99, [r["sklearn"]["p99"] for r in per_round])),
            format_spread(ratio_spread(runtime_p99, [r["bare"]["p99"] for r in per_round])),
        ],
    ]


def _batch_rows(results: Mapping[str, Any]) -> list[list[str]]:
    batch = results.get("batch")
    if not batch:
        return []
    rows_of_interest = 10_000 if 10_000 in batch["sizes"] else max(batch["sizes"])
    rows = []
    for threads in batch["threads"]:
        entry = batch_entry(results, rows_of_interest, threads)
        if entry:
            rows.append(
                [
                    f"batch of {format_number(rows_of_interest)} rows, " + threads_label(threads, batch["all_cores"]),
                    rate(entry["runtime"]["rows_per_s"]),
                    "—",
                    rate(entry["sklearn"]["rows_per_s"]),
                    format_spread(entry["runtime_over_sklearn"]),
                    "—",
                ]
            )
    return rows


def _cold_rows(results: Mapping[str, Any]) -> list[list[str]]:
    cold = results.get("cold_start")
    if not cold:
        return []
    runtime, sklearn, ratios = cold["runtime"], cold["sklearn"], cold["ratios"]
    return [
        [
            "peak RSS, fresh process, load + 1 prediction",
            mebibytes(runtime["peak_rss_mb"]["median"]),
            "—",
            mebibytes(sklearn["peak_rss_mb"]["median"]),
            format_spread(ratios["peak_rss_runtime_over_sklearn"]),
            "—",
        ],
        [
            "cold start to first prediction",
            format_seconds(runtime["cold_start_s"]["median"]),
            "—",
            format_seconds(sklearn["cold_start_s"]["median"]),
            format_spread(ratios["cold_start_runtime_over_sklearn"]),
            "—",
        ],
    ]


def _file_rows(results: Mapping[str, Any]) -> list[list[str]]:
    files = results.get("files")
    if not files:
        return []
    twin = files["joblib_twin"]
    return [
        [
            "model file",
            f"{format_bytes(files['onnx_bytes'])} (ONNX)",
            "—",
            f"{format_bytes(twin['bytes'])} (joblib, compress={twin.get('compress')})",
            format_ratio(files["onnx_bytes"] / twin["bytes"]) if twin["bytes"] else "n/a",
            "—",
        ]
    ]
