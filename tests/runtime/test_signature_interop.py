"""Interop with the reference implementation (model-signing 1.1, a dev dependency): a signature made by
``model_signing sign key`` verifies in the runtime, which holds it to the same policy as its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import runtime
from tests.conftest import SHIPPED_VERSION
from tests.runtime.damage import bundle_copy
from tests.runtime.signing import NEEDS_CRYPTOGRAPHY, NEEDS_MODEL_SIGNING, make_key_pair

pytestmark = [NEEDS_CRYPTOGRAPHY, NEEDS_MODEL_SIGNING]


def reference_sign(bundle: Path, private_key: Path) -> None:
    """``model_signing sign key`` exactly as its documentation runs it, writing ``bundle/model.sig``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_signing",
            "sign",
            "key",
            str(bundle),
            "--signature",
            str(bundle / "model.sig"),
            "--private_key",
            str(private_key),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Signing succeeded"


@pytest.fixture(scope="module")
def reference_signed(tmp_path_factory: pytest.TempPathFactory, shipped_bundle: Path):
    folder = tmp_path_factory.mktemp("reference")
    pair = make_key_pair(folder / "keys")
    bundle = bundle_copy(shipped_bundle / SHIPPED_VERSION.name, folder / "models")
    reference_sign(bundle, pair.private_pem)
    return bundle, pair


def test_a_reference_signature_verifies_in_the_runtime(reference_signed):
    bundle, pair = reference_signed
    model = runtime.load(bundle.parent, trusted_keys=[pair.public_pem])
    assert model.signature == runtime.SignatureCheck(True, True, pair.key_id, repr(str(pair.public_pem)))


def test_a_file_changed_after_reference_signing_is_refused(reference_signed, tmp_path):
    bundle, pair = reference_signed
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(bundle, copy)
    (copy / "example_input.json").write_text("{}\n")
    with pytest.raises(
        runtime.BundleError, match=r"example_input.json' has sha256 .* the file was changed after signing"
    ):
        runtime.load(copy, trusted_keys=[pair.public_pem])
