"""sign / verify / attest / verify-attestation against Debian's real ``docker-registry`` on 127.0.0.1.

Images are built in code and pushed with skopeo; signatures are pushed by
chainwarden itself (both cosign layouts). Every tamper is made the way an
attacker with write access to the registry would make it: re-tagging, editing
blobs on the registry's disk, pushing forged signature manifests, lying
referrer indexes. Each must be rejected with one line and exit 1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainwarden.cli import main
from chainwarden.signing import cosign
from integration.registry_server import PushClient, RunningRegistry, missing_tools, skopeo_push, start_registry
from support.images import make_oci

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Keys:
    private: Path
    public: Path
    other_private: Path
    other_public: Path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (apt-get install docker-registry skopeo)")
    running = start_registry(tmp_path_factory.mktemp("signing-registry"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_oci(tmp_path_factory.mktemp("layout") / "img", [{"/etc/os-release": "ID=debian\n", "/app": "v1\n"}])


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINWARDEN_PASSWORD", PASSWORD)
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    work = tmp_path_factory.mktemp("keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHAINWARDEN_PASSWORD", PASSWORD)
        assert main(["keygen", "--output-key-prefix", str(work / "cosign")]) == 0
        assert main(["keygen", "--output-key-prefix", str(work / "other")]) == 0
    return Keys(work / "cosign.key", work / "cosign.pub", work / "other.key", work / "other.pub")


def fresh_image(registry: RunningRegistry, layout: Path, tmp_path: Path, content: str = "") -> tuple[str, str]:
    """Push a distinct image; return (reference, digest)."""
    name = f"app-{uuid.uuid4().hex[:8]}"
    image = make_oci(tmp_path / name, [{"/etc/os-release": "ID=debian\n", "/app": f"{name}{content}\n"}])
    reference = f"{registry.address}/{name}:1"
    skopeo_push(image, "latest", reference)
    pusher = PushClient(registry.address)
    try:
        body, _ = pusher.get_manifest(name, "1")
    finally:
        pusher.close()
    return reference, "sha256:" + hashlib.sha256(body).hexdigest()


def push_blob(registry: RunningRegistry, repository: str, data: bytes) -> str:
    """Upload with chainwarden's own client (the test helper's is for manifests)."""
    from chainwarden.sources.registry import RegistryClient, parse_reference

    with RegistryClient(parse_reference(f"{registry.address}/{repository}"), "test") as client:
        return client.push_blob(data)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def assert_rejected(code: int, err: str, fragment: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chainwarden: verification failed: ")
    assert fragment in lines[0], lines[0]


def test_keygen_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = str(tmp_path / "k")
    assert run(capsys, "keygen", "--output-key-prefix", prefix)[0] == 0
    before = (tmp_path / "k.key").read_bytes()
    code, _, err = run(capsys, "keygen", "--output-key-prefix", prefix)
    assert code == 2
    assert "exists" in err
    assert (tmp_path / "k.key").read_bytes() == before
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600


def test_bundle_sign_and_verify(
    registry: RunningRegistry, layout: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, digest = fresh_image(registry, layout, tmp_path)
    assert run(capsys, "sign", reference, "--key", str(keys.private), "-a", "env=prod")[0] == 0
    code, out, _ = run(capsys, "verify", reference, "--key", str(keys.public), "-a", "env=prod", "-f", "json")
    assert code == 0
    document = json.loads(out)
    assert document["digest"] == digest
    assert document["verified"] is True
    assert [s["layout"] for s in document["signatures"]] == ["bundle"]
    assert document["signatures"][0]["annotations"] == {"env": "prod"}
    # the layout cosign 3 writes: a referrers tag index naming an OCI 1.1 artifact manifest
    pusher = PushClient(registry.address)
    try:
        repository = reference.split("/", 1)[1].split(":")[0]
        index_body, index_type = pusher.get_manifest(repository, digest.replace(":", "-"))
        index = json.loads(index_body)
        assert index_type == OCI_INDEX
        (entry,) = index["manifests"]
        assert entry["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
        assert entry["annotations"]["dev.sigstore.bundle.predicateType"] == "https://sigstore.dev/cosign/sign/v1"
        manifest = json.loads(pusher.get_manifest(repository, entry["digest"])[0])
    finally:
        pusher.close()
    assert manifest["subject"]["digest"] == digest
    assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    # verifying by digest gives the same answer as by tag
    at_digest = reference.rsplit(":", 1)[0] + "@" + digest
    assert run(capsys, "verify", at_digest, "--key", str(keys.public))[0] == 0
    # a required annotation that was not signed
    code, _, err = run(capsys, "verify", reference, "--key", str(keys.public), "-a", "env=dev")
    assert_rejected(code, err, "annotation env='dev' required")


def test_legacy_sign_and_both_layouts(
    registry: RunningRegistry, layout: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, digest = fresh_image(registry, layout, tmp_path)
    assert run(capsys, "sign", reference, "--key", str(keys.private), "--legacy-tag", "-a", "team=a")[0] == 0
    code, out, _ = run(capsys, "verify", reference, "--key", str(keys.public), "-f", "json")
    assert code == 0
    signature = json.loads(out)["signatures"][0]
    assert signature["layout"] == "legacy"
    assert signature["annotations"] == {"team": "a"}
    # the .sig image as cosign writes it
    pusher = PushClient(registry.address)
    repository = reference.split("/", 1)[1].split(":")[0]
    try:
        sig_manifest = json.loads(pusher.get_manifest(repository, digest.replace(":", "-") + ".sig")[0])
    finally:
        pusher.close()
    (layer,) = sig_manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert set(layer["annotations"]) == {"dev.cosignproject.cosign/signature"}
    # thresholds count both layouts
    assert run(capsys, "verify", reference, "--key", str(keys.public), "--min-signatures", "2")[0] == 1
    assert run(capsys, "sign", reference, "--key", str(keys.private))[0] == 0
    assert run(capsys, "verify", reference, "--key", str(keys.public), "--min-signatures", "2")[0] == 0
    code, _, err = run(capsys, "verify", reference, "--key", str(keys.public), "--min-signatures", "3")
    assert_rejected(code, err, "2 of 3 required signatures verified")


def test_wrong_key_and_unsigned(
    registry: RunningRegistry, layout: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, _ = fresh_image(registry, layout, tmp_path)
    code, _, err = run(capsys, "verify", reference, "--key", str(keys.public))
    assert_rejected(code, err, "no signatures found")
    assert run(capsys, "sign", reference, "--key", str(keys.other_private))[0] == 0
    assert run(capsys, "sign", reference, "--key", str(keys.other_private), "--legacy-tag")[0] == 0
    code, _, err = run(capsys, "verify", reference, "--key", str(keys.public))
    assert_rejected(code, err, "does not verify with the given key")


def test_retagged_manifest_is_not_trusted(
    registry: RunningRegistry, layout: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_ref, signed_digest = fresh_image(registry, layout, tmp_path)
    assert run(capsys, "sign", signed_ref, "--key", str(keys.private), "--legacy-tag")[0] == 0
    assert run(capsys, "sign", signed_ref, "--key", str(keys.private))[0] == 0
    evil_ref, evil_digest = fresh_image(registry, layout, tmp_path, "-evil")
    repository = signed_ref.split("/", 1)[1].split(":")[0]
    evil_repository = evil_ref.split("/", 1)[1].split(":")[0]
    pusher = PushClient(registry.address)
    try:
        # 1. the tag moves to another manifest: the signatures name the old digest
        body, media_type = pusher.get_manifest(evil_repository, "1")
        for blob in json.loads(body)["layers"] + [json.loads(body)["config"]]:
            data = registry.blob_data(blob["digest"]).read_bytes()
            push_blob(registry, repository, data)
        pusher.put_manifest(repository, "1", body, media_type)
        code, _, err = run(capsys, "verify", signed_ref, "--key", str(keys.public))
        assert_rejected(code, err, "no signatures found")
        # 2. the old signatures copied over to the new digest's tags: they sign another digest
        sig_body, sig_type = pusher.get_manifest(repository, signed_digest.replace(":", "-") + ".sig")
        pusher.put_manifest(repository, evil_digest.replace(":", "-") + ".sig", sig_body, sig_type)
        index_body, _ = pusher.get_manifest(repository, signed_digest.replace(":", "-"))
        pusher.put_manifest(repository, evil_digest.replace(":", "-"), index_body, OCI_INDEX)
        code, out, err = run(capsys, "verify", signed_ref, "--key", str(keys.public), "-f", "json")
    finally:
        pusher.close()
    assert_rejected(code, err, "0 of 1 required signatures verified")
    reasons = [r["reason"] for r in json.loads(out)["rejected"]]
    assert any(f"not this image's {evil_digest}" in reason for reason in reasons), reasons
    assert any("subject is not" in reason for reason in reasons), reasons


def _legacy_layer(registry: RunningRegistry, repository: str, digest: str) -> tuple[dict[str, object], bytes]:
    pusher = PushClient(registry.address)
    try:
        manifest = json.loads(pusher.get_manifest(repository, digest.replace(":", "-") + ".sig")[0])
    finally:
        pusher.close()
    layer: dict[str, object] = manifest["layers"][0]
    return layer, registry.blob_data(str(layer["digest"])).read_bytes()


def _push_sig(
    registry: RunningRegistry, repository: str, digest: str, layer: dict[str, object], payload: bytes
) -> None:
    pusher = PushClient(registry.address)
    try:
        layer = dict(layer, digest=push_blob(registry, repository, payload), size=layer.get("size", len(payload)))
        config = push_blob(registry, repository, b"{}")
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [layer],
        }
        pusher.put_manifest(repository, digest.replace(":", "-") + ".sig", json.dumps(manifest).encode(), OCI_MANIFEST)
    finally:
        pusher.close()


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        ("swap-payload", "does not verify with the given key"),
        ("malformed-base64", "not valid base64"),
        ("malformed-der", "malformed signature"),
        ("malformed-json", "not the JSON cosign signs"),
        ("oversized", "exceeds the"),
        ("edit-layer-on-disk", "does not match"),
    ],
)
def test_tampered_legacy_signature(
    registry: RunningRegistry,
    layout: Path,
    keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    fragment: str,
) -> None:
    from chainwarden.signing import keys as keymod

    reference, digest = fresh_image(registry, layout, tmp_path)
    repository = reference.split("/", 1)[1].split(":")[0]
    assert run(capsys, "sign", reference, "--key", str(keys.private), "--legacy-tag")[0] == 0
    layer, payload = _legacy_layer(registry, repository, digest)
    annotations = dict(layer["annotations"])  # type: ignore[call-overload]
    if tamper == "swap-payload":
        swapped = payload.replace(b'"optional":null', b'"optional":{"x":"y"}')
        assert swapped != payload
        _push_sig(registry, repository, digest, dict(layer, size=len(swapped)), swapped)
    elif tamper == "malformed-base64":
        annotations[cosign.ANNOTATION_SIGNATURE] = "not*base64"
        _push_sig(registry, repository, digest, dict(layer, annotations=annotations), payload)
    elif tamper == "malformed-der":
        annotations[cosign.ANNOTATION_SIGNATURE] = base64.b64encode(b"\x30\x03\x02\x01").decode()
        _push_sig(registry, repository, digest, dict(layer, annotations=annotations), payload)
    elif tamper == "malformed-json":
        # validly signed, but not a simple-signing document
        key = keymod.load_private_key(keys.private.read_bytes(), PASSWORD.encode(), "k")
        bad = b'{"critical": '
        annotations[cosign.ANNOTATION_SIGNATURE] = base64.b64encode(keymod.sign(key, bad)).decode()
        _push_sig(registry, repository, digest, dict(layer, annotations=annotations, size=len(bad)), bad)
    elif tamper == "oversized":
        _push_sig(registry, repository, digest, dict(layer, size=cosign.MAX_PAYLOAD + 1), payload)
    elif tamper == "edit-layer-on-disk":
        path = registry.blob_data(str(layer["digest"]))
        path.write_bytes(
            path.read_bytes().replace(b"cosign container image signature", b"cosign container image signaturf")
        )
    code, _, err = run(capsys, "verify", reference, "--key", str(keys.public))
    assert_rejected(code, err, fragment)


def test_tampered_bundle_on_disk(
    registry: RunningRegistry, layout: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, digest = fresh_image(registry, layout, tmp_path)
    repository = reference.split("/", 1)[1].split(":")[0]
    assert run(capsys, "sign", reference, "--key", str(keys.private))[0] == 0
    pusher = PushClient(registry.address)
    try:
        index = json.loads(pusher.get_manifest(repository, digest.replace(":", "-"))[0])
        manifest = json.loads(pusher.get_manifest(repository, index["manifests"][0]["digest"])[0])
    finally:
        pusher.close()
    path = registry.blob_data(manifest["layers"][0]["digest"])
    document = json.loads(path.read_bytes())
    statement = json.loads(base64.b64decode(document["dsseEnvelope"]["payload"]))
    statement["subject"][0]["annotations"] = {"env": "prod"}
    document["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    path.write_bytes(json.dumps(document).encode())
    code, _, err = run(capsys, "verify", reference, "--key", str(keys.public))
    assert_rejected(code, err, "does not match")


def test_attest_and_verify_attestation(
    registry: RunningRegistry, layout: Path, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference, digest = fresh_image(registry, layout, tmp_path)
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": []}))
    vex = tmp_path / "vex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex-1",
                "author": "test",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [],
            }
        )
    )
    assert run(capsys, "sign", reference, "--key", str(keys.private))[0] == 0
    assert (
        run(capsys, "attest", reference, "--key", str(keys.private), "--predicate", str(sbom), "--type", "cyclonedx")[0]
        == 0
    )
    args = [
        "attest",
        reference,
        "--key",
        str(keys.private),
        "--predicate",
        str(vex),
        "--type",
        "openvex",
        "--legacy-tag",
    ]
    assert run(capsys, *args)[0] == 0
    # a predicate that is not what its type says is refused before anything is signed
    code, _, err = run(
        capsys, "attest", reference, "--key", str(keys.private), "--predicate", str(vex), "--type", "cyclonedx"
    )
    assert code == 2
    assert "not a CycloneDX JSON BOM" in err
    out_file = tmp_path / "attested-sbom.json"
    code, out, _ = run(
        capsys,
        "verify-attestation",
        reference,
        "--key",
        str(keys.public),
        "--type",
        "cyclonedx",
        "-f",
        "json",
        "--predicate-out",
        str(out_file),
    )
    assert code == 0
    document = json.loads(out)
    (attestation,) = document["attestations"]
    assert attestation["predicate_type"] == "https://cyclonedx.org/bom"
    assert attestation["statement"]["subject"][0]["digest"] == {"sha256": digest.removeprefix("sha256:")}
    assert json.loads(out_file.read_text())["bomFormat"] == "CycloneDX"
    code, out, _ = run(capsys, "verify-attestation", reference, "--key", str(keys.public), "-f", "json")
    assert code == 0
    assert sorted(a["predicate_type"] for a in json.loads(out)["attestations"]) == [
        "https://cyclonedx.org/bom",
        "https://openvex.dev/ns",
    ]
    assert {a["layout"] for a in json.loads(out)["attestations"]} == {"bundle", "legacy"}
    # the image signature is still one signature, attestations are not counted as signatures
    code, out, _ = run(capsys, "verify", reference, "--key", str(keys.public), "-f", "json")
    assert code == 0
    assert len(json.loads(out)["signatures"]) == 1
    code, _, err = run(capsys, "verify-attestation", reference, "--key", str(keys.public), "--type", "slsaprovenance1")
    assert_rejected(code, err, "no attestations found")
    code, _, err = run(capsys, "verify-attestation", reference, "--key", str(keys.other_public), "--type", "openvex")
    assert_rejected(code, err, "does not verify")


def test_sign_needs_a_password_off_terminal(
    registry: RunningRegistry,
    layout: Path,
    keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference, _ = fresh_image(registry, layout, tmp_path)
    monkeypatch.delenv("CHAINWARDEN_PASSWORD")
    code, _, err = run(capsys, "sign", reference, "--key", str(keys.private))
    assert code == 2
    assert "CHAINWARDEN_PASSWORD" in err
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong")
    code, _, err = run(capsys, "sign", reference, "--key", str(keys.private))
    assert code == 2
    assert "wrong password" in err
