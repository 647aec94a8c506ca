"""``chainwarden mirror`` between two real ``docker-registry`` instances on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from chainwarden.cli import main
from integration.policy_registry import OCI_INDEX, OCI_MANIFEST, push_image, push_multi, put_blob, sha256
from integration.registry_server import AuthProxy, PushClient, RunningRegistry, missing_tools, start_registry
from support.images import tar_layer

pytestmark = pytest.mark.integration

BIG = random.Random(12).randbytes(3_000_000)  # incompressible, several upload chunks


@dataclass
class World:
    src: RunningRegistry
    dst: RunningRegistry
    app: str  # app:1 manifest digest
    app_layers: tuple[str, ...]
    multi: str
    platforms: dict[str, str]
    sig: str  # sha256-<app>.sig manifest digest
    referrer: str  # referrer manifest digest (tag schema)


def head(registry: RunningRegistry, path: str) -> httpx.Response:
    return httpx.head(
        f"http://{registry.address}{path}",
        headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"},
        timeout=10,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if missing_tools():
        pytest.skip("needs docker-registry and skopeo")
    root = tmp_path_factory.mktemp("mirror")
    src, dst = start_registry(root / "src"), start_registry(root / "dst")
    pusher = PushClient(src.address)
    try:
        big = gzip.compress(tar_layer({"/data/big.bin": BIG}), mtime=0, compresslevel=1)
        app = push_image(pusher, "team/app", "1", {"/etc/app": "1\n"}, extra_layers=(big,))
        multi, platforms = push_multi(pusher, "team/multi", "1")
        # a legacy cosign signature image and an OCI 1.1 referrer (referrers tag schema)
        payload = json.dumps({"critical": {"image": {"docker-manifest-digest": app.digest}}}).encode()
        empty = put_blob(pusher, "team/app", b"{}")
        layer = put_blob(pusher, "team/app", payload)
        sig = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": empty, "size": 2},
                "layers": [
                    {
                        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                        "digest": layer,
                        "size": len(payload),
                        "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="},
                    }
                ],
            }
        ).encode()
        sig_digest = pusher.put_manifest("team/app", app.digest.replace(":", "-") + ".sig", sig, OCI_MANIFEST)
        bundle = b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}'
        bundle_digest = put_blob(pusher, "team/app", bundle)
        referrer = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
                "layers": [
                    {
                        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                        "digest": bundle_digest,
                        "size": len(bundle),
                    }
                ],
                "subject": {"mediaType": OCI_MANIFEST, "digest": app.digest, "size": len(app.body)},
            }
        ).encode()
        referrer_digest = pusher.put_manifest("team/app", sha256(referrer), referrer, OCI_MANIFEST)
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": referrer_digest,
                        "size": len(referrer),
                        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                    }
                ],
            }
        ).encode()
        pusher.put_manifest("team/app", app.digest.replace(":", "-"), index, OCI_INDEX)
        yield World(src, dst, app.digest, app.layers, multi, platforms, sig_digest, referrer_digest)
    finally:
        pusher.close()
        src.stop()
        dst.stop()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object] | str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    try:
        return code, json.loads(captured.out), captured.err
    except json.JSONDecodeError:
        return code, captured.out, captured.err


def image_of(document: object) -> dict[str, object]:
    assert isinstance(document, dict)
    (image,) = document["images"]
    assert isinstance(image, dict)
    return image


def test_mirror_copies_by_digest_with_signatures_and_is_idempotent(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    src, dst = world.src.address, world.dst.address
    code, document, err = run(capsys, "mirror", f"{src}/team/app:1", f"{dst}/mirror/app", "--format", "json")
    assert code == 0, err
    image = image_of(document)
    assert image["digest"] == world.app
    assert image["blobs_copied"] == 6  # config + 2 layers, .sig config/payload (shared empty), bundle
    assert image["signatures"] == 2
    # everything is in the destination, by digest, and the tag points at the same digest
    assert head(world.dst, "/v2/mirror/app/manifests/1").headers["Docker-Content-Digest"] == world.app
    for layer in world.app_layers:
        assert head(world.dst, f"/v2/mirror/app/blobs/{layer}").status_code == 200
    tag = world.app.replace(":", "-")
    assert head(world.dst, f"/v2/mirror/app/manifests/{tag}.sig").headers["Docker-Content-Digest"] == world.sig
    assert head(world.dst, f"/v2/mirror/app/manifests/{world.referrer}").status_code == 200
    assert head(world.dst, f"/v2/mirror/app/manifests/{tag}").status_code == 200
    # a second run moves nothing
    code, document, _ = run(capsys, "mirror", f"{src}/team/app:1", f"{dst}/mirror/app", "--format", "json")
    again = image_of(document)
    assert code == 0
    assert again["blobs_copied"] == 0 and again["bytes_copied"] == 0 and again["manifests_pushed"] == 0


def test_platforms_and_all_platforms(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = world.src.address, world.dst.address
    code, document, _ = run(
        capsys, "mirror", f"{src}/team/multi:1", f"{dst}/one/multi", "--platform", "linux/arm64", "--format", "json"
    )
    assert code == 0 and image_of(document)["digest"] == world.platforms["linux/arm64"]
    assert (
        head(world.dst, "/v2/one/multi/manifests/1").headers["Docker-Content-Digest"] == world.platforms["linux/arm64"]
    )
    code, document, _ = run(
        capsys, "mirror", f"{src}/team/multi:1", f"{dst}/all/multi:v1", "--all-platforms", "--format", "json"
    )
    assert code == 0 and image_of(document)["digest"] == world.multi
    assert head(world.dst, "/v2/all/multi/manifests/v1").headers["Docker-Content-Digest"] == world.multi
    for digest in world.platforms.values():
        assert head(world.dst, f"/v2/all/multi/manifests/{digest}").status_code == 200


def test_cross_repository_mount(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    src = world.src.address
    code, document, _ = run(capsys, "mirror", f"{src}/team/app:1", f"{src}/copy/app", "--format", "json")
    image = image_of(document)
    assert code == 0
    assert image["blobs_copied"] == 0 and image["bytes_copied"] == 0
    assert image["blobs_mounted"] == 6


def test_tampered_blob_is_never_committed(
    world: World, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path_factory.mktemp("tamper")
    src = start_registry(root / "src")
    pusher = PushClient(src.address)
    try:
        pushed = push_image(pusher, "victim", "1", {"/etc/x": "x\n"})
        data = src.blob_data(pushed.layers[0])
        data.write_bytes(data.read_bytes()[:-1] + b"!")  # same size, other content
        code, document, _ = run(
            capsys, "mirror", f"{src.address}/victim:1", f"{world.dst.address}/victim", "--format", "json"
        )
        assert code == 1
        assert "nothing was committed" in str(image_of(document)["error"])
        assert head(world.dst, f"/v2/victim/blobs/{pushed.layers[0]}").status_code == 404
        assert head(world.dst, "/v2/victim/manifests/1").status_code == 404
    finally:
        pusher.close()
        src.stop()


def test_interrupted_mirror_resumes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    big_layer = world.app_layers[1]
    with AuthProxy(world.src.address, failures={f"/v2/team/app/blobs/{big_layer}": 3}) as proxy:
        code, document, _ = run(
            capsys, "mirror", f"{proxy.address}/team/app:1", f"{world.dst.address}/resume/app", "--format", "json"
        )
        assert code == 1 and "503" in str(image_of(document)["error"])
        assert head(world.dst, "/v2/resume/app/manifests/1").status_code == 404  # no tag on a partial copy
        code, document, _ = run(
            capsys, "mirror", f"{proxy.address}/team/app:1", f"{world.dst.address}/resume/app", "--format", "json"
        )
    image = image_of(document)
    assert code == 0
    # config and small layer made it the first time: skipped now (and the empty config the referrer shares
    # with the .sig image); the big layer and the signature blobs move
    assert image["blobs_skipped"] == 3 and image["blobs_copied"] == 4
    assert head(world.dst, "/v2/resume/app/manifests/1").headers["Docker-Content-Digest"] == world.app


def test_from_file_and_usage(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = world.src.address, world.dst.address
    listing = tmp_path / "images.txt"
    listing.write_text(
        f"# images we run\n{src}/team/app:1\n{src}/team/multi:1 {dst}/pinned/multi:stable\n{src}/team/gone:1\n"
    )
    code, text, _ = run(capsys, "mirror", "--from-file", str(listing), f"{dst}/fleet")
    assert code == 1  # team/gone is missing; the others were mirrored
    assert isinstance(text, str) and "FAILED" in text and "chainwarden mirror: 3 images" in text
    assert head(world.dst, "/v2/fleet/team/app/manifests/1").headers["Docker-Content-Digest"] == world.app
    assert head(world.dst, "/v2/pinned/multi/manifests/stable").status_code == 200
    code, _, err = run(capsys, "mirror", f"{src}/team/app:1", f"{dst}/x@sha256:" + "0" * 64)
    assert code == 2 and "not a digest" in err
    key = tmp_path / "cosign.pub"
    key.write_text("-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n")
    code, _, err = run(capsys, "mirror", f"{src}/team/app:1", f"{dst}/refused", "--verify-key", str(key))
    assert code != 0  # unsigned with the signing package; a usage error without it — never a copy
    assert head(world.dst, "/v2/refused/manifests/1").status_code == 404
