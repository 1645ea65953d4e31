"""Signed bundles, verified offline: ``model.sig`` in the OpenSSF model-signing format, checked against
trusted public keys before onnxruntime sees a byte.

The format is model-signing 1.1's (``model_signing sign key`` makes the same file; see
:mod:`runtime._contract` for the constants): a Sigstore bundle v0.3 (JSON) holding a DSSE envelope
whose payload is an in-toto Statement v1. Its predicate lists every file of the folder but
``model.sig`` with its sha256; its one subject carries a sha256 over those digests in order.

Verification here needs only the ``cryptography`` package (the ``verify`` extra), imported when a
trusted key is configured. Trusted keys are EC public keys (P-256, as ``python -m export keygen``
writes; P-384 and P-521 too, as model-signing allows) in PEM, from three places, all of them trusted:

- ``load(..., trusted_keys=[...])``: paths or PEM bytes;
- ``--trusted-key PUB.pem`` on any ``python -m runtime`` command: trusted for every load the command
  makes, reloads of the server included (:func:`also_trusted`);
- every ``*.pem`` in the machine's trust directory, ``/etc/factory-edge/trusted-keys/`` unless the
  ``FACTORY_EDGE_TRUSTED_KEYS`` environment variable names another (an empty value: none).

The policy: with at least one trusted key, a bundle loads only when ``model.sig`` verifies with one of
them, lists exactly the files of the folder, and every file hashes to its signed digest (the bytes
hashed are the bytes then parsed). Anything else is a :class:`BundleError` in one line. With no
trusted key the bundle loads unverified, and the model says so (:class:`SignatureCheck`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._contract import (
    MAX_SIGNATURE_BYTES,
    SIGNATURE_BUNDLE_MEDIA_TYPE,
    SIGNATURE_FILE,
    SIGNATURE_PAYLOAD_TYPE,
    SIGNATURE_PREDICATE_TYPE,
    SIGNATURE_STATEMENT_TYPE,
    bundle_files,
    dsse_pae,
)
from ._errors import BundleError
from ._fields import refusing_duplicate_keys, shown
from ._safe_io import read_bounded
from ._validation import cap_list

__all__ = [
    "DEFAULT_TRUST_DIRECTORY",
    "TRUST_DIRECTORY_VARIABLE",
    "Seal",
    "SignatureCheck",
    "TrustedKey",
    "TrustedKeySource",
    "also_trusted",
    "key_id",
    "open_seal",
    "trusted_keys_from",
    "unverified",
]

DEFAULT_TRUST_DIRECTORY = "/etc/factory-edge/trusted-keys"
TRUST_DIRECTORY_VARIABLE = "FACTORY_EDGE_TRUSTED_KEYS"
VERIFY_EXTRA = 'verifying signed bundles needs the "verify" extra: pip install ".[verify]"'
MAX_KEY_BYTES = 64 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
# model-signing's curves and the hash each signs with (its sign_ec_key.get_ec_key_hash)
_CURVE_HASHES = {"secp256r1": "SHA256", "secp384r1": "SHA384", "secp521r1": "SHA512"}

TrustedKeySource = str | os.PathLike[str] | bytes
# Keys the running command line was given (--trusted-key); every load in the process trusts them.
_process_keys: tuple[TrustedKeySource, ...] = ()


@contextlib.contextmanager
def also_trusted(sources: Iterable[TrustedKeySource]) -> Iterator[None]:
    """Within the block, every :func:`runtime.load` of this process (any thread) also trusts ``sources``.

    The command line wraps a command in it, so ``--trusted-key`` reaches loads it does not make
    itself (the server's reloads) without each command passing keys around.
    """
    global _process_keys
    previous, _process_keys = _process_keys, (*_process_keys, *sources)
    try:
        yield
    finally:
        _process_keys = previous


@dataclass(frozen=True)
class TrustedKey:
    """A public key signatures may be made with: ``key_id`` is the sha256 (hex) of its PEM
    SubjectPublicKeyInfo, the ``hint`` model-signing writes into a bundle; ``source`` says where it came from."""

    key_id: str
    source: str
    public_key: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class SignatureCheck:
    """What load found out about a bundle's signature.

    ``verified`` is True only when ``model.sig`` verified with a trusted key (``key_id``, ``key_source``);
    ``signed`` says whether the folder holds a ``model.sig`` at all (unchecked when nothing is trusted).
    """

    verified: bool = False
    signed: bool = False
    key_id: str | None = None
    key_source: str | None = None

    def describe(self) -> str:
        """One line for people: ``verified by key 1a2b3c4d5e6f... (keys/line3.pem)`` or why it is not."""
        if self.verified:
            return f"verified by key {str(self.key_id)[:16]}... ({self.key_source})"
        present = f"{SIGNATURE_FILE} present but not checked" if self.signed else f"no {SIGNATURE_FILE}"
        return f"unverified: no trusted key is configured ({present})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "signed": self.signed,
            "key_id": self.key_id,
            "key_source": self.key_source,
        }


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise BundleError(f"a trusted key is configured, but {VERIFY_EXTRA}") from None
    return serialization


def key_id(public_key: Any) -> str:
    """sha256 hex of the key's PEM SubjectPublicKeyInfo: model-signing's public key hint."""
    serialization = _crypto()
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(pem).hexdigest()


def _parse_key(pem: bytes, source: str) -> TrustedKey:
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        public_key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise BundleError(
            f"trusted key {source} is not a PEM public key; pass the public half (python -m export keygen writes it)"
        ) from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name not in _CURVE_HASHES:
        kind = public_key.curve.name if isinstance(public_key, ec.EllipticCurvePublicKey) else type(public_key).__name__
        raise BundleError(
            f"trusted key {source} is {shown(kind)}; model signatures use EC keys on P-256, P-384 or P-521"
        )
    return TrustedKey(key_id(public_key), source, public_key)


def _read_key_file(path: Path) -> bytes:
    try:
        return read_bounded(path, MAX_KEY_BYTES)
    except FileNotFoundError:
        raise BundleError(f"trusted key {str(path)!r} does not exist") from None
    except OSError as error:
        raise BundleError(f"trusted key {str(path)!r} cannot be read: {error.strerror or error}") from None


def _trust_directory_files() -> list[Path]:
    configured = os.environ.get(TRUST_DIRECTORY_VARIABLE)
    if configured == "":
        return []
    folder = Path(configured if configured is not None else DEFAULT_TRUST_DIRECTORY)
    if not folder.is_dir():
        if configured is None:
            return []  # the default directory is optional; a named one must exist
        raise BundleError(f"{TRUST_DIRECTORY_VARIABLE} names {str(folder)!r}, which is not a directory")
    return sorted(folder.glob("*.pem"))


def trusted_keys_from(sources: Iterable[TrustedKeySource] | None = None) -> tuple[TrustedKey, ...]:
    """The trusted keys: ``sources`` (paths or PEM bytes), the command line's (:func:`also_trusted`)
    and every ``*.pem`` of the trust directory.

    A configured key that cannot be read or is not an EC public key is a :class:`BundleError`: a broken
    key must not quietly turn verification off.
    """
    keys: dict[str, TrustedKey] = {}
    if isinstance(sources, (str, bytes, os.PathLike)):
        sources = [sources]  # one key, not the characters of its path
    explicit = [*(sources or ()), *_process_keys]
    pems: list[tuple[bytes, str]] = []
    for index, source in enumerate(explicit):
        if isinstance(source, bytes):
            pems.append((source, f"trusted_keys[{index}] (PEM bytes)"))
        else:
            pems.append((_read_key_file(Path(source)), repr(str(source))))
    pems += [(_read_key_file(path), repr(str(path))) for path in _trust_directory_files()]
    for pem, source in pems:
        key = _parse_key(pem, source)
        keys.setdefault(key.key_id, key)
    return tuple(keys.values())


# ---------------------------------------------------------------------------------------------
# model.sig


class _Malformed(ValueError):
    """model.sig does not have the format's shape; the message says where."""


_unique_keys = refusing_duplicate_keys(lambda key: _Malformed(f"the key {shown(key)} appears twice in one object"))


def _no_constant(name: str) -> Any:
    raise _Malformed(f"it holds {name}, which is not JSON")


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise _Malformed(f"{what} is not UTF-8 (byte {error.start})") from None
    except RecursionError:
        raise _Malformed(f"{what} nests too deeply") from None
    except _Malformed:
        raise
    except ValueError as error:
        raise _Malformed(f"{what} is not valid JSON: {error}") from None


def _object(value: Any, where: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Malformed(f"{where} is {shown(value)}, expected an object")
    required = tuple(required)
    missing = [key for key in required if key not in value]
    if missing:
        raise _Malformed(f"{where} has no {cap_list(missing)}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise _Malformed(f"{where} has unknown keys {cap_list(unknown)}")
    return value


def _text(value: Any, where: str, expected: str | None = None) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"{where} is {shown(value)}, expected a string")
    if expected is not None and value != expected:
        raise _Malformed(f"{where} is {shown(value)}, expected {expected!r}")
    return value


def _base64(value: Any, where: str) -> bytes:
    try:
        return base64.b64decode(_text(value, where), validate=True)
    except binascii.Error:
        raise _Malformed(f"{where} is not base64") from None


@dataclass(frozen=True)
class _Envelope:
    hint: str
    payload: bytes
    signature: bytes


def _envelope(raw: bytes) -> _Envelope:
    """The parts of the Sigstore bundle a key signature has, checked for shape (not yet for truth)."""
    bundle = _object(_json(raw, "it"), "the bundle", ("mediaType", "verificationMaterial", "dsseEnvelope"))
    _text(bundle["mediaType"], "mediaType", SIGNATURE_BUNDLE_MEDIA_TYPE)
    material = _object(bundle["verificationMaterial"], "verificationMaterial", ("publicKey",), ("tlogEntries",))
    if material.get("tlogEntries", []) != []:
        raise _Malformed("verificationMaterial.tlogEntries is not empty; only offline key signatures are accepted")
    public_key = _object(material["publicKey"], "verificationMaterial.publicKey", (), ("hint",))
    hint = _text(public_key.get("hint", ""), "verificationMaterial.publicKey.hint")
    envelope = _object(bundle["dsseEnvelope"], "dsseEnvelope", ("payload", "payloadType", "signatures"))
    _text(envelope["payloadType"], "dsseEnvelope.payloadType", SIGNATURE_PAYLOAD_TYPE)
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise _Malformed("dsseEnvelope.signatures must hold exactly one signature")
    signature = _object(signatures[0], "dsseEnvelope.signatures[0]", ("sig",), ("keyid",))
    return _Envelope(
        hint, _base64(envelope["payload"], "dsseEnvelope.payload"), _base64(signature["sig"], "the signature")
    )


def _signed_digests(payload: bytes) -> dict[str, str]:
    """``{file name: sha256 hex}`` from the in-toto statement (already proven to be signed)."""
    statement = _object(
        _json(payload, "the signed statement"), "the statement", ("_type", "subject", "predicateType", "predicate")
    )
    _text(statement["_type"], "_type", SIGNATURE_STATEMENT_TYPE)
    _text(statement["predicateType"], "predicateType", SIGNATURE_PREDICATE_TYPE)
    subjects = statement["subject"]
    if not isinstance(subjects, list) or len(subjects) != 1:
        raise _Malformed("the statement must have exactly one subject (the model)")
    subject = _object(subjects[0], "subject[0]", ("name", "digest"), ("annotations",))
    root = _text(_object(subject["digest"], "subject[0].digest", ("sha256",))["sha256"], "subject[0].digest.sha256")
    predicate = _object(statement["predicate"], "the predicate", ("resources", "serialization"))
    serialization = _object(
        predicate["serialization"],
        "predicate.serialization",
        ("method", "hash_type", "allow_symlinks"),
        ("ignore_paths",),
    )
    _text(serialization["method"], "predicate.serialization.method", "files")
    _text(serialization["hash_type"], "predicate.serialization.hash_type", "sha256")
    resources = predicate["resources"]
    if not isinstance(resources, list):
        raise _Malformed("predicate.resources is not a list")
    digests: dict[str, str] = {}
    over_digests = hashlib.sha256()
    for index, resource in enumerate(resources):
        where = f"predicate.resources[{index}]"
        entry = _object(resource, where, ("name", "algorithm", "digest"))
        _text(entry["algorithm"], f"{where}.algorithm", "sha256")
        name, digest = _text(entry["name"], f"{where}.name"), _text(entry["digest"], f"{where}.digest")
        if not _HEX64.fullmatch(digest):
            raise _Malformed(f"{where}.digest is {shown(digest)}, expected 64 lowercase hex digits")
        if name in digests:
            raise _Malformed(f"{where}.name {name!r} is listed twice")
        digests[name] = digest
        over_digests.update(bytes.fromhex(digest))
    if over_digests.hexdigest() != root:
        raise _Malformed("subject[0].digest.sha256 is not the sha256 of the resources' digests")
    return digests


def _verifies(key: TrustedKey, envelope: _Envelope) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    algorithm = getattr(hashes, _CURVE_HASHES[key.public_key.curve.name])()
    try:
        key.public_key.verify(envelope.signature, dsse_pae(envelope.payload), ec.ECDSA(algorithm))
    except InvalidSignature:
        return False
    return True


@dataclass
class Seal:
    """The signed digest of every file of a verified bundle; the readers check what they read against it.

    :func:`open_seal` has proven the signature and that the folder holds exactly the signed files;
    :meth:`check` proves one file's bytes, :meth:`check_rest` reads and proves all not yet checked.
    """

    folder: Path
    digests: dict[str, str]
    result: SignatureCheck
    checked: set[str] = field(default_factory=set)

    def check(self, name: str, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        expected = self.digests.get(name)
        if expected is None:
            raise BundleError(_uncovered_text(self.folder, [name]))
        if digest != expected:
            raise BundleError(
                f"{str(self.folder / name)!r} has sha256 {digest}, the signature expects {expected}: "
                "the file was changed after signing; copy the bundle again"
            )
        self.checked.add(name)

    def check_rest(self, limit: int) -> None:
        for name in self.digests:
            if name not in self.checked:
                path = self.folder / name
                try:
                    data = read_bounded(path, limit, inside=self.folder)
                except FileNotFoundError:
                    raise BundleError(f"{str(path)!r} is signed but missing; copy the bundle again") from None
                except OSError as error:
                    raise BundleError(f"{error}; a signed bundle holds regular files only") from None
                self.check(name, data)


def _uncovered_text(folder: Path, names: Sequence[str]) -> str:
    return (
        f"{str(folder)!r} holds {cap_list(list(names))}, not covered by its {SIGNATURE_FILE}: "
        "files were added after signing; remove them or sign the bundle again"
    )


def open_seal(folder: Path, keys: Sequence[TrustedKey]) -> Seal | None:
    """Verify ``folder/model.sig`` with ``keys``; None when no key is trusted (nothing is verified).

    Refuses (:class:`BundleError`, one line) an unsigned bundle, a malformed ``model.sig``, a signature
    by an untrusted key or one that does not verify, and a folder whose files are not exactly the
    signed ones. The files' contents are checked as they are read (:meth:`Seal.check`).
    """
    if not keys:
        return None
    path = folder / SIGNATURE_FILE
    count = f"{len(keys)} trusted key{'s' if len(keys) != 1 else ''}"
    try:
        raw = read_bounded(path, MAX_SIGNATURE_BYTES, inside=folder)
    except FileNotFoundError:
        raise BundleError(
            f"{str(folder)!r} has no {SIGNATURE_FILE}, but {count} configured: only signed bundles load here; "
            "sign it with python -m export sign"
        ) from None
    except OSError as error:
        raise BundleError(f"{error}; {SIGNATURE_FILE} must be a regular file") from None
    try:
        envelope = _envelope(raw)
    except _Malformed as error:
        raise BundleError(f"{str(path)!r} is not a model signature: {error}") from None
    by_id = {key.key_id: key for key in keys}
    if envelope.hint and envelope.hint not in by_id:
        raise BundleError(
            f"{str(path)!r} was made by key {envelope.hint[:16]}..., which is not trusted here ({count} configured); "
            "trust its public key (--trusted-key or the trust directory) or sign with a trusted key"
        )
    candidates = [by_id[envelope.hint]] if envelope.hint else list(keys)
    signer = next((key for key in candidates if _verifies(key, envelope)), None)
    if signer is None:
        which = f"trusted key {envelope.hint[:16]}..." if envelope.hint else f"any of the {count}"
        raise BundleError(f"{str(path)!r} does not verify with {which}: the signature or what it signs was altered")
    try:
        digests = _signed_digests(envelope.payload)
    except _Malformed as error:
        raise BundleError(f"{str(path)!r} is not a model signature: {error}") from None
    try:
        present = bundle_files(folder)
    except OSError as error:
        raise BundleError(str(error)) from None
    uncovered = [name for name in present if name not in digests]
    if uncovered:
        raise BundleError(_uncovered_text(folder, uncovered))
    missing = [name for name in digests if name not in set(present)]
    if missing:
        raise BundleError(
            f"{str(folder)!r} lacks {cap_list(missing)}, signed in its {SIGNATURE_FILE}: copy the bundle again"
        )
    check = SignatureCheck(verified=True, signed=True, key_id=signer.key_id, key_source=signer.source)
    return Seal(folder, digests, check)


def unverified(folder: Path) -> SignatureCheck:
    """The check of a bundle loaded with no trusted key: whether it has a ``model.sig`` at all."""
    return SignatureCheck(verified=False, signed=os.path.lexists(folder / SIGNATURE_FILE))
