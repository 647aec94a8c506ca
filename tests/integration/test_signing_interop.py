"""Bundles chainwarden writes verify with @sigstore/verify (sigstore-js), and tampered ones fail in both.

@sigstore/verify's low-level ``Verifier`` with ``toTrustMaterial`` and all
thresholds at 0 verifies plain-key bundles offline. It is installed, pinned, by
``make interop-tools`` (npm ci in tests/interop); the tests only run node.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from chainwarden.errors import VerificationError
from chainwarden.signing import bundle as sb
from chainwarden.signing import cosign, keys
from chainwarden.signing.trustroot import default_trusted_root
from chainwarden.sources.registry import RegistryClient, parse_reference
from integration.registry_server import RunningRegistry, missing_tools, skopeo_push, start_registry
from support.images import make_oci

pytestmark = pytest.mark.integration

INTEROP = Path(__file__).resolve().parents[1] / "interop"
SCRIPT = INTEROP / "verify_bundle.js"
TRUSTED_ROOT = Path(__file__).resolve().parents[2] / "src/chainwarden/data/sigstore/trusted_root.json"


@pytest.fixture(scope="module")
def node() -> str:
    binary = shutil.which("node")
    if binary is None:
        pytest.skip("needs node")
    if not (INTEROP / "node_modules/@sigstore/verify").is_dir():
        pytest.skip("needs @sigstore/verify: run `make interop-tools`")
    return binary


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {' and '.join(missing)}")
    running = start_registry(tmp_path_factory.mktemp("interop-registry"))
    yield running
    running.stop()


def js_verify(node: str, tmp_path: Path, bundle: bytes, key: keys.PublicKey) -> tuple[bool, str]:
    (tmp_path / "bundle.json").write_bytes(bundle)
    (tmp_path / "key.pub").write_bytes(keys.public_key_pem(key))
    result = subprocess.run(
        [node, str(SCRIPT), str(tmp_path / "bundle.json"), str(tmp_path / "key.pub"), str(TRUSTED_ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=INTEROP,
    )
    return result.returncode == 0 and result.stdout.strip() == "verified", result.stdout + result.stderr


def py_verify(bundle: bytes, key: keys.PublicKey, digest: str) -> bool:
    try:
        parsed = sb.parse_bundle(bundle, "bundle")
        sb.verify_with_key(parsed, sb.Artifact.from_digest(digest), key, default_trusted_root())
    except VerificationError:
        return False
    return True


def _b64_edit(value: str, edit: Callable[[bytes], bytes]) -> str:
    return base64.b64encode(edit(base64.b64decode(value))).decode()


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


TAMPERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "payload": lambda d: d["dsseEnvelope"].__setitem__(
        "payload", _b64_edit(d["dsseEnvelope"]["payload"], lambda p: p.replace(b"sha256", b"sha512"))
    ),
    "signature": lambda d: d["dsseEnvelope"]["signatures"][0].__setitem__(
        "sig", _b64_edit(d["dsseEnvelope"]["signatures"][0]["sig"], _flip_last)
    ),
    "payload-type": lambda d: d["dsseEnvelope"].__setitem__("payloadType", "application/json"),
}


@pytest.fixture(scope="module")
def signed(
    registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, ec.EllipticCurvePrivateKey, str]:
    """A bundle `chainwarden sign` pushed to the registry, fetched back as a client would."""
    work = tmp_path_factory.mktemp("interop-image")
    skopeo_push(make_oci(work / "img", [{"/a": "interop\n"}]), "latest", f"{registry.address}/interop:1")
    key = ec.generate_private_key(ec.SECP256R1())
    with RegistryClient(parse_reference(f"{registry.address}/interop:1"), "interop") as client:
        result = cosign.sign_image(client, key, annotations={"build": "42"})
        ((_, data),) = list(cosign.bundle_referrers(client, result.digest, cosign.COSIGN_SIGN_PREDICATE))
    return data, key, result.digest


def test_sigstore_js_verifies_chainwarden_bundle(node: str, signed: tuple[bytes, Any, str], tmp_path: Path) -> None:
    data, key, digest = signed
    ok, output = js_verify(node, tmp_path, data, key.public_key())
    assert ok, output
    assert py_verify(data, key.public_key(), digest)


def test_sigstore_js_rejects_wrong_key(node: str, signed: tuple[bytes, Any, str], tmp_path: Path) -> None:
    data, _, digest = signed
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    ok, output = js_verify(node, tmp_path, data, other)
    assert not ok, output
    assert not py_verify(data, other, digest)


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampered_bundle_fails_in_both(node: str, signed: tuple[bytes, Any, str], tmp_path: Path, tamper: str) -> None:
    data, key, digest = signed
    document = copy.deepcopy(json.loads(data))
    TAMPERS[tamper](document)
    tampered = json.dumps(document).encode()
    ok, output = js_verify(node, tmp_path, tampered, key.public_key())
    assert not ok, output
    assert output.startswith("rejected:")
    assert not py_verify(tampered, key.public_key(), digest)


def test_sigstore_js_verifies_attestation_bundle(node: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    statement = {
        "_type": cosign.INTOTO_STATEMENT_V1,
        "subject": [{"name": "x", "digest": {"sha256": "ab" * 32}}],
        "predicateType": "https://cyclonedx.org/bom",
        "predicate": {"bomFormat": "CycloneDX", "specVersion": "1.6"},
    }
    envelope = sb.sign_dsse(key, sb.INTOTO_PAYLOAD_TYPE, json.dumps(statement).encode())
    data = sb.key_bundle(key.public_key(), envelope)
    ok, output = js_verify(node, tmp_path, data, key.public_key())
    assert ok, output
