"""Bundles are verified before onnxruntime sees them, and refused with one clear line (STYLE 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import runtime
from runtime._onnx_scan import refuse_external_data
from tests.runtime.damage import (
    bundle_copy,
    edit_manifest,
    escaping_path,
    external_data,
    flip_byte,
    golden_drift,
    missing_model,
    newer_schema,
    wrong_hash,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture()
def bundle(shipped_bundle, tmp_path) -> Path:
    """A private copy of the shipped version folder, free to damage."""
    return bundle_copy(shipped_bundle / "1.0.0", tmp_path)


REFUSALS = [
    (flip_byte, runtime.BundleError, "has sha256 "),
    (wrong_hash, runtime.BundleError, "the manifest expects 0000000000"),
    (missing_model, runtime.BundleError, "model.onnx' is missing; the manifest expects it"),
    (
        newer_schema,
        runtime.SchemaVersionError,
        f"manifest schema version {runtime.SCHEMA_VERSION + 1} is newer than this runtime reads "
        f"(up to {runtime.SCHEMA_VERSION}): upgrade the runtime",
    ),
    (golden_drift, runtime.BundleError, "golden case 0 "),
    (escaping_path, runtime.BundleError, "must be a file name inside the bundle folder"),
    (external_data, runtime.BundleError, "references tensor data stored outside the model file"),
]


@pytest.mark.parametrize(("damage", "error", "fragment"), REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
def test_damaged_bundle_is_refused_at_load(bundle, damage, error, fragment):
    damage(bundle)
    with pytest.raises(error) as caught:
        runtime.load(bundle)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("damage", "error", "fragment"), REFUSALS, ids=[r[0].__name__ for r in REFUSALS])
def test_damaged_bundle_fails_the_cli_with_one_line(bundle, damage, error, fragment):
    damage(bundle)
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "info", str(bundle.parent)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_golden_case_failure_names_case_expected_and_got(bundle):
    golden_drift(bundle)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(bundle)
    message = str(caught.value)
    assert "does not reproduce with onnxruntime" in message
    assert "expected label" in message and "got " in message


def test_load_accepts_version_folder_and_model_folder(bundle):
    by_version = runtime.load(bundle)
    by_model = runtime.load(bundle.parent)
    assert by_version.version == by_model.version == bundle.name


def test_current_pointing_nowhere_is_refused(bundle):
    (bundle.parent / "CURRENT").write_text("9.9.9\n")
    with pytest.raises(runtime.BundleError, match="names version '9.9.9' but"):
        runtime.load(bundle.parent)


def test_not_a_bundle(tmp_path):
    with pytest.raises(runtime.BundleError, match="is neither a bundle"):
        runtime.load(tmp_path)
    with pytest.raises(runtime.BundleError, match="does not exist"):
        runtime.load(tmp_path / "nothing")


def test_external_data_scanner_accepts_the_real_model(bundle):
    refuse_external_data((bundle / "model.onnx").read_bytes(), "model.onnx")


def test_shipped_bundle_loads_and_self_tests(shipped_bundle):
    model = runtime.load(shipped_bundle)
    assert model.manifest.golden_cases
    kinds = {case.kind for case in model.manifest.golden_cases}
    assert {"held-out", "threshold", "missing", "unknown-category", "range-boundary", "near-tie"} <= kinds


def test_session_options_are_explicit():
    options = runtime.session_options(threads=2)
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1
    assert options.enable_cpu_mem_arena is False
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("manifest-v*.json")), ids=lambda p: p.name)
def test_old_manifests_stay_readable(fixture):
    data = json.loads(fixture.read_text())
    manifest = runtime.Manifest.from_dict(data)
    assert manifest.schema_version == data["schema_version"]
    if manifest.schema_version == runtime.SCHEMA_VERSION:
        assert manifest.to_dict() == data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("name"), "manifest field name is missing"),
        (lambda m: m.update(version="1.0"), "manifest field version == '1.0' is not a semantic version like '1.0.0'"),
        (lambda m: m.update(schema_version="1"), "manifest field schema_version == '1' is not a schema version"),
        (
            lambda m: m["inputs"][0].update(kind="text"),
            "manifest field inputs['temperature'].kind == 'text', expected 'number' or 'category'",
        ),
        (
            lambda m: m["inputs"][0].update(valid_range=[5, 1]),
            "manifest field inputs['temperature'].valid_range == [5, 1], expected [low, high] with finite low <= high",
        ),
        (lambda m: m.update(task="ranking"), "manifest field task == 'ranking'"),
    ],
)
def test_malformed_manifest_names_the_field(change, message):
    data = json.loads((FIXTURES / "manifest-v1.json").read_text())
    change(data)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.Manifest.from_dict(data)
    assert str(caught.value).startswith(message)


def _section(name: str, change):
    return lambda manifest: change(manifest[name])


MALFORMED_SECTIONS = [
    (
        "drift_reference",
        _section("drift_reference", lambda d: d["columns"]["temperature"]["bin_shares"].pop()),
        "manifest field drift_reference.columns['temperature'].bin_shares has 9 shares for 9 edges, "
        "expected 10 shares in [0, 1]",
    ),
    (
        "drift_reference",
        _section("drift_reference", lambda d: d["columns"]["shift"].update(missing_rate=1.5)),
        "manifest field drift_reference.columns['shift'].missing_rate == 1.5, expected a finite number within [0.0, 1.0]",
    ),
    (
        "drift_reference",
        _section("drift_reference", lambda d: d["columns"]["machine_type"].update(kind="number")),
        "manifest field drift_reference.columns['machine_type'].bin_edges is missing",
    ),
    (
        "drift_reference",
        _section("drift_reference", lambda d: d["predictions"]["shares"].update({"1": "many"})),
        "manifest field drift_reference.predictions.shares['1'] == 'many', expected a share in [0, 1]",
    ),
    (
        "metrics",
        _section("metrics", lambda m: m.update(accuracy="0.94")),
        "manifest field metrics.accuracy == '0.94' has type str, expected int or float",
    ),
    (
        "metrics",
        _section("metrics", lambda m: m.update(macro_f1=1.7)),
        "manifest field metrics.macro_f1 == 1.7, expected a finite number within [0.0, 1.0]",
    ),
    (
        "parity",
        _section("parity", lambda p: p.update(tolerance=-1e-9)),
        "manifest field parity.tolerance == -1e-09, expected a finite number within [0.0, inf]",
    ),
    (
        "parity",
        _section("parity", lambda p: p["kinds"]["threshold"].update(cases=-3)),
        "manifest field parity.kinds['threshold'].cases == -3, expected a whole number >= 0",
    ),
    (
        "parity",
        _section("parity", lambda p: p.pop("passed")),
        "manifest field parity.passed is missing",
    ),
    (
        "performance",
        _section("performance", lambda p: p["single_record_latency_us"].update(p99="fast")),
        "manifest field performance.single_record_latency_us.p99 == 'fast' has type str, expected int or float",
    ),
    (
        "performance",
        _section("performance", lambda p: p["budget"].update(met="yes")),
        "manifest field performance.budget.met == 'yes' has type str, expected bool",
    ),
    (
        "training",
        _section("training", lambda t: t.update(train_rows=1.5)),
        "manifest field training.train_rows == 1.5 has type float, expected int",
    ),
    (
        "label_tie_tolerance",
        lambda m: m.update(label_tie_tolerance=-0.5),
        "manifest fields tolerance == 1e-09 and label_tie_tolerance == -0.5 must be finite numbers >= 0",
    ),
]


@pytest.mark.parametrize(
    ("section", "change", "message"),
    MALFORMED_SECTIONS,
    ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(MALFORMED_SECTIONS)],
)
def test_a_malformed_section_is_refused_at_load_naming_the_field(bundle, section, change, message):
    edit_manifest(bundle, change)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(bundle)
    assert str(caught.value) == message
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "info", str(bundle)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert (result.returncode, result.stderr) == (3, f"error: bundle refused: {message}\n")


def test_typed_sections_round_trip_the_shipped_manifest(shipped_bundle):
    data = json.loads((shipped_bundle / "1.0.0" / "manifest.json").read_text(encoding="utf-8"))
    manifest = runtime.Manifest.from_dict(data)
    assert isinstance(manifest.drift_reference.columns["temperature"], runtime.NumberReference)
    assert manifest.parity.kinds["threshold"].details["split_nodes"] > 0
    assert manifest.performance.single_record_latency_us is not None
    assert manifest.to_dict() == data


# -- hostile bundle files (issue 10: findings 2, 5, 6, 10) --------------------------------------------


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    return secret


def current_links_to_a_secret(bundle: Path) -> None:
    (bundle.parent / "CURRENT").unlink()
    (bundle.parent / "CURRENT").symlink_to(_secret(bundle.parent.parent))


def current_is_huge(bundle: Path) -> None:
    (bundle.parent / "CURRENT").write_bytes(b"1.0.0" + b" " * 50_000_000)


def manifest_links_outside(bundle: Path) -> None:
    outside = bundle.parent.parent / "manifest.json"
    (bundle / "manifest.json").rename(outside)
    (bundle / "manifest.json").symlink_to(outside)


def model_is_a_fifo(bundle: Path) -> None:
    (bundle / "model.onnx").unlink()
    os.mkfifo(bundle / "model.onnx")


def model_is_a_sparse_4_gib_file(bundle: Path) -> None:
    with open(bundle / "model.onnx", "r+b") as handle:
        handle.truncate(4 * 1024**3)


def _raw_manifest(change):
    def damage(bundle: Path) -> None:
        path = bundle / "manifest.json"
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return damage


HOSTILE = [
    (current_links_to_a_secret, "is a link to a file outside", "CURRENT"),
    (
        current_is_huge,
        "has 50,000,005 bytes, more than the limit of 256 bytes; bundles hold regular files only",
        "CURRENT",
    ),
    (manifest_links_outside, "manifest.json' is a link to a file outside", "manifest"),
    (
        model_is_a_fifo,
        "model.onnx' is a FIFO (named pipe), not a regular file; bundles hold regular files only",
        "model",
    ),
    (model_is_a_sparse_4_gib_file, "model.onnx' has 4294967296 bytes, the manifest expects 680443", "model"),
    (
        lambda b: edit_manifest(b, lambda m: m.update(version="1.0.0\n")),
        "manifest field version == '1.0.0\\n' is not a semantic version like '1.0.0'",
        "manifest",
    ),
    (
        _raw_manifest(lambda text: text.replace('"name": "quality"', '"name": "qu\\ud800ality"', 1)),
        "manifest holds the string 'qu\\ud800ality', which is not valid Unicode",
        "manifest",
    ),
    (
        lambda b: edit_manifest(b, lambda m: m.update(name="line 3")),
        "manifest field name == 'line 3', expected 1 to 128 of A-Z a-z 0-9 . _ - (starting with a letter or digit)",
        "manifest",
    ),
    (
        _raw_manifest(lambda text: text.replace('"name": "quality"', '"name": "quality", "name": "other"', 1)),
        "manifest names the key 'name' twice in one object; each key must appear once",
        "manifest",
    ),
    (
        _raw_manifest(lambda text: text.replace('"tolerance": 1e-09', '"tolerance": NaN', 1)),
        "manifest holds NaN, which is not JSON; numbers must be finite",
        "manifest",
    ),
    (
        _raw_manifest(lambda text: text.replace('"size": 680443', '"size": ' + "9" * 5000, 1)),
        "is not a manifest: Exceeds the limit (4300 digits) for integer string conversion",
        "manifest",
    ),
    (
        _raw_manifest(
            lambda text: text.replace(
                '"description": ', '"deep": ' + "[" * 100_000 + "]" * 100_000 + ', "description": ', 1
            )
        ),
        "nests too deeply to be a manifest",
        "manifest",
    ),
    (
        lambda b: edit_manifest(b, lambda m: m["golden_cases"][0].update(probabilities=["0.9", "0.1"])),
        "manifest field golden_cases[0].probabilities == ['0.9', '0.1'], expected a list of finite numbers",
        "manifest",
    ),
    (
        lambda b: edit_manifest(b, lambda m: m["inputs"].append("shift")),
        "manifest field inputs[7] == 'shift', expected an object",
        "manifest",
    ),
    (
        lambda b: edit_manifest(b, lambda m: m["golden_cases"][1].update(label=7)),
        "manifest field golden_cases[1].label == 7 is not one of the classes",
        "manifest",
    ),
]


@pytest.mark.parametrize(("damage", "fragment", "what"), HOSTILE, ids=[f"{i}-{h[2]}" for i, h in enumerate(HOSTILE)])
def test_a_hostile_bundle_file_is_refused_with_one_short_line(bundle, damage, fragment, what):
    damage(bundle)
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "info", str(bundle.parent)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,  # a FIFO must not hang the load
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: bundle refused: ") and result.stderr.count("\n") == 1
    assert fragment in result.stderr
    assert "hunter2" not in result.stderr and len(result.stderr) < 400
