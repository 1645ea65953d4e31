"""Both sides of the parity proof on every case set, and the report: scikit-learn against the device path.

The device side is the real runtime: :class:`runtime.Model` validates each case and runs the ONNX
graph exactly as a device would, labels included (derived from probabilities by scikit-learn's
first-maximum rule).

Tolerance: the graph computes in float64 like scikit-learn (see export._convert and
export._trees), so the two agree to ~1e-15; what remains is summation order and libm differences
between CPUs. 1e-9 leaves six orders of magnitude for those, while a single wrong branch moves a
probability by far more (1/n_trees for a forest, learning rate x leaf value through the sigmoid for
boosting). Regression values are compared relative to max(1, |value|) with the same bound.

``tie`` counts rows where the two most probable classes are exactly equal, inside every set (common
for fully grown forests, whose leaves are pure; depth-limited trees have impure leaves and
practically never tie exactly).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import MISSING_CATEGORY

from .._config import ParityReport
from .cases import CaseSet

__all__ = ["WORST_PER_KIND", "record_of", "run_parity"]

WORST_PER_KIND = 5
WORST_KEPT = 10
# Case sets are compared this many rows at a time, so a long one (the threshold cases: 69,404 in the
# shipped bundle, ~20 s) says how far it got at least every PROGRESS_EVERY_S instead of going silent.
CHUNK_ROWS = 10_000
PROGRESS_EVERY_S = 2.0


@dataclass
class _Outcome:
    """Both sides' outputs on one case set, row by row."""

    case_set: CaseSet
    diff: np.ndarray  # |difference| per row (relative to max(1, |value|) for regression)
    mismatched: np.ndarray  # label differs (always False for regression)
    tie: np.ndarray  # scikit-learn's two most probable classes are exactly equal
    expected: np.ndarray  # scikit-learn: probabilities [N, classes] or values [N]
    got: np.ndarray  # the runtime, same shape
    expected_labels: np.ndarray | None = None
    got_labels: np.ndarray | None = None


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
    kinds: dict[str, dict[str, Any]] = {}
    worst: list[dict[str, Any]] = []
    golden: list[runtime.GoldenCase] = []
    ties_total = tie_mismatches = 0
    for case_set in sets:
        if not len(case_set.frame):
            kinds[case_set.kind] = {"cases": 0, "label_mismatches": 0, "max_abs_diff": 0.0, "ties": 0}
            continue
        progress(f"parity: {case_set.kind} ({len(case_set.frame):,} cases)")
        outcome = _compare_in_chunks(pipeline, model, case_set, progress)
        ties_total += int(outcome.tie.sum())
        tie_mismatches += int((outcome.tie & outcome.mismatched).sum())
        kinds[case_set.kind] = {
            "cases": int(len(case_set.frame)),
            "label_mismatches": int(outcome.mismatched.sum()),
            "max_abs_diff": float(outcome.diff.max()),
            "ties": int(outcome.tie.sum()),
            **case_set.details,
        }
        worst += _worst_cases(outcome, tolerance)
        golden += _golden_cases(outcome, golden_per_kind)
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
        worst=(failed or worst)[:WORST_KEPT],
        total_cases=total,
        label_mismatches=label_mismatches,
        max_abs_diff=max_abs_diff,
        ties=ties_total,
        notes=[f"{case_set.kind}: {case_set.note}" for case_set in sets if case_set.note],
        golden=golden,
        classifier=model.manifest.is_classifier,
    )


def _compare_in_chunks(
    pipeline: Pipeline, model: runtime.Model, case_set: CaseSet, progress: Callable[[str], None]
) -> _Outcome:
    """:func:`_compare` over :data:`CHUNK_ROWS` rows at a time, saying how far it got every few seconds.

    The cases, labels and verdict are those of comparing the whole set at once; a difference can
    move by an ulp or so, as onnxruntime's summation order depends on the batch size (the device
    itself predicts one record or one chunk at a time).
    """
    frame = case_set.frame
    if len(frame) <= CHUNK_ROWS:
        return _compare(pipeline, model, case_set)
    parts: list[_Outcome] = []
    reported = time.perf_counter()
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = dataclasses.replace(case_set, frame=frame.iloc[start : start + CHUNK_ROWS].reset_index(drop=True))
        parts.append(_compare(pipeline, model, chunk))
        done = min(start + CHUNK_ROWS, len(frame))
        if time.perf_counter() - reported >= PROGRESS_EVERY_S and done < len(frame):
            progress(f"parity: {case_set.kind}: {done:,} of {len(frame):,} cases compared")
            reported = time.perf_counter()
    arrays: dict[str, Any] = {}
    for field in dataclasses.fields(_Outcome):
        if field.name != "case_set":
            first = getattr(parts[0], field.name)
            arrays[field.name] = None if first is None else np.concatenate([getattr(p, field.name) for p in parts])
    return _Outcome(case_set, **arrays)


def _compare(pipeline: Pipeline, model: runtime.Model, case_set: CaseSet) -> _Outcome:
    frame = case_set.frame
    device = model.predict_batch(frame, on_unknown="flag")
    if model.classes is not None:
        assert device.probabilities is not None and device.labels is not None
        expected = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
        expected_labels = np.asarray(pipeline.predict(frame))
        ordered = np.sort(expected, axis=1)
        return _Outcome(
            case_set,
            diff=np.abs(device.probabilities - expected).max(axis=1),
            mismatched=device.labels != expected_labels,
            tie=(ordered[:, -1] - ordered[:, -2]) == 0,
            expected=expected,
            got=device.probabilities,
            expected_labels=expected_labels,
            got_labels=device.labels,
        )
    assert device.values is not None
    values = np.asarray(pipeline.predict(frame), dtype=np.float64)
    return _Outcome(
        case_set,
        diff=np.abs(device.values - values) / np.maximum(1.0, np.abs(values)),
        mismatched=np.zeros(len(frame), dtype=bool),
        tie=np.zeros(len(frame), dtype=bool),
        expected=values,
        got=device.values,
    )


def _worst_cases(outcome: _Outcome, tolerance: float) -> list[dict[str, Any]]:
    """The failing rows, largest difference first (or the one closest to failing when none fails)."""
    diff = outcome.diff
    bad = np.flatnonzero(outcome.mismatched | (diff > tolerance))
    order = bad[np.argsort(-diff[bad])] if len(bad) else np.argsort(-diff)[:1]
    failing = set(bad.tolist())
    cases = []
    for index in order[:WORST_PER_KIND].tolist():
        case: dict[str, Any] = {
            "kind": outcome.case_set.kind,
            "inputs": record_of(outcome.case_set.frame, index),
            "abs_diff": float(diff[index]),
            "failed": index in failing,
        }
        if outcome.expected_labels is not None and outcome.got_labels is not None:
            case.update(
                expected_label=_python_label(outcome.expected_labels[index]),
                got_label=_python_label(outcome.got_labels[index]),
                expected=outcome.expected[index].tolist(),
                got=outcome.got[index].tolist(),
            )
        else:
            case.update(expected=float(outcome.expected[index]), got=float(outcome.got[index]))
        cases.append(case)
    return cases


def _golden_cases(outcome: _Outcome, per_kind: int) -> list[runtime.GoldenCase]:
    """A few of each kind plus one exact tie, so the device replays the hard ones at every load."""
    tie = outcome.tie
    picks = np.flatnonzero(tie)[:1].tolist() + np.flatnonzero(~tie)[:per_kind].tolist()
    cases = []
    for index in picks:
        kind = "tie" if tie[index] else outcome.case_set.kind
        inputs = record_of(outcome.case_set.frame, index)
        if outcome.expected_labels is not None:
            label = _python_label(outcome.expected_labels[index])
            probabilities = tuple(float(p) for p in outcome.expected[index])
            cases.append(runtime.GoldenCase(inputs=inputs, label=label, probabilities=probabilities, kind=kind))
        else:
            cases.append(runtime.GoldenCase(inputs=inputs, value=float(outcome.expected[index]), kind=kind))
    return cases


def _json_value(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, str) and value == MISSING_CATEGORY:
        return None
    return value


def record_of(frame: pd.DataFrame, index: int) -> dict[str, Any]:
    """Row ``index`` of a prepared frame as a record the runtime takes (missing values as None)."""
    return {name: _json_value(frame[name].iloc[index]) for name in frame.columns}


def _python_label(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label
