"""The report's charts as self-contained PNG data URIs: confusion matrix and importance bars.

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
    from matplotlib.axes import Axes

__all__ = ["confusion_chart", "importance_chart", "png_data_uri"]

CHART_COLUMNS = 15
# Annotating every cell of a larger confusion matrix makes the numbers unreadable.
ANNOTATED_CLASSES = 20
CHART_LABEL_CHARS = 40


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
