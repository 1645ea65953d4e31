"""Held-out metrics, feature importance and permutation importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from ._config import PreparedData

__all__ = ["evaluate", "measure_quality", "unconstrained_reference"]

# Size limits of tree models and their "grow fully" values.
SIZE_LIMITS: dict[str, Any] = {"max_depth": None, "max_leaf_nodes": None, "min_samples_leaf": 1}
QUALITY_BOUND_PP = 0.5


def _key(label: Any) -> str:
    return str(label.item() if isinstance(label, np.generic) else label)


def _feature_importance(pipeline: Pipeline, columns: list[str]) -> dict[str, Any] | None:
    estimator = pipeline.steps[-1][1]
    importances = getattr(estimator, "feature_importances_", None)
    if importances is None:
        return None
    try:
        names = [str(n) for n in pipeline[:-1].get_feature_names_out()]
    except (AttributeError, ValueError):
        names = [f"feature {i}" for i in range(len(importances))]
    by_feature = {name: float(value) for name, value in zip(names, importances)}
    # One-hot features "cat__machine_type_B" add up to their input column.
    by_column = {column: 0.0 for column in columns}
    for name, value in by_feature.items():
        plain = name.split("__", 1)[-1]
        owner = max((c for c in columns if plain == c or plain.startswith(f"{c}_")), key=len, default=None)
        if owner is not None:
            by_column[owner] += value
    return {"by_model_input": by_feature, "by_column": by_column}


def measure_quality(pipeline: Pipeline, data: PreparedData, *, seed: int, classifier: Any = None) -> dict[str, Any]:
    """The manifest's ``metrics``: held-out metrics and importances, and for a size-limited forest
    its quality against the same forest grown fully (``versus_unconstrained``).

    ``classifier`` labels instead of ``pipeline`` where it is given: the decision threshold's
    classifier around it (export._threshold), so the metrics are those of the labels the device gives.
    """
    metrics = evaluate(
        classifier if classifier is not None else pipeline, data.x_test, data.y_test, task=data.task, seed=seed
    )
    size_check = unconstrained_reference(pipeline, data.x_train, data.y_train, data.x_test, data.y_test, task=data.task)
    if size_check is not None:
        metrics["versus_unconstrained"] = size_check
    return metrics


def evaluate(
    pipeline: Pipeline, x_test: pd.DataFrame, y_test: np.ndarray, *, task: str, seed: int, repeats: int = 5
) -> dict[str, Any]:
    """Metrics on the held-out split, ready for the manifest (plain JSON types)."""
    result: dict[str, Any] = {"held_out_rows": int(len(y_test))}
    if task == "regression":
        predicted = pipeline.predict(x_test)
        result.update(
            mae=float(skm.mean_absolute_error(y_test, predicted)),
            rmse=float(np.sqrt(skm.mean_squared_error(y_test, predicted))),
            r2=float(skm.r2_score(y_test, predicted)),
        )
        scoring = "r2"
    else:
        classes = pipeline.classes_
        predicted = pipeline.predict(x_test)
        probabilities = pipeline.predict_proba(x_test)
        per_class = skm.f1_score(y_test, predicted, labels=classes, average=None, zero_division=0)
        result.update(
            accuracy=float(skm.accuracy_score(y_test, predicted)),
            macro_f1=float(skm.f1_score(y_test, predicted, labels=classes, average="macro", zero_division=0)),
            f1_per_class={_key(label): float(value) for label, value in zip(classes, per_class)},
            confusion_matrix={
                "labels": [_key(label) for label in classes],
                "matrix": skm.confusion_matrix(y_test, predicted, labels=classes).tolist(),
                "rows": "true class",
                "columns": "predicted class",
            },
            class_balance_test={_key(label): int((y_test == label).sum()) for label in classes},
        )
        present = np.isin(classes, np.unique(y_test))
        if present.all():
            if len(classes) == 2:
                result["roc_auc"] = float(skm.roc_auc_score(y_test, probabilities[:, 1]))
            else:
                result["roc_auc"] = float(
                    skm.roc_auc_score(y_test, probabilities, multi_class="ovr", average="macro", labels=classes)
                )
                result["roc_auc_kind"] = "one-vs-rest, macro average"
        else:
            result["roc_auc"] = None
            result["roc_auc_note"] = "not defined: some classes are absent from the held-out split"
        scoring = "accuracy"
    columns = [str(c) for c in x_test.columns]
    result["feature_importance"] = _feature_importance(getattr(pipeline, "estimator_", pipeline), columns)
    permutation = permutation_importance(
        pipeline, x_test, y_test, n_repeats=repeats, random_state=seed, scoring=scoring, n_jobs=1
    )
    result["permutation_importance"] = {
        "scoring": scoring,
        "repeats": repeats,
        "mean": {column: float(m) for column, m in zip(columns, permutation.importances_mean)},
        "std": {column: float(s) for column, s in zip(columns, permutation.importances_std)},
    }
    return result


def unconstrained_reference(
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    task: str,
) -> dict[str, Any] | None:
    """For a size-limited forest: the same Pipeline grown fully on the same split, and the difference.

    Shrinking a forest is a fair way to fit a device only while quality holds; this records the
    evidence (accuracy and macro F1, or R2, in percentage points) with every such export.
    """
    name = pipeline.steps[-1][0]
    params = pipeline.steps[-1][1].get_params()
    if not any(key in params for key in SIZE_LIMITS) or not hasattr(pipeline.steps[-1][1], "estimators_"):
        return None
    limits = {key: params[key] for key, free in SIZE_LIMITS.items() if key in params and params[key] != free}
    if not limits:
        return None
    twin = clone(pipeline).set_params(**{f"{name}__{key}": free for key, free in SIZE_LIMITS.items() if key in params})
    twin.fit(x_train, y_train)
    if task == "regression":
        scores = {"r2": skm.r2_score}
    else:
        scores = {
            "accuracy": skm.accuracy_score,
            "macro_f1": lambda truth, predicted: skm.f1_score(truth, predicted, average="macro", zero_division=0),
        }
    own = pipeline.predict(x_test)
    free = twin.predict(x_test)
    this_model = {key: float(score(y_test, own)) for key, score in scores.items()}
    unconstrained = {key: float(score(y_test, free)) for key, score in scores.items()}
    difference = {key: 100.0 * (this_model[key] - unconstrained[key]) for key in scores}
    return {
        "limits": limits,
        "this_model": this_model,
        "unconstrained": unconstrained,
        "difference_pp": difference,
        "bound_pp": QUALITY_BOUND_PP,
        "within_bound": all(value >= -QUALITY_BOUND_PP for value in difference.values()),
    }
