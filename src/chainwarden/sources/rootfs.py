"""Directories: an unpacked root filesystem or a project checkout (``dir:PATH``).

Symlinks are never followed on the host: they are resolved inside the
directory as if it were ``/`` (chroot semantics), so a link to ``/etc/shadow``
in a scanned rootfs reads the rootfs's file, not the host's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import BinaryIO

from chainwarden.errors import SourceError
from chainwarden.models import Location, Skipped, TargetInfo
from chainwarden.sources.interface import (
    MAX_FILE_BODY,
    EntryType,
    FileEntry,
    FileSystemView,
    ProgressCallback,
    Source,
    WantedPredicate,
    normalize_path,
)

#: Directories that are never part of what a project ships or an image runs.
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".tox"})
#: Pseudo-filesystems of a live rootfs.
SKIP_ROOT_DIRS = frozenset({"proc", "sys", "dev"})


class DirectoryView(FileSystemView):
    def __init__(self, root: Path, exclude: tuple[str, ...] = ()) -> None:
        self.root = root
        self.exclude = exclude
        self._unreadable: dict[str, Skipped] = {}

    def unreadable(self) -> tuple[Skipped, ...]:
        return tuple(self._unreadable.values())

    def _excluded(self, path: str) -> bool:
        relative = path.lstrip("/")
        return any(fnmatchcase(relative, pattern) for pattern in self.exclude)

    def _host(self, path: str) -> str:
        return os.path.join(self.root, normalize_path(path).lstrip("/"))

    def _entry_from_stat(self, path: str, st: os.stat_result) -> FileEntry:
        mode = st.st_mode
        if stat.S_ISREG(mode):
            kind, link = EntryType.FILE, None
        elif stat.S_ISDIR(mode):
            kind, link = EntryType.DIR, None
        elif stat.S_ISLNK(mode):
            kind, link = EntryType.SYMLINK, os.readlink(self._host(path))
        else:
            kind, link = EntryType.OTHER, None
        return FileEntry(
            path,
            kind,
            st.st_size if kind is EntryType.FILE else 0,
            stat.S_IMODE(mode),
            link,
            None,
            st.st_uid,
            st.st_gid,
        )

    def entry(self, path: str) -> FileEntry | None:
        path = normalize_path(path)
        try:
            return self._entry_from_stat(path, os.lstat(self._host(path)))
        except OSError:
            return None

    def entries(self) -> Iterator[FileEntry]:
        yield FileEntry("/", EntryType.DIR, mode=0o755)
        yield from self._walk("/")

    def walk_files(self, top: str = "/", *, depth: int | None = None) -> Iterator[FileEntry]:
        top = normalize_path(top)
        if top != "/" and not self._is_real_dir(top):
            return  # absent, a file, or reached through a symlink: nothing below it in this tree
        for entry in self._walk(top, depth):
            if entry.type is not EntryType.DIR:
                yield entry

    def _is_real_dir(self, path: str) -> bool:
        """Whether every component of ``path`` is a directory, none a symlink (which the host would follow)."""
        current = ""
        for part in path.strip("/").split("/"):
            current += "/" + part
            if part in SKIP_DIRS or (current == "/" + part and part in SKIP_ROOT_DIRS):
                return False  # never walked (entries() leaves it out)
            if self.exclude and (self._excluded(current) or self._excluded(current + "/")):
                return False
            entry = self.entry(current)
            if entry is None or entry.type is not EntryType.DIR:
                return False
        return True

    def _walk(self, top: str, depth: int | None = None) -> Iterator[FileEntry]:
        """Every entry below directory ``top`` (``depth`` levels down at most), never following a symlink."""
        stack = [(top, 1)]
        while stack:
            directory, level = stack.pop()
            try:
                with os.scandir(self._host(directory)) as it:
                    items = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                reason = f"cannot list ({exc.strerror or exc}): nothing below it was checked"
                self._unreadable[directory] = Skipped("directory", Location(directory), reason)
                continue
            for item in items:
                if item.name in SKIP_DIRS or (directory == "/" and item.name in SKIP_ROOT_DIRS):
                    continue
                path = directory.rstrip("/") + "/" + item.name
                if self.exclude and (
                    self._excluded(path) or (item.is_dir(follow_symlinks=False) and self._excluded(path + "/"))
                ):
                    continue
                try:
                    entry = self._entry_from_stat(path, item.stat(follow_symlinks=False))
                except OSError as exc:
                    self._unreadable[path] = Skipped("entry", Location(path), f"cannot stat ({exc.strerror or exc})")
                    continue
                yield entry
                if entry.type is EntryType.DIR and (depth is None or level < depth):
                    stack.append((path, level + 1))

    def children(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._host(path)))
        except OSError:
            return []

    def read(self, path: str) -> bytes:
        with self.open(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BODY:
                raise SourceError(f"{path}: {size} bytes, over the {MAX_FILE_BODY} byte limit")
            return handle.read(MAX_FILE_BODY + 1)

    def open(self, path: str) -> BinaryIO:
        resolved = self.resolve(path)
        host = self._host(resolved)
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise SourceError(f"{path}: cannot open ({exc.strerror})") from exc
        handle = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            handle.close()
            raise SourceError(f"{path}: not a regular file")
        return handle


class DirectorySource(Source):
    """``dir:PATH`` — reads lazily; nothing is copied."""

    def __init__(self, reference: str, path: str) -> None:
        self._root = Path(path)
        if not self._root.is_dir():
            raise SourceError(f"{reference}: {path} is not a directory")
        self._info = TargetInfo(kind="dir", reference=reference)
        self._view = DirectoryView(self._root.resolve())

    @property
    def info(self) -> TargetInfo:
        return self._info

    @property
    def root(self) -> Path:
        return self._view.root

    def view(
        self,
        wanted: WantedPredicate,
        progress: ProgressCallback | None = None,
        cache_key: str | None = None,
    ) -> FileSystemView:
        return self._view

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        return ()

    def exclude(self, patterns: tuple[str, ...]) -> None:
        """Skip paths matching ``patterns`` (relative, fnmatch) in every walk."""
        self._view.exclude = patterns

    def looks_like_rootfs(self) -> bool:
        return any((self._root / p).exists() for p in ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg"))
