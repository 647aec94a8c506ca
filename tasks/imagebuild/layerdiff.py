"""Turn "rootfs before" → "rootfs after" into one OCI layer tar.

The builder works like ``docker commit`` on a plain directory: it records a
cheap signature of every path (type, mode, owner, size, mtime, ctime, inode,
link target), runs a build step in place, records again, and packs what
differs. Deleted paths become OCI whiteouts (``.wh.NAME``), as the image spec's
"Representing Changes" section prescribes. The tar is deterministic: entries
sorted by path component, numeric owners only, mtimes clamped to
``SOURCE_DATE_EPOCH``, no device nodes, no sockets, nothing from the
pseudo-filesystems (``/proc``, ``/sys``, ``/dev``) but their empty directories.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

#: Directories whose *contents* never belong in an image: the runtime mounts
#: them. The directories themselves are kept (images ship them empty).
PSEUDO_FILESYSTEMS: frozenset[str] = frozenset({"proc", "sys", "dev"})

#: Default clamp for mtimes (2024-01-01T00:00:00Z) when SOURCE_DATE_EPOCH is unset.
DEFAULT_SOURCE_DATE_EPOCH = 1_704_067_200

WHITEOUT_PREFIX = ".wh."


class Kind:
    """The file types a layer can carry (sockets and devices are never packed)."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    FIFO = "fifo"


@dataclass(frozen=True, slots=True)
class PathState:
    """Everything about one path whose change means "repack it"."""

    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int  # catches in-place rewrites that restore mtime (dpkg, touch -r)
    inode: int  # catches rename-over replacement (dpkg unpack, apt upgrade)
    link_target: str | None = None


#: Relative POSIX path ("usr/bin/python3") → its state.
Snapshot = dict[str, PathState]


@dataclass(frozen=True, slots=True)
class LayerChanges:
    """Paths to pack (added or modified) and paths to white out, both sorted."""

    changed: tuple[str, ...]
    deleted: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LayerStats:
    entries: int
    whiteouts: int
    file_bytes: int


def source_date_epoch() -> int:
    """The mtime clamp: ``SOURCE_DATE_EPOCH`` (reproducible-builds.org) or a fixed date."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else DEFAULT_SOURCE_DATE_EPOCH


def path_sort_key(path: str) -> list[str]:
    """Sort by component so a directory always precedes its contents."""
    return path.split("/")


def _kind_of(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return Kind.FILE
    if stat.S_ISDIR(mode):
        return Kind.DIR
    if stat.S_ISLNK(mode):
        return Kind.SYMLINK
    if stat.S_ISFIFO(mode):
        return Kind.FIFO
    return None  # sockets, character and block devices: never in a layer


def snapshot(root: Path, *, pseudo_filesystems: Collection[str] = PSEUDO_FILESYSTEMS) -> Snapshot:
    """Signature of every packable path under ``root`` (symlinks not followed)."""
    states: Snapshot = {}

    def walk(directory: str, relative: str) -> None:
        with os.scandir(directory) as iterator:
            entries = list(iterator)
        for entry in entries:
            rel = f"{relative}/{entry.name}" if relative else entry.name
            info = entry.stat(follow_symlinks=False)
            kind = _kind_of(info.st_mode)
            if kind is None:
                continue
            states[rel] = PathState(
                kind=kind,
                mode=stat.S_IMODE(info.st_mode),
                uid=info.st_uid,
                gid=info.st_gid,
                size=info.st_size if kind == Kind.FILE else 0,
                mtime_ns=info.st_mtime_ns,
                ctime_ns=info.st_ctime_ns,
                inode=info.st_ino,
                link_target=os.readlink(entry.path) if kind == Kind.SYMLINK else None,
            )
            if kind == Kind.DIR and not (not relative and entry.name in pseudo_filesystems):
                walk(entry.path, rel)

    walk(str(root), "")
    return states


def _ancestors(path: str) -> Iterator[str]:
    parts = path.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def diff_snapshots(before: Mapping[str, PathState], after: Mapping[str, PathState]) -> LayerChanges:
    """What a layer must carry to turn ``before`` into ``after``.

    A deleted directory is one whiteout, not one per child. A directory that
    became a file (or symlink) needs no whiteouts below it: the new entry
    replaces the whole directory (image-spec, "Changes").
    """
    changed = {path for path, state in after.items() if before.get(path) != state}
    replaced_dirs = {
        path
        for path in changed
        if before.get(path) is not None and before[path].kind == Kind.DIR and after[path].kind != Kind.DIR
    }
    gone = {path for path in before if path not in after}
    deleted = {path for path in gone if not any(a in gone or a in replaced_dirs for a in _ancestors(path))}
    # Overlay-style layers carry the parent directories of every change, so
    # an extractor recreates them with the right mode and owner.
    with_parents = set(changed)
    for path in list(changed) + list(deleted):
        with_parents.update(a for a in _ancestors(path) if a in after)
    return LayerChanges(
        changed=tuple(sorted(with_parents, key=path_sort_key)),
        deleted=tuple(sorted(deleted, key=path_sort_key)),
    )


def whiteout_name(path: str) -> str:
    """``usr/lib/foo`` → ``usr/lib/.wh.foo``."""
    head, _, tail = path.rpartition("/")
    return f"{head}/{WHITEOUT_PREFIX}{tail}" if head else f"{WHITEOUT_PREFIX}{tail}"


def write_layer(
    root: Path,
    changes: LayerChanges,
    dest: Path,
    *,
    mtime_clamp: int | None = None,
    owner: tuple[int, int] | None = None,
) -> LayerStats:
    """Pack ``changes`` (read live from ``root``) into the uncompressed tar ``dest``.

    ``owner`` forces every entry's uid/gid (for trees unpacked without root);
    otherwise the numeric owners on disk are kept and names are left empty.
    """
    clamp = source_date_epoch() if mtime_clamp is None else mtime_clamp
    whiteouts = {whiteout_name(path): path for path in changes.deleted}
    names = sorted([*changes.changed, *whiteouts], key=path_sort_key)
    entries = whiteout_count = file_bytes = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as archive:
        for name in names:
            if name in whiteouts:
                info = tarfile.TarInfo(name)
                info.mode = 0o644
                info.mtime = clamp
                archive.addfile(info)
                whiteout_count += 1
                continue
            path = root / name
            info = archive.gettarinfo(str(path), arcname=name)
            if info.ischr() or info.isblk():
                continue
            info.mtime = min(int(info.mtime), clamp)
            if owner is not None:
                info.uid, info.gid = owner
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as body:
                    archive.addfile(info, body)
                file_bytes += info.size
            else:
                archive.addfile(info)
            entries += 1
    os.utime(dest, (clamp, clamp))
    return LayerStats(entries=entries, whiteouts=whiteout_count, file_bytes=file_bytes)


class LayerRecorder:
    """Records a root filesystem across build steps, one layer tar per step.

    ``mark()`` remembers the current state; ``commit()`` packs everything that
    changed since the last mark (or since an empty root, at first) and marks
    again.
    """

    def __init__(self, root: Path, *, owner: tuple[int, int] | None = None, mtime_clamp: int | None = None) -> None:
        self.root = root
        self.owner = owner
        self.mtime_clamp = mtime_clamp
        self._last: Snapshot = {}

    def mark(self) -> None:
        self._last = snapshot(self.root)

    def commit(self, dest: Path) -> LayerStats:
        current = snapshot(self.root)
        changes = diff_snapshots(self._last, current)
        stats = write_layer(self.root, changes, dest, mtime_clamp=self.mtime_clamp, owner=self.owner)
        self._last = current
        return stats
