"""The registry source against Debian's real ``docker-registry`` on 127.0.0.1.

Images are built in code, pushed with skopeo (or a small PUT client for a
multi-platform index) and pulled back. Auth, flaky and hostile behaviour come
from :class:`AuthProxy`, a real HTTP server in front of the real registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chainwarden.cli import main
from chainwarden.errors import DigestMismatchError, InvalidImageError, NetworkError, RegistryError, SourceError
from chainwarden.sources import SourceOptions, open_source
from chainwarden.sources.image import MEDIA_OCI_INDEX
from chainwarden.sources.interface import EntryType, FileSystemView
from chainwarden.sources.oci import OCILayoutSource
from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout
from chainwarden.sources.registry import ENV_PASSWORD, ENV_USERNAME, RegistrySource
from integration.registry_server import (
    AuthProxy,
    CannedResponse,
    PushClient,
    RunningRegistry,
    free_port,
    missing_tools,
    skopeo_push,
    start_registry,
)
from support.images import Content, Symlink, Whiteout, dpkg_status_entry, make_oci, tar_layer

pytestmark = pytest.mark.integration

BIG_BODY = random.Random(7).randbytes(1_500_000)  # incompressible: more than one download chunk
BASE_LAYER: dict[str, Content] = {
    "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12"\nID=debian\nVERSION_ID="12"\n',
    "/var/lib/dpkg/status": dpkg_status_entry("libc6", "2.36-9+deb12u4", source="glibc"),
    "/usr/lib/libx.so.1": "old library\n",
    "/usr/lib/libx.so": Symlink("libx.so.1"),
    "/usr/bin/tool": b"\x7fELF\x02\x01\x01" + bytes(64),
}
TOP_LAYER: dict[str, Content] = {
    "/usr/lib/libx.so.1": Whiteout(),
    "/app/main.py": "print('hello')\n",
    "/app/data.bin": BIG_BODY,
}


@dataclass(frozen=True)
class Images:
    registry: RunningRegistry
    layout: Path  # the OCI layout app:1 was pushed from
    app_digest: str
    multi_digest: str
    arm64_digest: str


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (apt-get install docker-registry skopeo)")
    running = start_registry(tmp_path_factory.mktemp("registry"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def images(registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> Images:
    work = tmp_path_factory.mktemp("images")
    layout = make_oci(
        work / "app",
        [BASE_LAYER, TOP_LAYER],
        config={"Env": ["PATH=/usr/bin"], "Cmd": ["python3", "/app/main.py"]},
        tag="1",
        history=["ADD rootfs /", "COPY app /app"],
    )
    skopeo_push(layout, "1", f"{registry.address}/app:1")
    pusher = PushClient(registry.address)
    try:
        app_body, _ = pusher.get_manifest("app", "1")
        entries = []
        for arch in ("amd64", "arm64"):
            arch_layout = work / f"multi-{arch}"
            layer = tar_layer({"/etc/arch": f"{arch}\n", "/etc/os-release": "ID=debian\n"})
            write_oci_layout(arch_layout, ImageSpec([layer], architecture=arch), tag=arch)
            skopeo_push(arch_layout, arch, f"{registry.address}/multi:{arch}")
            body, media_type = pusher.get_manifest("multi", arch)
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            entries.append(
                {
                    "mediaType": media_type,
                    "digest": digest,
                    "size": len(body),
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
        index = json.dumps({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": entries}).encode()
        multi_digest = pusher.put_manifest("multi", "1", index, MEDIA_OCI_INDEX)
    finally:
        pusher.close()
    return Images(
        registry,
        layout,
        "sha256:" + hashlib.sha256(app_body).hexdigest(),
        multi_digest,
        str(entries[1]["digest"]),
    )


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the developer's docker login nor their environment leaks into a test."""
    monkeypatch.delenv(ENV_USERNAME, raising=False)
    monkeypatch.delenv(ENV_PASSWORD, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def pull(target: str, **options: object) -> RegistrySource:
    scheme_less = target.removeprefix("registry:")
    return RegistrySource(target, scheme_less, SourceOptions(**options))  # type: ignore[arg-type]


def stored_manifest(registry: RunningRegistry, repo: str, reference: str) -> tuple[bytes, str]:
    pusher = PushClient(registry.address)
    try:
        return pusher.get_manifest(repo, reference)
    finally:
        pusher.close()


def everything(_path: str) -> bool:
    return True


def snapshot(view: FileSystemView) -> dict[str, tuple[EntryType, int, int, str | None, bytes | None]]:
    return {
        e.path: (e.type, e.size, e.mode, e.link_target, view.read(e.path) if e.type is EntryType.FILE else None)
        for e in view.entries()
    }


# -- pulling ----------------------------------------------------------------------


def test_pull_by_tag_reads_the_same_files_as_the_pushed_layout(images: Images) -> None:
    source = pull(f"registry:{images.registry.address}/app:1")
    with source:
        info = source.info
        view = source.view(everything)
        config = source.image_config()
    with OCILayoutSource(f"oci:{images.layout}:1", f"{images.layout}:1") as local:
        expected = snapshot(local.view(everything))
        local_info = local.info
    assert info.kind == "registry"
    assert info.reference == f"registry:{images.registry.address}/app:1"
    assert info.digest == images.app_digest
    assert info.repo_tags == ("1",)
    assert info.platform == "linux/amd64"
    assert info.config_digest == local_info.config_digest
    assert info.layers == local_info.layers
    assert [layer.created_by for layer in info.layers] == ["ADD rootfs /", "COPY app /app"]
    assert config["config"]["Cmd"] == ["python3", "/app/main.py"]
    assert snapshot(view) == expected
    assert view.read("/app/data.bin") == BIG_BODY
    assert view.entry("/usr/lib/libx.so.1") is None  # whited out by the top layer
    assert "libc6" in view.read_text("/var/lib/dpkg/status")


def test_pull_by_digest_and_by_tag_plus_digest(images: Images) -> None:
    address = images.registry.address
    with pull(f"registry:{address}/app@{images.app_digest}") as source:
        assert source.info.digest == images.app_digest
        assert source.info.repo_tags == ()
        assert source.view(everything).read_text("/app/main.py") == "print('hello')\n"
    # the digest decides what is pulled; the tag is only a name
    with pull(f"registry:{address}/app:renamed@{images.app_digest}") as source:
        assert source.info.digest == images.app_digest
        assert source.info.repo_tags == ("renamed",)


def test_docker_schema2_manifest(images: Images) -> None:
    skopeo_push(images.layout, "1", f"{images.registry.address}/app:docker", manifest_format="v2s2")
    body, media_type = stored_manifest(images.registry, "app", "docker")
    assert media_type == "application/vnd.docker.distribution.manifest.v2+json"
    with pull(f"registry:{images.registry.address}/app:docker") as source:
        assert source.info.digest == "sha256:" + hashlib.sha256(body).hexdigest()
        assert {layer.media_type for layer in source.info.layers} == {
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        }
        assert source.view(everything).read("/app/data.bin") == BIG_BODY


def test_open_source_detects_registry_targets_without_a_scheme(images: Images) -> None:
    with open_source(f"{images.registry.address}/app:1") as source:
        assert isinstance(source, RegistrySource)
        assert source.info.digest == images.app_digest


def test_multi_platform_index_selects_the_requested_platform(images: Images) -> None:
    address = images.registry.address
    with pull(f"registry:{address}/multi:1") as source:
        assert source.view(everything).read_text("/etc/arch") == "amd64\n"
        assert source.info.platform == "linux/amd64"
    with pull(f"registry:{address}/multi:1", platform="linux/arm64") as source:
        assert source.view(everything).read_text("/etc/arch") == "arm64\n"
        assert source.info.digest == images.arm64_digest
    with pull(f"registry:{address}/multi@{images.multi_digest}", platform="linux/arm64") as source:
        assert source.info.digest == images.arm64_digest


def test_missing_platform_lists_what_exists(images: Images) -> None:
    with (
        pull(f"registry:{images.registry.address}/multi:1", platform="linux/s390x") as source,
        pytest.raises(SourceError, match=r"no manifest for platform linux/s390x; available: linux/amd64, linux/arm64"),
    ):
        _ = source.info


# -- failures the registry reports --------------------------------------------------


def test_unknown_repository_is_one_line(images: Images) -> None:
    target = f"registry:{images.registry.address}/nope:1"
    with pull(target) as source, pytest.raises(RegistryError) as caught:
        _ = source.info
    assert str(caught.value) == f"{target}: manifest unknown (404)"


def test_unknown_tag_and_unknown_digest(images: Images) -> None:
    address = images.registry.address
    with (
        pull(f"registry:{address}/app:2") as source,
        pytest.raises(RegistryError, match=r"app:2: manifest unknown \(404\)$"),
    ):
        _ = source.info
    wrong = "sha256:" + "0" * 64
    with pull(f"registry:{address}/app@{wrong}") as source, pytest.raises(RegistryError, match=r"\(404\)$"):
        _ = source.info


def test_cli_reports_registry_errors_in_one_line(images: Images, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"registry:{images.registry.address}/nope:1"
    assert main(["sbom", "--no-cache", target]) == 2
    err = capsys.readouterr().err
    assert err == f"chainwarden: error: {target}: manifest unknown (404)\n"


def test_connection_refused_is_a_network_error() -> None:
    port = free_port()
    with pull(f"registry:127.0.0.1:{port}/app:1") as source, pytest.raises(NetworkError) as caught:
        _ = source.info
    assert str(caught.value) == (
        f"registry:127.0.0.1:{port}/app:1: cannot reach 127.0.0.1:{port}: connection refused (after 3 attempts)"
    )


# -- content the registry corrupted ------------------------------------------------


def _push_unique(registry: RunningRegistry, work: Path, repo: str) -> tuple[str, dict[str, object]]:
    """An image whose blobs no other test shares (blob storage is global)."""
    layout = make_oci(work / repo, [{"/marker": str(uuid.uuid4())}], tag="1")
    skopeo_push(layout, "1", f"{registry.address}/{repo}:1")
    body, _ = stored_manifest(registry, repo, "1")
    manifest: dict[str, object] = json.loads(body)
    return "sha256:" + hashlib.sha256(body).hexdigest(), manifest


def _flip_first_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def test_layer_corrupted_in_registry_storage_is_refused(images: Images, tmp_path: Path) -> None:
    repo = f"corrupt-layer-{uuid.uuid4().hex[:8]}"
    _, manifest = _push_unique(images.registry, tmp_path, repo)
    layer_digest = manifest["layers"][0]["digest"]  # type: ignore[index]
    _flip_first_byte(images.registry.blob_data(layer_digest))
    with pull(f"registry:{images.registry.address}/{repo}:1") as source:
        _ = source.info  # manifest and config are intact
        with pytest.raises(DigestMismatchError, match=rf"blob {layer_digest[:19]}: content digest"):
            source.view(everything)


def test_config_corrupted_in_registry_storage_is_refused(images: Images, tmp_path: Path) -> None:
    repo = f"corrupt-config-{uuid.uuid4().hex[:8]}"
    _, manifest = _push_unique(images.registry, tmp_path, repo)
    config_digest = manifest["config"]["digest"]  # type: ignore[index]
    _flip_first_byte(images.registry.blob_data(config_digest))
    with pull(f"registry:{images.registry.address}/{repo}:1") as source, pytest.raises(DigestMismatchError):
        _ = source.info


# -- cache ------------------------------------------------------------------------------


def test_cached_layers_are_not_downloaded_again(images: Images, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with AuthProxy(images.registry.address) as proxy:
        target = f"registry:{proxy.address}/app:1"
        with pull(target, cache_dir=cache) as source:
            first = snapshot(source.view(everything, cache_key="all"))
        assert len(proxy.blob_requests()) == 3  # config + 2 layers
        proxy.requests.clear()
        with pull(target, cache_dir=cache) as source:
            second = snapshot(source.view(everything, cache_key="all"))
        assert proxy.blob_requests() == []
        assert [path for _, path, _ in proxy.requests] == ["/v2/app/manifests/1"]
        assert second == first
        # another predicate is another cache entry: layers again, the config still cached
        with pull(target, cache_dir=cache) as source:
            source.view(lambda path: path.startswith("/app/"), cache_key="app-only")
        assert len(proxy.blob_requests()) == 2


# -- authentication -----------------------------------------------------------------------


def test_bearer_token_flow_with_environment_credentials(images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USERNAME, "alice")
    monkeypatch.setenv(ENV_PASSWORD, "correct horse")
    with (
        AuthProxy(images.registry.address, auth="bearer", username="alice", password="correct horse") as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
    ):
        assert source.info.digest == images.app_digest
        assert source.view(everything).read("/app/data.bin") == BIG_BODY
        assert proxy.token_requests == [{"service": "chainwarden-test", "scope": "repository:app:pull"}]
        first, *rest = proxy.requests
        assert first[2] is None  # anonymous first
        assert rest
        assert all(auth is not None and auth.startswith("Bearer ") for _, _, auth in rest)


def test_bearer_wrong_password_is_a_clear_error(images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_USERNAME, "alice")
    monkeypatch.setenv(ENV_PASSWORD, "wrong-secret")
    with AuthProxy(images.registry.address, auth="bearer", username="alice", password="correct horse") as proxy:
        target = f"registry:{proxy.address}/app:1"
        with pull(target) as source, pytest.raises(RegistryError) as caught:
            _ = source.info
    assert str(caught.value) == (
        f"{target}: token service {proxy.address} refused the credentials from environment (401)"
    )
    assert "wrong-secret" not in str(caught.value)


def test_bearer_without_credentials_is_refused_anonymous_access(images: Images) -> None:
    with (
        AuthProxy(images.registry.address, auth="bearer", username="alice", password="pw") as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(RegistryError, match="refused anonymous"),
    ):
        _ = source.info


def test_anonymous_bearer_tokens_work_without_credentials(images: Images) -> None:
    with (
        AuthProxy(images.registry.address, auth="bearer") as proxy,
        pull(f"registry:{proxy.address}/multi:1", platform="linux/arm64") as source,
    ):
        assert source.view(everything).read_text("/etc/arch") == "arm64\n"
        assert {q["scope"] for q in proxy.token_requests} == {"repository:multi:pull"}


def test_credentials_from_docker_config(images: Images, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with AuthProxy(images.registry.address, auth="bearer", username="bob", password="pa:ss") as proxy:
        config_dir = tmp_path / "dockercfg"
        config_dir.mkdir()
        auth = base64.b64encode(b"bob:pa:ss").decode()
        (config_dir / "config.json").write_text(json.dumps({"auths": {f"http://{proxy.address}": {"auth": auth}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
        with pull(f"registry:{proxy.address}/app:1") as source:
            assert source.info.digest == images.app_digest


def test_expired_token_is_renewed(images: Images) -> None:
    with (
        AuthProxy(images.registry.address, auth="bearer", max_token_uses=2) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
    ):
        assert source.view(everything).read("/app/data.bin") == BIG_BODY
        assert len(proxy.token_requests) >= 2


def test_token_realm_over_plain_http_elsewhere_is_refused(images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    # credentials would travel in clear to a host that is not this machine
    monkeypatch.setenv(ENV_USERNAME, "alice")
    monkeypatch.setenv(ENV_PASSWORD, "pw")
    with (
        AuthProxy(images.registry.address, auth="bearer", realm="http://127.0.0.2:9/token") as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(RegistryError, match=r"refusing to fetch a token from 127\.0\.0\.2 over plain http$"),
    ):
        _ = source.info


def test_basic_auth_challenge(images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    with AuthProxy(images.registry.address, auth="basic", username="carol", password="s3cret") as proxy:
        target = f"registry:{proxy.address}/app:1"
        with pull(target) as source, pytest.raises(RegistryError, match=r"requires a login \(401\)"):
            _ = source.info
        monkeypatch.setenv(ENV_USERNAME, "carol")
        monkeypatch.setenv(ENV_PASSWORD, "nope")
        with (
            pull(target) as source,
            pytest.raises(
                RegistryError, match=r"refused the credentials from environment \(401\): authentication required$"
            ),
        ):
            _ = source.info
        monkeypatch.setenv(ENV_PASSWORD, "s3cret")
        with pull(target) as source:
            assert source.view(everything).read_text("/app/main.py") == "print('hello')\n"


def test_blob_redirects_do_not_carry_the_token_to_another_origin(images: Images) -> None:
    with (
        AuthProxy(images.registry.address) as storage,
        AuthProxy(images.registry.address, auth="bearer", redirect_blobs_to=f"http://{storage.address}") as front,
    ):
        with pull(f"registry:{front.address}/app:1") as source:
            assert source.view(everything).read("/app/data.bin") == BIG_BODY
        assert len(storage.blob_requests()) == 3
        assert all(auth is None for _, _, auth in storage.requests)


# -- flaky and hostile registries -----------------------------------------------------------


def test_transient_failures_are_retried(images: Images) -> None:
    with (
        AuthProxy(images.registry.address, failures={"/v2/app/manifests/1": 2}) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
    ):
        assert source.info.digest == images.app_digest
    with (
        AuthProxy(images.registry.address, failures={"/v2/app/manifests/1": 3}) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(NetworkError, match=r"\(503 after 3"),
    ):
        _ = source.info


def _canned_manifest_proxy(images: Images, path: str, response: CannedResponse) -> AuthProxy:
    return AuthProxy(images.registry.address, canned={path: response})


def test_manifest_larger_than_8_mib_is_refused(images: Images) -> None:
    huge = CannedResponse(200, {"Content-Type": MEDIA_OCI_INDEX}, b"{" + b" " * (9 * 1024 * 1024) + b"}")
    with (
        _canned_manifest_proxy(images, "/v2/app/manifests/1", huge) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(RegistryError, match="too large"),
    ):
        _ = source.info


def test_manifest_not_matching_docker_content_digest(images: Images) -> None:
    body, _ = stored_manifest(images.registry, "app", "1")
    lying = CannedResponse(
        200,
        {"Content-Type": "application/vnd.oci.image.manifest.v1+json", "Docker-Content-Digest": "sha256:" + "a" * 64},
        body,
    )
    with (
        _canned_manifest_proxy(images, "/v2/app/manifests/1", lying) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(DigestMismatchError, match="does not match Docker-Content-Digest sha256:aaaa"),
    ):
        _ = source.info


def test_manifest_not_matching_the_requested_digest(images: Images) -> None:
    # the registry answers a digest request with another (valid) manifest
    body, media_type = stored_manifest(images.registry, "multi", "amd64")
    swapped = CannedResponse(200, {"Content-Type": media_type}, body)
    with (
        _canned_manifest_proxy(images, f"/v2/app/manifests/{images.app_digest}", swapped) as proxy,
        pull(f"registry:{proxy.address}/app@{images.app_digest}") as source,
        pytest.raises(DigestMismatchError, match="does not match the requested"),
    ):
        _ = source.info


def test_malformed_manifest_and_hostile_error_text(images: Images) -> None:
    garbage = CannedResponse(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, b"{not json")
    with (
        _canned_manifest_proxy(images, "/v2/app/manifests/1", garbage) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(InvalidImageError, match="malformed JSON"),
    ):
        _ = source.info
    escape = json.dumps({"errors": [{"code": "DENIED", "message": "\x1b[2Jgo away\nnow"}]}).encode()
    denied = CannedResponse(403, {"Content-Type": "application/json"}, escape)
    with (
        _canned_manifest_proxy(images, "/v2/app/manifests/1", denied) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(RegistryError) as caught,
    ):
        _ = source.info
    assert str(caught.value).endswith("manifest: access denied: ?[2Jgo away?now (403)")


def test_schema1_manifest_is_refused_clearly(images: Images) -> None:
    legacy = json.dumps({"schemaVersion": 1, "name": "app", "tag": "1", "fsLayers": [], "history": []}).encode()
    old = CannedResponse(200, {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}, legacy)
    with (
        _canned_manifest_proxy(images, "/v2/app/manifests/1", old) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(RegistryError, match=r"schema 1 manifest .* is not supported"),
    ):
        _ = source.info


def test_blob_longer_than_its_descriptor_is_refused(images: Images) -> None:
    pristine = pull(f"registry:{images.registry.address}/app:1")
    with pristine:
        layer = pristine.layers()[0]
    blob = images.registry.blob_data(layer.digest).read_bytes()
    padded = CannedResponse(200, {"Content-Type": "application/octet-stream"}, blob + b"\0" * 10)
    with (
        _canned_manifest_proxy(images, f"/v2/app/blobs/{layer.digest}", padded) as proxy,
        pull(f"registry:{proxy.address}/app:1") as source,
        pytest.raises(DigestMismatchError, match=rf"sends {len(blob) + 10} bytes but the descriptor says {len(blob)}"),
    ):
        source.view(everything)


# -- transport security -----------------------------------------------------------------


def test_plain_http_only_for_loopback_names_unless_insecure(images: Images) -> None:
    # 127.0.0.2 is loopback to the kernel but not one of the names allowed plain http
    with AuthProxy(images.registry.address, host="127.0.0.2") as proxy:
        target = f"registry:{proxy.address}/app:1"
        with pull(target) as source, pytest.raises(NetworkError, match=r"TLS handshake with 127\.0\.0\.2:\d+ failed"):
            _ = source.info
        with pull(target, insecure_registry=True) as source:
            assert source.info.digest == images.app_digest
            assert source.view(everything).read_text("/app/main.py") == "print('hello')\n"
