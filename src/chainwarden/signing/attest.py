"""In-toto attestations about images: build, sign (DSSE), push in both layouts, verify.

An attestation is an in-toto Statement v1 (``_type``
``https://in-toto.io/Statement/v1``) whose subject is the image's manifest
digest, wrapped in a DSSE envelope signed over its PAE. It is pushed as a
bundle referrer (cosign ≥ 3) or as a layer of the ``sha256-<hex>.att`` image
(media type ``application/vnd.dsse.envelope.v1+json``, annotation
``predicateType``), and ``verify_attestations`` finds either.

Predicates are checked for the shape their type promises before they are
signed (a CycloneDX predicate must be a CycloneDX BOM, and so on): a signature
over the wrong document is worse than none.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chainwarden.errors import SigningError, VerificationError
from chainwarden.models import Digest
from chainwarden.signing import bundle as sigbundle
from chainwarden.signing import cosign, keys
from chainwarden.sources.registry import RegistryClient

#: cosign's ``--type`` shorthands → predicate type URIs (cosign pkg/cosign/attestation).
PREDICATE_TYPES: Mapping[str, str] = {
    "cyclonedx": "https://cyclonedx.org/bom",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "openvex": "https://openvex.dev/ns",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "link": "https://in-toto.io/attestation/link/v0.3",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
}
MAX_PREDICATE = cosign.MAX_PAYLOAD - 64 * 1024


@dataclass(frozen=True, slots=True)
class AttestationVerification:
    """What verified for one image: each statement with the signature that vouched for it."""

    verification: cosign.ImageVerification

    @property
    def statements(self) -> list[Mapping[str, Any]]:
        return [v.statement for v in self.verification.verified if v.statement is not None]


def predicate_type_uri(name: str) -> str:
    """A ``--type`` shorthand or a URI, as the predicate type URI."""
    if name in PREDICATE_TYPES:
        return PREDICATE_TYPES[name]
    if "://" in name and " " not in name and len(name) <= 512:
        return name
    known = ", ".join(sorted(PREDICATE_TYPES))
    raise SigningError(f"predicate type {name[:80]!r} is neither one of {known} nor a URI")


def check_predicate(predicate_type: str, predicate: object) -> None:
    """Refuse a predicate that does not have the shape its type promises."""
    if not isinstance(predicate, dict):
        raise SigningError("the predicate must be a JSON object")
    checks: dict[str, Callable[[dict[str, Any]], str | None]] = {
        PREDICATE_TYPES["cyclonedx"]: lambda p: (
            None
            if p.get("bomFormat") == "CycloneDX" and isinstance(p.get("specVersion"), str)
            else "not a CycloneDX JSON BOM (bomFormat/specVersion)"
        ),
        PREDICATE_TYPES["spdx"]: lambda p: (
            None
            if isinstance(p.get("spdxVersion"), str) and str(p["spdxVersion"]).startswith("SPDX-")
            else "not an SPDX JSON document (spdxVersion)"
        ),
        PREDICATE_TYPES["slsaprovenance1"]: lambda p: (
            None
            if isinstance(p.get("buildDefinition"), dict) and isinstance(p.get("runDetails"), dict)
            else "not SLSA provenance v1 (buildDefinition/runDetails)"
        ),
        PREDICATE_TYPES["slsaprovenance"]: lambda p: (
            None if isinstance(p.get("builder"), dict) else "not SLSA provenance v0.2 (builder)"
        ),
        PREDICATE_TYPES["openvex"]: lambda p: (
            None
            if "openvex" in str(p.get("@context", "")) and isinstance(p.get("statements"), list)
            else "not an OpenVEX document (@context/statements)"
        ),
    }
    check = checks.get(predicate_type)
    problem = check(predicate) if check else None
    if problem:
        raise SigningError(f"predicate for {predicate_type}: {problem}")


def statement(client: RegistryClient, digest: Digest, predicate_type: str, predicate: Mapping[str, Any]) -> bytes:
    subject = {"name": cosign.docker_reference(client.ref), "digest": {"sha256": digest.removeprefix("sha256:")}}
    document = {
        "_type": cosign.INTOTO_STATEMENT_V1,
        "subject": [subject],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def attest_image(
    client: RegistryClient,
    key: keys.PrivateKey,
    predicate_type: str,
    predicate: Mapping[str, Any],
    *,
    legacy: bool = False,
) -> cosign.SignResult:
    """Sign an in-toto statement about the image ``client.ref`` resolves to, and push it."""
    check_predicate(predicate_type, predicate)
    subject = cosign.resolve(client)
    digest = subject[0]
    payload = statement(client, digest, predicate_type, predicate)
    if len(payload) > MAX_PREDICATE:
        raise SigningError(f"the statement is {len(payload)} bytes; at most {MAX_PREDICATE} are pushed")
    envelope = sigbundle.sign_dsse(key, sigbundle.INTOTO_PAYLOAD_TYPE, payload)
    if legacy:
        tag = cosign.legacy_tag(digest, "attestation")
        cosign.push_legacy_layer(
            client,
            tag,
            json.dumps(envelope.to_json(), separators=(",", ":")).encode(),
            cosign.DSSE_LAYER_MEDIA_TYPE,
            {cosign.ANNOTATION_SIGNATURE: "", cosign.ANNOTATION_PREDICATE_TYPE: predicate_type},
        )
        return cosign.SignResult(str(client.ref), digest, cosign.LAYOUT_LEGACY, tag)
    bundle_bytes = sigbundle.key_bundle(key.public_key(), envelope)
    manifest = cosign.push_bundle_referrer(client, subject, bundle_bytes, predicate_type)
    return cosign.SignResult(str(client.ref), digest, cosign.LAYOUT_BUNDLE, manifest)


def verify_attestations(
    client: RegistryClient,
    policy: cosign.VerifyPolicy,
    predicate_type: str | None,
    *,
    layouts: tuple[str, ...] = (cosign.LAYOUT_BUNDLE, cosign.LAYOUT_LEGACY),
) -> AttestationVerification:
    """Every attestation of the image (of ``predicate_type`` when given), verified under ``policy``."""
    digest, _, _ = cosign.resolve(client)
    artifact = sigbundle.Artifact.from_digest(digest)
    verified: list[cosign.VerifiedSignature] = []
    rejected: list[cosign.Rejected] = []

    def attempt(layout: str, label: str, check: Callable[[], cosign.VerifiedSignature | None]) -> None:
        try:
            result = check()
        except VerificationError as exc:
            rejected.append(cosign.Rejected(layout, label, cosign.strip_label(exc.diagnostics(), label)))
            return
        if result is not None:
            verified.append(result)

    if cosign.LAYOUT_BUNDLE in layouts:
        for label, data in cosign.bundle_referrers(client, digest, predicate_type):
            check = functools.partial(_check_bundle, data, label, artifact, policy, predicate_type)
            attempt(cosign.LAYOUT_BUNDLE, label, check)
    if cosign.LAYOUT_LEGACY in layouts:
        for label, layer, data in cosign.legacy_layers(client, digest, "attestation"):
            check = functools.partial(_check_legacy, layer, data, label, artifact, policy, predicate_type)
            attempt(cosign.LAYOUT_LEGACY, label, check)
    return AttestationVerification(cosign.ImageVerification(str(client.ref), digest, tuple(verified), tuple(rejected)))


def _check_bundle(
    data: bytes,
    label: str,
    artifact: sigbundle.Artifact,
    policy: cosign.VerifyPolicy,
    predicate_type: str | None,
) -> cosign.VerifiedSignature | None:
    cosign.raise_if_broken(data)
    parsed = sigbundle.parse_bundle(data, label)
    if parsed.envelope is None:
        raise VerificationError(f"{label}: bundle holds no DSSE envelope")
    found = sigbundle.parse_statement(parsed.envelope, label).get("predicateType")
    if found == cosign.COSIGN_SIGN_PREDICATE and predicate_type != found:
        return None  # an image signature, not an attestation
    result = policy.verify_bundle(parsed, artifact)
    document = _checked_statement(parsed.envelope, artifact, label, predicate_type)
    return cosign.VerifiedSignature(
        cosign.LAYOUT_BUNDLE,
        label,
        result.method,
        result.key_id,
        result.identity,
        result.issuer,
        result.tlog_entries,
        {},
        document,
    )


def _check_legacy(
    layer: Mapping[str, Any],
    data: bytes,
    label: str,
    artifact: sigbundle.Artifact,
    policy: cosign.VerifyPolicy,
    predicate_type: str | None,
) -> cosign.VerifiedSignature | None:
    cosign.raise_if_broken(data)
    if layer.get("mediaType") != cosign.DSSE_LAYER_MEDIA_TYPE:
        raise VerificationError(f"media type {str(layer.get('mediaType'))[:80]!r} is not a DSSE envelope")
    annotations = layer.get("annotations")
    listed = annotations.get(cosign.ANNOTATION_PREDICATE_TYPE) if isinstance(annotations, dict) else None
    if predicate_type and listed not in (None, predicate_type):
        return None
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError("DSSE envelope is not valid JSON") from exc
    envelope = sigbundle.parse_envelope(document, label)
    if policy.key is None:
        raise VerificationError("keyless legacy .att attestations are not supported; verify with --key")
    if not any(keys.signature_verifies(policy.key, sig, envelope.pae()) for sig, _ in envelope.signatures):
        raise VerificationError("DSSE signature does not verify with the given key")
    if policy.require_tlog:
        raise VerificationError("no transparency log entry (required)")
    statement_ = _checked_statement(envelope, artifact, label, predicate_type)
    return cosign.VerifiedSignature(
        cosign.LAYOUT_LEGACY, label, "key", keys.key_id(policy.key), None, None, 0, {}, statement_
    )


def _checked_statement(
    envelope: sigbundle.Envelope, artifact: sigbundle.Artifact, label: str, predicate_type: str | None
) -> dict[str, Any]:
    document = sigbundle.check_statement_subject(envelope, artifact, label)
    if document.get("_type") != cosign.INTOTO_STATEMENT_V1:
        raise VerificationError(f"{label}: _type {str(document.get('_type'))[:80]!r} is not in-toto Statement v1")
    if predicate_type and document.get("predicateType") != predicate_type:
        raise VerificationError(
            f"{label}: predicateType {str(document.get('predicateType'))[:80]!r} is not {predicate_type}"
        )
    return document
