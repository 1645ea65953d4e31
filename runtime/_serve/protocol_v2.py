"""Open Inference Protocol (KServe v2) payloads: decode an infer request, encode its response.

Only the standard library and numpy, no HTTP: :mod:`runtime._serve.dataplane` calls it, and
:mod:`runtime._serve.endpoints` puts the bytes on the wire.

Tensors
-------
One input tensor per model column, named as the column (``GET /v2/models/{name}`` lists them):

- number columns: datatype ``FP64`` or ``FP32`` (FP32 values are rounded to float32, as the client
  declared them, then widened exactly), or ``INT64`` / ``INT32`` (integers, taken when float64
  holds them exactly: ``|v| <= 2**53``; a larger INT64 value is refused, never rounded);
  category columns: ``BYTES`` (UTF-8 text);
- shape ``[N]`` or ``[N, 1]``, the same N for every input;
- values in ``"data"`` (flat, or nested one level as ``[[v], [v]]``) or in the binary tensor data
  extension (``parameters.binary_data_size`` and the ``Inference-Header-Content-Length`` header,
  as ``tritonclient`` sends by default).

Missing values: JSON has no NaN, so ``null`` in the data of a numeric or BYTES tensor is a missing
value; in binary data a missing number is NaN and a missing category the empty string. Whether a
column may be missing is the model's rule, checked by the runtime's validation like every value.

Outputs: ``label`` (``INT64`` for integer classes, ``BYTES`` for strings, ``BOOL``, ``FP64``; shape
``[N]``) and ``probabilities`` (``FP64``, ``[N, K]``, columns in the class order of the metadata's
``parameters.classes``) for classifiers; ``value`` (``FP64``, ``[N]``) for regressors. The request's
``outputs`` list picks some of them; each comes back as JSON ``data`` or, when asked for with
``parameters.binary_data`` (or the request's ``parameters.binary_data_output``), as binary data.
Rows with unknown categories accepted under ``--on-unknown flag`` are listed in the response's
``parameters.flags``, keyed by row number (as a string).

Every problem with a request raises :class:`runtime.InputError` with a message naming the input,
what was sent and what is allowed.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from .._json_body import dump_json, parse_json
from .._manifest import Label
from .._model import Model
from .._validation import cap_list, column_mismatch
from .outcome import Outcome

__all__ = [
    "HEADER_LENGTH",
    "InferRequest",
    "decode_infer_request",
    "encode_infer_response",
    "label_datatype",
    "model_metadata",
    "output_names",
]

NUMBER_DATATYPES = ("FP64", "FP32", "INT64", "INT32")
INTEGER_DATATYPES = {"INT64": "<i8", "INT32": "<i4"}
# The largest integer magnitude float64 holds exactly, with every integer below it.
EXACT_INTEGER = 2**53
_INT32_RANGE = (-(2**31), 2**31 - 1)
_INT64_RANGE = (-(2**63), 2**63 - 1)
HEADER_LENGTH = "Inference-Header-Content-Length"
_SHARED_MEMORY = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")


# ---------------------------------------------------------------------------------------------
# messages


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    if type(value) in names:
        return names[type(value)]
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


# ---------------------------------------------------------------------------------------------
# metadata


def label_datatype(classes: Sequence[Label]) -> str:
    """The tensor datatype of the ``label`` output for these classes."""
    if all(isinstance(label, bool) for label in classes):
        return "BOOL"
    if all(isinstance(label, int) and not isinstance(label, bool) for label in classes):
        return "INT64"
    if all(isinstance(label, str) for label in classes):
        return "BYTES"
    return "FP64"


def output_names(model: Model) -> tuple[str, ...]:
    return ("label", "probabilities") if model.classes is not None else ("value",)


def model_metadata(model: Model) -> dict[str, Any]:
    """``GET /v2/models/{name}``: inputs, outputs and, in ``parameters``, the classes and rules."""
    inputs = []
    for spec in model.manifest.inputs:
        parameters: dict[str, Any] = {"kind": spec.kind, "nullable": spec.nullable}
        if spec.valid_range is not None:
            parameters["valid_range"] = list(spec.valid_range)
        if spec.categories is not None:
            parameters["categories"] = list(spec.categories)
        inputs.append(
            {
                "name": spec.name,
                "datatype": "FP64" if spec.kind == "number" else "BYTES",
                "shape": [-1, 1],
                "parameters": parameters,
            }
        )
    if model.classes is not None:
        outputs = [
            {"name": "label", "datatype": label_datatype(model.classes), "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(model.classes)]},
        ]
    else:
        outputs = [{"name": "value", "datatype": "FP64", "shape": [-1]}]
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "onnxruntime_onnx",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "task": model.manifest.task,
            "classes": list(model.classes) if model.classes is not None else None,
            "on_unknown": model.on_unknown,
            "on_out_of_range": model.on_out_of_range,
            "label_rule": model.manifest.label_rule(),
            "decision": model.manifest.decision.to_dict() if model.manifest.decision is not None else None,
        },
    }


# ---------------------------------------------------------------------------------------------
# requests


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request: one 1-D array per model column, and what to send back."""

    id: str | None
    columns: dict[str, np.ndarray]
    rows: int
    outputs: tuple[str, ...]
    binary_outputs: frozenset[str] = frozenset()

    def record(self, row: int) -> dict[str, Any]:
        """Row ``row`` as a record of Python values (``item`` turns numpy scalars into floats)."""
        return {name: values.item(row) for name, values in self.columns.items()}


def _header_length(value: str | None, body_size: int) -> int:
    if value is None:
        return body_size
    text = value.strip()
    # isdigit alone accepts digits int() refuses ("²", which a latin-1 header can carry); a number with
    # more digits than the body's size is larger than the body, and is never handed to int() (whose
    # 4,300-digit limit raises a ValueError)
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(body_size)) or int(text) > body_size:
        shown = value if len(value) <= 40 else f"{value[:40]}...({len(value)} characters)"
        raise InputError(
            f"{HEADER_LENGTH} == {shown!r} must be a whole number of bytes no larger than the body ({body_size})."
        )
    return int(text)


def _rows_of_shape(name: str, shape: Any, max_rows: int) -> int:
    """The rows of a declared shape, checked before anything is allocated for it: at most ``max_rows``
    (``--max-elements`` over the model's columns). Sizes are Python ints, so nothing overflows."""
    valid = (
        isinstance(shape, list)
        and len(shape) in (1, 2)
        and all(isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape)
        and (len(shape) == 1 or shape[1] == 1)
    )
    if not valid:
        raise InputError(
            f"input {name!r} has shape {_dump(shape)}, must be [N] or [N, 1] (one value per row).", column=name
        )
    rows: int = shape[0]
    if rows == 0:
        raise InputError(f"input {name!r} has shape {_dump(shape)}: at least one row is needed.", column=name)
    if rows > max_rows:
        raise InputError(
            f"input {name!r} has shape {_dump(shape)}: at most {max_rows} rows per request "
            "(--max-elements over the model's columns).",
            column=name,
        )
    return rows


def _json_values(name: str, datatype: str, data: Any, rows: int, shape: Any) -> np.ndarray:
    if not isinstance(data, list):
        raise InputError(f'input {name!r} field "data" must be a list, got {_type_name(data)}.', column=name)
    if data and all(isinstance(item, list) for item in data):
        data = [value for item in data for value in item]  # nested as [[v], [v]] for shape [N, 1]
    if len(data) != rows:
        raise InputError(
            f'input {name!r} has {len(data)} value{"" if len(data) == 1 else "s"} in "data", but its shape '
            f"{_dump(shape)} needs {rows}.",
            column=name,
        )
    if datatype in INTEGER_DATATYPES:
        return _json_integers(name, datatype, data)
    if datatype in NUMBER_DATATYPES and all(
        value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)) for value in data
    ):
        numbers = np.array([math.nan if value is None else value for value in data], dtype=np.float64)
        if datatype == "FP64":
            return numbers
        with np.errstate(over="ignore"):
            rounded = numbers.astype(np.float32).astype(np.float64)
        too_large = np.flatnonzero(np.isinf(rounded))
        if too_large.size:
            row = int(too_large[0])
            raise InputError(
                f"input {name!r} value {data[row]!r} in row {row} is too large for FP32 "
                f"(at most {float(np.finfo(np.float32).max):.4g} in magnitude): send it as FP64.",
                column=name,
                row=row,
            )
        return rounded
    # Anything else goes to the runtime's validation as given, which names the row, value and rule.
    values = np.empty(rows, dtype=object)
    for index, value in enumerate(data):
        values[index] = value
    return values


def _json_integers(name: str, datatype: str, data: list[Any]) -> np.ndarray:
    """An INT64 / INT32 tensor's JSON data as float64 (null: missing), each value an integer of the
    tensor's type that float64 holds exactly; InputError naming the first that is not."""
    low, high = _INT32_RANGE if datatype == "INT32" else _INT64_RANGE
    numbers = np.empty(len(data), dtype=np.float64)
    for row, value in enumerate(data):
        if value is None:
            numbers[row] = math.nan
        elif type(value) is not int:
            raise InputError(
                f"input {name!r} value {_shown_value(value)} in row {row} is not an integer, but the tensor is "
                f"{datatype}: send integers, or the tensor as FP64.",
                column=name,
                row=row,
            )
        elif not low <= value <= high:
            raise InputError(
                f"input {name!r} value {_shown_value(value)} in row {row} does not fit {datatype} "
                f"([{low}, {high}]): send it as FP64.",
                column=name,
                row=row,
            )
        else:
            numbers[row] = _exact_float(name, value, row)
    return numbers


def _exact_float(name: str, value: int, row: int) -> float:
    if abs(value) > EXACT_INTEGER:
        raise InputError(
            f"input {name!r} value {value} in row {row} is not exactly representable as a float64 "
            f"(integers must be within +-2**53 = {EXACT_INTEGER}), and the model computes in float64: "
            "send it as FP64 if a rounded value is what you mean.",
            column=name,
            row=row,
        )
    return float(value)


def _shown_value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."


def _binary_numbers(name: str, datatype: str, raw: bytes, rows: int, shape: Any) -> np.ndarray:
    dtype = INTEGER_DATATYPES.get(datatype) or ("<f8" if datatype == "FP64" else "<f4")
    width = np.dtype(dtype).itemsize
    if len(raw) != rows * width:
        raise InputError(
            f"input {name!r} has {len(raw)} bytes of binary data, but shape {_dump(shape)} of {datatype} "
            f"needs {rows * width}.",
            column=name,
        )
    values = np.frombuffer(raw, dtype=dtype)
    if datatype == "INT64":  # compared as integers: as float64, 2**53 + 1 would pass as 2**53
        inexact = np.flatnonzero((values > EXACT_INTEGER) | (values < -EXACT_INTEGER))
        if inexact.size:
            _exact_float(name, int(values[inexact[0]]), int(inexact[0]))
    return values.astype(np.float64)


def _binary_values(name: str, datatype: str, raw: bytes, rows: int, shape: Any) -> np.ndarray:
    if datatype in NUMBER_DATATYPES:
        return _binary_numbers(name, datatype, raw, rows, shape)
    # Every string takes at least its 4-byte length prefix: a shape the data cannot fill is refused
    # before an array of that many rows is allocated.
    if rows * 4 > len(raw):
        raise InputError(
            f"input {name!r} has {len(raw)} bytes of binary data, but shape {_dump(shape)} of BYTES needs at "
            f"least {rows * 4} (a 4-byte length per string).",
            column=name,
        )
    values = np.empty(rows, dtype=object)
    position = 0
    for index in range(rows):
        if position + 4 > len(raw):
            raise InputError(
                f"input {name!r} binary data ends at element {index}, but shape {_dump(shape)} needs {rows} "
                "length-prefixed strings.",
                column=name,
            )
        (size,) = struct.unpack_from("<I", raw, position)
        position += 4
        if position + size > len(raw):
            raise InputError(f"input {name!r} binary data ends inside element {index} (length {size}).", column=name)
        try:
            values[index] = raw[position : position + size].decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                f"input {name!r} value in row {index} is not UTF-8 text.", column=name, row=index
            ) from None
        position += size
    if position != len(raw):
        raise InputError(
            f"input {name!r} binary data has {len(raw) - position} bytes after its {rows} strings.", column=name
        )
    return values


DEFAULT_MAX_ELEMENTS = 10_000_000


def decode_infer_request(
    body: bytes, header_length: str | None, model: Model, *, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> InferRequest:
    """Decode ``POST /v2/models/{name}/infer`` into columns for :meth:`Model.predict_batch`.

    ``header_length`` is the ``Inference-Header-Content-Length`` header (binary tensor data
    extension), or None when the whole body is JSON. Values are not validated here beyond their
    tensor's structure: that is the runtime's job, so its messages name the column, value and row.

    Nothing is allocated for a tensor before its declared shape is checked: at most ``max_elements``
    values in all (rows times the model's columns), and no more than its data holds (binary data
    sizes and JSON ``data`` lengths are compared with the shape first). Every problem, whatever the
    bytes, is an :class:`InputError`.
    """
    max_rows = max(1, max_elements // max(1, len(model.columns)))
    split = _header_length(header_length, len(body))
    request = parse_json(body[:split])
    binary = memoryview(body)[split:]
    request_id, parameters, inputs = _request_fields(request)
    tensors = _tensors_by_name(inputs)
    mismatch = column_mismatch("infer request", tensors.keys(), model.columns, f"{model.name!r} {model.version}")
    if mismatch is not None:
        raise mismatch

    kinds = {spec.name: spec.kind for spec in model.manifest.inputs}
    columns: dict[str, np.ndarray] = {}
    rows: int | None = None
    first = ""
    position = 0
    for name, tensor in tensors.items():  # in request order: binary data follows that order
        datatype = _datatype(name, tensor, kinds[name])
        shape = tensor.get("shape")
        count = _rows_of_shape(name, shape, max_rows)
        if rows is None:
            rows, first = count, name
        elif count != rows:
            raise InputError(
                f"input {name!r} has {count} rows (shape {_dump(shape)}), but {first!r} has {rows}: "
                "every input needs one value per row.",
                column=name,
            )
        columns[name], position = _tensor_values(name, tensor, datatype, count, binary, position)
    if position != len(binary):
        raise InputError(
            f"request body has {len(binary) - position} bytes of binary data that no input's binary_data_size "
            "accounts for."
        )
    assert rows is not None
    outputs, binary_outputs = _requested_outputs(request, parameters, model)
    # The runtime feeds columns in the model's order whatever order they came in.
    ordered = {name: columns[name] for name in model.columns}
    return InferRequest(request_id, ordered, rows, outputs, binary_outputs)


def _request_fields(request: Any) -> tuple[str | None, Mapping[str, Any], list[Any]]:
    """The request's ``id``, ``parameters`` and ``inputs``, each checked for its JSON type."""
    if not isinstance(request, dict):
        raise InputError(f'infer request must be a JSON object with "inputs", got {_type_name(request)}.')
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InputError(f'infer request field "id" == {_dump(request_id)} must be a string.')
    parameters = request.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InputError(f'infer request field "parameters" must be an object, got {_type_name(parameters)}.')
    inputs = request.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InputError('infer request has no "inputs": send a list with one tensor per column.')
    return request_id, parameters, inputs


def _tensors_by_name(inputs: list[Any]) -> dict[str, dict[str, Any]]:
    tensors: dict[str, dict[str, Any]] = {}
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise InputError(
                f'inputs[{index}] must be an object with "name", "shape", "datatype" and "data", '
                f"got {_type_name(tensor)}."
            )
        name = tensor.get("name")
        if not isinstance(name, str):
            raise InputError(f'inputs[{index}] needs "name" as a string (the column), got {_dump(name)}.')
        if name in tensors:
            raise InputError(f'input {name!r} appears twice in "inputs".', column=name)
        tensors[name] = tensor
    return tensors


def _one_of(names: Sequence[str]) -> str:
    """``A``, ``A or B``, ``A, B or C``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _datatype(name: str, tensor: Mapping[str, Any], kind: str) -> str:
    """The tensor's datatype, if the column's kind allows it."""
    datatype = tensor.get("datatype")
    allowed = NUMBER_DATATYPES if kind == "number" else ("BYTES",)
    if not isinstance(datatype, str) or datatype not in allowed:
        holds = "numbers" if kind == "number" else "categories as strings"
        shown = datatype if isinstance(datatype, str) else _dump(datatype)
        raise InputError(
            f"input {name!r} has datatype {shown}, must be {_one_of(allowed)} (the column holds {holds}).",
            column=name,
        )
    return datatype


def _tensor_values(
    name: str, tensor: Mapping[str, Any], datatype: str, rows: int, binary: memoryview, position: int
) -> tuple[np.ndarray, int]:
    """The tensor's values, from its ``"data"`` or from the binary data at ``position``; and the
    position of the next tensor's binary data."""
    shape = tensor.get("shape")
    tensor_parameters = tensor.get("parameters") or {}
    if not isinstance(tensor_parameters, dict):
        raise InputError(f'input {name!r} field "parameters" must be an object.', column=name)
    if any(key in tensor_parameters for key in _SHARED_MEMORY):
        raise InputError(
            f'input {name!r} uses shared memory, which this server does not support: send "data" or binary data.',
            column=name,
        )
    size = tensor_parameters.get("binary_data_size")
    if size is None:
        if "data" not in tensor:
            raise InputError(f'input {name!r} has no "data" (and no binary_data_size parameter).', column=name)
        return _json_values(name, datatype, tensor["data"], rows, shape), position
    if "data" in tensor:
        raise InputError(f'input {name!r} has both "data" and binary_data_size; send one.', column=name)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(f"input {name!r} has binary_data_size {_dump(size)}, must be a whole number.")
    if position + size > len(binary):
        raise InputError(
            f"input {name!r} has binary_data_size {size}, but the request has only {len(binary) - position} "
            f"bytes of binary data left (is the {HEADER_LENGTH} header set?).",
            column=name,
        )
    raw = bytes(binary[position : position + size])
    return _binary_values(name, datatype, raw, rows, shape), position + size


def _requested_outputs(
    request: Mapping[str, Any], parameters: Mapping[str, Any], model: Model
) -> tuple[tuple[str, ...], frozenset[str]]:
    available = output_names(model)
    binary_default = parameters.get("binary_data_output", False)
    if not isinstance(binary_default, bool):
        raise InputError(
            f"infer request parameter binary_data_output == {_dump(binary_default)} must be true or false."
        )
    wanted = request.get("outputs")
    if wanted is None or wanted == []:
        return available, frozenset(available) if binary_default else frozenset()
    if not isinstance(wanted, list):
        raise InputError(f'infer request field "outputs" must be a list, got {_type_name(wanted)}.')
    names: list[str] = []
    binary: set[str] = set()
    for index, output in enumerate(wanted):
        name = output.get("name") if isinstance(output, dict) else None
        if not isinstance(name, str):
            raise InputError(f'outputs[{index}] must be an object with "name" as a string, got {_dump(output)}.')
        if name not in available:
            raise InputError(
                f"infer request asks for output {name!r}, but model {model.name!r} {model.version} has outputs "
                f"{cap_list(list(available))}."
            )
        output_parameters = output.get("parameters") or {}
        if not isinstance(output_parameters, dict):
            raise InputError(f'output {name!r} field "parameters" must be an object.')
        if output_parameters.get("classification"):
            raise InputError(
                f'output {name!r} asks for "classification", which is not supported: read "probabilities".'
            )
        if any(key in output_parameters for key in _SHARED_MEMORY):
            raise InputError(f"output {name!r} asks for shared memory, which this server does not support.")
        as_binary = output_parameters.get("binary_data", binary_default)
        if not isinstance(as_binary, bool):
            raise InputError(f"output {name!r} parameter binary_data == {_dump(as_binary)} must be true or false.")
        if name not in names:
            names.append(name)
        if as_binary:
            binary.add(name)
    return tuple(names), frozenset(binary)


# ---------------------------------------------------------------------------------------------
# responses


def _binary_tensor(datatype: str, values: list[Any]) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in values:
            encoded = str(value).encode("utf-8")
            parts += [struct.pack("<I", len(encoded)), encoded]
        return b"".join(parts)
    dtype = {"INT64": "<i8", "FP64": "<f8", "BOOL": "?"}[datatype]
    return np.asarray(values, dtype=dtype).tobytes()


def encode_infer_response(outcome: Outcome, request: InferRequest, request_id: str) -> tuple[bytes, dict[str, str]]:
    """The response body and its extra headers (content type, and the JSON header's length when
    some outputs are binary)."""
    rows = outcome.rows
    tensors: list[tuple[str, str, list[int], list[Any]]] = []
    for name in request.outputs:
        if name == "label":
            assert outcome.labels is not None and outcome.classes is not None
            tensors.append(("label", label_datatype(outcome.classes), [rows], outcome.labels))
        elif name == "probabilities":
            assert outcome.probabilities is not None and outcome.classes is not None
            flat = [p for row in outcome.probabilities for p in row]
            tensors.append(("probabilities", "FP64", [rows, len(outcome.classes)], flat))
        else:
            assert outcome.values is not None
            tensors.append(("value", "FP64", [rows], outcome.values))
    outputs = []
    chunks: list[bytes] = []
    for name, datatype, shape, data in tensors:
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
        if name in request.binary_outputs:
            chunk = _binary_tensor(datatype, data)
            tensor["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            tensor["data"] = data
        outputs.append(tensor)
    response: dict[str, Any] = {
        "model_name": outcome.model,
        "model_version": outcome.version,
        "id": request_id,
        "outputs": outputs,
    }
    if outcome.flags:
        response["parameters"] = {"flags": {str(row): list(flags) for row, flags in sorted(outcome.flags.items())}}
    header = dump_json(response)
    if not chunks:
        return header, {"content-type": "application/json"}
    return header + b"".join(chunks), {
        "content-type": "application/octet-stream",
        HEADER_LENGTH: str(len(header)),
    }
