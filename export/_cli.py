"""``python -m export``: train, convert, prove parity and write a bundle; ``check`` re-proves one;
``sign`` signs one (``model.sig``); ``keygen`` writes a signing key pair; ``kit`` packs an offline install kit.

The only export code that writes to stdout and stderr. Errors are one line on stderr and an exit
code from :class:`runtime._contract.ExitCode` (the table both command lines share; ``--help`` lists
this command's); tracebacks only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from runtime import BundleError
from runtime._contract import ExitCode, exit_codes_text

from ._errors import (
    BudgetError,
    ConversionError,
    DataRefusedError,
    ExportError,
    InterfaceChangedError,
    ParityError,
    WeakModelError,
)
from ._format import format_bytes, metric_lines
from ._heartbeat import Heartbeat

if TYPE_CHECKING:
    from ._config import ExportConfig, ExportResult, ParityReport

__all__ = ["CHECK_EXIT_CODES", "EXPORT_EXIT_CODES", "SIGN_EXIT_CODES", "main"]

PROG = "python -m export"
EXPORT_EXIT_CODES = (
    ExitCode.OK,
    ExitCode.BUNDLE_REFUSED,
    ExitCode.USAGE,
    ExitCode.INTERNAL,
    ExitCode.PARITY_FAILED,
    ExitCode.BUDGET_MISSED,
    ExitCode.WEAK_MODEL,
    ExitCode.DATA_REFUSED,
    ExitCode.INTERFACE_CHANGED,
    ExitCode.INTERRUPTED,
)
_EXPORT_ONLY = (ExitCode.BUDGET_MISSED, ExitCode.WEAK_MODEL, ExitCode.DATA_REFUSED, ExitCode.INTERFACE_CHANGED)
CHECK_EXIT_CODES = tuple(code for code in EXPORT_EXIT_CODES if code not in _EXPORT_ONLY)
SIGN_EXIT_CODES = (ExitCode.OK, ExitCode.BUNDLE_REFUSED, ExitCode.USAGE, ExitCode.INTERNAL, ExitCode.INTERRUPTED)
EXAMPLES = """\
examples:
  python -m export                                   # demo data -> models/quality/<next version>
  python -m export --data line3.parquet --target defect --drop "Serial No"
  python -m export --data ai4i2020.csv --target "Machine failure" \\
      --drop UDI "Product ID" TWF HDF PWF OSF RNF
  python -m export check models/quality             # re-run the parity proof on the current version
  python -m export keygen keys/                      # an EC P-256 key pair for signing bundles
  python -m export --sign-key keys/signing-key.pem   # export and sign (model.sig)
  python -m export sign models/quality --key keys/signing-key.pem   # sign an existing bundle
  python -m export kit models/quality --platform linux_x86_64 --platform linux_aarch64 --python 3.11 \\
      --extras serve,verify --output kit.tar.gz      # offline install kit for air-gapped devices
"""
EXTRA_MESSAGE = 'python -m export needs the "export" extra: pip install ".[export]"'


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option is a one-line usage error (exit 4) instead of argparse's exit 2."""

    def error(self, message: str) -> NoReturn:
        raise ExportError(f"{message} (see {self.prog} --help)")


def _export_parser() -> argparse.ArgumentParser:
    from ._config import ExportConfig

    defaults = ExportConfig()  # the defaults are ExportConfig's, never a second copy here
    parser = _Parser(
        prog=PROG,
        description="Train a scikit-learn Pipeline, convert it to ONNX, prove "
        "scikit-learn and onnxruntime agree, and write a versioned bundle.",
        epilog=EXAMPLES + "\n" + exit_codes_text(EXPORT_EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _data_options(parser.add_argument_group("data (default: the built-in demo data set)"), defaults)
    _model_options(parser.add_argument_group("model"), defaults)
    _output_options(parser.add_argument_group("output"), defaults)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks and library logs")
    return parser


def _columns_option(group: argparse._ArgumentGroup, flag: str, help_text: str) -> None:
    group.add_argument(flag, nargs="+", action="extend", default=[], metavar="COLUMN", help=help_text)


def _one_character(text: str) -> str:
    value = "\t" if text in ("\\t", "tab") else text
    if len(value) != 1 or value in '\r\n"':
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (a quote or line break cannot delimit)")
    return value


def _data_options(data: argparse._ArgumentGroup, defaults: ExportConfig) -> None:
    data.add_argument("--data", type=Path, help="CSV or Parquet file with the training data")
    data.add_argument("--target", help="the column to predict")
    _columns_option(data, "--numeric", "treat these columns as numbers (default: inferred)")
    _columns_option(data, "--categorical", "treat these columns as categories (default: inferred)")
    _columns_option(data, "--drop", "columns that are not features (ids, leaking columns)")
    data.add_argument(
        "--allow-column",
        dest="allow_columns",
        action="append",
        default=[],
        metavar="COLUMN",
        help=f"keep a column the column checks refuse (ID-like, leaking; exit {int(ExitCode.DATA_REFUSED)}) "
        "on purpose; repeatable",
    )
    data.add_argument(
        "--schema",
        type=Path,
        help='JSON file {"columns": {name: {"valid_range": [lo, hi], '
        '"nullable": bool, "description": str}}}; otherwise ranges come from the training data '
        "widened by --range-margin of their span",
    )
    data.add_argument(
        "--range-margin",
        type=float,
        default=defaults.range_margin,
        metavar="SHARE",
        help="widen inferred valid ranges by this share of the training span on each side "
        "(default %(default)s = 10%%; 0 keeps the training min/max)",
    )
    data.add_argument(
        "--delimiter",
        type=_one_character,
        default=defaults.delimiter,
        metavar="CHAR",
        help="CSV field delimiter (default %(default)r; ';' for European spreadsheet exports, '\\t' for tabs)",
    )
    data.add_argument(
        "--decimal",
        choices=(".", ","),
        default=defaults.decimal,
        metavar="MARK",
        help="CSV decimal mark (default %(default)r; ',' for numbers written like 3,5)",
    )
    data.add_argument(
        "--demo-rows", type=int, default=defaults.demo_rows, help="rows of demo data (default %(default)s)"
    )


def _model_options(model: argparse._ArgumentGroup, defaults: ExportConfig) -> None:
    from ._config import DEFAULT_ESTIMATORS

    model.add_argument(
        "--task",
        choices=("binary", "multiclass", "regression"),
        default=defaults.task,
        help="what to predict (default: from the target, by scikit-learn's type_of_target: two values are "
        "binary, more multiclass, fractional numbers regression; over 50 classes needs --task)",
    )
    model.add_argument(
        "--estimator",
        default=defaults.estimator,
        help="classifiers: random_forest, gradient_boosting, hist_gradient_boosting, logistic_regression; "
        "regressors: random_forest_regressor, gradient_boosting_regressor, hist_gradient_boosting_regressor, "
        f"ridge (default {DEFAULT_ESTIMATORS['binary_classification']} for classes, "
        f"{DEFAULT_ESTIMATORS['regression']} for numbers: depth-limited forests for the device)",
    )
    model.add_argument(
        "--param",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=VALUE",
        help="estimator parameters, e.g. max_depth=8 n_estimators=200",
    )
    model.add_argument(
        "--pipeline",
        metavar="MODULE:FUNCTION",
        help="your own unfitted Pipeline factory "
        "(first steps preprocess one column per input, last step is the estimator)",
    )
    model.add_argument("--tune", action="store_true", help="GridSearchCV over the estimator's grid")
    model.add_argument(
        "--allow-weak",
        action="store_true",
        help="export even when the quality gate fails: by default a classifier needs balanced accuracy and "
        "macro F1 each 0.10 above DummyClassifier(strategy=prior)'s, a regressor R2 0.10 above "
        f"DummyRegressor(strategy=mean)'s, on the same held-out split, or the export stops (exit "
        f"{int(ExitCode.WEAK_MODEL)}) and nothing becomes current",
    )
    _decision_options(model)
    model.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    model.add_argument(
        "--test-size", type=float, default=defaults.test_size, help="held-out share (default %(default)s)"
    )


def _decision_options(model: argparse._ArgumentGroup) -> None:
    model.add_argument(
        "--scoring",
        metavar="SCORER",
        help="the scikit-learn scorer --tune maximises (default: average_precision for a binary classifier, "
        "balanced_accuracy for multiclass, r2 for regression)",
    )
    model.add_argument(
        "--class-weight",
        choices=["balanced"],
        help="weigh classes inversely to their frequency (estimators with a class_weight parameter)",
    )
    model.add_argument(
        "--threshold",
        metavar="auto|P",
        help="binary classifiers: the positive class's probability from which it is predicted; 'auto' tunes "
        "it by cross-validation (TunedThresholdClassifierCV), a number fixes it (default: the most probable class)",
    )
    model.add_argument(
        "--objective",
        metavar="OBJECTIVE",
        help="what --threshold auto maximises: f1 (default), balanced_accuracy, recall_at_precision=P "
        "(the best recall with precision >= P), or cost=FN:FP (the lowest cost of misses and false alarms)",
    )


def _output_options(out: argparse._ArgumentGroup, defaults: ExportConfig) -> None:
    budget_exit = int(ExitCode.BUDGET_MISSED)
    out.add_argument("--output", type=Path, default=defaults.output, help="models folder (default %(default)s)")
    out.add_argument(
        "--name",
        help="model name (default: quality for the demo, else <data file name>-<target>, e.g. ai4i2020-torque-nm)",
    )
    out.add_argument(
        "--version",
        help="semantic version (default: the next after the newest: patch for a retrain, minor when the "
        "accepted inputs change, major with --major)",
    )
    out.add_argument(
        "--major",
        action="store_true",
        help="export the next major version: needed when the task, target, classes or input columns differ "
        f"from the current version's (else exit {int(ExitCode.INTERFACE_CHANGED)})",
    )
    out.add_argument("--description", help="one sentence on what the model is for")
    out.add_argument(
        "--compress",
        type=int,
        default=defaults.compress,
        choices=range(10),
        metavar="0-9",
        help="joblib compression level (default %(default)s)",
    )
    out.add_argument("--no-measure", action="store_true", help="skip measuring latency and memory")
    out.add_argument(
        "--sign-key",
        type=Path,
        metavar="KEY.pem",
        help="EC P-256 private key (python -m export keygen) to sign the bundle with: model.sig, written "
        "after every other file; devices that trust the public key refuse any change",
    )
    out.add_argument(
        "--max-memory-mb",
        type=float,
        metavar="MiB",
        help="device budget: peak RSS in MiB of a process that "
        f"loads the bundle and predicts once; the export fails (exit {budget_exit}) if the bundle needs more",
    )
    out.add_argument(
        "--max-latency-us",
        type=float,
        metavar="US",
        help="device budget: single-record p50 latency through runtime.predict (1 thread, measured on "
        f"this machine); the export fails (exit {budget_exit}) above it",
    )


def _check_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} check",
        description="Re-run the parity proof of an existing bundle against "
        "its joblib file, on the data it was trained with.",
        epilog=exit_codes_text(CHECK_EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, help="version folder or model folder (its CURRENT version)")
    parser.add_argument("--joblib", type=Path, help="the Pipeline file (default: <model folder>/<version>.joblib)")
    parser.add_argument("--data", type=Path, help="training data file, if it moved since the export")
    parser.add_argument("--json", action="store_true", help="print the parity summary as JSON instead of lines")
    parser.add_argument("--verbose", action="store_true")
    return parser


def _sign_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} sign",
        description="Sign an existing bundle: write model.sig (OpenSSF model-signing format) over every "
        "file of the version folder, then prove it loads with the key's public half trusted.",
        epilog=exit_codes_text(SIGN_EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, help="version folder or model folder (its CURRENT version)")
    parser.add_argument("--key", type=Path, required=True, metavar="KEY.pem", help="EC P-256 private key (PEM)")
    parser.add_argument("--verbose", action="store_true")
    return parser


def _keygen_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} keygen",
        description="Write a new EC P-256 key pair for signing bundles into DIR: signing-key.pem (the "
        "private key, mode 0600; keep it on the dev machine) and signing-key.pub.pem (copy it to devices' "
        "/etc/factory-edge/trusted-keys/). Existing files are never overwritten.",
        epilog=exit_codes_text((ExitCode.OK, ExitCode.USAGE, ExitCode.INTERNAL, ExitCode.INTERRUPTED)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder for the two key files (created if missing)")
    parser.add_argument("--verbose", action="store_true")
    return parser


def _kit_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} kit",
        description="Pack one offline install kit: the runtime wheel, every dependency wheel for each "
        "platform and Python, the bundle CURRENT names (and model.sig), SHA256SUMS, README.md and install.sh "
        "(./install.sh PREFIX on the device). A platform or Python without wheels is refused before writing.",
        epilog=exit_codes_text(SIGN_EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", type=Path, help="version folder or model folder (its CURRENT version)")
    parser.add_argument("--platform", action="append", required=True, help="linux_x86_64, linux_aarch64 (repeat)")
    parser.add_argument("--python", action="append", required=True, metavar="3.MINOR", help="e.g. 3.11 (repeat)")
    parser.add_argument("--extras", default="", help="comma-separated extras of pyproject.toml, e.g. serve,verify")
    parser.add_argument("--output", type=Path, required=True, metavar="KIT.tar.gz")
    parser.add_argument("--verbose", action="store_true")
    return parser


def _run_kit(argv: Sequence[str]) -> int:
    args = _kit_parser().parse_args(argv)
    try:
        from ._kit import KitRequest, build_kit  # packaging, from the export extra
    except ImportError as error:
        print(f"{EXTRA_MESSAGE} (missing {error.name})", file=sys.stderr)
        return ExitCode.USAGE

    extras = [extra.strip() for extra in args.extras.split(",") if extra.strip()]
    request = KitRequest(args.path, args.output, args.platform, args.python, extras)
    with Heartbeat(_progress(time.perf_counter())) as progress:  # pip downloads run silent for a while
        result = build_kit(request, progress=progress)
    size = format_bytes(result.output.stat().st_size)
    print(f"kit {result.output} ({size}): {result.model} {result.version}, {result.requirement}")
    for target, wheels in result.wheels.items():
        print(f"  wheels/{target}: {len(wheels)} wheels")
    print(f"  on the device: tar xzf {result.output.name} && {result.top}/install.sh /opt/factory-edge")
    return ExitCode.OK


def _run_sign(argv: Sequence[str]) -> int:
    args = _sign_parser().parse_args(argv)
    import runtime

    from ._sign import public_key_pem, sign_bundle

    public_key_pem(args.key)  # a wrong key fails before the bundle is read
    folder = runtime.load(args.path).path  # only a bundle that loads and self-tests is signed
    signature = sign_bundle(folder, args.key)
    model = runtime.load(folder, trusted_keys=[public_key_pem(args.key)])
    print(f"signed {signature} ({model.signature.describe()})")
    return ExitCode.OK


def _run_keygen(argv: Sequence[str]) -> int:
    args = _keygen_parser().parse_args(argv)
    from ._sign import keygen

    private, public = keygen(args.folder)
    print(f"private key: {private} (mode 0600; keep it on this machine, pass it to --sign-key)")
    print(f"public key:  {public} (copy it to devices: /etc/factory-edge/trusted-keys/ or --trusted-key)")
    return ExitCode.OK


def _progress(start: float) -> Callable[[str], None]:
    def report(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def _parity_lines(parity: ParityReport) -> list[str]:
    """The parity proof in a few lines: the totals, then one line per kind of case."""
    # a regressor has values, no labels: its difference is relative to max(1, |value|)
    diff = "max |diff|" if parity.classifier else "max relative |diff| of values"
    ties = f", {parity.ties} exact ties" if parity.classifier else ""
    lines = [
        f"  parity: {parity.total_cases:,} cases, {parity.mismatch_phrase}{diff} {parity.max_abs_diff:.3g} "
        f"(tolerance {parity.tolerance:g}){ties}"
    ]
    for kind, row in parity.kinds.items():
        if kind != "tie":
            mismatches = f"{row['label_mismatches']} mismatches  " if parity.classifier else ""
            lines.append(
                f"    {kind:<17} {row['cases']:>9,} cases  {mismatches}max |diff| {row.get('max_abs_diff', 0.0):.3g}"
            )
    return lines


def _summary(result: ExportResult) -> str:
    manifest, parity, metrics = result.manifest, result.parity, result.metrics
    lines = [
        f"exported {manifest.name} {manifest.version} ({manifest.task}) in {result.timings.get('total_s', 0):.1f}s"
    ]
    lines += [f"  {line}" for line in metric_lines(metrics)]
    lines += _decision_lines(result)
    lines += _parity_lines(parity)
    graph = manifest.device_graph
    lines.append(
        f"  device graph: {graph.file.path} ({format_bytes(graph.file.size)}), {', '.join(graph.folded) or 'nothing'} "
        f"folded into the trees{'; kept as nodes: ' + ', '.join(graph.kept) if graph.kept else ''}; "
        f"every case above ran on {' and '.join(parity.graphs)}"
        if graph is not None
        else "  device graph: none (a step does not fold into trees): the runtime runs model.onnx"
    )
    latency, rss = manifest.performance.single_record_latency_us, manifest.performance.peak_rss_mb
    if latency is not None and rss is not None:
        lines.append(
            f"  device path: p50 {latency.p50:.1f} µs, p99 {latency.p99:.1f} µs per record; peak RSS {rss:.0f} MiB"
        )
    lines += _ranges_and_warnings(result)
    lines.append(f"  bundle:   {result.bundle}  (model.onnx {format_bytes(manifest.model_file.size)})")
    for document in result.documents:
        lines.append(f"            {document.name}")
    lines.append(f"  joblib:   {result.joblib_path}  (dev machine only; never copy it to a device)")
    lines.append(f"  current:  {result.bundle.parent / 'CURRENT'} -> {manifest.version}")
    return "\n".join(lines)


def _ranges_and_warnings(result: ExportResult) -> list[str]:
    """The valid ranges the device will enforce, and what the column checks warned about."""
    from ._column_checks import describe_finding
    from ._columns import describe_ranges

    lines = ["  valid ranges (the device refuses values outside them; --schema or --range-margin to change):"]
    lines += [f"    {line}" for line in describe_ranges(result.manifest.inputs)]
    return lines + [f"  warning: {describe_finding(finding)}" for finding in result.column_findings]


def _decision_lines(result: ExportResult) -> list[str]:
    """The tuned parameters, the label rule and, with a threshold, the positive class's held-out recall
    under the default rule and under the threshold."""
    lines = []
    if result.search:
        search = result.search
        lines.append(
            f"  tuned:  {search['best_params']} (mean {search['scoring']} {search['best_score']:.4f}, "
            f"{search['cv']}-fold CV)"
        )
    rule = result.manifest.label_rule()
    if rule is None:
        return lines
    record = result.threshold
    if record is None:
        return [*lines, f"  label:  {rule}"]
    origin = f"tuned for {record['objective']}, CV score {record['cv_score']:.4f}" if "cv_score" in record else "fixed"
    lines.append(f"  label:  {rule} (threshold {origin})")
    held_out = record["held_out"]
    default, tuned = held_out["default"], held_out["threshold"]
    positive, positives = held_out["positive_class"], held_out["positives"]
    lines.append(
        f"    held-out recall of {positive!r}: {_share(default['recall'])} ({default['caught']} of {positives}) "
        f"at the default rule -> {_share(tuned['recall'])} ({tuned['caught']} of {positives}) at the threshold; "
        f"false alarms {default['false_alarms']} -> {tuned['false_alarms']}"
    )
    return lines


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _config(args: argparse.Namespace) -> ExportConfig:
    """The options as an ExportConfig: every field the parser has, by name, and the few it spells otherwise."""
    from ._config import ExportConfig
    from ._pipeline import parse_params

    named = {field.name: getattr(args, field.name) for field in dataclasses.fields(ExportConfig) if field.name in args}
    named.update(
        numeric=tuple(args.numeric),
        categorical=tuple(args.categorical),
        drop=tuple(args.drop),
        allow_columns=tuple(args.allow_columns),
    )
    return ExportConfig(**named, params=parse_params(args.param), measure=not args.no_measure)


def _missing_extra() -> str | None:
    """The message naming the "export" extra when its libraries are not installed, else None."""
    try:
        importlib.import_module("export._convert")  # scikit-learn, skl2onnx, onnx, pandas
    except ImportError as error:
        return f"{EXTRA_MESSAGE} (missing {error.name})"
    return None


def _run_export(argv: Sequence[str]) -> int:
    args = _export_parser().parse_args(argv)  # --help works without the extra
    missing = _missing_extra()
    if missing:
        print(missing, file=sys.stderr)
        return ExitCode.USAGE
    config = _config(args)
    from ._job import run_export

    result = run_export(config, progress=_progress(time.perf_counter()))
    print(_summary(result))
    return ExitCode.OK


def _run_check(argv: Sequence[str]) -> int:
    args = _check_parser().parse_args(argv)
    missing = _missing_extra()
    if missing:
        print(missing, file=sys.stderr)
        return ExitCode.USAGE
    from ._check import check_bundle

    with Heartbeat(_progress(time.perf_counter())) as progress:
        report = check_bundle(args.path, joblib_path=args.joblib, data=args.data, progress=progress)
    if args.json:
        print(json.dumps(report.summary().to_dict(), indent=2))
    else:
        print("\n".join([f"parity {'holds' if report.passed else 'FAILED'} ({args.path})", *_parity_lines(report)]))
    if not report.passed:
        raise ParityError(report)
    print(
        f"parity holds: {report.total_cases:,} cases, {report.mismatch_phrase}max |diff| {report.max_abs_diff:.3g}",
        file=sys.stderr,
    )
    return ExitCode.OK


def _fail(message: str, code: ExitCode, verbose: bool) -> int:
    if verbose:
        traceback.print_exc(file=sys.stderr)
    print(message, file=sys.stderr)
    return int(code)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m export [check|sign|keygen|kit] ...``; returns the exit code (see ``--help``)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in arguments
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        try:
            if arguments[:1] == ["check"]:
                return _run_check(arguments[1:])
            if arguments[:1] == ["sign"]:
                return _run_sign(arguments[1:])
            if arguments[:1] == ["keygen"]:
                return _run_keygen(arguments[1:])
            if arguments[:1] == ["kit"]:
                return _run_kit(arguments[1:])
            return _run_export(arguments)
        except SystemExit as exit_:  # --help: argparse printed it and "exits"
            return exit_.code if isinstance(exit_.code, int) else ExitCode.OK
    except ParityError as error:
        return _fail(str(error), ExitCode.PARITY_FAILED, verbose)
    except BudgetError as error:
        return _fail(f"error: {error}", ExitCode.BUDGET_MISSED, verbose)
    except WeakModelError as error:
        return _fail(f"error: {error}", ExitCode.WEAK_MODEL, verbose)
    except DataRefusedError as error:
        return _fail(f"error: {error}", ExitCode.DATA_REFUSED, verbose)
    except InterfaceChangedError as error:
        return _fail(f"error: {error}", ExitCode.INTERFACE_CHANGED, verbose)
    except BundleError as error:
        return _fail(f"error: bundle refused: {_first_line(error)}", ExitCode.BUNDLE_REFUSED, verbose)
    except (ConversionError, ExportError, ValueError, KeyError, OSError) as error:
        # the command, its files or its Pipeline: what the user changes to make it work
        return _fail(f"error: {_first_line(error)}", ExitCode.USAGE, verbose)
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED, verbose)
    except Exception as error:  # a bug: still one line, the traceback with --verbose
        message = f"internal error: {type(error).__name__}: {_first_line(error)}"
        return _fail(f"{message} (rerun with --verbose for the traceback)", ExitCode.INTERNAL, verbose)
