"""Training: fit the Pipeline on the training split, or grid-search it with ``--tune``, and wrap it in
a decision threshold with ``--threshold`` (:mod:`export._threshold`).

The search is recorded (grid, folds, scoring, every candidate's score) so the model card can show
what was tried; the refitted best Pipeline is what the export converts.

``--tune`` scores candidates by ``TUNING_SCORING`` unless ``--scoring`` names another scikit-learn
scorer. For a binary classifier that is ``average_precision`` (the area under the precision-recall
curve of the positive class): accuracy rewards a model that never predicts a 3 % failure, and
balanced accuracy or F1 judge the probabilities at the 0.5 threshold, which ``--threshold auto``
moves afterwards; average precision ranks how well the model orders failures above good parts at
every threshold, which is what a later threshold can use. Multiclass: ``balanced_accuracy`` (the
mean recall over classes, blind to class sizes); regression: ``r2``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_regressor
from sklearn.metrics import average_precision_score, get_scorer_names, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import runtime

from ._config import ExportConfig, PreparedData
from ._errors import ExportError
from ._pipeline import TUNING_GRIDS
from ._threshold import ThresholdRequest, fit_threshold, held_out_comparison, plain_label, threshold_request

__all__ = [
    "TUNING_FOLDS",
    "TUNING_SCORING",
    "FittedModel",
    "check_training_options",
    "fit_model",
    "train",
    "tuning_grid",
    "tuning_scoring",
    "with_class_weight",
]

TUNING_FOLDS = 3
TUNING_SCORING = {
    "binary_classification": "average_precision",
    "multiclass_classification": "balanced_accuracy",
    "regression": "r2",
}
SCORERS_SHOWN = 12


@dataclasses.dataclass
class FittedModel:
    """What training hands on: the Pipeline the graph computes, what scikit-learn labels with
    (the threshold classifier around it, or the Pipeline itself), the search and the threshold."""

    pipeline: Pipeline
    classifier: Any
    search: dict[str, Any] | None = None
    decision: runtime.Decision | None = None
    threshold: dict[str, Any] | None = None  # how the threshold was found, and its held-out effect


def check_training_options(config: ExportConfig) -> ThresholdRequest | None:
    """Refuse ``--scoring``, ``--class-weight``, ``--threshold`` and ``--objective`` mistakes before any
    data is read; returns the parsed threshold request."""
    if config.scoring is not None:
        if not config.tune:
            raise ExportError(f"--scoring {config.scoring} scores the --tune search: add --tune")
        names = sorted(get_scorer_names())
        if config.scoring not in names:
            shown = ", ".join(names[:SCORERS_SHOWN]) + f", and {len(names) - SCORERS_SHOWN} more"
            raise ExportError(
                f"--scoring {config.scoring!r} is not a scikit-learn scorer; choose one of {shown} "
                "(python -c 'import sklearn.metrics; print(sklearn.metrics.get_scorer_names())')"
            )
    if config.class_weight not in (None, "balanced"):
        raise ExportError(f"--class-weight {config.class_weight!r}: the only choice is 'balanced'")
    return threshold_request(config)


def fit_model(
    pipeline: Pipeline,
    data: PreparedData,
    config: ExportConfig,
    *,
    grid: dict[str, list[Any]] | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> FittedModel:
    """Train as ``config`` says: class weights, the ``--tune`` search, then the decision threshold."""
    request = check_training_options(config)
    pipeline = with_class_weight(pipeline, config.class_weight)
    if request is not None and data.task != "binary_classification":
        raise ExportError(
            f"--threshold needs a binary classifier, but the target {data.spec.target!r} makes this a "
            f"{data.task.replace('_', ' ')} model; drop --threshold"
        )
    search = None
    if request is None or grid is not None:
        pipeline, search = train(
            pipeline, data.x_train, data.y_train, task=data.task, grid=grid, scoring=config.scoring, progress=progress
        )
    if request is None:
        return FittedModel(pipeline, pipeline, search)
    thresholded = fit_threshold(pipeline, data.x_train, data.y_train, request, progress=progress)
    classes = tuple(plain_label(label) for label in thresholded.classifier.classes_)
    record = {**thresholded.record, "held_out": held_out_comparison(thresholded, data.x_test, data.y_test, classes)}
    return FittedModel(thresholded.pipeline, thresholded.classifier, search, thresholded.decision, record)


def with_class_weight(pipeline: Pipeline, class_weight: str | None) -> Pipeline:
    """``pipeline`` with ``class_weight`` set on its estimator (``--class-weight balanced``)."""
    if class_weight is None:
        return pipeline
    name, estimator = pipeline.steps[-1]
    kind = type(estimator).__name__
    if is_regressor(estimator):
        raise ExportError(f"--class-weight {class_weight} weighs classes, but {kind} is a regressor")
    if "class_weight" not in estimator.get_params():
        raise ExportError(
            f"--class-weight: {kind} takes no class_weight; use --estimator random_forest, "
            "hist_gradient_boosting or logistic_regression, or move the decision with --threshold auto"
        )
    return pipeline.set_params(**{f"{name}__class_weight": class_weight})


def tuning_scoring(task: str, y_train: np.ndarray, scoring: str | None) -> tuple[Any, str]:
    """The ``--tune`` scorer and its name: ``scoring`` if given, else ``TUNING_SCORING[task]``."""
    if scoring is not None:
        return scoring, scoring
    name = TUNING_SCORING.get(task, "accuracy")
    if name == "average_precision":
        # scikit-learn's "average_precision" string assumes the positive class is 1; name it
        positive = plain_label(np.unique(y_train)[-1])
        return make_scorer(average_precision_score, response_method="predict_proba", pos_label=positive), name
    return name, name


def train(
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    *,
    task: str,
    grid: dict[str, list[Any]] | None = None,
    scoring: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> tuple[Pipeline, dict[str, Any] | None]:
    """Fit ``pipeline``, or grid-search it over ``grid``; returns the fitted Pipeline and the search record.

    ``grid`` is ``None`` for a plain fit (no ``--tune``); ``scoring`` overrides ``TUNING_SCORING``.
    """
    if grid is None:
        progress(f"training: {type(pipeline.steps[-1][1]).__name__} on {len(x_train):,} rows")
        return pipeline.fit(x_train, y_train), None
    scorer, scoring_name = tuning_scoring(task, y_train, scoring)
    progress(f"tuning: GridSearchCV over {grid} ({TUNING_FOLDS}-fold, scoring {scoring_name})")
    searcher = GridSearchCV(pipeline, grid, cv=TUNING_FOLDS, scoring=scorer, n_jobs=1, refit=True)
    searcher.fit(x_train, y_train)
    record = _search_record(searcher, grid, scoring_name)
    progress(f"tuning: chose {record['best_params']} (mean {scoring_name} {record['best_score']:.4f})")
    return searcher.best_estimator_, record


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
