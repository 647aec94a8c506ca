"""Container images: manifest resolution, layer squashing, per-layer cache.

The concrete sources (OCI layout, docker-archive, oci-archive, registry) only
know how to find blobs; everything about what an image *means* lives here:
index → platform → manifest → config → layers, each blob verified against the
digest it was referenced by, and layers applied in order with OCI whiteouts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import posixpath
import re
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from chainwarden._internal.archives import TarMember, iter_tar
from chainwarden._internal.cachefile import write_json_atomically
from chainwarden.errors import DigestMismatchError, HostileArchiveError, InvalidImageError, SourceError, UsageError
from chainwarden.models import Digest, LayerInfo, Location, Skipped, TargetInfo
from chainwarden.sources.interface import (
    DEFAULT_PLATFORM,
    MAX_FILE_BODY,
    BodyDigest,
    EntryType,
    FileEntry,
    FileSystemView,
    ProgressCallback,
    Source,
    Squashed,
    WantedPredicate,
    normalize_path,
)
from chainwarden.sources.layers import OPAQUE_WHITEOUT, WHITEOUT_PREFIX, LayerRef, verified_layer_stream
from chainwarden.sources.materialize import materialize_layers

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = {MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST}
MANIFEST_TYPES = {MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST}
MAX_JSON_BLOB = 8 * 1024 * 1024
#: 2: members carry the digests kept instead of bodies (BodyDigest)
CACHE_FORMAT = 2


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str) -> Descriptor:
        if not isinstance(data, dict):
            raise InvalidImageError(f"{where}: descriptor is not an object")
        digest = data.get("digest")
        size = data.get("size", -1)
        if not isinstance(digest, str) or not _valid_digest(digest):
            raise InvalidImageError(f"{where}: descriptor has an invalid digest {digest!r}")
        if not isinstance(size, int):
            raise InvalidImageError(f"{where}: descriptor size {size!r} is not an integer")
        platform = data.get("platform")
        plat: str | None = None
        if isinstance(platform, dict):
            plat = f"{platform.get('os', '')}/{platform.get('architecture', '')}"
            if platform.get("variant"):
                plat += f"/{platform['variant']}"
        return cls(str(data.get("mediaType", "")), Digest(digest), size, plat)


def _valid_digest(digest: str) -> bool:
    algorithm, _, hexpart = digest.partition(":")
    return algorithm == "sha256" and len(hexpart) == 64 and all(c in "0123456789abcdef" for c in hexpart)


def parse_json_blob(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidImageError(f"{where}: malformed JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise InvalidImageError(f"{where}: expected a JSON object")
    return value


def verify_bytes(data: bytes, digest: str, where: str) -> None:
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    if got != digest:
        raise DigestMismatchError(f"{where}: content digest {got[:23]}… does not match {digest[:23]}…")


def select_manifest(index: dict[str, Any], platform: str, where: str) -> Descriptor:
    """Pick the manifest for ``platform`` from an index, or explain what exists."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or not manifests:
        raise InvalidImageError(f"{where}: index lists no manifests")
    descriptors = [Descriptor.from_json(m, where) for m in manifests]
    candidates = [d for d in descriptors if d.media_type in INDEX_TYPES | MANIFEST_TYPES or not d.media_type]
    with_platform = [d for d in candidates if d.platform and d.platform != "/"]
    if not with_platform:
        if len(candidates) == 1:
            return candidates[0]
        raise InvalidImageError(f"{where}: index has {len(candidates)} manifests and no platforms")
    for desc in with_platform:
        if desc.platform == platform or (
            desc.platform and desc.platform.split("/")[:2] == platform.split("/")[:2] and platform.count("/") == 1
        ):
            return desc
    available = ", ".join(sorted({d.platform or "?" for d in with_platform}))
    raise SourceError(f"{where}: no manifest for platform {platform}; available: {available}")


_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


def validate_platform(platform: str) -> str:
    """``os/arch[/variant]`` (``linux/amd64``, ``linux/arm64/v8``), or a UsageError."""
    if not _PLATFORM.fullmatch(platform):
        raise UsageError(f"--platform {platform!r}: expected OS/ARCH[/VARIANT], e.g. {DEFAULT_PLATFORM} or linux/arm64")
    return platform


def check_platform(requested: str, actual: str | None, where: str) -> None:
    """An image whose config names another platform than ``requested`` is an error, never scanned instead.

    The error names the image's platform, also when ``requested`` is no platform at all.
    """
    known = actual is not None and actual != "" and not actual.startswith("/") and not actual.endswith("/")
    if not _PLATFORM.fullmatch(requested):
        if known:
            raise UsageError(f"{where}: --platform {requested!r} is not OS/ARCH[/VARIANT]; the image is for {actual}")
        validate_platform(requested)
    if known and requested.split("/")[:2] != str(actual).split("/")[:2]:
        raise SourceError(f"{where}: the image is for {actual}, not {requested}; drop --platform or pick {actual}")


class ImageSource(Source):
    """Base of every image source: subclasses provide :meth:`_layers`."""

    def __init__(self, reference: str, kind: str, cache_dir: Path | None = None) -> None:
        self._reference = reference
        self._kind = kind
        self._cache_dir = cache_dir
        self._skipped: list[Skipped] = []
        self._info: TargetInfo | None = None
        self._required_platform: str | None = None

    @property
    def info(self) -> TargetInfo:
        if self._info is None:
            info = self._load_info()
            if self._required_platform is not None:
                check_platform(self._required_platform, info.platform, self._reference)
            self._info = info
        return self._info

    def require_platform(self, platform: str) -> None:
        """Make a single-platform image of another platform an error (an explicit ``--platform``)."""
        self._required_platform = platform  # checked, with the image's own platform named, when it is known

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return tuple(self._skipped)

    @property
    def cache_dir(self) -> Path | None:
        return self._cache_dir

    def cache_identity(self) -> str | None:
        return "\n".join(self.layer_chain())

    def layer_chain(self) -> tuple[str, ...]:
        return tuple(f"{layer.digest} {layer.diff_id} {layer.fingerprint()}" for layer in self.layers())

    @abstractmethod
    def _load_info(self) -> TargetInfo:
        """Resolve manifest and config; verify them."""

    @abstractmethod
    def layers(self) -> list[LayerRef]:
        """Layer blobs, bottom first."""

    @abstractmethod
    def image_config(self) -> dict[str, Any]:
        """The verified image config JSON (Env, Entrypoint, Cmd, User…)."""

    # -- squashing -------------------------------------------------------

    def view(
        self,
        wanted: WantedPredicate,
        progress: ProgressCallback | None = None,
        cache_key: str | None = None,
    ) -> FileSystemView:
        squashed = self.squash(wanted, len(self.layers()), progress=progress, cache_key=cache_key)
        self._skipped.extend(squashed.skipped)
        return squashed.view

    def squash(
        self,
        wanted: WantedPredicate,
        stop: int,
        *,
        onto: Squashed | None = None,
        progress: ProgressCallback | None = None,
        cache_key: str | None = None,
    ) -> Squashed:
        layers = self.layers()
        start = 0 if onto is None else onto.stop
        if not 0 <= start <= stop <= len(layers):
            raise ValueError(f"cannot squash layers {start}..{stop} of {len(layers)}")
        if onto is None:
            fs = LayeredView()
        elif isinstance(onto.view, LayeredView):
            fs = onto.view.copy()
        else:
            raise TypeError("onto must be a squash of this image's lower layers")
        changes = _Changes()
        if onto is not None:
            fs.record_changes(changes)
        skipped: list[Skipped] = []
        todo = layers[start:stop]
        if progress:
            progress.start(sum(max(layer.size, 0) for layer in todo), f"reading {len(todo)} layers")
        for number, layer in enumerate(todo, start + 1):
            label = f"{self._reference}: layer {number} {layer.digest[:19]}"
            if progress:
                progress.note(f"layer {number}/{len(layers)} {layer.digest[7:19]}")
            members = self._cached_members(layer, cache_key)
            if members is None:
                members = list(self._read_layer(layer, wanted, label))
                self._store_members(layer, cache_key, members)
            fs.apply_layer(members, layer.digest, label, skipped)
            if progress:
                progress.advance(max(layer.size, 0))
        if progress:
            progress.finish()
        fs.record_changes(None)
        return Squashed(
            fs, stop, tuple(skipped), frozenset(changes.paths), frozenset(changes.directories - changes.others)
        )

    def _read_layer(self, layer: LayerRef, wanted: WantedPredicate, label: str) -> Iterator[TarMember]:
        with verified_layer_stream(layer, label) as stream:
            yield from iter_tar(stream, label=label, wanted=wanted, max_body=MAX_FILE_BODY)

    # -- per-layer cache -------------------------------------------------

    def _cache_path(self, layer: LayerRef, cache_key: str | None) -> Path | None:
        if self._cache_dir is None or cache_key is None:
            return None
        key = hashlib.sha256(cache_key.encode()).hexdigest()[:16]
        return self._cache_dir / "layers" / f"{layer.digest.split(':', 1)[1]}-{key}.json"

    def _cached_members(self, layer: LayerRef, cache_key: str | None) -> list[TarMember] | None:
        path = self._cache_path(layer, cache_key)
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") != CACHE_FORMAT or data.get("digest") != layer.digest:
                return None
            if data.get("fingerprint") != layer.fingerprint():
                return None
            return [
                TarMember(
                    p,
                    k,
                    s,
                    m,
                    lt,
                    u,
                    g,
                    base64.b64decode(b) if b is not None else None,
                    (d[0], base64.b64decode(d[1])) if d is not None else None,
                )
                for p, k, s, m, lt, u, g, b, d in data["members"]
            ]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged cache entry is rebuilt, never trusted

    def _store_members(self, layer: LayerRef, cache_key: str | None, members: list[TarMember]) -> None:
        path = self._cache_path(layer, cache_key)
        if path is None:
            return
        payload = {
            "format": CACHE_FORMAT,
            "digest": layer.digest,
            "fingerprint": layer.fingerprint(),
            "members": [
                [
                    m.path,
                    m.kind,
                    m.size,
                    m.mode,
                    m.link_target,
                    m.uid,
                    m.gid,
                    base64.b64encode(m.body).decode() if m.body is not None else None,
                    [m.digest[0], base64.b64encode(m.digest[1]).decode()] if m.digest is not None else None,
                ]
                for m in members
            ],
        }
        write_json_atomically(path, payload)

    # -- materialisation -------------------------------------------------

    def materialize(self, dest: Path, progress: ProgressCallback | None = None) -> None:
        materialize_layers(self, dest, progress)


class _Changes:
    """Paths whose entry changed while layers were applied, and which of them only as directories."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.directories: set[str] = set()  # a directory appeared or went there
        self.others: set[str] = set()  # anything else appeared or went there

    def note(self, path: str, *, directory: bool) -> None:
        self.paths.add(path)
        (self.directories if directory else self.others).add(path)


class LayeredView(FileSystemView):
    """The squashed result of applying layers in order, in memory."""

    # a layer that writes below a symlink or a file replaces it with a directory (_ensure_dir)
    resolves_in_place = True

    def __init__(self) -> None:
        self._entries: dict[str, FileEntry] = {"/": FileEntry("/", EntryType.DIR, mode=0o755)}
        self._bodies: dict[str, bytes] = {}
        #: path -> (digest name, value), for the bodies kept only as a digest
        self._digests: dict[str, tuple[str, bytes]] = {}
        self._children: dict[str, set[str]] = {"/": set()}
        #: children sets shared with the view this one was copied from: copied before a change
        self._shared_children: set[str] = set()
        self._changes: _Changes | None = None

    def copy(self) -> LayeredView:
        """An independent view with the same content (layers applied to it leave this one alone)."""
        clone = LayeredView.__new__(LayeredView)
        clone._entries = dict(self._entries)
        clone._bodies = dict(self._bodies)
        clone._digests = dict(self._digests)
        clone._children = dict(self._children)
        clone._shared_children = set(self._children)
        clone._changes = None
        # this view's sets are now shared with the clone too
        self._shared_children = set(self._children)
        return clone

    def record_changes(self, into: _Changes | None) -> None:
        """Note in ``into`` every path whose entry is added, replaced or removed from now on
        (None stops). A directory that stays a directory is no change: its children are."""
        self._changes = into

    # FileSystemView ------------------------------------------------------
    def entries(self) -> Iterator[FileEntry]:
        return iter(list(self._entries.values()))

    def entry(self, path: str) -> FileEntry | None:
        found = self._entries.get(path)  # callers mostly pass normalised paths already
        return found if found is not None else self._entries.get(normalize_path(path))

    def children(self, path: str) -> list[str]:
        found = self._children.get(path)
        return sorted(found if found is not None else self._children.get(normalize_path(path), ()))

    def walk_files(self, top: str = "/", *, depth: int | None = None) -> Iterator[FileEntry]:
        # below one directory only, rather than through every entry of the image
        stack = [(normalize_path(top), 1)]
        while stack:
            directory, level = stack.pop()
            for name in self._children.get(directory, ()):
                entry = self._entries[f"{directory}/{name}" if directory != "/" else f"/{name}"]
                if entry.type is not EntryType.DIR:
                    yield entry
                elif depth is None or level < depth:
                    stack.append((entry.path, level + 1))

    def read(self, path: str) -> bytes:
        resolved = self.resolve(path)
        entry = self._entries.get(resolved)
        if entry is None:
            raise SourceError(f"{path}: no such file in the image")
        if entry.type is not EntryType.FILE:
            raise SourceError(f"{path}: not a regular file")
        body = self._bodies.get(resolved)
        if body is None:
            raise SourceError(f"{path}: body was not captured while reading layers")
        return body

    def digest(self, path: str, digest: BodyDigest) -> bytes:
        resolved = self.resolve(path)
        kept = self._digests.get(resolved)
        if kept is not None and kept[0] == digest.name:
            return kept[1]
        entry = self._entries.get(resolved)
        body = self._bodies.get(resolved)
        if entry is None or entry.type is not EntryType.FILE or body is None:
            return super().digest(path, digest)  # says why there is no body
        return digest.compute(io.BytesIO(body), True)  # the body is all there will ever be of it

    # squashing -----------------------------------------------------------
    def _own_children(self, path: str) -> set[str]:
        """The children set of directory ``path``, copied first when it is shared with another view."""
        if path in self._shared_children:
            self._shared_children.discard(path)
            self._children[path] = set(self._children.get(path, ()))
        return self._children.setdefault(path, set())

    def _remove(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is None:
            return
        if self._changes is not None:
            self._changes.note(path, directory=entry.type is EntryType.DIR)
        self._bodies.pop(path, None)
        self._digests.pop(path, None)
        parent, name = _split(path)
        if parent in self._children:
            self._own_children(parent).discard(name)
        self._shared_children.discard(path)
        for child in list(self._children.pop(path, ())):
            self._remove(f"{path}/{child}" if path != "/" else f"/{child}")

    def _ensure_dir(self, path: str, layer: Digest) -> None:
        existing = self._entries.get(path)
        if existing is not None:
            if existing.type is EntryType.DIR:
                return
            self._remove(path)
        parent, name = _split(path)
        self._ensure_dir(parent, layer)
        self._entries[path] = FileEntry(path, EntryType.DIR, mode=0o755, layer=layer)
        if self._changes is not None:
            self._changes.note(path, directory=True)
        self._own_children(path)
        self._own_children(parent).add(name)

    def _put(self, entry: FileEntry, body: bytes | None, digest: tuple[str, bytes] | None = None) -> None:
        path = entry.path
        existing = self._entries.get(path)
        if existing is not None and not (existing.type is EntryType.DIR and entry.type is EntryType.DIR):
            self._remove(path)
        parent, name = _split(path)
        self._ensure_dir(parent, entry.layer or Digest(""))
        if entry.type is EntryType.DIR and existing is not None and existing.type is EntryType.DIR:
            self._entries[path] = entry  # metadata update keeps the children
            return
        self._entries[path] = entry
        if self._changes is not None:
            self._changes.note(path, directory=entry.type is EntryType.DIR)
        if entry.type is EntryType.DIR:
            self._own_children(path)
        self._own_children(parent).add(name)
        if body is not None:
            self._bodies[path] = body
        else:
            self._bodies.pop(path, None)
        if digest is not None:
            self._digests[path] = digest
        else:
            self._digests.pop(path, None)

    def apply_layer(self, members: list[TarMember], layer: Digest, label: str, skipped: list[Skipped]) -> None:
        """Apply whiteouts first (they only hide lower layers), then entries."""
        additions: list[TarMember] = []
        for member in members:
            parent, name = _split(member.path)
            if not name.startswith(WHITEOUT_PREFIX):
                additions.append(member)
            elif name == OPAQUE_WHITEOUT:
                for child in list(self._children.get(parent, ())):
                    self._remove(posixpath.join(parent, child))
            else:
                self._remove(posixpath.join(parent, name[len(WHITEOUT_PREFIX) :]))
        in_layer: dict[str, TarMember] = {}
        for member in additions:
            if member.kind == "hardlink":
                self._put_hardlink(member, in_layer, layer, label)
            elif member.kind in ("device", "fifo", "other"):
                skipped.append(Skipped(member.kind, Location(member.path, layer), "special file, not represented"))
            else:
                kind = {"file": EntryType.FILE, "dir": EntryType.DIR, "symlink": EntryType.SYMLINK}[member.kind]
                self._put(
                    FileEntry(
                        member.path, kind, member.size, member.mode, member.link_target, layer, member.uid, member.gid
                    ),
                    member.body,
                    member.digest,
                )
            in_layer[member.path] = member

    def _put_hardlink(self, member: TarMember, in_layer: dict[str, TarMember], layer: Digest, label: str) -> None:
        target_path = member.link_target or ""
        target = self._entries.get(target_path)
        if target is None or target.type is not EntryType.FILE:
            raise HostileArchiveError(
                f"{label}: hard link {member.path.lstrip('/')!r} -> {target_path.lstrip('/')!r} "
                "does not point at a regular file in the image"
            )
        source = in_layer.get(target_path)
        body = source.body if source is not None and source.body is not None else self._bodies.get(target_path)
        digest = source.digest if source is not None and source.digest is not None else self._digests.get(target_path)
        self._put(
            FileEntry(member.path, EntryType.FILE, target.size, target.mode, None, layer, target.uid, target.gid),
            body,
            digest,
        )


def _split(path: str) -> tuple[str, str]:
    """(parent, name) of a normalised absolute path; the root is its own parent."""
    parent, _, name = path.rpartition("/")
    return parent or "/", name


def layer_infos(layers: list[LayerRef]) -> tuple[LayerInfo, ...]:
    return tuple(
        LayerInfo(layer.digest, layer.diff_id, layer.size, layer.media_type, layer.created_by) for layer in layers
    )


def history_commands(config: dict[str, Any]) -> list[str]:
    """``created_by`` of the history entries that produced a layer."""
    history = config.get("history")
    if not isinstance(history, list):
        return []
    return [str(h.get("created_by", "")) for h in history if isinstance(h, dict) and not h.get("empty_layer")]


def diff_ids(config: dict[str, Any], where: str) -> list[Digest]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) and _valid_digest(i) for i in ids):
        raise InvalidImageError(f"{where}: config has no valid rootfs.diff_ids")
    return [Digest(i) for i in ids]


def layers_from_manifest(
    manifest: dict[str, Any],
    config: dict[str, Any],
    where: str,
    opener: Callable[[Descriptor], IO[bytes]],
    fingerprint: Callable[[Descriptor], str | None],
) -> list[LayerRef]:
    """Pair manifest layer descriptors with config diff_ids and history."""
    raw_layers = manifest.get("layers")
    if not isinstance(raw_layers, list):
        raise InvalidImageError(f"{where}: manifest has no layers list")
    descriptors = [Descriptor.from_json(d, where) for d in raw_layers]
    ids = diff_ids(config, where)
    if len(ids) != len(descriptors):
        raise InvalidImageError(f"{where}: manifest has {len(descriptors)} layers but config lists {len(ids)} diff_ids")
    history = history_commands(config)
    if len(history) != len(descriptors):
        history = [""] * len(descriptors)
    layers = []
    for desc, diff_id, created_by in zip(descriptors, ids, history, strict=True):
        if "nondistributable" in desc.media_type or "foreign" in desc.media_type:
            raise InvalidImageError(f"{where}: foreign layer {desc.digest[:19]} is not supported")
        layers.append(
            LayerRef(
                desc.digest,
                diff_id,
                desc.size,
                desc.media_type,
                created_by,
                open=functools.partial(opener, desc),
                fingerprint=functools.partial(fingerprint, desc),
            )
        )
    return layers


def file_fingerprint(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
