"""What each import of the device costs (issue 13): not a test, a script.

    python -m benchmarks.device_imports [BUNDLE] [--runs 7] [--output DIR]

Each figure comes from fresh interpreters (``--runs`` of each, medians), run by the export's own
probe (:func:`export._performance.probe_script`): the peak resident memory (``VmHWM``) and wall time
after each cumulative step of a device process (the interpreter, numpy, onnxruntime, ``import
runtime``, ``runtime.load``, one prediction), and then, on top of numpy and onnxruntime, what each
module that ``import runtime`` adds beyond them costs alone: how an import that is not needed gets
found.

It writes ``device_imports.md`` and ``device_imports.json`` into ``--output``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from export._performance import probe_script, run_probe

from ._run import REPO_ROOT

__all__ = ["main"]

# the step's code in argv[1], then the modules it left imported as the probe's one line of output
_STEP_PROBE = probe_script(
    """
exec(sys.argv[1])
print(json.dumps(sorted(sys.modules)), flush=True)
"""
)
_LIBRARIES = "import numpy, onnxruntime"


def _steps(bundle: Path) -> list[tuple[str, str]]:
    load = f"import runtime; m = runtime.load({str(bundle)!r})"
    record = (
        "import json, pathlib; r = json.loads(pathlib.Path(m.path, 'example_input.json').read_text()); "
        "r = r[0] if isinstance(r, list) else r"
    )
    return [
        ("the interpreter", "pass"),
        ("+ numpy", "import numpy"),
        ("+ onnxruntime", _LIBRARIES),
        ("+ import runtime", _LIBRARIES + "; import runtime"),
        ("+ runtime.load(bundle)", f"{_LIBRARIES}; {load}"),
        ("+ one prediction", f"{_LIBRARIES}; {load}; {record}; m.predict(r)"),
    ]


def _median_of(code: str, runs: int) -> dict[str, Any]:
    results = [run_probe(_STEP_PROBE, [code], REPO_ROOT) for _ in range(runs)]
    return {
        "rss_mib": statistics.median(r["peak_rss_mb"] for r in results),
        "seconds": statistics.median(r["in_process_s"] for r in results),
        "modules": json.loads(results[-1]["first_output"]),
    }


def _top_level(modules: Sequence[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def measure(bundle: Path, runs: int) -> dict[str, Any]:
    """The cumulative steps, and each module ``import runtime`` adds beyond numpy and onnxruntime."""
    steps = [{"step": name, "code": code, **_median_of(code, runs)} for name, code in _steps(bundle)]
    libraries, with_runtime = steps[2], steps[3]
    added = sorted(_top_level(with_runtime["modules"]) - _top_level(libraries["modules"]) - {"runtime"})
    alone = []
    for module in added:
        if module.startswith("_") and module not in ("_hashlib", "_ssl", "_decimal"):
            continue  # private helpers come with their public module
        result = _median_of(f"{_LIBRARIES}; import {module}", runs)
        alone.append(
            {
                "module": module,
                "rss_mib": result["rss_mib"] - libraries["rss_mib"],
                "brings": sorted(_top_level(result["modules"]) - _top_level(libraries["modules"]) - {module}),
            }
        )
    alone.sort(key=lambda entry: -entry["rss_mib"])
    for step in steps:
        step.pop("modules")
    return {"steps": steps, "added_by_runtime": alone}


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# What each import of the device costs (issue 13)",
        "",
        f"`{report['command']}`, {report['started']}, Python {report['python']}; medians of "
        f"{report['runs']} fresh interpreters per row.",
        "",
        "| step (cumulative) | peak resident MiB | + MiB | wall time from the first line |",
        "|---|---:|---:|---:|",
    ]
    previous = None
    for step in report["steps"]:
        delta = "" if previous is None else f"{step['rss_mib'] - previous:+.1f}"
        lines.append(f"| {step['step']} | {step['rss_mib']:.1f} | {delta} | {step['seconds'] * 1000:.1f} ms |")
        previous = step["rss_mib"]
    lines += [
        "",
        "Each module `import runtime` adds beyond numpy and onnxruntime, imported alone on top of them:",
        "",
        "| module | + MiB | brings along |",
        "|---|---:|---|",
    ]
    for entry in report["added_by_runtime"]:
        brings = ", ".join(entry["brings"][:8]) + (" …" if len(entry["brings"]) > 8 else "")
        lines.append(f"| {entry['module']} | {entry['rss_mib']:+.2f} | {brings} |")
    lines += [
        "",
        "Peak resident memory repeats to within 0.1 MiB between runs; the wall time of a fresh interpreter varies by",
        "tens of ms on this shared machine, so no per-module time is given (the benchmarks' cold start compares",
        "whole processes, interleaved).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.device_imports", description=__doc__.split("\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=REPO_ROOT / "models" / "quality")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per row (default 7)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "reports")
    args = parser.parse_args(argv)
    report = {
        "command": "python -m benchmarks.device_imports " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "runs": args.runs,
        **measure(args.bundle.resolve(), args.runs),
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "device_imports.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    text = _markdown(report)
    (args.output / "device_imports.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
