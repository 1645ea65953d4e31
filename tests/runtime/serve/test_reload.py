"""Hot reload (runtime._reload): new versions swap in atomically; damaged ones are refused and the old
version keeps serving, visibly in /v1/status, /metrics and the log."""

from __future__ import annotations

import json
import signal
import time

import pytest

import runtime
from runtime._holder import ModelHolder
from tests.runtime.serve.records import EXAMPLE

DAMAGES = {
    "hash": "has sha256 ",
    "schema": f"manifest schema version {runtime.SCHEMA_VERSION + 1} is newer than this runtime reads",
    "golden": "golden case 0 (held-out) does not reproduce",
}


@pytest.fixture
def folder(bundles):
    return bundles.model_folder()


def holder_for(folder) -> ModelHolder:
    return ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=0)


def test_a_new_version_named_by_current_is_swapped_in(bundles, folder):
    holder = holder_for(folder)
    old = holder.current
    assert holder.check_pointer() is None  # CURRENT unchanged: nothing to do
    bundles.add_version(folder, "1.0.1")
    bundles.set_current(folder, "1.0.1")
    attempt = holder.check_pointer()
    assert attempt is not None and (attempt.trigger, attempt.outcome, attempt.version) == ("poll", "loaded", "1.0.1")
    assert holder.current.version == "1.0.1" and holder.current is not old
    assert old.version == "1.0.0"  # a request holding the old model still has a working one
    assert old.predict_batch([{**example_record()}]).version == "1.0.0"
    assert holder.status()["reloads"] == {"succeeded": 1, "refused": 0}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_version_is_refused_and_the_old_one_keeps_serving(bundles, folder, damage, caplog):
    holder = holder_for(folder)
    bundles.add_version(folder, "1.0.1", damage=damage)
    bundles.set_current(folder, "1.0.1")
    with caplog.at_level("ERROR", logger="runtime._holder"):
        attempt = holder.check_pointer()
    assert attempt is not None and attempt.outcome == "refused"
    assert DAMAGES[damage] in (attempt.error or "")
    assert (attempt.version, attempt.serving) == ("1.0.1", "1.0.0")
    assert holder.current.version == "1.0.0"
    status = holder.status()
    assert status["reloads"] == {"succeeded": 0, "refused": 1}
    assert status["last_reload"]["outcome"] == "refused" and DAMAGES[damage] in status["last_reload"]["error"]
    assert "reload (poll) refused" in caplog.text and "still serving 'quality' 1.0.0" in caplog.text
    # not retried on every poll, only when CURRENT changes again
    assert holder.check_pointer() is None
    assert holder.refused == 1


def test_another_models_bundle_is_refused(bundles, folder):
    holder = holder_for(folder)
    target = bundles.add_version(folder, "2.0.0")
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["name"] = "other"
    (target / "manifest.json").write_text(json.dumps(manifest))
    bundles.set_current(folder, "2.0.0")
    attempt = holder.check_pointer()
    assert attempt is not None and attempt.outcome == "refused"
    assert (
        attempt.error
        == f"{str(target)!r} holds model 'other', but this server serves 'quality'; start another server for it"
    )


def test_current_naming_a_missing_version_is_refused(bundles, folder):
    holder = holder_for(folder)
    bundles.set_current(folder, "3.0.0")
    attempt = holder.check_pointer()
    assert attempt is not None and attempt.outcome == "refused"
    assert "names version '3.0.0' but" in (attempt.error or "")


def test_a_forced_reload_of_the_same_version_loads_it_afresh(folder):
    holder = holder_for(folder)
    old = holder.current
    attempt = holder.request_reload("admin").result(10)
    assert (attempt.outcome, attempt.version) == ("loaded", "1.0.0")
    assert holder.current is not old
    assert holder.reload("poll", force=False).outcome == "unchanged"


def test_the_watcher_thread_follows_current(bundles, folder):
    holder = ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=0.05)
    holder.start()
    try:
        bundles.add_version(folder, "1.0.1")
        bundles.set_current(folder, "1.0.1")
        deadline = time.monotonic() + 10
        while holder.current.version != "1.0.1" and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        holder.stop()
    assert holder.current.version == "1.0.1"


def example_record() -> dict[str, object]:
    return dict(EXAMPLE)


# ---------------------------------------------------------------------------------------------
# through the real server


def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_server_refuses_a_damaged_version_visibly_then_takes_a_good_one(bundles, start_server):
    folder = bundles.model_folder()
    with start_server(folder, "--poll-s", "0.1") as server:
        bundles.add_version(folder, "1.0.1", damage="hash")
        bundles.set_current(folder, "1.0.1")
        wait_for(lambda: server.get("/v1/status").json()["model"]["last_reload"] is not None)

        status = server.get("/v1/status").json()["model"]
        assert status["version"] == "1.0.0"
        assert status["last_reload"]["outcome"] == "refused"
        assert status["last_reload"]["version"] == "1.0.1"
        assert "has sha256 " in status["last_reload"]["error"]
        assert server.metric('factory_edge_reloads_total{outcome="refused"}') == 1
        assert server.metric('factory_edge_reloads_total{outcome="succeeded"}') == 0
        reply = server.post_json("/v1/predict", example_record())
        assert (reply.status, reply.json()["version"]) == (200, "1.0.0")
        assert "reload (poll) refused" in server.stderr()

        # the admin endpoints try again and say why they were refused
        reply = server.request("POST", "/v1/admin/reload")
        assert reply.status == 409 and reply.json()["error"].startswith("reload refused: ")
        assert reply.json()["error"].endswith("; still serving 1.0.0.")
        reply = server.request("POST", "/v2/repository/models/quality/load", b"{}")
        assert reply.status == 409 and reply.json()["error"].startswith("reload refused: ")
        assert reply.json()["error"].endswith("; still serving 1.0.0.")

        bundles.add_version(folder, "1.0.2")
        bundles.set_current(folder, "1.0.2")
        wait_for(lambda: server.get("/v1/status").json()["model"]["version"] == "1.0.2")
        reply = server.post_json("/v1/predict", example_record())
        assert (reply.status, reply.json()["version"]) == (200, "1.0.2")
        infer = server.post_json(
            "/v2/models/quality/versions/1.0.2/infer",
            {
                "inputs": [
                    {"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str) else "FP64", "data": [v]}
                    for k, v in example_record().items()
                ]
            },
        )
        assert (infer.status, infer.json()["model_version"]) == (200, "1.0.2")
        assert server.get("/v2/models/quality/versions/1.0.0/ready").status == 404
        text = server.get("/metrics").body.decode()
        assert 'factory_edge_model_info{model="quality",path=' in text and 'version="1.0.2"} 1.0' in text
        assert 'factory_edge_reloads_total{outcome="succeeded"} 1.0' in text


def test_sighup_and_admin_reload_without_polling(bundles, start_server):
    folder = bundles.model_folder()
    with start_server(folder, "--poll-s", "0", log=False) as server:
        bundles.add_version(folder, "1.0.1")
        bundles.set_current(folder, "1.0.1")
        time.sleep(0.3)
        assert server.get("/v1/status").json()["model"]["version"] == "1.0.0"  # nobody is watching
        server.process.send_signal(signal.SIGHUP)
        wait_for(lambda: server.get("/v1/status").json()["model"]["version"] == "1.0.1")
        assert server.get("/v1/status").json()["model"]["last_reload"]["trigger"] == "sighup"

        bundles.add_version(folder, "1.0.2")
        bundles.set_current(folder, "1.0.2")
        reply = server.request("POST", "/v1/admin/reload")
        assert reply.status == 200
        assert {key: reply.json()[key] for key in ("trigger", "outcome", "version")} == {
            "trigger": "admin",
            "outcome": "loaded",
            "version": "1.0.2",
        }
        reply = server.post_json("/v1/predict", example_record())
        assert reply.json()["version"] == "1.0.2" and reply.headers["x-log-status"] == "off"


def test_a_version_folder_is_served_as_it_is_without_watching(folder):
    holder = ModelHolder(folder / "1.0.0", runtime.load(folder / "1.0.0"), loader=runtime.load, poll_s=2)
    assert holder.pointer_file is None and holder.status()["current_file"] is None
    assert holder.check_pointer() is None
    assert holder.reload("sighup").outcome == "loaded"  # reloading verifies the same folder again


def test_the_replaced_model_is_freed_once_no_request_holds_it(bundles, folder):
    import gc
    import weakref

    holder = holder_for(folder)
    old = weakref.ref(holder.current)
    assert holder.reload("admin").outcome == "loaded"
    gc.collect()
    assert old() is None  # the holder keeps no reference: memory does not grow with every reload
