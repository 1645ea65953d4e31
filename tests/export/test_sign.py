"""Signing at export and later (issue 10): ``--sign-key``, ``export sign`` and ``export keygen``; the bundles
verify with the runtime and with the reference tool (``model_signing verify key``, model-signing 1.1)."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import runtime
from runtime._contract import ExitCode
from tests.conftest import HAS_EXPORT, SHIPPED_VERSION
from tests.runtime.signing import HAS_CRYPTOGRAPHY, HAS_MODEL_SIGNING, NEEDS_MODEL_SIGNING

pytestmark = pytest.mark.skipif(not HAS_CRYPTOGRAPHY, reason='signing needs cryptography: pip install ".[verify]"')

import export._cli as cli  # noqa: E402


def reference_verify(bundle: Path, public_key: Path) -> subprocess.CompletedProcess[str]:
    """The reference verifier, exactly as its documentation runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "model_signing",
            "verify",
            "key",
            str(bundle),
            "--signature",
            str(bundle / "model.sig"),
            "--public_key",
            str(public_key),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys") / "keys"
    assert cli.main(["keygen", str(folder)]) == ExitCode.OK
    return folder / "signing-key.pem", folder / "signing-key.pub.pem"


def test_keygen_writes_a_p256_pair_with_a_private_key_only_the_owner_reads(key_pair, capsys):
    from cryptography.hazmat.primitives import serialization

    private, public = key_pair
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert key.curve.name == "secp256r1"  # type: ignore[union-attr]
    assert serialization.load_pem_public_key(public.read_bytes()) == key.public_key()
    assert cli.main(["keygen", str(private.parent)]) == ExitCode.USAGE
    assert (
        capsys.readouterr().err.strip() == f"error: {private} exists: keys are never overwritten; pick another folder"
    )


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    target = tmp_path / "quality" / SHIPPED_VERSION.name
    shutil.copytree(SHIPPED_VERSION, target)
    (target.parent / "CURRENT").write_text(SHIPPED_VERSION.name + "\n")
    return target


def test_export_sign_signs_an_existing_bundle_in_the_model_signing_format(bundle, key_pair, capsys):
    private, public = key_pair
    assert cli.main(["sign", str(bundle.parent), "--key", str(private)]) == ExitCode.OK
    assert capsys.readouterr().out.startswith(f"signed {bundle / 'model.sig'} (verified by key ")
    model = runtime.load(bundle, trusted_keys=[public])
    assert model.signature.verified
    signature = json.loads((bundle / "model.sig").read_text())
    assert signature["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert signature["dsseEnvelope"]["payloadType"] == "application/vnd.in-toto+json"
    payload = json.loads(base64.b64decode(signature["dsseEnvelope"]["payload"]))
    assert payload["_type"] == "https://in-toto.io/Statement/v1"
    assert payload["predicateType"] == "https://model_signing/signature/v1.0"
    assert [resource["name"] for resource in payload["predicate"]["resources"]] == sorted(
        path.name for path in SHIPPED_VERSION.iterdir()
    )
    assert payload["predicate"]["serialization"] == {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
        "ignore_paths": ["model.sig"],
    }


def test_export_sign_refuses_a_key_that_is_not_p256_private(bundle, key_pair, capsys):
    _, public = key_pair
    assert cli.main(["sign", str(bundle), "--key", str(public)]) == ExitCode.USAGE
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: signing key {str(public)!r} is not an unencrypted PEM private key: ")
    assert not (bundle / "model.sig").exists()


@NEEDS_MODEL_SIGNING
def test_the_reference_tool_verifies_what_export_sign_wrote(bundle, key_pair):
    private, public = key_pair
    assert cli.main(["sign", str(bundle), "--key", str(private)]) == ExitCode.OK
    result = reference_verify(bundle, public)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Verification succeeded"
    (bundle / "model_card.md").write_text("changed\n")
    assert reference_verify(bundle, public).returncode == 1  # and it sees the change, as the runtime does


@pytest.mark.skipif(not HAS_EXPORT, reason='needs the "export" extra: pip install ".[export]"')
def test_an_export_with_sign_key_is_signed_before_it_is_made_current(tmp_path, key_pair, capsys):
    from tests.export.conftest import TINY_ARGS

    private, public = key_pair
    code = cli.main([*TINY_ARGS, "--output", str(tmp_path), "--sign-key", str(private)])
    assert code == ExitCode.OK, capsys.readouterr().err
    bundle = tmp_path / "quality" / "1.0.0"
    assert (tmp_path / "quality" / "CURRENT").read_text().strip() == "1.0.0"
    model = runtime.load(tmp_path / "quality", trusted_keys=[public])
    assert model.signature.verified
    payload = json.loads(base64.b64decode(json.loads((bundle / "model.sig").read_text())["dsseEnvelope"]["payload"]))
    assert payload["subject"][0]["name"] == "1.0.0"
    names = [resource["name"] for resource in payload["predicate"]["resources"]]
    assert names == sorted(path.name for path in bundle.iterdir() if path.name != "model.sig")
    if HAS_MODEL_SIGNING:
        result = reference_verify(bundle, public)
        assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not HAS_EXPORT, reason='needs the "export" extra: pip install ".[export]"')
def test_a_missing_sign_key_fails_before_training(tmp_path, capsys):
    code = cli.main(["--output", str(tmp_path), "--sign-key", str(tmp_path / "absent.pem"), "--no-measure"])
    assert code == ExitCode.USAGE
    assert capsys.readouterr().err.strip() == (
        f"error: signing key {str(tmp_path / 'absent.pem')!r} does not exist; make one with python -m export keygen"
    )
    assert not (tmp_path / "quality").exists()  # nothing was trained or written
