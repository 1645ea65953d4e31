"""Held-out metrics, feature importance and permutation importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

__all__ = ["evaluate"]


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
    result["feature_importance"] = _feature_importance(pipeline, columns)
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
