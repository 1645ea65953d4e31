"""The data plane (runtime._serve.dataplane) without HTTP: predictions in both protocols, status,
reloads, drift and the log, and a table of bad inputs with their exact error type and message."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from collections.abc import Callable, Coroutine
from contextlib import closing
from typing import Any

import numpy as np
import pytest

import runtime
from runtime._holder import ModelHolder
from runtime._json_body import dump_json
from runtime._monitor.predictlog import PredictionLog
from runtime._serve.bad_rows import RowsRefusedError
from runtime._serve.call import Call
from runtime._serve.config import ServeConfig
from runtime._serve.dataplane import INLINE_ROWS, DataPlane
from runtime._serve.errors import DeadlineError, NotServedError, RefusedError
from tests.runtime.serve.records import EXAMPLE, v2_body

PREDICT = "/v1/predict"
INFER = "/v2/models/{name}/infer"


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coroutine)


def v2(rows: list[dict[str, Any]], **fields: Any) -> bytes:
    return json.dumps(v2_body(rows, **fields)).encode()


@pytest.fixture(scope="module")
def folder(bundles):
    return bundles.model_folder()


@pytest.fixture(scope="module")
def model(folder) -> runtime.Model:
    return runtime.load(folder)


@pytest.fixture
def plane(folder, model) -> DataPlane:
    return DataPlane(ModelHolder(folder, model, loader=runtime.load, poll_s=0))


def logged_plane(folder, model, path) -> DataPlane:
    return DataPlane(ModelHolder(folder, model, loader=runtime.load, poll_s=0), log=PredictionLog(path))


# ---------------------------------------------------------------------------------------------
# predictions


def test_predict_one_record_answers_as_the_runtime_does(plane, model):
    call = Call(10.0, PREDICT)
    call.set_request_id("dp-1", "test")
    answer = run(plane.predict(call, json.dumps(EXAMPLE).encode()))
    expected = model.predict(EXAMPLE)
    assert json.loads(answer.body) == {
        "request_id": "dp-1",
        "model": "quality",
        "version": "1.0.0",
        "label": expected.label,
        "probabilities": {str(label): p for label, p in expected.probabilities.items()},
        "flags": [],
    }
    assert (dict(answer.headers), answer.log_status) == ({"content-type": "application/json"}, "off")
    assert answer.outcome.labels == [expected.label] and call.model is model


def test_predict_a_list_larger_than_the_inline_limit(plane, model):
    records = [dict(EXAMPLE, temperature=150.0 + index) for index in range(INLINE_ROWS + 4)]
    answer = run(plane.predict(Call(10.0, PREDICT), json.dumps(records).encode()))  # in a worker thread
    expected = model.predict_batch(records)
    predictions = json.loads(answer.body)["predictions"]
    assert [item["label"] for item in predictions] == expected.labels.tolist()
    assert [[item["probabilities"]["0"], item["probabilities"]["1"]] for item in predictions] == (
        expected.probabilities.tolist()
    )


def test_infer_takes_the_request_id_and_answers_per_output(plane, model):
    rows = [EXAMPLE, dict(EXAMPLE, machine_type="A", pressure=None)]
    call = Call(10.0, INFER)
    served = plane.served_model(call, "quality", "1.0.0")
    answer = run(plane.infer(call, served, v2(rows, id="dp-infer"), None))
    response = json.loads(answer.body)
    expected = model.predict_batch(rows)
    assert (call.request_id, response["id"], response["model_version"]) == ("dp-infer", "dp-infer", "1.0.0")
    label, probabilities = response["outputs"]
    assert label["data"] == expected.labels.tolist()
    assert probabilities["data"] == expected.probabilities.reshape(-1).tolist()


def test_a_prediction_is_committed_to_the_log_before_it_is_answered(folder, model, tmp_path):
    plane = logged_plane(folder, model, tmp_path / "log.db")
    call = Call(10.0, PREDICT)
    call.set_request_id("dp-logged", "test")
    try:
        answer = run(plane.predict(call, json.dumps([EXAMPLE, EXAMPLE]).encode()))
        refused = Call(10.0, INFER)
        refused.body = b'{"inputs": []}'
        rejection = run(plane.log_rejection(refused, 400, "bad"))
    finally:
        plane.log.close()
    assert (answer.log_status, rejection) == ("written", "written")
    with closing(sqlite3.connect(tmp_path / "log.db")) as db:
        rows = db.execute(
            "SELECT request_id, row, endpoint, status, error, request_excerpt FROM predictions ORDER BY id"
        )
        found = rows.fetchall()
    assert found[:2] == [("dp-logged", 0, PREDICT, 200, None, None), ("dp-logged", 1, PREDICT, 200, None, None)]
    assert found[2][1:] == (None, INFER, 400, "bad", '{"inputs": []}')


def test_a_batch_that_outlives_its_time_is_a_deadline_error(folder, model):
    plane = DataPlane(ModelHolder(folder, model, loader=runtime.load, poll_s=0), config=ServeConfig(timeout_s=0.25))
    records = [EXAMPLE] * (INLINE_ROWS + 1)
    with pytest.raises(DeadlineError) as error:
        run(plane.predict(Call(0.0, PREDICT), json.dumps(records).encode()))  # no time left at all
    assert str(error.value) == f"request timed out after 0.25 s (--timeout-s) while predicting {len(records)} rows."


# ---------------------------------------------------------------------------------------------
# metadata, status, reloads


def test_metadata_and_readiness_name_the_served_model(plane):
    call = Call(10.0, "/v2/models/{name}")
    assert plane.model_metadata(call, "quality")["versions"] == ["1.0.0"]
    assert plane.model_ready(call, "quality", "1.0.0") == {"name": "quality", "version": "1.0.0", "ready": True}
    assert plane.repository_index() == [{"name": "quality", "version": "1.0.0", "state": "READY", "reason": ""}]
    assert plane.server_metadata()["extensions"] == ["binary_tensor_data", "model_repository"]
    with pytest.raises(NotServedError) as error:
        plane.model_ready(call, "quality", "9.9.9")
    assert str(error.value) == "model 'quality' has no version '9.9.9' here: it serves 1.0.0."


def test_status_names_the_model_the_log_and_the_server(plane):
    status = plane.status()
    assert (status["model"]["name"], status["model"]["version"], status["log"]) == ("quality", "1.0.0", None)
    assert status["model"]["loaded_at"].endswith("Z") and status["server"]["started_at"].endswith("Z")
    assert status["server"]["runtime_version"] == runtime.__version__
    assert status["server"]["timeout_s"] == ServeConfig().timeout_s
    dump_json(status)  # servable as it is


def test_a_refused_reload_is_a_refused_error_on_both_paths(bundles):
    folder = bundles.model_folder()
    plane = DataPlane(ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=0))
    assert run(plane.reload()).outcome == "loaded"  # the same version, verified afresh
    bundles.add_version(folder, "1.0.1", damage="golden")
    bundles.set_current(folder, "1.0.1")
    for attempt in (plane.reload(), plane.load(b"{}")):
        with pytest.raises(RefusedError) as error:
            run(attempt)
        assert str(error.value).startswith("reload refused: golden case 0 (held-out) does not reproduce")
        assert str(error.value).endswith("; still serving 1.0.0.")
    assert plane.holder.current.version == "1.0.0"
    assert plane.status()["model"]["reloads"] == {"succeeded": 1, "refused": 2}


def test_drift_over_the_log_feeds_the_report_and_the_gauges(folder, model, tmp_path):
    plane = logged_plane(folder, model, tmp_path / "log.db")
    try:
        run(plane.predict(Call(10.0, PREDICT), json.dumps([EXAMPLE] * 3).encode()))
        report = run(plane.drift("3"))
        metrics = run(plane.metrics_text()).decode()
    finally:
        plane.log.close()
    assert (report["rows"], report["model"], report["version"]) == (3, "quality", "1.0.0")
    assert set(report["columns"]) == set(EXAMPLE)
    assert "factory_edge_drift_window_rows 3.0" in metrics


def test_a_drift_report_is_made_json_safe_before_it_is_served(folder, model, tmp_path, monkeypatch):
    """The report comes from runtime._monitor; dump_json refuses NaN and numpy integers, so the data
    plane passes it through runtime._text.json_safe once, where it enters the server."""
    report = {"rows": np.int64(3), "status": "ok", "columns": {}, "accuracy": {"baseline_macro_f1": math.nan}}
    monkeypatch.setattr("runtime._serve.dataplane.drift_from_log", lambda *args, **kwargs: report)
    plane = logged_plane(folder, model, tmp_path / "log.db")
    try:
        served = run(plane.drift())
    finally:
        plane.log.close()
    assert dump_json(served) == b'{"rows":3,"status":"ok","columns":{},"accuracy":{"baseline_macro_f1":null}}'


# ---------------------------------------------------------------------------------------------
# bad inputs: exact type and message

ROW_HINT = "(start the server with --on-unknown flag to accept and flag it)"  # not the Python API's load() hint
RANGE_HINT = "(start the server with --on-out-of-range flag to accept and flag it)"
Action = Callable[[DataPlane], Coroutine[Any, Any, Any]]


def _predict(body: bytes) -> Action:
    return lambda plane: plane.predict(Call(10.0, PREDICT), body)


def _infer(body: bytes, header_length: str | None = None) -> Action:
    async def infer(plane: DataPlane) -> Any:
        call = Call(10.0, INFER)
        return await plane.infer(call, plane.served_model(call, "quality"), body, header_length)

    return infer


def _sync(action: Callable[[DataPlane], Any]) -> Action:
    async def call(plane: DataPlane) -> Any:
        return action(plane)

    return call


BAD_INPUTS = [
    # (case, action, exception type, exact message)
    (
        "v1 body a number",
        _predict(b"42"),
        runtime.InputError,
        "request body must be one record (a JSON object of column -> value) or a list of records, got int.",
    ),
    (
        "v1 not JSON",
        _predict(b"{"),
        runtime.InputError,
        "request body is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2.",
    ),
    (
        "v1 NaN",
        _predict(b'{"temperature": NaN}'),
        runtime.InputError,
        "request body holds NaN, which is not JSON: send null for a missing value.",
    ),
    (
        "v1 unknown category",
        _predict(json.dumps({**EXAMPLE, "shift": "weekend"}).encode()),
        runtime.InputError,
        f"shift == 'weekend' is not a known category, must be one of ['day', 'evening', 'night'] {ROW_HINT}.",
    ),
    (
        "v1 unknown categories in two records",
        _predict(json.dumps([{**EXAMPLE, "shift": "weekend"}, EXAMPLE, {**EXAMPLE, "machine_type": "Q"}]).encode()),
        RowsRefusedError,
        f"shift == 'weekend' in row 0 is not a known category, must be one of ['day', 'evening', 'night'] {ROW_HINT}. "
        f"machine_type == 'Q' in row 2 is not a known category, must be one of ['A', 'B', 'C'] {ROW_HINT}. "
        "(2 of 3 rows are invalid.)",
    ),
    (
        "v1 missing column",
        _predict(json.dumps({k: v for k, v in EXAMPLE.items() if k != "speed"}).encode()),
        runtime.InputError,
        "record has 6 columns, but model 'quality' 1.0.0 expects 7: missing ['speed'].",
    ),
    (
        "v1 a number of 5000 digits",
        _predict(b"[" + b"7" * 5000 + b"]"),
        runtime.InputError,
        "request body holds a number of more than 4300 digits, which is not JSON this server reads.",
    ),
    (
        "v2 unknown category in its one row",
        _infer(v2([{**EXAMPLE, "machine_type": "Z"}])),
        RowsRefusedError,
        f"machine_type == 'Z' in row 0 is not a known category, must be one of ['A', 'B', 'C'] {ROW_HINT}.",
    ),
    (
        "v2 out of range",
        _infer(v2([EXAMPLE, {**EXAMPLE, "temperature": 412.0}])),
        RowsRefusedError,
        "temperature == 412.0 in row 1, must be within [100.0, 300.0] (valid range from the demo data's physical sensor limits) "
        f"{RANGE_HINT}.",
    ),
    (
        "v2 id not a string",
        _infer(v2([EXAMPLE], id=7)),
        runtime.InputError,
        'infer request field "id" == 7 must be a string.',
    ),
    (
        "v2 id too long",
        _infer(v2([EXAMPLE], id="i" * 257)),
        runtime.InputError,
        "infer request field \"id\" == 'iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii'... must be 1 to 256 printable ASCII characters (no leading space).",
    ),
    (
        "v2 header length a non-ASCII digit",
        _infer(v2([EXAMPLE]), "\u00b2"),
        runtime.InputError,
        f"Inference-Header-Content-Length == '\u00b2' must be a whole number of bytes no larger than the body ({len(v2([EXAMPLE]))}).",
    ),
    (
        "another model",
        _sync(lambda plane: plane.served_model(Call(10.0, INFER), "other")),
        NotServedError,
        "unknown model 'other': this server serves 'quality'.",
    ),
    (
        "unload",
        _sync(lambda plane: plane.unload()),
        runtime.InputError,
        "unload is not supported: this server serves one model; stop the server to stop serving it.",
    ),
    (
        "drift without a log",
        lambda plane: plane.drift("10"),
        RefusedError,
        "drift is measured on the prediction log: start the server with --log",
    ),
]


@pytest.mark.parametrize(
    ("action", "error_type", "message"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_raises_its_type_with_the_exact_message(plane, action, error_type, message):
    with pytest.raises(error_type) as error:
        run(action(plane))
    assert type(error.value) is error_type
    assert str(error.value) == message


def test_load_with_a_config_is_refused_naming_the_folder_served(plane, folder):
    with pytest.raises(runtime.InputError) as error:
        run(plane.load(b'{"parameters": {"config": "{}"}}'))
    assert str(error.value) == (
        f"load with a config or files is not supported: the server reloads its own bundle folder ({folder})."
    )


@pytest.mark.parametrize(
    ("last", "message"),
    [("zero", "last == 'zero' must be a whole number of rows"), ("0", "last == 0 must be >= 1")],
)
def test_drift_window_must_be_a_positive_whole_number(folder, model, tmp_path, last, message):
    plane = logged_plane(folder, model, tmp_path / "log.db")
    try:
        with pytest.raises(runtime.InputError) as error:
            run(plane.drift(last))
    finally:
        plane.log.close()
    assert str(error.value) == message
