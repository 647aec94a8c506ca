"""A keyless legacy ``.sig`` layer (certificate, chain and Rekor bundle annotations) is verified as the v0.1 bundle it is.

The material comes from the sigstore-conformance ``happy-path-v0.1`` case (a real
Fulcio certificate and Rekor entry over ``a.txt``), laid out the way cosign lays out
a keyless signature layer. ``a.txt`` is not a simple-signing document, so a layer
whose cryptography all verifies is still rejected — at the payload step, which
proves the certificate, SCT, SET and signature steps before it passed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from chainwarden.errors import VerificationError
from chainwarden.models import Digest
from chainwarden.signing import cosign
from chainwarden.signing.trustroot import default_trusted_root

CASE = Path(__file__).parent / "fixtures" / "conformance"
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"


def layer() -> tuple[dict[str, Any], bytes]:
    bundle = json.loads((CASE / "happy-path-v0.1/bundle.sigstore.json").read_text())
    certificates = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]
    pems = [
        x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
        .public_bytes(serialization.Encoding.PEM)
        .decode()
        for c in certificates
    ]
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    rekor = {
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": int(entry["integratedTime"]),
            "logIndex": int(entry["logIndex"]),
            "logID": base64.b64decode(entry["logId"]["keyId"]).hex(),
        },
    }
    annotations = {
        cosign.ANNOTATION_SIGNATURE: bundle["messageSignature"]["signature"],
        cosign.ANNOTATION_CERTIFICATE: pems[0],
        cosign.ANNOTATION_CHAIN: "".join(pems[1:]),
        cosign.ANNOTATION_REKOR_BUNDLE: json.dumps(rekor),
    }
    descriptor = {"mediaType": cosign.SIMPLESIGNING_MEDIA_TYPE, "annotations": annotations}
    return descriptor, (CASE / "a.txt").read_bytes()


def check(descriptor: dict[str, Any], payload: bytes, identity: str = IDENTITY) -> None:
    policy = cosign.VerifyPolicy(default_trusted_root(), identity=identity, issuer=ISSUER)
    cosign._check_legacy_signature(descriptor, payload, "layer 0", Digest("sha256:" + "0" * 64), policy)


def test_keyless_layer_passes_every_cryptographic_step() -> None:
    descriptor, payload = layer()
    with pytest.raises(VerificationError, match="not the JSON cosign signs"):
        check(descriptor, payload)


def test_keyless_layer_wrong_identity() -> None:
    descriptor, payload = layer()
    with pytest.raises(VerificationError, match="does not match"):
        check(descriptor, payload, identity="https://github.com/someone/else")


def test_keyless_layer_tampered_set() -> None:
    descriptor, payload = layer()
    rekor = json.loads(descriptor["annotations"][cosign.ANNOTATION_REKOR_BUNDLE])
    rekor["Payload"]["integratedTime"] += 1
    descriptor["annotations"][cosign.ANNOTATION_REKOR_BUNDLE] = json.dumps(rekor)
    with pytest.raises(VerificationError, match="signed entry timestamp"):
        check(descriptor, payload)


def test_keyless_layer_tampered_payload() -> None:
    descriptor, payload = layer()
    with pytest.raises(VerificationError, match="does not verify"):
        check(descriptor, payload + b"!")


def test_keyless_layer_without_rekor_bundle() -> None:
    descriptor, payload = layer()
    del descriptor["annotations"][cosign.ANNOTATION_REKOR_BUNDLE]
    with pytest.raises(VerificationError, match="certificate and Rekor bundle annotations"):
        check(descriptor, payload)
