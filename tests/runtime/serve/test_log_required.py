"""A log that cannot hold a row is reported, and under --log-required refuses the answer (issue 10, findings 9, 13)."""

from __future__ import annotations

import asyncio
import json

import pytest

import runtime
from runtime._holder import ModelHolder
from runtime._monitor.predictlog import PredictionLog
from runtime._serve.call import Call
from runtime._serve.config import ServeConfig
from runtime._serve.dataplane import DataPlane
from runtime._serve.errors import LogRequiredError
from tests.runtime.serve.records import EXAMPLE

BODY = json.dumps(EXAMPLE).encode()


@pytest.fixture
def planes(shipped_bundle, tmp_path):
    model = runtime.load(shipped_bundle)
    made = []

    def make(*, log_required: bool) -> tuple[DataPlane, PredictionLog]:
        log = PredictionLog(tmp_path / f"log-{len(made)}.db")
        plane = DataPlane(
            ModelHolder(shipped_bundle, model, loader=runtime.load, poll_s=0),
            log=log,
            config=ServeConfig(log_required=log_required),
        )
        made.append(log)
        return plane, log

    yield make
    for log in made:
        log.close()


def _predict(plane: DataPlane):
    return asyncio.run(plane.predict(Call(10.0, "/v1/predict"), BODY))


@pytest.mark.parametrize("log_required", [False, True])
def test_a_renamed_log_is_failed_and_refused_when_required(planes, log_required):
    plane, log = planes(log_required=log_required)
    assert _predict(plane).log_status == "written"
    log.path.rename(log.path.with_name("moved.db"))
    if log_required:
        with pytest.raises(LogRequiredError) as caught:
            _predict(plane)
        assert str(caught.value).startswith(
            "the prediction was made but its log row was not committed (log status failed); this server answers "
            "only predictions it has logged (--log-required)"
        )
    else:
        assert _predict(plane).log_status == "failed"
    assert plane.status()["log"]["reopened"] == 1
    assert _predict(plane).log_status == "written"  # the next rows go to a new file at the path


def test_over_http_a_renamed_log_gives_failed_then_503_under_log_required(bundles, start_server):
    from tests.runtime.serve.records import EXAMPLE as RECORD

    with start_server(bundles.model_folder()) as server:
        assert server.post_json("/v1/predict", RECORD).headers["x-log-status"] == "written"
        server.log_path.rename(server.log_path.with_name("moved.db"))
        reply = server.post_json("/v1/predict", RECORD)
        assert (reply.status, reply.headers["x-log-status"]) == (200, "failed")
    with start_server(bundles.model_folder(), "--log-required") as server:
        assert server.post_json("/v1/predict", RECORD).status == 200
        server.log_path.rename(server.log_path.with_name("moved.db"))
        reply = server.post_json("/v1/predict", RECORD)
        assert reply.status == 503
        assert reply.json()["error"].startswith("the prediction was made but its log row was not committed")
        assert reply.headers["content-type"] == "application/json"
