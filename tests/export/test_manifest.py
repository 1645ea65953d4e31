"""The manifest stage: built through the runtime's typed sections, and read back unchanged."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export._manifest import DEMO_DESCRIPTION, library_versions  # noqa: E402


def test_the_written_manifest_reads_back_as_the_exported_one(tiny_export):
    written = json.loads((tiny_export.bundle / "manifest.json").read_text())
    assert runtime.Manifest.from_dict(written) == tiny_export.manifest
    assert written == json.loads(json.dumps(tiny_export.manifest.to_dict()))


def test_interface_and_provenance(tiny_export, tiny_data):
    manifest = tiny_export.manifest
    assert (manifest.name, manifest.version, manifest.task) == ("quality", "1.0.0", "binary_classification")
    assert manifest.classes == (0, 1) and manifest.outputs.probabilities == "probabilities"
    assert manifest.tolerance == 1e-9 and manifest.description == DEMO_DESCRIPTION
    assert set(manifest.libraries) == set(library_versions())
    assert manifest.model_file.size == (tiny_export.bundle / "model.onnx").stat().st_size


def test_evidence_sections(tiny_export, tiny_data):
    manifest = tiny_export.manifest
    assert manifest.parity == tiny_export.parity.summary() and manifest.parity.passed
    assert manifest.golden_cases == tuple(tiny_export.parity.golden)
    training = manifest.training
    assert training.estimator == "RandomForestClassifier" and training.estimator_params["max_depth"] == 4
    assert (
        training.train_rows == len(tiny_data.x_train)
        and training.fingerprint_sha256 == tiny_data.summary["fingerprint_sha256"]
    )
    reference = manifest.drift_reference
    assert reference.rows == len(tiny_data.x_train) and list(reference.columns) == list(tiny_data.spec.features)
    assert len(reference.columns["temperature"].bin_edges) == 9
    assert set(reference.columns["machine_type"].shares) == {"A", "B", "C"}
    assert reference.predictions is not None and set(reference.predictions.shares) == {"0", "1"}
    assert not manifest.performance.measured  # measure=False
