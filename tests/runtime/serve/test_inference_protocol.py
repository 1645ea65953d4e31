"""Open Inference Protocol payloads (runtime._inference_protocol): binary tensor data both ways,
FP32 rounding, missing values, and the errors for malformed tensors."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import pytest

import runtime
from runtime._serve.outcome import Outcome
from runtime._serve.protocol_v2 import (
    InferRequest,
    decode_infer_request,
    encode_infer_response,
    label_datatype,
    model_metadata,
)
from tests.runtime.serve.records import EXAMPLE

RECORD = EXAMPLE


@pytest.fixture(scope="module")
def model(bundles) -> runtime.Model:
    return runtime.load(bundles.model_folder())


def strings(values: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)


def binary_request(columns: dict[str, Any], datatypes: dict[str, str] | None = None) -> tuple[bytes, str]:
    """A request with every input in binary tensor data, as tritonclient sends it by default."""
    inputs, chunks = [], []
    for name, values in columns.items():
        datatype = (datatypes or {}).get(name) or ("BYTES" if isinstance(values[0], str) else "FP64")
        if datatype == "BYTES":
            chunk = strings(values)
        else:
            chunk = np.asarray(values, dtype="<f8" if datatype == "FP64" else "<f4").tobytes()
        inputs.append(
            {
                "name": name,
                "shape": [len(values), 1],
                "datatype": datatype,
                "parameters": {"binary_data_size": len(chunk)},
            }
        )
        chunks.append(chunk)
    header = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    return header + b"".join(chunks), str(len(header))


def test_binary_inputs_with_missing_values(model):
    columns = {name: [value, value] for name, value in RECORD.items()}
    columns["pressure"] = [59.94, math.nan]  # a missing number in binary data is NaN
    columns["shift"] = ["day", ""]  # a missing category is the empty string
    body, header_length = binary_request(columns)
    request = decode_infer_request(body, header_length, model)
    assert request.rows == 2 and request.binary_outputs == {"label", "probabilities"}
    assert request.columns["pressure"].dtype == np.float64 and math.isnan(request.columns["pressure"][1])
    assert request.columns["shift"].tolist() == ["day", ""]
    assert request.record(0) == RECORD
    assert (
        type(request.record(0)["temperature"]) is float
    )  # Python values: error messages show 412.0, not np.float64(412.0)
    expected = model.predict_batch([RECORD, {**RECORD, "pressure": None, "shift": None}])
    assert model.predict_batch(request.columns).probabilities.tolist() == expected.probabilities.tolist()


def test_fp32_values_are_rounded_as_the_client_declared_them(model):
    body, header_length = binary_request({name: [value] for name, value in RECORD.items()}, {"vibration": "FP32"})
    binary = decode_infer_request(body, header_length, model)
    json_body = {
        "inputs": [
            {
                "name": n,
                "shape": [1],
                "datatype": "FP32" if n == "vibration" else ("BYTES" if isinstance(v, str) else "FP64"),
                "data": [v],
            }
            for n, v in RECORD.items()
        ]
    }
    from_json = decode_infer_request(json.dumps(json_body).encode(), None, model)
    assert binary.columns["vibration"][0] == from_json.columns["vibration"][0] == float(np.float32(1.122)) != 1.122


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda body: body + b"\x00",
            "request body has 1 bytes of binary data that no input's binary_data_size accounts for.",
        ),
        (
            lambda body: body[:-1],
            "input 'shift' has binary_data_size 7, but the request has only 6 bytes of binary data left (is the Inference-Header-Content-Length header set?).",
        ),
    ],
    ids=["bytes left over", "body cut short"],
)
def test_binary_data_must_add_up(model, change, message):
    body, header_length = binary_request({name: [value] for name, value in RECORD.items()})
    with pytest.raises(runtime.InputError) as error:
        decode_infer_request(change(body), header_length, model)
    assert str(error.value) == message


def test_malformed_binary_strings_are_named(model):
    columns = {name: [value] for name, value in RECORD.items()}
    body, header_length = binary_request(columns)
    header, binary = body[: int(header_length)], body[int(header_length) :]
    request = json.loads(header)
    shift = next(t for t in request["inputs"] if t["name"] == "shift")
    cases = {
        struct.pack("<I", 10) + b"day": "input 'shift' binary data ends inside element 0 (length 10).",
        # refused before an array of the declared rows is allocated
        b"\x01\x00": "input 'shift' has 2 bytes of binary data, but shape [1, 1] of BYTES needs at least 4 "
        "(a 4-byte length per string).",
        struct.pack("<I", 2) + b"\xc3\x28": "input 'shift' value in row 0 is not UTF-8 text.",
        strings(["day", "day"]): "input 'shift' binary data has 7 bytes after its 1 strings.",
    }
    prefix = binary[: len(binary) - shift["parameters"]["binary_data_size"]]
    for chunk, message in cases.items():
        shift["parameters"]["binary_data_size"] = len(chunk)
        new_header = json.dumps(request).encode()
        with pytest.raises(runtime.InputError) as error:
            decode_infer_request(new_header + prefix + chunk, str(len(new_header)), model)
        assert str(error.value) == message


@pytest.mark.parametrize(
    ("tensor_change", "message"),
    [
        (
            {"parameters": {"shared_memory_region": "r"}},
            "input 'temperature' uses shared memory, which this server does not support: send \"data\" or binary data.",
        ),
        (
            {"parameters": {"binary_data_size": 8}},
            "input 'temperature' has both \"data\" and binary_data_size; send one.",
        ),
        ({"data": "206.61"}, "input 'temperature' field \"data\" must be a list, got a string."),
        (
            {"datatype": None},
            "input 'temperature' has datatype null, must be FP64, FP32, INT64 or INT32 (the column holds numbers).",
        ),
        ({"shape": "1"}, "input 'temperature' has shape \"1\", must be [N] or [N, 1] (one value per row)."),
        ({"shape": [True]}, "input 'temperature' has shape [true], must be [N] or [N, 1] (one value per row)."),
    ],
)
def test_malformed_tensors(model, tensor_change, message):
    body = {
        "inputs": [
            {"name": n, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64", "data": [v]}
            for n, v in RECORD.items()
        ]
    }
    body["inputs"][0].update(tensor_change)
    with pytest.raises(runtime.InputError) as error:
        decode_infer_request(json.dumps(body).encode(), None, model)
    assert str(error.value) == message


def test_outputs_can_be_picked_and_sent_as_binary_or_json():
    outcome = Outcome("m", "2.0.0", ("no", "yes"), labels=["yes", "no"], probabilities=[[0.25, 0.75], [1.0, 0.0]])
    request = InferRequest(None, {}, 2, ("probabilities", "label"), frozenset({"label"}))
    body, headers = encode_infer_response(outcome, request, "r-1")
    length = int(headers["Inference-Header-Content-Length"])
    header = json.loads(body[:length])
    assert header["id"] == "r-1" and header["model_version"] == "2.0.0"
    probabilities, label = header["outputs"]
    assert probabilities == {
        "name": "probabilities",
        "datatype": "FP64",
        "shape": [2, 2],
        "data": [0.25, 0.75, 1.0, 0.0],
    }
    assert label == {"name": "label", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 13}}
    assert body[length:] == strings(["yes", "no"])
    tritonclient_http = pytest.importorskip("tritonclient.http")
    result = tritonclient_http.InferResult.from_response_body(body, header_length=length)
    assert result.as_numpy("label").tolist() == [b"yes", b"no"]

    json_only = InferRequest(None, {}, 2, ("label",))
    body, headers = encode_infer_response(outcome, json_only, "r-2")
    assert headers == {"content-type": "application/json"}
    assert json.loads(body)["outputs"] == [{"name": "label", "datatype": "BYTES", "shape": [2], "data": ["yes", "no"]}]


def test_label_datatypes_follow_the_classes():
    assert [label_datatype(c) for c in ((0, 1), ("a", "b"), (False, True), (0.5, 1.5))] == [
        "INT64",
        "BYTES",
        "BOOL",
        "FP64",
    ]


def test_metadata_describes_the_rules(model):
    metadata = model_metadata(model)
    temperature = metadata["inputs"][0]
    assert temperature["name"] == "temperature" and temperature["parameters"]["kind"] == "number"
    assert "valid_range" in temperature["parameters"] and "nullable" in temperature["parameters"]
    machine_type = next(i for i in metadata["inputs"] if i["name"] == "machine_type")
    assert machine_type["parameters"]["categories"] == ["A", "B", "C"]
