"""chainwarden's own keyed bundle verifier: real bundles verify, every tamper is caught by the right check."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chainwarden.errors import VerificationError
from chainwarden.signing import bundle as sb
from chainwarden.signing import keys
from chainwarden.signing.trustroot import default_trusted_root, load_trusted_root

FIXTURES = Path(__file__).parent / "fixtures"
MANAGED = FIXTURES / "conformance" / "managed-key-happy-path"
ARTIFACT = sb.Artifact.from_bytes((FIXTURES / "conformance" / "a.txt").read_bytes())
GO = FIXTURES / "sigstore-go"


def managed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MANAGED / "bundle.sigstore.json").read_bytes())
    return document


def verify(document: dict[str, Any], artifact: sb.Artifact = ARTIFACT) -> sb.VerifiedBundle:
    key = keys.load_public_key((MANAGED / "key.pub").read_bytes(), "key.pub")
    parsed = sb.parse_bundle(json.dumps(document).encode(), "bundle")
    return sb.verify_with_key(parsed, artifact, key, default_trusted_root())


def test_managed_key_bundle_verifies_with_its_log_entry() -> None:
    result = verify(managed())
    assert result.method == "key"
    assert result.tlog_entries == 1
    assert result.integrated_time is not None
    assert result.integrated_time.year >= 2025


def _entry(document: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = document["verificationMaterial"]["tlogEntries"][0]
    return entry


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _swap_body_hash(document: dict[str, Any]) -> None:
    body = json.loads(base64.b64decode(_entry(document)["canonicalizedBody"]))
    body["spec"]["data"]["hash"]["value"] = "0" * 64
    _entry(document)["canonicalizedBody"] = base64.b64encode(json.dumps(body).encode()).decode()


TAMPERS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "signature": (
        lambda d: d["messageSignature"].__setitem__("signature", _flip_b64(d["messageSignature"]["signature"])),
        "signature",
    ),
    "SET": (
        lambda d: _entry(d)["inclusionPromise"].__setitem__(
            "signedEntryTimestamp", _flip_b64(_entry(d)["inclusionPromise"]["signedEntryTimestamp"])
        ),
        "signed entry timestamp",
    ),
    "integrated time": (lambda d: _entry(d).__setitem__("integratedTime", "1766077480"), "signed entry timestamp"),
    "proof hash": (
        lambda d: _entry(d)["inclusionProof"]["hashes"].__setitem__(
            0, _flip_b64(_entry(d)["inclusionProof"]["hashes"][0])
        ),
        "inclusion proof",
    ),
    "proof index": (lambda d: _entry(d)["inclusionProof"].__setitem__("logIndex", "649584074"), "inclusion proof"),
    "checkpoint signature": (
        lambda d: _entry(d)["inclusionProof"]["checkpoint"].__setitem__(
            "envelope", _entry(d)["inclusionProof"]["checkpoint"]["envelope"].replace("wNI9ajBFAiB", "wNI9ajBFAiC")
        ),
        "checkpoint",
    ),
    "no checkpoint": (lambda d: _entry(d)["inclusionProof"].pop("checkpoint"), "checkpoint"),
    "no proof": (lambda d: _entry(d).pop("inclusionProof"), "inclusion proof"),
    "body": (_swap_body_hash, "does not match"),
    "log id": (
        lambda d: _entry(d)["logId"].__setitem__("keyId", base64.b64encode(b"x" * 32).decode()),
        "not in the trusted root",
    ),
    "future": (lambda d: _entry(d).__setitem__("integratedTime", "99999999999"), "in the future"),
    "negative index": (lambda d: _entry(d).__setitem__("logIndex", "-1"), "negative"),
    "digest": (
        lambda d: d["messageSignature"].__setitem__(
            "messageDigest", {"algorithm": "SHA2_256", "digest": base64.b64encode(b"\0" * 32).decode()}
        ),
        "message digest",
    ),
    "bad base64": (lambda d: d["messageSignature"].__setitem__("signature", "!!!"), "base64"),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_tampered_managed_key_bundle_is_rejected(name: str) -> None:
    document = copy.deepcopy(managed())
    tamper, message = TAMPERS[name]
    tamper(document)
    with pytest.raises(VerificationError, match=message):
        verify(document)


def test_wrong_artifact() -> None:
    with pytest.raises(VerificationError):
        verify(managed(), sb.Artifact.from_bytes(b"something else"))


def test_wrong_key() -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    parsed = sb.parse_bundle(json.dumps(managed()).encode(), "bundle")
    with pytest.raises(VerificationError, match="does not verify"):
        sb.verify_with_key(parsed, ARTIFACT, other, default_trusted_root())


def test_sigstore_go_public_key_bundle() -> None:
    key = keys.load_public_key((GO / "public-key-validity.pem").read_bytes(), "pem")
    root = load_trusted_root(GO / "public-key-validity.json")
    parsed = sb.parse_bundle((GO / "public-key-validity.sigstore.json").read_bytes(), "go")
    result = sb.verify_with_key(parsed, sb.Artifact.from_bytes(b"test content"), key, root)
    assert result.tlog_entries == 0
    with pytest.raises(VerificationError):
        sb.verify_with_key(parsed, sb.Artifact.from_bytes(b"test content!"), key, root)
    with pytest.raises(VerificationError, match="required"):
        sb.verify_with_key(parsed, sb.Artifact.from_bytes(b"test content"), key, root, require_tlog=True)


def test_dsse_round_trip_and_pae() -> None:
    assert sb.pae("t", b"ab") == b"DSSEv1 1 t 2 ab"
    private = ec.generate_private_key(ec.SECP256R1())
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "x", "digest": {"sha256": ARTIFACT.sha256.hex()}}],
        "predicateType": "https://example.com/p",
        "predicate": {},
    }
    envelope = sb.sign_dsse(private, sb.INTOTO_PAYLOAD_TYPE, json.dumps(statement).encode())
    data = sb.key_bundle(private.public_key(), envelope)
    parsed = sb.parse_bundle(data, "b")
    result = sb.verify_with_key(parsed, ARTIFACT, private.public_key(), default_trusted_root())
    assert result.envelope == envelope
    with pytest.raises(VerificationError, match="no in-toto subject"):
        sb.verify_with_key(parsed, sb.Artifact.from_bytes(b"other"), private.public_key(), default_trusted_root())
    swapped = json.loads(data)
    swapped["dsseEnvelope"]["payloadType"] = "text/plain"
    with pytest.raises(VerificationError, match="DSSE signature"):
        sb.verify_with_key(
            sb.parse_bundle(json.dumps(swapped).encode(), "b"), ARTIFACT, private.public_key(), default_trusted_root()
        )


def test_oversized_bundle() -> None:
    with pytest.raises(VerificationError, match="larger than"):
        sb.parse_bundle(b" " * (sb.MAX_BUNDLE + 1), "b")


def test_inclusion_proof_known_vectors() -> None:
    # a tree of 3 leaves: root = H(1 || H(1 || l0 || l1) || l2)
    import hashlib

    leaves = [hashlib.sha256(b"\0" + bytes([i])).digest() for i in range(3)]
    node = hashlib.sha256(b"\1" + leaves[0] + leaves[1]).digest()
    root = hashlib.sha256(b"\1" + node + leaves[2]).digest()
    assert sb.root_from_inclusion_proof(2, 3, leaves[2], [node], "t") == root
    assert sb.root_from_inclusion_proof(0, 3, leaves[0], [leaves[1], leaves[2]], "t") == root
    with pytest.raises(VerificationError):
        sb.root_from_inclusion_proof(3, 3, leaves[2], [node], "t")
