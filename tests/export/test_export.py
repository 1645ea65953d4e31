"""The export end to end at demo size and on real data: bundle contents, determinism, other data and
estimators. Every test here trains real models (seconds to a minute each): all are marked slow; the
stages are tested fast, on the tiny export, in the other modules of this folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")

import export  # noqa: E402
import runtime  # noqa: E402
from export import ExportConfig, run_export  # noqa: E402
from export._config import ParityReport  # noqa: E402
from export._data import prepare_data  # noqa: E402
from tests.export.conftest import BUNDLE_FILES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AI4I = ROOT.parent / "shared" / "datasets" / "ai4i2020.csv"
AI4I_DROP = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF")
pytestmark = pytest.mark.slow
needs_ai4i = pytest.mark.skipif(not AI4I.is_file(), reason="shared/datasets/ai4i2020.csv is not beside the repo")


def _device_graph_exact(parity: ParityReport) -> None:
    """The device graph passed the full proof on its own: 0 label mismatches, within 1e-12 (issue 13)."""
    device = parity.graphs["device.onnx"]
    assert device["passed"] and device["label_mismatches"] == 0 and device["max_abs_diff"] <= 1e-12, device


def test_default_export_writes_a_complete_bundle(demo_export):
    bundle = demo_export.bundle
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES
    assert (bundle.parent / "CURRENT").read_text().strip() == bundle.name == "1.0.0"
    assert not any(p.suffix == ".joblib" for p in bundle.iterdir()), "the pickle must stay outside the bundle"
    assert demo_export.joblib_path.is_file()
    model = runtime.load(bundle.parent)
    manifest = model.manifest
    assert manifest.classes == (0, 1)
    assert [c.name for c in manifest.inputs] == [
        "temperature",
        "pressure",
        "speed",
        "humidity",
        "vibration",
        "machine_type",
        "shift",
    ]
    assert manifest.parity.passed and manifest.parity.label_mismatches == 0
    assert manifest.parity.max_abs_diff <= 1e-6
    _device_graph_exact(demo_export.parity)
    kinds = manifest.parity.kinds
    for kind in ("held-out", "threshold", "missing", "unknown-category", "range-boundary"):
        assert kinds[kind].cases > 0, kind
    assert kinds["threshold"].cases > 10 * kinds["held-out"].cases
    assert 0.88 <= manifest.metrics.accuracy <= 0.97
    reference = manifest.drift_reference.columns
    assert len(reference["temperature"].bin_edges) == 9 and len(reference["temperature"].quantiles) == 101
    assert set(reference["machine_type"].shares) == {"A", "B", "C"}
    assert manifest.libraries["onnxruntime"] and manifest.libraries["scikit-learn"]
    requirements = (bundle / "requirements-device.txt").read_text()
    assert f"onnxruntime=={manifest.libraries['onnxruntime']}" in requirements
    schema = json.loads((bundle / "input_schema.json").read_text())
    assert schema["required"] == list(model.columns) and schema["additionalProperties"] is False
    example = json.loads((bundle / "example_input.json").read_text())
    expected = json.loads((bundle / "example_output.json").read_text())
    assert model.predict(example).label == expected["label"]


def test_default_forest_is_size_limited_with_its_quality_cost_recorded(demo_export):
    check = demo_export.metrics["versus_unconstrained"]
    assert check["limits"] == {"max_depth": 10}
    assert set(check["difference_pp"]) == {"accuracy", "macro_f1"}
    assert check["within_bound"] == all(v >= -0.5 for v in check["difference_pp"].values())
    assert (
        "- Size: limited by `max_depth=10`; against the same forest grown fully"
        in (demo_export.bundle / "model_card.md").read_text()
    )


def test_same_seed_gives_a_byte_identical_model_and_never_overwrites(tmp_path):
    config = ExportConfig(output=tmp_path, demo_rows=3000, measure=False)
    first = run_export(config)
    second = run_export(config)
    assert (first.bundle.name, second.bundle.name) == ("1.0.0", "1.0.1")
    assert (first.bundle / "model.onnx").read_bytes() == (second.bundle / "model.onnx").read_bytes()
    assert (tmp_path / "quality" / "CURRENT").read_text().strip() == "1.0.1"
    with pytest.raises(export.ExportError, match="versions are never overwritten"):
        run_export(ExportConfig(output=tmp_path, demo_rows=3000, measure=False, version="1.0.0"))


@needs_ai4i
def test_ai4i_exports_with_column_names_unchanged(tmp_path):
    result = run_export(
        ExportConfig(data=AI4I, target="Machine failure", drop=AI4I_DROP, output=tmp_path, measure=False)
    )
    assert result.parity.passed and result.parity.label_mismatches == 0
    _device_graph_exact(result.parity)
    model = runtime.load(result.bundle)
    names = [
        "Type",
        "Air temperature [K]",
        "Process temperature [K]",
        "Rotational speed [rpm]",
        "Torque [Nm]",
        "Tool wear [min]",
    ]
    assert sorted(model.columns) == sorted(names)
    # the public graph keeps one input per column; the runtime runs the device graph (issue 13)
    import onnx

    graph_inputs = [node.name for node in onnx.load(result.bundle / "model.onnx").graph.input]
    assert sorted(graph_inputs) == sorted(names)
    assert model.graph_file == "device.onnx" and result.manifest.parity.graphs == ("model.onnx", "device.onnx")
    record = {
        "Type": "M",
        "Air temperature [K]": 298.1,
        "Process temperature [K]": 308.6,
        "Rotational speed [rpm]": 1551,
        "Torque [Nm]": 42.8,
        "Tool wear [min]": 0,
    }
    assert model.predict(record).label in (0, 1)
    assert result.bundle.parent.name == "ai4i2020-machine-failure"  # the file and the target


@needs_ai4i
@pytest.mark.parametrize(
    ("estimator", "params"), [("random_forest", {"n_estimators": 50}), ("hist_gradient_boosting", {"max_iter": 50})]
)
def test_multiclass_failure_mode_keeps_string_labels(tmp_path, estimator, params):
    import pandas as pd

    frame = pd.read_csv(AI4I)
    modes = np.array(["none"] * len(frame), dtype=object)
    for flag in ("TWF", "HDF", "PWF", "OSF", "RNF"):
        modes[(frame[flag] == 1) & (modes == "none")] = flag
    frame["Failure mode"] = modes
    path = tmp_path / "modes.parquet"
    frame.to_parquet(path)
    result = run_export(
        ExportConfig(
            data=path,
            target="Failure mode",
            drop=(*AI4I_DROP, "Machine failure"),
            output=tmp_path / "models",
            measure=False,
            estimator=estimator,
            params=params,
        )
    )
    assert result.manifest.task == "multiclass_classification"
    assert set(result.manifest.classes) == {"none", "TWF", "HDF", "PWF", "OSF", "RNF"}
    assert result.parity.passed and result.parity.label_mismatches == 0
    _device_graph_exact(result.parity)  # the device graph, on every case kind
    batch = runtime.load(result.bundle).predict_batch(
        frame.drop(columns=["Failure mode", *AI4I_DROP, "Machine failure"]).head(50)
    )
    assert batch.probabilities.shape == (50, 6)
    assert all(isinstance(label, str) for label in batch.labels.tolist())


@needs_ai4i
@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("random_forest_regressor", {"n_estimators": 30, "max_depth": 10}),
        ("gradient_boosting_regressor", {}),
        ("hist_gradient_boosting_regressor", {}),
    ],
)
def test_regression_export(tmp_path, estimator, params):
    result = run_export(
        ExportConfig(
            data=AI4I,
            target="Torque [Nm]",
            drop=(*AI4I_DROP, "Machine failure"),
            estimator=estimator,
            params=params,
            output=tmp_path,
            measure=False,
        )
    )
    assert result.manifest.task == "regression"
    assert result.parity.passed and result.manifest.parity.golden_graph == "device.onnx"
    _device_graph_exact(result.parity)  # for values: the largest relative difference
    assert result.metrics["r2"] > 0.5
    model = runtime.load(result.bundle)
    prediction = model.predict(json.loads((result.bundle / "example_input.json").read_text()))
    assert prediction.label is None and isinstance(prediction.value, float)


def test_user_pipeline(tmp_path):
    # 20 depth-8 extra trees catch about 1 in 5 demo defects, which the quality gate refuses; the
    # Pipeline's mechanics are what this test is about
    options = {"output": tmp_path, "demo_rows": 3000, "measure": False, "allow_weak": True}
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        result = run_export(ExportConfig(**options, pipeline="user_pipelines:extra_trees"))
        assert result.manifest.training.estimator == "ExtraTreesClassifier"
        assert result.parity.passed
        # PCA does not fold: its branch keeps its nodes in the device graph, the one-hot branch folds
        lines: list[str] = []
        mixed = run_export(
            ExportConfig(**options, pipeline="user_pipelines:forest_on_principal_components"), lines.append
        )
        graph = mixed.manifest.device_graph
        assert graph is not None and graph.kept == ("num/impute", "num/scale", "num/pca")
        assert graph.folded == ("cat/impute", "cat/onehot")
        assert "kept as nodes: num/impute, num/scale, num/pca" in "\n".join(lines)
        _device_graph_exact(mixed.parity)
        model = runtime.load(mixed.bundle)
        assert model.graph_file == "device.onnx"
        frame = prepare_data(ExportConfig(demo_rows=3000)).x_test
        np.testing.assert_array_equal(model.predict_batch(frame).labels, mixed.pipeline.predict(frame))
        with pytest.raises(export._convert.ConversionError) as caught:
            run_export(ExportConfig(**options, pipeline="user_pipelines:with_unconvertible_step"))
        assert str(caught.value).startswith("step 'clip' (ClipOutliers) cannot be converted to ONNX by skl2onnx")
    finally:
        sys.path.remove(str(Path(__file__).parent))
