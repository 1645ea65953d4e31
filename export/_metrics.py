"""Held-out metrics that tell the truth about rare classes, feature and permutation importance.

Accuracy alone flatters a model of a rare class: with 3.4 % failures, "never fails" scores 0.966.
So a classifier is measured per class (precision, recall, F1, support), by balanced accuracy, by
PR AUC (average precision, whose chance level is the class's share) and ROC AUC, and its
confusion matrix is also written in words ("catches 31 of 68 ..."). A regressor gets MAE and
RMSE in the target's unit and R². Everything goes into the manifest's ``metrics`` section as
plain JSON values; the held-out predictions themselves (:class:`HeldOut`) feed the report's
charts and never enter the bundle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import label_binarize

from ._config import HeldOut, PreparedData
from ._errors import ExportError
from ._format import confusion_sentences

__all__ = [
    "NEGATIVE_LABELS",
    "evaluate",
    "measure_quality",
    "positive_class",
    "predict_held_out",
    "target_unit",
    "unconstrained_reference",
]

# Size limits of tree models and their "grow fully" values.
SIZE_LIMITS: dict[str, Any] = {"max_depth": None, "max_leaf_nodes": None, "min_samples_leaf": 1}
QUALITY_BOUND_PP = 0.5
# Labels that read as "nothing happened": in a binary task the other class is the one to catch.
NEGATIVE_LABELS = frozenset({"0", "false", "no", "n", "ok", "good", "pass", "passed", "normal", "none", "negative"})
_UNIT_IN_NAME = re.compile(r"\[([^\[\]]{1,20})\]\s*\Z")


def _key(label: Any) -> str:
    return str(label.item() if isinstance(label, np.generic) else label)


def positive_class(classes: Any) -> Any:
    """The class a binary model is there to catch: the one of two that does not read as "nothing
    happened" (0, False, "ok", "good", ...), else the second, as scikit-learn's ``pos_label`` is.

    >>> positive_class([0, 1]), positive_class(["fail", "ok"]), positive_class(["A", "B"])
    (1, 'fail', 'B')
    """
    first, second = classes[0], classes[1]
    if _key(first).strip().lower() not in NEGATIVE_LABELS and _key(second).strip().lower() in NEGATIVE_LABELS:
        return first
    return second


def target_unit(target: str, schema: Mapping[str, Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """``(unit, where it came from)`` of a regression target: the schema file's ``unit``, else the
    brackets closing the column name, else ``(None, None)``.

    >>> target_unit("Torque [Nm]", {}), target_unit("torque", {"torque": {"unit": "Nm"}})
    (('Nm', 'the column name'), ('Nm', 'the schema file'))
    """
    declared = schema.get(target, {}).get("unit")
    if declared is not None and not (isinstance(declared, str) and declared.strip()):
        raise ExportError(f'schema file: {target!r} unit == {declared!r}, must be a non-empty string such as "Nm"')
    if declared is not None:
        return declared.strip(), "the schema file"
    match = _UNIT_IN_NAME.search(target)
    return (match.group(1).strip(), "the column name") if match else (None, None)


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


def predict_held_out(model: Any, data: PreparedData) -> HeldOut:
    """``model``'s labels (or values) and probabilities on the held-out split: the fitted Pipeline, or
    the decision threshold's classifier around it (export._threshold), whose labels the device gives."""
    predicted = np.asarray(model.predict(data.x_test))
    if data.task == "regression":
        return HeldOut(truth=np.asarray(data.y_test), predicted=predicted)
    classes = tuple(model.classes_)
    return HeldOut(np.asarray(data.y_test), predicted, np.asarray(model.predict_proba(data.x_test)), classes)


def measure_quality(
    pipeline: Pipeline,
    data: PreparedData,
    held_out: HeldOut,
    *,
    seed: int,
    schema: Mapping[str, Mapping[str, Any]] | None = None,
    classifier: Any = None,
    positive: Any = None,
) -> dict[str, Any]:
    """The manifest's ``metrics``: held-out metrics and importances, and for a size-limited forest
    its quality against the same forest grown fully (``versus_unconstrained``).

    ``classifier`` labels instead of ``pipeline`` where it is given: the decision threshold's
    classifier around it, so the metrics are those of the labels the device gives; ``positive`` is
    then the decision's positive class (else :func:`positive_class` picks it).
    """
    model = classifier if classifier is not None else pipeline
    metrics = evaluate(model, data.x_test, held_out, task=data.task, seed=seed, positive=positive)
    if data.task == "regression":
        unit, source = target_unit(data.spec.target, schema or {})
        metrics.update(target_unit=unit, target_unit_source=source)
    metrics["in_words"] = confusion_sentences(metrics, data.spec.target)
    size_check = unconstrained_reference(pipeline, data.x_train, data.y_train, data.x_test, data.y_test, task=data.task)
    if size_check is not None:
        metrics["versus_unconstrained"] = size_check
    return metrics


def evaluate(
    model: Any,
    x_test: pd.DataFrame,
    held_out: HeldOut,
    *,
    task: str,
    seed: int,
    repeats: int = 5,
    positive: Any = None,
) -> dict[str, Any]:
    """Metrics on the held-out split, ready for the manifest (plain JSON types); ``model`` is the
    fitted Pipeline or the threshold classifier around it."""
    result: dict[str, Any] = {"held_out_rows": int(len(held_out.truth))}
    if task == "regression":
        result.update(regression_scores(held_out.truth, held_out.predicted))
        scoring = "r2"
    else:
        result.update(classification_scores(held_out, positive))
        scoring = "balanced_accuracy"
    columns = [str(c) for c in x_test.columns]
    result["feature_importance"] = _feature_importance(getattr(model, "estimator_", model), columns)
    permutation = permutation_importance(
        model, x_test, held_out.truth, n_repeats=repeats, random_state=seed, scoring=scoring, n_jobs=1
    )
    result["permutation_importance"] = {
        "scoring": scoring,
        "repeats": repeats,
        "mean": {column: float(m) for column, m in zip(columns, permutation.importances_mean)},
        "std": {column: float(s) for column, s in zip(columns, permutation.importances_std)},
    }
    return result


def regression_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE (in the target's unit) and R² of ``predicted`` against ``truth``."""
    return {
        "mae": float(skm.mean_absolute_error(truth, predicted)),
        "rmse": float(np.sqrt(skm.mean_squared_error(truth, predicted))),
        "r2": float(skm.r2_score(truth, predicted)),
    }


def classification_scores(held_out: HeldOut, positive: Any = None) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro F1, per-class scores, confusion matrix, ROC and PR AUC."""
    truth, predicted, classes = held_out.truth, held_out.predicted, list(held_out.classes or ())
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        truth, predicted, labels=classes, zero_division=0
    )
    result: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(truth, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(truth, predicted)),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            _key(label): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "confusion_matrix": {
            "labels": [_key(label) for label in classes],
            "matrix": skm.confusion_matrix(truth, predicted, labels=classes).tolist(),
            "rows": "true class",
            "columns": "predicted class",
        },
        "class_balance_test": {_key(label): int(count) for label, count in zip(classes, support)},
    }
    if len(classes) == 2:
        positive = positive_class(classes) if positive is None else positive
        result["positive_class"] = _key(positive)
    result.update(_ranking_scores(held_out, positive))
    return result


def _ranking_scores(held_out: HeldOut, positive_label: Any) -> dict[str, Any]:
    """ROC AUC and PR AUC from the probabilities: binary for the positive class, else one-vs-rest."""
    truth, classes, probabilities = held_out.truth, list(held_out.classes or ()), held_out.probabilities
    if probabilities is None or not np.isin(classes, np.unique(truth)).all():
        note = "not defined: some classes are absent from the held-out split"
        return {"roc_auc": None, "roc_auc_note": note, "pr_auc": None, "pr_auc_note": note}
    if len(classes) == 2:
        positive = classes.index(positive_label)
        caught = truth == classes[positive]
        return {
            "roc_auc": float(skm.roc_auc_score(caught, probabilities[:, positive])),
            "pr_auc": float(skm.average_precision_score(caught, probabilities[:, positive])),
            "pr_auc_kind": f"average precision of class {_key(classes[positive])}",
            "pr_auc_chance": float(caught.mean()),
        }
    indicator = label_binarize(truth, classes=classes)
    per_class = skm.average_precision_score(indicator, probabilities, average=None)
    return {
        "roc_auc": float(skm.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro", labels=classes)),
        "roc_auc_kind": "one-vs-rest, macro average",
        "pr_auc": float(np.mean(per_class)),
        "pr_auc_kind": "average precision, one-vs-rest, macro average",
        "pr_auc_per_class": {_key(label): float(value) for label, value in zip(classes, per_class)},
    }


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
