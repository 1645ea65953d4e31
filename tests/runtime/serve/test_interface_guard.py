"""Hot reload refuses a version that changes the interface within a major version (issue 10, finding 14)."""

from __future__ import annotations

import shutil

import pytest

import runtime
from runtime._holder import ModelHolder
from tests.conftest import SHIPPED_VERSION
from tests.runtime.damage import edit_manifest

RENAMED = {0: "good", 1: "defect"}


def _renamed_classes(manifest: dict) -> None:
    """The same model with its classes called "good" and "defect" instead of 0 and 1."""
    manifest["classes"] = [RENAMED[c] for c in manifest["classes"]]
    for case in manifest["golden_cases"]:
        case["label"] = RENAMED[case["label"]]
    manifest["drift_reference"]["predictions"]["shares"] = {
        RENAMED[int(c)]: share for c, share in manifest["drift_reference"]["predictions"]["shares"].items()
    }


def _without_category(manifest: dict) -> None:
    column = next(c for c in manifest["inputs"] if c["name"] == "machine_type")
    column["categories"] = [c for c in column["categories"] if c != "C"]
    manifest["drift_reference"]["columns"]["machine_type"]["shares"].pop("C")


@pytest.fixture
def model_folder(tmp_path):
    folder = tmp_path / "quality"
    shutil.copytree(SHIPPED_VERSION, folder / "1.0.0")
    (folder / "CURRENT").write_text("1.0.0\n")
    return folder


def _add_version(folder, version: str, change) -> None:
    shutil.copytree(folder / "1.0.0", folder / version)
    edit_manifest(folder / version, lambda m: (m.update(version=version), change(m)))
    (folder / "CURRENT").write_text(version + "\n")


def _holder(folder, **options) -> ModelHolder:
    return ModelHolder(folder, runtime.load(folder), loader=runtime.load, poll_s=None, **options)


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (_renamed_classes, "classes [0, 1] -> ['good', 'defect']"),
        (_without_category, "column 'machine_type' no longer accepts the categories ['C']"),
        # another target with the same classes: the same shape of answer, a different question
        (lambda manifest: manifest.update(target="scrap"), "target 'defect' -> 'scrap'"),
    ],
)
def test_an_interface_change_in_a_minor_version_is_refused(model_folder, change, what):
    holder = _holder(model_folder)
    _add_version(model_folder, "1.1.0", change)
    attempt = holder.reload("admin")
    assert (attempt.outcome, holder.current.version) == ("refused", "1.0.0")
    assert attempt.error == (
        f"1.1.0 changes the interface of 'quality' 1.0.0 ({what}): every client would break at once; "
        "export it as a new major version, or start the server with --allow-interface-change"
    )


def test_a_new_major_version_lets_it_through(model_folder):
    holder = _holder(model_folder)
    _add_version(model_folder, "2.0.0", _renamed_classes)
    attempt = holder.reload("admin")
    assert (attempt.outcome, attempt.version) == ("loaded", "2.0.0")
    assert holder.current.classes == ("good", "defect")


def test_the_flag_lets_it_through_within_a_major_version(model_folder):
    holder = _holder(model_folder, allow_interface_change=True)
    _add_version(model_folder, "1.2.0", _renamed_classes)
    attempt = holder.reload("admin")
    assert (attempt.outcome, attempt.version) == ("loaded", "1.2.0")


def test_the_same_interface_reloads(model_folder):
    holder = _holder(model_folder)
    _add_version(model_folder, "1.0.1", lambda m: m.update(description="retrained on June data"))
    attempt = holder.reload("admin")
    assert (attempt.outcome, attempt.version) == ("loaded", "1.0.1")
