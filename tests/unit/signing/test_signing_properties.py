"""Hostile input never crashes the parsers: every failure is the one error type the CLI turns into one line."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden.errors import KeyFileError, SigningError, VerificationError
from chainwarden.signing import bundle as sb
from chainwarden.signing import keys
from chainwarden.signing.trustroot import default_trusted_root, parse_trusted_root

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
KEYS_OF_A_BUNDLE = st.sampled_from(
    [
        "mediaType",
        "verificationMaterial",
        "messageSignature",
        "dsseEnvelope",
        "publicKey",
        "certificate",
        "x509CertificateChain",
        "tlogEntries",
        "timestampVerificationData",
        "payload",
        "payloadType",
        "signatures",
    ]
)
ROOT = default_trusted_root()


def bundle_like() -> st.SearchStrategy[dict[str, Any]]:
    media = st.sampled_from(sorted(sb.BUNDLE_VERSIONS)) | st.text(max_size=10)
    return st.fixed_dictionaries(
        {"mediaType": media},
        optional={
            "verificationMaterial": st.dictionaries(KEYS_OF_A_BUNDLE, JSON, max_size=3)
            | st.just({"publicKey": {"hint": "x"}, "tlogEntries": [{}]}),
            "messageSignature": st.dictionaries(st.sampled_from(["signature", "messageDigest"]), JSON, max_size=2),
            "dsseEnvelope": st.dictionaries(KEYS_OF_A_BUNDLE, JSON, max_size=3),
        },
    )


@settings(max_examples=300, deadline=None)
@given(bundle_like(), st.binary(min_size=32, max_size=32))
def test_bundle_parser_and_keyed_verifier_only_raise_verification_errors(
    document: dict[str, Any], digest: bytes
) -> None:
    key = keys.load_public_key(
        b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5U"
        b"ogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==\n-----END PUBLIC KEY-----\n",
        "k",
    )
    with contextlib.suppress(VerificationError):
        parsed = sb.parse_bundle(json.dumps(document).encode(), "fuzz")
        sb.verify_with_key(parsed, sb.Artifact(digest), key, ROOT)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_bundle_parser_on_bytes(data: bytes) -> None:
    with contextlib.suppress(VerificationError):
        sb.parse_bundle(data, "fuzz")


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_encrypted_key_body_only_raises_key_file_errors(body: Any) -> None:
    pem = keys._pem(keys.PEM_SIGSTORE, json.dumps(body).encode())
    with contextlib.suppress(KeyFileError):
        keys.load_private_key(pem, b"x", "fuzz")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_key_files_on_bytes(data: bytes) -> None:
    for loader in (lambda: keys.load_private_key(data, b"x", "fuzz"), lambda: keys.load_public_key(data, "fuzz")):
        with contextlib.suppress(KeyFileError):
            loader()
    wrapped = b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(data) + b"-----END PUBLIC KEY-----\n"
    with contextlib.suppress(KeyFileError):
        keys.load_public_key(wrapped, "fuzz")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["mediaType", "tlogs", "ctlogs", "certificateAuthorities", "timestampAuthorities"]), JSON
    )
)
def test_trusted_root_parser_only_raises_signing_errors(document: dict[str, Any]) -> None:
    document.setdefault("mediaType", "application/vnd.dev.sigstore.trustedroot+json;version=0.1")
    with contextlib.suppress(SigningError):
        parse_trusted_root(json.dumps(document).encode(), "fuzz")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


MANAGED = json.loads(
    (Path(__file__).parent / "fixtures/conformance/managed-key-happy-path/bundle.sigstore.json").read_text()
)
MANAGED_PATHS = _paths(MANAGED)[1:]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MANAGED_PATHS), JSON)
def test_mutated_real_bundle_is_rejected_cleanly(path: tuple[Any, ...], replacement: Any) -> None:
    """Any one field of a real keyed bundle replaced by any JSON value: no crash, no traceback."""
    import copy

    document = copy.deepcopy(MANAGED)
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    case = Path(__file__).parent / "fixtures/conformance"
    key = keys.load_public_key((case / "managed-key-happy-path/key.pub").read_bytes(), "k")
    artifact = sb.Artifact.from_bytes((case / "a.txt").read_bytes())
    # verified (an optional field dropped) or a VerificationError: never another exception
    with contextlib.suppress(VerificationError):
        parsed = sb.parse_bundle(json.dumps(document).encode(), "fuzz")
        sb.verify_with_key(parsed, artifact, key, ROOT)


KEYLESS_CASES = {
    name: json.loads((Path(__file__).parent / "fixtures/conformance" / name / "bundle.sigstore.json").read_text())
    for name in ("happy-path-v0.3", "intoto-with-custom-trust-root", "happy-path-v0.1")
}
KEYLESS_PATHS = [(name, path) for name, document in KEYLESS_CASES.items() for path in _paths(document)[1:]]
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(KEYLESS_PATHS), JSON)
def test_mutated_keyless_bundles_are_rejected_cleanly(case_path: tuple[str, tuple[Any, ...]], replacement: Any) -> None:
    """Both keyless paths (sigstore-python's and chainwarden's own): no exception but VerificationError."""
    import copy

    name, path = case_path
    document = copy.deepcopy(KEYLESS_CASES[name])
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = replacement
    case = Path(__file__).parent / "fixtures/conformance"
    root_file = case / name / "trusted_root.json"
    root = parse_trusted_root(root_file.read_bytes(), "root") if root_file.exists() else ROOT
    artifact_file = case / name / "artifact"
    artifact = sb.Artifact.from_bytes((artifact_file if artifact_file.exists() else case / "a.txt").read_bytes())
    with contextlib.suppress(VerificationError):
        parsed = sb.parse_bundle(json.dumps(document).encode(), "fuzz")
        sb.verify_keyless(
            parsed, artifact, root, identity=IDENTITY, issuer="https://token.actions.githubusercontent.com"
        )


def _npm_document() -> dict[str, Any]:
    base = Path(__file__).parent / "fixtures/npm-provenance"
    return {
        "attestations": [
            {
                "predicateType": "https://github.com/npm/attestation/tree/main/specs/publish/v0.1",
                "bundle": json.loads((base / "bundle-publish.json").read_text()),
            },
            {
                "predicateType": "https://slsa.dev/provenance/v0.2",
                "bundle": json.loads((base / "bundle-provenance.json").read_text()),
            },
        ]
    }


NPM_DOCUMENT = _npm_document()
PYPI_DOCUMENT = json.loads(
    (Path(__file__).parent / "fixtures/pypi-attestations/gcb_attestation_test-0.0.0.tar.gz.provenance").read_text()
)
PROVENANCE_PATHS = [("npm", p) for p in _paths(NPM_DOCUMENT)[1:]] + [("pypi", p) for p in _paths(PYPI_DOCUMENT)]
SIGSTORE_INTEGRITY = (
    "sha512-"
    + base64.b64encode(
        bytes.fromhex(
            "76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
            "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"
        )
    ).decode()
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PROVENANCE_PATHS), JSON)
def test_mutated_provenance_documents_give_a_verdict(case_path: tuple[str, tuple[Any, ...]], replacement: Any) -> None:
    """Whatever a registry serves, the answer is a verdict (verified/none/invalid), never an exception."""
    import copy

    from chainwarden.signing import provenance as pv

    ecosystem, path = case_path
    document: Any = copy.deepcopy(NPM_DOCUMENT if ecosystem == "npm" else PYPI_DOCUMENT)
    if path:
        target: Any = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = replacement
    else:
        document = replacement
    if ecosystem == "npm":
        result = pv.verify_npm(
            document, "sigstore", "1.3.0", SIGSTORE_INTEGRITY, npm_keys=pv.bundled_npm_keys(), trusted_root=ROOT
        )
    else:
        result = pv.verify_pypi(
            document,
            "gcb-attestation-test",
            "0.0.0",
            "gcb_attestation_test-0.0.0.tar.gz",
            "461317362419124b6012e855423a9078d6de8aed3e74fa78cc74d669b23dc6cf",
            trusted_root=ROOT,
        )
    assert result.status in set(pv.ProvenanceStatus)
