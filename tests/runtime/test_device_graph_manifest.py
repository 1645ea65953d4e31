"""The manifest's optional ``device_graph`` section is read strictly (issue 13), and bundles without one load."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import runtime
from tests.conftest import SHIPPED_VERSION

SECTION: dict[str, Any] = {
    "file": {"path": "device.onnx", "sha256": "0" * 64, "size": 10},
    "input": "packed",
    "width": 4,
    "columns": {"temperature": {"value": 0, "negated": 1}, "shift": {"categories": {"day": 2, "night": 3, "": 2}}},
    "folded": ["cat/impute", "cat/onehot"],
    "kept": ["num/impute", "num/scale", "num/pca"],
}


def _manifest(section: Any) -> dict[str, Any]:
    data = json.loads((SHIPPED_VERSION / "manifest.json").read_text(encoding="utf-8"))
    data["device_graph"] = section
    return data


def _changed(**changes: Any) -> dict[str, Any]:
    section = copy.deepcopy(SECTION)
    for key, value in changes.items():
        section[key] = value
    return section


def test_a_valid_section_round_trips():
    manifest = runtime.Manifest.from_dict(_manifest(SECTION))
    graph = manifest.device_graph
    assert graph is not None and graph.width == 4 and graph.columns["shift"].categories == {"day": 2, "night": 3, "": 2}
    assert graph.kept == ("num/impute", "num/scale", "num/pca")
    assert runtime.Manifest.from_dict(manifest.to_dict()) == manifest


ORDINAL = {
    "temperature": {"value": 0, "negated": 1},
    "shift": {"code": 2, "codes": {"day": 0, "evening": 1, "night": 2, "": 0}, "unknown_code": -1},
}


def test_an_ordinal_code_slot_round_trips():
    manifest = runtime.Manifest.from_dict(_manifest(_changed(columns=ORDINAL, width=3)))
    shift = manifest.device_graph.columns["shift"]
    assert (shift.code, shift.unknown_code, shift.codes["night"]) == (2, -1.0, 2.0) and shift.slots() == [2]
    assert runtime.Manifest.from_dict(manifest.to_dict()) == manifest


def test_the_committed_bundle_has_none_and_its_manifest_keeps_its_keys():
    data = json.loads((SHIPPED_VERSION / "manifest.json").read_text(encoding="utf-8"))
    manifest = runtime.Manifest.from_dict(data)
    assert manifest.device_graph is None and "device_graph" not in manifest.to_dict()
    assert runtime.load(SHIPPED_VERSION).graph_file == "model.onnx"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (_changed(width=5), "the columns fill the slots [0, 1, 2, 3], expected each of 0 .. 4 exactly once"),
        (_changed(width=0), "manifest field device_graph.width == 0, expected 1 to 1048576"),
        (
            _changed(columns={**SECTION["columns"], "colour": {"value": 4}}, width=5),
            "manifest field device_graph.columns['colour'] is not one of the input columns",
        ),
        (
            _changed(columns={"temperature": {"value": 0, "negated": 1, "categories": {"A": 2}}, "shift": {}}, width=3),
            "manifest field device_graph.columns['temperature'] is a number column but lists category slots",
        ),
        (
            _changed(columns={"temperature": {"value": 0, "negated": 1}, "shift": {"value": 2}}, width=3),
            "manifest field device_graph.columns['shift'] is a category column but has number slots",
        ),
        (
            _changed(
                columns={"temperature": {"value": 0, "negated": 1}, "shift": {"categories": {"dawn": 2}}}, width=3
            ),
            "manifest field device_graph.columns['shift'].categories names ['dawn'], which the column does not accept",
        ),
        (
            _changed(columns={"temperature": {"value": -1}}, width=1),
            "manifest field device_graph.columns['temperature'].value == -1, expected a slot number in [0, 1048576)",
        ),
        (
            _changed(columns={"temperature": {"value": True}}, width=1),
            "manifest field device_graph.columns['temperature'].value == True, expected a slot number in [0, 1048576)",
        ),
        (
            _changed(columns={"temperature": {"value": 1}, "shift": {"categories": {"day": 0, "night": 2}}}, width=3),
            "manifest field device_graph.columns['shift'].categories uses the slots [0, 2], which must be adjacent",
        ),
        (_changed(columns=[]), "manifest field device_graph.columns == [] has type list, expected dict"),
        (_changed(file={"path": "device.onnx", "sha256": "x", "size": 1}), "device_graph.file.sha256 == 'x'"),
        ("packed", "manifest field device_graph == 'packed' has type str, expected dict"),
        (_changed(kept=["num/pca", 3]), "manifest field device_graph.kept must hold strings only"),
        (
            _changed(columns={**ORDINAL, "shift": {**ORDINAL["shift"], "codes": {"dawn": 0}}}, width=3),
            "manifest field device_graph.columns['shift'].codes names ['dawn'], which the column does not accept",
        ),
        (
            _changed(columns={**ORDINAL, "shift": {**ORDINAL["shift"], "unknown_code": float("nan")}}, width=3),
            "manifest field device_graph.columns['shift'].unknown_code == nan, expected a finite number",
        ),
        (
            _changed(columns={**ORDINAL, "shift": {**ORDINAL["shift"], "codes": {"day": "0"}}}, width=3),
            "manifest field device_graph.columns['shift'].codes['day'] == '0', expected a finite number",
        ),
        (
            _changed(columns={**ORDINAL, "shift": {"codes": {"day": 0}}}, width=2),
            "manifest field device_graph.columns['shift'] lists codes but no code slot",
        ),
        (
            _changed(columns={"temperature": {"value": 0, "code": 1}, "shift": {}}, width=2),
            "manifest field device_graph.columns['temperature'] is a number column but lists category slots",
        ),
        (
            _changed(columns={**ORDINAL, "shift": {**ORDINAL["shift"], "categories": {"day": 3}, "code": 5}}, width=6),
            "manifest field device_graph.columns['shift'].categories uses the slots [3, 5], which must be adjacent",
        ),
        (_changed(kept="num/pca"), "manifest field device_graph.kept == 'num/pca' has type str, expected list"),
    ],
)
def test_a_malformed_section_is_refused(section, message):
    with pytest.raises(runtime.BundleError) as caught:
        runtime.Manifest.from_dict(_manifest(section))
    assert message in str(caught.value)
