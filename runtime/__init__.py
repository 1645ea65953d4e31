"""factory-edge runtime: verify a model bundle, validate inputs, predict. Needs only numpy and onnxruntime.

>>> import runtime
>>> model = runtime.load("models/quality")  # doctest: +SKIP
>>> model.predict(record).label  # doctest: +SKIP
"""

from ._errors import BundleError, FactoryEdgeError, InputError, SchemaVersionError
from ._evidence import (
    Budget,
    CategoryReference,
    DriftReference,
    Latency,
    Metrics,
    NumberReference,
    ParityKind,
    ParitySummary,
    Performance,
    PredictionReference,
    Training,
)
from ._manifest import SCHEMA_VERSION, ColumnSpec, Decision, FileSpec, GoldenCase, Manifest, OutputSpec
from ._model import BatchPrediction, Model, Prediction, RejectedRow, load, session_options
from ._signature import SignatureCheck

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "BatchPrediction",
    "Budget",
    "BundleError",
    "CategoryReference",
    "ColumnSpec",
    "Decision",
    "DriftReference",
    "FactoryEdgeError",
    "FileSpec",
    "GoldenCase",
    "InputError",
    "Latency",
    "Manifest",
    "Metrics",
    "Model",
    "NumberReference",
    "OutputSpec",
    "ParityKind",
    "ParitySummary",
    "Performance",
    "Prediction",
    "PredictionReference",
    "RejectedRow",
    "SchemaVersionError",
    "SignatureCheck",
    "Training",
    "load",
    "session_options",
]
