"""The server with trusted keys (issue 10): ``--trusted-key`` (and ``ServeConfig.trusted_keys``) reach every
reload, so a new version that is unsigned is refused and the signed old one keeps serving."""

from __future__ import annotations

import functools
import time

import pytest

import runtime
from runtime._holder import ModelHolder
from tests.runtime.signing import NEEDS_CRYPTOGRAPHY, make_key_pair, sign

pytestmark = NEEDS_CRYPTOGRAPHY


def _wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_holder_with_trusted_keys_refuses_an_unsigned_new_version(bundles, tmp_path):
    pair = make_key_pair(tmp_path / "keys")
    folder = bundles.model_folder()
    sign(folder / "1.0.0", pair)
    loader = functools.partial(runtime.load, trusted_keys=(pair.public_pem,))  # as server.py builds it
    holder = ModelHolder(folder, loader(folder), loader=loader, poll_s=0)
    assert holder.current.signature.verified
    bundles.add_version(folder, "1.0.1")
    bundles.set_current(folder, "1.0.1")
    attempt = holder.check_pointer()
    assert attempt is not None and attempt.outcome == "refused"
    assert f"{str(folder / '1.0.1')!r} has no model.sig, but 1 trusted key configured" in (attempt.error or "")
    assert holder.current.version == "1.0.0"


@pytest.mark.slow
def test_the_server_with_trusted_key_refuses_an_unsigned_reload_then_takes_a_signed_one(
    bundles, start_server, tmp_path
):
    pair = make_key_pair(tmp_path / "keys")
    folder = bundles.model_folder()
    sign(folder / "1.0.0", pair)
    with start_server(folder, "--poll-s", "0.1", "--trusted-key", str(pair.public_pem)) as server:
        bundles.add_version(folder, "1.0.1")
        bundles.set_current(folder, "1.0.1")
        _wait_for(lambda: server.get("/v1/status").json()["model"]["last_reload"] is not None)
        status = server.get("/v1/status").json()["model"]
        assert (status["version"], status["last_reload"]["outcome"]) == ("1.0.0", "refused")
        assert "has no model.sig, but 1 trusted key configured" in status["last_reload"]["error"]
        sign(folder / "1.0.1", pair)
        assert server.request("POST", "/v1/admin/reload").status == 200
        assert server.get("/v1/status").json()["model"]["version"] == "1.0.1"
        after = server.get("/v1/status").json()["model"]["signature"]
        assert after["verified"] is True and after["summary"].startswith("verified by key ")
        assert (
            server.metric(
                f'factory_edge_model_signature_verified{{key_id="{after["key_id"]}",model="quality",version="1.0.1"}}'
            )
            == 1.0
        )


def test_an_unverified_server_says_so_in_status_and_metrics(bundles, start_server):
    with start_server(bundles.model_folder()) as server:
        signature = server.get("/v1/status").json()["model"]["signature"]
        assert signature == {
            "verified": False,
            "signed": False,
            "key_id": None,
            "key_source": None,
            "summary": "unverified: no trusted key is configured (no model.sig)",
        }
        assert server.metric('factory_edge_model_signature_verified{key_id="",model="quality",version="1.0.0"}') == 0.0
