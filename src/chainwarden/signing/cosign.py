"""Image signatures in both layouts cosign has used, on any OCI registry.

- **bundle** (cosign ≥ 3 default): a Sigstore bundle v0.3 whose DSSE envelope
  holds an in-toto Statement v1 (predicateType ``https://sigstore.dev/cosign/sign/v1``)
  about the manifest digest, pushed as an OCI 1.1 referrer of the image
  (``artifactType`` the bundle media type, annotations
  ``dev.sigstore.bundle.content=dsse-envelope`` and
  ``dev.sigstore.bundle.predicateType``). Where the registry has no referrers
  API (Debian's ``docker-registry``) the ``sha256-<hex>`` referrers tag index
  is maintained, as the OCI distribution spec's fallback says.
- **legacy** (``--legacy-tag``): tag ``sha256-<hex>.sig``, one
  ``application/vnd.dev.cosign.simplesigning.v1+json`` layer per signature with
  the base64 signature in annotation ``dev.cosignproject.cosign/signature``
  (plus ``dev.sigstore.cosign/certificate|chain|bundle`` when keyless).
  Attestations use ``sha256-<hex>.att`` with DSSE envelope layers.

Verification starts from the digest the reference resolves to — a tag is read
once, to learn the digest, and never trusted again: each signature must name
that digest (simple-signing ``docker-manifest-digest`` or the in-toto subject),
each referrer manifest must have it as ``subject``, and each blob is checked
against the digest it is fetched by.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chainwarden.errors import InvalidImageError, SigningError, VerificationError
from chainwarden.models import Digest
from chainwarden.signing import bundle as sigbundle
from chainwarden.signing import keys
from chainwarden.signing.trustroot import TrustedRoot
from chainwarden.sources.image import MEDIA_OCI_MANIFEST, parse_json_blob
from chainwarden.sources.registry import ImageReference, RegistryClient, referrers_tag

BUNDLE_MEDIA_TYPE = sigbundle.MEDIA_V03
SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_LAYER_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
EMPTY_CONFIG_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
EMPTY_CONFIG = b"{}"
ANNOTATION_SIGNATURE = "dev.cosignproject.cosign/signature"
ANNOTATION_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANNOTATION_CHAIN = "dev.sigstore.cosign/chain"
ANNOTATION_REKOR_BUNDLE = "dev.sigstore.cosign/bundle"
ANNOTATION_PREDICATE_TYPE = "predicateType"
ANNOTATION_BUNDLE_CONTENT = "dev.sigstore.bundle.content"
ANNOTATION_BUNDLE_PREDICATE = "dev.sigstore.bundle.predicateType"
ANNOTATION_CREATED = "org.opencontainers.image.created"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
INTOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"
SIMPLESIGNING_TYPE = "cosign container image signature"
#: Payloads and bundles are small; anything larger is refused before it is read.
MAX_PAYLOAD = sigbundle.MAX_BUNDLE
#: A signature image with more layers than this is hostile, not busy.
MAX_SIGNATURES = 256

LAYOUT_BUNDLE = "bundle"
LAYOUT_LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """Who must have signed: a key, or a certificate identity + issuer under ``trusted_root``."""

    trusted_root: TrustedRoot
    key: keys.PublicKey | None = None
    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    require_tlog: bool = False
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keyless = self.identity or self.identity_regexp or self.issuer
        if self.key is not None and keyless:
            raise SigningError("give either --key or --certificate-identity/--certificate-oidc-issuer, not both")
        if self.key is None and not keyless:
            raise SigningError("verification needs --key, or --certificate-identity and --certificate-oidc-issuer")
        if self.key is None and not (self.identity or self.identity_regexp):
            raise SigningError("keyless verification needs --certificate-identity or --certificate-identity-regexp")
        if self.key is None and not self.issuer:
            raise SigningError("keyless verification needs --certificate-oidc-issuer")

    def verify_bundle(
        self, parsed: sigbundle.ParsedBundle, artifact: sigbundle.Artifact | None
    ) -> sigbundle.VerifiedBundle:
        if self.key is not None:
            return sigbundle.verify_with_key(
                parsed, artifact, self.key, self.trusted_root, require_tlog=self.require_tlog
            )
        return sigbundle.verify_keyless(
            parsed,
            artifact,
            self.trusted_root,
            identity=self.identity,
            identity_regexp=self.identity_regexp,
            issuer=self.issuer,
        )


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """One signature (or attestation) that verified, and what vouched for it."""

    layout: str  # "bundle" | "legacy"
    source: str  # referrer manifest digest, or "<tag> layer N"
    method: str  # "key" | "keyless"
    key_id: str | None
    identity: str | None
    issuer: str | None
    tlog_entries: int
    annotations: Mapping[str, str]
    statement: Mapping[str, Any] | None = None  # attestations: the in-toto Statement


@dataclass(frozen=True, slots=True)
class Rejected:
    layout: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImageVerification:
    """Outcome for one image: the digest checked, what verified, what was rejected and why."""

    reference: str
    digest: Digest
    verified: tuple[VerifiedSignature, ...]
    rejected: tuple[Rejected, ...]

    def failure(self, minimum: int, what: str = "signature") -> str | None:
        """None when at least ``minimum`` verified; else one line saying why not."""
        if len(self.verified) >= minimum:
            return None
        where = f"{self.reference}@{self.digest}" if "@" not in self.reference else self.reference
        if not self.verified and not self.rejected:
            return (
                f"{where}: no {what}s found (referrers of {self.digest[:19]}… and tag {legacy_tag(self.digest, what)})"
            )
        reasons = "; ".join(f"{r.source}: {r.reason}" for r in self.rejected[:3])
        more = f" (+{len(self.rejected) - 3} more)" if len(self.rejected) > 3 else ""
        count = f"{len(self.verified)} of {minimum} required {what}s verified"
        return f"{where}: {count}" + (f"; {reasons}{more}" if reasons else "")


@dataclass(frozen=True, slots=True)
class SignResult:
    reference: str
    digest: Digest
    layout: str
    location: str  # referrer manifest digest, or the legacy tag


def legacy_tag(digest: str, what: str = "signature") -> str:
    """``sha256-<hex>.sig`` (``.att`` for attestations)."""
    return referrers_tag(digest) + (".att" if what == "attestation" else ".sig")


def resolve(client: RegistryClient) -> tuple[Digest, str, int]:
    """(digest, media type, size) of what the reference names, fetched and verified once."""
    body, media_type, digest = client.get_manifest(client.ref.manifest_reference)
    if not media_type:
        media_type = str(parse_json_blob(body, f"{client.where}: manifest").get("mediaType", MEDIA_OCI_MANIFEST))
    return digest, media_type, len(body)


def docker_reference(ref: ImageReference) -> str:
    """``registry/repository`` as cosign writes ``critical.identity.docker-reference``."""
    return f"{ref.registry}/{ref.repository}"


# -- signing -------------------------------------------------------------------------------


def signature_statement(digest: Digest, annotations: Mapping[str, str]) -> bytes:
    """cosign 3's signing statement: subject = the manifest digest (with ``-a`` annotations)."""
    subject: dict[str, Any] = {"digest": {"sha256": digest.removeprefix("sha256:")}}
    if annotations:
        subject["annotations"] = dict(annotations)
    statement = {
        "_type": INTOTO_STATEMENT_V1,
        "subject": [subject],
        "predicateType": COSIGN_SIGN_PREDICATE,
        "predicate": {},
    }
    return json.dumps(statement, separators=(",", ":")).encode()


def simplesigning_payload(ref: ImageReference, digest: Digest, annotations: Mapping[str, str]) -> bytes:
    """The legacy payload cosign signs (sigstore/sigstore ``payload.Cosign``)."""
    payload = {
        "critical": {
            "identity": {"docker-reference": docker_reference(ref)},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLESIGNING_TYPE,
        },
        "optional": dict(annotations) if annotations else None,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def push_bundle_referrer(
    client: RegistryClient, subject: tuple[Digest, str, int], bundle_bytes: bytes, predicate_type: str
) -> Digest:
    """Push ``bundle_bytes`` as cosign 3 does (``WriteAttestationNewBundleFormat``); return the manifest digest."""
    digest, media_type, size = subject
    config_digest = client.push_blob(EMPTY_CONFIG)
    layer_digest = client.push_blob(bundle_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": EMPTY_CONFIG_MEDIA_TYPE, "digest": config_digest, "size": len(EMPTY_CONFIG)},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": layer_digest, "size": len(bundle_bytes)}],
        "subject": {"mediaType": media_type, "digest": digest, "size": size},
        "annotations": {
            ANNOTATION_CREATED: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            ANNOTATION_BUNDLE_CONTENT: "dsse-envelope",
            ANNOTATION_BUNDLE_PREDICATE: predicate_type,
        },
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    return client.attach_referrer(digest, body, MEDIA_OCI_MANIFEST, BUNDLE_MEDIA_TYPE)


def push_legacy_layer(
    client: RegistryClient, tag: str, payload: bytes, media_type: str, annotations: Mapping[str, str]
) -> str:
    """Add one layer to the ``.sig``/``.att`` image at ``tag`` (created if absent), keeping the others."""
    layers: list[dict[str, Any]] = []
    existing = client.find_manifest(tag)
    if existing is not None:
        manifest = parse_json_blob(existing[0], f"{client.where}: {tag}")
        old = manifest.get("layers")
        if isinstance(old, list):
            layers = [layer for layer in old if isinstance(layer, dict)]
    layer_digest = client.push_blob(payload)
    new = {"mediaType": media_type, "digest": layer_digest, "size": len(payload), "annotations": dict(annotations)}
    layers = [layer for layer in layers if layer != new] + [new]
    if len(layers) > MAX_SIGNATURES:
        raise SigningError(f"{client.where}: {tag} already holds {MAX_SIGNATURES} signatures")
    # the config cosign writes for signature images: an empty image whose rootfs lists the payloads
    config = {
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        "config": {},
    }
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    config_digest = client.push_blob(config_bytes)
    manifest_body = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG_MEDIA_TYPE, "size": len(config_bytes), "digest": config_digest},
        "layers": layers,
    }
    client.put_manifest(tag, json.dumps(manifest_body, separators=(",", ":")).encode(), MEDIA_OCI_MANIFEST)
    return tag


def sign_image(
    client: RegistryClient,
    key: keys.PrivateKey,
    *,
    legacy: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> SignResult:
    """Sign the manifest ``client.ref`` resolves to, with ``key``, in the chosen layout."""
    annotations = dict(annotations or {})
    subject = resolve(client)
    digest = subject[0]
    if legacy:
        payload = simplesigning_payload(client.ref, digest, annotations)
        signature = base64.b64encode(keys.sign(key, payload)).decode()
        tag = legacy_tag(digest)
        push_legacy_layer(client, tag, payload, SIMPLESIGNING_MEDIA_TYPE, {ANNOTATION_SIGNATURE: signature})
        return SignResult(str(client.ref), digest, LAYOUT_LEGACY, tag)
    envelope = sigbundle.sign_dsse(key, sigbundle.INTOTO_PAYLOAD_TYPE, signature_statement(digest, annotations))
    bundle_bytes = sigbundle.key_bundle(key.public_key(), envelope)
    manifest = push_bundle_referrer(client, subject, bundle_bytes, COSIGN_SIGN_PREDICATE)
    return SignResult(str(client.ref), digest, LAYOUT_BUNDLE, manifest)


# -- discovery and verification -------------------------------------------------------------


def bundle_referrers(client: RegistryClient, digest: Digest, predicate_type: str | None) -> Iterator[tuple[str, bytes]]:
    """(source label, bundle bytes) of every bundle referrer of ``digest`` (of ``predicate_type`` when given).

    Each referrer manifest is fetched by digest (so verified), must name
    ``digest`` as its subject, and its bundle layer is fetched by digest with a
    size bound. Problems with one referrer surface when its bundle is verified.
    """
    for entry in client.referrers(digest)[:MAX_SIGNATURES]:
        artifact_type = entry.get("artifactType")
        if artifact_type not in (None, BUNDLE_MEDIA_TYPE):
            continue
        annotations = entry.get("annotations") if isinstance(entry.get("annotations"), dict) else {}
        listed_type = annotations.get(ANNOTATION_BUNDLE_PREDICATE) if annotations else None
        if predicate_type and listed_type not in (None, predicate_type):
            continue
        manifest_digest = str(entry["digest"])
        label = f"referrer {manifest_digest[:19]}"
        yield label, _referrer_bundle(client, Digest(manifest_digest), digest, label)


def _referrer_bundle(client: RegistryClient, manifest_digest: Digest, subject: Digest, label: str) -> bytes:
    try:
        body, _, _ = client.get_manifest(manifest_digest)
        manifest = parse_json_blob(body, label)
    except InvalidImageError as exc:
        return _broken(str(exc))
    declared = manifest.get("subject")
    if not isinstance(declared, dict) or declared.get("digest") != subject:
        return _broken(f"{label}: its subject is not {subject[:19]}… (referrer index lies)")
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers or not isinstance(layers[0], dict):
        return _broken(f"{label}: no bundle layer")
    layer = layers[0]
    size = layer.get("size")
    if layer.get("mediaType") != BUNDLE_MEDIA_TYPE or not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD:
        return _broken(f"{label}: layer is not a bundle of at most {MAX_PAYLOAD} bytes")
    try:
        return client.get_blob(Digest(str(layer.get("digest"))), max_size=MAX_PAYLOAD)
    except InvalidImageError as exc:
        return _broken(str(exc))


_BROKEN_PREFIX = b"\0chainwarden-broken\0"


def _broken(reason: str) -> bytes:
    """A sentinel that :func:`verify_image` turns into a rejection (keeps discovery a plain iterator)."""
    return _BROKEN_PREFIX + reason.encode()


def raise_if_broken(data: bytes) -> None:
    """Turn what discovery could not fetch or check into the rejection it is."""
    if data.startswith(_BROKEN_PREFIX):
        raise VerificationError(data[len(_BROKEN_PREFIX) :].decode())


def legacy_layers(client: RegistryClient, digest: Digest, what: str) -> Iterator[tuple[str, dict[str, Any], bytes]]:
    """(label, layer descriptor, verified blob) of each layer of the ``.sig``/``.att`` image of ``digest``."""
    tag = legacy_tag(digest, what)
    found = client.find_manifest(tag)
    if found is None:
        return
    manifest = parse_json_blob(found[0], f"{client.where}: {tag}")
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        return
    for index, layer in enumerate(layers[:MAX_SIGNATURES]):
        label = f"{tag} layer {index}"
        if not isinstance(layer, dict):
            yield label, {}, _broken("layer descriptor is not an object")
            continue
        size = layer.get("size")
        if not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD:
            yield label, layer, _broken(f"payload of {size} bytes exceeds the {MAX_PAYLOAD}-byte bound")
            continue
        try:
            yield label, layer, client.get_blob(Digest(str(layer.get("digest"))), max_size=MAX_PAYLOAD)
        except InvalidImageError as exc:
            yield label, layer, _broken(str(exc))


def verify_image(
    client: RegistryClient,
    policy: VerifyPolicy,
    *,
    layouts: tuple[str, ...] = (LAYOUT_BUNDLE, LAYOUT_LEGACY),
) -> ImageVerification:
    """Every signature of the image ``client.ref`` resolves to, verified under ``policy``."""
    digest, _, _ = resolve(client)
    artifact = sigbundle.Artifact.from_digest(digest)
    verified: list[VerifiedSignature] = []
    rejected: list[Rejected] = []

    def attempt(layout: str, label: str, check: Callable[[], VerifiedSignature | None]) -> None:
        try:
            result = check()
        except VerificationError as exc:
            rejected.append(Rejected(layout, label, strip_label(exc.diagnostics(), label)))
            return
        if result is not None:
            verified.append(result)

    if LAYOUT_BUNDLE in layouts:
        for label, data in bundle_referrers(client, digest, COSIGN_SIGN_PREDICATE):
            attempt(LAYOUT_BUNDLE, label, functools.partial(_check_bundle_signature, data, label, artifact, policy))
    if LAYOUT_LEGACY in layouts:
        for label, layer, data in legacy_layers(client, digest, "signature"):
            attempt(
                LAYOUT_LEGACY, label, functools.partial(_check_legacy_signature, layer, data, label, digest, policy)
            )
    return ImageVerification(str(client.ref), digest, tuple(verified), tuple(rejected))


def _check_bundle_signature(
    data: bytes, label: str, artifact: sigbundle.Artifact, policy: VerifyPolicy
) -> VerifiedSignature | None:
    raise_if_broken(data)
    parsed = sigbundle.parse_bundle(data, label)
    if parsed.envelope is not None and parsed.envelope.payload_type == sigbundle.INTOTO_PAYLOAD_TYPE:
        try:
            listed = json.loads(parsed.envelope.payload).get("predicateType")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            listed = None
        if isinstance(listed, str) and listed != COSIGN_SIGN_PREDICATE:
            return None  # an attestation, not a signature: verify-attestation's business
    result = policy.verify_bundle(parsed, artifact)
    assert result.envelope is not None or parsed.envelope is None
    if parsed.envelope is None:
        raise VerificationError(f"{label}: bundle holds a message signature, not the DSSE statement cosign signs")
    statement = sigbundle.check_statement_subject(parsed.envelope, artifact, label)
    if statement.get("predicateType") != COSIGN_SIGN_PREDICATE:
        raise VerificationError(f"{label}: predicateType is not {COSIGN_SIGN_PREDICATE}")
    annotations = _subject_annotations(statement, artifact)
    _require_annotations(annotations, policy.annotations, label)
    return VerifiedSignature(
        LAYOUT_BUNDLE,
        label,
        result.method,
        result.key_id,
        result.identity,
        result.issuer,
        result.tlog_entries,
        annotations,
    )


def _check_legacy_signature(
    layer: Mapping[str, Any], data: bytes, label: str, digest: Digest, policy: VerifyPolicy
) -> VerifiedSignature:
    raise_if_broken(data)
    if layer.get("mediaType") != SIMPLESIGNING_MEDIA_TYPE:
        raise VerificationError(f"media type {str(layer.get('mediaType'))[:80]!r} is not simple signing")
    annotations = layer.get("annotations") if isinstance(layer.get("annotations"), dict) else {}
    assert isinstance(annotations, dict)
    encoded = annotations.get(ANNOTATION_SIGNATURE)
    if not isinstance(encoded, str) or not encoded:
        raise VerificationError(f"no {ANNOTATION_SIGNATURE} annotation")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("signature annotation is not valid base64") from exc
    if policy.key is not None:
        keys.verify_signature(policy.key, signature, data, "simple-signing payload")
        method, key_id, identity, issuer, entries = "key", keys.key_id(policy.key), None, None, 0
        if policy.require_tlog:
            raise VerificationError("no transparency log entry (required); legacy key signatures carry none here")
    else:
        result = _verify_legacy_keyless(annotations, signature, data, label, policy)
        method, key_id, identity, issuer, entries = "keyless", None, result.identity, result.issuer, result.tlog_entries
    try:
        payload = json.loads(data)
        critical = payload["critical"]
        signed_digest = critical["image"]["docker-manifest-digest"]
        signed_type = critical["type"]
        optional = payload.get("optional") or {}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise VerificationError("simple-signing payload is not the JSON cosign signs") from exc
    if signed_type != SIMPLESIGNING_TYPE:
        raise VerificationError(f"payload type {str(signed_type)[:60]!r} is not {SIMPLESIGNING_TYPE!r}")
    if signed_digest != digest:
        raise VerificationError(f"payload signs {str(signed_digest)[:80]}, not this image's {digest}")
    if not isinstance(optional, dict):
        raise VerificationError("payload's optional section is not an object")
    flat = {str(k): str(v) for k, v in optional.items()}
    _require_annotations(flat, policy.annotations, label)
    return VerifiedSignature(LAYOUT_LEGACY, label, method, key_id, identity, issuer, entries, flat)


def _verify_legacy_keyless(
    annotations: Mapping[str, Any], signature: bytes, payload: bytes, label: str, policy: VerifyPolicy
) -> sigbundle.VerifiedBundle:
    """A keyless ``.sig`` layer, re-expressed as the v0.1 bundle it is, and verified keyless.

    The certificate annotation is the Fulcio leaf (PEM), the chain annotation
    its intermediates, and the Rekor bundle annotation the SET with the entry's
    body, time, index and log id — exactly a v0.1 bundle's material.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = annotations.get(ANNOTATION_CERTIFICATE)
    rekor = annotations.get(ANNOTATION_REKOR_BUNDLE)
    if not isinstance(certificate, str) or not isinstance(rekor, str):
        raise VerificationError("keyless verification needs the certificate and Rekor bundle annotations")
    try:
        pems = [certificate.encode()]
        chain = annotations.get(ANNOTATION_CHAIN)
        if isinstance(chain, str) and chain:
            pems.append(chain.encode())
        ders = [
            base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            for pem in pems
            for cert in x509.load_pem_x509_certificates(pem)
        ]
        rekor_bundle = json.loads(rekor)
        entry_payload = rekor_bundle["Payload"]
        body = json.loads(base64.b64decode(entry_payload["body"]))
        kind = {"kind": body["kind"], "version": body["apiVersion"]}
        entry = {
            "logIndex": str(entry_payload["logIndex"]),
            "logId": {"keyId": base64.b64encode(bytes.fromhex(entry_payload["logID"])).decode()},
            "kindVersion": kind,
            "integratedTime": str(entry_payload["integratedTime"]),
            "inclusionPromise": {"signedEntryTimestamp": rekor_bundle["SignedEntryTimestamp"]},
            "canonicalizedBody": entry_payload["body"],
        }
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise VerificationError(f"malformed certificate or Rekor bundle annotation ({type(exc).__name__})") from exc
    document = {
        "mediaType": sigbundle.MEDIA_V01,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": der} for der in ders]},
            "tlogEntries": [entry],
        },
        "messageSignature": {
            "messageDigest": {
                "algorithm": "SHA2_256",
                "digest": base64.b64encode(hashlib.sha256(payload).digest()).decode(),
            },
            "signature": base64.b64encode(signature).decode(),
        },
    }
    parsed = sigbundle.parse_bundle(json.dumps(document).encode(), label)
    return policy.verify_bundle(parsed, sigbundle.Artifact.from_bytes(payload))


def _subject_annotations(statement: Mapping[str, Any], artifact: sigbundle.Artifact) -> dict[str, str]:
    for subject in statement.get("subject", []):
        if isinstance(subject, dict) and subject.get("digest", {}).get("sha256") == artifact.sha256.hex():
            annotations = subject.get("annotations")
            if isinstance(annotations, dict):
                return {str(k): str(v) for k, v in annotations.items()}
    return {}


def _require_annotations(found: Mapping[str, str], wanted: Mapping[str, str], label: str) -> None:
    for name, value in wanted.items():
        if found.get(name) != value:
            raise VerificationError(
                f"annotation {name}={value!r} required, signed value is {found.get(name)!r}"
                if name in found
                else f"annotation {name}={value!r} required, not signed"
            )


def strip_label(message: str, label: str) -> str:
    return message.removeprefix(f"{label}: ")
