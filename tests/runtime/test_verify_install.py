"""Must show (issue 10): on a device, ``pip install ".[verify]"`` after ``pip install .`` adds only
``cryptography`` and what it needs (cffi, pycparser), and signed bundles then verify there.

Slow: builds a virtual environment and installs numpy, onnxruntime and cryptography. Skipped only when
the package registry cannot be reached, and then it says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.devices import device_venv
from tests.runtime.signing import NEEDS_CRYPTOGRAPHY, make_key_pair, sign
from tests.runtime.test_device_install import _environment

pytestmark = [pytest.mark.slow, NEEDS_CRYPTOGRAPHY]
VERIFY_DEPENDENCIES = {"cryptography", "cffi", "pycparser"}


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        lowered = result.stderr.lower()
        if "connection" in lowered or "temporary failure in name resolution" in lowered:
            pytest.skip(f"package registry unreachable: {result.stderr.strip().splitlines()[-1]}")
        raise AssertionError(result.stderr)
    return result


def _installed(python: Path) -> set[str]:
    listing = _pip(python, "list", "--format", "json")
    return {package["name"].lower() for package in json.loads(listing.stdout)}


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], set[str]]:
    """A fresh venv with ``pip install .`` then ``pip install ".[verify]"``: (python, before, after)."""
    python, source = device_venv(sys.executable, tmp_path_factory.mktemp("verify-device"))
    before = _installed(python)
    _pip(python, "install", "-q", f"{source}[verify]")
    return python, before, _installed(python)


def test_the_verify_extra_adds_only_cryptography_and_its_needs(device):
    _, before, after = device
    added = after - before
    assert "cryptography" in added
    assert added <= VERIFY_DEPENDENCIES, sorted(added - VERIFY_DEPENDENCIES)
    assert "cryptography" not in before  # the plain device install does not carry it


def test_a_signed_bundle_verifies_on_the_device(device, shipped_bundle, tmp_path):
    python, _, _ = device
    bundle = tmp_path / "quality" / "1.0.0"
    shutil.copytree(shipped_bundle / "1.0.0", bundle)
    pair = make_key_pair(tmp_path / "keys")
    sign(bundle, pair)
    info = subprocess.run(
        [str(python), "-m", "runtime", "info", str(bundle), "--trusted-key", str(pair.public_pem)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_environment(),
    )
    assert info.returncode == 0, info.stderr
    assert f"signature   verified by key {pair.key_id[:16]}..." in info.stdout
    (bundle / "model_card.md").write_text("changed\n")
    refused = subprocess.run(
        [str(python), "-m", "runtime", "info", str(bundle), "--trusted-key", str(pair.public_pem)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_environment(),
    )
    assert refused.returncode == 3
    assert len(refused.stderr.strip().splitlines()) == 1
