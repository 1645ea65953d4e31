"""Fixtures of the export suite: a tiny export, built once, that every stage can be tested against fast.

``tiny_export`` trains 8 depth-4 trees on 400 demo rows (about 2 s), so ``-m "not slow"`` still runs
every stage for real; the demo-sized ``demo_export`` of tests/conftest.py is for the slow tests.
Everything is written below pytest's temporary folders, never into models/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import HAS_EXPORT, ROOT

# every file a bundle holds; the joblib twin is beside it, never in it
BUNDLE_FILES = {
    "model.onnx",
    "device.onnx",
    "manifest.json",
    "input_schema.json",
    "example_input.json",
    "example_output.json",
    "requirements-device.txt",
    "parity.json",
    "model_card.md",
    "report.html",
    "deployment_checklist.md",
}
TINY: dict[str, Any] = {"demo_rows": 400, "measure": False, "params": {"n_estimators": 8, "max_depth": 4}}
TINY_ARGS = ["--demo-rows", "400", "--no-measure", "--param", "n_estimators=8", "max_depth=4"]


def _models_folder_state() -> list[tuple[str, str]]:
    models = ROOT / "models"
    return sorted(
        (str(path.relative_to(models)), path.read_text(encoding="utf-8") if path.name == "CURRENT" else "")
        for path in models.rglob("*")
    )


@pytest.fixture(scope="session", autouse=True)
def models_folder_untouched() -> Any:
    """The export suite writes below temporary folders only: models/ (committed bundles, CURRENT) is
    the same after the session as before it, or the session fails."""
    before = _models_folder_state()
    yield
    assert _models_folder_state() == before, "a test wrote into models/: give it --output / output=tmp_path"


def _needs_export() -> None:
    if not HAS_EXPORT:
        pytest.skip('needs the "export" extra: pip install ".[export]"')


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An ExportResult of the tiny demo export, in a session-wide temporary models folder."""
    _needs_export()
    from export import ExportConfig, run_export

    return run_export(ExportConfig(output=tmp_path_factory.mktemp("tiny-models"), **TINY))


@pytest.fixture(scope="session")
def tiny_data() -> Any:
    """The tiny export's PreparedData (the same 400 demo rows, split the same way)."""
    _needs_export()
    from export._config import ExportConfig
    from export._data import prepare_data

    return prepare_data(ExportConfig(demo_rows=TINY["demo_rows"]))


@pytest.fixture()
def tiny_copy(tiny_export: Any, tmp_path: Path) -> Path:
    """A private copy of the tiny export's model folder (bundle, joblib twin, CURRENT): a test may damage it."""
    folder = tmp_path / "quality"
    shutil.copytree(tiny_export.bundle.parent, folder)
    return folder
