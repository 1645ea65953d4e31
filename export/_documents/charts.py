"""The report's charts as self-contained PNG data URIs: confusion matrix, importance bars, the
precision-recall curve of a classifier, and a regressor's predicted-vs-actual and residual plots.

matplotlib is imported inside :func:`png_data_uri`, not at module level, so importing the export
package stays cheap and never switches a caller's backend.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._facts import top_values

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes

    from .._config import HeldOut

__all__ = [
    "confusion_chart",
    "importance_chart",
    "png_data_uri",
    "pr_curve_chart",
    "predicted_vs_actual_chart",
    "residual_chart",
]

CHART_COLUMNS = 15
# Annotating every cell of a larger confusion matrix makes the numbers unreadable.
ANNOTATED_CLASSES = 20
CHART_LABEL_CHARS = 40
# one-vs-rest precision-recall curves drawn for a multiclass model (the largest classes)
PR_CURVES = 8
# points drawn in a scatter plot: a sample of a large held-out split reads the same, and stays small
SCATTER_POINTS = 5000
POINT_COLOUR = "#3b75af"


def _chart_label(text: str) -> str:
    """A column name as matplotlib should draw it: shortened, ``$`` not read as mathtext."""
    short = text if len(text) <= CHART_LABEL_CHARS else text[: CHART_LABEL_CHARS - 1] + "…"
    return short.replace("$", r"\$")


def png_data_uri(draw: Callable[[Axes], None], size: tuple[float, float]) -> str:
    """Draw on a fresh Agg figure and return it as a ``data:image/png;base64,`` URI.

    The object-oriented API on an explicit Agg canvas needs no display, touches no pyplot global
    state and so never switches the caller's backend. matplotlib is imported here, not at module
    level, so importing the export package stays cheap.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A column name in a script the default font lacks draws as boxes: harmless in a report.
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from", category=UserWarning)
        figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_chart(confusion: dict[str, Any]) -> str:
    """Heatmap of the confusion matrix (true class by row), counts written in each cell."""
    labels = [_chart_label(str(label)) for label in confusion["labels"]]
    matrix = confusion["matrix"]
    side = min(4.0 + 0.4 * len(labels), 12.0)
    crowded = len(labels) > 4

    def draw(axes: Axes) -> None:
        image = axes.imshow(matrix, cmap="Blues")
        axes.figure.colorbar(image, ax=axes, shrink=0.8)
        ticks = list(range(len(labels)))
        axes.set_xticks(ticks, labels=labels, rotation=45 if crowded else 0, ha="right" if crowded else "center")
        axes.set_yticks(ticks, labels=labels)
        axes.set_xlabel("predicted class")
        axes.set_ylabel("true class")
        axes.set_title("Confusion matrix, held-out split")
        if len(labels) > ANNOTATED_CLASSES:
            return
        peak = max((max(row) for row in matrix), default=0)
        for row, counts in enumerate(matrix):
            for column, count in enumerate(counts):
                axes.text(
                    column, row, f"{count:,}", ha="center", va="center", color="white" if count > peak / 2 else "black"
                )

    return png_data_uri(draw, (side, side * 0.85))


def importance_chart(values: dict[str, float], title: str, errors: dict[str, float] | None = None) -> str:
    """Horizontal bars of the largest values, the largest on top (optional ± error bars)."""
    ranked = top_values(values, CHART_COLUMNS)[::-1]
    names = [_chart_label(name) for name, _ in ranked]
    spread = [errors.get(name, 0.0) for name, _ in ranked] if errors else None

    def draw(axes: Axes) -> None:
        axes.barh(
            range(len(ranked)),
            [value for _, value in ranked],
            xerr=spread,
            color="#3b75af",
            error_kw={"ecolor": "#444444", "capsize": 3},
        )
        axes.set_yticks(range(len(ranked)), labels=names)
        axes.axvline(0.0, color="#888888", linewidth=0.8)
        axes.set_title(title)

    return png_data_uri(draw, (7.0, 1.2 + 0.35 * len(ranked)))


def pr_curve_chart(truth: np.ndarray, probabilities: np.ndarray, classes: list[Any], positive: Any | None) -> str:
    """Precision against recall as the threshold moves: of the class to catch (binary), or one curve
    per class (one-vs-rest), each with its average precision and its chance level as a dashed line.

    ``probabilities`` has one column per class of ``classes``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    largest = sorted(classes, key=lambda label: -int((truth == label).sum()))[:PR_CURVES]
    shown = [positive] if positive is not None else largest

    def draw(axes: Axes) -> None:
        for label in shown:
            caught = truth == label
            scores = probabilities[:, classes.index(label)]
            precision, recall, _ = precision_recall_curve(caught, scores)
            area = average_precision_score(caught, scores)
            line = axes.step(recall, precision, where="post", label=f"class {_chart_label(str(label))} (AP {area:.3f})")
            axes.axhline(caught.mean(), color=line[0].get_color(), linestyle="--", linewidth=0.8)
        axes.set_xlim(0.0, 1.0)
        axes.set_ylim(0.0, 1.02)
        axes.set_xlabel("recall (share of the class caught)")
        axes.set_ylabel("precision (share of alarms that are right)")
        axes.set_title("Precision-recall curve, held-out split (dashed: chance)")
        axes.legend(loc="lower left", fontsize="small")

    return png_data_uri(draw, (6.5, 4.8))


def _sample(held_out: HeldOut) -> tuple[Any, Any]:
    truth, predicted = held_out.truth, held_out.predicted
    if len(truth) <= SCATTER_POINTS:
        return truth, predicted
    every = len(truth) / SCATTER_POINTS
    picked = [int(i * every) for i in range(SCATTER_POINTS)]
    return truth[picked], predicted[picked]


def _axis_name(target: str, unit: str | None) -> str:
    name = _chart_label(target)
    return f"{name} ({unit})" if unit and unit not in target else name


def predicted_vs_actual_chart(held_out: HeldOut, target: str, unit: str | None) -> str:
    """Each held-out row's prediction against its true value, with the diagonal a perfect model draws."""
    truth, predicted = _sample(held_out)
    name = _axis_name(target, unit)

    def draw(axes: Axes) -> None:
        axes.scatter(truth, predicted, s=6, alpha=0.4, color=POINT_COLOUR, linewidths=0)
        low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
        axes.plot([low, high], [low, high], color="#c62828", linewidth=1.0, label="perfect prediction")
        axes.set_xlabel(f"actual {name}")
        axes.set_ylabel(f"predicted {name}")
        axes.set_title("Predicted vs actual, held-out split")
        axes.legend(loc="upper left", fontsize="small")

    return png_data_uri(draw, (6.0, 5.0))


def residual_chart(held_out: HeldOut, target: str, unit: str | None) -> str:
    """Residuals (actual minus predicted) against the prediction: a band around 0 is what a good model leaves."""
    truth, predicted = _sample(held_out)
    name = _axis_name(target, unit)

    def draw(axes: Axes) -> None:
        axes.scatter(predicted, truth - predicted, s=6, alpha=0.4, color=POINT_COLOUR, linewidths=0)
        axes.axhline(0.0, color="#c62828", linewidth=1.0)
        axes.set_xlabel(f"predicted {name}")
        axes.set_ylabel("residual: actual − predicted" + (f" ({unit})" if unit else ""))
        axes.set_title("Residuals, held-out split")

    return png_data_uri(draw, (6.0, 4.0))
