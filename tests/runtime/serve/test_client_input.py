"""Finding 7: odd client input is a 400 with an ASCII JSON body, counted and logged, never a 500.

Numbers beyond the float range, integers past Python's 4,300-digit limit, odd
Inference-Header-Content-Length values, huge or non-ASCII query parameters and lone surrogates in
protocol fields (which no UTF-8 body can hold unescaped) were 500s, some with an unencodable body.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.runtime.serve.records import EXAMPLE, v2_body

V2_INFER = "/v2/models/quality/infer"
TOO_LARGE = "which is too large for a float (at most 1.798e+308 in magnitude)."
V2_TEXT = json.dumps(v2_body([EXAMPLE]))
V1_TEXT = json.dumps(EXAMPLE)


def _header_length(value: str) -> tuple[str, str, bytes, dict[str, str]]:
    return ("POST", V2_INFER, V2_TEXT.encode(), {"Inference-Header-Content-Length": value})


def _length_error(shown: str) -> str:
    return (
        f"Inference-Header-Content-Length == {shown} must be a whole number of bytes no larger than the body "
        f"({len(V2_TEXT)})."
    )


LONE = "request body holds the string {}, which has a lone surrogate and is not Unicode text: send UTF-8 text."
ODD_INPUT: list[tuple[str, tuple[str, str, bytes, dict[str, str]], str]] = [
    # (case, (method, path, body, headers), exact error)
    (
        "1e400 is not a float (v1)",
        ("POST", "/v1/predict", V1_TEXT.replace("206.61", "1e400").encode(), {}),
        f"request body holds the number 1e400, {TOO_LARGE}",
    ),
    (
        "-1e400 is not a float (v2)",
        ("POST", V2_INFER, V2_TEXT.replace("206.61", "-1e400").encode(), {}),
        f"request body holds the number -1e400, {TOO_LARGE}",
    ),
    (
        "10**400 as a JSON integer",
        ("POST", "/v1/predict", V1_TEXT.replace("206.61", str(10**400)).encode(), {}),
        f"request body holds the integer 100000000000...(401 characters), {TOO_LARGE}",
    ),
    (
        "10**400 as a JSON integer (v2 data)",
        ("POST", V2_INFER, V2_TEXT.replace("206.61", str(10**400)).encode(), {}),
        f"request body holds the integer 100000000000...(401 characters), {TOO_LARGE}",
    ),
    (
        "an integer past the 4,300-digit limit",
        ("POST", "/v1/predict", V1_TEXT.replace("206.61", "1" + "0" * 5000).encode(), {}),
        "request body holds a number of more than 4300 digits, which is not JSON this server reads.",
    ),
    (
        "FP32 beyond float32",
        ("POST", V2_INFER, V2_TEXT.replace('"FP64"', '"FP32"', 1).replace("206.61", "1e300").encode(), {}),
        "input 'temperature' value 1e+300 in row 0 is too large for FP32 (at most 3.403e+38 in magnitude): "
        "send it as FP64.",
    ),
    ("header length negative", _header_length("-1"), _length_error("'-1'")),
    (
        "header length of 5,000 digits",
        _header_length("9" * 5000),
        _length_error(f"'{'9' * 40}...(5000 characters)'"),
    ),
    ("header length non-ASCII digits", _header_length("\u00b9\u00b2"), _length_error("'\u00b9\u00b2'")),
    ("header length bigger than the body", _header_length("999999"), _length_error("'999999'")),
    (
        "a query string of 2,000 bytes",
        ("GET", "/v1/status?x=" + "a" * 2000, b"", {}),
        "query string is longer than 1024 bytes.",
    ),
    (
        "last of 200 digits",
        ("GET", "/v1/drift?last=" + "9" * 200, b"", {}),
        f"last == '{'9' * 40}...(200 characters)' must be a whole number of rows (at most 100 digits).",
    ),
    (
        "last in Arabic-Indic digits",
        ("GET", "/v1/drift?last=%D9%A1", b"", {}),
        "last == '\u0661' must be a whole number of rows (at most 100 digits).",
    ),
    ("lone surrogate as a tensor name", ("POST", V2_INFER, V2_TEXT.replace('"temperature"', '"\\ud800"').encode(), {}),
     LONE.format("'\\ud800'")),
    ("lone surrogate as the id",
     ("POST", V2_INFER, V2_TEXT.replace('{"inputs"', '{"id": "\\ud800", "inputs"').encode(), {}),
     LONE.format("'\\ud800'")),
    ("lone surrogate as a datatype", ("POST", V2_INFER, V2_TEXT.replace('"FP64"', '"\\udc00"', 1).encode(), {}),
     LONE.format("'\\udc00'")),
    ("lone surrogate as an output name",
     ("POST", V2_INFER, V2_TEXT.replace('{"inputs"', '{"outputs": [{"name": "\\ud800"}], "inputs"').encode(), {}),
     LONE.format("'\\ud800'")),
    ("lone surrogate in BYTES data", ("POST", V2_INFER, V2_TEXT.replace('"day"', '"d\\udbffay"').encode(), {}),
     LONE.format("'d\\udbffay'")),
    ("lone surrogate as a category (v1)", ("POST", "/v1/predict", V1_TEXT.replace('"day"', '"\\ud800"').encode(), {}),
     LONE.format("'\\ud800'")),
    ("lone surrogate as a key (v1)", ("POST", "/v1/predict", V1_TEXT.replace('"shift"', '"\\ud800"').encode(), {}),
     LONE.format("'\\ud800'")),
]  # fmt: skip


def _metric(server: Any) -> float:
    return float(server.metric('factory_edge_http_errors_total{kind="bad_input"}'))


@pytest.mark.parametrize(("request_parts", "error"), [case[1:] for case in ODD_INPUT], ids=[c[0] for c in ODD_INPUT])
def test_odd_input_is_an_ascii_400_counted_and_logged(shared_server, request_parts, error):
    method, path, body, headers = request_parts
    before = _metric(shared_server)
    reply = shared_server.request(method, path, body or None, headers={"Content-Type": "application/json", **headers})
    assert (reply.status, reply.json()) == (400, {"error": error})
    assert reply.body.isascii()
    assert _metric(shared_server) == before + 1
    if path.startswith(("/v1/predict", "/v2/models")):  # a prediction route: the rejection is in the log
        assert reply.headers["x-log-status"] == "written"


def test_a_row_count_past_sqlite_still_means_all_rows(shared_server, example):
    assert shared_server.post_json("/v1/predict", example).status == 200
    assert shared_server.get("/v1/drift?last=99999999999999999999999").status == 200


def test_a_lone_surrogate_accepted_as_an_unknown_category_is_a_400_not_a_500(bundles, start_server):
    """Under --on-unknown flag it reached onnxruntime, whose UTF-8 encoding raised (500, a traceback)."""
    with start_server(bundles.model_folder(), "--on-unknown", "flag") as server:
        reply = server.request("POST", "/v1/predict", V1_TEXT.replace('"day"', '"\\ud800"').encode())
        assert (reply.status, reply.json()) == (400, {"error": LONE.format("'\\ud800'")})
        emoji = server.request("POST", "/v1/predict", V1_TEXT.replace('"day"', '"\\ud83d\\ude00"').encode())
        assert emoji.status == 200 and emoji.json()["flags"]  # a surrogate pair is text: an unknown category
        assert "Traceback" not in server.stderr()
