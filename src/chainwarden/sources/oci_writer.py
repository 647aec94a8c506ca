"""Writing images: OCI layouts and docker-archive tarballs.

Used by ``harden`` (a new image from kept files), the demo builder and the
test fixtures. Layers are given as uncompressed tar files or bytes; blobs are
written content-addressed, compressed streaming, and hashed as they go.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chainwarden.models import Digest
from chainwarden.sources.image import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST

MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    None: "application/vnd.oci.image.layer.v1.tar",
}
CHUNK = 1 << 20


@dataclass(slots=True)
class ImageSpec:
    """What to write. ``layers`` are uncompressed tars (paths or bytes)."""

    layers: Sequence[Path | bytes]
    config: dict[str, Any] = field(default_factory=dict)  # Env, Cmd, Entrypoint, User, WorkingDir…
    architecture: str = "amd64"
    os: str = "linux"
    #: one entry per layer: a ``created_by`` string, or a whole OCI history
    #: entry (``created``, ``author``, ``comment``, ``empty_layer``…) kept as given
    history: Sequence[str | Mapping[str, Any]] = ()
    created: str = "1970-01-01T00:00:00Z"  # fixed by default: reproducible output


def _open_layer(layer: Path | bytes) -> IO[bytes]:
    return io.BytesIO(layer) if isinstance(layer, bytes) else layer.open("rb")


def _sha256_stream(handle: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for block in iter(lambda: handle.read(CHUNK), b""):
        digest.update(block)
        size += len(block)
    return "sha256:" + digest.hexdigest(), size


class _BlobDir:
    def __init__(self, root: Path) -> None:
        self.root = root / "blobs" / "sha256"
        self.root.mkdir(parents=True, exist_ok=True)

    def put_bytes(self, data: bytes) -> tuple[Digest, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (self.root / digest[7:]).write_bytes(data)
        return Digest(digest), len(data)

    def put_layer(self, layer: Path | bytes, compression: str | None) -> tuple[Digest, int, Digest]:
        """Store one layer; returns (blob digest, blob size, diff_id)."""
        with _open_layer(layer) as handle:
            diff_id, _ = _sha256_stream(handle)
        fd, tmp_name = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, _open_layer(layer) as src:
                if compression == "gzip":
                    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz:
                        shutil.copyfileobj(src, gz, CHUNK)
                elif compression == "zstd":
                    import zstandard

                    with zstandard.ZstdCompressor(level=3).stream_writer(out, closefd=False) as zw:
                        shutil.copyfileobj(src, zw, CHUNK)
                else:
                    shutil.copyfileobj(src, out, CHUNK)
            with open(tmp_name, "rb") as handle:
                digest, size = _sha256_stream(handle)
            os.replace(tmp_name, self.root / digest[7:])
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)  # a failed or interrupted write leaves no .tmp blob
            raise
        return Digest(digest), size, Digest(diff_id)


def _config_json(spec: ImageSpec, diff_ids: Sequence[str]) -> dict[str, Any]:
    history: list[dict[str, Any]] = [
        {"created": spec.created, **entry}
        if isinstance(entry, Mapping)
        else {"created": spec.created, "created_by": entry}
        for entry in spec.history
    ]
    # entries marked empty_layer describe no layer; the others pair with diff_ids in order
    described = sum(1 for entry in history if not entry.get("empty_layer"))
    history += [{"created": spec.created, "created_by": ""}] * (len(diff_ids) - described)
    return {
        "created": spec.created,
        "architecture": spec.architecture,
        "os": spec.os,
        "config": spec.config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }


def write_oci_layout(
    dest: Path, spec: ImageSpec, *, tag: str | None = "latest", compression: str | None = "gzip"
) -> Digest:
    """Write (or add to) an OCI image layout at ``dest``; returns the manifest digest."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    blobs = _BlobDir(dest)
    layer_descs = []
    diff_ids = []
    for layer in spec.layers:
        digest, size, diff_id = blobs.put_layer(layer, compression)
        layer_descs.append({"mediaType": MEDIA_LAYER[compression], "digest": digest, "size": size})
        diff_ids.append(diff_id)
    config_digest, config_size = blobs.put_bytes(json.dumps(_config_json(spec, diff_ids), indent=None).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layer_descs,
    }
    manifest_digest, manifest_size = blobs.put_bytes(json.dumps(manifest).encode())
    index_path = dest / "index.json"
    index: dict[str, Any] = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": []}
    if index_path.is_file():
        index = json.loads(index_path.read_text())
    entry: dict[str, Any] = {
        "mediaType": MEDIA_OCI_MANIFEST,
        "digest": manifest_digest,
        "size": manifest_size,
        "platform": {"architecture": spec.architecture, "os": spec.os},
    }
    if tag:
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        index["manifests"] = [
            m
            for m in index["manifests"]
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") != tag
        ]
    index["manifests"].append(entry)
    index_path.write_text(json.dumps(index))
    return manifest_digest


def write_docker_archive(dest: Path, spec: ImageSpec, *, repo_tag: str = "chainwarden/image:latest") -> Digest:
    """Write a legacy ``docker save`` tarball; returns the config digest."""
    with tempfile.TemporaryDirectory(prefix="chainwarden-archive-") as tmp:
        work = Path(tmp)
        diff_ids = []
        layer_names = []
        for layer in spec.layers:
            with _open_layer(layer) as handle:
                diff_id, _ = _sha256_stream(handle)
            name = f"{diff_id[7:]}/layer.tar"
            (work / diff_id[7:]).mkdir(exist_ok=True)
            with _open_layer(layer) as src, (work / name).open("wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            diff_ids.append(diff_id)
            layer_names.append(name)
        config_bytes = json.dumps(_config_json(spec, diff_ids)).encode()
        config_hex = hashlib.sha256(config_bytes).hexdigest()
        (work / f"{config_hex}.json").write_bytes(config_bytes)
        manifest = [{"Config": f"{config_hex}.json", "RepoTags": [repo_tag], "Layers": layer_names}]
        (work / "manifest.json").write_text(json.dumps(manifest))
        with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as archive:
            for path in sorted(work.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(work)), recursive=False)
    return Digest("sha256:" + config_hex)
