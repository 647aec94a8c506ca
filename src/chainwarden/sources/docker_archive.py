"""``docker save`` tarballs (``docker-archive:FILE.tar[:REPO:TAG]``).

manifest.json lists each image's config and layer files. Legacy archives name
layers ``<id>/layer.tar``; Docker ≥ 25 writes an OCI layout inside and names
``blobs/sha256/<hex>``. Either way the config is verified by its file name and
each layer by the ``rootfs.diff_ids`` of the config.
"""

from __future__ import annotations

import functools
import json
import tarfile
from pathlib import Path
from typing import IO, Any

from chainwarden.errors import InvalidImageError, SourceError
from chainwarden.models import Digest, TargetInfo
from chainwarden.sources.image import (
    MAX_JSON_BLOB,
    ImageSource,
    diff_ids,
    file_fingerprint,
    history_commands,
    layer_infos,
    parse_json_blob,
    verify_bytes,
)
from chainwarden.sources.layers import LayerRef


class DockerArchiveSource(ImageSource):
    def __init__(self, reference: str, path: str, cache_dir: Path | None = None) -> None:
        super().__init__(reference, "docker-archive", cache_dir)
        filename, _, wanted_tag = path.partition(".tar:")
        if wanted_tag:
            filename += ".tar"
        self._filename = filename
        self._wanted_tag = wanted_tag or None
        try:
            self._tar = tarfile.open(filename, mode="r:")  # noqa: SIM115 - closed in close()
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"{reference}: cannot open {filename} as a tar ({exc})") from exc
        self._members = {m.name.removeprefix("./"): m for m in self._tar.getmembers() if m.isreg()}
        self._config: dict[str, Any] = {}
        self._layers: list[LayerRef] = []

    def _read_member(self, name: str, what: str) -> bytes:
        member = self._members.get(name.removeprefix("./"))
        handle = self._tar.extractfile(member) if member is not None else None
        if handle is None:
            raise InvalidImageError(f"{self._reference}: {what} {name!r} is missing from the archive")
        return handle.read(MAX_JSON_BLOB + 1)

    def _open_member(self, name: str) -> IO[bytes]:
        member = self._members.get(name.removeprefix("./"))
        handle = self._tar.extractfile(member) if member is not None else None
        if handle is None:
            raise InvalidImageError(f"{self._reference}: layer {name!r} is missing from the archive")
        return handle

    def _load_info(self) -> TargetInfo:
        where = self._reference
        try:
            manifest = json.loads(self._read_member("manifest.json", "manifest"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidImageError(f"{where}: manifest.json is malformed ({exc})") from exc
        if not isinstance(manifest, list) or not manifest or not all(isinstance(m, dict) for m in manifest):
            raise InvalidImageError(f"{where}: manifest.json is not a list of images")
        entry = manifest[0]
        if self._wanted_tag is not None:
            matches = [m for m in manifest if self._wanted_tag in (m.get("RepoTags") or [])]
            if not matches:
                tags = sorted(t for m in manifest for t in (m.get("RepoTags") or []))
                raise SourceError(f"{where}: no image tagged {self._wanted_tag!r}; tags: {', '.join(tags)}")
            entry = matches[0]
        elif len(manifest) > 1:
            tags = sorted(t for m in manifest for t in (m.get("RepoTags") or []))
            raise SourceError(
                f"{where}: archive holds {len(manifest)} images; name one as FILE.tar:REPO:TAG "
                f"(tags: {', '.join(tags)})"
            )
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise InvalidImageError(f"{where}: manifest.json entry lacks Config or Layers")
        config_bytes = self._read_member(config_name, "config")
        config_hex = Path(config_name).name.removesuffix(".json")
        config_digest = Digest("sha256:" + config_hex)
        verify_bytes(config_bytes, config_digest, f"{where}: config {config_name}")
        self._config = parse_json_blob(config_bytes, f"{where}: config")
        ids = diff_ids(self._config, where)
        if len(ids) != len(layer_names):
            raise InvalidImageError(f"{where}: {len(layer_names)} layers but config lists {len(ids)} diff_ids")
        history = history_commands(self._config)
        if len(history) != len(ids):
            history = [""] * len(ids)
        fingerprint = file_fingerprint(Path(self._filename))
        for name, diff_id, created_by in zip(layer_names, ids, history, strict=True):
            if not isinstance(name, str) or name.removeprefix("./") not in self._members:
                raise InvalidImageError(f"{where}: layer {name!r} is missing from the archive")
            size = self._members[name.removeprefix("./")].size
            self._layers.append(
                LayerRef(
                    diff_id,
                    diff_id,
                    size,
                    "application/vnd.docker.image.rootfs.diff.tar",
                    created_by,
                    open=functools.partial(self._open_member, name),
                    fingerprint=functools.partial(_suffixed, fingerprint, diff_id),
                    digest_is_of_blob=False,
                )
            )
        repo_tags = tuple(t for t in (entry.get("RepoTags") or []) if isinstance(t, str))
        platform = f"{self._config.get('os', '')}/{self._config.get('architecture', '')}"
        return TargetInfo(
            "docker-archive",
            self._reference,
            digest=None,
            config_digest=config_digest,
            platform=platform,
            layers=layer_infos(self._layers),
            repo_tags=repo_tags,
        )

    def layers(self) -> list[LayerRef]:
        _ = self.info
        return self._layers

    def image_config(self) -> dict[str, Any]:
        _ = self.info
        return self._config

    def close(self) -> None:
        self._tar.close()


def _suffixed(fingerprint: str | None, digest: str) -> str | None:
    return f"{fingerprint}:{digest}" if fingerprint else None
