"""The drift report for people: a text table (``drift``) and a self-contained HTML page with a histogram
per column (``drift --html``, needs matplotlib, imported only then), drawn from the counts the report
was judged from, so a window of any length draws in the same memory."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._contract import ExitCode
from .._evidence import CategoryReference, ColumnReference, NumberReference
from .._monitor.accumulators import CategoryAccumulator, ColumnAccumulator, NumberAccumulator
from ._base import CliError

__all__ = ["report_text", "write_html"]


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_text(data: Mapping[str, Any]) -> str:
    """The report (``DriftReport.to_dict()`` plus its source) as lines of text."""
    # "insufficient data" is wider than ok / warn / alert
    width = max([6, *(len(column["status"]) for column in data["columns"].values())])
    lines = [
        f"drift of {data['model']} {data['version']} over {data['rows']:,} rows from {data['source']}: "
        f"{data['status'].upper()}",
        f"  {'column':<24} {'kind':<9} {'status':<{width}} {'PSI':>7} {'KS':>7}  {'missing (training)':<20} unknown",
    ]
    for name, column in data["columns"].items():
        missing = f"{column['missing_rate']:.1%} ({column['reference_missing_rate']:.1%})"
        unknown = "-" if column["unknown_rate"] is None else f"{column['unknown_rate']:.1%}"
        lines.append(
            f"  {name:<24} {column['kind']:<9} {column['status']:<{width}} {_cell(column['psi']):>7} "
            f"{_cell(column['ks']):>7}  {missing:<20} {unknown}"
        )
        lines += [f"      {reason}" for reason in column["reasons"]]
    predictions = data.get("predictions")
    if predictions:
        lines += _prediction_lines(predictions)
    accuracy = data.get("accuracy")
    if accuracy:
        lines.append(_accuracy_line(accuracy))
    return "\n".join(lines) + "\n"


def _prediction_lines(predictions: Mapping[str, Any]) -> list[str]:
    if "recent_shares" in predictions:  # a classifier's predicted classes
        shares = ", ".join(f"{k}: {v:.1%}" for k, v in predictions["recent_shares"].items())
        reference = ", ".join(f"{k}: {v:.1%}" for k, v in predictions["reference_shares"].items())
        verdict = f"PSI {_cell(predictions['psi'])} {predictions['status']}"
        return [f"  predictions: {verdict} (recent {shares}; held-out {reference})"]
    # a regressor's predicted values, judged as a number column is
    return [
        f"  predictions: PSI {_cell(predictions['psi'])} KS {_cell(predictions['ks'])} {predictions['status']} "
        f"(predicted values of {predictions['rows']:,} rows against the held-out split)",
        *(f"      {reason}" for reason in predictions["reasons"]),
    ]


def _accuracy_line(accuracy: Mapping[str, Any]) -> str:
    if "accuracy" not in accuracy:
        return f"  accuracy: {accuracy['note']}"
    return (
        f"  accuracy: {accuracy['accuracy']:.4f} over {accuracy['labelled_rows']:,} labelled predictions "
        f"(baseline {accuracy['baseline_accuracy']:.4f}, drop {accuracy['drop']:+.4f}, alert above "
        f"{accuracy['max_drop']}); macro F1 {accuracy['macro_f1']:.4f} (baseline "
        f"{accuracy['baseline_macro_f1']:.4f}): {accuracy['status']}"
    )


# ---------------------------------------------------------------------------------------------
# HTML


def write_html(
    path: Path,
    data: Mapping[str, Any],
    reference: Mapping[str, ColumnReference],
    recent: Mapping[str, ColumnAccumulator | Any],
) -> None:
    """Reference vs recent histograms per column, as one self-contained HTML page.

    ``recent`` holds each column's counts (``DriftAccumulator.columns``) or, for a small window, its
    values as an array.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CliError(
            "--html needs matplotlib (pip install matplotlib); the text and JSON report need nothing", ExitCode.USAGE
        ) from None
    sections = []
    for name, column in data["columns"].items():
        image = _histogram_png(*_shares(_counted(reference[name], recent[name])))
        sections.append(
            f"<h2>{html.escape(name)}: {column['status']}</h2>"
            f"<p>{html.escape('; '.join(column['reasons']) or 'within thresholds')}</p>"
            f"<img alt='{html.escape(name)}' src='data:image/png;base64,{image}'>"
        )
    title = f"Drift of {html.escape(data['model'])} {data['version']}"
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>{title}</title>"
        f"<h1>{title}: {data['status']}</h1>"
        f"<p>{data['rows']:,} recent rows from {html.escape(data['source'])}.</p>" + "".join(sections),
        encoding="utf-8",
    )


def _counted(reference: ColumnReference, recent: ColumnAccumulator | Any) -> ColumnAccumulator:
    """A column's counts: ``recent`` itself, or its values counted."""
    if isinstance(recent, (NumberAccumulator, CategoryAccumulator)):
        return recent
    counted: ColumnAccumulator = (
        NumberAccumulator(reference) if isinstance(reference, NumberReference) else CategoryAccumulator(reference)
    )
    counted.add(np.asarray(recent, dtype=np.float64 if isinstance(reference, NumberReference) else object))
    return counted


def _shares(counted: ColumnAccumulator) -> tuple[list[str], list[float], list[float]]:
    """Bar labels, then the reference's and the recent window's share in each bar."""
    if isinstance(counted, NumberAccumulator):
        reference = counted.reference
        edges = reference.bin_edges
        # no edges: the column was never present in training, and its one bin holds everything
        labels = [f"< {edges[0]:.3g}", *(f"{e:.3g}" for e in edges)] if len(edges) else ["all values"]
        return labels, list(reference.bin_shares), counted.bin_shares().tolist()
    category: CategoryReference = counted.reference
    known, unknown = counted.shares()
    return [*category.shares, "(unknown)"], [*category.shares.values(), 0.0], [*known, unknown]


def _histogram_png(labels: list[str], reference: list[float], recent: list[float]) -> str:
    """Side-by-side bars of the two shares, as base64 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = np.arange(len(labels))
    axes.bar(positions - 0.2, reference, width=0.4, label="training reference")
    axes.bar(positions + 0.2, recent, width=0.4, label="recent")
    axes.set_xticks(positions, labels, rotation=45, fontsize=7)
    axes.set_ylabel("share")
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
