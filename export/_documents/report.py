"""The HTML report (``report.html``): one self-contained page with the metrics (in words too), the
PR curve or the predicted-vs-actual and residual plots, importance charts, the quality gate, the
parity summary and scikit-learn's Pipeline diagram.

Charts are embedded as base64 PNG and the page has no external assets, so it opens offline.
"""

from __future__ import annotations

import html

from .._config import ExportResult
from ._facts import (
    INPUT_HEADERS,
    JOBLIB_HEADERS,
    PER_CLASS_HEADERS,
    confusion_table,
    estimator_name,
    gate_text,
    in_words,
    input_rows,
    joblib_rows,
    metric_rows,
    not_measured,
    parity_of,
    parity_table,
    parity_verdict,
    per_class_rows,
    performance_rows,
    summary_rows,
    tuning_rows,
    tuning_summary,
)
from ._markup import HTML, html_table, sentence
from .charts import confusion_chart, importance_chart, pr_curve_chart, predicted_vs_actual_chart, residual_chart

__all__ = ["report_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #3b75af; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
code { background: #f4f4f4; padding: 0 .2em; border-radius: 3px; }
img { max-width: 100%; display: block; margin: .8em 0; }
.passed { color: #1a7f37; font-weight: bold; } .failed { color: #c62828; font-weight: bold; }
.note { color: #555; }
"""


def _html_section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _html_image(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _html_note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _html_metrics(result: ExportResult) -> str:
    metrics = result.metrics
    parts = [html_table(["metric", "value"], metric_rows(metrics))]
    words = in_words(metrics, HTML)
    if words:
        parts.append("<ul>" + "".join(f"<li>{text}</li>" for text in words) + "</ul>")
    per_class = per_class_rows(metrics, HTML)
    if per_class:
        parts.append(html_table(PER_CLASS_HEADERS, per_class))
    confusion = confusion_table(metrics, HTML)
    if confusion:
        heatmap = confusion_chart(metrics["confusion_matrix"])
        parts += [
            "<p>Confusion matrix (rows: true class, columns: predicted class)</p>",
            html_table(*confusion),
            _html_image(heatmap, "confusion matrix heatmap"),
        ]
    parts += _held_out_charts(result)
    css = "passed" if metrics.get("quality_gate", {}).get("passed") else "failed"
    parts.append(f'<p class="{css}">{gate_text(metrics, HTML)}</p>')
    return _html_section("Metrics (held-out split)", *parts)


def _held_out_charts(result: ExportResult) -> list[str]:
    """The PR curve of a classifier, or a regressor's predicted-vs-actual and residual plots."""
    held_out, target = result.held_out, str(result.manifest.target)
    if held_out is None:
        return []
    if result.manifest.is_classifier:
        if held_out.probabilities is None:
            return []
        classes = list(held_out.classes or ())
        label = result.metrics.get("positive_class")
        positive = next((c for c in classes if str(c) == label), None)
        return [_html_image(pr_curve_chart(held_out.truth, held_out.probabilities, classes, positive), "PR curve")]
    unit = result.metrics.get("target_unit")
    return [
        _html_image(predicted_vs_actual_chart(held_out, target, unit), "predicted vs actual values"),
        _html_image(residual_chart(held_out, target, unit), "residuals against predicted values"),
    ]


def _html_importance(result: ExportResult) -> str:
    metrics, parts = result.metrics, []
    importance = metrics.get("feature_importance")
    if importance:
        title = "Feature importance (estimator, per column)"
        chart = importance_chart(importance["by_column"], title)
        parts.append(_html_image(chart, "feature importance chart"))
    else:
        estimator = estimator_name(result)
        parts.append(_html_note(f"{estimator} reports no feature importance of its own."))
    permutation = metrics.get("permutation_importance")
    if permutation:
        title = f"Permutation importance (drop in {permutation.get('scoring')}, held-out split)"
        chart = importance_chart(permutation["mean"], title, permutation.get("std"))
        parts.append(_html_image(chart, "permutation importance chart"))
    return _html_section("Feature importance", *parts)


def _html_parity(result: ExportResult) -> str:
    parity = parity_of(result)
    css = "passed" if parity.passed else "failed"
    verdict = html.escape(parity_verdict(parity, result.manifest.task))
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in parity.notes)
    return _html_section(
        "Parity: scikit-learn vs the device runtime",
        f'<p class="{css}">{verdict}</p>',
        html_table(*parity_table(parity, result.manifest.task, HTML)),
        f"<ul>{notes}</ul>" if notes else "",
    )


def _html_performance(result: ExportResult) -> str:
    performance = result.manifest.performance
    if not performance.measured:
        return _html_section("Performance", _html_note(sentence(not_measured(result))))
    rows = performance_rows(performance, HTML)
    return _html_section("Performance", html_table(["measure", "value"], rows))


def _html_tuning(result: ExportResult) -> str:
    if not result.search:
        return _html_section("Tuning", _html_note("No tuning: the estimator's parameters were set directly."))
    rows = tuning_rows(result.search, HTML)
    return _html_section(
        "Tuning",
        f"<p>{tuning_summary(result.search, HTML)}</p>",
        html_table(["parameters", "mean score", "std"], rows),
    )


def _html_joblib(result: ExportResult) -> str:
    if not result.joblib_report:
        return ""
    return _html_section(
        "Saved scikit-learn Pipeline (joblib)",
        f"<p>{HTML.code(result.joblib_path.name)} beside the bundle, saved with compress="
        f"{result.config.compress}; for the export machine only: loading joblib runs code from the "
        "file.</p>",
        html_table(JOBLIB_HEADERS, joblib_rows(result.joblib_report)),
    )


def _html_pipeline(result: ExportResult) -> str:
    from sklearn.utils import estimator_html_repr

    return _html_section("Pipeline", estimator_html_repr(result.pipeline))


def report_html(result: ExportResult) -> str:
    """The self-contained HTML report: tables, base64 PNG charts and the Pipeline diagram."""
    manifest = result.manifest
    title = html.escape(f"{manifest.name} {manifest.version}")
    libraries = [[HTML.code(name), HTML.code(version)] for name, version in manifest.libraries.items()]
    body = [
        f"<h1>Model report: {title}</h1>",
        f"<p>{html.escape(manifest.description)}</p>",
        html_table(["", ""], summary_rows(result, HTML)),
        _html_metrics(result),
        _html_importance(result),
        _html_section("Inputs", html_table(INPUT_HEADERS, input_rows(manifest, HTML))),
        _html_parity(result),
        _html_performance(result),
        _html_tuning(result),
        _html_joblib(result),
        _html_pipeline(result),
        _html_section("Library versions", html_table(["library", "version"], libraries)),
    ]
    head = f'<head>\n<meta charset="utf-8">\n<title>Model report: {title}</title>\n<style>{_CSS}</style>\n</head>'
    return '<!DOCTYPE html>\n<html lang="en">\n' + head + "\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
