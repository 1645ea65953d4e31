"""INT64 and INT32 tensors for number columns (v2 infer): taken when float64 holds every value exactly
(|v| <= 2**53), refused with the value and the fix otherwise; never rounded (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import runtime
from runtime._serve.protocol_v2 import EXACT_INTEGER, decode_infer_request
from tests.runtime.serve.records import EXAMPLE, v2_body

# speed's valid range is [0, 200]; whole numbers as an integer sensor sends them
SPEEDS = [97, 101, 0]


@pytest.fixture(scope="module")
def model(bundles) -> runtime.Model:
    return runtime.load(bundles.model_folder())


def request(speed: dict[str, Any], rows: int = 3) -> dict[str, Any]:
    """An infer request of ``rows`` example rows whose speed tensor is ``speed`` (datatype and data)."""
    body = v2_body([EXAMPLE] * rows)
    body["inputs"] = [tensor for tensor in body["inputs"] if tensor["name"] != "speed"]
    body["inputs"].append({"name": "speed", "shape": [rows], **speed})
    return body


def json_body(speed: dict[str, Any], rows: int = 3) -> tuple[bytes, None]:
    return json.dumps(request(speed, rows)).encode(), None


def binary_body(datatype: str, values: list[int]) -> tuple[bytes, str]:
    body = request({"datatype": datatype, "parameters": {"binary_data_size": 0}}, len(values))
    chunk = np.asarray(values, dtype="<i8" if datatype == "INT64" else "<i4").tobytes()
    body["inputs"][-1]["parameters"]["binary_data_size"] = len(chunk)
    header = json.dumps(body).encode()
    return header + chunk, str(len(header))


@pytest.mark.parametrize("datatype", ["INT64", "INT32"])
def test_integers_are_taken_exactly_and_predict_as_fp64(model, datatype):
    as_float = decode_infer_request(*json_body({"datatype": "FP64", "data": [float(v) for v in SPEEDS]}), model)
    for body in (json_body({"datatype": datatype, "data": SPEEDS}), binary_body(datatype, SPEEDS)):
        decoded = decode_infer_request(*body, model)
        assert decoded.columns["speed"].dtype == np.float64
        assert decoded.columns["speed"].tolist() == [97.0, 101.0, 0.0]
        expected = model.predict_batch(as_float.columns).probabilities
        assert np.array_equal(model.predict_batch(decoded.columns).probabilities, expected)


def test_null_in_an_integer_tensor_is_missing(model):
    decoded = decode_infer_request(*json_body({"datatype": "INT64", "data": [97, None, 0]}), model)
    assert np.isnan(decoded.columns["speed"][1])


def test_the_largest_exact_integer_is_taken(model):
    decoded = decode_infer_request(*binary_body("INT64", [EXACT_INTEGER, -EXACT_INTEGER, 1]), model)
    assert decoded.columns["speed"].tolist() == [float(2**53), float(-(2**53)), 1.0]


NOT_EXACT = (
    "input 'speed' value {value} in row 1 is not exactly representable as a float64 (integers must be within "
    "+-2**53 = 9007199254740992), and the model computes in float64: send it as FP64 if a rounded value is what "
    "you mean."
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json_body({"datatype": "INT64", "data": [1, 2**53 + 1, 2]}), NOT_EXACT.format(value=2**53 + 1)),
        (binary_body("INT64", [1, 2**53 + 1, 2]), NOT_EXACT.format(value=2**53 + 1)),
        (binary_body("INT64", [1, -(2**63), 2]), NOT_EXACT.format(value=-(2**63))),
        (
            json_body({"datatype": "INT32", "data": [1, 2**31, 2]}),
            "input 'speed' value 2147483648 in row 1 does not fit INT32 ([-2147483648, 2147483647]): send it as FP64.",
        ),
        (
            json_body({"datatype": "INT64", "data": [1, 2**64, 2]}),
            "input 'speed' value 18446744073709551616 in row 1 does not fit INT64 "
            "([-9223372036854775808, 9223372036854775807]): send it as FP64.",
        ),
        (
            json_body({"datatype": "INT64", "data": [1, 97.5, 2]}),
            "input 'speed' value 97.5 in row 1 is not an integer, but the tensor is INT64: send integers, or the "
            "tensor as FP64.",
        ),
        (
            json_body({"datatype": "INT32", "data": [1, True, 2]}),
            "input 'speed' value true in row 1 is not an integer, but the tensor is INT32: send integers, or the "
            "tensor as FP64.",
        ),
        (
            json_body({"datatype": "INT32", "data": [1, "2", 2]}),
            "input 'speed' value \"2\" in row 1 is not an integer, but the tensor is INT32: send integers, or the "
            "tensor as FP64.",
        ),
    ],
    ids=["json beyond 2**53", "binary beyond 2**53", "binary int64 min", "int32 overflow", "int64 overflow",
         "a float", "a boolean", "a string"],
)  # fmt: skip
def test_integers_float64_cannot_hold_exactly_are_refused(model, body, message):
    with pytest.raises(runtime.InputError) as caught:
        decode_infer_request(*body, model)
    assert (str(caught.value), caught.value.column, caught.value.row) == (message, "speed", 1)


def test_an_integer_tensor_through_the_server(shared_server):
    reply = shared_server.post_json("/v2/models/quality/infer", request({"datatype": "INT32", "data": SPEEDS}))
    assert reply.status == 200
    assert reply.json()["outputs"][0]["shape"] == [3]
    refused = shared_server.post_json(
        "/v2/models/quality/infer", request({"datatype": "INT64", "data": [1, 2**53 + 1, 2]})
    )
    assert (refused.status, refused.json()) == (400, {"error": NOT_EXACT.format(value=2**53 + 1)})
