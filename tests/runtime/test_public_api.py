"""The runtime's public surface is small and deliberate (STYLE 3)."""

from __future__ import annotations

import runtime


def test_public_names():
    assert sorted(runtime.__all__) == sorted(
        [
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
    )
    for name in runtime.__all__:
        assert getattr(runtime, name) is not None


def test_errors_are_rooted_in_builtins():
    assert issubclass(runtime.InputError, ValueError)
    assert issubclass(runtime.BundleError, ValueError)
    assert issubclass(runtime.SchemaVersionError, runtime.BundleError)
    for error in (runtime.InputError, runtime.BundleError):
        assert issubclass(error, runtime.FactoryEdgeError)
