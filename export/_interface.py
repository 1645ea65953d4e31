"""The model's name, its next version, and the interface guard: what a client of a model name may rely on.

A model name is a promise to its clients (a server hot-swaps to whatever ``CURRENT`` names): the
same task, target, classes and input columns. An export into an existing name is compared with the
version ``CURRENT`` names, before anything is trained:

- the **interface** differs (:meth:`runtime.Manifest.interface_changes`: task, target, classes,
  input columns added, removed or of another kind, categories no longer accepted): refused with
  :class:`InterfaceChangedError` (exit code 13) saying what differs, unless ``--major`` (or a new
  ``--name``, or an explicit ``--version`` above the current major). With ``--major`` the export is
  the next **major** version, ``(M+1).0.0``;
- the interface holds, but the inputs accepted differ (categories added, valid ranges or missing
  values allowed changed): the next **minor** version, ``M.(m+1).0``;
- the same interface and the same accepted inputs (a retrain): the next **patch**, ``M.m.(p+1)``.

Versions count up from the highest version in the model folder, whichever ``CURRENT`` names, so a
version is never reused. The default name (:func:`default_name`) is the data file's name and the
target, so another target of the same file is another model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

import runtime
from runtime._contract import MANIFEST_FILE, MODEL_FILE, is_semver, read_current, semver_key

from ._config import ExportConfig, PreparedData
from ._errors import ExportError, InterfaceChangedError

__all__ = [
    "Bump",
    "bump_of",
    "check_interface",
    "current_manifest",
    "default_name",
    "interface_draft",
    "interface_of",
    "next_version",
]

Bump = Literal["major", "minor", "patch"]
_NAME_LENGTH = 128
_NO_HASH = "0" * 64


def default_name(config: ExportConfig) -> str:
    """``quality`` for the demo, else ``<file stem>-<target>`` as a slug.

    >>> default_name(ExportConfig(data=Path("ai4i2020.csv"), target="Machine failure"))
    'ai4i2020-machine-failure'
    >>> default_name(ExportConfig(data=Path("Line 3 (A).csv"), target="Torque [Nm]"))
    'line-3-a-torque-nm'
    """
    if config.data is None:
        return "quality"
    slug = re.sub(r"[^a-z0-9]+", "-", f"{Path(str(config.data)).stem}-{config.target or ''}".lower()).strip("-")
    return slug[:_NAME_LENGTH].rstrip("-") or "model"


def current_manifest(model_folder: Path) -> runtime.Manifest | None:
    """The manifest of the version ``CURRENT`` names, or None for a model folder without one."""
    path = model_folder / "CURRENT"
    try:
        version = read_current(model_folder) if model_folder.is_dir() else None
        if version is None:
            return None
        path = model_folder / version / MANIFEST_FILE
        return runtime.Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:  # BundleError, JSON and decoding errors are ValueErrors
        raise ExportError(
            f"cannot compare with the current version: {path} is unreadable ({error}); repair {model_folder}/CURRENT "
            "or export under a new --name"
        ) from None


def interface_draft(
    task: str, target: str, classes: Sequence[Any] | None, inputs: tuple[runtime.ColumnSpec, ...]
) -> runtime.Manifest:
    """A manifest holding only the interface of the model about to be trained, for :func:`check_interface`."""
    regression = task == "regression"
    outputs = runtime.OutputSpec(value="value") if regression else runtime.OutputSpec(probabilities="probabilities")
    return runtime.Manifest(
        name="draft",
        version="0.0.0",
        created_at="",
        task=cast(Any, task),
        inputs=inputs,
        outputs=outputs,
        model_file=runtime.FileSpec(MODEL_FILE, _NO_HASH, 0),
        classes=tuple(classes) if classes is not None else None,
        target=target,
    )


def interface_of(data: PreparedData, columns: tuple[runtime.ColumnSpec, ...]) -> runtime.Manifest:
    """The interface the export of ``data`` will have: its task, target, classes and columns.

    The classes are the training split's, in the order a scikit-learn classifier's ``classes_`` has them.
    """
    classes = None
    if data.task != "regression":
        classes = [c.item() if isinstance(c, np.generic) else c for c in np.unique(data.y_train)]
    return interface_draft(data.task, data.spec.target, classes, columns)


def bump_of(current: runtime.Manifest | None, draft: runtime.Manifest | None, *, major: bool) -> Bump:
    """Which part of the version this export raises (see the module docstring)."""
    if major:
        return "major"
    if current is None or draft is None:
        return "patch"
    if current.interface_changes(draft):
        return "major"
    accepted = {column.name: column for column in current.inputs}
    return "patch" if all(accepted.get(column.name) == column for column in draft.inputs) else "minor"


def next_version(model_folder: Path, bump: Bump = "patch") -> str:
    """1.0.0 for a new model, else the highest existing version with ``bump`` raised.

    >>> next_version(Path("/nonexistent"), "major")
    '1.0.0'
    """
    existing = (
        [p.name for p in model_folder.iterdir() if p.is_dir() and is_semver(p.name)] if model_folder.is_dir() else []
    )
    if not existing:
        return "1.0.0"
    major, minor, patch, _, _ = semver_key(max(existing, key=semver_key))
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def check_interface(
    current: runtime.Manifest | None,
    draft: runtime.Manifest | None,
    *,
    major: bool,
    version: str | None,
    model_folder: Path,
) -> None:
    """Refuse an export whose interface differs from the current version's, unless it is asked to be
    a new major version: ``--major``, or an explicit ``--version`` above the current major."""
    if current is None or draft is None or major:
        return
    changes = current.interface_changes(draft)
    if not changes or (version is not None and semver_key(version)[0] > semver_key(current.version)[0]):
        return
    following = next_version(model_folder, "major")
    raise InterfaceChangedError(
        f"model {current.name!r} {current.version} (the version {model_folder / 'CURRENT'} names) has another "
        f"interface: {'; '.join(changes)}. Its clients would break; nothing was trained. Pass --major to export "
        f"{following} (a new major version announces the break: servers reload it, and refuse an interface change "
        "within a major version), or a new --name",
        changes,
    )
