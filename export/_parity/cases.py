"""The hard cases of the parity proof, as prepared feature frames scikit-learn and the runtime both take.

Case kinds:

``held-out``        every row of the held-out split.
``threshold``       for every split of every tree: a training row that reaches that node, with the
                    split's column set to raw values whose float32 model input lies 1 ulp below,
                    at, 1 and 2 ulps above the float32 boundary of the threshold, mapped back
                    through the (affine) preprocessing to raw column values.
``missing``         held-out rows with each nullable column missing, then all of them at once.
``unknown-category`` held-out rows with a category never seen in training, per category column.
``range-boundary``  held-out rows with each number column at both ends of its valid range and at
                    the training minimum and maximum.
``recombined``      random recombinations of training values (each column drawn independently).
``near-tie``        of 50,000 more recombinations, up to 500 where scikit-learn's two most probable
                    classes are within 0.02, closest first: where a label flips if anything differs
                    (classifiers).
``decision-threshold`` with a decision threshold (:class:`runtime.Decision`): of the held-out rows and
                    50,000 more recombinations, the 200 whose scikit-learn positive-class probability
                    is closest below the threshold and the 200 closest at or above it; and for up to
                    25 pairs of them (same categories, no missing numbers) the two rows found by
                    bisecting the segment between them to where the probability crosses the
                    threshold: as close to it from both sides as the model's steps allow.

The ``tie`` kind (rows where the two most probable classes are exactly equal) is counted by
:mod:`export._parity.compare` inside every set above.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from runtime._contract import MISSING_CATEGORY

from .._config import TableSpec

__all__ = ["CaseSet", "decision_cases", "generate_cases", "threshold_cases"]

Ranges = Mapping[str, tuple[float, float]]

UNKNOWN_CATEGORY = "__unseen_category__"
THRESHOLD_OFFSETS = (-1, 0, 1, 2)  # float32 ulps from the largest float32 <= threshold
TIE_SEARCH_ROWS = 20_000
NEAR_TIE_POOL = 50_000
NEAR_TIES = 500
NEAR_TIE_GAP = 0.02  # two trees' votes in a 100-tree forest
CASES_PER_VARIANT = 200
BOUNDARY_ROWS = 50
# finding the split thresholds of a big forest takes seconds: say how far it got at least this often
PROGRESS_EVERY_S = 2.0
DECISION_POOL = 50_000
DECISION_NEAREST = 200  # per side of the threshold
DECISION_PAIRS = 25
BISECTION_STEPS = 40  # the segment shrinks to 2**-40 of its length


@dataclass
class CaseSet:
    """One kind of case: the rows, why it may be empty, and kind-specific figures for the report."""

    kind: str
    frame: pd.DataFrame
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def generate_cases(
    pipeline: Pipeline,
    spec: TableSpec,
    x_train: pd.DataFrame,
    x_test: pd.DataFrame,
    *,
    nullable: Mapping[str, bool],
    ranges: Ranges,
    seed: int = 0,
    progress: Callable[[str], None] = lambda message: None,
) -> list[CaseSet]:
    """Every case set of the proof, scikit-learn inputs as prepared frames."""
    rng = np.random.default_rng(seed)
    sample = x_test.iloc[:CASES_PER_VARIANT].reset_index(drop=True)
    sets = [CaseSet("held-out", x_test.reset_index(drop=True))]
    progress("parity: finding every split threshold")
    sets.append(threshold_cases(pipeline, spec, x_train, ranges, progress=progress))
    sets.append(_missing_cases(spec, sample, nullable))
    sets.append(_unknown_category_cases(spec, sample))
    sets.append(_boundary_cases(spec, sample, x_train, ranges))
    # random recombinations of training values: many land where the trees' votes split evenly
    sets.append(CaseSet("recombined", _within_ranges(_recombine(x_train, spec, rng, TIE_SEARCH_ROWS), spec, ranges)))
    if hasattr(pipeline, "predict_proba"):
        sets.append(_near_ties(pipeline, spec, x_train, ranges, rng))
    return sets


def _missing_value(spec: TableSpec, name: str) -> Any:
    return np.nan if name in spec.numeric else MISSING_CATEGORY


def _missing_cases(spec: TableSpec, sample: pd.DataFrame, nullable: Mapping[str, bool]) -> CaseSet:
    """The sample with each nullable column missing in turn, then with all of them missing."""
    frames = []
    nullable_columns = [name for name in spec.features if nullable.get(name)]
    for name in nullable_columns:
        frame = sample.copy()
        frame[name] = _missing_value(spec, name)
        frames.append(frame)
    if nullable_columns:
        frame = sample.copy()
        for name in nullable_columns:
            frame[name] = _missing_value(spec, name)
        frames.append(frame)
    return _stacked("missing", frames, sample, "no column allows missing values")


def _unknown_category_cases(spec: TableSpec, sample: pd.DataFrame) -> CaseSet:
    frames = []
    for name in spec.categorical:
        frame = sample.copy()
        frame[name] = UNKNOWN_CATEGORY
        frames.append(frame)
    return _stacked("unknown-category", frames, sample, "no category columns")


def _boundary_cases(spec: TableSpec, sample: pd.DataFrame, x_train: pd.DataFrame, ranges: Ranges) -> CaseSet:
    """Each number column at its training minimum and maximum and at both ends of its valid range."""
    frames = []
    for name in spec.numeric:
        observed = x_train[name].dropna()
        points = [observed.min(), observed.max()]
        if name in ranges:
            points += list(ranges[name])
        for point in points:
            frame = sample.iloc[:BOUNDARY_ROWS].copy()
            frame[name] = float(point)
            frames.append(frame)
    if not frames:
        return CaseSet("range-boundary", sample.iloc[:0])
    return CaseSet("range-boundary", _within_ranges(pd.concat(frames, ignore_index=True), spec, ranges))


def _recombine(x_train: pd.DataFrame, spec: TableSpec, rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """``rows`` rows whose every column is drawn independently from the training values."""
    return pd.DataFrame({name: x_train[name].to_numpy()[rng.integers(0, len(x_train), rows)] for name in spec.features})


def _near_ties(
    pipeline: Pipeline, spec: TableSpec, x_train: pd.DataFrame, ranges: Ranges, rng: np.random.Generator
) -> CaseSet:
    """The recombined rows whose two most probable classes are closest, by scikit-learn's own numbers."""
    pool = _within_ranges(_recombine(x_train, spec, rng, NEAR_TIE_POOL), spec, ranges)
    ordered = np.sort(np.asarray(pipeline.predict_proba(pool), dtype=np.float64), axis=1)
    gaps = ordered[:, -1] - ordered[:, -2]
    closest = np.argsort(gaps, kind="stable")[:NEAR_TIES]
    closest = closest[gaps[closest] < NEAR_TIE_GAP]
    details = {
        "pool": int(len(pool)),
        "within_gap": NEAR_TIE_GAP,
        "smallest_gap": float(gaps.min()) if len(gaps) else None,
    }
    return CaseSet("near-tie", pool.iloc[closest].reset_index(drop=True), details=details)


def decision_cases(
    classifier: Any,
    spec: TableSpec,
    x_train: pd.DataFrame,
    x_test: pd.DataFrame,
    ranges: Ranges,
    *,
    threshold: float,
    positive_index: int,
    rng: np.random.Generator,
) -> CaseSet:
    """Rows whose positive-class probability is at, just below and just above ``threshold`` (see above)."""
    pool = pd.concat(
        [x_test, _within_ranges(_recombine(x_train, spec, rng, DECISION_POOL), spec, ranges)], ignore_index=True
    )
    positive = np.asarray(classifier.predict_proba(pool), dtype=np.float64)[:, positive_index]
    below, above = np.flatnonzero(positive < threshold), np.flatnonzero(positive >= threshold)
    below = below[np.argsort(threshold - positive[below], kind="stable")[:DECISION_NEAREST]]
    above = above[np.argsort(positive[above] - threshold, kind="stable")[:DECISION_NEAREST]]
    crossings = _bisected(classifier, spec, pool, _pairs(spec, pool, below, above), threshold, positive_index)
    # the closest row on each side first, then the crossings: the golden cases take the first few of a kind
    nearest = pool.iloc[np.concatenate([below[:1], above[:1]])]
    parts = [nearest, crossings, pool.iloc[below[1:]], pool.iloc[above[1:]]]
    frame = _within_ranges(pd.concat(parts, ignore_index=True), spec, ranges)
    found = (
        np.asarray(classifier.predict_proba(frame), dtype=np.float64)[:, positive_index] if len(frame) else np.zeros(0)
    )
    under, over = found[found < threshold], found[found >= threshold]
    details = {
        "threshold": threshold,
        "pool": int(len(pool)),
        "below_threshold": int(len(under)),
        "at_or_above_threshold": int(len(over)),
        "exactly_at_threshold": int((found == threshold).sum()),
        "bisected_pairs": int(len(crossings) // 2),
        "closest_below": float(threshold - under.max()) if len(under) else None,
        "closest_above": float(over.min() - threshold) if len(over) else None,
    }
    note = "" if len(under) and len(over) else "no row of the pool falls on one side of the threshold"
    return CaseSet("decision-threshold", frame, note, details)


def _pairs(spec: TableSpec, pool: pd.DataFrame, below: np.ndarray, above: np.ndarray) -> list[tuple[int, int]]:
    """Up to ``DECISION_PAIRS`` (below, above) rows, nearest first, sharing categories, no number missing."""
    complete = pool[list(spec.numeric)].notna().all(axis=1).to_numpy()
    keys = [tuple(row) for row in pool[list(spec.categorical)].itertuples(index=False, name=None)]
    waiting: dict[tuple[Any, ...], list[int]] = {}
    for index in above.tolist():
        if complete[index]:
            waiting.setdefault(keys[index], []).append(index)
    pairs = []
    for index in below.tolist():
        partners = waiting.get(keys[index]) if complete[index] else None
        if partners:
            pairs.append((index, partners.pop(0)))
            if len(pairs) == DECISION_PAIRS:
                break
    return pairs


def _bisected(
    classifier: Any,
    spec: TableSpec,
    pool: pd.DataFrame,
    pairs: list[tuple[int, int]],
    threshold: float,
    positive_index: int,
) -> pd.DataFrame:
    """For each pair, the last rows below and at or above the threshold on the segment between them,
    ordered below, above, below, above, ...: where the label changes, as scikit-learn computes it."""
    if not pairs or not spec.numeric:
        return pool.iloc[:0]
    numeric = list(spec.numeric)
    start = pool.iloc[[a for a, _ in pairs]].reset_index(drop=True)
    low_end = start[numeric].to_numpy(dtype=np.float64)
    span = pool.iloc[[b for _, b in pairs]][numeric].to_numpy(dtype=np.float64) - low_end
    low, high = np.zeros(len(pairs)), np.ones(len(pairs))

    def at(fractions: np.ndarray) -> pd.DataFrame:
        frame = start.copy()
        frame[numeric] = low_end + fractions[:, None] * span
        return frame

    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        reached = np.asarray(classifier.predict_proba(at(middle)), dtype=np.float64)[:, positive_index] >= threshold
        high = np.where(reached, middle, high)
        low = np.where(reached, low, middle)
    below_rows, above_rows = at(low), at(high)
    order = np.arange(2 * len(pairs)).reshape(2, -1).T.ravel()  # interleave: pair 0 below, pair 0 above, ...
    return pd.concat([below_rows, above_rows], ignore_index=True).iloc[order].reset_index(drop=True)


def _stacked(kind: str, frames: list[pd.DataFrame], sample: pd.DataFrame, empty_note: str) -> CaseSet:
    """One case set from variants of the sample, or an empty one saying why there are none."""
    if not frames:
        return CaseSet(kind, sample.iloc[:0], empty_note)
    return CaseSet(kind, pd.concat(frames, ignore_index=True))


def _in_range_mask(frame: pd.DataFrame, spec: TableSpec, ranges: Ranges) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for name in spec.numeric:
        if name in ranges:
            low, high = ranges[name]
            values = frame[name].to_numpy(dtype=np.float64)
            keep &= np.isnan(values) | ((values >= low) & (values <= high))
    return keep


def _within_ranges(frame: pd.DataFrame, spec: TableSpec, ranges: Ranges) -> pd.DataFrame:
    """Drop rows the runtime would refuse anyway (outside a valid range): they never reach a model."""
    return frame[_in_range_mask(frame, spec, ranges)].reset_index(drop=True)


# -- threshold cases ---------------------------------------------------------------------------------


class _Affine(NamedTuple):
    """A number column that reaches exactly one model input as ``slope * value + intercept``."""

    column: str
    slope: float
    intercept: float


class _SplitProbes(NamedTuple):
    """Per split to straddle: the training row to start from, the model input and the threshold."""

    rows: list[int]
    features: list[int]
    thresholds: list[float]


def threshold_cases(
    pipeline: Pipeline,
    spec: TableSpec,
    x_train: pd.DataFrame,
    ranges: Ranges,
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> CaseSet:
    """Probes 1 ulp below, at, 1 and 2 ulps above every split threshold (see the module docstring)."""
    preprocess = Pipeline(pipeline.steps[:-1])
    estimator = pipeline.steps[-1][1]
    inverse, notes = _affine_columns(preprocess, spec, x_train)
    trees = _sklearn_trees(estimator)
    if trees:
        probes = _tree_probes(trees, np.asarray(preprocess.transform(x_train), dtype=np.float32), inverse, progress)
    else:
        all_splits = _hist_splits(estimator)
        if not all_splits:
            return CaseSet("threshold", x_train.iloc[:0].copy(), "the model has no tree splits")
        probes = _hist_probes(all_splits, len(x_train), inverse)
    if not probes.rows:
        return CaseSet("threshold", x_train.iloc[:0].copy(), "; ".join(notes))
    cases = _straddle(probes, x_train, inverse)
    repeats = len(THRESHOLD_OFFSETS)
    thresholds = np.asarray(probes.thresholds, dtype=np.float64)
    details = _sides(preprocess, cases, np.tile(probes.features, repeats), np.tile(thresholds, repeats))
    details["split_nodes"] = len(probes.rows)
    details["probes_per_node"] = repeats
    keep = _in_range_mask(cases, spec, ranges)
    details["outside_valid_range"] = int((~keep).sum())
    return CaseSet("threshold", cases[keep].reset_index(drop=True), "; ".join(notes), details)


def _affine_columns(
    preprocess: Pipeline, spec: TableSpec, x_train: pd.DataFrame
) -> tuple[dict[int, _Affine], list[str]]:
    """Model input index -> the number column feeding it affinely; a note for each column that does not."""
    inverse: dict[int, _Affine] = {}
    notes = []
    complete = x_train.dropna()
    base = complete if len(complete) else x_train
    for column in spec.numeric:
        found = _affine_inverse(preprocess, base, column)
        if found is None:
            notes.append(f"{column}: no affine map to one model input; threshold cases not generated")
        else:
            inverse[found[0]] = _Affine(column, found[1], found[2])
    return inverse, notes


def _affine_inverse(preprocess: Pipeline, base: pd.DataFrame, column: str) -> tuple[int, float, float] | None:
    """(feature index, slope, intercept) when ``column`` reaches exactly one model input affinely."""
    values = base[column].dropna()
    if values.nunique() < 3:
        return None
    probe_values = np.quantile(values.to_numpy(), [0.1, 0.5, 0.9])
    rows = pd.concat([base.iloc[[0]]] * 3, ignore_index=True)
    rows[column] = probe_values
    out = np.asarray(preprocess.transform(rows), dtype=np.float64)
    changed = np.flatnonzero(np.ptp(out, axis=0) > 0)
    if len(changed) != 1 or probe_values[2] == probe_values[0]:
        return None
    feature = int(changed[0])
    slope = (out[2, feature] - out[0, feature]) / (probe_values[2] - probe_values[0])
    intercept = out[0, feature] - slope * probe_values[0]
    if slope == 0 or not math.isclose(
        out[1, feature], slope * probe_values[1] + intercept, rel_tol=1e-9, abs_tol=1e-12
    ):
        return None
    return feature, float(slope), float(intercept)


def _sklearn_trees(estimator: Any) -> list[Any]:
    """The fitted sklearn.tree estimators inside a tree model (empty for other models)."""
    if hasattr(estimator, "tree_"):
        return [estimator]
    estimators = getattr(estimator, "estimators_", None)
    if estimators is None:
        return []
    flat = np.asarray(estimators, dtype=object).ravel().tolist()
    return [tree for tree in flat if hasattr(tree, "tree_")]


def _tree_probes(
    trees: list[Any], transformed: np.ndarray, inverse: Mapping[int, _Affine], progress: Callable[[str], None]
) -> _SplitProbes:
    """Every split on an affinely mapped input, with the first training row that reaches it."""
    probes = _SplitProbes([], [], [])
    reported = time.perf_counter()
    for done, tree in enumerate(trees):
        if time.perf_counter() - reported >= PROGRESS_EVERY_S:
            progress(f"parity: split thresholds of {done:,} of {len(trees):,} trees found")
            reported = time.perf_counter()
        structure = tree.tree_
        internal = np.flatnonzero(structure.children_left != -1)
        internal = internal[np.isin(structure.feature[internal], list(inverse))]
        if not len(internal):
            continue
        # first training row reaching each node: the node's split is then really exercised
        paths = tree.decision_path(transformed).tocsc()
        first_row = paths.indices[paths.indptr[internal]]
        reached = np.diff(paths.indptr)[internal] > 0
        for node, row in zip(internal[reached].tolist(), first_row[reached].tolist()):
            probes.rows.append(row)
            probes.features.append(int(structure.feature[node]))
            probes.thresholds.append(float(structure.threshold[node]))
    return probes


def _hist_splits(estimator: Any) -> list[tuple[int, float]]:
    splits: list[tuple[int, float]] = []
    for iteration in getattr(estimator, "_predictors", []):
        for predictor in iteration:
            nodes = predictor.nodes
            internal = ~nodes["is_leaf"].astype(bool)
            if "is_categorical" in nodes.dtype.names:
                internal &= ~nodes["is_categorical"].astype(bool)
            splits.extend(zip(nodes["feature_idx"][internal].tolist(), nodes["num_threshold"][internal].tolist()))
    return splits


def _hist_probes(all_splits: list[tuple[int, float]], n_rows: int, inverse: Mapping[int, _Affine]) -> _SplitProbes:
    """HistGradientBoosting splits on affinely mapped inputs, each from a random training row."""
    splits = [(f, t) for f, t in all_splits if f in inverse]
    picks = np.random.default_rng(0).integers(0, n_rows, size=len(splits))
    return _SplitProbes(picks.tolist(), [f for f, _ in splits], [t for _, t in splits])


def _straddle(probes: _SplitProbes, x_train: pd.DataFrame, inverse: Mapping[int, _Affine]) -> pd.DataFrame:
    """The probe rows once per offset in ``THRESHOLD_OFFSETS``, the split's column set to the raw value
    whose float32 model input is that many ulps from the threshold's float32 boundary."""
    thresholds = np.asarray(probes.thresholds, dtype=np.float64)
    boundary = _float32_boundary(thresholds)
    columns = [inverse[feature].column for feature in probes.features]
    column_array = np.asarray(columns, dtype=object)
    slopes = np.array([inverse[feature].slope for feature in probes.features])
    intercepts = np.array([inverse[feature].intercept for feature in probes.features])
    frames = []
    for offset in THRESHOLD_OFFSETS:
        value32 = boundary.copy()
        step = np.float32(np.inf if offset > 0 else -np.inf)
        for _ in range(abs(offset)):
            value32 = np.nextafter(value32, step)
        raw = (value32.astype(np.float64) - intercepts) / slopes
        frame = x_train.iloc[probes.rows].reset_index(drop=True)
        for name in set(columns):
            mask = column_array == name
            frame.loc[mask, name] = raw[mask]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _float32_boundary(thresholds: np.ndarray) -> np.ndarray:
    """The largest float32 <= each threshold: where scikit-learn's ``(float)x <= t`` switches sides."""
    boundary = thresholds.astype(np.float32)
    above = boundary.astype(np.float64) > thresholds
    boundary[above] = np.nextafter(boundary[above], np.float32(-np.inf))
    return boundary


def _sides(preprocess: Pipeline, cases: pd.DataFrame, features: np.ndarray, thresholds: np.ndarray) -> dict[str, Any]:
    """How the probes fall around their thresholds, measured on the model input as the trees see it."""
    model_input = np.asarray(preprocess.transform(cases), dtype=np.float64)[np.arange(len(cases)), features]
    seen = model_input.astype(np.float32)
    left = seen.astype(np.float64) <= thresholds
    # distance in float32 steps from the largest float32 <= threshold (0 = on it, 1 = just above)
    boundary = _float32_boundary(thresholds)
    ulps = (seen.view(np.int32).astype(np.int64) - boundary.view(np.int32).astype(np.int64)) * np.sign(boundary)
    return {
        "at_or_below_threshold": int(left.sum()),
        "above_threshold": int((~left).sum()),
        "max_ulps_from_boundary": int(np.abs(ulps).max()) if len(ulps) else 0,
    }
