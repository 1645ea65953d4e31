"""Ways to damage a copy of a bundle, shared by the bundle, CLI and server tests.

Each function takes a version folder (a private copy: see ``bundle_copy``) and damages it in place.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import runtime


def bundle_copy(version_folder: Path, destination: Path) -> Path:
    """A copy of ``version_folder`` as ``destination/<name>/<version>`` with a ``CURRENT`` beside it;
    returns the copied version folder."""
    target = destination / version_folder.parent.name / version_folder.name
    shutil.copytree(version_folder, target)
    (target.parent / "CURRENT").write_text(version_folder.name + "\n", encoding="utf-8")
    return target


def edit_manifest(bundle: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    path = bundle / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def flip_byte(bundle: Path) -> None:
    path = bundle / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def wrong_hash(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m["model_file"].update(sha256="0" * 64))


def missing_model(bundle: Path) -> None:
    (bundle / "model.onnx").unlink()


def newer_schema(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m.update(schema_version=runtime.SCHEMA_VERSION + 1))


def golden_drift(bundle: Path) -> None:
    def change(manifest: dict[str, Any]) -> None:
        case = manifest["golden_cases"][0]
        case["probabilities"] = [round(1.0 - p, 6) for p in case["probabilities"]]
        case["label"] = [c for c in manifest["classes"] if c != case["label"]][0]

    edit_manifest(bundle, change)


def escaping_path(bundle: Path) -> None:
    edit_manifest(bundle, lambda m: m["model_file"].update(path="../model.onnx"))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (payloads here are shorter than 128 bytes)."""
    return bytes([number << 3 | 2, len(payload)]) + payload


def external_data(bundle: Path) -> None:
    # ModelProto{graph{initializer{name, external_data{location: ../secret.bin}, data_location: EXTERNAL}}}
    entry = _field(1, b"location") + _field(2, b"../secret.bin")
    tensor = _field(8, b"w") + _field(13, entry) + b"\x70\x01"
    model = _field(7, _field(5, tensor))
    (bundle / "model.onnx").write_bytes(model)
    edit_manifest(bundle, lambda m: m["model_file"].update(sha256=hashlib.sha256(model).hexdigest(), size=len(model)))
