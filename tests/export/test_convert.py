"""Pipeline -> ONNX: one input per column, named as the column, float64 throughout, no ZipMap."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
onnx = pytest.importorskip("onnx")

from export._convert import ConversionError, convert  # noqa: E402
from export._train import train  # noqa: E402


def test_the_converted_graph(tiny_export):
    model = onnx.load(tiny_export.bundle / "model.onnx")
    inputs = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert list(inputs) == [c.name for c in tiny_export.manifest.inputs]
    assert {inputs[n] for n in ("temperature", "vibration")} == {onnx.TensorProto.DOUBLE}
    assert {inputs[n] for n in ("machine_type", "shift")} == {onnx.TensorProto.STRING}
    assert [o.name for o in model.graph.output] == ["probabilities"]
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    summary = tiny_export.onnx_summary
    assert summary["trees"] == 8 and summary["operators"]["TreeEnsemble"] == 1 and "ZipMap" not in summary["operators"]
    assert summary["opsets"]["ai.onnx.ml"] == 5


def test_conversion_is_deterministic(tiny_export, tiny_data):
    again = convert(tiny_export.pipeline, tiny_data.spec, tiny_data.x_train)
    assert again.onnx_bytes == (tiny_export.bundle / "model.onnx").read_bytes()
    assert again.summary == tiny_export.onnx_summary


def test_an_unconvertible_step_is_named(tiny_data):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from user_pipelines import with_unconvertible_step
    finally:
        sys.path.remove(str(Path(__file__).parent))
    pipeline, _ = train(with_unconvertible_step(), tiny_data.x_train, tiny_data.y_train, task=tiny_data.task)
    with pytest.raises(ConversionError) as caught:
        convert(pipeline, tiny_data.spec, tiny_data.x_train)
    assert str(caught.value) == (
        "step 'clip' (ClipOutliers) cannot be converted to ONNX by skl2onnx: it has no registered converter. "
        "Replace the step or register a converter for it."
    )


def test_a_converter_that_gives_a_broken_graph_is_a_conversion_error(tiny_data):
    """skl2onnx's PolynomialFeatures emits float32 beside the float64 numbers: the checker refuses the
    merged graph, and the export says so in one line instead of an internal error."""
    from sklearn.preprocessing import PolynomialFeatures

    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from user_pipelines import extra_trees
    finally:
        sys.path.remove(str(Path(__file__).parent))
    pipeline = extra_trees()
    pipeline.steps[0][1].transformers[0][1].steps.append(("poly", PolynomialFeatures(2)))
    pipeline, _ = train(pipeline, tiny_data.x_train, tiny_data.y_train, task=tiny_data.task)
    with pytest.raises(ConversionError, match=r"^skl2onnx converted the Pipeline into a graph that does not check \("):
        convert(pipeline, tiny_data.spec, tiny_data.x_train)
