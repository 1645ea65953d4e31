"""``python -m benchmarks [PATH] [options]``: measure a bundle against its joblib twin and write a report."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = REPO_ROOT / "models" / "quality"
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "reports"
EXTRA_MESSAGE = 'python -m benchmarks needs the "bench" extra: pip install ".[bench]"'

EPILOG = """\
examples:
  python -m benchmarks                                   # models/quality -> benchmarks/reports/
  python -m benchmarks /tmp/models/quality --quick --no-charts --output /tmp/bench
  python -m benchmarks models/quality --notes gaps.md    # add measured causes to "Notes on gaps"

PATH's joblib twin (<model folder>/<version>.joblib) must exist: "python -m export" writes it (it is
not in git). The default run takes a few minutes on 2 cores; --quick under one minute.

exit codes: 0 report written (whether or not targets are met), 2 bad options, bundle, twin or notes,
3 a measurement failed, 1 unexpected error
"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 is not a valid n_jobs: use 1, 2, ... or -1 for all cores")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure a bundle (runtime and bare onnxruntime) against its scikit-learn joblib twin: "
        "single-record latency, batch throughput, cold start, peak memory and model files, "
        "judged against the targets from ratios of this one run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_BUNDLE,
        metavar="PATH",
        help="bundle: a version folder, or a model folder with a CURRENT file (default: models/quality)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few calls, repeats and batch sizes: a smoke run under a minute"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR", help="report folder (default: benchmarks/reports)"
    )
    parser.add_argument(
        "--threads", type=_positive, metavar="N", help="the 'all cores' thread count (default: os.cpu_count())"
    )
    parser.add_argument("--rounds", type=_positive, metavar="N", help="single-record rounds (default 5, quick 2)")
    parser.add_argument(
        "--calls", type=_positive, metavar="N", help="runtime and bare calls per round (default 5000, quick 300)"
    )
    parser.add_argument(
        "--sklearn-calls", type=_positive, metavar="N", help="scikit-learn calls per round (default 300, quick 20)"
    )
    parser.add_argument(
        "--cold-runs",
        type=_positive,
        metavar="N",
        help="fresh processes per path for cold start and memory (default 5, quick 2)",
    )
    parser.add_argument(
        "--sklearn-n-jobs",
        type=_n_jobs,
        metavar="N",
        default=1,
        help="the forest's n_jobs for scikit-learn's single-record latency and cold start (default: 1, "
        "scikit-learn's own default and its fastest for one record; -1 is what the export saves)",
    )
    parser.add_argument("--notes", type=Path, metavar="FILE", help='Markdown added to the report\'s "Notes on gaps"')
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts (no matplotlib needed)")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks")
    return parser


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _missing_extra(charts: bool) -> list[str]:
    needed = ["sklearn", "pandas", "joblib"] + (["matplotlib"] if charts else [])
    return [name for name in needed if importlib.util.find_spec(name) is None]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; errors are one line on stderr (tracebacks with ``--verbose``)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(arguments)
    missing = _missing_extra(charts=not args.no_charts)
    if missing:
        print(f"{EXTRA_MESSAGE} (missing: {', '.join(missing)})", file=sys.stderr)
        return 2

    import runtime

    from ._errors import MeasurementError, SetupError
    from ._report import headline_markdown, write_report
    from ._run import DEFAULT, QUICK, run_benchmarks

    preset = QUICK if args.quick else DEFAULT
    overrides = {
        "threads": args.threads or os.cpu_count() or 1,
        "rounds": args.rounds,
        "calls": args.calls,
        "sklearn_calls": args.sklearn_calls,
        "cold_runs": args.cold_runs,
    }
    settings = dataclasses.replace(preset, **{k: v for k, v in overrides.items() if v is not None})
    command = " ".join(["python -m benchmarks", *(shlex.quote(a) for a in arguments)]).strip()
    try:
        notes = None
        if args.notes is not None:
            try:
                notes = args.notes.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise SetupError(f"--notes {str(args.notes)!r} cannot be read: {error}") from None
        try:
            args.output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SetupError(f"--output {str(args.output)!r} cannot be created: {error}") from None
        results = run_benchmarks(
            args.path,
            settings,
            command=command,
            quick=args.quick,
            notes=notes,
            progress=_progress,
            sklearn_n_jobs=args.sklearn_n_jobs,
        )
        results["charts"] = []
        if not args.no_charts:
            from ._charts import draw_charts

            results["charts"] = draw_charts(results, args.output)
        written = write_report(results, args.output)
    except (SetupError, runtime.FactoryEdgeError) as error:
        if args.verbose:
            traceback.print_exc()
        print(str(error), file=sys.stderr)
        return 2
    except MeasurementError as error:
        if args.verbose:
            traceback.print_exc()
        print(str(error), file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted; no report written", file=sys.stderr)
        return 130
    except Exception as error:  # one line for anything unforeseen; --verbose shows where
        if args.verbose:
            traceback.print_exc()
        print(
            f"python -m benchmarks failed: {type(error).__name__}: {error} (--verbose shows the traceback)",
            file=sys.stderr,
        )
        return 1
    for path in written + [args.output / name for name in results["charts"]]:
        _progress(f"wrote {path}")
    print(headline_markdown(results), end="")
    return 0
