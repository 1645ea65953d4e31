"""Signed bundles (issue 10, finding 1): with a trusted key configured, only a bundle whose model.sig verifies
and covers every byte of every file loads; without one it loads, saying it is unverified.

Every refusal is one line with exit 3 from ``python -m runtime info``, for the key given as an argument,
through the trust directory (``FACTORY_EDGE_TRUSTED_KEYS``) and with ``--trusted-key``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import runtime
from runtime._cli import main
from tests.conftest import SHIPPED_VERSION
from tests.runtime.damage import bundle_copy
from tests.runtime.signing import (
    NEEDS_CRYPTOGRAPHY,
    KeyPair,
    edit_signature,
    make_key_pair,
    sign,
    statement,
)

pytestmark = NEEDS_CRYPTOGRAPHY
ROOT = Path(__file__).resolve().parents[2]
BUNDLE_FILES = sorted(path.name for path in SHIPPED_VERSION.iterdir() if path.is_file())


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[KeyPair, KeyPair]:
    """The signer devices trust, and another key nobody trusts."""
    folder = tmp_path_factory.mktemp("keys")
    return make_key_pair(folder, "trusted"), make_key_pair(folder, "stranger")


@pytest.fixture
def signed(tmp_path: Path, shipped_bundle: Path, keys: tuple[KeyPair, KeyPair]) -> Path:
    """A private copy of the shipped bundle, signed by the trusted key; returns the version folder."""
    folder = bundle_copy(shipped_bundle / SHIPPED_VERSION.name, tmp_path)
    sign(folder, keys[0])
    return folder


def _refusal(folder: Path, trusted: Path, how: str, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    """The one-line refusal of ``folder`` with ``trusted`` configured ``how``; asserts exit 3 for the CLI."""
    if how == "argument":
        with pytest.raises(runtime.BundleError) as caught:
            runtime.load(folder, trusted_keys=[trusted])
        message = str(caught.value)
        assert "\n" not in message
        return message
    argv = ["info", str(folder)]
    if how == "flag":
        argv += ["--trusted-key", str(trusted)]
    else:
        directory = trusted.parent / "trust-directory"
        directory.mkdir(exist_ok=True)
        (directory / "line3.pem").write_bytes(trusted.read_bytes())
        monkeypatch.setenv("FACTORY_EDGE_TRUSTED_KEYS", str(directory))
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 3, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bundle refused: "), captured.err
    return lines[0].removeprefix("error: bundle refused: ")


HOW = ["argument", "env-directory", "flag"]


# -- a verified load ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", HOW)
def test_a_signed_bundle_loads_verified_by_its_key(signed, keys, how, monkeypatch, capsys):
    trusted = keys[0]
    if how == "argument":
        model = runtime.load(signed.parent, trusted_keys=[trusted.public_pem])
        assert model.signature == runtime.SignatureCheck(True, True, trusted.key_id, repr(str(trusted.public_pem)))
        return
    argv = ["info", str(signed.parent), "--json"]
    if how == "flag":
        argv += ["--trusted-key", str(trusted.public_pem)]
    else:
        directory = signed.parent / "trust"
        directory.mkdir()
        (directory / "line3.pem").write_bytes(trusted.public_pem.read_bytes())
        monkeypatch.setenv("FACTORY_EDGE_TRUSTED_KEYS", str(directory))
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["signature"]["verified"] is True
    assert summary["signature"]["key_id"] == trusted.key_id
    assert summary["signature"]["status"].startswith(f"verified by key {trusted.key_id[:16]}... (")


def test_one_key_may_be_passed_alone(signed, keys):
    assert runtime.load(signed, trusted_keys=str(keys[0].public_pem)).signature.verified  # type: ignore[arg-type]


def test_pem_bytes_are_trusted_like_a_file(signed, keys):
    model = runtime.load(signed, trusted_keys=[keys[1].public_pem.read_bytes(), keys[0].public_pem.read_bytes()])
    assert model.signature.verified and model.signature.key_source == "trusted_keys[1] (PEM bytes)"


def test_info_text_names_the_key(signed, keys, capsys):
    assert main(["info", str(signed), "--trusted-key", str(keys[0].public_pem)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("signature"))
    assert line == f"signature   verified by key {keys[0].key_id[:16]}... ({str(keys[0].public_pem)!r})"


# -- refusals ------------------------------------------------------------------------------------


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_any_changed_byte_of_any_file_is_refused(signed, keys, name, how, monkeypatch, capsys):
    import hashlib

    expected = hashlib.sha256((signed / name).read_bytes()).hexdigest()
    _flip_middle_byte(signed / name)
    actual = hashlib.sha256((signed / name).read_bytes()).hexdigest()
    assert _refusal(signed, keys[0].public_pem, how, monkeypatch, capsys) == (
        f"{str(signed / name)!r} has sha256 {actual}, the signature expects {expected}: "
        "the file was changed after signing; copy the bundle again"
    )


def _add_file(folder: Path) -> None:
    (folder / "notes.txt").write_text("added later\n")


def _add_nested_file(folder: Path) -> None:
    (folder / "extra").mkdir()
    (folder / "extra" / "run.sh").write_text("#!/bin/sh\n")


def _remove_signature(folder: Path) -> None:
    (folder / "model.sig").unlink()


def _sign_with_stranger(keys: tuple[KeyPair, KeyPair]) -> Callable[[Path], None]:
    return lambda folder: sign(folder, keys[1])


def _truncate(folder: Path) -> None:
    path = folder / "model.sig"
    path.write_bytes(path.read_bytes()[:100])


def _garbage(folder: Path) -> None:
    (folder / "model.sig").write_bytes(b"\x00\xffnot a signature")


def _flip_signature(folder: Path) -> None:
    def change(data):
        signature = data["dsseEnvelope"]["signatures"][0]
        signature["sig"] = ("A" if signature["sig"][10] != "A" else "B").join(
            [signature["sig"][:10], signature["sig"][11:]]
        )

    edit_signature(folder, change)


def _forge_payload(folder: Path) -> None:
    """Swap in a statement listing the changed file's new digest, keeping the old signature."""
    import base64

    (folder / "model_card.md").write_text("all good\n")
    forged = base64.b64encode(json.dumps(statement(folder)).encode()).decode()
    edit_signature(folder, lambda data: data["dsseEnvelope"].update(payload=forged))


def _remove_a_file(folder: Path) -> None:
    (folder / "report.html").unlink()


def _link_a_file(folder: Path) -> None:
    (folder / "report.html").unlink()
    (folder / "report.html").symlink_to(folder / "model_card.md")


def _cases(keys: tuple[KeyPair, KeyPair]):
    stranger = keys[1].key_id[:16]
    trusted = keys[0].key_id[:16]
    sig = "{folder}/model.sig"
    return [
        (
            "uncovered-file",
            _add_file,
            "'{folder}' holds ['notes.txt'], not covered by its model.sig: files were added after signing; "
            "remove them or sign the bundle again",
        ),
        (
            "uncovered-nested-file",
            _add_nested_file,
            "'{folder}' holds ['extra/run.sh'], not covered by its model.sig: files were added after signing; "
            "remove them or sign the bundle again",
        ),
        (
            "unsigned",
            _remove_signature,
            "'{folder}' has no model.sig, but 1 trusted key configured: only signed bundles load here; "
            "sign it with python -m export sign",
        ),
        (
            "another-key",
            _sign_with_stranger(keys),
            f"'{sig}' was made by key {stranger}..., which is not trusted here (1 trusted key configured); "
            "trust its public key (--trusted-key or the trust directory) or sign with a trusted key",
        ),
        (
            "truncated",
            _truncate,
            f"'{sig}' is not a model signature: it is not valid JSON: {{truncated_error}}",
        ),
        (
            "garbage",
            _garbage,
            f"'{sig}' is not a model signature: it is not UTF-8 (byte 1)",
        ),
        (
            "bad-signature",
            _flip_signature,
            f"'{sig}' does not verify with trusted key {trusted}...: the signature or what it signs was altered",
        ),
        (
            "forged-statement",
            _forge_payload,
            f"'{sig}' does not verify with trusted key {trusted}...: the signature or what it signs was altered",
        ),
        (
            "signed-file-removed",
            _remove_a_file,
            "'{folder}' lacks ['report.html'], signed in its model.sig: copy the bundle again",
        ),
        (
            "symbolic-link",
            _link_a_file,
            "'{folder}/report.html' is a symbolic link; a signed bundle holds regular files only",
        ),
    ]


CASE_IDS = [
    "uncovered-file",
    "uncovered-nested-file",
    "unsigned",
    "another-key",
    "truncated",
    "garbage",
    "bad-signature",
    "forged-statement",
    "signed-file-removed",
    "symbolic-link",
]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("case", CASE_IDS)
def test_each_kind_of_bad_signature_is_refused_in_one_line(signed, keys, case, how, monkeypatch, capsys):
    [(_, damage, template)] = [row for row in _cases(keys) if row[0] == case]
    damage(signed)
    truncated_error = ""
    if case == "truncated":
        try:
            json.loads((signed / "model.sig").read_text())
        except json.JSONDecodeError as error:
            truncated_error = str(error)
    expected = template.format(folder=signed, truncated_error=truncated_error)
    assert _refusal(signed, keys[0].public_pem, how, monkeypatch, capsys) == expected


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            lambda d: d.update(mediaType="application/json"),
            "mediaType is 'application/json', expected 'application/vnd.dev.sigstore.bundle.v0.3+json'",
        ),
        (
            lambda d: d["dsseEnvelope"].update(payloadType="text/plain"),
            "dsseEnvelope.payloadType is 'text/plain', expected 'application/vnd.in-toto+json'",
        ),
        (
            lambda d: d["dsseEnvelope"]["signatures"].append({"sig": ""}),
            "dsseEnvelope.signatures must hold exactly one signature",
        ),
        (
            lambda d: d["verificationMaterial"].update(tlogEntries=[{}]),
            "verificationMaterial.tlogEntries is not empty; only offline key signatures are accepted",
        ),
        (lambda d: d.update(extra=1), "the bundle has unknown keys ['extra']"),
        (lambda d: d["dsseEnvelope"].update(payload="@@@"), "dsseEnvelope.payload is not base64"),
    ],
    ids=["media-type", "payload-type", "two-signatures", "tlog-entries", "unknown-key", "payload-not-base64"],
)
def test_a_malformed_sigstore_bundle_names_the_field(signed, keys, change, detail):
    edit_signature(signed, change)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(signed, trusted_keys=[keys[0].public_pem])
    assert str(caught.value) == f"{str(signed / 'model.sig')!r} is not a model signature: {detail}"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (
            lambda s: s.update(predicateType="https://model_signing/Digests/v0.1"),
            "predicateType is 'https://model_signing/Digests/v0.1', expected 'https://model_signing/signature/v1.0'",
        ),
        (
            lambda s: s["predicate"]["serialization"].update(method="shards", shard_size=1),
            "predicate.serialization has unknown keys ['shard_size']",
        ),
        (
            lambda s: s["subject"][0]["digest"].update(sha256="0" * 64),
            "subject[0].digest.sha256 is not the sha256 of the resources' digests",
        ),
        (
            lambda s: s["predicate"]["resources"].append(dict(s["predicate"]["resources"][0])),
            "predicate.resources[10].name 'deployment_checklist.md' is listed twice",
        ),
    ],
    ids=["v0.2-predicate", "shards", "root-digest", "duplicate-resource"],
)
def test_a_signed_but_unusable_statement_is_refused(signed, keys, change, detail):
    payload = statement(signed)
    change(payload)
    sign(signed, keys[0], payload)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(signed, trusted_keys=[keys[0].public_pem])
    assert str(caught.value) == f"{str(signed / 'model.sig')!r} is not a model signature: {detail}"


def test_a_trusted_key_that_is_not_a_public_key_is_refused(signed, keys, tmp_path):
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(signed, trusted_keys=[keys[0].private_pem])
    assert str(caught.value) == (
        f"trusted key {str(keys[0].private_pem)!r} is not a PEM public key; "
        "pass the public half (python -m export keygen writes it)"
    )
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(signed, trusted_keys=[tmp_path / "absent.pem"])
    assert str(caught.value) == f"trusted key {str(tmp_path / 'absent.pem')!r} does not exist"


def test_a_trust_directory_that_does_not_exist_is_refused(signed, tmp_path, monkeypatch):
    monkeypatch.setenv("FACTORY_EDGE_TRUSTED_KEYS", str(tmp_path / "nowhere"))
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(signed)
    assert (
        str(caught.value) == f"FACTORY_EDGE_TRUSTED_KEYS names {str(tmp_path / 'nowhere')!r}, which is not a directory"
    )


def test_without_cryptography_a_trusted_key_names_the_extra(signed, keys, monkeypatch):
    for name in [m for m in sys.modules if m == "cryptography" or m.startswith("cryptography.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.load(signed, trusted_keys=[keys[0].public_pem])
    assert str(caught.value) == (
        'a trusted key is configured, but verifying signed bundles needs the "verify" extra: pip install ".[verify]"'
    )


def test_a_refused_bundle_never_reaches_onnxruntime(signed, keys, monkeypatch):
    import onnxruntime

    def refuse(*args, **kwargs):
        raise AssertionError("onnxruntime saw the bundle")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    _flip_middle_byte(signed / "parity.json")  # a document: checked before the session opens
    with pytest.raises(runtime.BundleError, match="the file was changed after signing"):
        runtime.load(signed, trusted_keys=[keys[0].public_pem])


def test_the_real_command_line_refuses_with_exit_3(signed, keys):
    _add_file(signed)
    result = subprocess.run(
        [sys.executable, "-m", "runtime", "info", str(signed), "--trusted-key", str(keys[0].public_pem)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "FACTORY_EDGE_TRUSTED_KEYS": ""},
    )
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"error: bundle refused: '{signed}' holds ['notes.txt'], not covered by its model.sig: "
        "files were added after signing; remove them or sign the bundle again"
    ]


# -- no trusted key --------------------------------------------------------------------------------


def test_without_a_trusted_key_a_bundle_loads_and_says_it_is_unverified(signed, capsys):
    assert runtime.load(signed).signature == runtime.SignatureCheck(verified=False, signed=True)
    (signed / "model.sig").write_text("garbage")  # not even read: nothing is trusted
    assert main(["info", str(signed)]) == 0
    out = capsys.readouterr().out
    assert "signature   unverified: no trusted key is configured (model.sig present but not checked)\n" in out
    (signed / "model.sig").unlink()
    assert main(["info", str(signed), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["signature"] == {
        "verified": False,
        "signed": False,
        "key_id": None,
        "key_source": None,
        "status": "unverified: no trusted key is configured (no model.sig)",
    }
