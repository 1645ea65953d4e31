"""The bundle's way to the workers: what the driver reads and ships, the signature policy travelling
with it, and a worker's own verification, once per process."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

import runtime
import runtime.spark
from runtime._spark.shipping import BundleSnapshot, LoadOptions, read_bundle, trusted_pems, worker_model
from tests.runtime.damage import bundle_copy
from tests.runtime.signing import NEEDS_CRYPTOGRAPHY, make_key_pair, sign
from tests.spark.scored import SCHEMA
from tests.spark.test_up_front import ROW, jobs_during


@dataclasses.dataclass
class Delivered:
    """What ``Broadcast.value`` gives a worker: the snapshot as it arrived."""

    value: BundleSnapshot


def test_the_snapshot_holds_every_file_of_the_version_folder(shipped_bundle):
    snapshot = read_bundle(shipped_bundle)
    folder = Path(shipped_bundle) / "1.0.0"
    assert snapshot.folder_name == "1.0.0"
    assert {name: data for name, data in snapshot.files} == {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_link_in_the_bundle_is_refused_before_shipping(shipped_bundle, tmp_path):
    bundle = bundle_copy(Path(shipped_bundle) / "1.0.0", tmp_path)
    os.symlink(bundle / "model_card.md", bundle / "card-link.md")
    with pytest.raises(runtime.BundleError, match=r"card-link\.md' is a symbolic link; .*regular files only"):
        read_bundle(bundle)


def test_a_worker_loads_once_per_process_and_options(shipped_bundle):
    snapshot = read_bundle(shipped_bundle)
    first = worker_model(Delivered(snapshot), snapshot.digest, LoadOptions())
    assert worker_model(Delivered(snapshot), snapshot.digest, LoadOptions()) is first
    flagged = worker_model(Delivered(snapshot), snapshot.digest, LoadOptions(on_unknown="flag"))
    assert flagged is not first and flagged.on_unknown == "flag"


def test_a_worker_verifies_what_arrived(shipped_bundle):
    snapshot = read_bundle(shipped_bundle)
    files = dict(snapshot.files)
    model = bytearray(files["model.onnx"])
    model[len(model) // 2] ^= 0x01
    damaged = BundleSnapshot(snapshot.folder_name, tuple({**files, "model.onnx": bytes(model)}.items()))
    with pytest.raises(runtime.BundleError, match=r"model\.onnx' has sha256 \w+, the manifest expects"):
        worker_model(Delivered(damaged), damaged.digest, LoadOptions())
    with pytest.raises(runtime.BundleError, match="changed on the way to this Spark worker"):
        worker_model(Delivered(damaged), snapshot.digest, LoadOptions(threads=2))  # options no test loaded


@NEEDS_CRYPTOGRAPHY
def test_a_signed_bundle_is_verified_with_the_drivers_keys_on_the_worker(spark, shipped_bundle, tmp_path):
    trusted, stranger = make_key_pair(tmp_path / "keys", "trusted"), make_key_pair(tmp_path / "keys", "stranger")
    bundle = bundle_copy(Path(shipped_bundle) / "1.0.0", tmp_path / "signed")
    sign(bundle, trusted)
    options = LoadOptions(trusted_pems=trusted_pems([trusted.public_pem]))
    snapshot = read_bundle(bundle)
    on_worker = worker_model(Delivered(snapshot), snapshot.digest, options)
    assert on_worker.signature.verified and on_worker.signature.key_id == trusted.key_id
    frame = spark.createDataFrame([ROW], SCHEMA)
    [row] = runtime.spark.predict(frame, bundle, trusted_keys=[trusted.public_pem]).collect()
    assert row["reject_reason"] is None and row["label"] is not None

    with pytest.raises(runtime.BundleError) as by_load:
        runtime.load(bundle, trusted_keys=[stranger.public_pem])
    jobs, raised = jobs_during(spark, lambda: runtime.spark.predict(frame, bundle, trusted_keys=[stranger.public_pem]))
    assert isinstance(raised, runtime.BundleError) and str(raised) == str(by_load.value) and jobs == []


@NEEDS_CRYPTOGRAPHY
def test_an_unsigned_bundle_is_refused_when_a_key_is_trusted(spark, shipped_bundle, tmp_path):
    trusted = make_key_pair(tmp_path / "keys")
    with pytest.raises(runtime.BundleError) as by_load:
        runtime.load(shipped_bundle, trusted_keys=[trusted.public_pem])
    frame = spark.createDataFrame([ROW], SCHEMA)
    jobs, raised = jobs_during(
        spark, lambda: runtime.spark.predict(frame, shipped_bundle, trusted_keys=[trusted.public_pem])
    )
    assert isinstance(raised, runtime.BundleError) and str(raised) == str(by_load.value) and jobs == []
    assert "has no model.sig" in str(raised)
