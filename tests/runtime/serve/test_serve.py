"""The HTTP server (runtime._serve): the Open Inference Protocol with the real tritonclient, the JSON
endpoint, status and metrics, and a table of bad requests with their exact status and error."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import sqlite3
import time
import uuid
from contextlib import closing
from typing import Any

import numpy as np
import pytest

import runtime
from runtime._holder import ModelHolder
from runtime._monitor.predictlog import LogEntry, PredictionLog
from runtime._serve.app import create_app
from runtime._serve.config import ServeConfig
from tests.runtime.serve.records import COLUMNS, EXAMPLE, NUMBERS, v2_body

V2_INFER = "/v2/models/quality/infer"


def random_rows(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """Valid records across the ranges and categories, some values missing where the model allows it."""
    rng = random.Random(seed)
    ranges = {
        "temperature": (100, 300),
        "pressure": (0, 120),
        "speed": (0, 200),
        "humidity": (0, 100),
        "vibration": (0, 20),
    }
    rows = []
    for _ in range(count):
        row: dict[str, Any] = {name: round(rng.uniform(*ranges[name]), 3) for name in NUMBERS}
        row["machine_type"] = rng.choice("ABC")
        row["shift"] = rng.choice(["day", "evening", "night", None])
        if rng.random() < 0.2:
            row[rng.choice(NUMBERS)] = None
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def served_model(shared_server) -> runtime.Model:
    """The model the shared server serves, loaded here from the same files."""
    return runtime.load(shared_server.model_folder)


# ---------------------------------------------------------------------------------------------
# acceptance 1: the real tritonclient against the real server


def test_tritonclient_health_metadata_and_infer_match_the_runtime(shared_server, served_model):
    tritonclient_http = pytest.importorskip("tritonclient.http", reason='needs the "dev" extra (tritonclient[http])')
    rows = random_rows(40)
    expected = served_model.predict_batch(rows)
    client = tritonclient_http.InferenceServerClient(f"127.0.0.1:{shared_server.port}", network_timeout=30)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("quality")
        assert not client.is_model_ready("no-such-model")

        metadata = client.get_model_metadata("quality")
        assert metadata["name"] == "quality"
        assert metadata["versions"] == ["1.0.0"]
        assert metadata["platform"] == "onnxruntime_onnx"
        assert [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]] == [
            (name, "FP64" if name in NUMBERS else "BYTES", [-1, 1]) for name in COLUMNS
        ]
        assert [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]] == [
            ("label", "INT64", [-1]),
            ("probabilities", "FP64", [-1, 2]),
        ]
        assert metadata["parameters"]["classes"] == [0, 1]
        assert client.get_server_metadata()["extensions"] == ["binary_tensor_data", "model_repository"]

        inputs = []
        for spec in metadata["inputs"]:
            name = spec["name"]
            if spec["datatype"] == "FP64":
                array = np.array([[np.nan if row[name] is None else row[name]] for row in rows], dtype=np.float64)
            else:
                array = np.array([["" if row[name] is None else row[name]] for row in rows], dtype=object)
            tensor = tritonclient_http.InferInput(name, list(array.shape), spec["datatype"])
            tensor.set_data_from_numpy(array)  # binary tensor data, the client's default
            inputs.append(tensor)
        result = client.infer("quality", inputs, request_id="triton-1")
        response = result.get_response()
        assert (response["model_name"], response["model_version"], response["id"]) == ("quality", "1.0.0", "triton-1")
        np.testing.assert_array_equal(result.as_numpy("label"), expected.labels)
        np.testing.assert_array_equal(result.as_numpy("probabilities"), expected.probabilities)

        # JSON outputs, one of them only, and the versioned URL
        outputs = [tritonclient_http.InferRequestedOutput("probabilities", binary_data=False)]
        result = client.infer("quality", inputs, model_version="1.0.0", outputs=outputs)
        assert [output["name"] for output in result.get_response()["outputs"]] == ["probabilities"]
        np.testing.assert_array_equal(result.as_numpy("probabilities"), expected.probabilities)

        # JSON inputs too (binary_data=False), with FP32 numbers: rounded to float32 as declared
        few = [dict(EXAMPLE_ROW), dict(EXAMPLE_ROW, temperature=250.1, machine_type="A"), dict(EXAMPLE_ROW, speed=10.3)]
        json_inputs = []
        for name in COLUMNS:
            if name in NUMBERS:
                array = np.array([[row[name]] for row in few], dtype=np.float32)
                tensor = tritonclient_http.InferInput(name, list(array.shape), "FP32")
            else:
                array = np.array([[row[name]] for row in few], dtype=object)
                tensor = tritonclient_http.InferInput(name, list(array.shape), "BYTES")
            json_inputs.append(tensor.set_data_from_numpy(array, binary_data=False))
        as_float32 = [{k: float(np.float32(v)) if k in NUMBERS else v for k, v in row.items()} for row in few]
        result = client.infer("quality", json_inputs)
        np.testing.assert_array_equal(
            result.as_numpy("probabilities"), served_model.predict_batch(as_float32).probabilities
        )

        with pytest.raises(tritonclient_http.InferenceServerException, match="unknown model 'other'"):
            client.infer("other", inputs)
        client.load_model("quality")  # KServe repository extension: reload now
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# the plain JSON endpoint, status, metrics


def test_v1_predict_one_record_and_a_list(shared_server, served_model, example):
    reply = shared_server.post_json("/v1/predict", example, headers={"X-Request-Id": "one-record"})
    assert reply.status == 200, reply.body
    body = reply.json()
    expected = served_model.predict(example)
    assert body == {
        "request_id": "one-record",
        "model": "quality",
        "version": "1.0.0",
        "label": expected.label,
        "probabilities": {str(label): p for label, p in expected.probabilities.items()},
        "flags": [],
    }
    assert reply.headers["x-request-id"] == "one-record"
    assert reply.headers["x-model-version"] == "1.0.0"
    assert reply.headers["x-log-status"] == "written"

    rows = random_rows(30, seed=11)  # more than INLINE_ROWS: predicted in a worker thread
    reply = shared_server.post_json("/v1/predict", rows)
    assert reply.status == 200, reply.body
    body = reply.json()
    batch = served_model.predict_batch(rows)
    assert body["version"] == "1.0.0" and len(body["predictions"]) == 30
    assert [item["label"] for item in body["predictions"]] == batch.labels.tolist()
    assert [
        [item["probabilities"]["0"], item["probabilities"]["1"]] for item in body["predictions"]
    ] == batch.probabilities.tolist()
    assert uuid.UUID(body["request_id"])  # made up by the server when not given


def test_v2_json_infer_with_nulls_and_nested_data(shared_server, served_model):
    rows = random_rows(5, seed=5)
    body = v2_body(rows, id="json-1")
    body["inputs"][0]["data"] = [[row["temperature"]] for row in rows]  # nested [[v], ...] is accepted too
    reply = shared_server.post_json(V2_INFER, body)
    assert reply.status == 200, reply.body
    result = reply.json()
    expected = served_model.predict_batch(rows)
    assert result["id"] == "json-1" and result["model_version"] == "1.0.0"
    label, probabilities = result["outputs"]
    assert label == {"name": "label", "datatype": "INT64", "shape": [5], "data": expected.labels.tolist()}
    assert probabilities["shape"] == [5, 2]
    assert probabilities["data"] == expected.probabilities.reshape(-1).tolist()


def test_every_prediction_and_rejection_is_in_the_log(shared_server, example):
    good = shared_server.post_json("/v1/predict", [example, example], headers={"X-Request-Id": "logged-ok"})
    bad = shared_server.post_json(
        "/v1/predict", {**example, "temperature": 999.0}, headers={"X-Request-Id": "logged-bad"}
    )
    assert (good.status, bad.status) == (200, 400)
    assert good.headers["x-log-status"] == bad.headers["x-log-status"] == "written"
    with closing(sqlite3.connect(shared_server.log_path)) as db:
        found = db.execute(
            "SELECT request_id, row, status, version, inputs, outputs, error FROM predictions "
            "WHERE request_id IN ('logged-ok', 'logged-bad') ORDER BY id"
        ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in found] == [
        ("logged-ok", 0, 200, "1.0.0"),
        ("logged-ok", 1, 200, "1.0.0"),
        ("logged-bad", None, 400, "1.0.0"),
    ]
    assert json.loads(found[0][4]) == example
    assert set(json.loads(found[0][5])) == {"label", "probabilities"}
    assert found[2][6].startswith("temperature == 999.0, must be within [100.0, 300.0]")


def test_the_log_names_the_route_that_answered(shared_server, example):
    """A versioned infer was logged as /v2/models/{name}/infer when it succeeded and under its own
    route when it was refused."""
    good = v2_body([example], id="versioned-ok")
    bad = v2_body([{**example, "temperature": 999.0}], id="versioned-bad")
    for body in (good, bad):
        shared_server.post_json("/v2/models/quality/versions/1.0.0/infer", body)
    assert shared_server.post_json(V2_INFER, v2_body([example], id="unversioned-ok")).status == 200
    with closing(sqlite3.connect(shared_server.log_path)) as db:
        found = db.execute(
            "SELECT request_id, status, endpoint FROM predictions "
            "WHERE request_id IN ('versioned-ok', 'versioned-bad', 'unversioned-ok') ORDER BY id"
        ).fetchall()
    assert found == [
        ("versioned-ok", 200, "/v2/models/{name}/versions/{version}/infer"),
        ("versioned-bad", 400, "/v2/models/{name}/versions/{version}/infer"),
        ("unversioned-ok", 200, "/v2/models/{name}/infer"),
    ]


def test_status_names_model_log_and_uptime(shared_server):
    status = shared_server.get("/v1/status").json()
    assert status["model"]["name"] == "quality" and status["model"]["version"] == "1.0.0"
    assert status["model"]["path"].endswith("quality/1.0.0")
    assert status["model"]["loaded_at"].endswith("Z")
    assert status["log"]["path"] == str(shared_server.log_path)
    assert status["log"]["write_failures"] == 0
    assert status["server"]["uptime_s"] > 0
    for key in ("rows_written", "last_error", "queued_rows"):
        assert key in status["log"]


def test_drift_over_more_rows_than_the_log_holds_is_all_of_them(shared_server, example):
    assert shared_server.post_json("/v1/predict", example).status == 200
    reply = shared_server.get(f"/v1/drift?last={10**30}")  # past SQLite's int64 LIMIT: was a 500
    assert reply.status == 200, reply.body
    assert reply.json()["rows"] >= 1


def test_metrics_count_requests_errors_and_the_served_version(shared_server, example):
    shared_server.post_json("/v1/predict", example)  # the series exists whichever tests ran before
    before = shared_server.metric('factory_edge_http_requests_total{endpoint="/v1/predict",status="200"}')
    shared_server.post_json("/v1/predict", example)
    shared_server.get("/nowhere")
    text = shared_server.get("/metrics").body.decode()
    assert f'factory_edge_http_requests_total{{endpoint="/v1/predict",status="200"}} {before + 1}' in text
    assert 'factory_edge_http_requests_total{endpoint="unmatched",status="404"}' in text
    assert 'factory_edge_model_info{model="quality",path=' in text and 'version="1.0.0"} 1.0' in text
    assert "factory_edge_http_request_duration_seconds_bucket" in text
    assert "factory_edge_prediction_log_rows_written_total" in text
    assert "factory_edge_prediction_log_write_failures_total 0.0" in text
    assert 'factory_edge_reloads_total{outcome="refused"} 0.0' in text
    assert "process_resident_memory_bytes" in text
    assert "_created" not in text


# ---------------------------------------------------------------------------------------------
# acceptance 4: bad requests, each with its exact status and error

EXAMPLE_ROW = EXAMPLE


def _tensor(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in body["inputs"] if t["name"] == name)


def _v2(change=None, rows=1) -> bytes:
    body = v2_body([EXAMPLE_ROW] * rows)
    if change is not None:
        change(body)
    return json.dumps(body).encode()


def _set(name: str, **fields: Any):
    return lambda body: _tensor(body, name).update(fields)


def _drop(name: str):
    return lambda body: body["inputs"].remove(_tensor(body, name))


def _binary_fp64_too_short() -> tuple[bytes, dict[str, str]]:
    body = v2_body([EXAMPLE_ROW])
    tensor = _tensor(body, "temperature")
    del tensor["data"]
    tensor["parameters"] = {"binary_data_size": 12}
    header = json.dumps(body).encode()
    return header + b"\x00" * 12, {"Inference-Header-Content-Length": str(len(header))}


BINARY_BODY, BINARY_HEADERS = _binary_fp64_too_short()
HINT = "(start the server with --on-unknown flag to accept and flag it)"
RANGE_HINT = "(start the server with --on-out-of-range flag to accept and flag it)"
LIMIT = 100_000

BAD_REQUESTS = [
    # (case, method, path, body, headers, status, exact error)
    (
        "malformed JSON",
        "POST",
        V2_INFER,
        b'{"inputs": [',
        {},
        400,
        "request body is not valid JSON: Expecting value at line 1 column 13.",
    ),
    (
        "malformed JSON (v1)",
        "POST",
        "/v1/predict",
        b"{'temperature': 1}",
        {},
        400,
        "request body is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2.",
    ),
    (
        "NaN is not JSON",
        "POST",
        "/v1/predict",
        b'{"temperature": NaN}',
        {},
        400,
        "request body holds NaN, which is not JSON: send null for a missing value.",
    ),
    (
        "not UTF-8",
        "POST",
        "/v1/predict",
        b'{"a": "\xc3\x28"}',
        {},
        400,
        "request body is not UTF-8 text: invalid continuation byte at byte 7.",
    ),
    (
        "nested too deeply",
        "POST",
        V2_INFER,
        b"[" * 40_000,
        {},
        400,
        "request body is not valid JSON: nested too deeply.",
    ),
    (
        "a number of 5000 digits",  # Python's int limit raises ValueError inside json.loads, not JSONDecodeError
        "POST",
        "/v1/predict",
        b'{"temperature": ' + b"1" * 5000 + b"}",
        {},
        400,
        "request body holds a number of more than 4300 digits, which is not JSON this server reads.",
    ),
    (
        "body is a list",
        "POST",
        V2_INFER,
        b"[1, 2]",
        {},
        400,
        'infer request must be a JSON object with "inputs", got a list.',
    ),
    (
        "no inputs",
        "POST",
        V2_INFER,
        b'{"id": "x"}',
        {},
        400,
        'infer request has no "inputs": send a list with one tensor per column.',
    ),
    (
        "id not a string",
        "POST",
        V2_INFER,
        _v2(lambda b: b.update(id=5)),
        {},
        400,
        'infer request field "id" == 5 must be a string.',
    ),
    (
        "wrong shape [1, 2]",
        "POST",
        V2_INFER,
        _v2(_set("temperature", shape=[1, 2])),
        {},
        400,
        "input 'temperature' has shape [1, 2], must be [N] or [N, 1] (one value per row).",
    ),
    (
        "wrong shape, 3 dimensions",
        "POST",
        V2_INFER,
        _v2(_set("speed", shape=[1, 1, 1])),
        {},
        400,
        "input 'speed' has shape [1, 1, 1], must be [N] or [N, 1] (one value per row).",
    ),
    (
        "zero rows",
        "POST",
        V2_INFER,
        _v2(_set("temperature", shape=[0, 1], data=[])),
        {},
        400,
        "input 'temperature' has shape [0, 1]: at least one row is needed.",
    ),
    (
        "INT8 for a number",
        "POST",
        V2_INFER,
        _v2(_set("pressure", datatype="INT8")),
        {},
        400,
        "input 'pressure' has datatype INT8, must be FP64, FP32, INT64 or INT32 (the column holds numbers).",
    ),
    (
        "BYTES for a number",
        "POST",
        V2_INFER,
        _v2(_set("temperature", datatype="BYTES")),
        {},
        400,
        "input 'temperature' has datatype BYTES, must be FP64, FP32, INT64 or INT32 (the column holds numbers).",
    ),
    (
        "FP64 for a category",
        "POST",
        V2_INFER,
        _v2(_set("machine_type", datatype="FP64")),
        {},
        400,
        "input 'machine_type' has datatype FP64, must be BYTES (the column holds categories as strings).",
    ),
    (
        "missing input",
        "POST",
        V2_INFER,
        _v2(_drop("shift")),
        {},
        400,
        "infer request has 6 columns, but model 'quality' 1.0.0 expects 7: missing ['shift'].",
    ),
    (
        "unknown input",
        "POST",
        V2_INFER,
        _v2(lambda b: b["inputs"].append({"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]})),
        {},
        400,
        "infer request has 8 columns, but model 'quality' 1.0.0 expects 7: unknown ['colour'].",
    ),
    (
        "input twice",
        "POST",
        V2_INFER,
        _v2(lambda b: b["inputs"].append(dict(b["inputs"][0]))),
        {},
        400,
        "input 'temperature' appears twice in \"inputs\".",
    ),
    (
        "data shorter than shape",
        "POST",
        V2_INFER,
        _v2(_set("humidity", data=[38.7]), rows=2),
        {},
        400,
        "input 'humidity' has 1 value in \"data\", but its shape [2, 1] needs 2.",
    ),
    (
        "rows differ between inputs",
        "POST",
        V2_INFER,
        _v2(_set("pressure", shape=[2, 1], data=[1.0, 2.0])),
        {},
        400,
        "input 'pressure' has 2 rows (shape [2, 1]), but 'temperature' has 1: every input needs one value per row.",
    ),
    (
        "no data",
        "POST",
        V2_INFER,
        _v2(lambda b: _tensor(b, "vibration").pop("data")),
        {},
        400,
        "input 'vibration' has no \"data\" (and no binary_data_size parameter).",
    ),
    (
        "string in a number column",
        "POST",
        V2_INFER,
        _v2(_set("temperature", data=["hot"])),
        {},
        400,
        "temperature == 'hot' in row 0 has type str, must be a finite number within [100.0, 300.0] or missing (None): "
        "strings are not converted to numbers.",
    ),
    (
        "out of range",
        "POST",
        V2_INFER,
        _v2(_set("temperature", data=[412.0])),
        {},
        400,
        "temperature == 412.0 in row 0, must be within [100.0, 300.0] (valid range from the demo data's physical sensor limits) "
        f"{RANGE_HINT}.",
    ),
    (
        "null where not nullable",
        "POST",
        V2_INFER,
        _v2(_set("machine_type", data=[None])),
        {},
        400,
        "machine_type is missing (None) in row 0, but the column does not allow missing values: must be a string, one of ['A', 'B', 'C'].",
    ),
    (
        "unknown category",
        "POST",
        V2_INFER,
        _v2(_set("machine_type", data=["Z"])),
        {},
        400,
        f"machine_type == 'Z' in row 0 is not a known category, must be one of ['A', 'B', 'C'] {HINT}.",
    ),
    (
        "unknown categories in two of three rows",
        "POST",
        V2_INFER,
        _v2(_set("machine_type", shape=[3, 1], data=["Z", "B", "Q"]), rows=3),
        {},
        400,
        f"machine_type == 'Z' in row 0 is not a known category, must be one of ['A', 'B', 'C'] {HINT}. "
        f"machine_type == 'Q' in row 2 is not a known category, must be one of ['A', 'B', 'C'] {HINT}. (2 of 3 rows are invalid.)",
    ),
    (
        "v1 unknown categories in two of three records",
        "POST",
        "/v1/predict",
        json.dumps([EXAMPLE_ROW, {**EXAMPLE_ROW, "shift": "weekend"}, {**EXAMPLE_ROW, "machine_type": "Q"}]),
        {},
        400,
        f"shift == 'weekend' in row 1 is not a known category, must be one of ['day', 'evening', 'night'] {HINT}. "
        f"machine_type == 'Q' in row 2 is not a known category, must be one of ['A', 'B', 'C'] {HINT}. (2 of 3 rows are invalid.)",
    ),
    (
        "v1 unknown category in one record",
        "POST",
        "/v1/predict",
        json.dumps({**EXAMPLE_ROW, "shift": "weekend"}),
        {},
        400,
        f"shift == 'weekend' is not a known category, must be one of ['day', 'evening', 'night'] {HINT}.",
    ),
    (
        "out of range first, unknown category after",
        "POST",
        "/v1/predict",
        json.dumps([{**EXAMPLE_ROW, "temperature": 412.0}, {**EXAMPLE_ROW, "shift": "weekend"}]),
        {},
        400,
        "temperature == 412.0 in row 0, must be within [100.0, 300.0] (valid range from the demo data's physical sensor limits) "
        f"{RANGE_HINT}. shift == 'weekend' in row 1 is not a known category, must be one of ['day', 'evening', 'night'] "
        f"{HINT}. (2 of 2 rows are invalid.)",
    ),
    (
        "binary data shorter than shape",
        "POST",
        V2_INFER,
        BINARY_BODY,
        BINARY_HEADERS,
        400,
        "input 'temperature' has 12 bytes of binary data, but shape [1, 1] of FP64 needs 8.",
    ),
    (
        "binary header length not a number",
        "POST",
        V2_INFER,
        _v2(),
        {"Inference-Header-Content-Length": "ten"},
        400,
        f"Inference-Header-Content-Length == 'ten' must be a whole number of bytes no larger than the body ({len(_v2())}).",
    ),
    (
        "binary header length a non-ASCII digit",
        "POST",
        V2_INFER,
        _v2(),
        {"Inference-Header-Content-Length": "\u00b2"},  # "²": str.isdigit() says yes, int() says no
        400,
        f"Inference-Header-Content-Length == '\u00b2' must be a whole number of bytes no larger than the body ({len(_v2())}).",
    ),
    (
        "unknown output",
        "POST",
        V2_INFER,
        _v2(lambda b: b.update(outputs=[{"name": "logits"}])),
        {},
        400,
        "infer request asks for output 'logits', but model 'quality' 1.0.0 has outputs ['label', 'probabilities'].",
    ),
    (
        "request id too long",
        "POST",
        "/v1/predict",
        json.dumps(EXAMPLE_ROW),
        {"X-Request-Id": "x" * 300},
        400,
        "X-Request-Id header == 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... must be 1 to 256 printable ASCII characters (no leading space).",
    ),
    (
        "v1 body a number",
        "POST",
        "/v1/predict",
        b"42",
        {},
        400,
        "request body must be one record (a JSON object of column -> value) or a list of records, got int.",
    ),
    (
        "v1 list holding a number",
        "POST",
        "/v1/predict",
        json.dumps([EXAMPLE_ROW, 7]),
        {},
        400,
        "row 1 is a int, but a list batch must hold mappings of column -> value (one per record).",
    ),
    ("v1 empty list", "POST", "/v1/predict", b"[]", {}, 400, "batch is empty: at least one row is needed."),
    (
        "v1 missing column",
        "POST",
        "/v1/predict",
        json.dumps({k: v for k, v in EXAMPLE_ROW.items() if k != "shift"}),
        {},
        400,
        "record has 6 columns, but model 'quality' 1.0.0 expects 7: missing ['shift'].",
    ),
    (
        "compressed body",
        "POST",
        V2_INFER,
        _v2(),
        {"Content-Encoding": "gzip"},
        400,
        "Content-Encoding 'gzip' is not supported: send the body uncompressed.",
    ),
    (
        "oversized body",
        "POST",
        "/v1/predict",
        b" " * (LIMIT + 1),
        {},
        413,
        f"request body is larger than the limit of {LIMIT} bytes (--max-body-bytes).",
    ),
    (
        "unknown model",
        "POST",
        "/v2/models/nope/infer",
        _v2(),
        {},
        404,
        "unknown model 'nope': this server serves 'quality'.",
    ),
    (
        "unknown version",
        "POST",
        "/v2/models/quality/versions/9.9.9/infer",
        _v2(),
        {},
        404,
        "model 'quality' has no version '9.9.9' here: it serves 1.0.0.",
    ),
    (
        "unknown model metadata",
        "GET",
        "/v2/models/nope",
        None,
        {},
        404,
        "unknown model 'nope': this server serves 'quality'.",
    ),
    ("unknown path", "GET", "/v2/nothing", None, {}, 404, "no endpoint at /v2/nothing."),
    (
        "GET on infer",
        "GET",
        V2_INFER,
        None,
        {},
        405,
        "method GET is not allowed at /v2/models/quality/infer; use POST.",
    ),
    (
        "POST on metadata",
        "POST",
        "/v2/models/quality",
        b"{}",
        {},
        405,
        "method POST is not allowed at /v2/models/quality; use GET, HEAD.",
    ),
    (
        "DELETE on predict",
        "DELETE",
        "/v1/predict",
        None,
        {},
        405,
        "method DELETE is not allowed at /v1/predict; use POST.",
    ),
    (
        "unload",
        "POST",
        "/v2/repository/models/quality/unload",
        b"{}",
        {},
        400,
        "unload is not supported: this server serves one model; stop the server to stop serving it.",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "error"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_request_gets_exact_status_and_error(shared_server, method, path, body, headers, status, error):
    reply = shared_server.request(method, path, body, headers=headers)
    answer = reply.json()
    assert (reply.status, answer["error"]) == (status, error)
    # a refusal of rows' values also lists them (test_every_bad_row_of_a_list_is_reported)
    assert set(answer) == ({"error", "rejected_rows", "rejected"} if " in row " in error else {"error"})
    assert reply.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nowhere", 404), ("DELETE", "/v1/predict", 405), ("GET", "/v1/status", 200)]
)
def test_every_response_names_its_request_and_the_version(shared_server, method, path, status):
    """The router's own 404 and 405 skipped the endpoint wrapper, and with it both headers."""
    reply = shared_server.request(method, path, headers={"X-Request-Id": "router-1"})
    assert reply.status == status
    assert (reply.headers["x-request-id"], reply.headers["x-model-version"]) == ("router-1", "1.0.0")
    reply = shared_server.request(method, path, headers={"X-Request-Id": "x" * 300})
    assert reply.status == (400 if status == 200 else status)  # on a route, a bad id is the error
    assert uuid.UUID(reply.headers["x-request-id"]) and reply.headers["x-model-version"] == "1.0.0"


def test_every_400_is_counted_as_bad_input(shared_server):
    """Unload's 400 was counted in requests_total but not in errors_total{kind="bad_input"}."""
    before = shared_server.metric('factory_edge_http_errors_total{kind="bad_input"}')
    assert shared_server.request("POST", "/v2/repository/models/quality/unload", b"{}").status == 400
    assert shared_server.metric('factory_edge_http_errors_total{kind="bad_input"}') == before + 1


def test_oversized_chunked_body_is_refused_while_reading(shared_server):
    """No Content-Length to trust: the limit is enforced on the bytes as they arrive."""
    connection = http.client.HTTPConnection("127.0.0.1", shared_server.port, timeout=10)
    try:
        chunks = (b"[" + b"1," * 1000 for _ in range(60))  # ~120 kB, over the 100 kB limit
        connection.request("POST", "/v1/predict", body=chunks, encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (
            413,
            {"error": f"request body is larger than the limit of {LIMIT} bytes (--max-body-bytes)."},
        )
    finally:
        connection.close()


def test_garbage_never_gets_a_500(shared_server):
    """Random mutations of valid requests: every answer is 200 or a 400 with an error, never a 500."""
    rng = random.Random(17)
    values: list[Any] = [None, True, 0, -1, 1e308, "", "x", [], [[]], {}, {"a": 1}, [1, 2], "FP64", -5, 2**70]
    for _ in range(300):
        body = v2_body(random_rows(2, seed=rng.randrange(10**6)))
        target = rng.choice([body, rng.choice(body["inputs"])])
        key = rng.choice(["inputs", "shape", "datatype", "data", "name", "parameters", "outputs", "id"])
        target[key] = rng.choice(values)
        reply = shared_server.post_json(V2_INFER, body)
        assert reply.status in (200, 400), reply.body
        assert reply.status == 200 or set(reply.json()) == {"error"}
    assert shared_server.metric('factory_edge_http_errors_total{kind="internal"}') == 0


# ---------------------------------------------------------------------------------------------
# in-process: a bug gives a 500 with a fixed message; unknown categories can be flagged


def asgi_request(
    app: Any, method: str, path: str, body: bytes = b"", request_id: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI app directly (no server, no lifespan) and collect its response."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", str(len(body)).encode())]
        + ([(b"x-request-id", request_id.encode())] if request_id else []),
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    headers = {key.decode(): value.decode() for key, value in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(message.get("body", b"") for message in sent[1:])


def test_unexpected_exception_is_a_500_with_a_fixed_message_and_a_logged_traceback(shared_server, example, caplog):
    model = runtime.load(shared_server.model_folder)

    def broken(record: Any) -> Any:
        raise RuntimeError("boom")

    model.predict = broken  # type: ignore[method-assign]
    app = create_app(ModelHolder(model.path, model, loader=runtime.load, poll_s=0), config=ServeConfig())
    with caplog.at_level("ERROR", logger="runtime._serve.endpoints"):
        status, headers, body = asgi_request(app, "POST", "/v1/predict", json.dumps(example).encode())
    assert (status, json.loads(body)) == (500, {"error": "internal error, see the server log"})
    assert headers["x-request-id"]
    assert "internal error answering POST /v1/predict" in caplog.text
    assert "RuntimeError: boom" in caplog.text  # the traceback


def test_on_unknown_flag_predicts_and_lists_the_unknown_category(shared_server, example):
    model = runtime.load(shared_server.model_folder, on_unknown="flag")
    app = create_app(ModelHolder(model.path, model, loader=runtime.load, poll_s=0))
    status, _, body = asgi_request(app, "POST", "/v1/predict", json.dumps({**example, "shift": "weekend"}).encode())
    assert status == 200
    assert json.loads(body)["flags"] == ["unknown category: shift == 'weekend'"]
    status, _, body = asgi_request(
        app, "POST", V2_INFER, json.dumps(v2_body([example, {**example, "machine_type": "Q"}])).encode()
    )
    assert status == 200
    assert json.loads(body)["parameters"] == {"flags": {"1": ["unknown category: machine_type == 'Q'"]}}


# ---------------------------------------------------------------------------------------------
# timeouts


@pytest.fixture(scope="module")
def impatient_server(bundles, start_server):
    with start_server(
        bundles.model_folder(), "--timeout-s", "0.3", "--max-body-bytes", str(64 * 2**20), log=False
    ) as server:
        yield server


def raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes, read until the server closes, return the status and the JSON body."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_body_that_never_arrives_times_out(impatient_server):
    host = f"127.0.0.1:{impatient_server.port}".encode()  # another Host is refused (421) before the body
    request = b"POST /v1/predict HTTP/1.1\r\nHost: " + host + b'\r\nContent-Length: 100\r\n\r\n{"temperature": 2'
    status, body = raw_exchange(impatient_server.port, request)
    assert (status, body) == (503, {"error": "request timed out after 0.3 s (--timeout-s) while reading the body."})


def test_a_batch_that_takes_too_long_times_out(impatient_server):
    rows = 300_000
    columns: dict[str, Any] = {name: [EXAMPLE_ROW[name]] * rows for name in COLUMNS}
    inputs, chunks = [], []
    for name in COLUMNS:
        if name in NUMBERS:
            chunk = np.full(rows, EXAMPLE_ROW[name], dtype="<f8").tobytes()
            datatype = "FP64"
        else:
            value = EXAMPLE_ROW[name].encode()
            chunk = (len(value).to_bytes(4, "little") + value) * rows
            datatype = "BYTES"
        inputs.append(
            {"name": name, "shape": [rows, 1], "datatype": datatype, "parameters": {"binary_data_size": len(chunk)}}
        )
        chunks.append(chunk)
    del columns
    header = json.dumps({"inputs": inputs}).encode()
    reply = impatient_server.request(
        "POST",
        V2_INFER,
        header + b"".join(chunks),
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout_s=60,
    )
    assert reply.status == 503
    assert reply.json()["error"].startswith("request timed out after 0.3 s (--timeout-s) while ")
    assert impatient_server.get("/v2/health/ready").status == 200  # and the server still answers


def test_a_failed_log_write_still_answers_and_says_so(shared_server, example, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = PredictionLog(blocker / "predictions.db")  # cannot be created: every write fails
    model = runtime.load(shared_server.model_folder)
    app = create_app(ModelHolder(model.path, model, loader=runtime.load, poll_s=0), log=log)
    try:
        status, headers, body = asgi_request(app, "POST", "/v1/predict", json.dumps(example).encode())
        _, _, metrics = asgi_request(app, "GET", "/metrics")
    finally:
        log.close()
    assert status == 200 and json.loads(body)["label"] is not None
    assert headers["x-log-status"] == "failed"
    assert "factory_edge_prediction_log_write_failures_total 1.0" in metrics.decode()


def test_a_log_that_cannot_confirm_in_time_answers_unconfirmed(shared_server, example, tmp_path):
    path = tmp_path / "predictions.db"
    log = PredictionLog(path, busy_timeout_s=3.0)
    model = runtime.load(shared_server.model_folder)
    app = create_app(
        ModelHolder(model.path, model, loader=runtime.load, poll_s=0), log=log, config=ServeConfig(timeout_s=0.1)
    )
    try:
        assert log.submit(LogEntry("warm", 0.0, "/v1/predict", 400, None, None, 0.0, error="x")).result(5) == "written"
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock for longer than the wait
            started = time.monotonic()
            status, headers, _ = asgi_request(app, "POST", "/v1/predict", json.dumps(example).encode(), "slow-disk")
            waited = time.monotonic() - started
            other.execute("ROLLBACK")
        _, _, metrics = asgi_request(app, "GET", "/metrics")
    finally:
        log.close()
    assert (status, headers["x-log-status"]) == (200, "unconfirmed")
    assert 0.9 < waited < 2.9  # LOG_WAIT_MIN_S, not the 0.1 s request timeout, nor the 3 s busy timeout
    assert "factory_edge_prediction_log_unconfirmed_total 1.0" in metrics.decode()
    with closing(sqlite3.connect(path)) as db:  # the row was written once the lock went away
        assert db.execute("SELECT count(*) FROM predictions WHERE request_id = 'slow-disk'").fetchone()[0] == 1
