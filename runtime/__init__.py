"""factory-edge runtime: verify a model bundle, validate inputs, predict. Needs only numpy and onnxruntime.

>>> import runtime
>>> model = runtime.load("models/quality")  # doctest: +SKIP
>>> model.predict(record).label  # doctest: +SKIP
"""

from ._errors import BundleError, FactoryEdgeError, InputError, SchemaVersionError
from ._manifest import SCHEMA_VERSION, ColumnSpec, FileSpec, GoldenCase, Manifest, OutputSpec
from ._model import BatchPrediction, Model, Prediction, RejectedRow, load, session_options

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "BatchPrediction",
    "BundleError",
    "ColumnSpec",
    "FactoryEdgeError",
    "FileSpec",
    "GoldenCase",
    "InputError",
    "Manifest",
    "Model",
    "OutputSpec",
    "Prediction",
    "RejectedRow",
    "SchemaVersionError",
    "load",
    "session_options",
]
