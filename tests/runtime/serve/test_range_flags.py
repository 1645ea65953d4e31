"""The server's range policy (``--on-out-of-range flag``: predicted, flagged in the answer and the log,
counted in /metrics) and its 400 for a batch, which names every bad row, not only the first."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from runtime._serve.bad_rows import LISTED_ROWS, NAMED_ROWS
from tests.runtime.serve.records import EXAMPLE, v2_body

V2_INFER = "/v2/models/quality/infer"
HOT = {**EXAMPLE, "temperature": 412.0}
HOT_FLAG = "out of range: temperature == 412.0, outside [100.0, 300.0]"
RANGE_HINT = "(start the server with --on-out-of-range flag to accept and flag it)"


@pytest.fixture(scope="module")
def flagging_server(bundles, start_server):
    with start_server(bundles.model_folder(), "--on-out-of-range", "flag") as server:
        yield server


def test_flag_predicts_flags_logs_and_counts(flagging_server):
    metric = 'factory_edge_flagged_values_total{policy="on_out_of_range"}'
    before = flagging_server.metric(metric)
    reply = flagging_server.post_json("/v1/predict", HOT)
    assert reply.status == 200 and reply.json()["flags"] == [HOT_FLAG]
    reply = flagging_server.post_json("/v1/predict", [EXAMPLE, HOT, {**HOT, "speed": 250.0}])
    assert [item["flags"] for item in reply.json()["predictions"]] == [
        [],
        [HOT_FLAG],
        [HOT_FLAG, "out of range: speed == 250.0, outside [0.0, 200.0]"],
    ]
    reply = flagging_server.post_json(V2_INFER, v2_body([EXAMPLE, HOT]))
    assert reply.status == 200 and reply.json()["parameters"] == {"flags": {"1": [HOT_FLAG]}}
    assert flagging_server.metric(metric) == before + 5
    assert flagging_server.metric('factory_edge_flagged_values_total{policy="on_unknown"}') == 0
    # an in-range request costs the counter nothing
    assert flagging_server.post_json("/v1/predict", EXAMPLE).json()["flags"] == []
    assert flagging_server.metric(metric) == before + 5
    assert flagging_server.get("/v1/status").json()["model"]["on_out_of_range"] == "flag"
    assert flagging_server.get("/v2/models/quality").json()["parameters"]["on_out_of_range"] == "flag"
    assert flagging_server.log_path is not None
    with closing(sqlite3.connect(flagging_server.log_path)) as db:
        logged = [json.loads(flags) for (flags,) in db.execute("SELECT flags FROM predictions WHERE flags != '[]'")]
    assert [HOT_FLAG] in logged


def test_reject_is_the_default_and_names_the_server_option(shared_server):
    reply = shared_server.post_json("/v1/predict", HOT)
    assert reply.status == 400
    assert reply.json()["error"].endswith(f"(valid range from the demo data's physical sensor limits) {RANGE_HINT}.")
    assert shared_server.get("/v1/status").json()["model"]["on_out_of_range"] == "reject"


def test_every_bad_row_of_a_list_is_reported(shared_server):
    bad_rows = [1, 2, 4, 5, 6, 8, 9]
    records = [HOT if row in bad_rows else EXAMPLE for row in range(10)]
    records[9] = {**HOT, "shift": "weekend"}  # two reasons in one row
    reply = shared_server.post_json("/v1/predict", records)
    assert reply.status == 400
    answer = reply.json()
    assert answer["rejected_rows"] == len(bad_rows)
    assert [item["row"] for item in answer["rejected"]] == bad_rows
    reason = f"temperature == 412.0, must be within [100.0, 300.0] (valid range from the demo data's physical sensor limits) {RANGE_HINT}."
    assert all(item["reasons"][0] == reason for item in answer["rejected"])
    assert answer["rejected"][-1]["reasons"][1].startswith("shift == 'weekend' is not a known category")
    message = answer["error"]
    assert [f" in row {row}," in message for row in bad_rows] == [True] * NAMED_ROWS + [False] * (
        len(bad_rows) - NAMED_ROWS
    )
    assert message.endswith(
        f'(7 of 10 rows are invalid; the first {NAMED_ROWS} are named here, the first {LISTED_ROWS} in "rejected".)'
    )


def test_the_rows_listed_are_bounded(shared_server):
    reply = shared_server.post_json("/v1/predict", [HOT] * (LISTED_ROWS + 50))
    answer = reply.json()
    assert (reply.status, answer["rejected_rows"], len(answer["rejected"])) == (400, LISTED_ROWS + 50, LISTED_ROWS)
    assert answer["error"].count(" in row ") == NAMED_ROWS
