"""Sigstore bundles (protobuf-specs ``sigstore_bundle.proto``, v0.1–v0.3): read, write, verify offline.

Two verification paths, one result type:

- **keyed** (``cosign.pub``) is chainwarden's own, on ``cryptography``: the
  message signature or DSSE envelope (PAE) against the key, then every
  transparency log entry the bundle carries — its body must describe this
  very signature, its signed entry timestamp (SET) and/or RFC 6962 inclusion
  proof and signed checkpoint must verify with a log key of the trusted root,
  valid at the entry's time. A bundle without log entries verifies too (a
  key-signed image never touched Rekor); the result says so.
- **keyless** (Fulcio certificate) is delegated to sigstore-python's
  ``Verifier``: certificate chain to the trusted root's Fulcio CAs, SCT, Rekor
  entry (v1 SET/inclusion proof, v2 checkpoint), RFC 3161 timestamps, then the
  certificate's identity and OIDC issuer.

Every failure is a :class:`VerificationError` with one line saying why.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import re
import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from chainwarden.errors import SigningError, VerificationError
from chainwarden.signing import keys
from chainwarden.signing.trustroot import LogKey, TrustedRoot

MEDIA_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
MEDIA_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
MEDIA_V03_OLD = "application/vnd.dev.sigstore.bundle+json;version=0.3"
MEDIA_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_VERSIONS: Mapping[str, tuple[int, int]] = {
    MEDIA_V01: (0, 1),
    MEDIA_V02: (0, 2),
    MEDIA_V03_OLD: (0, 3),
    MEDIA_V03: (0, 3),
}
#: A bundle, or a DSSE payload inside one, larger than this is refused unread.
MAX_BUNDLE = 4 * 1024 * 1024
#: Log entries younger than the clock by more than this are "in the future".
CLOCK_SKEW = datetime.timedelta(minutes=5)
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

_HEX64_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Artifact:
    """What a bundle is checked against: the sha256 of the bytes (the bytes themselves are not needed)."""

    sha256: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Artifact:
        return cls(hashlib.sha256(data).digest())

    @classmethod
    def from_digest(cls, text: str) -> Artifact:
        """``sha256:<64 hex>``."""
        algorithm, _, hexpart = text.partition(":")
        if algorithm != "sha256" or not _HEX64_RE.fullmatch(hexpart):
            raise SigningError(f"{text!r}: not a sha256:<64 hex digits> digest")
        return cls(bytes.fromhex(hexpart))

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha256.hex()


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope: the payload and its type as signed, and the signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[bytes, str], ...]  # (signature, keyid)

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [
                {"sig": base64.b64encode(sig).decode(), **({"keyid": keyid} if keyid else {})}
                for sig, keyid in self.signatures
            ],
        }


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    """The parts of a bundle the verifiers look at, decoded and type-checked."""

    raw: bytes
    where: str
    media_type: str
    version: tuple[int, int]
    message_digest: bytes | None  # messageSignature.messageDigest (sha256), if any
    signature: bytes | None  # messageSignature.signature
    envelope: Envelope | None
    key_hint: str | None
    certificate: bytes | None  # leaf DER
    tlog_entries: tuple[dict[str, Any], ...]
    timestamp_data: tuple[bytes, ...]  # RFC 3161 responses


@dataclass(frozen=True, slots=True)
class VerifiedBundle:
    """What a successful verification established."""

    method: str  # "key" | "keyless"
    key_id: str | None  # hex sha256 of the key's DER (keyed)
    identity: str | None  # certificate SAN (keyless)
    issuer: str | None
    tlog_entries: int  # log entries verified
    integrated_time: datetime.datetime | None
    envelope: Envelope | None


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    encoded_type = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(encoded_type), encoded_type, len(payload), payload)


# -- reading ---------------------------------------------------------------------------------


def parse_bundle(data: bytes, where: str) -> ParsedBundle:
    """Decode and type-check a bundle; anything malformed is a :class:`VerificationError`."""
    if len(data) > MAX_BUNDLE:
        raise VerificationError(f"{where}: bundle larger than {MAX_BUNDLE} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"{where}: bundle is not valid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(document, dict):
        raise VerificationError(f"{where}: bundle is not a JSON object")
    media_type = document.get("mediaType")
    if not isinstance(media_type, str) or media_type not in BUNDLE_VERSIONS:
        raise VerificationError(f"{where}: unsupported bundle mediaType {_short(media_type)}")
    material = _obj(document.get("verificationMaterial"), where, "verificationMaterial")
    message = document.get("messageSignature")
    dsse = document.get("dsseEnvelope")
    if (message is None) == (dsse is None):
        raise VerificationError(f"{where}: bundle must hold exactly one of messageSignature and dsseEnvelope")
    message_digest = signature = None
    envelope = None
    if message is not None:
        message = _obj(message, where, "messageSignature")
        signature = _b64(message.get("signature"), where, "messageSignature.signature")
        if message.get("messageDigest") is not None:
            md = _obj(message["messageDigest"], where, "messageDigest")
            if md.get("algorithm") not in ("SHA2_256", None):
                raise VerificationError(f"{where}: messageDigest algorithm {_short(md.get('algorithm'))} unsupported")
            message_digest = _b64(md.get("digest"), where, "messageDigest.digest")
    else:
        envelope = parse_envelope(dsse, where)
    key_hint = certificate = None
    if "publicKey" in material:
        hint = _obj(material["publicKey"], where, "publicKey").get("hint")
        key_hint = hint if isinstance(hint, str) else ""
    elif "certificate" in material:
        certificate = _b64(_obj(material["certificate"], where, "certificate").get("rawBytes"), where, "certificate")
    elif "x509CertificateChain" in material:
        chain = _obj(material["x509CertificateChain"], where, "x509CertificateChain").get("certificates")
        if not isinstance(chain, list) or not chain:
            raise VerificationError(f"{where}: empty certificate chain")
        certificate = _b64(_obj(chain[0], where, "certificate").get("rawBytes"), where, "certificate")
    else:
        raise VerificationError(f"{where}: verificationMaterial holds no public key hint or certificate")
    entries = material.get("tlogEntries", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise VerificationError(f"{where}: tlogEntries is not a list of objects")
    timestamps = material.get("timestampVerificationData") or {}
    raw_timestamps = timestamps.get("rfc3161Timestamps") or [] if isinstance(timestamps, dict) else []
    if not isinstance(raw_timestamps, list):
        raise VerificationError(f"{where}: rfc3161Timestamps is not a list")
    timestamp_data = tuple(
        _b64(_obj(item, where, "timestamp").get("signedTimestamp"), where, "signedTimestamp") for item in raw_timestamps
    )
    return ParsedBundle(
        data,
        where,
        media_type,
        BUNDLE_VERSIONS[media_type],
        message_digest,
        signature,
        envelope,
        key_hint,
        certificate,
        tuple(entries),
        timestamp_data,
    )


def parse_envelope(value: object, where: str) -> Envelope:
    envelope = _obj(value, where, "dsseEnvelope")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise VerificationError(f"{where}: DSSE envelope has no payloadType")
    payload = _b64(envelope.get("payload"), where, "DSSE payload")
    if len(payload) > MAX_BUNDLE:
        raise VerificationError(f"{where}: DSSE payload larger than {MAX_BUNDLE} bytes")
    raw_signatures = envelope.get("signatures")
    if not isinstance(raw_signatures, list) or not raw_signatures:
        raise VerificationError(f"{where}: DSSE envelope has no signatures")
    signatures = []
    for item in raw_signatures:
        entry = _obj(item, where, "DSSE signature")
        keyid = entry.get("keyid", "")
        signatures.append((_b64(entry.get("sig"), where, "DSSE signature"), keyid if isinstance(keyid, str) else ""))
    return Envelope(payload_type, payload, tuple(signatures))


# -- writing ---------------------------------------------------------------------------------


def sign_dsse(key: keys.PrivateKey, payload_type: str, payload: bytes) -> Envelope:
    """A DSSE envelope over ``payload`` signed with ``key`` (keyid left empty, as cosign does)."""
    return Envelope(payload_type, payload, ((keys.sign(key, pae(payload_type, payload)), ""),))


def key_bundle(key: keys.PublicKey, envelope: Envelope) -> bytes:
    """A v0.3 bundle of a key-signed DSSE envelope, without log entries (offline signing)."""
    document = {
        "mediaType": MEDIA_V03,
        "verificationMaterial": {"publicKey": {"hint": key_hint(key)}, "tlogEntries": []},
        "dsseEnvelope": envelope.to_json(),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def key_hint(key: keys.PublicKey) -> str:
    """base64 sha256 of the DER public key: the hint cosign puts in ``publicKey.hint``."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


# -- keyed verification (chainwarden's own) ----------------------------------------------------


def verify_with_key(
    bundle: ParsedBundle,
    artifact: Artifact | None,
    key: keys.PublicKey,
    trusted_root: TrustedRoot,
    *,
    require_tlog: bool = False,
    now: datetime.datetime | None = None,
) -> VerifiedBundle:
    """Verify a key-signed bundle; ``artifact`` may be None for DSSE (the caller checks the subject).

    For a message signature the artifact is required: the signature is over its
    sha256 (cosign ``sign-blob``), and ``messageDigest``, when present, must match.
    For DSSE, the in-toto subject must name the artifact's sha256 when one is given.
    """
    where = bundle.where
    if bundle.certificate is not None:
        raise VerificationError(f"{where}: bundle is signed with a certificate; verify it keyless, not with a key")
    if bundle.envelope is not None:
        envelope = bundle.envelope
        if not any(keys.signature_verifies(key, sig, envelope.pae()) for sig, _ in envelope.signatures):
            raise VerificationError(f"{where}: DSSE signature does not verify with the given key")
        if artifact is not None:
            check_statement_subject(envelope, artifact, where)
    else:
        if artifact is None:
            raise VerificationError(f"{where}: a message signature needs the artifact it signs")
        assert bundle.signature is not None
        if bundle.message_digest is not None and bundle.message_digest != artifact.sha256:
            raise VerificationError(f"{where}: bundle message digest does not match the artifact")
        keys.verify_prehashed(key, bundle.signature, artifact.sha256, f"{where}: message signature")
    now = now or datetime.datetime.now(datetime.UTC)
    times = [
        _verify_tlog_entry(bundle, entry, i, key, artifact, trusted_root, now)
        for i, entry in enumerate(bundle.tlog_entries)
    ]
    if require_tlog and not times:
        raise VerificationError(f"{where}: no transparency log entry (required)")
    return VerifiedBundle(
        "key", keys.key_id(key), None, None, len(times), min(times) if times else None, bundle.envelope
    )


def check_statement_subject(envelope: Envelope, artifact: Artifact, where: str) -> dict[str, Any]:
    """The in-toto Statement in ``envelope``; one of its subjects must carry the artifact's sha256."""
    statement = parse_statement(envelope, where)
    wanted = artifact.sha256.hex()
    for subject in statement["subject"]:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digest, dict) and digest.get("sha256") == wanted:
            return statement
    raise VerificationError(f"{where}: no in-toto subject has the digest {artifact.digest}")


def parse_statement(envelope: Envelope, where: str) -> dict[str, Any]:
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        raise VerificationError(f"{where}: DSSE payloadType {_short(envelope.payload_type)} is not in-toto")
    try:
        statement = json.loads(envelope.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"{where}: in-toto statement is not valid JSON") from exc
    if not isinstance(statement, dict):
        raise VerificationError(f"{where}: in-toto statement is not a JSON object")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationError(f"{where}: in-toto statement has no subject")
    if not isinstance(statement.get("predicateType"), str):
        raise VerificationError(f"{where}: in-toto statement has no predicateType")
    return statement


def _verify_tlog_entry(
    bundle: ParsedBundle,
    entry: dict[str, Any],
    index: int,
    key: keys.PublicKey,
    artifact: Artifact | None,
    trusted_root: TrustedRoot,
    now: datetime.datetime,
) -> datetime.datetime:
    """Check one log entry; return its integrated time."""
    label = f"{bundle.where}: tlog entry {index}"
    kind = _obj(entry.get("kindVersion"), label, "kindVersion")
    log_id = _b64(_obj(entry.get("logId"), label, "logId").get("keyId"), label, "logId.keyId")
    log_index = _int(entry.get("logIndex"), label, "logIndex")
    integrated = _int(entry.get("integratedTime", "0"), label, "integratedTime")
    body = _b64(entry.get("canonicalizedBody"), label, "canonicalizedBody")
    log = trusted_root.tlog(log_id)
    if log is None:
        raise VerificationError(f"{label}: log {log_id.hex()[:16]}… is not in the trusted root ({trusted_root.source})")
    when = datetime.datetime.fromtimestamp(integrated, datetime.UTC)
    if integrated and when > now + CLOCK_SKEW:
        raise VerificationError(f"{label}: integrated time {when:%Y-%m-%dT%H:%M:%SZ} is in the future")
    if integrated and not log.valid_at(when):
        raise VerificationError(f"{label}: log key not valid at integrated time {when:%Y-%m-%dT%H:%M:%SZ}")
    _check_entry_body(body, kind, key, bundle, artifact, label)
    promise, proof = entry.get("inclusionPromise"), entry.get("inclusionProof")
    if promise is None and proof is None:
        raise VerificationError(f"{label}: neither inclusion promise nor inclusion proof")
    if bundle.version >= (0, 2) and proof is None:
        raise VerificationError(f"{label}: bundle v0.2+ requires an inclusion proof")
    if promise is not None:
        set_sig = _b64(_obj(promise, label, "inclusionPromise").get("signedEntryTimestamp"), label, "SET")
        payload = json.dumps(
            {
                "body": base64.b64encode(body).decode(),
                "integratedTime": integrated,
                "logID": log_id.hex(),
                "logIndex": log_index,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        try:
            keys.verify_signature(log.key, set_sig, payload, label)
        except VerificationError as exc:
            raise VerificationError(f"{label}: signed entry timestamp (SET) does not verify") from exc
    if proof is not None:
        _verify_inclusion_proof(_obj(proof, label, "inclusionProof"), body, log, label)
    if not integrated:
        raise VerificationError(f"{label}: no integrated time (Rekor v2 entries need a timestamp authority)")
    return when


def _check_entry_body(
    body: bytes,
    kind: Mapping[str, Any],
    key: keys.PublicKey,
    bundle: ParsedBundle,
    artifact: Artifact | None,
    label: str,
) -> None:
    """The log entry must describe this signature by this key over this content."""
    try:
        document = json.loads(body)
        spec = document["spec"]
        entry_kind, version = document["kind"], document["apiVersion"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise VerificationError(f"{label}: canonicalized body is not a Rekor entry") from exc
    if (entry_kind, version) != (kind.get("kind"), kind.get("version")):
        raise VerificationError(f"{label}: body kind {entry_kind}/{version} differs from kindVersion")
    key_der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        if (entry_kind, version) == ("hashedrekord", "0.0.1"):
            if bundle.signature is None or artifact is None:
                raise VerificationError(f"{label}: hashedrekord entry for a bundle without a message signature")
            same = (
                spec["data"]["hash"]["algorithm"] == "sha256"
                and spec["data"]["hash"]["value"] == artifact.sha256.hex()
                and base64.b64decode(spec["signature"]["content"]) == bundle.signature
                and _pem_key_der(base64.b64decode(spec["signature"]["publicKey"]["content"])) == key_der
            )
        elif (entry_kind, version) == ("dsse", "0.0.1"):
            envelope = bundle.envelope
            if envelope is None:
                raise VerificationError(f"{label}: dsse entry for a bundle without a DSSE envelope")
            logged = {
                (base64.b64decode(item["signature"]), _pem_key_der(base64.b64decode(item["verifier"])))
                for item in spec["signatures"]
            }
            same = (
                spec["payloadHash"]["algorithm"] == "sha256"
                and spec["payloadHash"]["value"] == hashlib.sha256(envelope.payload).hexdigest()
                and {(sig, key_der) for sig, _ in envelope.signatures} == logged
            )
        elif (entry_kind, version) == ("intoto", "0.0.2"):
            # rekor's intoto/0.0.2 stores the envelope with payload and signatures base64-encoded once more
            envelope = bundle.envelope
            if envelope is None:
                raise VerificationError(f"{label}: intoto entry for a bundle without a DSSE envelope")
            content = spec["content"]
            logged_envelope = content["envelope"]
            logged = {
                (
                    base64.b64decode(base64.b64decode(item["sig"])),
                    _pem_key_der(base64.b64decode(item["publicKey"])),
                )
                for item in logged_envelope["signatures"]
            }
            same = (
                content["payloadHash"]["algorithm"] == "sha256"
                and content["payloadHash"]["value"] == hashlib.sha256(envelope.payload).hexdigest()
                # rekor may drop the payload from what it stores (npm's entries have none): compare when kept
                and (
                    "payload" not in logged_envelope
                    or base64.b64decode(base64.b64decode(logged_envelope["payload"])) == envelope.payload
                )
                and logged_envelope["payloadType"] == envelope.payload_type
                and {(sig, key_der) for sig, _ in envelope.signatures} == logged
            )
        else:
            raise VerificationError(f"{label}: unsupported log entry kind {entry_kind}/{version}")
    except (KeyError, TypeError, binascii.Error, ValueError) as exc:
        if isinstance(exc, VerificationError):
            raise
        raise VerificationError(f"{label}: malformed {entry_kind} entry body") from exc
    if not same:
        raise VerificationError(f"{label}: log entry does not match the bundle's signature, key or artifact")


def _pem_key_der(pem: bytes) -> bytes:
    try:
        loaded = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        try:  # Rekor also records the signer as a certificate
            loaded = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            return b""
    return loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _verify_inclusion_proof(proof: Mapping[str, Any], body: bytes, log: LogKey, label: str) -> None:
    index = _int(proof.get("logIndex"), label, "inclusionProof.logIndex")
    size = _int(proof.get("treeSize"), label, "inclusionProof.treeSize")
    root = _b64(proof.get("rootHash"), label, "inclusionProof.rootHash")
    hashes_ = proof.get("hashes")
    if not isinstance(hashes_, list):
        raise VerificationError(f"{label}: inclusion proof hashes missing")
    path = [_b64(item, label, "inclusion proof hash") for item in hashes_]
    computed = root_from_inclusion_proof(index, size, hashlib.sha256(b"\x00" + body).digest(), path, label)
    if computed != root:
        raise VerificationError(f"{label}: inclusion proof does not lead to the root hash")
    checkpoint = proof.get("checkpoint")
    envelope = checkpoint.get("envelope") if isinstance(checkpoint, dict) else None
    if not isinstance(envelope, str):
        raise VerificationError(f"{label}: inclusion proof has no signed checkpoint")
    verify_checkpoint(envelope, log, size, root, label)


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, path: Sequence[bytes], label: str) -> bytes:
    """RFC 9162 §2.1.3.2: the root hash an audit path leads to."""
    if index < 0 or index >= size:
        raise VerificationError(f"{label}: inclusion proof index {index} outside tree of size {size}")
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if len(sibling) != 32:
            raise VerificationError(f"{label}: inclusion proof hash of {len(sibling)} bytes")
        if sn == 0:
            raise VerificationError(f"{label}: inclusion proof longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = hashlib.sha256(b"\x01" + sibling + result).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = hashlib.sha256(b"\x01" + result + sibling).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(f"{label}: inclusion proof shorter than the tree is deep")
    return result


def verify_checkpoint(envelope: str, log: LogKey, size: int, root: bytes, label: str) -> None:
    """A signed note (C2SP signed-note) whose body is ``origin / size / base64 root``, signed by ``log``."""
    text, sep, signature_block = envelope.partition("\n\n")
    if not sep:
        raise VerificationError(f"{label}: checkpoint is not a signed note")
    lines = text.split("\n")
    if len(lines) < 3:
        raise VerificationError(f"{label}: checkpoint lacks origin, size or root hash")
    try:
        checkpoint_size = int(lines[1])
        checkpoint_root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error) as exc:
        raise VerificationError(f"{label}: malformed checkpoint size or root hash") from exc
    if checkpoint_size != size or checkpoint_root != root:
        raise VerificationError(f"{label}: checkpoint does not match the inclusion proof's tree")
    hint = log.log_id[:4]
    signed = (text + "\n").encode()
    for line in signature_block.split("\n"):
        if not line.startswith("\u2014 "):
            continue
        _, _, encoded = line[2:].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if raw[:4] == hint and keys.signature_verifies(log.key, raw[4:], signed):
            return
    raise VerificationError(f"{label}: checkpoint carries no valid signature of the log key")


# -- keyless verification (sigstore-python) ------------------------------------------------------


def verify_keyless(
    bundle: ParsedBundle,
    artifact: Artifact | None,
    trusted_root: TrustedRoot,
    *,
    identity: str | None = None,
    identity_regexp: str | None = None,
    issuer: str | None = None,
) -> VerifiedBundle:
    """Fulcio chain, SCT, log entry and timestamps by sigstore-python; then identity and issuer.

    ``identity`` (exact) or ``identity_regexp`` (full match) must match one of
    the certificate's SANs; ``issuer`` the Fulcio OIDC issuer extension.
    """
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, InvalidBundle
    from sigstore.verify import Verifier
    from sigstore_models.common.v1 import HashAlgorithm

    where = bundle.where
    if bundle.certificate is None:
        raise VerificationError(f"{where}: bundle is signed with a key, not a certificate; pass --key")
    if not identity and not identity_regexp:
        raise SigningError("keyless verification needs --certificate-identity or --certificate-identity-regexp")
    if not issuer:
        raise SigningError("keyless verification needs --certificate-oidc-issuer")
    policy = _IdentityPolicy(identity, re.compile(identity_regexp) if identity_regexp else None, issuer)
    kinds = {str(_obj(e.get("kindVersion"), where, "kindVersion").get("kind")) for e in bundle.tlog_entries}
    set_only = bundle.version == (0, 1) and any(e.get("inclusionProof") is None for e in bundle.tlog_entries)
    if "intoto" in kinds or set_only:
        # sigstore-python refuses intoto/0.0.2 entries and v0.1 bundles with a SET but no inclusion
        # proof (cosign's legacy keyless signatures); chainwarden verifies those itself
        return _verify_keyless_own(bundle, artifact, trusted_root, policy, datetime.datetime.now(datetime.UTC))
    try:
        parsed = Bundle.from_json(bundle.raw)
        verifier = Verifier(trusted_root=_sigstore_root(trusted_root))
        if bundle.envelope is not None:
            verifier.verify_dsse(parsed, policy)
            if artifact is not None:
                check_statement_subject(bundle.envelope, artifact, where)
        else:
            if artifact is None:
                raise VerificationError(f"{where}: a message signature needs the artifact it signs")
            verifier.verify_artifact(Hashed(algorithm=HashAlgorithm.SHA2_256, digest=artifact.sha256), parsed, policy)
    except (InvalidBundle, SigstoreError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VerificationError(f"{where}: {_short(message, 240)}") from exc
    cert = x509.load_der_x509_certificate(bundle.certificate)
    when = None
    for entry in bundle.tlog_entries:
        integrated = entry.get("integratedTime")
        if integrated not in (None, "0", 0):
            when = datetime.datetime.fromtimestamp(int(str(integrated)), datetime.UTC)
    return VerifiedBundle(
        "keyless",
        None,
        policy.matched or next(iter(_sans(cert)), None),
        issuer,
        len(bundle.tlog_entries),
        when,
        bundle.envelope,
    )


def _sigstore_root(trusted_root: TrustedRoot) -> Any:
    from sigstore.models import TrustedRoot as SigstoreTrustedRoot

    with tempfile.TemporaryDirectory(prefix="chainwarden-root-") as tmp:
        path = Path(tmp) / "trusted_root.json"
        path.write_text(_inclusive_tsa_ends(trusted_root.text), encoding="utf-8")
        return SigstoreTrustedRoot.from_file(str(path))


def _inclusive_tsa_ends(text: str) -> str:
    """The root with each timestamp authority's ``validFor.end`` one microsecond later.

    protobuf-specs' ``TimeRange`` is a closed interval, but sigstore-python 4
    accepts a TSA timestamp only when ``gen_time < end``. RFC 3161 times carry
    at most microseconds, so ``gen_time < end + 1 µs`` is exactly the spec's
    ``gen_time <= end`` (sigstore-conformance ``trust-root-tsa-validity-end-inclusive``).
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text
    authorities = document.get("timestampAuthorities") if isinstance(document, dict) else None
    changed = False
    for authority in authorities if isinstance(authorities, list) else []:
        valid = authority.get("validFor") if isinstance(authority, dict) else None
        end = valid.get("end") if isinstance(valid, dict) else None
        if isinstance(valid, dict) and isinstance(end, str):
            try:
                moved = datetime.datetime.fromisoformat(end.replace("Z", "+00:00")) + datetime.timedelta(microseconds=1)
            except ValueError:
                continue
            valid["end"] = moved.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            changed = True
    return json.dumps(document) if changed else text


_OTHERNAME_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    values: list[str] = list(san.get_values_for_type(x509.RFC822Name))
    values += san.get_values_for_type(x509.UniformResourceIdentifier)
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == _OTHERNAME_OID:
            values.append(_der_utf8(other.value))
    return values


def certificate_issuer(cert: x509.Certificate) -> str | None:
    """The Fulcio OIDC issuer extension (v2 DER UTF8String, else the v1 raw string)."""
    for oid, der in ((_ISSUER_V2, True), (_ISSUER_V1, False)):
        try:
            ext = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        return _der_utf8(raw) if der else raw.decode("utf-8", "replace")
    return None


def _der_utf8(raw: bytes) -> str:
    # UTF8String: tag 0x0C, short or long length
    if len(raw) >= 2 and raw[0] == 0x0C:
        length, offset = raw[1], 2
        if length & 0x80:
            count = length & 0x7F
            length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
        return raw[offset : offset + length].decode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


class _IdentityPolicy:
    """sigstore-python ``VerificationPolicy``: SAN exact or regexp, and the OIDC issuer."""

    def __init__(self, identity: str | None, pattern: re.Pattern[str] | None, issuer: str) -> None:
        self.identity, self.pattern, self.issuer = identity, pattern, issuer
        self.matched: str | None = None

    def verify(self, cert: x509.Certificate) -> None:
        from sigstore.errors import VerificationError as SigstoreVerificationError

        found = certificate_issuer(cert)
        if found != self.issuer:
            raise SigstoreVerificationError(f"certificate issuer {found!r} is not {self.issuer!r}")
        sans = _sans(cert)
        for san in sans:
            if (self.identity is not None and san == self.identity) or (
                self.pattern is not None and self.pattern.fullmatch(san)
            ):
                self.matched = san
                return
        wanted = self.identity if self.identity is not None else f"/{self.pattern.pattern if self.pattern else ''}/"
        raise SigstoreVerificationError(f"certificate identity {sans} does not match {wanted}")


# -- helpers ---------------------------------------------------------------------------------


def _obj(value: object, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise VerificationError(f"{where}: {what} is not a JSON object")
    return value


def _b64(value: object, where: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationError(f"{where}: {what} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError(f"{where}: {what} is not valid base64") from exc


def _int(value: object, where: str, what: str) -> int:
    # protobuf JSON writes int64 as a string
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise VerificationError(f"{where}: {what} is not an integer")
    try:
        number = int(value)
    except ValueError as exc:
        raise VerificationError(f"{where}: {what} is not an integer") from exc
    if number < 0:
        raise VerificationError(f"{where}: {what} is negative")
    return number


def _short(value: object, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    text = re.sub(r"[^\x20-\x7e]", "?", text)
    return text if len(text) <= limit else text[:limit] + "…"


__all__ = [
    "Artifact",
    "Envelope",
    "ParsedBundle",
    "VerifiedBundle",
    "check_statement_subject",
    "parse_bundle",
    "parse_statement",
    "verify_keyless",
    "verify_with_key",
]


# -- keyless verification of intoto/0.0.2 entries (chainwarden's own) ---------------------------


def _verify_keyless_own(
    bundle: ParsedBundle,
    artifact: Artifact | None,
    trusted_root: TrustedRoot,
    policy: _IdentityPolicy,
    now: datetime.datetime,
) -> VerifiedBundle:
    """Fulcio-certificate verification for what sigstore-python refuses.

    DSSE bundles logged as intoto/0.0.2 (npm's provenance and publish
    attestations of 2023, the conformance suite's intoto cases) and v0.1
    bundles whose log entry has a SET but no inclusion proof (cosign's legacy
    keyless ``.sig`` layers). The steps are sigstore-python's,
    on ``cryptography`` and ``rfc3161-client``: verified times (the log's SET
    integrated time, RFC 3161 timestamps from a trusted TSA), the certificate
    chain to a Fulcio CA at each of those times, its embedded SCT, the Sigstore
    X.509 profile, identity and issuer, the DSSE signature, then every log entry
    (body consistency, SET, inclusion proof and checkpoint) as on the keyed path.
    """
    where = bundle.where
    assert bundle.certificate is not None
    envelope = bundle.envelope
    try:
        cert = x509.load_der_x509_certificate(bundle.certificate)
    except ValueError as exc:
        raise VerificationError(f"{where}: signing certificate is not DER X.509") from exc
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise VerificationError(f"{where}: unsupported certificate key type")
    if envelope is not None:
        if not any(keys.signature_verifies(key, sig, envelope.pae()) for sig, _ in envelope.signatures):
            raise VerificationError(f"{where}: DSSE signature does not verify with the certificate's key")
        signature = envelope.signatures[0][0]
    else:
        if artifact is None or bundle.signature is None:
            raise VerificationError(f"{where}: a message signature needs the artifact it signs")
        if bundle.message_digest is not None and bundle.message_digest != artifact.sha256:
            raise VerificationError(f"{where}: bundle message digest does not match the artifact")
        keys.verify_prehashed(key, bundle.signature, artifact.sha256, f"{where}: message signature")
        signature = bundle.signature
    if not bundle.tlog_entries:
        raise VerificationError(f"{where}: no transparency log entry")
    times: list[datetime.datetime] = []
    for index, entry in enumerate(bundle.tlog_entries):
        when = _verify_tlog_entry(bundle, entry, index, key, artifact, trusted_root, now)
        if entry.get("inclusionPromise") is not None:
            times.append(when)
    times += _verify_timestamps(bundle, signature, trusted_root)
    if not times:
        raise VerificationError(f"{where}: no verified time (neither a signed entry timestamp nor a trusted TSA)")
    chain: list[x509.Certificate] = []
    for when in times:
        chain = _verify_chain(cert, trusted_root, when, where)
    _verify_sct(cert, chain, trusted_root, where)
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise VerificationError(f"{where}: signing certificate lacks key usage extensions") from exc
    if not usage.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise VerificationError(f"{where}: signing certificate is not for code signing")
    from sigstore.errors import Error as SigstoreError

    try:
        policy.verify(cert)
    except SigstoreError as exc:
        raise VerificationError(f"{where}: {exc}") from exc
    if artifact is not None and envelope is not None:
        check_statement_subject(envelope, artifact, where)
    return VerifiedBundle(
        "keyless", None, policy.matched, certificate_issuer(cert), len(bundle.tlog_entries), min(times), envelope
    )


def _verify_timestamps(bundle: ParsedBundle, signature: bytes, trusted_root: TrustedRoot) -> list[datetime.datetime]:
    """Times from RFC 3161 timestamps over ``signature`` that a trusted TSA, valid then, signed."""
    if not bundle.timestamp_data:
        return []
    from rfc3161_client import VerificationError as TimestampError
    from rfc3161_client import VerifierBuilder, decode_timestamp_response

    if len(set(bundle.timestamp_data)) != len(bundle.timestamp_data):
        raise VerificationError(f"{bundle.where}: duplicate signed timestamps")
    times = []
    for raw in bundle.timestamp_data:
        try:
            response = decode_timestamp_response(raw)
        except ValueError as exc:
            raise VerificationError(f"{bundle.where}: malformed RFC 3161 timestamp") from exc
        for authority in trusted_root.timestamp_authorities:
            certificates = authority.certificates
            if len(certificates) < 2:
                continue
            builder = VerifierBuilder().tsa_certificate(certificates[0]).add_root_certificate(certificates[-1])
            for intermediate in certificates[1:-1]:
                builder = builder.add_intermediate_certificate(intermediate)
            try:
                builder.build().verify_message(response, signature)
            except TimestampError:
                continue
            generated = response.tst_info.gen_time
            if generated.tzinfo is None:
                generated = generated.replace(tzinfo=datetime.UTC)
            if authority.valid_at(generated):
                times.append(generated)
                break
    return times


def _verify_chain(
    cert: x509.Certificate, trusted_root: TrustedRoot, when: datetime.datetime, where: str
) -> list[x509.Certificate]:
    """The chain from ``cert`` to a Fulcio CA of the trusted root that was valid at ``when``."""
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
    )
    from cryptography.x509.verification import (
        VerificationError as ChainError,
    )

    anchors = [c for ca in trusted_root.certificate_authorities if ca.valid_at(when) for c in ca.certificates]
    if not anchors:
        raise VerificationError(f"{where}: no Fulcio CA of the trusted root was valid at {when:%Y-%m-%dT%H:%M:%SZ}")
    # Fulcio leaves carry code signing, not client auth: accept any EKU here, check code signing after
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
    )
    verifier = (
        PolicyBuilder()
        .store(Store(anchors))
        .time(when)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        return list(verifier.verify(cert, []).chain[1:])
    except (ChainError, x509.UnsupportedGeneralNameType) as exc:
        raise VerificationError(
            f"{where}: certificate does not chain to the trusted root at {when:%Y-%m-%dT%H:%M:%SZ} ({exc})"
        ) from exc


def _verify_sct(cert: x509.Certificate, chain: list[x509.Certificate], trusted_root: TrustedRoot, where: str) -> None:
    """RFC 6962 §3.2: the embedded SCT's signature over the precertificate, by a CT log of the trusted root."""
    from cryptography.x509.certificate_transparency import LogEntryType

    try:
        scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    except x509.ExtensionNotFound as exc:
        raise VerificationError(f"{where}: certificate has no signed certificate timestamp") from exc
    if len(scts) != 1:
        raise VerificationError(f"{where}: expected one SCT, found {len(scts)}")
    sct = scts[0]
    if sct.entry_type != LogEntryType.PRE_CERTIFICATE or not chain:
        raise VerificationError(f"{where}: SCT is not for a precertificate")
    issuer = chain[0]
    try:
        extended = issuer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in extended and len(chain) > 1:
            issuer = chain[1]  # a precertificate signing certificate stands between
    except x509.ExtensionNotFound:
        pass
    issuer_key = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tbs = cert.tbs_precertificate_bytes
    timestamp = int(sct.timestamp.replace(tzinfo=datetime.UTC).timestamp() * 1000)
    signed = (
        struct.pack("!BBQH", sct.version.value, 0, timestamp, sct.entry_type.value)
        + hashlib.sha256(issuer_key).digest()
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack("!H", len(sct.extension_bytes))
        + sct.extension_bytes
    )
    log = trusted_root.ctlog(sct.log_id)
    if log is None:
        raise VerificationError(f"{where}: SCT from a CT log not in the trusted root")
    if not keys.signature_verifies(log.key, sct.signature, signed):
        raise VerificationError(f"{where}: SCT signature does not verify")
