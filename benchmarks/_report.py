"""Writing a run's results: ``benchmark.json`` and the Markdown report, both from the results dict alone.

Nothing here measures or imports the bench extra, so a report can be re-rendered from a saved JSON
and every line of it tested on a hand-made results dict.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from export._documents._markup import md_table
from export._format import format_bytes, format_number, format_ratio, format_seconds, format_value, size_limit_sentence

from ._tables import figures_table, format_spread, mebibytes, targets_table, threads_label

__all__ = [
    "JSON_FILE",
    "MARKDOWN_FILE",
    "format_spread",
    "headline_markdown",
    "read_json",
    "render_markdown",
    "write_json",
    "write_report",
]

JSON_FILE = "benchmark.json"
MARKDOWN_FILE = "README.md"
PATH_NAMES = {"runtime": "runtime", "bare": "bare onnxruntime", "sklearn": "scikit-learn"}
SECTION_NAMES = {
    "single_record": "during single-record latency",
    "batch": "during batch throughput",
    "cold_start": "during cold start",
    "files": "during model files",
}
CHART_TITLES = {
    "latency.png": "Single-record latency distribution",
    "throughput.png": "Batch throughput",
    "memory_cold_start.png": "Cold start and peak memory",
}


def headline_markdown(results: Mapping[str, Any]) -> str:
    """The two headline tables: targets with verdicts, and the figures with their ratios."""
    return "### Targets\n\n" + targets_table(results) + "\n\n### Figures\n\n" + figures_table(results) + "\n"


def _machine_line(results: Mapping[str, Any]) -> str:
    machine = (results.get("context") or {}).get("machine") or {}
    parts = [
        machine.get("architecture"),
        machine.get("cpu_model"),
        f"{machine.get('cores')} cores" if machine.get("cores") else None,
        f"{machine.get('memory_gb')} GB" if machine.get("memory_gb") else None,
        machine.get("system"),
    ]
    return ", ".join(str(p) for p in parts if p)


def _chart(results: Mapping[str, Any], name: str) -> str:
    if name not in results.get("charts", []):
        return ""
    return f"\n![{CHART_TITLES.get(name, name)}]({name})\n"


def _single_section(single: Mapping[str, Any]) -> list[str]:
    counts = single["calls_per_round"]
    lines = [
        "## Single-record latency",
        "",
        f"{single['rounds']} rounds; in each, {format_number(counts['runtime'])} runtime, "
        f"{format_number(counts['bare'])} bare and {format_number(counts['sklearn'])} scikit-learn calls, "
        f"alternating in {single['blocks_per_round']} blocks, the paths' order rotating between rounds; "
        f"over {format_number(single['records'])} distinct records drawn from the training distribution. "
        "Each call is timed alone with "
        "`time.perf_counter_ns()` after a warm-up.",
        "",
        "- **runtime**: `runtime.load(PATH).predict(record)`, validation and array building included.",
        "- **bare onnxruntime**: `InferenceSession.run` on arrays prepared in advance, session built as the "
        "runtime builds it (`runtime.session_options()`: 1 thread, no spinning, no arena).",
        "- **scikit-learn**: `Pipeline.predict_proba(pandas.DataFrame([record]))`, the DataFrame built in the "
        f"call, the estimator's `n_jobs = {single.get('sklearn_n_jobs')}` "
        f"({single.get('sklearn_n_jobs_source', 'as saved')}).",
        "",
        "All calls pooled (µs):",
        "",
    ]
    rows = []
    for path in ("runtime", "bare", "sklearn"):
        summary = single["pooled"][path]
        rows.append(
            [PATH_NAMES[path], format_number(summary["count"])]
            + [format_value(summary[key]) for key in ("p50", "p90", "p99", "max", "mean")]
        )
    lines.append(md_table(["path", "calls", "p50", "p90", "p99", "max", "mean"], rows, align="lrrrrrr"))
    lines += ["", "Per round (µs), and the ratios taken within each round:", ""]
    rows = []
    for entry in single["per_round"]:
        rows.append(
            [
                entry["round"],
                " → ".join(PATH_NAMES[p] for p in entry["order"]),
                format_value(entry["runtime"]["p50"]),
                format_value(entry["bare"]["p50"]),
                format_value(entry["sklearn"]["p50"]),
                format_value(entry["runtime"]["p99"]),
                format_ratio(entry["runtime"]["p50"] / entry["sklearn"]["p50"]),
                format_ratio(entry["runtime"]["p50"] / entry["bare"]["p50"]),
                format_ratio(entry["runtime"]["p99"] / entry["runtime"]["p50"]),
            ]
        )
    ratios = single["ratios"]
    rows.append(
        [
            "median (min – max)",
            "",
            "",
            "",
            "",
            "",
            format_spread(ratios["runtime_over_sklearn"]),
            format_spread(ratios["runtime_over_bare"]),
            format_spread(ratios["runtime_p99_over_p50"]),
        ]
    )
    lines.append(
        md_table(
            [
                "round",
                "order",
                "runtime p50",
                "bare p50",
                "scikit-learn p50",
                "runtime p99",
                "runtime ÷ scikit-learn",
                "runtime ÷ bare",
                "runtime p99 ÷ p50",
            ],
            rows,
            align="llrrrrrrr",
        )
    )
    return lines


def _batch_section(batch: Mapping[str, Any]) -> list[str]:
    controls = batch.get("sklearn_thread_control", {})
    lines = [
        "## Batch throughput",
        "",
        "Rows per second = rows ÷ the median time of the repeats; each repeat times the runtime and "
        "scikit-learn back to back (alternating which goes first) and gives one ratio. "
        f"Input: {batch.get('input', 'n/a')}.",
        "",
        f"- runtime threads: {batch.get('runtime_thread_control', 'n/a')}",
    ]
    for threads, how in sorted(controls.items(), key=lambda item: int(item[0])):
        lines.append(f"- scikit-learn at {threads} thread{'s' if int(threads) > 1 else ''}: {how}")
    lines.append("")
    rows = []
    for entry in batch["results"]:
        rows.append(
            [
                format_number(entry["rows"]),
                threads_label(entry["threads"], batch["all_cores"]),
                entry["repeats"],
                format_value(entry["runtime"]["rows_per_s"]),
                format_value(entry["sklearn"]["rows_per_s"]),
                format_spread(entry["runtime_over_sklearn"]),
            ]
        )
    lines.append(
        md_table(
            [
                "rows",
                "threads",
                "repeats",
                "runtime rows/s",
                "scikit-learn rows/s",
                "runtime ÷ scikit-learn throughput",
            ],
            rows,
            align="rlrrrr",
        )
    )
    return lines


def _cold_section(cold: Mapping[str, Any]) -> list[str]:
    lines = [
        "## Cold start and peak memory",
        "",
        f"{cold['runs']} fresh processes each (after one untimed run of each, so both read warm files), "
        "alternating which goes first. Cold start is wall time from just before the parent starts the "
        "interpreter to the first prediction printed; in-process is from the script's first line to that print. "
        "Peak RSS is `VmHWM` read inside the child after the prediction.",
        "",
        f"- runtime: `{cold['commands']['runtime']}`",
        f"- scikit-learn: `{cold['commands']['sklearn']}`",
        "",
    ]
    measures = [
        ("cold start to first prediction", "cold_start_s", format_seconds, "cold_start_runtime_over_sklearn"),
        (
            "in-process: first line to first prediction",
            "in_process_s",
            format_seconds,
            "in_process_runtime_over_sklearn",
        ),
        ("interpreter start (before the first line)", "interpreter_start_s", format_seconds, None),
        ("whole process, including exit", "process_s", format_seconds, None),
        ("peak RSS", "peak_rss_mb", mebibytes, "peak_rss_runtime_over_sklearn"),
    ]
    rows = []
    for label, key, formatter, ratio_key in measures:
        runtime_spread = cold["runtime"].get(key)
        sklearn_spread = cold["sklearn"].get(key)
        if runtime_spread is None or sklearn_spread is None:
            continue
        rows.append(
            [
                label,
                format_spread(runtime_spread, formatter),
                format_spread(sklearn_spread, formatter),
                format_spread(cold["ratios"][ratio_key]) if ratio_key else "—",
            ]
        )
    lines.append(
        md_table(
            ["measure", "runtime, median (min – max)", "scikit-learn, median (min – max)", "runtime ÷ scikit-learn"],
            rows,
            align="lrrr",
        )
    )
    return lines


def _files_section(files: Mapping[str, Any]) -> list[str]:
    twin = files["joblib_twin"]
    lines = [
        "## Model files",
        "",
        f"- ONNX (`model.onnx`): {format_bytes(files['onnx_bytes'])}",
        f"- joblib twin as exported (compress={twin.get('compress')}): {format_bytes(twin['bytes'])}",
        f"- `runtime.load` (bundle): {format_spread(files['runtime_load_s'], format_seconds)} "
        f"({files.get('runtime_load_note', 'n/a')})",
        "",
        "The joblib file saved again at each compression level (load: median (min – max)):",
        "",
    ]
    rows = [
        [
            level["compress"],
            format_bytes(level["bytes"]),
            format_seconds(level["save_s"]),
            format_spread(level["load_s"], format_seconds),
        ]
        for level in files["joblib_levels"]
    ]
    lines.append(md_table(["compress", "size", "save", "load"], rows, align="rrrr"))
    return lines


def _context_section(results: Mapping[str, Any]) -> list[str]:
    context = results.get("context") or {}
    machine = context.get("machine") or {}
    model = context.get("model") or {}
    lines = ["## Context", "", f"Command: `{results.get('command', 'n/a')}`", ""]
    lines.append(
        f"**Machine**: {machine.get('platform', 'n/a')}; CPU {machine.get('cpu_model', 'n/a')}; "
        f"{machine.get('cores', 'n/a')} logical cores ({machine.get('cores_usable', 'n/a')} usable); "
        f"{machine.get('memory_gb', 'n/a')} GB memory."
    )
    lines.append("")
    libraries = context.get("libraries") or {}
    lines.append("**Libraries**: " + ", ".join(f"{name} {version}" for name, version in libraries.items()) + ".")
    lines.append("")
    operators = model.get("onnx_operators")
    operator_text = ", ".join(f"{name} ×{count}" for name, count in operators.items()) if operators else "n/a"
    model_rows = [
        ["estimator", model.get("estimator", "n/a")],
        ["trees", model.get("trees", "n/a")],
        ["tree nodes (all trees)", format_number(model["tree_nodes"]) if model.get("tree_nodes") else "n/a"],
        ["deepest tree", model.get("max_depth", "n/a")],
        ["max_depth parameter", model.get("max_depth_param")],
        ["n_jobs as saved", model.get("n_jobs")],
        ["ONNX operators", operator_text],
        ["training rows", format_number(model["training_rows"]) if model.get("training_rows") else "n/a"],
    ]
    for key, label in (
        ("accuracy", "held-out accuracy"),
        ("macro_f1", "held-out macro F1"),
        ("roc_auc", "ROC AUC"),
        ("r2", "R²"),
    ):
        if model.get(key) is not None:
            model_rows.append([label, f"{model[key]:.4f}"])
    bundle = results.get("bundle") or {}
    lines.append(
        f"**Model**: `{bundle.get('name', 'n/a')}` {bundle.get('version', 'n/a')} ({bundle.get('task', 'n/a')}), "
        f"bundle `{bundle.get('path', 'n/a')}`, joblib twin `{bundle.get('joblib_twin', 'n/a')}`."
    )
    lines.append("")
    lines.append(md_table(["", ""], [[k, "n/a" if v is None else v] for k, v in model_rows]))
    lines += _size_limit_lines(model.get("versus_unconstrained"))
    agreement = results.get("agreement")
    if agreement:
        lines += [
            "",
            f"**Same predictions on both sides**: on {format_number(agreement['rows'])} benchmark rows the runtime and "
            f"scikit-learn differ by at most {agreement['max_abs_diff']:.3g} (manifest tolerance "
            f"{agreement['tolerance']:g}), {agreement['label_mismatches']} label mismatches.",
        ]
    noise = context.get("noise") or {}
    if noise:
        lines += ["", "**Noise**: "]
        parts = []
        if noise.get("load_average_start") and noise.get("load_average_end"):
            parts.append(
                "1-minute load average {:.2f} at the start, {:.2f} at the end".format(
                    noise["load_average_start"][0], noise["load_average_end"][0]
                )
            )
        for section, share in (noise.get("cpu_share") or {}).items():
            if share:
                parts.append(f"{SECTION_NAMES.get(section, section)}: {cpu_share_sentence(share)}")
        lines[-1] += "; ".join(parts) + "." if parts else "not measured."
    if context.get("timer_overhead_ns") is not None:
        lines += ["", f"Timer overhead (one `perf_counter_ns` pair): {context['timer_overhead_ns']:.0f} ns per call."]
    return lines


def cpu_share_sentence(share: Mapping[str, float]) -> str:
    """``this run used 55% of the machine's CPU time, other processes 0%, steal 0%`` (:func:`._context.cpu_share`)."""
    return (
        f"this run used {share['own']:.0%} of the machine's CPU time, other processes {share['others']:.0%}, "
        f"steal {share['steal']:.0%}"
    )


def _size_limit_lines(check: Mapping[str, Any] | None) -> list[str]:
    """Quality of a size-limited forest against the same forest grown fully (from the manifest)."""
    return ["", f"**Model size vs quality**: this model is {size_limit_sentence(dict(check))}."] if check else []


def _notes_section(results: Mapping[str, Any]) -> list[str]:
    lines = ["## Notes on gaps", ""]
    missed = [t for t in results.get("targets", []) if t.get("met") is False]
    if missed:
        lines.append("Targets missed in this run:")
        lines.append("")
        lines += [f"- {t['name']}: {t['verdict']}." for t in missed]
    else:
        lines.append("No target was missed in this run.")
    lines.append("")
    notes = results.get("notes")
    lines.append(notes.strip() if notes else "_No notes were given (pass `--notes FILE` with Markdown)._")
    return lines


def render_markdown(results: Mapping[str, Any]) -> str:
    """The whole report: headline tables first, then one section per measurement, context, notes."""
    bundle = results.get("bundle") or {}
    lines = [
        f"# Benchmark: factory-edge runtime vs scikit-learn — `{bundle.get('name', '?')}` {bundle.get('version', '?')}",
        "",
        f"Produced by `{results.get('command', 'python -m benchmarks')}` at {results.get('created_at', 'n/a')} "
        f"on {_machine_line(results) or 'an unknown machine'}"
        + (f", in {format_seconds(results['duration_s'])}" if results.get("duration_s") else "")
        + ".",
        "",
    ]
    if results.get("quick"):
        lines += ["**Quick run** (`--quick`): few calls and repeats; the figures are indicative only.", ""]
    lines += [
        "Every figure comes from this one run on this one machine. Each ratio is runtime ÷ the other path, "
        "taken within a round (or a repeat, or a pair of processes) and summarized as the median, with the "
        "min – max across rounds; a target is judged on the median.",
        "",
        "## Headline",
        "",
        headline_markdown(results),
    ]
    if results.get("single_record"):
        lines += _single_section(results["single_record"]) + [_chart(results, "latency.png"), ""]
    if results.get("batch"):
        lines += _batch_section(results["batch"]) + [_chart(results, "throughput.png"), ""]
    if results.get("cold_start"):
        lines += _cold_section(results["cold_start"]) + [_chart(results, "memory_cold_start.png"), ""]
    if results.get("files"):
        lines += _files_section(results["files"]) + [""]
    lines += _context_section(results) + [""]
    lines += _notes_section(results) + [""]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip("\n") + "\n"


def _plain(value: Any) -> Any:
    """JSON-safe copy: tuples to lists, numpy scalars to Python numbers, non-finite floats to ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(results: Mapping[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(_plain(results), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_report(results: Mapping[str, Any], output: Path) -> list[Path]:
    """Write ``benchmark.json`` and ``README.md`` into ``output`` (created if needed); return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    json_path = write_json(results, output / JSON_FILE)
    markdown_path = output / MARKDOWN_FILE
    markdown_path.write_text(render_markdown(results), encoding="utf-8")
    return [json_path, markdown_path]
