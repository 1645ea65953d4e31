"""Splits on one-hot outputs, folded into splits on indicator columns of the packed input.

A one-hot output is 0 or 1, and a tree compares it (as float32, exact for both) with a threshold:
it goes left where the indicator is 0 and right where it is 1 when ``0 <= t < 1``, and one way for
both otherwise. The packed input holds the same indicator (1.0 where the column has that category,
with a missing value counted as the category its imputer fills in), so each split becomes
``indicator <= 0.5`` with the same branches, in the same ``BRANCH_LEQ`` mode as every other node
(mixing in ``BRANCH_EQ`` loses onnxruntime's same-mode fast path); a split that sends both values
one way becomes ``indicator <= +inf`` (always left) or ``<= -inf`` (always right).
"""

from __future__ import annotations

import numpy as np

__all__ = ["indicator_splits"]


def indicator_splits(thresholds: np.ndarray) -> np.ndarray:
    """The threshold on the indicator column for each split ``one_hot <= t``."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    zero_left = 0.0 <= thresholds
    one_left = 1.0 <= thresholds
    return np.where(zero_left & ~one_left, 0.5, np.where(zero_left, np.inf, -np.inf))
