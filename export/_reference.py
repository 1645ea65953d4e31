"""What the bundle tells the device about its training data: the drift reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import runtime
from runtime._contract import MISSING_CATEGORY
from runtime._monitor.drift import bin_shares

__all__ = ["drift_reference"]

REFERENCE_BINS = 10
REFERENCE_QUANTILES = 101


def drift_reference(
    x_train: pd.DataFrame,
    columns: tuple[runtime.ColumnSpec, ...],
    predicted: np.ndarray | None,
    classes: tuple[Any, ...] | None,
) -> dict[str, Any]:
    """Per column: quantile bins (numbers) or frequencies (categories), and the missing rate.

    Numbers get ``REFERENCE_BINS`` equal-frequency bins (inner edges; the outer bins are open) for
    PSI, and ``REFERENCE_QUANTILES`` quantiles (0 %, 1 %, ..., 100 %) to rebuild the empirical CDF
    for the KS statistic. ``predictions`` holds the class shares the model predicted on the
    held-out split, the reference for a shift of the predicted class distribution.
    """
    reference: dict[str, Any] = {"rows": int(len(x_train)), "columns": {}}
    for spec in columns:
        values = x_train[spec.name]
        if spec.kind == "number":
            numbers = values.to_numpy(dtype=np.float64)
            present = numbers[~np.isnan(numbers)]
            edges = np.unique(np.quantile(present, np.linspace(0, 1, REFERENCE_BINS + 1)[1:-1]))
            reference["columns"][spec.name] = {
                "kind": "number",
                "missing_rate": float(np.isnan(numbers).mean()),
                "bin_edges": edges.tolist(),
                "bin_shares": bin_shares(edges, present).tolist(),
                "quantiles": np.quantile(present, np.linspace(0, 1, REFERENCE_QUANTILES)).tolist(),
                "mean": float(present.mean()),
                "std": float(present.std()),
                "min": float(present.min()),
                "max": float(present.max()),
            }
        else:
            text = values.to_numpy(dtype=object)
            missing = text == MISSING_CATEGORY
            present_values = text[~missing]
            shares = {
                str(c): float((present_values == c).mean()) if len(present_values) else 0.0
                for c in (spec.categories or ())
            }
            reference["columns"][spec.name] = {
                "kind": "category",
                "missing_rate": float(missing.mean()),
                "shares": shares,
            }
    if predicted is not None and classes is not None:
        reference["predictions"] = {
            "source": "held-out split",
            "shares": {str(c): float((predicted == c).mean()) for c in classes},
        }
    elif predicted is not None:
        numbers = np.asarray(predicted, dtype=np.float64)
        reference["predictions"] = {
            "source": "held-out split",
            "bin_edges": np.unique(np.quantile(numbers, np.linspace(0, 1, REFERENCE_BINS + 1)[1:-1])).tolist(),
            "mean": float(numbers.mean()),
            "std": float(numbers.std()),
        }
    return reference
