"""``python -m export check``: re-run the parity proof of an existing bundle.

The joblib file written beside the bundle holds the fitted Pipeline and the export's settings, so
the same data can be split the same way and the same hard cases rebuilt; the device side is the
bundle as it is on disk, loaded through :func:`runtime.load` (hash and golden cases included).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import joblib

import runtime

from ._config import ParityReport, config_from_record
from ._data import prepare_data
from ._errors import ExportError
from ._parity import prove_parity

__all__ = ["check_bundle"]


def check_bundle(
    path: Path,
    *,
    joblib_path: Path | None = None,
    data: Path | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> ParityReport:
    """Rebuild the hard cases of ``path``'s export and compare its joblib Pipeline with the bundle."""
    model = runtime.load(path, on_unknown="flag")
    folder = model.path
    joblib_path = joblib_path or folder.parent / f"{model.version}.joblib"
    if not joblib_path.is_file():
        raise ExportError(
            f"{joblib_path} is missing: the joblib twin (the fitted Pipeline) is written beside the bundle on the "
            "machine that exported it and is never shipped (a pickle runs code when loaded; devices never get one), "
            f"so a copied or shipped bundle cannot be re-proven here. {model.name} {model.version} loaded and replayed "
            "its golden cases just now; its export's proof is in parity.json. Export again and check that version, "
            f"or pass --joblib with the Pipeline file of {model.name} {model.version}"
        )
    # The joblib file is this project's own output on the dev machine; devices never load it.
    payload = joblib.load(joblib_path)
    metadata = payload["metadata"]
    if metadata.get("onnx_sha256") != model.manifest.model_file.sha256:
        raise ExportError(
            f"{joblib_path} was exported with another model.onnx than {folder}: they do not belong together"
        )
    config = config_from_record(metadata["export_config"])
    if data is not None:
        config.data = data
    progress(f"rebuilding the training split of {model.name} {model.version}")
    prepared = prepare_data(config, task=metadata["task"])
    if prepared.summary["fingerprint_sha256"] != metadata["data_fingerprint_sha256"]:
        raise ExportError(
            f"the data at {config.data or 'demo'} differs from the data {model.name} {model.version} "
            "was trained on (fingerprint mismatch): pass --data with the original file"
        )
    # with a decision threshold, the twin holds scikit-learn's threshold classifier too: its labels are compared
    classifier = payload.get("classifier")
    return prove_parity(
        payload["pipeline"], model, prepared, seed=config.seed, progress=progress, classifier=classifier
    )
