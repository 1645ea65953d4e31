"""Training: fit the Pipeline on the training split, or grid-search it with ``--tune``.

The search is recorded (grid, folds, scoring, every candidate's score) so the model card can show
what was tried; the refitted best Pipeline is what the export converts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from ._errors import ExportError
from ._pipeline import TUNING_GRIDS

__all__ = ["TUNING_FOLDS", "train", "tuning_grid"]

TUNING_FOLDS = 3


def train(
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    *,
    task: str,
    grid: dict[str, list[Any]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> tuple[Pipeline, dict[str, Any] | None]:
    """Fit ``pipeline``, or grid-search it over ``grid``; returns the fitted Pipeline and the search record.

    ``grid`` is ``None`` for a plain fit (no ``--tune``).
    """
    if grid is None:
        progress(f"training: {type(pipeline.steps[-1][1]).__name__} on {len(x_train):,} rows")
        return pipeline.fit(x_train, y_train), None
    progress(f"tuning: GridSearchCV over {grid} ({TUNING_FOLDS}-fold)")
    scoring = "r2" if task == "regression" else "accuracy"
    searcher = GridSearchCV(pipeline, grid, cv=TUNING_FOLDS, scoring=scoring, n_jobs=1, refit=True)
    searcher.fit(x_train, y_train)
    return searcher.best_estimator_, _search_record(searcher, grid, scoring)


def tuning_grid(estimator: str | None, pipeline: str | None) -> dict[str, list[Any]]:
    """The ``--tune`` grid of a built-in estimator; a user Pipeline has none."""
    grid = TUNING_GRIDS.get(estimator) if estimator and not pipeline else None
    if not grid:
        raise ExportError(f"--tune has no grid for {pipeline or estimator!r}")
    return grid


def _search_record(searcher: GridSearchCV, grid: dict[str, list[Any]], scoring: str) -> dict[str, Any]:
    """The search as plain JSON values for the manifest's ``training.tuning``."""
    results = searcher.cv_results_
    plain = {k: [v if v is None or isinstance(v, (int, float, str)) else str(v) for v in vs] for k, vs in grid.items()}
    return {
        "grid": plain,
        "cv": TUNING_FOLDS,
        "scoring": scoring,
        "best_params": searcher.best_params_,
        "best_score": float(searcher.best_score_),
        "candidates": [
            {"params": params, "mean_score": float(mean), "std_score": float(std)}
            for params, mean, std in zip(results["params"], results["mean_test_score"], results["std_test_score"])
        ],
    }
