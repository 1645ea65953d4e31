"""The columns a prediction adds to a row: as ``info`` lists them and ``predict`` writes them.

A classifier adds ``label`` and ``probability_<class>`` per class, in class order; a regressor adds
``value``; ``--on-unknown flag`` or ``--on-out-of-range flag`` adds ``flags``.
"""

from __future__ import annotations

from typing import Any

from .._manifest import Label
from .._model import BatchPrediction, Model

__all__ = ["prediction_columns", "prediction_items"]


def prediction_columns(model: Model, *, flags: bool = False) -> list[str]:
    """The names of the columns ``predict`` adds, in order."""
    if model.classes is not None:
        columns = ["label", *(f"probability_{label}" for label in model.classes)]
    else:
        columns = ["value"]
    return columns + (["flags"] if flags else [])


def prediction_items(result: BatchPrediction, position: int, *, flags: bool) -> list[tuple[str, Any]]:
    """The added columns of the ``position``-th predicted row of ``result``, as (name, value) pairs."""
    items: list[tuple[str, Any]]
    if result.classes is not None:
        assert result.labels is not None and result.probabilities is not None
        label: Label = result.labels[position].item()
        items = [("label", label)]
        items += [
            (f"probability_{name}", probability)
            for name, probability in zip(result.classes, result.probabilities[position].tolist())
        ]
    else:
        assert result.values is not None
        items = [("value", float(result.values[position]))]
    if flags:
        row = int(result.rows[position])
        items.append(("flags", list(result.flags.get(row, ()))))
    return items
