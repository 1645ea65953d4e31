"""Finding 4: a declared shape is checked against --max-elements and the data sent before anything
is allocated for it; and the infer decoder turns any bytes into a request or an InputError."""

from __future__ import annotations

import json
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runtime
from runtime._serve.protocol_v2 import InferRequest, decode_infer_request
from tests.runtime.serve.records import COLUMNS, EXAMPLE, NUMBERS, v2_body

V2_INFER = "/v2/models/quality/infer"
MAX_ROWS = 10_000_000 // len(COLUMNS)  # the default --max-elements over the model's 7 columns


@pytest.fixture(scope="module")
def model(bundles) -> runtime.Model:
    return runtime.load(bundles.model_folder())


def _binary(rows: int, shift_bytes: bytes) -> tuple[bytes, str]:
    """One row in binary data for every column but ``shift``, which declares ``rows`` rows."""
    inputs, chunks = [], []
    for name in COLUMNS:
        chunk = struct.pack("<d", EXAMPLE[name]) if name in NUMBERS else b""
        if name == "shift":
            chunk = shift_bytes
        elif name == "machine_type":
            chunk = struct.pack("<I", 1) + b"B"
        shape = [rows, 1] if name == "shift" else [1, 1]
        datatype = "FP64" if name in NUMBERS else "BYTES"
        inputs.append(
            {"name": name, "shape": shape, "datatype": datatype, "parameters": {"binary_data_size": len(chunk)}}
        )
        chunks.append(chunk)
    # shift first, so its shape is checked before another input's row count disagrees with it
    inputs.insert(0, inputs.pop())
    chunks.insert(0, chunks.pop())
    header = json.dumps({"inputs": inputs}).encode()
    return header + b"".join(chunks), str(len(header))


HUGE_SHAPES = [
    # (case, body, header length, exact error)
    (
        "BYTES shape of a billion rows, 8 bytes of data",
        *_binary(10**9, b"\x00" * 8),
        f"input 'shift' has shape [1000000000, 1]: at most {MAX_ROWS} rows per request "
        "(--max-elements over the model's columns).",
    ),
    (
        "BYTES shape just under the limit, 8 bytes of data",
        *_binary(MAX_ROWS, b"\x00" * 8),
        f"input 'shift' has 8 bytes of binary data, but shape [{MAX_ROWS}, 1] of BYTES needs at least "
        f"{MAX_ROWS * 4} (a 4-byte length per string).",
    ),
    (
        "a shape of 2**64 rows (past int64: no overflow)",
        *_binary(2**64, b"\x00" * 8),
        f"input 'shift' has shape [{2**64}, 1]: at most {MAX_ROWS} rows per request "
        "(--max-elements over the model's columns).",
    ),
    (
        "a shape of 10**400 rows",
        *_binary(10**400, b"\x00" * 8),
        "request body holds the integer 100000000000...(401 characters), which is too large for a float "
        "(at most 1.798e+308 in magnitude).",
    ),
    (
        "JSON data of one value for a billion rows",
        json.dumps(v2_body([EXAMPLE])).replace("[1, 1]", "[1000000000, 1]", 1).encode(),
        None,
        f"input 'temperature' has shape [1000000000, 1]: at most {MAX_ROWS} rows per request "
        "(--max-elements over the model's columns).",
    ),
    (
        "JSON data of one value for a million rows",
        json.dumps(v2_body([EXAMPLE])).replace("[1, 1]", "[1000000, 1]", 1).encode(),
        None,
        "input 'temperature' has 1 value in \"data\", but its shape [1000000, 1] needs 1000000.",
    ),
]


@pytest.mark.parametrize(
    ("body", "header_length", "error"), [case[1:] for case in HUGE_SHAPES], ids=[case[0] for case in HUGE_SHAPES]
)
def test_a_huge_declared_shape_is_refused_before_allocating(model, body, header_length, error):
    with pytest.raises(runtime.InputError) as refused:
        decode_infer_request(body, header_length, model)
    assert str(refused.value) == error


def test_max_elements_is_the_servers(model):
    body, header_length = _binary(3, b"\x00" * 12)
    with pytest.raises(runtime.InputError, match=r"at most 2 rows per request"):
        decode_infer_request(body, header_length, model, max_elements=14)


@pytest.mark.parametrize(("body", "header_length", "error"), [case[1:] for case in HUGE_SHAPES[:4]])
def test_a_huge_declared_shape_costs_the_server_no_memory(shared_server, body, header_length, error):
    """Each was answered after allocating gigabytes (an object array of the declared rows)."""
    before = shared_server.rss_mb()
    reply = shared_server.request("POST", V2_INFER, body, headers={"Inference-Header-Content-Length": header_length})
    growth = shared_server.rss_mb() - before
    assert (reply.status, reply.json()) == (400, {"error": error})
    assert growth < 50, f"server RSS grew by {growth:.1f} MB"


# -- the decoder never raises anything but InputError -------------------------------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _tensor(name: str) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {"name": st.just(name) | st.text(max_size=4)},
        optional={
            "shape": st.lists(st.integers(min_value=-2, max_value=2**70) | _JSON_VALUES, max_size=3),
            "datatype": st.sampled_from(["FP64", "FP32", "BYTES", "INT64", "\ud800"]) | _JSON_VALUES,
            "data": st.lists(st.floats() | st.text(max_size=4) | st.none() | st.integers(), max_size=4) | _JSON_VALUES,
            "parameters": st.fixed_dictionaries({}, optional={"binary_data_size": st.integers(-2, 64)}) | _JSON_VALUES,
        },
    )


_REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=8) | _JSON_VALUES,
        "inputs": st.lists(st.sampled_from(COLUMNS).flatmap(_tensor), max_size=8) | _JSON_VALUES,
        "outputs": st.lists(st.fixed_dictionaries({"name": st.text(max_size=6)}), max_size=2) | _JSON_VALUES,
        "parameters": st.fixed_dictionaries({}, optional={"binary_data_output": _JSON_VALUES}) | _JSON_VALUES,
    },
)


def _body(request: object, binary: bytes) -> bytes:
    return json.dumps(request, allow_nan=True).encode("utf-8", "surrogatepass") + binary


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(st.binary(max_size=256), st.builds(_body, _REQUESTS, st.binary(max_size=64))),
    header_length=st.none()
    | st.text(max_size=12)
    | st.integers(-5, 400).map(str)
    | st.sampled_from(["9" * 5000, "\u00b2", " 3 ", "0x10"]),
)
def test_any_body_and_header_length_is_a_request_or_an_input_error(model, body, header_length):
    try:
        decoded = decode_infer_request(body, header_length, model)
    except runtime.InputError:
        return
    assert isinstance(decoded, InferRequest) and decoded.rows >= 1


def test_bodies_in_progress_share_one_budget(bundles, start_server):
    """Many slow uploads each under --max-body-bytes could still fill the memory between them."""
    with start_server(
        bundles.model_folder(), "--max-inflight-body-bytes", "1000", "--timeout-s", "3", log=False
    ) as server:
        head = f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: 900\r\n\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
            slow.sendall(head.encode() + b" " * 600)  # 600 bytes held, the rest never comes
            time.sleep(0.3)
            reply = server.request("POST", "/v1/predict", b" " * 500 + b"{}")
            assert (reply.status, reply.json()) == (
                503,
                {
                    "error": "server busy: request bodies in progress hold more than 1000 bytes "
                    "(--max-inflight-body-bytes); retry later."
                },
            )
        time.sleep(0.3)  # the slow upload's bytes are released when its connection goes
        assert server.post_json("/v1/predict", EXAMPLE).status == 200
        assert server.metric('factory_edge_http_errors_total{kind="overloaded"}') == 1


def test_a_content_length_of_5000_digits_is_a_400_without_a_traceback(shared_server):
    head = f"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{shared_server.port}\r\nContent-Length: {'9' * 5000}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", shared_server.port), timeout=5) as sock:
        sock.sendall(head.encode())
        sock.settimeout(5)
        data = sock.recv(65536)
    assert data.split(b" ")[1] in (b"400", b"413"), data[:200]
    assert "Traceback" not in shared_server.stderr()
