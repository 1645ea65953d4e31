"""The bundle's manifest, assembled from the stages' results through the runtime's own types.

The export never writes the manifest by hand: :class:`runtime.Manifest` and its typed sections
(:class:`runtime.Metrics`, :class:`runtime.ParitySummary`, :class:`runtime.Training`,
:class:`runtime.DriftReference`, :class:`runtime.Performance`) are built here and serialised only by
their ``to_dict``. Two steps, because the parity proof needs a manifest before there is evidence:

1. :func:`draft_manifest`: the interface (columns, outputs, classes, the model file's hash) and
   where the model came from; enough for :class:`runtime.Model` to run the graph.
2. :func:`with_evidence`: the metrics, the parity summary, the golden cases, the training record
   and the drift reference, once the proof has passed. Performance is added by the job after it
   is measured on the staging folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import platform
from typing import Any, cast

import joblib
import numpy as np
import onnxruntime as ort
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import CLASSIFICATION_TOLERANCE, LABEL_TIE_TOLERANCE, MODEL_FILE, REGRESSION_TOLERANCE

from ._config import ConvertedModel, Destination, ExportConfig, ParityReport, PreparedData

__all__ = ["DEMO_DESCRIPTION", "draft_manifest", "library_versions", "with_evidence"]

DEMO_DESCRIPTION = "Predicts whether a moulded part is defective from process sensors, machine type and shift."
PREDICTIONS_SOURCE = "held-out split"


def library_versions() -> dict[str, str]:
    """The versions of everything that produced or checked the bundle."""
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


def draft_manifest(
    config: ExportConfig,
    where: Destination,
    data: PreparedData,
    columns: tuple[runtime.ColumnSpec, ...],
    pipeline: Pipeline,
    converted: ConvertedModel,
) -> runtime.Manifest:
    """The manifest without evidence: what the device needs to validate inputs and run the graph."""
    classes = (
        tuple(c.item() if isinstance(c, np.generic) else c for c in pipeline.classes_)
        if data.task != "regression"
        else None
    )
    outputs = runtime.OutputSpec(probabilities="probabilities") if classes else runtime.OutputSpec(value="value")
    onnx_bytes = converted.onnx_bytes
    description = config.description or (
        DEMO_DESCRIPTION
        if config.demo
        else f"Predicts {data.spec.target!r} from {len(columns)} columns of {data.summary['source']}."
    )
    return runtime.Manifest(
        name=where.name,
        version=where.version,
        created_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        task=cast(Any, data.task),  # one of runtime's task names, checked by Manifest itself
        inputs=columns,
        outputs=outputs,
        model_file=runtime.FileSpec(MODEL_FILE, hashlib.sha256(onnx_bytes).hexdigest(), len(onnx_bytes)),
        classes=classes,
        target=data.spec.target,
        tolerance=CLASSIFICATION_TOLERANCE if classes else REGRESSION_TOLERANCE,
        label_tie_tolerance=LABEL_TIE_TOLERANCE,
        libraries=library_versions(),
        description=description,
    )


def with_evidence(
    manifest: runtime.Manifest,
    device: runtime.Model,
    data: PreparedData,
    pipeline: Pipeline,
    *,
    metrics: dict[str, Any],
    parity: ParityReport,
    search: dict[str, Any] | None,
    user_pipeline: str | None,
) -> runtime.Manifest:
    """The manifest with the evidence of a passed proof: metrics, parity, golden cases, training, drift."""
    return dataclasses.replace(
        manifest,
        metrics=runtime.Metrics.from_dict(metrics),
        parity=parity.summary(),
        drift_reference=drift_reference(device, data),
        golden_cases=tuple(parity.golden),
        training=training_record(data, pipeline, search, user_pipeline),
    )


def drift_reference(device: runtime.Model, data: PreparedData) -> runtime.DriftReference:
    """The training columns' distributions, and the device's predictions on the held-out split."""
    columns = device.manifest.inputs
    predicted = device.predict_batch(data.x_test, on_unknown="flag")
    return runtime.DriftReference.build(
        {
            column.name: data.x_train[column.name].to_numpy(dtype=np.float64 if column.kind == "number" else object)
            for column in columns
        },
        {column.name: column.categories for column in columns},
        predicted_labels=predicted.labels,
        classes=device.classes,
        predicted_values=predicted.values,
        source=PREDICTIONS_SOURCE,
    )


def training_record(
    data: PreparedData, pipeline: Pipeline, search: dict[str, Any] | None, user_pipeline: str | None
) -> runtime.Training:
    """Where the data came from and how it was split (``data.summary``), and what was fitted on it."""
    estimator = pipeline.steps[-1][1]
    return runtime.Training.from_dict(
        {
            **data.summary,
            "estimator": type(estimator).__name__,
            "estimator_params": {
                k: v for k, v in estimator.get_params().items() if v is None or isinstance(v, (int, float, str, bool))
            },
            "pipeline": user_pipeline,
            "tuning": search,
        }
    )
