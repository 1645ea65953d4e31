"""Publishing a bundle: where it goes, the staging folder, the side files, the joblib twin, ``CURRENT``.

The bundle is built in a staging folder inside the model folder (``.staging-<version>-*``), renamed
into place only when complete, loaded back through :func:`runtime.load` (hash, manifest, golden
cases), and only then does ``CURRENT`` move, by an atomic replace
(:func:`runtime._contract.write_current`). A failed parity proof leaves its report under
``.rejected/<version>/`` and nothing a device could pick up.

With a signing key, ``model.sig`` (:mod:`._sign`) is written last into the staging folder, after
every other file, and the renamed folder must then load with that key trusted before ``CURRENT`` moves.

The joblib twin (``<model folder>/<version>.joblib``) holds the fitted Pipeline and the export's
settings for ``export check`` and the benchmarks; it stays beside the bundle, never in it: loading
a pickle runs code, and the device never does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnxruntime as ort
from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import MANIFEST_FILE, MODEL_FILE, is_semver, write_current

from ._config import Destination, ExportConfig, ParityReport, PreparedData, config_record
from ._errors import ExportError
from ._interface import bump_of, check_interface, current_manifest, default_name, next_version
from ._performance import joblib_costs

__all__ = [
    "INPUT_SCHEMA_FILE",
    "JOBLIB_LEVELS",
    "destination",
    "input_json_schema",
    "make_current",
    "next_version",
    "reject",
    "save_twin",
    "sign",
    "staging",
    "twin_metadata",
    "write_json",
    "write_manifest",
    "write_model",
    "write_side_files",
]

INPUT_SCHEMA_FILE = "input_schema.json"
EXAMPLE_INPUT_FILE = "example_input.json"
EXAMPLE_OUTPUT_FILE = "example_output.json"
PARITY_FILE = "parity.json"
REQUIREMENTS_FILE = "requirements-device.txt"
REJECTED_FOLDER = ".rejected"
# joblib compression levels whose size and load time the documents compare
JOBLIB_LEVELS = (0, 3, 9)
JOBLIB_LOADS = 3


def destination(config: ExportConfig, draft: runtime.Manifest | None = None) -> Destination:
    """The model name, folder and version this export writes; an existing version is never overwritten.

    ``draft`` is the interface of the model about to be trained (:func:`._interface.interface_draft`):
    it sets the version's bump and is refused when it breaks the current version's interface
    (:class:`InterfaceChangedError`), unless ``--major``. See :mod:`._interface` for the rule.
    """
    name = config.name or default_name(config)
    model_folder = config.output / name
    current = current_manifest(model_folder)
    version = config.version or next_version(model_folder, bump_of(current, draft, major=config.major))
    if not is_semver(version):
        raise ExportError(f"--version {version!r} is not a semantic version like 1.0.0")
    if (model_folder / version).exists():
        raise ExportError(f"{model_folder / version} exists: versions are never overwritten; pass a new --version")
    check_interface(current, draft, major=config.major, version=config.version, model_folder=model_folder)
    return Destination(name, model_folder, version)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def reject(where: Destination, parity: ParityReport) -> Path:
    """Keep a failed proof's report for the user (never where a device looks); returns its path."""
    folder = where.model_folder / REJECTED_FOLDER / where.version
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / PARITY_FILE, parity.to_dict())
    return folder / PARITY_FILE


@contextlib.contextmanager
def staging(where: Destination) -> Iterator[Path]:
    """A fresh staging folder inside the model folder, removed again if the block fails."""
    where.model_folder.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".staging-{where.version}-", dir=where.model_folder))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def write_model(folder: Path, onnx_bytes: bytes) -> None:
    (folder / MODEL_FILE).write_bytes(onnx_bytes)


def write_manifest(folder: Path, manifest: runtime.Manifest) -> None:
    """``manifest.json``, written only through :meth:`runtime.Manifest.to_dict`."""
    write_json(folder / MANIFEST_FILE, manifest.to_dict())


def write_side_files(folder: Path, manifest: runtime.Manifest, parity: ParityReport) -> None:
    """The record schema, an example input and output, the parity report and the device requirements.

    The example output comes from loading the staging folder, so ``model.onnx`` and the final
    ``manifest.json`` must be in it already.
    """
    example = parity.golden[0].inputs
    output = runtime.load(folder).predict(example)
    write_json(folder / INPUT_SCHEMA_FILE, input_json_schema(manifest))
    write_json(folder / EXAMPLE_INPUT_FILE, example)
    write_json(
        folder / EXAMPLE_OUTPUT_FILE,
        {
            "label": output.label,
            "probabilities": {str(k): v for k, v in (output.probabilities or {}).items()} or None,
            "value": output.value,
            "model": output.model,
            "version": output.version,
        },
    )
    write_json(folder / PARITY_FILE, parity.to_dict())
    (folder / REQUIREMENTS_FILE).write_text(
        "# The versions this bundle's parity proof ran with. Install on the device with:\n"
        "#   pip install -r requirements-device.txt  (then the factory-edge runtime itself)\n"
        f"numpy=={np.__version__}\nonnxruntime=={ort.__version__}\n",
        encoding="utf-8",
    )


def input_json_schema(manifest: runtime.Manifest) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of one input record, for integrators in any language."""
    properties: dict[str, Any] = {}
    for spec in manifest.inputs:
        if spec.kind == "number":
            prop: dict[str, Any] = {"type": ["number", "null"] if spec.nullable else "number"}
            if spec.valid_range is not None:
                prop["minimum"], prop["maximum"] = spec.valid_range
        else:
            categories: list[Any] = list(spec.categories or ())
            prop = {
                "type": ["string", "null"] if spec.nullable else "string",
                "enum": categories + ([None] if spec.nullable else []),
            }
        prop["description"] = spec.description or (
            f"{spec.kind}; " + ("may be null (missing)" if spec.nullable else "required, never null")
        )
        properties[spec.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:factory-edge:{manifest.name}:{manifest.version}:input-record",
        "title": f"Input record for model {manifest.name} {manifest.version}",
        "description": "One record (row) as the runtime accepts it. Numbers are JSON numbers, never strings; "
        "NaN and infinities are not allowed; null marks a missing value where permitted. "
        "Unknown categories are refused by default.",
        "type": "object",
        "properties": properties,
        "required": [spec.name for spec in manifest.inputs],
        "additionalProperties": False,
    }


def twin_metadata(
    manifest: runtime.Manifest, data: PreparedData, metrics: Mapping[str, Any], config: ExportConfig
) -> dict[str, Any]:
    """What the joblib twin carries beside the Pipeline, so ``export check`` can rebuild the split."""
    return {
        "name": manifest.name,
        "version": manifest.version,
        "created_at": manifest.created_at,
        "libraries": manifest.libraries,
        "python": sys.version,
        "data_fingerprint_sha256": data.summary["fingerprint_sha256"],
        "metrics": metrics,
        "spec": dataclasses.asdict(data.spec),
        "task": data.task,
        "onnx_sha256": manifest.model_file.sha256,
        "decision": manifest.decision.to_dict() if manifest.decision is not None else None,
        "export_config": config_record(config),
    }


def save_twin(
    pipeline: Pipeline,
    metadata: dict[str, Any],
    where: Destination,
    *,
    compress: int,
    progress: Callable[[str], None] = lambda message: None,
    classifier: Any = None,
) -> list[dict[str, Any]]:
    """Write the twin to ``where.joblib_path``; returns the size and time per compression level
    (:data:`JOBLIB_LEVELS`, measured in a scratch folder first).

    With a decision threshold, ``classifier`` is scikit-learn's threshold classifier around
    ``pipeline``: saved beside it (the Pipeline once, shared), its ``predict`` gives the labels the
    device gives, while ``pipeline`` alone gives the default rule's."""
    payload = {"pipeline": pipeline, "metadata": metadata}
    if classifier is not None:
        payload["classifier"] = classifier
    progress("saving the Pipeline with joblib")
    probe_folder = Path(tempfile.mkdtemp(prefix=".joblib-probe-", dir=where.model_folder))
    try:
        costs = joblib_costs(payload, probe_folder, levels=JOBLIB_LEVELS, loads=JOBLIB_LOADS, progress=progress)
    finally:
        shutil.rmtree(probe_folder, ignore_errors=True)
    joblib.dump(payload, where.joblib_path, compress=compress)
    return [
        {
            "compress": c["compress"],
            "bytes": c["bytes"],
            "save_s": c["save_s"],
            "load_s": float(np.median(c["load_times_s"])),
        }
        for c in costs
    ]


def sign(folder: Path, key: Path, where: Destination) -> bytes:
    """Sign the finished staging folder with ``key``; returns the public key's PEM (for :func:`make_current`)."""
    from ._sign import public_key_pem, sign_bundle

    sign_bundle(folder, key, model_name=where.version)
    return public_key_pem(key)


def make_current(folder: Path, where: Destination, *, trusted_key: bytes | None = None) -> Path:
    """Rename the finished staging folder into place, prove it loads and self-tests (and, when it was
    signed, that its signature verifies with ``trusted_key``), then point ``CURRENT`` at it.
    Returns the version folder."""
    os.chmod(folder, 0o755)  # mkdtemp makes it 0700
    os.replace(folder, where.bundle)
    # The finished folder must load and self-test before any device is pointed at it.
    runtime.load(where.bundle, trusted_keys=[trusted_key] if trusted_key is not None else None)
    write_current(where.model_folder, where.version)
    return where.bundle
