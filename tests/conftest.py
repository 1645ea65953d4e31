"""Shared fixtures: bundles are built once per session.

``shipped_bundle`` is a copy of the default bundle committed under models/quality/1.0.0 (no
scikit-learn needed), so the runtime suite runs on a device image. ``demo_bundle`` exports a fresh one (needs the export
extra; skipped cleanly without it).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
AI4I = SHARED / "datasets" / "ai4i2020.csv"
HAS_EXPORT = all(importlib.util.find_spec(name) for name in ("sklearn", "skl2onnx", "onnx", "pandas", "joblib"))


SHIPPED_VERSION = ROOT / "models" / "quality" / "1.0.0"

# No test depends on the machine's trust directory (/etc/factory-edge/trusted-keys): an empty value
# means none. Tests that need one point the variable at their own (subprocesses inherit it).
os.environ["FACTORY_EDGE_TRUSTED_KEYS"] = ""


@pytest.fixture(scope="session")
def shipped_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder holding a copy of the committed bundle ``models/quality/1.0.0``, with ``CURRENT``.

    A copy, because ``python -m export`` adds versions to ``models/quality`` and moves its ``CURRENT``:
    no test may depend on what the main job last wrote.
    """
    if not (SHIPPED_VERSION / "manifest.json").is_file():
        pytest.fail("models/quality/1.0.0 is missing: the default bundle must be committed")
    folder = tmp_path_factory.mktemp("shipped") / "quality"
    shutil.copytree(SHIPPED_VERSION, folder / SHIPPED_VERSION.name)
    (folder / "CURRENT").write_text(SHIPPED_VERSION.name + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def demo_export(tmp_path_factory: pytest.TempPathFactory):
    """A full default export (smaller data so the suite stays fast) into a temporary models folder."""
    if not HAS_EXPORT:
        pytest.skip('needs the "export" extra: pip install ".[export]"')
    from export import ExportConfig, run_export

    output = tmp_path_factory.mktemp("models")
    return run_export(ExportConfig(output=output, demo_rows=6000, measure=False))


@pytest.fixture(scope="session")
def demo_bundle(demo_export) -> Path:
    return demo_export.bundle
