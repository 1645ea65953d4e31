"""The runtime's public surface is small and deliberate (STYLE 3)."""

from __future__ import annotations

import runtime


def test_public_names():
    assert sorted(runtime.__all__) == sorted(
        [
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
    )
    assert isinstance(runtime.SCHEMA_VERSION, int)
    for name in set(runtime.__all__) - {"SCHEMA_VERSION"}:
        defined_in = getattr(runtime, name).__module__
        assert defined_in.startswith("runtime._"), f"{name} comes from {defined_in}, not from the runtime's own modules"


def test_errors_are_rooted_in_builtins():
    assert issubclass(runtime.InputError, ValueError)
    assert issubclass(runtime.BundleError, ValueError)
    assert issubclass(runtime.SchemaVersionError, runtime.BundleError)
    for error in (runtime.InputError, runtime.BundleError):
        assert issubclass(error, runtime.FactoryEdgeError)
