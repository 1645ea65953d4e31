"""Signing a bundle on the dev machine: ``model.sig`` in the OpenSSF model-signing format, and key pairs.

The format (model-signing 1.1, the same file ``model_signing sign key`` writes; constants in
:mod:`runtime._contract`): a Sigstore bundle v0.3 JSON, ``verificationMaterial.publicKey.hint`` the
sha256 of the public key's PEM, and a DSSE envelope over an in-toto Statement v1 whose predicate
(``https://model_signing/signature/v1.0``) lists every file of the folder but ``model.sig`` with its
sha256, and whose one subject is the folder's name with a sha256 over those digests in order. The
signature is ECDSA with SHA-256 over the DSSE pre-authentication encoding.

Signing uses ``cryptography`` only (a dependency of the export's libraries on this machine, and the
runtime's ``verify`` extra); the device verifies with :func:`runtime.load` and trusted public keys.

>>> from export._sign import keygen, sign_bundle  # doctest: +SKIP
>>> private, public = keygen(Path("keys"))  # doctest: +SKIP
>>> sign_bundle(Path("models/quality/1.0.0"), private)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from runtime._contract import (
    SIGNATURE_BUNDLE_MEDIA_TYPE,
    SIGNATURE_FILE,
    SIGNATURE_PAYLOAD_TYPE,
    SIGNATURE_PREDICATE_TYPE,
    SIGNATURE_STATEMENT_TYPE,
    bundle_file_digests,
    dsse_pae,
)

from ._errors import ExportError

__all__ = [
    "PRIVATE_KEY_FILE",
    "PUBLIC_KEY_FILE",
    "keygen",
    "public_key_pem",
    "public_pem",
    "sign_bundle",
    "signing_statement",
]

PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"
CRYPTOGRAPHY_MESSAGE = 'signing needs the "cryptography" package: pip install ".[verify]"'


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise ExportError(CRYPTOGRAPHY_MESSAGE) from None
    return serialization


def keygen(folder: Path) -> tuple[Path, Path]:
    """Write a new EC P-256 key pair into ``folder``: the private key (mode 0600) and its public half.

    Existing files are never overwritten. Returns (private key path, public key path).
    """
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    private_path, public_path = folder / PRIVATE_KEY_FILE, folder / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise ExportError(f"{path} exists: keys are never overwritten; pick another folder")
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # created 0600 from the start: the key is never readable by others, not even for a moment
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem(key))
    return private_path, public_path


def _private_key(path: Path) -> Any:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ExportError(f"signing key {str(path)!r} does not exist; make one with python -m export keygen") from None
    except (ValueError, TypeError) as error:
        raise ExportError(f"signing key {str(path)!r} is not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ExportError(
            f"signing key {str(path)!r} is not an EC P-256 private key; make one with python -m export keygen"
        )
    return key


def public_key_pem(key_path: Path) -> bytes:
    """The public half, as PEM, of the private key at ``key_path``."""
    return public_pem(_private_key(key_path))


def public_pem(private_key: Any) -> bytes:
    """The PEM SubjectPublicKeyInfo of ``private_key``'s public half (what devices trust)."""
    serialization = _crypto()
    pem: bytes = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def signing_statement(model_name: str, digests: dict[str, str]) -> dict[str, Any]:
    """The in-toto statement model-signing signs for files ``{name: sha256 hex}`` (in that order)."""
    over_digests = hashlib.sha256(b"".join(bytes.fromhex(digest) for digest in digests.values()))
    return {
        "_type": SIGNATURE_STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": over_digests.hexdigest()}}],
        "predicateType": SIGNATURE_PREDICATE_TYPE,
        "predicate": {
            "resources": [{"name": name, "algorithm": "sha256", "digest": digest} for name, digest in digests.items()],
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": [SIGNATURE_FILE],
            },
        },
    }


def sign_bundle(folder: Path, key_path: Path, *, model_name: str | None = None) -> Path:
    """Sign every file of the version folder ``folder`` with the private key at ``key_path``.

    ``model_name`` is the statement's subject name, informative only (default: the folder's name).

    Writes ``folder/model.sig`` (replacing an older one atomically) and returns its path. Call it
    after the last file is written: a file added later is refused by a device that trusts the key.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _private_key(key_path)
    if not (folder / "manifest.json").is_file():
        raise ExportError(f"{str(folder)!r} is not a bundle (no manifest.json); pass a version folder")
    statement = signing_statement(model_name or folder.resolve().name, bundle_file_digests(folder))
    payload = json.dumps(statement, indent=2).encode("utf-8")
    signature = key.sign(dsse_pae(payload), ec.ECDSA(hashes.SHA256()))
    bundle = {
        "mediaType": SIGNATURE_BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "publicKey": {"hint": hashlib.sha256(public_pem(key)).hexdigest()},
            "tlogEntries": [],
        },
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": SIGNATURE_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
        },
    }
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".model.sig-", delete=False, encoding="utf-8") as handle:
        handle.write(json.dumps(bundle))
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, folder / SIGNATURE_FILE)
    return folder / SIGNATURE_FILE
