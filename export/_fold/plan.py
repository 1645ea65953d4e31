"""Which steps of a fitted Pipeline fold into the trees, and where every model input comes from.

Folding is exact only for per-column monotone steps whose output the trees compare with a
threshold: on numbers a ``SimpleImputer`` (its fill value decides where a missing value goes) and
one ``StandardScaler`` (its map decides where the threshold lands on the raw column); on
categories an imputer and a ``OneHotEncoder`` (each output is an indicator of one category) or an
``OrdinalEncoder`` (its output is the category's code, a small integer the runtime writes as it is).

A number branch of the ColumnTransformer that does not fold (PCA, polynomial features, a second
scaler) keeps its nodes: the device graph runs that branch as the public graph does, on the raw
numbers of its columns, and the trees split on its outputs with their own thresholds. What cannot
be kept that way (a category branch that does not fold, passthrough columns, a step after the
ColumnTransformer, a non-tree estimator) means no device graph: the plan lists why, and the export
says so and ships ``model.onnx`` alone.

:func:`plan_fold` maps every model input (the estimator's input column) to its source: a
:class:`NumberSource` (a raw number column and the map from its raw values to what the trees
compare), an :class:`IndicatorSource` (one category of a category column), a :class:`CodeSource`
(the ordinal code of a category column) or a :class:`KeptSource` (one output of a :class:`KeptBranch`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from runtime._contract import MISSING_CATEGORY

from .. import _trees
from .._config import TableSpec

__all__ = ["CodeSource", "FoldPlan", "IndicatorSource", "KeptBranch", "KeptSource", "NumberSource", "plan_fold"]


@dataclass(frozen=True)
class NumberSource:
    """A model input computed from one number column.

    ``compared`` maps raw float64 values to the float64 values the trees compare with their
    thresholds (scaler, then the float32 cast of scikit-learn's trees). ``fill`` is the imputer's
    value for a missing number. ``mean`` and ``scale`` are the scaler's, for the naive fold only.
    """

    column: str
    compared: Callable[[np.ndarray], np.ndarray]
    fill: float
    mean: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class IndicatorSource:
    """A one-hot output: 1.0 where ``column`` is ``category`` (after imputing ``missing_as``)."""

    column: str
    category: str
    missing_as: str | None


@dataclass(frozen=True)
class CodeSource:
    """An ordinal code: ``codes[category]`` where ``column`` is that category (after imputing
    ``missing_as``), ``unknown`` for any other value. Codes are small integers, exact in float32,
    so a split ``code <= t`` keeps its threshold."""

    column: str
    codes: dict[str, float]
    unknown: float
    missing_as: str | None


@dataclass(frozen=True)
class KeptBranch:
    """A number branch that keeps its nodes: its fitted transformer, input columns and output width."""

    name: str
    transformer: Any
    columns: tuple[str, ...]
    width: int
    steps: tuple[str, ...]


@dataclass(frozen=True)
class KeptSource:
    """Output ``output`` of the kept branch ``branch`` (an index into :attr:`FoldPlan.kept`)."""

    branch: int
    output: int


@dataclass
class FoldPlan:
    """The source of each model input (None where it cannot be used), the branches kept as nodes,
    and the steps folded, kept or in the way."""

    sources: list[NumberSource | IndicatorSource | CodeSource | KeptSource | None] = field(default_factory=list)
    kept: list[KeptBranch] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    not_folded: list[str] = field(default_factory=list)

    @property
    def kept_steps(self) -> list[str]:
        return [step for branch in self.kept for step in branch.steps]

    @property
    def complete(self) -> bool:
        return not self.not_folded and all(source is not None for source in self.sources)


def _steps(transformer: Any) -> list[tuple[str, Any]]:
    if isinstance(transformer, Pipeline):
        return list(transformer.steps)
    return [(type(transformer).__name__, transformer)]


def _scaler_map(scaler: StandardScaler | None, index: int, width: int, float32: bool) -> Callable[..., np.ndarray]:
    """raw values -> what the trees compare, by the fitted scaler's own ``transform``."""

    def compared(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            if scaler is None:
                out = values
            else:
                matrix = np.zeros((len(values), width))
                matrix[:, index] = values
                out = np.asarray(scaler.transform(matrix), dtype=np.float64)[:, index]
            return out.astype(np.float32).astype(np.float64) if float32 else out.copy()

    return compared


def _number_sources(name: str, transformer: Any, columns: list[str], float32: bool, plan: FoldPlan) -> list[Any]:
    steps = _steps(transformer)
    imputer = steps[0][1] if steps and isinstance(steps[0][1], SimpleImputer) else None
    rest = steps[1:] if imputer is not None else steps
    scaler = rest[0][1] if len(rest) == 1 and isinstance(rest[0][1], StandardScaler) else None
    problem = None
    if imputer is None:
        problem = "numbers without a SimpleImputer (where a missing value goes is not known)"
    elif imputer.add_indicator or not np.isfinite(imputer.statistics_).all():
        problem = "an imputer with indicators or all-missing columns"
    elif rest and scaler is None:
        problem = f"steps {[type(step).__name__ for _, step in rest]} (only one StandardScaler folds)"
    if problem is not None:
        return _kept_sources(name, transformer, columns, problem, plan)
    plan.folded += [f"{name}/{step_name}" for step_name, _ in steps]
    assert imputer is not None
    mean = scaler.mean_ if scaler is not None and scaler.mean_ is not None else np.zeros(len(columns))
    scale = scaler.scale_ if scaler is not None and scaler.scale_ is not None else np.ones(len(columns))
    return [
        NumberSource(
            column,
            _scaler_map(scaler, index, len(columns), float32),
            float(imputer.statistics_[index]),
            float(mean[index]),
            float(scale[index]),
        )
        for index, column in enumerate(columns)
    ]


def _kept_sources(name: str, transformer: Any, columns: list[str], problem: str, plan: FoldPlan) -> list[Any]:
    """The branch keeps its nodes: one source per output, or ``problem`` when its width is unknown."""
    try:
        width = len(transformer.get_feature_names_out(columns))
    except Exception:  # a step without get_feature_names_out: its output width cannot be read
        plan.not_folded.append(f"{name}: {problem}, and its output width cannot be read to keep its nodes")
        return [None] * len(columns)
    plan.kept.append(
        KeptBranch(name, transformer, tuple(columns), width, tuple(f"{name}/{step}" for step, _ in _steps(transformer)))
    )
    return [KeptSource(len(plan.kept) - 1, output) for output in range(width)]


def _encoder_problem(encoder: Any) -> str | None:
    """Why a fitted category encoder does not fold, or None."""
    if isinstance(encoder, OneHotEncoder):
        if (
            encoder.drop is not None
            or encoder.handle_unknown != "ignore"
            or (encoder.max_categories, encoder.min_frequency) != (None, None)
        ):
            return "a OneHotEncoder that drops, refuses unknown or groups infrequent categories"
        return None
    unknown = encoder.unknown_value
    if (
        encoder.handle_unknown != "use_encoded_value"
        or not isinstance(unknown, (int, float, np.integer, np.floating))
        or not np.isfinite(unknown)
        or (encoder.max_categories, encoder.min_frequency) != (None, None)
    ):
        return "an OrdinalEncoder that refuses unknown categories, codes them as NaN or groups infrequent ones"
    return None


def _category_sources(name: str, transformer: Any, columns: list[str], plan: FoldPlan) -> list[Any]:
    steps = _steps(transformer)
    imputer = steps[0][1] if len(steps) == 2 and isinstance(steps[0][1], SimpleImputer) else None
    encoder = steps[-1][1]
    ordinal = isinstance(encoder, OrdinalEncoder)
    problem = None
    if (
        not isinstance(encoder, (OneHotEncoder, OrdinalEncoder))
        or (len(steps) == 2 and imputer is None)
        or len(steps) > 2
    ):
        problem = (
            f"steps {[type(step).__name__ for _, step in steps]} "
            "(only an imputer and a OneHotEncoder or OrdinalEncoder fold)"
        )
    elif imputer is not None and (imputer.missing_values != MISSING_CATEGORY or imputer.add_indicator):
        problem = f"an imputer of missing values {imputer.missing_values!r}"
    else:
        problem = _encoder_problem(encoder)
    if problem is not None:
        plan.not_folded.append(f"{name}: {problem}")
        categories_ = getattr(encoder, "categories_", [[None]] * len(columns))
        return [None] * (len(columns) if ordinal else sum(len(categories) for categories in categories_))
    plan.folded += [f"{name}/{step_name}" for step_name, _ in steps]
    sources: list[Any] = []
    for index, column in enumerate(columns):
        missing_as = str(imputer.statistics_[index]) if imputer is not None else None
        categories = [str(category) for category in encoder.categories_[index]]
        if ordinal:
            codes = {category: float(code) for code, category in enumerate(categories)}
            sources.append(CodeSource(column, codes, float(encoder.unknown_value), missing_as))
        else:
            sources += [IndicatorSource(column, category, missing_as) for category in categories]
    return sources


def plan_fold(pipeline: Pipeline, spec: TableSpec) -> FoldPlan:
    """Where each model input of a fitted ``Pipeline([("preprocess", ColumnTransformer), ("model", trees)])``
    comes from, and the steps that fold or do not."""
    plan = FoldPlan()
    estimator = pipeline.steps[-1][1]
    if not _trees.supports(estimator):
        plan.not_folded.append(f"{pipeline.steps[-1][0]}: {type(estimator).__name__} is not a tree ensemble")
        return plan
    if len(pipeline.steps) != 2 or not isinstance(pipeline.steps[0][1], ColumnTransformer):
        plan.not_folded.append("preprocessing: only one ColumnTransformer before the trees folds")
        return plan
    float32 = type(estimator).__name__ in _trees.FLOAT32_INPUT
    transformer_ = pipeline.steps[0][1]
    for name, transformer, columns in transformer_.transformers_:
        if transformer == "drop" or name == "remainder" and not len(columns):
            continue
        columns = list(columns)
        if transformer == "passthrough" or not hasattr(transformer, "transform"):
            plan.not_folded.append(f"{name}: {transformer!r} columns")
            plan.sources += [None] * len(columns)
        elif all(column in spec.numeric for column in columns):
            plan.sources += _number_sources(name, transformer, columns, float32, plan)
        elif all(column in spec.categorical for column in columns):
            plan.sources += _category_sources(name, transformer, columns, plan)
        else:
            plan.not_folded.append(f"{name}: mixes number and category columns")
            plan.sources.append(None)
    return plan
