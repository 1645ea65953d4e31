"""Refuse ONNX models that reference tensor data outside their own file, without the ``onnx`` package.

ONNX tensors may live in other files named by a path inside the model; such references have been
used for path traversal (CVE-2022-25882, CVE-2024-27318). A bundle must be self-contained, so any
tensor that is stored externally is refused. The check reads the protobuf wire format directly (the
device has no ``onnx`` package) and only descends into the fields where tensors can sit; everything
else is skipped by its length, so it costs little even for big models.
"""

from __future__ import annotations

from typing import Any

from ._errors import BundleError

__all__ = ["refuse_external_data"]

# field numbers from onnx.proto3
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_SPARSE_INITIALIZER = 1, 5, 15
_FUNCTION_NODE = 7
_NODE_ATTRIBUTE = 5
_ATTRIBUTE_T, _ATTRIBUTE_G, _ATTRIBUTE_TENSORS, _ATTRIBUTE_GRAPHS = 5, 6, 10, 11
_ATTRIBUTE_SPARSE_TENSOR, _ATTRIBUTE_SPARSE_TENSORS = 22, 23
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 13, 14
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: memoryview) -> Any:
    """Yield (field number, wire type, value) where value is an int or a memoryview of bytes."""
    pos = 0
    value: int | memoryview
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
        elif wire_type == 1:
            value, pos = 0, pos + 8
        elif wire_type == 5:
            value, pos = 0, pos + 4
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        yield number, wire_type, value


def _tensor_is_external(tensor: memoryview) -> bool:
    for number, wire_type, value in _fields(tensor):
        if number == _TENSOR_EXTERNAL_DATA and wire_type == 2:
            return True
        if number == _TENSOR_DATA_LOCATION and wire_type == 0 and value == 1:
            return True
    return False


def _sparse_is_external(sparse: memoryview) -> bool:
    return any(
        number in (_SPARSE_VALUES, _SPARSE_INDICES) and wire_type == 2 and _tensor_is_external(value)
        for number, wire_type, value in _fields(sparse)
    )


def _nodes_have_external(node: memoryview) -> bool:
    for number, wire_type, value in _fields(node):
        if number != _NODE_ATTRIBUTE or wire_type != 2:
            continue
        for a_number, a_wire, a_value in _fields(value):
            if a_wire != 2:
                continue
            if a_number in (_ATTRIBUTE_T, _ATTRIBUTE_TENSORS) and _tensor_is_external(a_value):
                return True
            if a_number in (_ATTRIBUTE_SPARSE_TENSOR, _ATTRIBUTE_SPARSE_TENSORS) and _sparse_is_external(a_value):
                return True
            if a_number in (_ATTRIBUTE_G, _ATTRIBUTE_GRAPHS) and _graph_has_external(a_value):
                return True
    return False


def _graph_has_external(graph: memoryview) -> bool:
    for number, wire_type, value in _fields(graph):
        if wire_type != 2:
            continue
        if number == _GRAPH_INITIALIZER and _tensor_is_external(value):
            return True
        if number == _GRAPH_SPARSE_INITIALIZER and _sparse_is_external(value):
            return True
        if number == _GRAPH_NODE and _nodes_have_external(value):
            return True
    return False


def refuse_external_data(model: bytes, where: str) -> None:
    """Raise :class:`BundleError` if the serialized ONNX model references data outside itself.

    An external reference needs a ``location`` entry (onnxruntime cannot resolve one without it),
    so a model whose bytes never spell ``location`` is cleared at once. Otherwise the full walk
    runs; it visits every field of every attribute, which for a large tree ensemble (onnx.proto is
    proto2, so repeated ints are not packed) takes a few hundred milliseconds.
    """
    if b"location" not in model:
        return
    try:
        for number, wire_type, value in _fields(memoryview(model)):
            if wire_type != 2:
                continue
            if number == _MODEL_GRAPH and _graph_has_external(value):
                break
            if number == _MODEL_FUNCTIONS and any(
                f_number == _FUNCTION_NODE and f_wire == 2 and _nodes_have_external(f_value)
                for f_number, f_wire, f_value in _fields(value)
            ):
                break
        else:
            return
    except ValueError as error:
        raise BundleError(f"{where!r} is not a readable ONNX model ({error})") from None
    raise BundleError(
        f"{where!r} references tensor data stored outside the model file; "
        "bundles must be self-contained (re-export without external data)"
    )
