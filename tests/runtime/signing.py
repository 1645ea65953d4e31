"""Signing bundles in the runtime's tests, which may not import the export side: a second, independent
writer of the model-signing format (the export's own is tested in tests/export/test_sign.py), key pairs,
and ways to damage a signature.

Needs ``cryptography`` (the "verify" extra); callers skip with :data:`NEEDS_CRYPTOGRAPHY` without it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime._contract import SIGNATURE_FILE, bundle_file_digests, dsse_pae

HAS_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None
# model-signing 1.1.1 imports OpenSSL (its certificate signer, loaded by its CLI and API) without
# declaring pyOpenSSL, which sigstore 4 no longer pulls in: without it the reference tool cannot start.
_REFERENCE_MISSING = (
    'the reference tool is a dev dependency: pip install ".[dev]" (model-signing)'
    if importlib.util.find_spec("model_signing") is None
    else "model-signing 1.1.1 imports OpenSSL but does not declare it: pip install pyopenssl"
    if importlib.util.find_spec("OpenSSL") is None
    else None
)
HAS_MODEL_SIGNING = _REFERENCE_MISSING is None
NEEDS_CRYPTOGRAPHY = pytest.mark.skipif(
    not HAS_CRYPTOGRAPHY, reason='verifying signatures needs the "verify" extra: pip install ".[verify]"'
)
NEEDS_MODEL_SIGNING = pytest.mark.skipif(not HAS_MODEL_SIGNING, reason=str(_REFERENCE_MISSING))


@dataclass(frozen=True)
class KeyPair:
    private_pem: Path
    public_pem: Path
    key: Any

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_pem.read_bytes()).hexdigest()


def make_key_pair(folder: Path, name: str = "signer") -> KeyPair:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem, public_pem = folder / f"{name}.key", folder / f"{name}.pem"
    private_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_pem.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return KeyPair(private_pem, public_pem, key)


def statement(folder: Path) -> dict[str, Any]:
    digests = bundle_file_digests(folder)
    root = hashlib.sha256(b"".join(bytes.fromhex(d) for d in digests.values())).hexdigest()
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": folder.name, "digest": {"sha256": root}}],
        "predicateType": "https://model_signing/signature/v1.0",
        "predicate": {
            "resources": [{"name": n, "algorithm": "sha256", "digest": d} for n, d in digests.items()],
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
        },
    }


def sign(folder: Path, pair: KeyPair, payload: dict[str, Any] | None = None) -> Path:
    """Write ``folder/model.sig`` over ``payload`` (default: the folder's own statement)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    raw = json.dumps(payload if payload is not None else statement(folder)).encode()
    signature = pair.key.sign(dsse_pae(raw), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": pair.key_id}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(raw).decode(),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": base64.b64encode(signature).decode(), "keyid": ""}],
        },
    }
    path = folder / SIGNATURE_FILE
    path.write_text(json.dumps(envelope))
    return path


def edit_signature(folder: Path, change: Any) -> None:
    """Apply ``change`` to the parsed model.sig and write it back (its signature is not renewed)."""
    path = folder / SIGNATURE_FILE
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
