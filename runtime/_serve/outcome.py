"""``Outcome``: the predictions for the rows of one request, as plain lists.

The one shape both codecs encode (:mod:`.protocol_v1`, :mod:`.protocol_v2`) and the prediction log
stores, whichever of :meth:`Model.predict` or :meth:`Model.predict_batch` made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._manifest import Label
from .._model import BatchPrediction, Prediction

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """Predictions for the rows of one request, as plain lists (ready for JSON and for the log).

    ``labels`` and ``probabilities`` (columns in ``classes`` order) for classifiers, ``values`` for
    regressors; ``flags`` maps a row to what was accepted but unusual in it.
    """

    model: str
    version: str
    classes: tuple[Label, ...] | None
    labels: list[Any] | None = None
    probabilities: list[list[float]] | None = None
    values: list[float] | None = None
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.labels) if self.labels is not None else len(self.values or ())

    @classmethod
    def of_prediction(cls, prediction: Prediction, classes: tuple[Label, ...] | None) -> Outcome:
        """The outcome of one record predicted on the single-record path."""
        flags = {0: prediction.flags} if prediction.flags else {}
        if prediction.probabilities is not None:
            return cls(
                prediction.model,
                prediction.version,
                classes,
                labels=[prediction.label],
                probabilities=[list(prediction.probabilities.values())],
                flags=flags,
            )
        assert prediction.value is not None
        return cls(prediction.model, prediction.version, None, values=[prediction.value], flags=flags)

    @classmethod
    def of_batch(cls, batch: BatchPrediction) -> Outcome:
        """The outcome of a batch (every row predicted: the server never skips rows)."""
        flags = {int(row): tuple(reasons) for row, reasons in batch.flags.items()}
        if batch.labels is not None and batch.probabilities is not None:
            return cls(
                batch.model,
                batch.version,
                batch.classes,
                labels=batch.labels.tolist(),
                probabilities=batch.probabilities.tolist(),
                flags=flags,
            )
        assert batch.values is not None
        return cls(batch.model, batch.version, None, values=batch.values.tolist(), flags=flags)
