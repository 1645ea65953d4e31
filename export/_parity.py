"""The parity proof: scikit-learn and the device path (runtime + onnxruntime) on hard cases.

The device side is the real runtime: :class:`runtime.Model` validates each case and runs the ONNX
graph exactly as a device would, labels included (derived from probabilities by scikit-learn's
first-maximum rule). Case kinds:

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
``tie``             rows where the two most probable classes are exactly equal, counted in every
                    set above (common for fully grown forests, whose leaves are pure; depth-limited
                    trees have impure leaves and practically never tie exactly).

Tolerance: the graph computes in float64 like scikit-learn (see export._convert and
export._trees), so the two agree to ~1e-15; what remains is summation order and libm differences
between CPUs. 1e-9 leaves six orders of magnitude for those, while a single wrong branch moves a
probability by far more (1/n_trees for a forest, learning rate x leaf value through the sigmoid for
boosting). Regression values are compared relative to max(1, |value|) with the same bound.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import MISSING_CATEGORY

from ._data import TableSpec

__all__ = [
    "CaseSet",
    "ParityReport",
    "generate_cases",
    "run_parity",
]

logger = logging.getLogger(__name__)

UNKNOWN_CATEGORY = "__unseen_category__"
THRESHOLD_OFFSETS = (-1, 0, 1, 2)  # float32 ulps from the largest float32 <= threshold
TIE_SEARCH_ROWS = 20_000
NEAR_TIE_POOL = 50_000
NEAR_TIES = 500
NEAR_TIE_GAP = 0.02  # two trees' votes in a 100-tree forest
CASES_PER_VARIANT = 200


@dataclass
class CaseSet:
    kind: str
    frame: pd.DataFrame
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParityReport:
    """Per kind: cases, label mismatches and the largest difference, plus the worst cases."""

    passed: bool
    tolerance: float
    kinds: dict[str, dict[str, Any]]
    worst: list[dict[str, Any]]
    total_cases: int
    label_mismatches: int
    max_abs_diff: float
    ties: int
    notes: list[str] = field(default_factory=list)
    # sklearn's outputs for the golden-case candidates, by kind
    golden: list[runtime.GoldenCase] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "total_cases": self.total_cases,
            "label_mismatches": self.label_mismatches,
            "max_abs_diff": self.max_abs_diff,
            "ties": self.ties,
            "kinds": self.kinds,
            "notes": self.notes,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "worst": self.worst}


# -- trees ------------------------------------------------------------------------------------------


def _sklearn_trees(estimator: Any) -> list[Any]:
    """The fitted sklearn.tree estimators inside a tree model (empty for other models)."""
    if hasattr(estimator, "tree_"):
        return [estimator]
    estimators = getattr(estimator, "estimators_", None)
    if estimators is None:
        return []
    flat = np.asarray(estimators, dtype=object).ravel().tolist()
    return [tree for tree in flat if hasattr(tree, "tree_")]


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


def threshold_cases(
    pipeline: Pipeline, spec: TableSpec, x_train: pd.DataFrame, ranges: dict[str, tuple[float, float]]
) -> CaseSet:
    preprocess = Pipeline(pipeline.steps[:-1])
    estimator = pipeline.steps[-1][1]
    inverse: dict[int, tuple[str, float, float]] = {}
    notes = []
    complete = x_train.dropna()
    base = complete if len(complete) else x_train
    for column in spec.numeric:
        found = _affine_inverse(preprocess, base, column)
        if found is None:
            notes.append(f"{column}: no affine map to one model input; threshold cases not generated")
        else:
            inverse[found[0]] = (column, found[1], found[2])

    rows: list[int] = []
    columns: list[str] = []
    targets: list[float] = []
    trees = _sklearn_trees(estimator)
    if trees:
        transformed = np.asarray(preprocess.transform(x_train), dtype=np.float32)
        for tree in trees:
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
                rows.append(row)
                columns.append(inverse[int(structure.feature[node])][0])
                targets.append(float(structure.threshold[node]))
    else:
        all_splits = _hist_splits(estimator)
        if not all_splits:
            return CaseSet("threshold", x_train.iloc[:0].copy(), "the model has no tree splits")
        splits = [(f, t) for f, t in all_splits if f in inverse]
        picks = np.random.default_rng(0).integers(0, len(x_train), size=len(splits))
        for (feature, threshold), row in zip(splits, picks.tolist()):
            rows.append(row)
            columns.append(inverse[feature][0])
            targets.append(threshold)
    feature_of_column = {name: feature for feature, (name, _, _) in inverse.items()}

    if not rows:
        return CaseSet("threshold", x_train.iloc[:0].copy(), "; ".join(notes))
    thresholds = np.asarray(targets, dtype=np.float64)
    boundary = thresholds.astype(np.float32)
    # largest float32 <= threshold: where scikit-learn's "(float)x <= t" switches sides
    above = boundary.astype(np.float64) > thresholds
    boundary[above] = np.nextafter(boundary[above], np.float32(-np.inf))
    column_array = np.asarray(columns, dtype=object)
    slopes = np.array([inverse[feature_of_column[c]][1] for c in columns])
    intercepts = np.array([inverse[feature_of_column[c]][2] for c in columns])
    frames = []
    for offset in THRESHOLD_OFFSETS:
        value32 = boundary.copy()
        step = np.float32(np.inf if offset > 0 else -np.inf)
        for _ in range(abs(offset)):
            value32 = np.nextafter(value32, step)
        raw = (value32.astype(np.float64) - intercepts) / slopes
        frame = x_train.iloc[rows].reset_index(drop=True)
        for name in set(columns):
            mask = column_array == name
            frame.loc[mask, name] = raw[mask]
        frames.append(frame)
    cases = pd.concat(frames, ignore_index=True)
    details = _sides(
        preprocess,
        cases,
        np.tile([feature_of_column[c] for c in columns], len(frames)),
        np.tile(thresholds, len(frames)),
    )
    details["split_nodes"] = len(rows)
    details["probes_per_node"] = len(THRESHOLD_OFFSETS)
    keep = _in_range_mask(cases, spec, ranges)
    details["outside_valid_range"] = int((~keep).sum())
    return CaseSet("threshold", cases[keep].reset_index(drop=True), "; ".join(notes), details)


def _sides(preprocess: Pipeline, cases: pd.DataFrame, features: np.ndarray, thresholds: np.ndarray) -> dict[str, Any]:
    """How the probes fall around their thresholds, measured on the model input as the trees see it."""
    model_input = np.asarray(preprocess.transform(cases), dtype=np.float64)[np.arange(len(cases)), features]
    seen = model_input.astype(np.float32)
    left = seen.astype(np.float64) <= thresholds
    # distance in float32 steps from the largest float32 <= threshold (0 = on it, 1 = just above)
    boundary = thresholds.astype(np.float32)
    high = boundary.astype(np.float64) > thresholds
    boundary[high] = np.nextafter(boundary[high], np.float32(-np.inf))
    ulps = (seen.view(np.int32).astype(np.int64) - boundary.view(np.int32).astype(np.int64)) * np.sign(boundary)
    return {
        "at_or_below_threshold": int(left.sum()),
        "above_threshold": int((~left).sum()),
        "max_ulps_from_boundary": int(np.abs(ulps).max()) if len(ulps) else 0,
    }


def _in_range_mask(frame: pd.DataFrame, spec: TableSpec, ranges: dict[str, tuple[float, float]]) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for name in spec.numeric:
        if name in ranges:
            low, high = ranges[name]
            values = frame[name].to_numpy(dtype=np.float64)
            keep &= np.isnan(values) | ((values >= low) & (values <= high))
    return keep


def _within_ranges(frame: pd.DataFrame, spec: TableSpec, ranges: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Drop rows the runtime would refuse anyway (outside a valid range): they never reach a model."""
    return frame[_in_range_mask(frame, spec, ranges)].reset_index(drop=True)


# -- the other kinds ---------------------------------------------------------------------------------


def generate_cases(
    pipeline: Pipeline,
    spec: TableSpec,
    x_train: pd.DataFrame,
    x_test: pd.DataFrame,
    *,
    nullable: dict[str, bool],
    ranges: dict[str, tuple[float, float]],
    seed: int = 0,
    progress: Callable[[str], None] = lambda message: None,
) -> list[CaseSet]:
    """Every case set of the proof, scikit-learn inputs as prepared frames."""
    rng = np.random.default_rng(seed)
    sample = x_test.iloc[:CASES_PER_VARIANT].reset_index(drop=True)
    sets = [CaseSet("held-out", x_test.reset_index(drop=True))]
    progress("parity: finding every split threshold")
    sets.append(threshold_cases(pipeline, spec, x_train, ranges))

    missing_frames = []
    nullable_columns = [name for name in spec.features if nullable.get(name)]
    for name in nullable_columns:
        frame = sample.copy()
        frame[name] = np.nan if name in spec.numeric else MISSING_CATEGORY
        missing_frames.append(frame)
    if nullable_columns:
        frame = sample.copy()
        for name in nullable_columns:
            frame[name] = np.nan if name in spec.numeric else MISSING_CATEGORY
        missing_frames.append(frame)
    sets.append(_stacked("missing", missing_frames, sample, "no column allows missing values"))

    unknown_frames = []
    for name in spec.categorical:
        frame = sample.copy()
        frame[name] = UNKNOWN_CATEGORY
        unknown_frames.append(frame)
    sets.append(_stacked("unknown-category", unknown_frames, sample, "no category columns"))

    boundary_frames = []
    for name in spec.numeric:
        observed = x_train[name].dropna()
        points = [observed.min(), observed.max()]
        if name in ranges:
            points += list(ranges[name])
        for point in points:
            frame = sample.iloc[:50].copy()
            frame[name] = float(point)
            boundary_frames.append(frame)
    sets.append(
        CaseSet(
            "range-boundary",
            _within_ranges(pd.concat(boundary_frames, ignore_index=True), spec, ranges)
            if boundary_frames
            else sample.iloc[:0],
        )
    )

    # random recombinations of training values: many land where the trees' votes split evenly
    recombined = pd.DataFrame(
        {name: x_train[name].to_numpy()[rng.integers(0, len(x_train), TIE_SEARCH_ROWS)] for name in spec.features}
    )
    sets.append(CaseSet("recombined", _within_ranges(recombined, spec, ranges)))
    if hasattr(pipeline, "predict_proba"):
        sets.append(_near_ties(pipeline, spec, x_train, ranges, rng))
    return sets


def _near_ties(
    pipeline: Pipeline,
    spec: TableSpec,
    x_train: pd.DataFrame,
    ranges: dict[str, tuple[float, float]],
    rng: np.random.Generator,
) -> CaseSet:
    """The recombined rows whose two most probable classes are closest, by scikit-learn's own numbers."""
    pool = _within_ranges(
        pd.DataFrame(
            {name: x_train[name].to_numpy()[rng.integers(0, len(x_train), NEAR_TIE_POOL)] for name in spec.features}
        ),
        spec,
        ranges,
    )
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


def _stacked(kind: str, frames: list[pd.DataFrame], sample: pd.DataFrame, empty_note: str) -> CaseSet:
    """One case set from variants of the sample, or an empty one saying why there are none."""
    if not frames:
        return CaseSet(kind, sample.iloc[:0], empty_note)
    return CaseSet(kind, pd.concat(frames, ignore_index=True))


def _json_value(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, str) and value == MISSING_CATEGORY:
        return None
    return value


def record_of(frame: pd.DataFrame, index: int) -> dict[str, Any]:
    return {name: _json_value(frame[name].iloc[index]) for name in frame.columns}


def _python_label(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def run_parity(
    pipeline: Pipeline,
    model: runtime.Model,
    sets: list[CaseSet],
    *,
    tolerance: float,
    progress: Callable[[str], None] = lambda message: None,
    golden_per_kind: int = 4,
) -> ParityReport:
    """Compare scikit-learn with the runtime on every case set."""
    classifier = model.classes is not None
    kinds: dict[str, dict[str, Any]] = {}
    worst: list[dict[str, Any]] = []
    golden: list[runtime.GoldenCase] = []
    ties_total = tie_mismatches = 0
    notes = [f"{case_set.kind}: {case_set.note}" for case_set in sets if case_set.note]
    for case_set in sets:
        frame = case_set.frame
        if not len(frame):
            kinds[case_set.kind] = {"cases": 0, "label_mismatches": 0, "max_abs_diff": 0.0, "ties": 0}
            continue
        progress(f"parity: {case_set.kind} ({len(frame):,} cases)")
        device = model.predict_batch(frame, on_unknown="flag")
        if classifier:
            assert device.probabilities is not None and device.labels is not None
            expected_proba = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
            expected_labels = np.asarray(pipeline.predict(frame))
            diff = np.abs(device.probabilities - expected_proba).max(axis=1)
            mismatched = device.labels != expected_labels
            ordered = np.sort(expected_proba, axis=1)
            tie = (ordered[:, -1] - ordered[:, -2]) == 0
        else:
            assert device.values is not None
            expected_values = np.asarray(pipeline.predict(frame), dtype=np.float64)
            diff = np.abs(device.values - expected_values) / np.maximum(1.0, np.abs(expected_values))
            mismatched = np.zeros(len(frame), dtype=bool)
            tie = np.zeros(len(frame), dtype=bool)
        ties_total += int(tie.sum())
        tie_mismatches += int((tie & mismatched).sum())
        kinds[case_set.kind] = {
            "cases": int(len(frame)),
            "label_mismatches": int(mismatched.sum()),
            "max_abs_diff": float(diff.max()),
            "ties": int(tie.sum()),
            **case_set.details,
        }
        bad = np.flatnonzero(mismatched | (diff > tolerance))
        order = bad[np.argsort(-diff[bad])] if len(bad) else np.argsort(-diff)[:1]
        for index in order[:5].tolist():
            case = {
                "kind": case_set.kind,
                "inputs": record_of(frame, index),
                "abs_diff": float(diff[index]),
                "failed": bool(index in set(bad.tolist())),
            }
            if classifier:
                case.update(
                    expected_label=_python_label(expected_labels[index]),
                    got_label=_python_label(device.labels[index]),
                    expected=expected_proba[index].tolist(),
                    got=device.probabilities[index].tolist(),
                )
            else:
                case.update(expected=float(expected_values[index]), got=float(device.values[index]))
            worst.append(case)
        # golden cases: a few of each kind plus one exact tie, so the device replays the hard ones
        picks = np.flatnonzero(tie)[:1].tolist() + np.flatnonzero(~tie)[:golden_per_kind].tolist()
        for index in picks:
            kind = "tie" if tie[index] else case_set.kind
            if classifier:
                golden.append(
                    runtime.GoldenCase(
                        inputs=record_of(frame, index),
                        label=_python_label(expected_labels[index]),
                        probabilities=tuple(float(p) for p in expected_proba[index]),
                        kind=kind,
                    )
                )
            else:
                golden.append(
                    runtime.GoldenCase(inputs=record_of(frame, index), value=float(expected_values[index]), kind=kind)
                )
    worst.sort(key=lambda case: (not case["failed"], -case["abs_diff"]))
    failed = [case for case in worst if case["failed"]]
    label_mismatches = sum(kind["label_mismatches"] for kind in kinds.values())
    max_abs_diff = max((kind.get("max_abs_diff", 0.0) for kind in kinds.values()), default=0.0)
    total = sum(kind["cases"] for kind in kinds.values())
    kinds["tie"] = {
        "cases": ties_total,
        "label_mismatches": tie_mismatches,
        "ties": ties_total,
        "note": "exact scikit-learn ties, counted inside the kinds above",
    }
    return ParityReport(
        passed=not failed and label_mismatches == 0 and max_abs_diff <= tolerance,
        tolerance=tolerance,
        kinds=kinds,
        worst=(failed or worst)[:10],
        total_cases=total,
        label_mismatches=label_mismatches,
        max_abs_diff=max_abs_diff,
        ties=ties_total,
        notes=notes,
        golden=golden,
    )
