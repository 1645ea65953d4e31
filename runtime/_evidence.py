"""The evidence a bundle carries beside its interface, as typed manifest sections.

Each section is a frozen dataclass with ``from_dict`` (which checks every field and refuses a
malformed one with a one-line :class:`BundleError` naming it, so a bad manifest fails at load, never
on a later request) and ``to_dict`` (what the export writes). The wire format is the one schema
version 1 defined; see :mod:`runtime._manifest` for the bump procedure.

- :class:`DriftReference`: the training data's distribution per input column, and the held-out
  predictions' distribution, which drift monitoring compares recent traffic with. It is built here
  too (:meth:`DriftReference.build`, numpy only), beside the code that reads it.
- :class:`Metrics`: the held-out baseline (accuracy, macro F1, ROC AUC or MAE, RMSE, R2) and details.
- :class:`ParitySummary`: what the parity proof covered and found, per kind of case.
- :class:`Performance`: latency and memory measured at export, and the device budget's verdict.
- :class:`Training`: where the data came from, how it was split, and what was fitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._contract import MISSING_CATEGORY
from ._errors import BundleError
from ._fields import count, finite, finite_list, json_object, optional, require, share_map, shown, text_list

__all__ = [
    "REFERENCE_BINS",
    "REFERENCE_QUANTILES",
    "Budget",
    "CategoryReference",
    "DriftReference",
    "Latency",
    "Metrics",
    "NumberReference",
    "ParityKind",
    "ParitySummary",
    "Performance",
    "PredictionReference",
    "Training",
    "bin_shares",
]

# Numbers get this many equal-frequency bins for PSI (inner edges; the outer bins are open) and
# this many quantiles (0 %, 1 %, ..., 100 %) to rebuild the empirical CDF for the KS statistic.
REFERENCE_BINS = 10
REFERENCE_QUANTILES = 101


def bin_shares(edges: Sequence[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each bin between inner ``edges``: [lower, upper), the outer bins open.

    The reference and recent traffic are counted by this one function, so a value exactly on an
    edge always lands in the same bin on both sides.
    """
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    shares: np.ndarray = counts / max(1, len(values))
    return shares


def _without_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


# -- drift reference ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class NumberReference:
    """The distribution of a number column (or of a regressor's predictions) in the reference data."""

    missing_rate: float
    bin_edges: tuple[float, ...]
    bin_shares: tuple[float, ...]
    quantiles: tuple[float, ...]
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    kind = "number"

    @classmethod
    def build(cls, values: np.ndarray) -> NumberReference:
        numbers = np.asarray(values, dtype=np.float64)
        missing = np.isnan(numbers)
        present = numbers[~missing]
        if not len(present):
            return cls(float(missing.mean()) if len(numbers) else 0.0, (), (1.0,), ())
        edges = np.unique(np.quantile(present, np.linspace(0, 1, REFERENCE_BINS + 1)[1:-1]))
        return cls(
            missing_rate=float(missing.mean()),
            bin_edges=tuple(edges.tolist()),
            bin_shares=tuple(bin_shares(edges, present).tolist()),
            quantiles=tuple(np.quantile(present, np.linspace(0, 1, REFERENCE_QUANTILES)).tolist()),
            mean=float(present.mean()),
            std=float(present.std()),
            min=float(present.min()),
            max=float(present.max()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "missing_rate": self.missing_rate} | _without_none(
            {
                "bin_edges": list(self.bin_edges),
                "bin_shares": list(self.bin_shares),
                "quantiles": list(self.quantiles),
                "mean": self.mean,
                "std": self.std,
                "min": self.min,
                "max": self.max,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> NumberReference:
        edges = finite_list(data, "bin_edges", where, increasing=True)
        shares = finite_list(data, "bin_shares", where)
        if len(shares) != len(edges) + 1 or not all(0.0 <= s <= 1.0 for s in shares):
            raise BundleError(
                f"manifest field {where}bin_shares has {len(shares)} shares for {len(edges)} edges, "
                f"expected {len(edges) + 1} shares in [0, 1]"
            )
        quantiles = finite_list(data, "quantiles", where, increasing=True)
        if edges and len(quantiles) < 2:
            raise BundleError(f"manifest field {where}quantiles == {shown(list(quantiles))}, expected >= 2 quantiles")
        return cls(
            missing_rate=float(finite(data, "missing_rate", where, low=0.0, high=1.0) or 0.0),
            bin_edges=edges,
            bin_shares=shares,
            quantiles=quantiles,
            mean=finite(data, "mean", where, missing_ok=True),
            std=finite(data, "std", where, low=0.0, missing_ok=True),
            min=finite(data, "min", where, missing_ok=True),
            max=finite(data, "max", where, missing_ok=True),
        )


@dataclasses.dataclass(frozen=True)
class CategoryReference:
    """The shares of each known category of a column (among rows where it is present)."""

    missing_rate: float
    shares: Mapping[str, float]
    kind = "category"

    @classmethod
    def build(cls, values: np.ndarray, categories: Sequence[str]) -> CategoryReference:
        text = np.asarray(values, dtype=object)
        missing = np.array([v is None or v == MISSING_CATEGORY for v in text.tolist()], dtype=bool)
        present = text[~missing]
        shares = {str(c): float((present == c).mean()) if len(present) else 0.0 for c in categories}
        return cls(float(missing.mean()) if len(text) else 0.0, shares)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "missing_rate": self.missing_rate, "shares": dict(self.shares)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> CategoryReference:
        return cls(
            missing_rate=float(finite(data, "missing_rate", where, low=0.0, high=1.0) or 0.0),
            shares=share_map(data, "shares", where),
        )


ColumnReference = NumberReference | CategoryReference


@dataclasses.dataclass(frozen=True)
class PredictionReference:
    """What the model predicted on the held-out split: class shares (classifiers) or the predicted
    values' distribution (regressors)."""

    source: str
    shares: Mapping[str, float] | None = None
    values: NumberReference | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source}
        if self.shares is not None:
            data["shares"] = dict(self.shares)
        if self.values is not None:
            data["values"] = self.values.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> PredictionReference:
        raw_values = optional(data, "values", dict, where)
        return cls(
            source=require(data, "source", str, where),
            shares=share_map(data, "shares", where) if data.get("shares") is not None else None,
            # Bundles before this field recorded only bin edges for regressors: nothing to compare with.
            values=NumberReference.from_dict(raw_values, f"{where}values.") if raw_values is not None else None,
        )


@dataclasses.dataclass(frozen=True)
class DriftReference:
    """The reference drift monitoring compares recent traffic with (empty for bundles without one)."""

    rows: int = 0
    columns: Mapping[str, ColumnReference] = dataclasses.field(default_factory=dict)
    predictions: PredictionReference | None = None

    @classmethod
    def build(
        cls,
        columns: Mapping[str, np.ndarray],
        categories: Mapping[str, Sequence[str] | None],
        *,
        predicted_labels: np.ndarray | None = None,
        classes: Sequence[Any] | None = None,
        predicted_values: np.ndarray | None = None,
        source: str = "held-out split",
    ) -> DriftReference:
        """The reference of the training ``columns`` (one array per input column: float64 with NaN for
        missing numbers, or strings with ``MISSING_CATEGORY``), where ``categories`` names the known
        categories of each category column (None for number columns), and of the model's predictions
        on the held-out split (``predicted_labels`` with ``classes``, or ``predicted_values``)."""
        references: dict[str, ColumnReference] = {}
        rows = 0
        for name, values in columns.items():
            known = categories.get(name)
            rows = max(rows, len(values))
            references[name] = (
                NumberReference.build(values) if known is None else CategoryReference.build(values, known)
            )
        predictions = None
        if predicted_labels is not None and classes is not None:
            labels = np.asarray(predicted_labels)
            predictions = PredictionReference(source, shares={str(c): float((labels == c).mean()) for c in classes})
        elif predicted_values is not None:
            predictions = PredictionReference(source, values=NumberReference.build(predicted_values))
        return cls(rows, references, predictions)

    def to_dict(self) -> dict[str, Any]:
        if not self.columns and self.predictions is None:
            return {}
        data: dict[str, Any] = {"rows": self.rows, "columns": {n: c.to_dict() for n, c in self.columns.items()}}
        if self.predictions is not None:
            data["predictions"] = self.predictions.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DriftReference:
        if not data:
            return cls()
        where = "drift_reference."
        columns: dict[str, ColumnReference] = {}
        for name, column in require(data, "columns", dict, where).items():
            inner = f"{where}columns[{shown(name)}]."
            if not isinstance(column, Mapping):
                raise BundleError(f"manifest field {inner[:-1]} == {shown(column)}, expected an object")
            kind = column.get("kind")
            if kind == "number":
                columns[name] = NumberReference.from_dict(column, inner)
            elif kind == "category":
                columns[name] = CategoryReference.from_dict(column, inner)
            else:
                raise BundleError(f"manifest field {inner}kind == {shown(kind)}, expected 'number' or 'category'")
        raw_predictions = optional(data, "predictions", dict, where)
        return cls(
            rows=count(data, "rows", where) or 0,
            columns=columns,
            predictions=PredictionReference.from_dict(raw_predictions, f"{where}predictions.")
            if raw_predictions is not None
            else None,
        )


# -- metrics -----------------------------------------------------------------------------------
_BASELINE = ("accuracy", "macro_f1", "roc_auc", "mae", "rmse", "r2")


@dataclasses.dataclass(frozen=True)
class Metrics:
    """The held-out baseline, and free-form details (per-class scores, confusion matrix, importances)."""

    held_out_rows: int | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    roc_auc: float | None = None
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        baseline = {name: getattr(self, name) for name in ("held_out_rows", *_BASELINE)}
        return _without_none(baseline) | dict(self.details)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Metrics:
        data = data or {}
        where = "metrics."
        bounded = {"accuracy": 1.0, "macro_f1": 1.0, "roc_auc": 1.0}
        # R2 can be any number below 1; the other figures are scores in [0, 1] or errors >= 0.
        baseline = {
            name: finite(
                data, name, where, low=-np.inf if name == "r2" else 0.0, high=bounded.get(name, np.inf), missing_ok=True
            )
            for name in _BASELINE
        }
        details = {key: value for key, value in data.items() if key not in _BASELINE and key != "held_out_rows"}
        return cls(held_out_rows=count(data, "held_out_rows", where, missing_ok=True), details=details, **baseline)


# -- parity ------------------------------------------------------------------------------------
_KIND_FIELDS = ("cases", "label_mismatches", "max_abs_diff", "ties")


@dataclasses.dataclass(frozen=True)
class ParityKind:
    """The result of one kind of parity case (held-out, threshold, missing, ...), with its own facts."""

    cases: int
    label_mismatches: int = 0
    max_abs_diff: float | None = None
    ties: int = 0
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"cases": self.cases, "label_mismatches": self.label_mismatches, "ties": self.ties}
        if self.max_abs_diff is not None:
            data["max_abs_diff"] = self.max_abs_diff
        return data | dict(self.details)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> ParityKind:
        return cls(
            cases=count(data, "cases", where) or 0,
            label_mismatches=count(data, "label_mismatches", where, missing_ok=True) or 0,
            max_abs_diff=finite(data, "max_abs_diff", where, low=0.0, missing_ok=True),
            ties=count(data, "ties", where, missing_ok=True) or 0,
            details={key: value for key, value in data.items() if key not in _KIND_FIELDS},
        )


@dataclasses.dataclass(frozen=True)
class ParitySummary:
    """What the export's parity proof found (empty for bundles that record none).

    ``graphs`` names the bundle's graph files the full proof ran on (each case on each graph; the
    figures are the worst over them), ``golden_graph`` the one whose golden cases the export
    checked and the runtime replays at load. Both are empty in bundles from before device graphs
    (their one graph, ``model.onnx``, ran both).
    """

    passed: bool = False
    tolerance: float | None = None
    total_cases: int = 0
    label_mismatches: int = 0
    max_abs_diff: float | None = None
    ties: int = 0
    kinds: Mapping[str, ParityKind] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    graphs: tuple[str, ...] = ()
    golden_graph: str | None = None

    @property
    def recorded(self) -> bool:
        return self.tolerance is not None

    def to_dict(self) -> dict[str, Any]:
        if not self.recorded:
            return {}
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "total_cases": self.total_cases,
            "label_mismatches": self.label_mismatches,
            "max_abs_diff": self.max_abs_diff,
            "ties": self.ties,
            "kinds": {name: kind.to_dict() for name, kind in self.kinds.items()},
            "notes": list(self.notes),
            **({"graphs": list(self.graphs), "golden_graph": self.golden_graph} if self.graphs else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ParitySummary:
        if not data:
            return cls()
        where = "parity."
        kinds = {
            name: ParityKind.from_dict(require(raw, name, dict, f"{where}kinds."), f"{where}kinds[{shown(name)}].")
            for raw in [require(data, "kinds", dict, where)]
            for name in raw
        }
        return cls(
            passed=require(data, "passed", bool, where),
            tolerance=finite(data, "tolerance", where, low=0.0),
            total_cases=count(data, "total_cases", where) or 0,
            label_mismatches=count(data, "label_mismatches", where) or 0,
            max_abs_diff=finite(data, "max_abs_diff", where, low=0.0, missing_ok=True),
            ties=count(data, "ties", where, missing_ok=True) or 0,
            kinds=kinds,
            notes=text_list(data, "notes", where) if "notes" in data else (),
            graphs=text_list(data, "graphs", where) if "graphs" in data else (),
            golden_graph=optional(data, "golden_graph", str, where),
        )


# -- performance -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Latency:
    """Single-record latency percentiles in microseconds over ``calls`` timed calls."""

    p50: float
    p90: float
    p99: float
    calls: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Latency:
        p50, p90, p99 = (float(finite(data, key, where, low=0.0) or 0.0) for key in ("p50", "p90", "p99"))
        return cls(p50, p90, p99, count(data, "calls", where) or 0)


@dataclasses.dataclass(frozen=True)
class Budget:
    """The device budget the export was given (None: no limit) and whether the bundle met it."""

    max_memory_mb: float | None
    max_latency_us: float | None
    met: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Budget:
        return cls(
            max_memory_mb=finite(data, "max_memory_mb", where, low=0.0, missing_ok=True),
            max_latency_us=finite(data, "max_latency_us", where, low=0.0, missing_ok=True),
            met=require(data, "met", bool, where),
        )


@dataclasses.dataclass(frozen=True)
class Performance:
    """What the export measured on its own machine (all None when it was not measured).

    ``peak_rss_mb`` is in MiB (the kernel's VmHWM / 1024).
    """

    single_record_latency_us: Latency | None = None
    peak_rss_mb: float | None = None
    load_and_first_prediction_s: float | None = None
    machine: str | None = None
    threads: int | None = None
    note: str | None = None
    budget: Budget | None = None

    @property
    def measured(self) -> bool:
        return self.single_record_latency_us is not None or self.peak_rss_mb is not None

    def to_dict(self) -> dict[str, Any]:
        return _without_none(
            {
                "single_record_latency_us": self.single_record_latency_us.to_dict()
                if self.single_record_latency_us
                else None,
                "peak_rss_mb": self.peak_rss_mb,
                "load_and_first_prediction_s": self.load_and_first_prediction_s,
                "machine": self.machine,
                "threads": self.threads,
                "note": self.note,
                "budget": self.budget.to_dict() if self.budget else None,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Performance:
        data = data or {}
        where = "performance."
        latency = optional(data, "single_record_latency_us", dict, where)
        budget = optional(data, "budget", dict, where)
        threads = count(data, "threads", where, missing_ok=True)
        return cls(
            single_record_latency_us=Latency.from_dict(latency, f"{where}single_record_latency_us.")
            if latency is not None
            else None,
            peak_rss_mb=finite(data, "peak_rss_mb", where, low=0.0, missing_ok=True),
            load_and_first_prediction_s=finite(data, "load_and_first_prediction_s", where, low=0.0, missing_ok=True),
            machine=optional(data, "machine", str, where),
            threads=threads,
            note=optional(data, "note", str, where),
            budget=Budget.from_dict(budget, f"{where}budget.") if budget is not None else None,
        )


# -- training ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Training:
    """Where the training data came from, how it was split, and what was fitted on it."""

    source: str = ""
    rows: int = 0
    rows_without_target: int = 0
    train_rows: int = 0
    test_rows: int = 0
    target: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    fingerprint_sha256: str | None = None
    test_size: float | None = None
    seed: int | None = None
    estimator: str | None = None
    estimator_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    pipeline: str | None = None
    tuning: Mapping[str, Any] | None = None

    @property
    def recorded(self) -> bool:
        return bool(self.source)

    def to_dict(self) -> dict[str, Any]:
        if not self.recorded:
            return {}
        data = dataclasses.asdict(self)
        for key in ("numeric", "categorical", "dropped"):
            data[key] = list(data[key])
        data["estimator_params"] = dict(self.estimator_params)
        data["tuning"] = dict(self.tuning) if self.tuning is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Training:
        if not data:
            return cls()
        where = "training."
        return cls(
            source=require(data, "source", str, where),
            rows=count(data, "rows", where) or 0,
            rows_without_target=count(data, "rows_without_target", where, missing_ok=True) or 0,
            train_rows=count(data, "train_rows", where) or 0,
            test_rows=count(data, "test_rows", where) or 0,
            target=optional(data, "target", str, where),
            numeric=text_list(data, "numeric", where) if "numeric" in data else (),
            categorical=text_list(data, "categorical", where) if "categorical" in data else (),
            dropped=text_list(data, "dropped", where) if "dropped" in data else (),
            fingerprint_sha256=optional(data, "fingerprint_sha256", str, where),
            test_size=finite(data, "test_size", where, low=0.0, high=1.0, missing_ok=True),
            seed=optional(data, "seed", int, where),
            estimator=optional(data, "estimator", str, where),
            estimator_params=json_object(data, "estimator_params", where) or {},
            pipeline=optional(data, "pipeline", str, where),
            tuning=json_object(data, "tuning", where),
        )
