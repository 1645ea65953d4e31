"""What the export is told and what its stages hand each other, defined once.

:class:`ExportConfig` is everything ``python -m export`` can be told; the command line takes its
defaults from these fields. The other classes are the results the stages of
:func:`export.run_export` return, in the order they run:

::

    ExportConfig ─► PreparedData ─► (fitted Pipeline, SearchRecord) ─► metrics ─► ConvertedModel
                 ─► ParityReport ─► ExportResult

This module imports nothing from the training side (the annotations naming pandas, numpy and
scikit-learn types are strings), so the command line can read the defaults without the export extra.

>>> ExportConfig().seed, ExportConfig().output
(42, PosixPath('models'))
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import runtime

from ._errors import ExportError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

__all__ = [
    "DEFAULT_ESTIMATORS",
    "ConvertedModel",
    "Destination",
    "ExportConfig",
    "ExportResult",
    "HeldOut",
    "ParityReport",
    "PreparedData",
    "TableSpec",
    "check_options",
    "config_from_record",
    "config_record",
]


# The estimator of each task when --estimator is not given (export._pipeline.ESTIMATORS builds them).
DEFAULT_ESTIMATORS: dict[str, str] = {
    "binary_classification": "random_forest",
    "multiclass_classification": "random_forest",
    "regression": "random_forest_regressor",
}


@dataclasses.dataclass
class ExportConfig:
    """Everything ``python -m export`` can be told. ``data=None`` uses the built-in demo set."""

    data: Path | None = None
    target: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    # columns a hard column check (ID-like, leakage) may not refuse: kept on purpose
    allow_columns: tuple[str, ...] = ()
    schema: Path | None = None
    # CSV dialect of --data: field delimiter and decimal mark ("," for 3,5)
    delimiter: str = ","
    decimal: str = "."
    # inferred valid ranges are widened by this share of the training span on each side
    range_margin: float = 0.10
    # "binary" | "multiclass" | "regression"; None: from the target (export._data.detect_task)
    task: str | None = None
    # None: the task's default (DEFAULT_ESTIMATORS)
    estimator: str | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    pipeline: str | None = None
    tune: bool = False
    scoring: str | None = None  # --tune's scikit-learn scorer (default: export._train.TUNING_SCORING)
    class_weight: str | None = None  # "balanced"
    threshold: str | None = None  # "auto" or a probability, e.g. "0.3" (export._threshold)
    objective: str | None = None  # what --threshold auto tunes for (default f1)
    name: str | None = None
    version: str | None = None
    # export the next major version: the only way (besides a new --name) to change the interface
    major: bool = False
    output: Path = Path("models")
    seed: int = 42
    test_size: float = 0.2
    compress: int = 3
    demo_rows: int = 20_000
    description: str | None = None
    measure: bool = True
    max_memory_mb: float | None = None  # MiB of peak RSS; named as the manifest's peak_rss_mb
    max_latency_us: float | None = None
    # EC P-256 private key (PEM) to sign the bundle with: model.sig, written after every other file
    sign_key: Path | None = None
    # export a model that fails the quality gate (export._gate) anyway; the checklist says so
    allow_weak: bool = False

    @property
    def demo(self) -> bool:
        """True when the export trains on the built-in demo data set."""
        return self.data is None


def check_options(config: ExportConfig) -> None:
    """Refuse option combinations that cannot work, before any data is read."""
    if config.pipeline and (config.estimator is not None or config.params):
        raise ExportError("--pipeline replaces --estimator and --param; pass one or the other")
    if config.major and config.version:
        raise ExportError("--major picks the next major version itself; pass --major or --version, not both")
    if not 0 <= config.range_margin <= 10:
        raise ExportError(f"--range-margin {config.range_margin!r} must be between 0 and 10 (a share of the span)")
    if config.delimiter == config.decimal:
        raise ExportError(f"--delimiter and --decimal are both {config.delimiter!r}; they must differ")
    if not config.measure and (config.max_memory_mb is not None or config.max_latency_us is not None):
        raise ExportError(
            "a device budget (--max-memory-mb, --max-latency-us) needs the measurements: drop --no-measure"
        )


def config_record(config: ExportConfig) -> dict[str, Any]:
    """The ExportConfig as plain values, so ``export check`` can rebuild the same split.

    >>> config_record(ExportConfig(drop=("id",)))["drop"]
    ['id']
    """
    record = dataclasses.asdict(config)
    for key, value in record.items():
        if isinstance(value, Path):
            record[key] = str(value)
        elif isinstance(value, tuple):
            record[key] = list(value)
    return record


def config_from_record(record: dict[str, Any]) -> ExportConfig:
    """The inverse of :func:`config_record`; keys this version does not know are ignored.

    >>> config_from_record(config_record(ExportConfig(seed=7))) == ExportConfig(seed=7)
    True
    """
    fields = {f.name for f in dataclasses.fields(ExportConfig)}
    values = {k: v for k, v in record.items() if k in fields}
    for key in ("data", "schema", "output", "sign_key"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    for key in ("numeric", "categorical", "drop", "allow_columns"):
        values[key] = tuple(values.get(key) or ())
    return ExportConfig(**values)


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where the bundle goes: ``<output>/<name>/<version>``, beside its model folder's ``CURRENT``."""

    name: str
    model_folder: Path
    version: str

    @property
    def bundle(self) -> Path:
        return self.model_folder / self.version

    @property
    def joblib_path(self) -> Path:
        """The joblib twin: beside the bundle, never in it."""
        return self.model_folder / f"{self.version}.joblib"


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """Which columns are features of which kind, and the target."""

    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


@dataclasses.dataclass
class PreparedData:
    """The labelled data, its column split and the train/test split, as the export used them."""

    spec: TableSpec
    features: pd.DataFrame
    y: np.ndarray
    task: str
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    summary: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """The fitted model's predictions on the held-out split, for the metrics, the quality gate and
    the report's charts; never written into the bundle. ``probabilities`` follow ``classes``."""

    truth: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray | None = None
    classes: tuple[Any, ...] | None = None


@dataclasses.dataclass(frozen=True)
class ConvertedModel:
    """The ONNX graph as the bundle will hold it, and its shape (operators, trees, opsets)."""

    onnx_bytes: bytes
    summary: dict[str, Any]


@dataclasses.dataclass
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
    notes: list[str] = dataclasses.field(default_factory=list)
    # scikit-learn's outputs for a few cases of each kind: replayed by the device at every load
    golden: list[runtime.GoldenCase] = dataclasses.field(default_factory=list)
    # graph file -> its own figures, when the proof ran on more than one graph (export._parity.graphs)
    graphs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    golden_graph: str | None = None
    # a regressor's proof compares values only: it has no labels to mismatch (not in the manifest: its task says so)
    classifier: bool = True

    @property
    def mismatch_phrase(self) -> str:
        """``"3 label mismatches, "`` for a classifier; empty for a regressor, which has no labels."""
        return f"{self.label_mismatches} label mismatches, " if self.classifier else ""

    def summary(self) -> runtime.ParitySummary:
        """The manifest's ``parity`` section: everything but the worst cases and the golden cases."""
        return runtime.ParitySummary.from_dict(self._summary_dict())

    def to_dict(self) -> dict[str, Any]:
        """``parity.json``: the summary, each graph's figures and the worst cases."""
        by_graph = {"by_graph": self.graphs} if self.graphs else {}
        return {**self._summary_dict(), **by_graph, "worst": self.worst}

    def _summary_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "total_cases": self.total_cases,
            "label_mismatches": self.label_mismatches,
            "max_abs_diff": self.max_abs_diff,
            "ties": self.ties,
            "kinds": self.kinds,
            "notes": self.notes,
            **({"graphs": list(self.graphs), "golden_graph": self.golden_graph} if self.graphs else {}),
        }


@dataclasses.dataclass
class ExportResult:
    """What an export produced, for the CLI summary and the documents."""

    config: ExportConfig
    manifest: runtime.Manifest
    bundle: Path
    joblib_path: Path
    pipeline: Pipeline
    parity: ParityReport
    metrics: dict[str, Any]
    search: dict[str, Any] | None
    joblib_report: list[dict[str, Any]]
    data_summary: dict[str, Any]
    onnx_summary: dict[str, Any]
    documents: list[Path]
    timings: dict[str, float]
    # the column checks' findings (export._column_checks.Finding.to_dict): warnings and allowed hard cases
    column_findings: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # with --threshold: scikit-learn's threshold classifier around ``pipeline`` (what it labels with),
    # and how the threshold was found with its held-out effect (export._train.FittedModel)
    classifier: Any = None
    threshold: dict[str, Any] | None = None
    # the held-out predictions behind the metrics: the report draws its PR curve and residuals from them
    held_out: HeldOut | None = None
