"""Publishing: where a bundle goes, the staging folder, the side files, the joblib twin and CURRENT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
joblib = pytest.importorskip("joblib")

import runtime  # noqa: E402
from export import ExportError  # noqa: E402
from export._config import Destination, ExportConfig  # noqa: E402
from export._publish import (  # noqa: E402
    JOBLIB_LEVELS,
    destination,
    input_json_schema,
    make_current,
    next_version,
    reject,
    save_twin,
    staging,
)
from tests.export.conftest import BUNDLE_FILES  # noqa: E402


@pytest.mark.parametrize(
    ("existing", "expected"),
    [((), "1.0.0"), (("1.0.0",), "1.0.1"), (("1.2.0", "1.10.3", "notes"), "1.10.4"), (("2.0.0-rc.1",), "2.0.1")],
)
def test_next_version(tmp_path, existing, expected):
    for name in existing:
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == expected


def test_destination_names_and_refusals(tmp_path):
    assert destination(ExportConfig(output=tmp_path)) == Destination("quality", tmp_path / "quality", "1.0.0")
    named = destination(ExportConfig(output=tmp_path, data=Path("Line 3 (A).csv"), target="y"))
    assert (named.name, named.bundle) == ("line-3-a-y", tmp_path / "line-3-a-y" / "1.0.0")  # file and target
    with pytest.raises(ExportError, match=r"^--version '1.0' is not a semantic version like 1.0.0$"):
        destination(ExportConfig(output=tmp_path, version="1.0"))
    (tmp_path / "quality" / "1.0.0").mkdir(parents=True)
    with pytest.raises(ExportError, match="exists: versions are never overwritten; pass a new --version$"):
        destination(ExportConfig(output=tmp_path, version="1.0.0"))


def test_a_failed_block_removes_its_staging_folder(tmp_path):
    where = Destination("quality", tmp_path / "quality", "1.0.0")
    with pytest.raises(RuntimeError, match="boom"), staging(where) as folder:
        (folder / "model.onnx").write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(where.model_folder.iterdir()) == []


def test_the_published_bundle_is_complete_and_current(tiny_export):
    bundle = tiny_export.bundle
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES
    assert oct(bundle.stat().st_mode & 0o777) == "0o755"  # not mkdtemp's 0700: a device's service user reads it
    assert (bundle.parent / "CURRENT").read_text() == "1.0.0\n"
    assert not [p.name for p in bundle.parent.iterdir() if p.name.startswith(".")]  # no staging, no probes
    model = runtime.load(bundle.parent)
    example = json.loads((bundle / "example_input.json").read_text())
    output = json.loads((bundle / "example_output.json").read_text())
    assert example == dict(model.manifest.golden_cases[0].inputs)
    prediction = model.predict(example)
    assert output == {
        "label": prediction.label,
        "probabilities": {str(k): v for k, v in prediction.probabilities.items()},
        "value": None,
        "model": "quality",
        "version": "1.0.0",
    }
    parity = json.loads((bundle / "parity.json").read_text())
    assert parity == json.loads(json.dumps(tiny_export.parity.to_dict()))
    requirements = (bundle / "requirements-device.txt").read_text()
    assert f"onnxruntime=={model.manifest.libraries['onnxruntime']}\n" in requirements


def test_the_input_schema_describes_one_record(tiny_export):
    manifest = tiny_export.manifest
    schema = input_json_schema(manifest)
    assert json.loads((tiny_export.bundle / "input_schema.json").read_text()) == schema
    assert schema["required"] == [c.name for c in manifest.inputs] and schema["additionalProperties"] is False
    temperature = schema["properties"]["temperature"]
    low, high = manifest.column("temperature").valid_range
    assert temperature["type"] == ["number", "null"] and (temperature["minimum"], temperature["maximum"]) == (low, high)
    machine = schema["properties"]["machine_type"]
    assert machine["type"] == "string" and machine["enum"] == ["A", "B", "C"]


def test_the_joblib_twin_beside_the_bundle(tiny_export):
    assert tiny_export.joblib_path == tiny_export.bundle.parent / "1.0.0.joblib"
    payload = joblib.load(tiny_export.joblib_path)
    metadata = payload["metadata"]
    assert metadata["onnx_sha256"] == tiny_export.manifest.model_file.sha256
    assert metadata["data_fingerprint_sha256"] == tiny_export.data_summary["fingerprint_sha256"]
    assert metadata["export_config"]["demo_rows"] == 400 and metadata["task"] == "binary_classification"
    assert [row["compress"] for row in tiny_export.joblib_report] == list(JOBLIB_LEVELS)
    assert all(row["bytes"] > 0 and row["load_s"] > 0 for row in tiny_export.joblib_report)


def test_save_twin_and_make_current(tiny_export, tmp_path):
    where = Destination("quality", tmp_path / "quality", "2.0.0")
    where.model_folder.mkdir()
    levels = save_twin(tiny_export.pipeline, {"note": "test"}, where, compress=0)
    path = where.model_folder / "2.0.0.joblib"
    assert where.joblib_path == path and joblib.load(path)["metadata"] == {"note": "test"}
    assert len(levels) == len(JOBLIB_LEVELS)
    with staging(where) as folder:
        for name in ("model.onnx", "manifest.json"):
            (folder / name).write_bytes((tiny_export.bundle / name).read_bytes())
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["version"] = "2.0.0"
        (folder / "manifest.json").write_text(json.dumps(manifest))
        assert make_current(folder, where) == where.bundle
    assert (where.model_folder / "CURRENT").read_text() == "2.0.0\n"
    assert runtime.load(where.model_folder).version == "2.0.0"


def test_reject_keeps_the_report_out_of_a_devices_sight(tiny_export, tmp_path):
    where = Destination("quality", tmp_path / "quality", "1.0.1")
    path = reject(where, tiny_export.parity)
    assert path == where.model_folder / ".rejected" / "1.0.1" / "parity.json"
    assert json.loads(path.read_text())["total_cases"] == tiny_export.parity.total_cases
    assert not (where.model_folder / "CURRENT").exists()
