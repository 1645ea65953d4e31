"""Shared fixtures: bundles are built once per session.

``shipped_bundle`` is the default bundle committed under models/quality (no scikit-learn needed),
so the runtime suite runs on a device image. ``demo_bundle`` exports a fresh one (needs the export
extra; skipped cleanly without it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
AI4I = SHARED / "datasets" / "ai4i2020.csv"
HAS_EXPORT = all(importlib.util.find_spec(name) for name in ("sklearn", "skl2onnx", "onnx", "pandas", "joblib"))


@pytest.fixture(scope="session")
def shipped_bundle() -> Path:
    path = ROOT / "models" / "quality"
    if not (path / "CURRENT").is_file():
        pytest.fail("models/quality has no CURRENT file: the default bundle must be committed")
    return path


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
