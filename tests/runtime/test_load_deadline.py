"""A graph that never finishes cannot hang a load (issue 10, finding 6): the golden replay runs under
a deadline and is stopped with onnxruntime's terminate flag."""

from __future__ import annotations

import hashlib
import time

import pytest

import runtime
from tests.runtime.damage import bundle_copy, edit_manifest

onnx = pytest.importorskip("onnx", reason="building the endless graph needs onnx (the export extra)")
from onnx import TensorProto, helper  # noqa: E402


def _endless_model(manifest: runtime.Manifest) -> bytes:
    """A graph with the bundle's inputs and outputs whose probabilities come out of a Loop of 10^15 trips."""
    inputs = [
        helper.make_tensor_value_info(
            spec.onnx_input, TensorProto.DOUBLE if spec.kind == "number" else TensorProto.STRING, ["N", 1]
        )
        for spec in manifest.inputs
    ]
    first = manifest.inputs[0].onnx_input
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]), helper.make_node("Identity", ["v"], ["v_out"])],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v", TensorProto.DOUBLE, ["N", 2]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.DOUBLE, ["N", 2]),
        ],
    )
    nodes = [
        helper.make_node("Concat", [first, first], ["pair"], axis=1),
        helper.make_node("Constant", [], ["trips"], value=helper.make_tensor("t", TensorProto.INT64, [], [10**15])),
        helper.make_node("Constant", [], ["go"], value=helper.make_tensor("g", TensorProto.BOOL, [], [True])),
        helper.make_node("Loop", ["trips", "go", "pair"], ["probabilities"], body=body),
    ]
    graph = helper.make_graph(
        nodes, "endless", inputs, [helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, ["N", 2])]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    return model.SerializeToString()


def test_a_graph_that_never_finishes_is_refused_at_the_deadline(shipped_bundle, tmp_path, capfd):
    bundle = bundle_copy(shipped_bundle / "1.0.0", tmp_path)
    data = _endless_model(runtime.load(bundle).manifest)
    (bundle / "model.onnx").write_bytes(data)
    edit_manifest(bundle, lambda m: m["model_file"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    started = time.monotonic()
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(bundle, deadline_s=1.5)
    elapsed = time.monotonic() - started
    assert str(caught.value) == (
        "the golden cases of 'quality' 1.0.0 did not finish within the load's deadline of 1.5 s; the graph runs "
        "too long for a device (or never ends)"
    )
    assert elapsed < 30  # not a timing assertion: only that the load came back at all
    assert "terminate" not in capfd.readouterr().err  # onnxruntime's own log line is silenced
