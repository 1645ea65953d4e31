"""Fixtures of the command-line tests: the committed bundle (a temporary copy), loaded once, and rows for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runtime
from tests.runtime.cli.rows import valid_records


@pytest.fixture(scope="session")
def bundle(shipped_bundle: Path) -> Path:
    """The model folder (with CURRENT) of the copied shipped bundle."""
    return shipped_bundle


@pytest.fixture(scope="session")
def model(bundle: Path) -> runtime.Model:
    return runtime.load(bundle)


@pytest.fixture(scope="session")
def rows(model: runtime.Model) -> list[dict[str, Any]]:
    """60 valid records, some values missing."""
    return valid_records(model, 60)
