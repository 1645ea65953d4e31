"""An opened onnxruntime session against the manifest, before anything runs on it.

The public ``model.onnx`` must take one ``[N, 1]`` input per column, typed as the column; a device
graph (:mod:`runtime._device_graph`) one ``[N, width]`` double input named as the manifest says.
Either must return the manifest's output, with one probability per class for a classifier.
"""

from __future__ import annotations

import onnxruntime as ort

from ._device_graph import DeviceGraph
from ._errors import BundleError
from ._manifest import Manifest
from ._validation import cap_list

__all__ = ["check_session"]

_ONNX_TYPES = {"number": "tensor(double)", "category": "tensor(string)"}


def check_session(manifest: Manifest, session: ort.InferenceSession, label: str) -> None:
    """BundleError unless ``session`` (the device graph's where the manifest names one) fits the manifest."""
    if manifest.device_graph is not None:
        check_device_session(session, manifest.device_graph, label)
    else:
        _check_signature(manifest, session, label)
    _check_outputs(manifest, session, label)


def _check_signature(manifest: Manifest, session: ort.InferenceSession, label: str) -> None:
    graph_inputs = {node.name: node for node in session.get_inputs()}
    expected = {column.onnx_input: column for column in manifest.inputs}
    missing = sorted(set(expected) - set(graph_inputs))
    extra = sorted(set(graph_inputs) - set(expected))
    if missing or extra:
        raise BundleError(
            f"model.onnx of {label} does not take the manifest's inputs: "
            f"missing in the graph {cap_list(missing)}, not in the manifest {cap_list(extra)}"
        )
    for name, column in expected.items():
        node = graph_inputs[name]
        if node.type != _ONNX_TYPES[column.kind]:
            raise BundleError(
                f"graph input {name!r} of {label} has type {node.type}, but column {column.name!r} is a "
                f"{column.kind} and needs {_ONNX_TYPES[column.kind]}"
            )
        if len(node.shape) != 2 or node.shape[1] not in (1, "1"):
            raise BundleError(f"graph input {name!r} of {label} has shape {node.shape}, expected [N, 1]")


def _check_outputs(manifest: Manifest, session: ort.InferenceSession, label: str) -> None:
    outputs = {node.name: node for node in session.get_outputs()}
    wanted = manifest.outputs.probabilities if manifest.is_classifier else manifest.outputs.value
    for name in [wanted] if wanted else []:
        if name not in outputs:
            raise BundleError(f"model.onnx of {label} has no output {name!r} (it has {cap_list(sorted(outputs))})")
    if manifest.is_classifier and manifest.classes is not None:
        shape = outputs[str(manifest.outputs.probabilities)].shape
        if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != len(manifest.classes):
            raise BundleError(
                f"model.onnx of {label} returns {shape[1]} probabilities, the manifest lists "
                f"{len(manifest.classes)} classes"
            )


def check_device_session(session: ort.InferenceSession, graph: DeviceGraph, label: str) -> None:
    """The device graph takes exactly one [N, width] double input, named as the manifest says."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != graph.input:
        raise BundleError(
            f"{graph.file.path} of {label} takes the inputs {[node.name for node in inputs]}, "
            f"the manifest expects one, {graph.input!r}"
        )
    node = inputs[0]
    if node.type != "tensor(double)" or len(node.shape) != 2 or node.shape[1] != graph.width:
        raise BundleError(
            f"{graph.file.path} of {label}: input {graph.input!r} is {node.type} {node.shape}, "
            f"the manifest expects tensor(double) [N, {graph.width}]"
        )
