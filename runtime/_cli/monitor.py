"""``python -m runtime drift`` and ``python -m runtime feedback``: monitoring on the device."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._model import load
from .._monitor.drift import Thresholds, bin_shares, drift_report
from .._monitor.windows import drift_from_log, ingest_feedback, parse_duration, read_csv_window, read_log_window

__all__ = ["add_drift", "add_feedback"]

DRIFT_EXIT_HELP = """\
exit codes (as monitoring plugins use them):
  0    ok: every column, the predictions and (with labels) accuracy are within thresholds
  1    warn: something crossed a warning threshold
  2    alert: something crossed an alert threshold
  3    the bundle was refused at load; nothing was judged
  4    usage or I/O error (bad options, no such log or file)"""
_STATUS_EXIT = {"ok": 0, "warn": 1, "alert": 2}


def add_drift(subcommands: Any, common: argparse.ArgumentParser) -> None:
    drift = subcommands.add_parser(
        "drift",
        parents=[common],
        help="compare recent inputs (prediction log or CSV) with the training reference",
        description=(
            "Compare recent inputs with the training reference stored in the bundle: per number column "
            "PSI over the reference's quantile bins and the KS statistic; per category column PSI and the "
            "rate of unknown categories; per column the missing-value rate against training; the shift of "
            "the predicted classes; and, when true labels were fed back (python -m runtime feedback), "
            "accuracy and macro F1 against the baseline recorded at export. Thresholds: PSI warn 0.1, "
            "alert 0.25; KS warn 0.1, alert 0.2; missing rate +5 / +10 points over training; unknown "
            "categories warn above 0, alert at 1 %%; accuracy alert 0.05 below baseline (warn at half)."
        ),
        epilog=DRIFT_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    drift.add_argument("bundle", metavar="PATH", help="a version folder or a model folder with a CURRENT file")
    source = drift.add_mutually_exclusive_group(required=True)
    source.add_argument("--log", metavar="DB", help="the server's prediction log (SQLite)")
    source.add_argument("--input", metavar="CSV", help="a CSV of recent inputs instead of the log")
    drift.add_argument("--since", metavar="DURATION", help="only log rows of the last DURATION (e.g. 30m, 24h, 7d)")
    drift.add_argument("--last", type=int, metavar="N", help="only the N most recent log rows")
    drift.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    drift.add_argument("--html", metavar="FILE", help="also write an HTML report with histograms (needs matplotlib)")
    for name, default in (
        ("psi-warn", 0.1),
        ("psi-alert", 0.25),
        ("ks-warn", 0.1),
        ("ks-alert", 0.2),
        ("missing-warn", 0.05),
        ("missing-alert", 0.10),
        ("unknown-alert", 0.01),
        ("accuracy-drop", 0.05),
    ):
        drift.add_argument(f"--{name}", type=float, default=default, metavar="X", help=f"default {default}")
    drift.set_defaults(run=_run_drift)


def add_feedback(subcommands: Any, common: argparse.ArgumentParser) -> None:
    feedback = subcommands.add_parser(
        "feedback",
        parents=[common],
        help="store true labels that arrived later, keyed by request id",
        description=(
            "Read true labels from FILE (CSV or JSON Lines with request_id, label and, for batch requests, "
            "row) and store them in the prediction log, where `drift` joins them with the predictions to "
            "measure accuracy. Labels must be classes of the model; a repeated request id and row replaces "
            "the earlier label."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    feedback.add_argument("bundle", metavar="PATH", help="the bundle whose classes the labels belong to")
    feedback.add_argument("file", metavar="FILE", help="labels: .csv or .jsonl")
    feedback.add_argument("--log", metavar="DB", required=True, help="the server's prediction log (SQLite)")
    feedback.set_defaults(run=_run_feedback)


def _thresholds(args: argparse.Namespace) -> Thresholds:
    return Thresholds(
        psi_warn=args.psi_warn,
        psi_alert=args.psi_alert,
        ks_warn=args.ks_warn,
        ks_alert=args.ks_alert,
        missing_warn=args.missing_warn,
        missing_alert=args.missing_alert,
        unknown_alert=args.unknown_alert,
    )


def _run_drift(args: argparse.Namespace, console: Any) -> int:
    from ._base import EXIT_USAGE, CliError

    model = load(args.bundle, on_unknown="flag")
    manifest = model.manifest
    thresholds = _thresholds(args)
    try:
        if args.log:
            since = parse_duration(args.since) if args.since else None
            data = drift_from_log(
                args.log, manifest, since_s=since, last=args.last, thresholds=thresholds, max_drop=args.accuracy_drop
            )
            if data["status"] == "no data":
                raise CliError(f"no predictions of {manifest.name!r} in {args.log} for that window", 3)
            # the histograms need the raw window; the text and JSON report do not
            window_columns = (
                read_log_window(args.log, manifest, since_s=since, last=args.last).columns if args.html else {}
            )
        else:
            if args.since or args.last:
                raise CliError("--since and --last select log rows; they do not apply to --input", EXIT_USAGE)
            window = read_csv_window(args.input, manifest)
            if window.rows == 0:
                raise CliError(f"{args.input} holds no rows", 3)
            data = drift_report(manifest, window.columns, thresholds=thresholds).to_dict() | {"source": window.source}
            window_columns = window.columns
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    if args.json:
        console.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        console.stdout.write(_drift_text(data))
    if args.html:
        _write_html(Path(args.html), data, manifest.drift_reference.columns, window_columns)
    console.stdout.flush()
    return _STATUS_EXIT[data["status"]]


def _run_feedback(args: argparse.Namespace, console: Any) -> int:
    from ._base import EXIT_OK, EXIT_USAGE, CliError

    model = load(args.bundle, on_unknown="flag")
    if not model.manifest.is_classifier:
        raise CliError("feedback measures classification accuracy; this bundle is a regressor", EXIT_USAGE)
    try:
        counts = ingest_feedback(args.log, args.file, model.manifest)
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None
    console.stdout.write(
        f"stored {counts['ingested']:,} labels; the log now holds {counts['labels_stored']:,}, of which "
        f"{counts['labels_matching_a_prediction']:,} match a logged prediction\n"
    )
    return EXIT_OK


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _drift_text(data: dict[str, Any]) -> str:
    lines = [
        f"drift of {data['model']} {data['version']} over {data['rows']:,} rows from {data['source']}: "
        f"{data['status'].upper()}",
        f"  {'column':<24} {'kind':<9} {'status':<6} {'PSI':>7} {'KS':>7}  {'missing (training)':<20} unknown",
    ]
    for name, column in data["columns"].items():
        missing = f"{column['missing_rate']:.1%} ({column['reference_missing_rate']:.1%})"
        unknown = "-" if column["unknown_rate"] is None else f"{column['unknown_rate']:.1%}"
        lines.append(
            f"  {name:<24} {column['kind']:<9} {column['status']:<6} {_cell(column['psi']):>7} "
            f"{_cell(column['ks']):>7}  {missing:<20} {unknown}"
        )
        lines += [f"      {reason}" for reason in column["reasons"]]
    predictions = data.get("predictions")
    if predictions:
        shares = ", ".join(f"{k}: {v:.1%}" for k, v in predictions["recent_shares"].items())
        reference = ", ".join(f"{k}: {v:.1%}" for k, v in predictions["reference_shares"].items())
        lines.append(
            f"  predictions: PSI {predictions['psi']:.3f} {predictions['status']} "
            f"(recent {shares}; held-out {reference})"
        )
    accuracy = data.get("accuracy")
    if accuracy:
        if "accuracy" in accuracy:
            lines.append(
                f"  accuracy: {accuracy['accuracy']:.4f} over {accuracy['labelled_rows']:,} labelled predictions "
                f"(baseline {accuracy['baseline_accuracy']:.4f}, drop {accuracy['drop']:+.4f}, alert above "
                f"{accuracy['max_drop']}); macro F1 {accuracy['macro_f1']:.4f} (baseline "
                f"{accuracy['baseline_macro_f1']:.4f}): {accuracy['status']}"
            )
        else:
            lines.append(f"  accuracy: {accuracy['note']}")
    return "\n".join(lines) + "\n"


def _write_html(path: Path, data: dict[str, Any], reference: Mapping[str, Any], columns: dict[str, Any]) -> None:
    """Reference vs recent histograms per column, as one self-contained HTML page."""
    from ._base import EXIT_USAGE, CliError

    try:
        import base64
        import html
        import io

        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CliError(
            "--html needs matplotlib (pip install matplotlib); the text and JSON report need nothing", EXIT_USAGE
        ) from None
    sections = []
    for name, column in data["columns"].items():
        figure = Figure(figsize=(6, 2.6))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        ref = reference[name]
        if column["kind"] == "number":
            edges = np.asarray(ref.bin_edges, dtype=float)
            values = np.asarray(columns[name], dtype=float)
            recent = bin_shares(edges, values[~np.isnan(values)]).tolist()
            labels = ["< " + f"{edges[0]:.3g}"] + [f"{e:.3g}" for e in edges]
            shares = list(ref.bin_shares)
        else:
            labels = list(ref.shares) + ["(unknown)"]
            shares = list(ref.shares.values()) + [0.0]
            recent_values = [v for v in columns[name].tolist() if v not in (None, "")]
            recent = [recent_values.count(c) / max(1, len(recent_values)) for c in labels[:-1]]
            recent.append(1 - sum(recent) if recent_values else 0.0)
        positions = np.arange(len(labels))
        axes.bar(positions - 0.2, shares, width=0.4, label="training reference")
        axes.bar(positions + 0.2, recent, width=0.4, label="recent")
        axes.set_xticks(positions, labels, rotation=45, fontsize=7)
        axes.set_ylabel("share")
        axes.legend(fontsize=7)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=90)
        image = base64.b64encode(buffer.getvalue()).decode("ascii")
        sections.append(
            f"<h2>{html.escape(name)}: {column['status']}</h2>"
            f"<p>{html.escape('; '.join(column['reasons']) or 'within thresholds')}</p>"
            f"<img alt='{html.escape(name)}' src='data:image/png;base64,{image}'>"
        )
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>Drift of {html.escape(data['model'])} {data['version']}</title>"
        f"<h1>Drift of {html.escape(data['model'])} {data['version']}: {data['status']}</h1>"
        f"<p>{data['rows']:,} recent rows from {html.escape(data['source'])}.</p>" + "".join(sections),
        encoding="utf-8",
    )
