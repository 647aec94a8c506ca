"""Images for the policy tests (pin, admit, mirror), pushed to a real ``docker-registry``.

Each image is built in code (a gzip layer, an OCI config, an OCI manifest) and pushed with
the distribution API's own upload and manifest PUT (:class:`PushClient`); multi-platform
tags are real OCI indexes whose first entry is a BuildKit-style attestation manifest
(platform ``unknown/unknown``), so code that picks the first entry is caught.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.parse
from dataclasses import dataclass

import httpx

from integration.registry_server import PushClient
from support.images import Content, tar_layer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
INTOTO = "application/vnd.in-toto+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(pusher: PushClient, repo: str, data: bytes) -> str:
    """Monolithic upload (POST, then PUT with ``digest`` merged into the upload URL's own query)."""
    digest = sha256(data)
    client, base = pusher._client, pusher._base
    if client.head(f"{base}/v2/{repo}/blobs/{digest}").status_code == 200:
        return digest
    started = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    started.raise_for_status()
    location = httpx.URL(urllib.parse.urljoin(base, started.headers["Location"])).copy_merge_params({"digest": digest})
    done = client.put(location, content=data, headers={"Content-Type": "application/octet-stream"})
    done.raise_for_status()
    return digest


@dataclass(frozen=True)
class Pushed:
    digest: str
    body: bytes
    layers: tuple[str, ...]


def push_image(
    pusher: PushClient,
    repo: str,
    tag: str | None,
    files: dict[str, Content],
    *,
    arch: str = "amd64",
    extra_layers: tuple[bytes, ...] = (),
) -> Pushed:
    """One single-platform image; returns its manifest digest."""
    layers = [gzip.compress(tar_layer(files), mtime=0), *extra_layers]
    diff_ids = [sha256(gzip.decompress(layer)) for layer in layers]
    config = json.dumps(
        {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}}
    ).encode()
    config_digest = put_blob(pusher, repo, config)
    layer_digests = [put_blob(pusher, repo, layer) for layer in layers]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": d, "size": len(layer)}
                for d, layer in zip(layer_digests, layers, strict=True)
            ],
        }
    ).encode()
    digest = pusher.put_manifest(repo, tag or sha256(manifest), manifest, OCI_MANIFEST)
    return Pushed(digest, manifest, tuple(layer_digests))


def push_multi(pusher: PushClient, repo: str, tag: str, marker: str = "1") -> tuple[str, dict[str, str]]:
    """A multi-platform index (attestation entry first); returns (index digest, platform → manifest digest)."""
    platforms: dict[str, str] = {}
    entries: list[dict[str, object]] = []
    for arch in ("amd64", "arm64"):
        pushed = push_image(pusher, repo, None, {"/etc/arch": f"{arch} {marker}\n"}, arch=arch)
        platforms[f"linux/{arch}"] = pushed.digest
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": pushed.digest,
                "size": len(pushed.body),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1", "predicateType": "x"}).encode()
    empty = b"{}"
    attestation = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": put_blob(pusher, repo, empty), "size": 2},
            "layers": [{"mediaType": INTOTO, "digest": put_blob(pusher, repo, statement), "size": len(statement)}],
        }
    ).encode()
    attestation_digest = pusher.put_manifest(repo, sha256(attestation), attestation, OCI_MANIFEST)
    entries.insert(
        0,
        {
            "mediaType": OCI_MANIFEST,
            "digest": attestation_digest,
            "size": len(attestation),
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
        },
    )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    return pusher.put_manifest(repo, tag, index, OCI_INDEX), platforms
