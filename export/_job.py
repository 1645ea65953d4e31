"""The export job: data -> fitted Pipeline -> ONNX -> parity proof -> versioned bundle.

:func:`run_export` is what ``python -m export`` calls; every step reports through ``progress``.
The bundle is built in a staging folder beside the model folder, renamed into place only when
complete, loaded back through :func:`runtime.load` (hash, signature and golden cases), and only then
does ``CURRENT`` move, by an atomic replace. A failed parity proof raises :class:`ParityError`
before anything is written where a device could pick it up.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd
import sklearn
from sklearn.base import is_regressor
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import (
    CLASSIFICATION_TOLERANCE,
    LABEL_TIE_TOLERANCE,
    MANIFEST_FILE,
    MODEL_FILE,
    REGRESSION_TOLERANCE,
    is_semver,
    semver_key,
    write_current,
)

from ._convert import describe_onnx, to_onnx
from ._data import (
    DEMO_NUMERIC_RANGES,
    DEMO_TARGET,
    RANGE_MARGIN,
    TableSpec,
    infer_spec,
    load_table,
    make_demo_data,
    prepare_frame,
    read_schema_file,
)
from ._errors import BudgetError, ExportError, ParityError
from ._metrics import evaluate, unconstrained_reference
from ._parity import (
    ParityReport,
    generate_cases,
    run_parity,
)
from ._pipeline import TUNING_GRIDS, build_pipeline, is_regression, load_user_pipeline
from ._reference import input_json_schema

__all__ = ["ExportConfig", "ExportResult", "run_export", "next_version"]

logger = logging.getLogger(__name__)

JOBLIB_LEVELS = (0, 3, 9)


@dataclasses.dataclass
class ExportConfig:
    """Everything ``python -m export`` can be told. ``data=None`` uses the built-in demo set."""

    data: Path | None = None
    target: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    schema: Path | None = None
    estimator: str = "random_forest"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    pipeline: str | None = None
    tune: bool = False
    name: str | None = None
    version: str | None = None
    output: Path = Path("models")
    seed: int = 42
    test_size: float = 0.2
    compress: int = 3
    demo_rows: int = 20_000
    description: str | None = None
    measure: bool = True
    max_memory_mb: float | None = None
    max_latency_us: float | None = None


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


def next_version(model_folder: Path) -> str:
    """1.0.0 for a new model, else the highest existing version with its patch number raised."""
    existing = (
        [p.name for p in model_folder.iterdir() if p.is_dir() and is_semver(p.name)] if model_folder.is_dir() else []
    )
    if not existing:
        return "1.0.0"
    major, minor, patch, _, _ = semver_key(max(existing, key=semver_key))
    return f"{major}.{minor}.{patch + 1}"


def _library_versions() -> dict[str, str]:
    import onnx
    import skl2onnx

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": ort.__version__,
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
        "factory-edge": runtime.__version__,
    }


def _fingerprint(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _load_data(config: ExportConfig) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    if config.data is None:
        frame = make_demo_data(config.demo_rows, config.seed)
        return (
            frame,
            config.target or DEMO_TARGET,
            {"source": f"built-in demo data set ({config.demo_rows} rows, seed {config.seed})"},
        )
    if not config.target:
        raise ExportError("--target COLUMN is required with --data")
    return load_table(config.data), config.target, {"source": str(config.data)}


def _nullable(name: str, declared: dict[str, Any], missing: int) -> bool:
    """Missing values are allowed where training had them, unless a schema file says otherwise."""
    if "nullable" not in declared:
        return missing > 0
    if not isinstance(declared["nullable"], bool):
        raise ExportError(f"schema file: {name!r} nullable == {declared['nullable']!r}, must be true or false")
    if not declared["nullable"] and missing:
        raise ExportError(
            f"the schema file says {name!r} is never missing, but {missing} training rows have it missing: "
            "fill or drop those rows, or declare the column nullable"
        )
    return declared["nullable"]


def _column_specs(
    spec: TableSpec, features: pd.DataFrame, schema: dict[str, dict[str, Any]], demo: bool
) -> tuple[runtime.ColumnSpec, ...]:
    columns = []
    for name in spec.features:
        declared = schema.get(name, {})
        description = declared.get("description")
        if name in spec.numeric:
            values = features[name].to_numpy(dtype=np.float64)
            nullable = _nullable(name, declared, int(np.isnan(values).sum()))
            if "valid_range" in declared:
                low, high = (float(v) for v in declared["valid_range"])
                source = "the schema file"
            elif demo and name in DEMO_NUMERIC_RANGES:
                low, high = DEMO_NUMERIC_RANGES[name]
                source = "the demo data's physical sensor limits"
            else:
                present = values[~np.isnan(values)]
                span = float(present.max() - present.min()) if len(present) else 0.0
                margin = RANGE_MARGIN * span if span > 0 else max(1.0, abs(float(present.max())) * RANGE_MARGIN)
                low, high = float(present.min()) - margin, float(present.max()) + margin
                source = f"training data min/max widened by {RANGE_MARGIN:.0%} of the span"
                if len(present) and present.min() >= 0 > low:
                    # a quantity never negative in training (wear, counts, speeds) stays non-negative
                    low = 0.0
                    source += ", not below 0"
            present = values[~np.isnan(values)]
            outside = int(((present < low) | (present > high)).sum())
            if outside:
                raise ExportError(
                    f"{outside} training values of {name!r} lie outside its valid range [{low}, {high}] "
                    f"from {source}: widen the range or clean the data"
                )
            columns.append(runtime.ColumnSpec(name, "number", nullable, name, (low, high), source, None, description))
        else:
            text = features[name].to_numpy(dtype=object)
            nullable = _nullable(name, declared, int((text == "").sum()))
            categories = tuple(sorted({str(v) for v in text if v != ""}))
            columns.append(runtime.ColumnSpec(name, "category", nullable, name, None, None, categories, description))
    return tuple(columns)


def _joblib_report(payload: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """Size and save/load time of the joblib file per compression level (median of 3 loads)."""
    rows = []
    for level in JOBLIB_LEVELS:
        path = folder / f"probe-{level}.joblib"
        start = time.perf_counter()
        joblib.dump(payload, path, compress=level)
        saved = time.perf_counter() - start
        loads = []
        for _ in range(3):
            start = time.perf_counter()
            joblib.load(path)
            loads.append(time.perf_counter() - start)
        rows.append(
            {"compress": level, "bytes": path.stat().st_size, "save_s": saved, "load_s": float(np.median(loads))}
        )
        path.unlink()
    return rows


def _measure(bundle: Path, example: dict[str, Any]) -> dict[str, Any]:
    """Single-record latency in this process and the peak RSS of a fresh process (load + 1 predict)."""
    import subprocess

    model = runtime.load(bundle)
    for _ in range(200):
        model.predict(example)
    timings = []
    for _ in range(2000):
        start = time.perf_counter_ns()
        model.predict(example)
        timings.append(time.perf_counter_ns() - start)
    micro = np.asarray(timings) / 1000.0
    probe = (
        "import json, sys, time; t0 = time.perf_counter(); import runtime; "
        "m = runtime.load(sys.argv[1]); m.predict(json.loads(sys.argv[2])); t1 = time.perf_counter(); "
        "from runtime._process import peak_rss_mb; "
        "print(json.dumps({'peak_rss_mb': peak_rss_mb(), 'load_and_first_prediction_s': t1 - t0}))"
    )
    runs = []
    for _ in range(3):
        output = subprocess.run(
            [sys.executable, "-c", probe, str(bundle), json.dumps(example)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(runtime.__file__).parent.parent,
        )
        runs.append(json.loads(output.stdout))
    return {
        "single_record_latency_us": {
            "p50": float(np.percentile(micro, 50)),
            "p90": float(np.percentile(micro, 90)),
            "p99": float(np.percentile(micro, 99)),
            "calls": len(micro),
        },
        "peak_rss_mb": float(np.median([r["peak_rss_mb"] for r in runs])),
        "load_and_first_prediction_s": float(np.median([r["load_and_first_prediction_s"] for r in runs])),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "threads": 1,
        "note": "measured by the export on the export machine; medians of 3 fresh processes for memory",
    }


def _config_record(config: ExportConfig) -> dict[str, Any]:
    """The ExportConfig as plain values, so ``export check`` can rebuild the same split."""
    record = dataclasses.asdict(config)
    for key, value in record.items():
        if isinstance(value, Path):
            record[key] = str(value)
        elif isinstance(value, tuple):
            record[key] = list(value)
    return record


def config_from_record(record: dict[str, Any]) -> ExportConfig:
    fields = {f.name for f in dataclasses.fields(ExportConfig)}
    values = {k: v for k, v in record.items() if k in fields}
    for key in ("data", "schema", "output"):
        if values.get(key) is not None:
            values[key] = Path(values[key])
    for key in ("numeric", "categorical", "drop"):
        values[key] = tuple(values.get(key) or ())
    return ExportConfig(**values)


def check_budget(
    performance: dict[str, Any], max_memory_mb: float | None, max_latency_us: float | None
) -> dict[str, Any]:
    """Compare the measured figures with the device budget; raise :class:`BudgetError` on a miss."""
    budget: dict[str, Any] = {"max_memory_mb": max_memory_mb, "max_latency_us": max_latency_us}
    measured = {
        "peak RSS": (performance["peak_rss_mb"], max_memory_mb, "MB"),
        "single-record p50 latency": (performance["single_record_latency_us"]["p50"], max_latency_us, "µs"),
    }
    misses = [
        f"{label} {value:,.1f} {unit} exceeds the budget of {limit:,.1f} {unit} by {value - limit:,.1f} {unit} "
        f"({value / limit - 1:.0%})"
        for label, (value, limit, unit) in measured.items()
        if limit is not None and value > limit
    ]
    if misses:
        raise BudgetError(
            "the bundle misses the device budget: " + "; ".join(misses) + ". Shrink the model (e.g. "
            "--param max_depth=10 or min_samples_leaf=5) or raise the budget; the current version was not changed."
        )
    budget["met"] = max_memory_mb is not None or max_latency_us is not None
    return budget


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


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


def prepare_data(config: ExportConfig, *, regression: bool) -> PreparedData:
    """Load, type and split the data deterministically (``export check`` repeats this exactly)."""
    raw, target, summary = _load_data(config)
    spec = infer_spec(raw, target, numeric=config.numeric, categorical=config.categorical, drop=config.drop)
    labelled = raw[raw[target].notna()].reset_index(drop=True)
    features = prepare_frame(labelled, spec)
    y = labelled[target].to_numpy()
    task = (
        "regression"
        if regression
        else ("binary_classification" if len(np.unique(y)) == 2 else "multiclass_classification")
    )
    stratify = y if task != "regression" and pd.Series(y).value_counts().min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        features, y, test_size=config.test_size, random_state=config.seed, stratify=stratify
    )
    summary.update(
        rows=int(len(raw)),
        rows_without_target=int(len(raw) - len(labelled)),
        train_rows=int(len(x_train)),
        test_rows=int(len(x_test)),
        target=target,
        numeric=list(spec.numeric),
        categorical=list(spec.categorical),
        dropped=list(spec.dropped),
        fingerprint_sha256=_fingerprint(labelled),
        test_size=config.test_size,
        seed=config.seed,
    )
    return PreparedData(
        spec, features, y, task, x_train.reset_index(drop=True), x_test.reset_index(drop=True), y_train, y_test, summary
    )


def _fit(
    pipeline: Pipeline,
    config: ExportConfig,
    task: str,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    progress: Callable[[str], None],
) -> tuple[Pipeline, dict[str, Any] | None]:
    """Fit the Pipeline, or grid-search it with --tune; returns the fitted Pipeline and the search record."""
    if not config.tune:
        progress(f"training: {type(pipeline.steps[-1][1]).__name__} on {len(x_train):,} rows")
        return pipeline.fit(x_train, y_train), None
    grid = TUNING_GRIDS.get(config.estimator) if not config.pipeline else None
    if not grid:
        raise ExportError(f"--tune has no grid for {config.pipeline or config.estimator!r}")
    progress(f"tuning: GridSearchCV over {grid} (3-fold)")
    scoring = "r2" if task == "regression" else "accuracy"
    searcher = GridSearchCV(pipeline, grid, cv=3, scoring=scoring, n_jobs=1, refit=True)
    searcher.fit(x_train, y_train)
    search = {
        "grid": {
            k: [v if v is None or isinstance(v, (int, float, str)) else str(v) for v in vs] for k, vs in grid.items()
        },
        "cv": 3,
        "scoring": scoring,
        "best_params": searcher.best_params_,
        "best_score": float(searcher.best_score_),
        "candidates": [
            {"params": params, "mean_score": float(mean), "std_score": float(std)}
            for params, mean, std in zip(
                searcher.cv_results_["params"],
                searcher.cv_results_["mean_test_score"],
                searcher.cv_results_["std_test_score"],
            )
        ],
    }
    return searcher.best_estimator_, search


def run_export(config: ExportConfig, progress: Callable[[str], None] = lambda message: None) -> ExportResult:
    """Run the whole export; see the module docstring for the order of things and guarantees."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if config.pipeline and (config.estimator != "random_forest" or config.params):
        raise ExportError("--pipeline replaces --estimator and --param; pass one or the other")
    if not config.measure and (config.max_memory_mb is not None or config.max_latency_us is not None):
        raise ExportError(
            "a device budget (--max-memory-mb, --max-latency-us) needs the measurements: drop --no-measure"
        )
    user_pipeline = load_user_pipeline(config.pipeline) if config.pipeline else None
    regression = is_regressor(user_pipeline.steps[-1][1]) if user_pipeline else is_regression(config.estimator)
    data = prepare_data(config, regression=regression)
    spec, features, data_summary = data.spec, data.features, data.summary
    x_train, x_test, y_train, y_test = data.x_train, data.x_test, data.y_train, data.y_test
    demo = config.data is None
    schema = read_schema_file(config.schema) if config.schema else {}
    name = config.name or (
        "quality"
        if demo
        else "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(str(config.data)).stem).lower()
    )
    model_folder = config.output / name
    version = config.version or next_version(model_folder)
    if not is_semver(version):
        raise ExportError(f"--version {version!r} is not a semantic version like 1.0.0")
    if (model_folder / version).exists():
        raise ExportError(f"{model_folder / version} exists: versions are never overwritten; pass a new --version")

    pipeline = user_pipeline or build_pipeline(spec, config.estimator, seed=config.seed, params=config.params)
    task = data.task
    columns = _column_specs(spec, features, schema, demo)

    start = time.perf_counter()
    pipeline, search = _fit(pipeline, config, task, x_train, y_train, progress)
    timings["train_s"] = time.perf_counter() - start

    progress("metrics: held-out split, permutation importance")
    start = time.perf_counter()
    metrics = evaluate(pipeline, x_test, y_test, task=task, seed=config.seed)
    size_check = unconstrained_reference(pipeline, x_train, y_train, x_test, y_test, task=task)
    if size_check is not None:
        metrics["versus_unconstrained"] = size_check
    timings["metrics_s"] = time.perf_counter() - start

    progress("converting to ONNX")
    start = time.perf_counter()
    n_features = int(np.asarray(pipeline[:-1].transform(x_train.iloc[:2])).shape[1])
    onnx_model = to_onnx(pipeline, spec, n_features)
    onnx_bytes = onnx_model.SerializeToString()
    onnx_summary = describe_onnx(onnx_model)
    timings["convert_s"] = time.perf_counter() - start

    classes = (
        tuple(c.item() if isinstance(c, np.generic) else c for c in pipeline.classes_) if task != "regression" else None
    )
    outputs = runtime.OutputSpec(probabilities="probabilities") if classes else runtime.OutputSpec(value="value")
    tolerance = CLASSIFICATION_TOLERANCE if classes else REGRESSION_TOLERANCE
    created_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    manifest = runtime.Manifest(
        name=name,
        version=version,
        created_at=created_at,
        task=task,
        inputs=columns,
        outputs=outputs,  # type: ignore[arg-type]
        model_file=runtime.FileSpec(MODEL_FILE, hashlib.sha256(onnx_bytes).hexdigest(), len(onnx_bytes)),
        classes=classes,
        target=spec.target,
        tolerance=tolerance,
        label_tie_tolerance=LABEL_TIE_TOLERANCE,
        libraries=_library_versions(),
        description=config.description
        or (
            "Predicts whether a moulded part is defective from process sensors, machine type and shift."
            if demo
            else f"Predicts {spec.target!r} from {len(columns)} columns of {data_summary['source']}."
        ),
    )

    progress("parity: building hard cases")
    start = time.perf_counter()
    # The proof runs with the device's default session options (one thread): the same summation
    # order the device will use.
    session = ort.InferenceSession(
        onnx_bytes, sess_options=runtime.session_options(), providers=["CPUExecutionProvider"]
    )
    device = runtime.Model(manifest, session, Path("."), on_unknown="flag")
    ranges = {c.name: c.valid_range for c in columns if c.valid_range is not None}
    nullable = {c.name: c.nullable for c in columns}
    sets = generate_cases(
        pipeline, spec, x_train, x_test, nullable=nullable, ranges=ranges, seed=config.seed, progress=progress
    )
    parity = run_parity(pipeline, device, sets, tolerance=tolerance, progress=progress)
    timings["parity_s"] = time.perf_counter() - start
    if not parity.passed:
        rejected = model_folder / ".rejected" / version
        rejected.mkdir(parents=True, exist_ok=True)
        _write_json(rejected / "parity.json", parity.to_dict())
        raise ParityError(parity, rejected / "parity.json")

    predicted = device.predict_batch(x_test, on_unknown="flag")
    reference = runtime.DriftReference.build(
        {
            column.name: x_train[column.name].to_numpy(dtype=np.float64 if column.kind == "number" else object)
            for column in columns
        },
        {column.name: column.categories for column in columns},
        predicted_labels=predicted.labels,
        classes=classes,
        predicted_values=predicted.values,
    )
    training = {
        **data_summary,
        "estimator": type(pipeline.steps[-1][1]).__name__,
        "estimator_params": {
            k: v
            for k, v in pipeline.steps[-1][1].get_params().items()
            if v is None or isinstance(v, (int, float, str, bool))
        },
        "pipeline": config.pipeline,
        "tuning": search,
    }
    manifest = dataclasses.replace(
        manifest,
        metrics=runtime.Metrics.from_dict(metrics),
        parity=runtime.ParitySummary.from_dict(parity.summary()),
        drift_reference=reference,
        golden_cases=tuple(parity.golden),
        training=runtime.Training.from_dict(training),
    )

    model_folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{version}-", dir=model_folder))
    try:
        (staging / MODEL_FILE).write_bytes(onnx_bytes)
        example = parity.golden[0].inputs
        _write_json(staging / MANIFEST_FILE, manifest.to_dict())
        if config.measure:
            progress("measuring single-record latency and memory")
            performance = _measure(staging, example)
            performance["budget"] = check_budget(performance, config.max_memory_mb, config.max_latency_us)
            manifest = dataclasses.replace(manifest, performance=runtime.Performance.from_dict(performance))
            _write_json(staging / MANIFEST_FILE, manifest.to_dict())
        example_output = runtime.load(staging).predict(example)
        _write_json(staging / "input_schema.json", input_json_schema(manifest))
        _write_json(staging / "example_input.json", example)
        _write_json(
            staging / "example_output.json",
            {
                "label": example_output.label,
                "probabilities": {str(k): v for k, v in (example_output.probabilities or {}).items()} or None,
                "value": example_output.value,
                "model": example_output.model,
                "version": example_output.version,
            },
        )
        _write_json(staging / "parity.json", parity.to_dict())
        (staging / "requirements-device.txt").write_text(
            "# The versions this bundle's parity proof ran with. Install on the device with:\n"
            "#   pip install -r requirements-device.txt  (then the factory-edge runtime itself)\n"
            f"numpy=={np.__version__}\nonnxruntime=={ort.__version__}\n",
            encoding="utf-8",
        )

        joblib_path = model_folder / f"{version}.joblib"
        payload = {
            "pipeline": pipeline,
            "metadata": {
                "name": name,
                "version": version,
                "created_at": created_at,
                "libraries": manifest.libraries,
                "python": sys.version,
                "data_fingerprint_sha256": data_summary["fingerprint_sha256"],
                "metrics": metrics,
                "spec": dataclasses.asdict(spec),
                "task": task,
                "onnx_sha256": manifest.model_file.sha256,
                "export_config": _config_record(config),
            },
        }
        progress("saving the Pipeline with joblib")
        probe_folder = Path(tempfile.mkdtemp(prefix=".joblib-probe-", dir=model_folder))
        try:
            joblib_report = _joblib_report(payload, probe_folder)
        finally:
            shutil.rmtree(probe_folder, ignore_errors=True)
        joblib.dump(payload, joblib_path, compress=config.compress)

        result = ExportResult(
            config=config,
            manifest=manifest,
            bundle=model_folder / version,
            joblib_path=joblib_path,
            pipeline=pipeline,
            parity=parity,
            metrics=metrics,
            search=search,
            joblib_report=joblib_report,
            data_summary=data_summary,
            onnx_summary=onnx_summary,
            documents=[],
            timings=timings,
        )
        from ._documents import write_documents

        result.documents = [model_folder / version / p.name for p in write_documents(staging, result)]
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700
        os.replace(staging, model_folder / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # The finished folder must load and self-test before any device is pointed at it.
    runtime.load(model_folder / version)
    write_current(model_folder, version)
    timings["total_s"] = time.perf_counter() - started
    return result
