"""The bundle manifest: the one contract between the export stage and the device.

A bundle is a folder holding ``model.onnx`` and ``manifest.json`` (plus documents for people).
The export stage writes ``manifest.json`` only through :meth:`Manifest.to_dict`; the runtime reads it
only through :meth:`Manifest.from_dict`, which checks every field's type and names the field at fault.

Bumping the schema version
--------------------------
``SCHEMA_VERSION`` is the version this code writes; ``READABLE_SCHEMA_VERSIONS`` the ones it reads.

1. A new *optional* field with a default is not a bump: ``from_dict`` ignores keys it does not
   know, so older runtimes still read the manifest. Add the field with a default.
2. A change old readers would misread (renamed or retyped field, new meaning) is a bump: increase
   ``SCHEMA_VERSION``, teach ``from_dict`` to upgrade the previous version's dict, add the old version
   to ``READABLE_SCHEMA_VERSIONS``, and keep a manifest of every old version under
   ``tests/runtime/fixtures/`` so a test proves it still loads.
3. A reader meeting a version above ``SCHEMA_VERSION`` refuses it with :class:`SchemaVersionError`
   telling the user to upgrade the runtime.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any, Literal, cast

from ._contract import CLASSIFICATION_TOLERANCE, LABEL_TIE_TOLERANCE, is_semver
from ._errors import BundleError, SchemaVersionError
from ._evidence import DriftReference, Metrics, ParitySummary, Performance, Training
from ._fields import finite, finite_list, shown
from ._fields import optional as _opt
from ._fields import require as _get

__all__ = [
    "SCHEMA_VERSION",
    "READABLE_SCHEMA_VERSIONS",
    "ColumnSpec",
    "Decision",
    "FileSpec",
    "GoldenCase",
    "Manifest",
    "OutputSpec",
]

SCHEMA_VERSION = 1
READABLE_SCHEMA_VERSIONS = (1,)

Task = Literal["binary_classification", "multiclass_classification", "regression"]
TASKS: tuple[str, ...] = ("binary_classification", "multiclass_classification", "regression")
ColumnKind = Literal["number", "category"]
Label = int | str | bool | float
DecisionSource = Literal["fixed", "tuned"]
DECISION_SOURCES: tuple[str, ...] = ("fixed", "tuned")
# Model names go into URLs and HTTP headers: ASCII letters, digits and . _ - only.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _objects(items: list[Any], field: str) -> list[Mapping[str, Any]]:
    """``items``, each of which must be a JSON object."""
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise BundleError(f"manifest field {field}[{index}] == {shown(item)}, expected an object")
    return items


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """One input column, named exactly as in the training data.

    ``onnx_input`` is the ONNX graph input fed with this column; it equals ``name`` unless the
    name could not be used in the graph, and the mapping is kept here so it stays reversible.
    ``categories`` lists the known categories of a category column (strings, as trained).
    ``valid_range`` is ``(low, high)``, inclusive, for a number column; ``range_source`` says
    where it came from (``"schema"`` file or ``"training data"`` with a margin).
    """

    name: str
    kind: ColumnKind
    nullable: bool
    onnx_input: str
    valid_range: tuple[float, float] | None = None
    range_source: str | None = None
    categories: tuple[str, ...] | None = None
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "nullable": self.nullable,
            "onnx_input": self.onnx_input,
            "valid_range": list(self.valid_range) if self.valid_range is not None else None,
            "range_source": self.range_source,
            "categories": list(self.categories) if self.categories is not None else None,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "") -> ColumnSpec:
        name = _get(data, "name", str, where)
        where = f"inputs[{name!r}]."
        kind = _get(data, "kind", str, where)
        if kind not in ("number", "category"):
            raise BundleError(f"manifest field {where}kind == {kind!r}, expected 'number' or 'category'")
        valid_range: tuple[float, float] | None = None
        raw_range = _opt(data, "valid_range", list, where)
        if raw_range is not None:
            if (
                len(raw_range) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw_range)
                or not all(math.isfinite(v) for v in raw_range)
                or raw_range[0] > raw_range[1]
            ):
                raise BundleError(
                    f"manifest field {where}valid_range == {raw_range!r}, expected [low, high] with finite low <= high"
                )
            valid_range = (float(raw_range[0]), float(raw_range[1]))
        categories: tuple[str, ...] | None = None
        raw_categories = _opt(data, "categories", list, where)
        if raw_categories is not None:
            if not all(isinstance(c, str) for c in raw_categories):
                raise BundleError(f"manifest field {where}categories must hold strings only")
            categories = tuple(raw_categories)
        if kind == "category" and categories is None:
            raise BundleError(f"manifest field {where}categories is missing for a category column")
        return cls(
            name=name,
            kind=cast(ColumnKind, kind),
            nullable=_get(data, "nullable", bool, where),
            onnx_input=_get(data, "onnx_input", str, where),
            valid_range=valid_range,
            range_source=_opt(data, "range_source", str, where),
            categories=categories,
            description=_opt(data, "description", str, where),
        )


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """Names of the ONNX outputs: ``probabilities`` for classifiers, ``value`` for regressors."""

    probabilities: str | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"probabilities": self.probabilities, "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputSpec:
        return cls(
            probabilities=_opt(data, "probabilities", str, "outputs."),
            value=_opt(data, "value", str, "outputs."),
        )


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """A file of the bundle, by its name inside the bundle folder, with its sha256 and size."""

    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> FileSpec:
        sha256 = _get(data, "sha256", str, where)
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise BundleError(f"manifest field {where}sha256 == {sha256!r} is not a hex sha256")
        return cls(path=_get(data, "path", str, where), sha256=sha256, size=_get(data, "size", int, where))


@dataclasses.dataclass(frozen=True)
class GoldenCase:
    """An input record and the output scikit-learn gave for it, replayed at every load.

    ``inputs`` maps column name to value (``None`` for missing). ``label`` and
    ``probabilities`` (in class order) are set for classifiers, ``value`` for regressors.
    ``kind`` says why the case was chosen (``"held-out"``, ``"threshold"``, ``"missing"``, ...).
    """

    inputs: dict[str, Any]
    label: Label | None = None
    probabilities: tuple[float, ...] | None = None
    value: float | None = None
    kind: str = "held-out"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": self.inputs,
            "label": self.label,
            "probabilities": list(self.probabilities) if self.probabilities is not None else None,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> GoldenCase:
        inputs = dict(_get(data, "inputs", dict, where))
        for name, value in inputs.items():
            if value is not None and not isinstance(value, (str, int, float)):
                raise BundleError(
                    f"manifest field {where}inputs[{shown(name)}] == {shown(value)}, expected a JSON scalar"
                )
        label = data.get("label")
        if label is not None and not isinstance(label, (int, str, bool, float)):
            raise BundleError(f"manifest field {where}label == {shown(label)}, expected int, str, bool or float")
        raw = _opt(data, "probabilities", list, where)
        probabilities = finite_list(data, "probabilities", where) if raw is not None else None
        return cls(
            inputs=inputs,
            label=label,
            probabilities=probabilities,
            value=finite(data, "value", where, missing_ok=True),
            kind=_opt(data, "kind", str, where) or "held-out",
        )


@dataclasses.dataclass(frozen=True)
class Decision:
    """A binary classifier's decision threshold: scikit-learn's ``FixedThresholdClassifier`` /
    ``TunedThresholdClassifierCV`` rule.

    The label is ``positive_class`` when its probability is ``>= threshold``, else the other class;
    the probabilities are unchanged. As with the argmax rule, a probability within the manifest's
    ``label_tie_tolerance`` of the threshold counts as *at* it (so ``positive_class``): scikit-learn
    often lands exactly on a round threshold (30 of 100 trees is exactly 0.3), and summing the same
    votes in another order can miss it by an ulp either way. ``source`` says whether the threshold
    was ``"fixed"`` by hand or ``"tuned"`` by cross-validation for ``objective``.

    >>> Decision(0.3, 1, "fixed").rule((0, 1))
    '1 if P(1) >= 0.3, else 0'
    """

    threshold: float
    positive_class: Label
    source: DecisionSource
    objective: str | None = None

    def __post_init__(self) -> None:
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
            raise BundleError(
                f"manifest field decision.threshold == {shown(threshold)}, expected a finite number strictly "
                "between 0 and 1"
            )
        if not isinstance(self.positive_class, (int, str, bool, float)):
            raise BundleError(
                f"manifest field decision.positive_class == {shown(self.positive_class)}, expected a class label"
            )
        if self.source not in DECISION_SOURCES:
            raise BundleError(
                f"manifest field decision.source == {shown(self.source)}, expected one of {list(DECISION_SOURCES)}"
            )
        if self.objective is not None and not isinstance(self.objective, str):
            raise BundleError(
                f"manifest field decision.objective == {shown(self.objective)}, expected a string or null"
            )

    def positive_index(self, classes: tuple[Label, ...]) -> int:
        """Where ``positive_class`` is in ``classes`` (the model's two classes, in their order)."""
        return next(i for i, label in enumerate(classes) if _same_label(label, self.positive_class))

    def negative_class(self, classes: tuple[Label, ...]) -> Label:
        """The class predicted below the threshold: the one of the two that is not ``positive_class``."""
        return classes[1 - self.positive_index(classes)]

    def rule(self, classes: tuple[Label, ...]) -> str:
        """The label rule in words, e.g. ``1 if P(1) >= 0.3, else 0``."""
        positive = repr(self.positive_class)
        return f"{positive} if P({positive}) >= {self.threshold:.6g}, else {self.negative_class(classes)!r}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "positive_class": self.positive_class,
            "source": self.source,
            "objective": self.objective,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        where = "decision."
        if "positive_class" not in data:
            raise BundleError("manifest field decision.positive_class is missing")
        return cls(
            threshold=_get(data, "threshold", (int, float), where),  # the range is checked on construction
            positive_class=data["positive_class"],
            source=cast(DecisionSource, _get(data, "source", str, where)),
            objective=_opt(data, "objective", str, where),
        )


def _same_label(a: Label, b: Label) -> bool:
    """Equal and of the same type: ``True == 1`` in Python, but not as class labels from JSON."""
    return type(a) is type(b) and a == b


@dataclasses.dataclass(frozen=True)
class Manifest:
    """Everything a device needs to know about a bundle, and the evidence behind it.

    Examples
    --------
    >>> manifest = Manifest.from_dict(json.load(open("models/quality/1.0.0/manifest.json")))  # doctest: +SKIP
    >>> manifest.name, manifest.version, manifest.classes  # doctest: +SKIP
    ('quality', '1.0.0', (0, 1))
    """

    name: str
    version: str
    created_at: str
    task: Task
    inputs: tuple[ColumnSpec, ...]
    outputs: OutputSpec
    model_file: FileSpec
    classes: tuple[Label, ...] | None = None
    target: str | None = None
    # Probabilities of two classes closer than this are a tie, broken like scikit-learn's argmax
    # (first class wins): summation order can tip an exact 0.5/0.5 vote by an ulp either way.
    label_tie_tolerance: float = LABEL_TIE_TOLERANCE
    # Largest |scikit-learn - onnxruntime| accepted when replaying golden cases (relative to
    # max(1, |value|) for regression).
    tolerance: float = CLASSIFICATION_TOLERANCE
    libraries: dict[str, str] = dataclasses.field(default_factory=dict)
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    parity: ParitySummary = dataclasses.field(default_factory=ParitySummary)
    drift_reference: DriftReference = dataclasses.field(default_factory=DriftReference)
    golden_cases: tuple[GoldenCase, ...] = ()
    # None: the label is the most probable class; else the binary decision threshold's rule
    decision: Decision | None = None
    training: Training = dataclasses.field(default_factory=Training)
    performance: Performance = dataclasses.field(default_factory=Performance)
    description: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise BundleError(
                f"manifest field name == {shown(self.name)}, expected 1 to 128 of A-Z a-z 0-9 . _ - "
                "(starting with a letter or digit): it is sent in URLs and headers"
            )
        if not is_semver(self.version):
            raise BundleError(f"manifest field version == {self.version!r} is not a semantic version like '1.0.0'")
        if self.task not in TASKS:
            raise BundleError(f"manifest field task == {self.task!r}, expected one of {list(TASKS)}")
        if self.task == "regression":
            if self.outputs.value is None:
                raise BundleError("manifest field outputs.value is missing for a regression model")
        else:
            if not self.classes or len(self.classes) < 2:
                raise BundleError(f"manifest field classes == {self.classes!r}, a classifier needs >= 2")
            if self.outputs.probabilities is None:
                raise BundleError("manifest field outputs.probabilities is missing for a classifier")
            if len(set(self.classes)) != len(self.classes):
                raise BundleError(f"manifest field classes == {shown(list(self.classes))} names a class twice")
        names = [column.name for column in self.inputs]
        if not names or len(set(names)) != len(names):
            raise BundleError(f"manifest field inputs must name each column once, got {names!r}")
        kinds = {column.name: column.kind for column in self.inputs}
        for name, reference in self.drift_reference.columns.items():
            if kinds.get(name) != reference.kind:
                raise BundleError(
                    f"manifest field drift_reference.columns[{name!r}] is a {reference.kind} reference, but the "
                    f"inputs have {'no such column' if name not in kinds else 'a ' + kinds[name] + ' column'}"
                )
        self._check_decision()
        self._check_golden_cases(names)
        if not self.tolerance >= 0 or not self.label_tie_tolerance >= 0:
            raise BundleError(
                f"manifest fields tolerance == {self.tolerance!r} and label_tie_tolerance == "
                f"{self.label_tie_tolerance!r} must be finite numbers >= 0"
            )

    def _check_decision(self) -> None:
        if self.decision is None:
            return
        if self.task != "binary_classification":
            raise BundleError(
                f"manifest field decision is set for a {self.task} model; "
                "a decision threshold needs a binary classifier"
            )
        assert self.classes is not None
        if not any(_same_label(label, self.decision.positive_class) for label in self.classes):
            raise BundleError(
                f"manifest field decision.positive_class == {shown(self.decision.positive_class)} is not one of the "
                f"classes {shown(list(self.classes))}"
            )

    def _check_golden_cases(self, names: list[str]) -> None:
        expected = set(names)
        for index, case in enumerate(self.golden_cases):
            where = f"manifest field golden_cases[{index}]"
            if set(case.inputs) != expected:
                raise BundleError(f"{where}.inputs names {shown(sorted(case.inputs))}, expected the columns {names!r}")
            if self.task == "regression":
                if case.value is None:
                    raise BundleError(f"{where}.value is missing for a regression model")
                continue
            assert self.classes is not None
            if case.label not in self.classes:
                raise BundleError(f"{where}.label == {shown(case.label)} is not one of the classes")
            if case.probabilities is None or len(case.probabilities) != len(self.classes):
                raise BundleError(f"{where}.probabilities must hold one probability per class ({len(self.classes)})")

    def interface_changes(self, other: Manifest) -> list[str]:
        """What a client of this model would notice if ``other`` answered instead, in words: another
        task or target, other classes, input columns added, removed or of another kind, categories
        removed. Empty when ``other`` keeps the interface (it may still accept more, e.g. new categories)."""
        changes: list[str] = []
        if other.task != self.task:
            changes.append(f"task {self.task} -> {other.task}")
        if other.target != self.target:
            changes.append(f"target {shown(self.target)} -> {shown(other.target)}")
        if other.classes != self.classes:
            changes.append(f"classes {shown(list(self.classes or ()))} -> {shown(list(other.classes or ()))}")
        before = {column.name: column for column in self.inputs}
        after = {column.name: column for column in other.inputs}
        if removed := [name for name in before if name not in after]:
            changes.append(f"input columns removed: {shown(removed)}")
        if added := [name for name in after if name not in before]:
            changes.append(f"input columns added: {shown(added)}")
        for name in before.keys() & after.keys():
            old, new = before[name], after[name]
            if old.kind != new.kind:
                changes.append(f"column {name!r} is a {new.kind} column, was a {old.kind} column")
            elif old.categories and (lost := sorted(set(old.categories) - set(new.categories or ()))):
                changes.append(f"column {name!r} no longer accepts the categories {shown(lost)}")
        return sorted(changes)

    def label_rule(self) -> str | None:
        """How a classifier's label follows from its probabilities, in words; None for a regressor."""
        if self.classes is None:
            return None
        if self.decision is not None:
            return self.decision.rule(self.classes)
        return "the most probable class (the first in class order among ties)"

    @property
    def is_classifier(self) -> bool:
        return self.task != "regression"

    def column(self, name: str) -> ColumnSpec:
        for column in self.inputs:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
            "task": self.task,
            "target": self.target,
            "description": self.description,
            "classes": list(self.classes) if self.classes is not None else None,
            "label_tie_tolerance": self.label_tie_tolerance,
            "tolerance": self.tolerance,
            "inputs": [column.to_dict() for column in self.inputs],
            "outputs": self.outputs.to_dict(),
            "model_file": self.model_file.to_dict(),
            "libraries": dict(self.libraries),
            "training": self.training.to_dict(),
            "metrics": self.metrics.to_dict(),
            "parity": self.parity.to_dict(),
            "performance": self.performance.to_dict(),
            "drift_reference": self.drift_reference.to_dict(),
            "golden_cases": [case.to_dict() for case in self.golden_cases],
            # optional and written only when set: manifests without it stay byte for byte as they were
            **({"decision": self.decision.to_dict()} if self.decision is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest dict, refusing unknown schema versions and mistyped fields."""
        if not isinstance(data, Mapping):
            raise BundleError(f"manifest must be a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SchemaVersionError(
                f"manifest field schema_version == {version!r} is not a schema version this runtime "
                f"knows (it reads {list(READABLE_SCHEMA_VERSIONS)})"
            )
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"manifest schema version {version} is newer than this runtime reads "
                f"(up to {SCHEMA_VERSION}): upgrade the runtime (pip install -U factory-edge) "
                "or re-export the bundle with the matching version"
            )
        if version not in READABLE_SCHEMA_VERSIONS:
            raise SchemaVersionError(
                f"manifest schema version {version} is no longer readable "
                f"(this runtime reads {list(READABLE_SCHEMA_VERSIONS)}): re-export the bundle"
            )
        raw_inputs = _objects(_get(data, "inputs", list, ""), "inputs")
        raw_classes = _opt(data, "classes", list, "")
        if raw_classes is not None:
            for label in raw_classes:
                if not isinstance(label, (int, str, bool, float)):
                    raise BundleError(f"manifest field classes holds {shown(label)}, expected int, str, bool or float")
        raw_golden = _objects(_opt(data, "golden_cases", list, "") or [], "golden_cases")
        raw_decision = _opt(data, "decision", dict, "")
        libraries = _opt(data, "libraries", dict, "") or {}
        if not all(isinstance(value, str) for value in libraries.values()):
            raise BundleError(f"manifest field libraries == {shown(libraries)}, expected names and version strings")
        return cls(
            schema_version=version,
            name=_get(data, "name", str, ""),
            version=_get(data, "version", str, ""),
            created_at=_get(data, "created_at", str, ""),
            task=cast(Task, _get(data, "task", str, "")),
            target=_opt(data, "target", str, ""),
            description=_opt(data, "description", str, "") or "",
            classes=tuple(raw_classes) if raw_classes is not None else None,
            label_tie_tolerance=float(_get(data, "label_tie_tolerance", (int, float), "")),
            tolerance=float(_get(data, "tolerance", (int, float), "")),
            inputs=tuple(ColumnSpec.from_dict(c, f"inputs[{i}].") for i, c in enumerate(raw_inputs)),
            outputs=OutputSpec.from_dict(_get(data, "outputs", dict, "")),
            model_file=FileSpec.from_dict(_get(data, "model_file", dict, ""), "model_file."),
            libraries=dict(libraries),
            training=Training.from_dict(_opt(data, "training", dict, "")),
            metrics=Metrics.from_dict(_opt(data, "metrics", dict, "")),
            parity=ParitySummary.from_dict(_opt(data, "parity", dict, "")),
            performance=Performance.from_dict(_opt(data, "performance", dict, "")),
            drift_reference=DriftReference.from_dict(_opt(data, "drift_reference", dict, "")),
            golden_cases=tuple(GoldenCase.from_dict(c, f"golden_cases[{i}].") for i, c in enumerate(raw_golden)),
            decision=Decision.from_dict(raw_decision) if raw_decision is not None else None,
        )
