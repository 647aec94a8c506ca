"""OCI image layout directories (``oci:DIR``) and their tar form (``oci-archive:FILE``).

Layout: ``oci-layout`` + ``index.json`` + ``blobs/<alg>/<hex>`` (OCI image-spec
image-layout.md). ``DIR:TAG`` selects the manifest annotated with
``org.opencontainers.image.ref.name`` = TAG, as skopeo and umoci write it.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from chainwarden.errors import InvalidImageError, SourceError
from chainwarden.models import Digest, TargetInfo
from chainwarden.sources.image import (
    INDEX_TYPES,
    MAX_JSON_BLOB,
    MEDIA_OCI_INDEX,
    Descriptor,
    ImageSource,
    file_fingerprint,
    layer_infos,
    layers_from_manifest,
    parse_json_blob,
    select_manifest,
    verify_bytes,
)
from chainwarden.sources.interface import DEFAULT_PLATFORM
from chainwarden.sources.layers import LayerRef

REF_NAME = "org.opencontainers.image.ref.name"
MAX_INDEX_DEPTH = 4


class BlobReader:
    """Resolves an image through any blob store given ``open`` by digest.

    Shared by the OCI layout and archive sources here and by the registry source,
    which overrides :meth:`json_blob` to fetch manifests from ``/manifests/``.
    """

    def __init__(
        self,
        where: str,
        open_blob: Callable[[Digest], IO[bytes]],
        fingerprint: Callable[[Digest], str | None],
    ) -> None:
        self.where = where
        self.open_blob = open_blob
        self.fingerprint = fingerprint

    def json_blob(self, desc: Descriptor, what: str) -> dict[str, Any]:
        if desc.size > MAX_JSON_BLOB:
            raise InvalidImageError(f"{self.where}: {what} {desc.digest[:19]} is {desc.size} bytes, too large")
        with self.open_blob(desc.digest) as handle:
            data = handle.read(MAX_JSON_BLOB + 1)
        if len(data) > MAX_JSON_BLOB:
            raise InvalidImageError(f"{self.where}: {what} {desc.digest[:19]} is too large")
        verify_bytes(data, desc.digest, f"{self.where}: {what} {desc.digest[:19]}")
        return parse_json_blob(data, f"{self.where}: {what} {desc.digest[:19]}")

    def resolve(
        self, index: dict[str, Any], platform: str, tag: str | None
    ) -> tuple[Descriptor, dict[str, Any], Descriptor, dict[str, Any]]:
        """index.json → (manifest descriptor, manifest, config descriptor, config)."""
        desc = self._pick_from_layout_index(index, tag)
        if not desc.digest:
            desc = select_manifest(index, platform, self.where)
        for _ in range(MAX_INDEX_DEPTH):
            if desc.media_type in INDEX_TYPES:
                nested = self.json_blob(desc, "index")
                desc = select_manifest(nested, platform, self.where)
                continue
            manifest = self.json_blob(desc, "manifest")
            if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
                desc = select_manifest(manifest, platform, self.where)
                continue
            config_desc = Descriptor.from_json(manifest.get("config"), f"{self.where}: manifest config")
            config = self.json_blob(config_desc, "config")
            return desc, manifest, config_desc, config
        raise InvalidImageError(f"{self.where}: indexes nested deeper than {MAX_INDEX_DEPTH} levels")

    def _pick_from_layout_index(self, index: dict[str, Any], tag: str | None) -> Descriptor:
        manifests = index.get("manifests")
        if not isinstance(manifests, list) or not manifests:
            raise InvalidImageError(f"{self.where}: index.json lists no manifests")
        if tag is not None:
            for m in manifests:
                if isinstance(m, dict) and (m.get("annotations") or {}).get(REF_NAME) == tag:
                    return Descriptor.from_json(m, f"{self.where}: index.json")
            names = sorted(
                str((m.get("annotations") or {}).get(REF_NAME))
                for m in manifests
                if isinstance(m, dict) and (m.get("annotations") or {}).get(REF_NAME)
            )
            raise SourceError(f"{self.where}: no image tagged {tag!r}; tags: {', '.join(names) or 'none'}")
        if len(manifests) == 1:
            return Descriptor.from_json(manifests[0], f"{self.where}: index.json")
        # Several entries: a multi-platform set listed directly in index.json is
        # resolved by platform; several differently tagged images need a tag.
        tags = sorted(
            str((m.get("annotations") or {}).get(REF_NAME))
            for m in manifests
            if isinstance(m, dict) and (m.get("annotations") or {}).get(REF_NAME)
        )
        if len(set(tags)) > 1:
            raise SourceError(
                f"{self.where}: index.json holds {len(manifests)} images; name one as DIR:TAG (tags: {', '.join(tags)})"
            )
        return Descriptor(MEDIA_OCI_INDEX, Digest(""), 0)


class ResolvedImage(ImageSource):
    """Shared tail of every blob-store-backed image source (OCI layout, oci-archive, registry):
    index → platform → manifest → config → layers, through a :class:`BlobReader`."""

    def __init__(
        self,
        reference: str,
        kind: str,
        reader: BlobReader,
        index: dict[str, Any],
        platform: str,
        tag: str | None,
        cache_dir: Path | None,
    ) -> None:
        super().__init__(reference, kind, cache_dir)
        self._reader = reader
        self._index = index
        self._platform = platform
        self._tag = tag
        self._layers: list[LayerRef] | None = None
        self._config: dict[str, Any] = {}
        self._manifest: dict[str, Any] = {}

    def _load_info(self) -> TargetInfo:
        desc, manifest, config_desc, config = self._reader.resolve(self._index, self._platform, self._tag)
        self._config = config
        self._manifest = manifest
        reader = self._reader
        self._layers = layers_from_manifest(
            manifest,
            config,
            self._reference,
            opener=lambda d: reader.open_blob(d.digest),
            fingerprint=lambda d: reader.fingerprint(d.digest),
        )
        platform = f"{config.get('os', '')}/{config.get('architecture', '')}"
        return TargetInfo(
            kind=self._kind,
            reference=self._reference,
            digest=desc.digest,
            config_digest=config_desc.digest,
            platform=platform,
            layers=layer_infos(self._layers),
            repo_tags=(self._tag,) if self._tag else (),
        )

    def layers(self) -> list[LayerRef]:
        if self._layers is None:
            _ = self.info
        assert self._layers is not None
        return self._layers

    def image_config(self) -> dict[str, Any]:
        _ = self.info
        return self._config

    def manifest_annotations(self) -> dict[str, str]:
        """The image manifest's annotations (``org.opencontainers.image.base.name``…)."""
        _ = self.info
        found = self._manifest.get("annotations")
        if not isinstance(found, dict):
            return {}
        return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def _split_tag(path: str) -> tuple[str, str | None]:
    """``DIR:TAG`` → (DIR, TAG), unless DIR itself contains the colon."""
    if ":" in path and not os.path.exists(path):
        base, _, tag = path.rpartition(":")
        return base, tag or None
    return path, None


class OCILayoutSource(ResolvedImage):
    """``oci:DIR[:TAG]``"""

    def __init__(
        self, reference: str, path: str, platform: str = DEFAULT_PLATFORM, cache_dir: Path | None = None
    ) -> None:
        directory, tag = _split_tag(path)
        root = Path(directory)
        if not (root / "index.json").is_file():
            raise SourceError(f"{reference}: {directory} is not an OCI image layout (no index.json)")
        blobs = root / "blobs"

        def blob_path(digest: Digest) -> Path:
            algorithm, _, hexpart = digest.partition(":")
            candidate = blobs / algorithm / hexpart
            # the digest was validated as hex, so this cannot climb out; a symlinked
            # blob pointing elsewhere is refused all the same
            if candidate.is_symlink():
                raise InvalidImageError(f"{reference}: blob {digest[:19]} is a symlink")
            return candidate

        def open_blob(digest: Digest) -> IO[bytes]:
            try:
                return blob_path(digest).open("rb")
            except FileNotFoundError as exc:
                raise InvalidImageError(f"{reference}: blob {digest[:19]} is missing from the layout") from exc

        try:
            index = parse_json_blob((root / "index.json").read_bytes(), f"{reference}: index.json")
        except OSError as exc:
            raise SourceError(f"{reference}: cannot read index.json ({exc.strerror})") from exc
        reader = BlobReader(reference, open_blob, lambda d: file_fingerprint(blob_path(d)))
        super().__init__(reference, "oci", reader, index, platform, tag, cache_dir)


class OCIArchiveSource(ResolvedImage):
    """``oci-archive:FILE.tar[:TAG]`` — an OCI layout packed in a tar."""

    def __init__(
        self, reference: str, path: str, platform: str = DEFAULT_PLATFORM, cache_dir: Path | None = None
    ) -> None:
        filename, tag = _split_tag(path)
        try:
            self._tar = tarfile.open(filename, mode="r:")  # noqa: SIM115 - closed in close()
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"{reference}: cannot open {filename} as a tar ({exc})") from exc
        members = {m.name.lstrip("./"): m for m in self._tar.getmembers() if m.isreg()}
        fingerprint = file_fingerprint(Path(filename))

        def open_blob(digest: Digest) -> IO[bytes]:
            member = members.get("blobs/" + digest.replace(":", "/"))
            handle = self._tar.extractfile(member) if member is not None else None
            if handle is None:
                raise InvalidImageError(f"{reference}: blob {digest[:19]} is missing from the archive")
            return handle

        if "index.json" not in members:
            raise SourceError(f"{reference}: {filename} is not an OCI archive (no index.json)")
        handle = self._tar.extractfile(members["index.json"])
        assert handle is not None
        index = parse_json_blob(handle.read(MAX_JSON_BLOB), f"{reference}: index.json")
        reader = BlobReader(reference, open_blob, lambda d: f"{fingerprint}:{d}" if fingerprint else None)
        super().__init__(reference, "oci-archive", reader, index, platform, tag, cache_dir)

    def close(self) -> None:
        self._tar.close()
