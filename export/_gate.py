"""The quality gate: an export must beat a model that knows nothing, by a documented margin.

Every export is compared with scikit-learn's baseline on the same held-out split:
``DummyClassifier(strategy="prior")`` (always the most frequent class; the class shares as
probabilities) or ``DummyRegressor(strategy="mean")`` (always the training mean). The model must
reach at least

- for a classifier: **balanced accuracy and macro F1 each 0.10 above the baseline's** (the baseline's
  balanced accuracy is 1 / number of classes, its macro F1 about 0.49 with 3 % positives: a model
  that never catches the rare class fails both);
- for a regressor: **R² 0.10 above the baseline's** (which is about 0).

Measured: the demo data passes by 0.36 (balanced accuracy 0.858), ai4i2020's ``Machine failure``
with the README's drops by 0.23 (balanced accuracy 0.727), its ``Torque [Nm]`` by 0.84 (R² 0.837).
Coin flips stay within about 0.05 of the baseline's balanced accuracy (0.5) and random numbers
within 0.05 of its R², so both fail (macro F1 alone would not catch balanced coin flips: the
baseline never predicts one class, which leaves it at 0.34).

A model that misses a margin is not exported (:class:`WeakModelError`, exit code 11): nothing is
written and ``CURRENT`` does not move, unless ``--allow-weak``, which exports it with the failed gate
in the manifest (``metrics.quality_gate``) and an unticked checklist item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.dummy import DummyClassifier, DummyRegressor

from ._config import PreparedData
from ._errors import WeakModelError
from ._format import gate_sentence

__all__ = ["CLASSIFIER_MARGINS", "REGRESSOR_MARGINS", "baseline_scores", "quality_gate"]

CLASSIFIER_MARGINS: dict[str, float] = {"balanced_accuracy": 0.10, "macro_f1": 0.10}
REGRESSOR_MARGINS: dict[str, float] = {"r2": 0.10}
# the margins are compared after rounding noise: 0.1 + 0.2 must pass a margin of 0.3
_SLACK = 1e-12


def baseline_scores(data: PreparedData) -> tuple[str, dict[str, float]]:
    """The baseline's name and its scores on the held-out split, fitted on the training split."""
    if data.task == "regression":
        regressor = DummyRegressor(strategy="mean").fit(data.x_train, data.y_train)
        r2 = float(skm.r2_score(data.y_test, regressor.predict(data.x_test)))
        return 'DummyRegressor(strategy="mean")', {"r2": r2}
    classifier = DummyClassifier(strategy="prior").fit(data.x_train, data.y_train)
    predicted = classifier.predict(data.x_test)
    labels = list(classifier.classes_)
    return 'DummyClassifier(strategy="prior")', {
        "balanced_accuracy": float(skm.balanced_accuracy_score(data.y_test, predicted)),
        "macro_f1": float(np.mean(skm.f1_score(data.y_test, predicted, labels=labels, average=None, zero_division=0))),
    }


def quality_gate(
    data: PreparedData,
    metrics: dict[str, Any],
    *,
    allow_weak: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Judge ``metrics`` (the model's, on ``data``'s held-out split) against the baseline.

    Returns the record for the manifest's ``metrics.quality_gate``; raises :class:`WeakModelError`
    when a margin is missed and ``allow_weak`` is false.
    """
    baseline, scores = baseline_scores(data)
    margins = REGRESSOR_MARGINS if data.task == "regression" else CLASSIFIER_MARGINS
    checks = [
        {
            "metric": metric,
            "model": float(metrics[metric]),
            "baseline": scores[metric],
            "margin": margin,
            "passed": bool(metrics[metric] - scores[metric] >= margin - _SLACK),
        }
        for metric, margin in margins.items()
    ]
    passed = all(check["passed"] for check in checks)
    record = {"passed": passed, "overridden": not passed and allow_weak, "baseline": baseline, "checks": checks}
    progress(f"quality gate {gate_sentence(record)}")
    if not passed and not allow_weak:
        raise WeakModelError(record)
    return record
