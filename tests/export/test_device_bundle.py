"""A bundle's device graph (issue 13): written, hashed, signed, proven, and what runtime.load runs.

Everything runs on the tiny export (tests/export/conftest.py); bundles without a device graph
(the committed models/quality/1.0.0) are covered by the runtime suite.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export._cli import main as export_main  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402
from tests.runtime.signing import HAS_CRYPTOGRAPHY  # noqa: E402


def _without_device_graph(bundle: Path, target: Path) -> Path:
    """A copy of ``bundle`` whose manifest names no device graph: what an older export wrote."""
    shutil.copytree(bundle, target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    del manifest["device_graph"]
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (target / "device.onnx").unlink()
    return target


def test_the_device_graph_is_hashed_and_named_in_the_manifest(tiny_export):
    manifest = tiny_export.manifest
    graph = manifest.device_graph
    data = (tiny_export.bundle / "device.onnx").read_bytes()
    assert graph.file.path == "device.onnx" and graph.input == "packed"
    assert (graph.file.sha256, graph.file.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert set(graph.columns) <= set(runtime.load(tiny_export.bundle).columns)
    assert "num/scale" in graph.folded and "cat/onehot" in graph.folded
    assert manifest.parity.graphs == ("model.onnx", "device.onnx") and manifest.parity.golden_graph == "device.onnx"
    on_disk = runtime.Manifest.from_dict(json.loads((tiny_export.bundle / "manifest.json").read_text()))
    assert on_disk.device_graph == graph and on_disk.parity.graphs == manifest.parity.graphs
    report = json.loads((tiny_export.bundle / "parity.json").read_text())
    assert report["by_graph"]["device.onnx"]["label_mismatches"] == 0


def test_load_runs_the_device_graph_and_agrees_with_the_public_graph(tiny_export, tiny_data, tmp_path):
    device = runtime.load(tiny_export.bundle)
    public = runtime.load(_without_device_graph(tiny_export.bundle, tmp_path / "1.0.0"))
    assert (device.graph_file, public.graph_file) == ("device.onnx", "model.onnx")
    assert [node.name for node in device._session.get_inputs()] == ["packed"]
    frame = tiny_data.x_test
    records = [
        {name: (None if value != value or value == "" else value) for name, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    by_columns, by_records = device.predict_batch(frame), device.predict_batch(records)
    expected = public.predict_batch(frame)
    np.testing.assert_allclose(by_columns.probabilities, expected.probabilities, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(by_records.probabilities, by_columns.probabilities)
    np.testing.assert_array_equal(by_columns.labels, tiny_export.pipeline.predict(frame))
    for index, record in enumerate(records[:40]):
        one = device.predict(record)
        assert one.label == expected.labels[index]
        assert list(one.probabilities.values()) == pytest.approx(expected.probabilities[index].tolist(), abs=1e-12)


def test_threads_predicting_at_once_each_get_their_own_answer(tiny_export, tiny_data):
    """One record runs on a per-thread input and result buffer bound to the session (IOBinding):
    threads that share a model must never see each other's rows or results."""
    model = runtime.load(tiny_export.bundle, threads=2)
    frame = tiny_data.x_test
    records = [
        {name: (None if value != value or value == "" else value) for name, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    expected = [model.predict(record) for record in records]  # one thread: the answers to keep
    assert len({tuple(one.probabilities.values()) for one in expected}) > 20  # distinct answers to mix up
    start = threading.Barrier(4)

    def worker(offset: int) -> int:
        start.wait()
        wrong = 0
        for turn in range(6 * len(records)):
            index = (offset + 7 * turn) % len(records)
            wrong += model.predict(records[index]) != expected[index]
        return wrong

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(worker, range(4))) == [0, 0, 0, 0]


def test_unknown_and_missing_categories_on_the_device_graph(tiny_export, tiny_data, tmp_path):
    device = runtime.load(tiny_export.bundle, on_unknown="flag")
    public = runtime.load(_without_device_graph(tiny_export.bundle, tmp_path / "1.0.0"), on_unknown="flag")
    record = dict(tiny_export.manifest.golden_cases[0].inputs)
    for value in ("never-seen", None):
        for column in ("machine_type", "shift"):
            changed = {**record, column: value}
            if value is None and not tiny_export.manifest.column(column).nullable:
                continue
            assert device.predict(changed).probabilities == pytest.approx(public.predict(changed).probabilities)
    refused = runtime.load(tiny_export.bundle)
    with pytest.raises(runtime.InputError, match="is not a known category"):
        refused.predict({**record, "shift": "never-seen"})


def test_a_damaged_device_graph_is_refused_naming_it(tiny_copy):
    path = tiny_copy / "1.0.0" / "device.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(runtime.BundleError, match=r"device\.onnx' has sha256 [0-9a-f]{64}, the manifest expects"):
        runtime.load(tiny_copy)


@pytest.mark.skipif(not HAS_CRYPTOGRAPHY, reason='signing needs cryptography: pip install ".[verify]"')
def test_the_signature_covers_the_device_graph(tiny_copy, tmp_path):
    keys = tmp_path / "keys"
    assert export_main(["keygen", str(keys)]) == ExitCode.OK
    assert export_main(["sign", str(tiny_copy), "--key", str(keys / "signing-key.pem")]) == ExitCode.OK
    public = keys / "signing-key.pub.pem"
    assert runtime.load(tiny_copy, trusted_keys=[public]).signature.verified
    # a device graph swapped together with its manifest entry passes the hash but not the signature
    bundle = tiny_copy / "1.0.0"
    other = bytearray((bundle / "device.onnx").read_bytes())
    other[-1] ^= 0x01
    (bundle / "device.onnx").write_bytes(bytes(other))
    with pytest.raises(runtime.BundleError, match="device.onnx"):
        runtime.load(tiny_copy, trusted_keys=[public])


def test_a_manifest_that_misnames_the_device_graphs_input_is_refused(tiny_copy):
    path = tiny_copy / "1.0.0" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["device_graph"]["input"] = "features"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(tiny_copy)
    assert str(caught.value) == (
        "device.onnx of 'quality' 1.0.0 takes the inputs ['packed'], the manifest expects one, 'features'"
    )


def test_out_of_range_values_are_flagged_on_the_device_graph_as_on_the_public_one(tiny_export, tmp_path):
    device = runtime.load(tiny_export.bundle, on_out_of_range="flag")
    public = runtime.load(_without_device_graph(tiny_export.bundle, tmp_path / "1.0.0"), on_out_of_range="flag")
    low, high = tiny_export.manifest.column("temperature").valid_range
    record = {**tiny_export.manifest.golden_cases[0].inputs, "temperature": high + 50.0}
    got, expected = device.predict(record), public.predict(record)
    assert got.flags == expected.flags and got.flags
    assert list(got.probabilities.values()) == pytest.approx(list(expected.probabilities.values()), abs=1e-12)
    with pytest.raises(runtime.InputError, match="must be within"):
        runtime.load(tiny_export.bundle).predict(record)
