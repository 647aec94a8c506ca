"""The contract every target source fulfils: a read-only view of a filesystem.

A source turns a target string into a :class:`FileSystemView`. Images are never
extracted to disk for inventory: their layers are streamed once and squashed
into metadata plus the bodies of the few files some cataloger asked for (the
*wanted* predicate), so scanning a 1 GB image touches almost no disk. Of the
files a cataloger needs only a few facts about (an executable's build info), the
wanted predicate may name a :class:`BodyDigest` instead: images keep that digest
of each such body, computed as it streams by, never the body.
"""

from __future__ import annotations

import enum
import io
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from chainwarden.errors import SourceError
from chainwarden.models import Digest, Skipped, TargetInfo

#: Decides, from an absolute path inside the target, whether a file body is
#: needed. Called once per file; it must be cheap.
WantedPredicate = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class BodyDigest:
    """What a cataloger keeps of a file body instead of the body.

    ``compute(body, final)`` reads the body, a seekable binary stream, as far as
    it needs (a header, a section at its offset) and returns a few bytes.
    ``final`` says the body cannot be read again (an image layer streaming by),
    so the digest must hold all that may be asked of the file later; otherwise
    the file stays readable (:meth:`FileSystemView.open`) and costly facts (a
    hash of the whole body) may be left for when they are needed. A wanted
    predicate names the digest a path needs by a ``digest(path)`` method; images
    keep it in their per-layer cache under ``name``, which must change whenever
    what ``compute`` returns does.
    """

    name: str
    compute: Callable[[BinaryIO, bool], bytes]


#: Largest single file body chainwarden keeps in memory (dpkg status files of
#: big images are a few MB; anything near this is hostile).
MAX_FILE_BODY = 64 * 1024 * 1024

#: Symlink hops before a path is declared a loop.
MAX_SYMLINK_HOPS = 40

#: The platform picked from a multi-platform image unless ``--platform`` names another.
DEFAULT_PLATFORM = "linux/amd64"


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """How :func:`chainwarden.sources.open_source` opens a target (what the concrete sources read)."""

    platform: str = DEFAULT_PLATFORM
    cache_dir: Path | None = None
    #: allow plain http and unverified TLS for the registry (dangerous by name)
    insecure_registry: bool = False
    registry_timeout: float = 30.0
    #: the platform was asked for (``--platform``): a single-platform image of
    #: another platform is an error instead of being scanned anyway
    strict_platform: bool = False
    #: fnmatch patterns (relative paths) a directory walk skips. None: take
    #: ``exclude`` from the project's chainwarden.toml — for projects only, never
    #: for a root filesystem, which must not be able to hide from its scanner.
    exclude: tuple[str, ...] | None = None


class EntryType(enum.StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # fifo, device: never materialised


@dataclass(frozen=True, slots=True)
class FileEntry:
    """Metadata of one path in the squashed filesystem."""

    path: str  # absolute and normalised: "/usr/bin/python3"
    type: EntryType
    size: int = 0
    mode: int = 0o644
    link_target: str | None = None  # symlink target as stored
    layer: Digest | None = None  # layer that last wrote it (images)
    uid: int = 0
    gid: int = 0


class ProgressCallback:
    """Receives progress from long work; the CLI supplies a rich-backed one."""

    def start(self, total: int | None, description: str, *, unit: str = "bytes") -> None:
        """A new phase with ``total`` units of work (``None``: unknown); ``unit`` names them."""

    def advance(self, amount: int) -> None:
        """``amount`` units of the current phase are done."""

    def note(self, message: str) -> None:
        """A short status line (``layer 3/7 sha256:ab…``)."""

    def finish(self) -> None:
        """The current phase is over."""


class FileSystemView(ABC):
    """A read-only filesystem: metadata for every path, bodies on request."""

    #: Every entry lies under directory entries, none behind a symlink: then a path
    #: that has an entry other than a symlink, or that is missing right under a
    #: directory, resolves to itself without a walk through its components.
    resolves_in_place: bool = False

    @abstractmethod
    def entries(self) -> Iterator[FileEntry]:
        """Every entry, in no guaranteed order."""

    @abstractmethod
    def entry(self, path: str) -> FileEntry | None:
        """The entry at ``path`` itself (symlinks not followed), or None."""

    @abstractmethod
    def read(self, path: str) -> bytes:
        """The body of the regular file at ``path`` (symlinks followed).

        Raises :class:`SourceError` when the file does not exist or, for images,
        when no cataloger asked for its body when the layers were read.
        """

    @abstractmethod
    def children(self, path: str) -> list[str]:
        """Names directly under directory ``path`` (sorted), or [] if none."""

    def unreadable(self) -> tuple[Skipped, ...]:
        """What :meth:`entries` met but could not read so far (a directory it could not list), with the reason.

        A walk that silently left out a directory would report less than it
        checked; each such gap is a skipped record instead.
        """
        return ()

    def exists(self, path: str) -> bool:
        return self.entry(self.resolve(path)) is not None

    def read_text(self, path: str) -> str:
        return self.read(path).decode("utf-8", errors="replace")

    def open(self, path: str) -> BinaryIO:
        """The body of the regular file at ``path`` (symlinks followed) as a seekable
        stream, for readers that take parts of it by offset; close it after use.

        Raises :class:`SourceError` as :meth:`read` does.
        """
        return io.BytesIO(self.read(path))

    def digest(self, path: str, digest: BodyDigest) -> bytes:
        """What ``digest`` keeps of the regular file at ``path`` (symlinks followed).

        Raises :class:`SourceError` as :meth:`read` does.
        """
        with self.open(path) as body:
            return digest.compute(body, False)

    def resolve(self, path: str) -> str:
        """Follow symlinks in every component, clamped at the root like chroot."""
        if self.resolves_in_place and self._resolves_to_itself(path):
            return path
        parts = [p for p in normalize_path(path).split("/") if p]
        resolved = "/"
        hops = 0
        while parts:
            name = parts.pop(0)
            candidate = posixpath.join(resolved, name)
            entry = self.entry(candidate)
            if entry is not None and entry.type is EntryType.SYMLINK and entry.link_target:
                hops += 1
                if hops > MAX_SYMLINK_HOPS:
                    raise SourceError(f"{path}: too many levels of symbolic links")
                target = entry.link_target
                base = "/" if target.startswith("/") else resolved
                parts = [p for p in normalize_path(posixpath.join(base, target)).split("/") if p] + parts
                resolved = "/"
                continue
            resolved = candidate
        return resolved

    def _resolves_to_itself(self, path: str) -> bool:
        """With :attr:`resolves_in_place`: whether ``path`` is normalised and is an entry other than a
        symlink, or is missing below a directory (then nothing on the way is a symlink)."""
        probe = path
        while probe.startswith("/"):
            entry = self.entry(probe)
            if entry is not None:
                if entry.path != probe:
                    return False  # not normalised
                return entry.type is not EntryType.SYMLINK if probe == path else entry.type is EntryType.DIR
            parent, _, name = probe.rpartition("/")
            if name in ("", ".", ".."):
                return False
            probe = parent or "/"
        return False

    def walk_files(self, top: str = "/", *, depth: int | None = None) -> Iterator[FileEntry]:
        """Regular files and symlinks below ``top`` (no symlink following);
        ``depth=1``: only those directly in it."""
        top = normalize_path(top).rstrip("/") + "/"
        for entry in self.entries():
            below = entry.type is not EntryType.DIR and (top == "/" or entry.path.startswith(top))
            if below and (depth is None or entry.path.count("/") - top.count("/") < depth):
                yield entry


@dataclass(frozen=True, slots=True)
class Squashed:
    """The first ``stop`` layers of an image applied in order: one view.

    ``changed`` is what the layers applied on top of a lower squash (see
    :meth:`Source.squash`) did to it: every path whose entry they added,
    replaced or removed (a removed directory's descendants included), so that
    whatever was computed from the lower view and depends on none of these
    paths still holds. A directory that stays a directory is no change: only
    its children are. Empty for a squash from the first layer.
    """

    view: FileSystemView
    stop: int
    #: entries of the layers applied here that the view does not represent (device files, …)
    skipped: tuple[Skipped, ...]
    changed: frozenset[str] = frozenset()
    #: the paths of ``changed`` where only a directory appeared or went (its content is in ``changed`` too)
    only_directories: frozenset[str] = frozenset()


class Source(ABC):
    """An opened target. ``view()`` may be called once per wanted predicate."""

    @property
    @abstractmethod
    def info(self) -> TargetInfo:
        """Identity of the target (digests, layers) — available after opening."""

    @abstractmethod
    def view(
        self,
        wanted: WantedPredicate,
        progress: ProgressCallback | None = None,
        cache_key: str | None = None,
    ) -> FileSystemView:
        """The squashed filesystem, with bodies of wanted files available.

        ``cache_key`` names the wanted predicate (it must change whenever the
        predicate does); with it, per-layer results are cached by layer digest.
        """

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        """Entries seen but not represented (device files, …), after view()."""
        return ()

    @property
    def cache_dir(self) -> Path | None:
        """Where results about this target may be cached (None: never)."""
        return None

    def cache_identity(self) -> str | None:
        """A string that changes whenever the content may have changed, or None.

        For images: the ordered layer digests (the OCI chain) plus each local
        blob's file identity, so a blob edited on disk invalidates the cache.
        """
        return None

    def layer_chain(self) -> tuple[str, ...]:
        """The identity of each layer, bottom first; () for a source without layers.

        Layer *k*'s identity is its digest (and a local blob's file identity), so
        the first *k* identities name the filesystem of the first *k* layers
        whichever image they belong to: images built on one base share them.
        """
        return ()

    def squash(
        self,
        wanted: WantedPredicate,
        stop: int,
        *,
        onto: Squashed | None = None,
        progress: ProgressCallback | None = None,
        cache_key: str | None = None,
    ) -> Squashed:
        """Layers ``[0, stop)`` squashed, reusing ``onto`` for the layers below it: a squash of
        this source's first ``onto.stop`` layers, or of any source whose :meth:`layer_chain`
        starts with the same identities, made with the same ``wanted`` and ``cache_key``.

        ``onto`` is left as it was. Only sources with :meth:`layer_chain` support this.
        """
        raise SourceError(f"{self.info.reference}: this source has no layers to squash")

    def materialize(self, dest: Path, progress: ProgressCallback | None = None) -> None:
        """Write the full filesystem under ``dest`` (for the runtime sandbox).

        Implementations never write outside ``dest``, never create device
        nodes and never follow a symlink while writing.
        """
        raise SourceError(f"{self.info.reference}: this source cannot be materialised")

    def close(self) -> None:  # noqa: B027
        """Release temp files and connections."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def normalize_path(path: str) -> str:
    """Absolute, ``.``/``..`` resolved lexically, never above ``/``."""
    normalized = posixpath.normpath("/" + path.lstrip("/"))
    # posixpath.normpath keeps a leading "//"; the root is one slash
    return "/" + normalized.lstrip("/")
