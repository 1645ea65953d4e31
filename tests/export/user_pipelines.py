"""Pipelines a user might pass with --pipeline module:function (used by the export tests)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["temperature", "pressure", "speed", "humidity", "vibration"]
CATEGORICAL = ["machine_type", "shift"]


def extra_trees() -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), NUMERIC),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(missing_values="", strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                CATEGORICAL,
            ),
        ]
    )
    return Pipeline(
        [("preprocess", preprocess), ("model", ExtraTreesClassifier(n_estimators=20, max_depth=8, random_state=0))]
    )


def forest_on_principal_components() -> Pipeline:
    """The numbers mixed by PCA (no split maps back to one column), the categories one-hot encoded."""
    pipeline = extra_trees()
    numbers = pipeline.steps[0][1].transformers[0][1]
    numbers.steps.append(("pca", PCA(4, random_state=0)))
    pipeline.steps[-1] = ("model", RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0))
    return pipeline


class ClipOutliers(BaseEstimator, TransformerMixin):
    """A home-made step with no ONNX converter."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.clip(X, -3, 3)


def with_unconvertible_step() -> Pipeline:
    pipeline = extra_trees()
    pipeline.steps.insert(1, ("clip", ClipOutliers()))
    return pipeline
