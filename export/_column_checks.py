"""Column checks before training: columns that would make a model that cannot work on the line.

Run on the prepared data (:class:`PreparedData`, the same split the model gets) before anything is
fitted, so a refusal costs seconds, not a training run. Each :class:`Finding` names its column, why,
and the ``--drop`` that fixes it.

Hard findings refuse the export (:class:`DataRefusedError`, exit code 12) unless the column is named
in ``--allow-column``:

- **ID-like**: a category with a distinct value in (nearly) every row, or a whole-number column
  that is nearly unique and counts rows (monotonic in file order, consecutive, or named like an
  id). The model memorises it; on the device every new part is a value it never saw.
- **Leakage by one column**: a depth-limited tree on that column alone (a lookup table for a
  category) scores at least :data:`LEAKAGE_SCORE` on the held-out split (balanced accuracy, or R²
  for a regressor). Nothing measured before the outcome predicts it that well on its own.
- **Components of the target** (binary targets): a 0/1 column whose ones are (nearly) all rows of
  the target's rare class, such as ai4i2020's failure modes (``HDF == 1`` in 115 rows, ``Machine
  failure == 1`` in all 115). It is recorded with the outcome, not before it.

Soft findings are warnings (console, model card, report): a column named like an identifier, a
category with more than :data:`HIGH_CARDINALITY` values, a constant column, and a 0/1 column of the
same family as the target's components (as rare as the target) that does not itself imply it.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from runtime._contract import MISSING_CATEGORY

from ._config import PreparedData
from ._errors import DataRefusedError, ExportError

__all__ = [
    "HIGH_CARDINALITY",
    "ID_UNIQUE_SHARE",
    "LEAKAGE_SCORE",
    "LEAKAGE_TREE_DEPTH",
    "Finding",
    "check_columns",
    "describe_finding",
    "refuse_hard_findings",
]

# a column with distinct values in at least this share of its present rows identifies rows
ID_UNIQUE_SHARE = 0.95
# fewer present rows than this: too few to call anything unique
MIN_ROWS = 20
# a category with more values than this is a warning (one graph input per value)
HIGH_CARDINALITY = 50
# a one-column model scoring this on the held-out split is leakage, not a sensor
LEAKAGE_SCORE = 0.98
LEAKAGE_TREE_DEPTH = 6
# a 0/1 column whose ones fall on the target's rare class at least this often is a component of it
COMPONENT_PRECISION = 0.95
# a long check (many columns, many rows) says how far it got at least this often
PROGRESS_EVERY_S = 2.0
MIN_COMPONENT_ROWS = 5
# the order findings are listed in, hard ones first
_KINDS = ("id_like", "leakage", "target_component", "id_name", "high_cardinality", "constant", "target_family")
_ID_WORDS = frozenset({"id", "ids", "uuid", "guid", "uid", "serial", "index", "idx", "rowid"})

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Finding:
    """One column the checks object to: what kind, whether it refuses the export, and why."""

    column: str
    kind: str  # id_like | leakage | target_component | high_cardinality | constant | id_name | target_family
    hard: bool
    reason: str
    allowed: bool = False  # a hard finding the user kept with --allow-column

    @property
    def fix(self) -> str:
        return f"--drop {shlex.quote(self.column)}"

    def describe(self) -> str:
        """``'UDI': ID-like: ... -> --drop UDI`` (an allowed hard finding says so)."""
        return describe_finding(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "fix": self.fix}


def describe_finding(record: Mapping[str, Any]) -> str:
    """A finding's :meth:`Finding.to_dict` as one line, as the console and the documents show it.

    >>> describe_finding(Finding("UDI", "id_like", True, "ID-like: a row counter").to_dict())
    "'UDI': ID-like: a row counter -> --drop UDI"
    """
    kept = f" (kept: --allow-column {shlex.quote(record['column'])})" if record.get("allowed") else ""
    return f"{record['column']!r}: {record['reason']} -> {record['fix']}{kept}"


def check_columns(
    data: PreparedData, *, allowed: Sequence[str] = (), progress: Progress = lambda message: None
) -> list[Finding]:
    """Every finding on the feature columns of ``data``, hard ones first; ``allowed`` hard ones marked.

    Raises :class:`ExportError` when ``allowed`` names a column that is not a feature.
    """
    features = set(data.spec.features)
    if unknown := [name for name in allowed if name not in features]:
        raise ExportError(f"--allow-column {unknown[0]!r} is not a feature column; features are {sorted(features)}")
    progress(f"column checks: {len(features)} columns (ID-like, constant, cardinality, leakage)")
    findings: list[Finding] = []
    reported = time.perf_counter()
    for done, name in enumerate(data.spec.features, start=1):
        found = _id_like(name, data) or _constant(name, data) or _high_cardinality(name, data)
        if found is None or not found.hard:
            found = _leakage(name, data) or found
        if found is not None:
            findings.append(found)
        if time.perf_counter() - reported >= PROGRESS_EVERY_S and done < len(features):
            progress(f"column checks: {done:,} of {len(features):,} columns checked")
            reported = time.perf_counter()
    findings += _target_components(data, already={f.column for f in findings if f.hard})
    marked = [dataclasses.replace(f, allowed=f.hard and f.column in allowed) for f in findings]
    return sorted(marked, key=lambda f: (not f.hard, _KINDS.index(f.kind), data.spec.features.index(f.column)))


def refuse_hard_findings(findings: Sequence[Finding], target: str) -> None:
    """Raise :class:`DataRefusedError` naming every finding when a hard one was not allowed."""
    refused = [f for f in findings if f.hard and not f.allowed]
    if not refused:
        return
    lines = [
        f"the column checks refuse this data: {len(refused)} column(s) would make a model of {target!r} that "
        "cannot work on the line; nothing was trained."
    ]
    lines += [f"  {finding.describe()}" for finding in findings if finding.hard and not finding.allowed]
    warnings = [f for f in findings if not f.hard]
    if warnings:
        lines.append("  warnings:")
        lines += [f"    {finding.describe()}" for finding in warnings]
    drops = " ".join(shlex.quote(f.column) for f in findings if not f.allowed)
    lines.append(f"fix: --drop {drops}  (or keep a column on purpose with --allow-column NAME)")
    raise DataRefusedError("\n".join(lines), refused)


# ---------------------------------------------------------------------------------------------
# the checks, one column at a time


def _present(name: str, data: PreparedData) -> pd.Series:
    values = data.features[name]
    if name in data.spec.numeric:
        return values.dropna()
    return values[values != MISSING_CATEGORY]


def _id_name(name: str) -> bool:
    """True for ``Product ID``, ``serial_no``, ``machineId``; not for ``humidity`` or ``fluid``."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
    return any(word in _ID_WORDS for word in re.split(r"[^a-z0-9]+", words))


def _id_like(name: str, data: PreparedData) -> Finding | None:
    present = _present(name, data)
    distinct = int(present.nunique())
    rows = len(present)
    named = _id_name(name)
    unique = rows >= MIN_ROWS and distinct >= ID_UNIQUE_SHARE * rows
    counts = f"{distinct:,} distinct values in {rows:,} rows"
    if unique and name in data.spec.categorical:
        kind = "named like an identifier" if named else "a label of each row"
        return Finding(name, "id_like", True, f"ID-like: {counts} ({kind}); the device would see only new values")
    if unique and _whole_numbers(present):
        values = present.to_numpy(dtype=np.float64)
        steps = np.diff(values)
        if (steps > 0).all() or (steps < 0).all():
            why = "rising in every row: a row counter" if (steps > 0).all() else "falling in every row: a counter"
        elif values.max() - values.min() + 1 <= len(values) / ID_UNIQUE_SHARE:
            why = "consecutive whole numbers: a row number"
        elif named:
            why = "whole numbers named like an identifier"
        else:
            return None
        return Finding(name, "id_like", True, f"ID-like: {counts}, {why}")
    if named:
        return Finding(
            name, "id_name", False, f"named like an identifier ({counts}); if it names a thing rather than measures it"
        )
    return None


def _whole_numbers(present: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(present):
        return False
    values = present.to_numpy(dtype=np.float64)
    return bool(len(values)) and bool(np.all(values == np.round(values)))


def _constant(name: str, data: PreparedData) -> Finding | None:
    present = _present(name, data)
    if len(present) and present.nunique() == 1:
        value = present.iloc[0]
        return Finding(name, "constant", False, f"constant: {value!r} in all {len(present):,} rows; it teaches nothing")
    return None


def _high_cardinality(name: str, data: PreparedData) -> Finding | None:
    if name not in data.spec.categorical:
        return None
    distinct = int(_present(name, data).nunique())
    if distinct <= HIGH_CARDINALITY:
        return None
    return Finding(
        name,
        "high_cardinality",
        False,
        f"{distinct:,} categories (more than {HIGH_CARDINALITY}): one graph input each, and a value not seen in "
        "training is refused on the device; drop it or group its rare values",
    )


def _leakage(name: str, data: PreparedData) -> Finding | None:
    """A one-column model's held-out score, when it is near-perfect."""
    # imported here: the documents describe findings (describe_finding) without loading scikit-learn
    from sklearn.metrics import balanced_accuracy_score, r2_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if len(data.x_test) < MIN_ROWS or len(np.unique(data.y_train)) < 2:
        return None
    regression = data.task == "regression"
    if name in data.spec.categorical:
        predicted = _lookup(data.x_train[name], data.y_train, data.x_test[name], regression=regression)
    else:
        tree = (DecisionTreeRegressor if regression else DecisionTreeClassifier)(
            max_depth=LEAKAGE_TREE_DEPTH, random_state=0
        )
        tree.fit(data.x_train[[name]].to_numpy(), data.y_train)
        predicted = tree.predict(data.x_test[[name]].to_numpy())
    if regression:
        score, metric = float(r2_score(data.y_test, predicted)), "R²"
    else:
        score, metric = float(balanced_accuracy_score(data.y_test, predicted)), "balanced accuracy"
    if score < LEAKAGE_SCORE:
        return None
    return Finding(
        name,
        "leakage",
        True,
        f"leaks the target: on its own it predicts {data.spec.target!r} with held-out {metric} {score:.4f} "
        f"(a depth-{LEAKAGE_TREE_DEPTH} tree on this column alone); measured with or after the outcome?",
    )


def _lookup(train: pd.Series, y_train: np.ndarray, test: pd.Series, *, regression: bool) -> np.ndarray:
    """A category -> mean (regression) or most frequent class lookup, fitted on the training split."""
    frame = pd.DataFrame({"value": train.to_numpy(), "y": y_train})
    if regression:
        table = frame.groupby("value")["y"].mean()
        fallback: Any = float(np.mean(y_train))
    else:
        table = frame.groupby("value")["y"].agg(lambda ys: ys.value_counts().index[0])
        fallback = pd.Series(y_train).value_counts().index[0]
    mapped = test.map(table)
    return np.asarray(mapped.where(mapped.notna(), fallback).to_numpy(), dtype=np.asarray(y_train).dtype)


# ---------------------------------------------------------------------------------------------
# components of a binary target


def _indicator(name: str, data: PreparedData) -> np.ndarray | None:
    """A 0/1 number column as booleans over all rows (missing as False), else None."""
    if name not in data.spec.numeric:
        return None
    values = data.features[name].to_numpy(dtype=np.float64)
    present = values[~np.isnan(values)]
    if set(np.unique(present).tolist()) != {0.0, 1.0}:
        return None
    ones: np.ndarray = np.nan_to_num(values, nan=0.0) == 1.0
    return ones


def _target_components(data: PreparedData, *, already: set[str]) -> list[Finding]:
    """0/1 columns whose ones are (nearly) all the target's rare class; their 0/1 siblings as warnings."""
    classes, counts = np.unique(data.y, return_counts=True)
    if data.task != "binary_classification" or len(classes) != 2:
        return []
    rare = classes[int(np.argmin(counts))]
    rare = rare.item() if isinstance(rare, np.generic) else rare
    positive = data.y == rare
    target = data.spec.target
    components: list[Finding] = []
    siblings: list[tuple[str, int]] = []
    for name in data.spec.features:
        ones = _indicator(name, data)
        if ones is None or name in already:
            continue
        on, hits = int(ones.sum()), int((ones & positive).sum())
        if on >= MIN_COMPONENT_ROWS and hits >= COMPONENT_PRECISION * on:
            share = "all" if hits == on else f"{hits:,}"
            reason = (
                f"a component of the target: {name} == 1 in {on:,} rows and {target!r} == {rare!r} in {share} of "
                "them; it is recorded with the outcome, not before it"
            )
            components.append(Finding(name, "target_component", True, reason))
        elif on <= int(positive.sum()):
            siblings.append((name, on))
    if not components:
        return []
    family = ", ".join(f.column for f in components)
    return components + [
        Finding(
            name,
            "target_family",
            False,
            f"a 0/1 flag ({on:,} ones) as rare as {target!r}, like its components {family}; if it is recorded "
            "with or after the outcome it leaks",
        )
        for name, on in siblings
    ]
