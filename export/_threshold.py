"""The decision threshold of a binary classifier: ``--threshold auto`` or ``--threshold P``.

A forest trained on 3 % failures rarely gives a failure more than half the trees' votes, so the
default rule (the most probable class) misses most of them. scikit-learn's answer is to move the
threshold on the positive class's probability, and this module uses its two estimators for it:

- ``--threshold auto``: :class:`~sklearn.model_selection.TunedThresholdClassifierCV` picks the
  threshold that maximises ``--objective`` over ``THRESHOLD_FOLDS``-fold cross-validation on the
  training split (the held-out split is never used to choose), then refits on the whole split.
- ``--threshold 0.3``: :class:`~sklearn.model_selection.FixedThresholdClassifier` with that value.

Objectives (``--objective``, default ``f1``): ``f1`` and ``balanced_accuracy`` as scikit-learn
defines them; ``recall_at_precision=P`` the highest recall whose precision is at least P;
``cost=FN:FP`` the lowest total cost when a missed positive costs FN and a false alarm FP. The last
two are scikit-learn scorers made with :func:`~sklearn.metrics.make_scorer`, as its user guide
on tuning the decision threshold does.

What the export converts to ONNX is the inner fitted Pipeline (``estimator_``): its probabilities
are unchanged, and the threshold goes into the manifest's ``decision`` (:class:`runtime.Decision`),
whose rule the runtime applies to onnxruntime's probabilities. The positive class is the second of
the two classes in scikit-learn's order (``1`` of ``0, 1``), as in scikit-learn.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score, f1_score, make_scorer, precision_score, recall_score
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline

import runtime

from ._config import ExportConfig
from ._errors import ExportError

__all__ = [
    "DEFAULT_OBJECTIVE",
    "OBJECTIVES",
    "THRESHOLD_FOLDS",
    "ThresholdRequest",
    "Thresholded",
    "fit_threshold",
    "held_out_comparison",
    "negative_cost",
    "plain_label",
    "recall_at_precision",
    "threshold_request",
]

OBJECTIVES = ("f1", "balanced_accuracy", "recall_at_precision=P", "cost=FN:FP")
DEFAULT_OBJECTIVE = "f1"
THRESHOLD_FOLDS = 5  # scikit-learn's default; with 3 % positives each fold still holds ~50 of them
THRESHOLD_CANDIDATES = 200  # thresholds tried, evenly spaced between the lowest and highest probability
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclasses.dataclass(frozen=True)
class ThresholdRequest:
    """What the command line asked for: a fixed threshold, or one tuned for an objective."""

    fixed: float | None = None
    objective: str = DEFAULT_OBJECTIVE
    min_precision: float | None = None  # recall_at_precision=P
    costs: tuple[float, float] | None = None  # cost=FN:FP

    @property
    def tuned(self) -> bool:
        return self.fixed is None


@dataclasses.dataclass
class Thresholded:
    """A fitted threshold classifier, the Pipeline inside it, its decision, and what was found."""

    classifier: FixedThresholdClassifier | TunedThresholdClassifierCV
    decision: runtime.Decision
    record: dict[str, Any]

    @property
    def pipeline(self) -> Pipeline:
        """The inner fitted Pipeline: what the ONNX graph computes (probabilities only)."""
        inner: Pipeline = self.classifier.estimator_
        return inner


def threshold_request(config: ExportConfig) -> ThresholdRequest | None:
    """``--threshold`` and ``--objective`` checked and parsed; None without ``--threshold``."""
    if config.threshold is None:
        if config.objective is not None:
            raise ExportError("--objective chooses what --threshold auto tunes for: add --threshold auto")
        return None
    text = str(config.threshold).strip()
    if text == "auto":
        return _objective(config.objective or DEFAULT_OBJECTIVE)
    if config.objective is not None:
        raise ExportError(
            f"--objective {config.objective} tunes the threshold, but --threshold {text} fixes it: "
            "pass one or the other"
        )
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ExportError(f"--threshold {text!r}: expected 'auto' or a probability strictly between 0 and 1 (e.g. 0.3)")
    return ThresholdRequest(fixed=value, objective="fixed")


def _objective(text: str) -> ThresholdRequest:
    if text in ("f1", "balanced_accuracy"):
        return ThresholdRequest(objective=text)
    if match := re.fullmatch(rf"recall_at_precision={_NUMBER}", text):
        precision = float(match[1])
        if 0.0 < precision <= 1.0:
            return ThresholdRequest(objective=f"recall_at_precision={precision:g}", min_precision=precision)
    if match := re.fullmatch(rf"cost={_NUMBER}:{_NUMBER}", text):
        fn_cost, fp_cost = float(match[1]), float(match[2])
        if fn_cost > 0 and fp_cost > 0 and math.isfinite(fn_cost) and math.isfinite(fp_cost):
            return ThresholdRequest(objective=f"cost={fn_cost:g}:{fp_cost:g}", costs=(fn_cost, fp_cost))
    raise ExportError(
        f"--objective {text!r}: expected one of {', '.join(OBJECTIVES)} "
        "(P a precision in (0, 1], FN and FP positive costs of a missed positive and of a false alarm)"
    )


# -- the scorers of the two custom objectives (module level: the joblib twin pickles them) ----------


def recall_at_precision(y_true: np.ndarray, y_pred: np.ndarray, *, pos_label: Any, min_precision: float) -> float:
    """Recall of ``pos_label`` where precision reaches ``min_precision``; below it, ``precision - 1``.

    Every threshold meeting the constraint scores in [0, 1] and every other one below 0, rising as
    precision approaches the constraint, so the maximum is the best recall that keeps the precision.
    """
    precision = precision_score(y_true, y_pred, pos_label=pos_label, zero_division=0)
    if precision >= min_precision:
        return float(recall_score(y_true, y_pred, pos_label=pos_label, zero_division=0))
    return float(precision) - 1.0


def negative_cost(y_true: np.ndarray, y_pred: np.ndarray, *, pos_label: Any, fn_cost: float, fp_cost: float) -> float:
    """Minus the mean cost per row: ``fn_cost`` per missed positive, ``fp_cost`` per false alarm."""
    truth, predicted = np.asarray(y_true) == pos_label, np.asarray(y_pred) == pos_label
    missed, false_alarms = int((truth & ~predicted).sum()), int((~truth & predicted).sum())
    return -(missed * fn_cost + false_alarms * fp_cost) / max(1, len(truth))


def objective_scorer(request: ThresholdRequest, positive: Any) -> Callable[..., float]:
    """The scikit-learn scorer ``TunedThresholdClassifierCV`` maximises for ``request``."""
    if request.min_precision is not None:
        return make_scorer(recall_at_precision, pos_label=positive, min_precision=request.min_precision)  # type: ignore[no-any-return]
    if request.costs is not None:
        fn_cost, fp_cost = request.costs
        return make_scorer(negative_cost, pos_label=positive, fn_cost=fn_cost, fp_cost=fp_cost)  # type: ignore[no-any-return]
    if request.objective == "balanced_accuracy":
        return make_scorer(balanced_accuracy_score)  # type: ignore[no-any-return]
    return make_scorer(f1_score, pos_label=positive, zero_division=0)  # type: ignore[no-any-return]


# -- fitting -------------------------------------------------------------------------------------------


def fit_threshold(
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    request: ThresholdRequest,
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> Thresholded:
    """Fit ``pipeline`` (cloned, so fitted or not) inside scikit-learn's threshold classifier.

    ``y_train`` must hold exactly two classes; the second in sorted order is the positive one.
    """
    positive = plain_label(np.unique(y_train)[1])
    pipeline = clone(pipeline)  # a fitted one (--tune's best) would be pickled twice in the joblib twin
    if request.fixed is not None:
        progress(f"training: FixedThresholdClassifier, {positive!r} if P({positive!r}) >= {request.fixed:g}")
        fixed = FixedThresholdClassifier(
            pipeline, threshold=request.fixed, pos_label=positive, response_method="predict_proba"
        ).fit(x_train, y_train)
        decision = runtime.Decision(request.fixed, positive, "fixed")
        return Thresholded(fixed, decision, {"source": "fixed", "threshold": request.fixed})
    progress(
        f"tuning the decision threshold: TunedThresholdClassifierCV for {request.objective}, "
        f"{THRESHOLD_FOLDS}-fold CV over {THRESHOLD_CANDIDATES} thresholds, then a refit"
    )
    tuned = TunedThresholdClassifierCV(
        pipeline,
        scoring=objective_scorer(request, positive),
        response_method="predict_proba",
        thresholds=THRESHOLD_CANDIDATES,
        cv=THRESHOLD_FOLDS,
        refit=True,
        n_jobs=1,
    )
    try:
        tuned.fit(x_train, y_train)
    except ValueError as error:  # "the provided estimator makes constant predictions"
        raise ExportError(f"--threshold auto: scikit-learn cannot tune a threshold here: {error}") from None
    threshold, score = float(tuned.best_threshold_), float(tuned.best_score_)
    _check_tuned(threshold, score, request)
    decision = runtime.Decision(threshold, positive, "tuned", request.objective)
    record = {
        "source": "tuned",
        "threshold": threshold,
        "objective": request.objective,
        "cv": THRESHOLD_FOLDS,
        "candidates": THRESHOLD_CANDIDATES,
        "cv_score": score,
    }
    return Thresholded(tuned, decision, record)


def _check_tuned(threshold: float, score: float, request: ThresholdRequest) -> None:
    if request.min_precision is not None and score < 0:
        raise ExportError(
            f"--objective {request.objective}: no threshold reached precision {request.min_precision:g} in "
            f"cross-validation (the best reached {score + 1.0:.3f}); ask for a lower precision"
        )
    if not 0.0 < threshold < 1.0:
        raise ExportError(
            f"--threshold auto --objective {request.objective} chose the threshold {threshold:g}, which "
            "predicts one class for every record; choose another objective or fix the threshold"
        )


def held_out_comparison(
    thresholded: Thresholded, x_test: pd.DataFrame, y_test: np.ndarray, classes: tuple[Any, ...]
) -> dict[str, Any]:
    """The positive class's recall and precision on the held-out split under the default rule (the
    most probable class) and under the threshold: reported, never used to choose anything."""
    positive = thresholded.decision.positive_class
    truth = np.asarray(y_test) == positive
    sides = {}
    for side, predicted in (
        ("default", thresholded.pipeline.predict(x_test)),
        ("threshold", thresholded.classifier.predict(x_test)),
    ):
        said = np.asarray(predicted) == positive
        caught, alarms = int((truth & said).sum()), int(said.sum())
        sides[side] = {
            "recall": caught / int(truth.sum()) if truth.any() else None,
            "precision": caught / alarms if alarms else None,
            "caught": caught,
            "false_alarms": alarms - caught,
        }
    return {
        "positive_class": positive,
        "positives": int(truth.sum()),
        "rule": thresholded.decision.rule(classes),
        **sides,
    }


def plain_label(label: Any) -> Any:
    """A class label as a Python value (``np.int64(1)`` -> ``1``), as the manifest holds it."""
    return label.item() if isinstance(label, np.generic) else label
