"""Write an image's layers to disk, safely, for the runtime sandbox.

Layers are hostile input until proven otherwise. Every path is created from a
directory file descriptor of the destination, one component at a time, with
``O_NOFOLLOW`` and ``lstat`` checks: a symlink planted by a layer is never
traversed while writing, so ``etc -> /`` followed by ``etc/passwd`` cannot
reach the host. Device nodes and FIFOs are skipped, setuid/setgid bits are
stripped, hard links may only point at regular files already under ``dest``,
and whiteouts only hide what lower layers wrote.

Bodies are streamed from the tar straight to disk: memory use does not grow
with the layer. Digests are verified by the same
:func:`~chainwarden.sources.layers.verified_layer_stream` the in-memory view
reads; when one mismatches, what was written stays in ``dest`` and the caller
(who owns that temp directory) discards it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol, cast

from chainwarden._internal import archives
from chainwarden._internal.archives import safe_member_path, symlink_escapes
from chainwarden.errors import HostileArchiveError, InvalidImageError, SourceError
from chainwarden.models import TargetInfo
from chainwarden.sources.interface import ProgressCallback
from chainwarden.sources.layers import OPAQUE_WHITEOUT, WHITEOUT_PREFIX, LayerRef, verified_layer_stream

CHUNK = 1 << 20
#: setuid and setgid: a hardened sandbox copy never needs them, an attacker might.
PRIVILEGE_BITS = stat.S_ISUID | stat.S_ISGID


class LayeredImage(Protocol):
    """What materialisation reads of an image: its reference and its layers (an :class:`ImageSource`)."""

    @property
    def info(self) -> TargetInfo: ...

    def layers(self) -> list[LayerRef]: ...


@dataclass(slots=True)
class MaterializeStats:
    """What was written and what was refused, for callers that want to know."""

    files: int = 0
    bytes: int = 0
    skipped_special: list[str] = field(default_factory=list)


def materialize_layers(
    source: LayeredImage,
    dest: Path,
    progress: ProgressCallback | None,
    *,
    preserve_ownership: bool = False,
    stats: MaterializeStats | None = None,
) -> None:
    """Apply ``source``'s layers, bottom first, onto the empty directory ``dest``.

    Ownership from the tar headers is applied only when ``preserve_ownership``
    is asked and the process runs as root; otherwise every file belongs to us.
    Raises :class:`HostileArchiveError` or :class:`InvalidImageError` naming
    the layer and member on the first problem.
    """
    stats = stats if stats is not None else MaterializeStats()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise SourceError(f"{dest}: materialisation needs an empty directory")
    layers = source.layers()
    if progress:
        progress.start(sum(max(layer.size, 0) for layer in layers), f"writing {len(layers)} layers")
    writer = _TreeWriter(dest, preserve_ownership and os.geteuid() == 0, stats)
    try:
        for number, layer in enumerate(layers, 1):
            label = f"{source.info.reference}: layer {number} {layer.digest[:19]}"
            if progress:
                progress.note(f"layer {number}/{len(layers)} {layer.digest[7:19]}")
            _apply_layer(writer, layer, label)
            if progress:
                progress.advance(max(layer.size, 0))
        writer.apply_directory_modes()
    finally:
        writer.close()
        if progress:
            progress.finish()


def _apply_layer(writer: _TreeWriter, layer: LayerRef, label: str) -> None:
    with verified_layer_stream(layer, label) as stream:
        writer.apply_tar(cast(IO[bytes], stream), label)


class _TreeWriter:
    """Creates entries under a root directory fd without ever following a link."""

    def __init__(self, root: Path, chown: bool, stats: MaterializeStats) -> None:
        self._root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        self._chown = chown
        self._stats = stats
        #: final modes of directories; applied at the end so that a 0o555
        #: directory in a lower layer does not stop an upper layer writing in it
        self._dir_modes: dict[str, int] = {}
        #: modification times from the tar headers: Python validates its
        #: ``__pycache__`` bytecode against the source's mtime, so a rootfs
        #: with fresh mtimes recompiles (and rewrites) every module it imports
        self._dir_mtimes: dict[str, int | None] = {}

    def close(self) -> None:
        os.close(self._root_fd)

    # -- tar streaming ---------------------------------------------------

    def apply_tar(self, stream: IO[bytes], label: str) -> None:
        try:
            archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed below
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise InvalidImageError(f"{label}: not a readable tar stream ({exc})") from exc
        written: set[str] = set()  # paths this layer wrote: whiteouts never hide them
        name = "<first member>"
        count = 0
        try:
            for info in archive:
                count += 1
                name = info.name
                if count > archives.MAX_MEMBERS:
                    raise HostileArchiveError(f"{label}: more than {archives.MAX_MEMBERS} members")
                self._apply_member(archive, info, label, written)
        except (tarfile.TarError, EOFError, zlib.error, ValueError) as exc:
            raise InvalidImageError(f"{label}: truncated or corrupt after member {name!r} ({exc})") from exc
        except OSError as exc:
            if isinstance(exc, HostileArchiveError | InvalidImageError):
                raise
            raise InvalidImageError(f"{label}: member {name!r}: cannot write ({exc.strerror or exc})") from exc
        finally:
            archive.close()

    def _apply_member(self, archive: tarfile.TarFile, info: tarfile.TarInfo, label: str, written: set[str]) -> None:
        path = safe_member_path(info.name, label)
        if path == "/":
            if info.isdir():
                return  # "./" entries describe the root, which is ours
            raise HostileArchiveError(f"{label}: member {info.name!r} replaces the root")
        where = f"{label}: member {info.name!r}"
        parent, base = path.rsplit("/", 1)
        if base == OPAQUE_WHITEOUT:
            with self._dir(parent, where, create=False) as dir_fd:
                if dir_fd is not None:
                    for child in os.listdir(dir_fd):
                        if f"{parent}/{child}" not in written:
                            _remove(dir_fd, child)
            return
        if base.startswith(WHITEOUT_PREFIX):
            hidden = base[len(WHITEOUT_PREFIX) :]
            if hidden in ("", ".", ".."):
                raise HostileArchiveError(f"{where}: whiteout names no entry")
            if f"{parent}/{hidden}" not in written:
                with self._dir(parent, where, create=False) as dir_fd:
                    if dir_fd is not None:
                        _remove(dir_fd, hidden)
            return
        if (
            info.ischr()
            or info.isblk()
            or info.isfifo()
            or not (info.isreg() or info.isdir() or info.issym() or info.islnk())
        ):
            self._stats.skipped_special.append(path)
            return
        with self._dir(parent, where, create=True) as dir_fd:
            assert dir_fd is not None
            self._create(archive, info, dir_fd, base, path, where)
        written.add(path)

    def _create(
        self, archive: tarfile.TarFile, info: tarfile.TarInfo, dir_fd: int, base: str, path: str, where: str
    ) -> None:
        existing = _lstat(dir_fd, base)
        mode = stat.S_IMODE(info.mode) & ~PRIVILEGE_BITS
        if info.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                if existing is not None:
                    _remove(dir_fd, base)
                os.mkdir(base, 0o700, dir_fd=dir_fd)
            self._dir_modes[path] = mode
            self._dir_mtimes[path] = _mtime_ns(info)
            self._own(dir_fd, base, info)
            return
        if existing is not None:
            _remove(dir_fd, base)
        if info.issym():
            if symlink_escapes(path, info.linkname):
                raise HostileArchiveError(f"{where}: symlink -> {info.linkname!r} points outside the root")
            os.symlink(info.linkname, base, dir_fd=dir_fd)
            self._own(dir_fd, base, info)
            self._stamp(dir_fd, base, info)
        elif info.islnk():
            self._hardlink(info, dir_fd, base, where)
        else:
            self._write_file(archive, info, dir_fd, base, mode, where)
            self._own(dir_fd, base, info)

    def _write_file(
        self, archive: tarfile.TarFile, info: tarfile.TarInfo, dir_fd: int, base: str, mode: int, where: str
    ) -> None:
        handle = archive.extractfile(info)
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        copied = 0
        try:
            while handle is not None:
                block = handle.read(min(CHUNK, info.size - copied)) if copied < info.size else b""
                if not block:
                    break
                _write_all(fd, block)
                copied += len(block)
            os.fchmod(fd, mode)
            mtime = _mtime_ns(info)
            if mtime is not None:
                os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)
        if copied != info.size:
            raise InvalidImageError(f"{where} is truncated ({copied} of {info.size} bytes)")
        self._stats.files += 1
        self._stats.bytes += copied

    def _hardlink(self, info: tarfile.TarInfo, dir_fd: int, base: str, where: str) -> None:
        target = safe_member_path(info.linkname, f"{where} (hard link)")
        target_parent, target_base = target.rsplit("/", 1)
        with self._dir(target_parent or "/", where, create=False) as target_dir:
            st = _lstat(target_dir, target_base) if target_dir is not None else None
            if target_dir is None or st is None or not stat.S_ISREG(st.st_mode):
                raise HostileArchiveError(
                    f"{where}: hard link -> {info.linkname!r} does not point at a regular file in the image"
                )
            os.link(target_base, base, src_dir_fd=target_dir, dst_dir_fd=dir_fd, follow_symlinks=False)
        self._stats.files += 1

    def _stamp(self, dir_fd: int, base: str, info: tarfile.TarInfo) -> None:
        mtime = _mtime_ns(info)
        if mtime is not None:
            os.utime(base, ns=(mtime, mtime), dir_fd=dir_fd, follow_symlinks=False)

    def _own(self, dir_fd: int, base: str, info: tarfile.TarInfo) -> None:
        if self._chown:
            os.chown(base, info.uid, info.gid, dir_fd=dir_fd, follow_symlinks=False)

    # -- safe directory walking -------------------------------------------

    @contextlib.contextmanager
    def _dir(self, path: str, where: str, *, create: bool) -> Iterator[int | None]:
        """A fd of directory ``path`` under the root, reached without links.

        With ``create``, missing components are made; without it, a missing
        component yields None (a whiteout of something that never existed).
        """
        fd = os.dup(self._root_fd)
        try:
            for component in [p for p in path.split("/") if p]:
                st = _lstat(fd, component)
                if st is None:
                    if not create:
                        os.close(fd)
                        fd = -1
                        yield None
                        return
                    os.mkdir(component, 0o755, dir_fd=fd)
                elif not stat.S_ISDIR(st.st_mode):
                    kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a directory"
                    raise HostileArchiveError(f"{where}: parent {component!r} is {kind}; refusing to write through it")
                child = os.open(component, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd = child
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)

    def apply_directory_modes(self) -> None:
        # deepest first, so that a 0o500 parent does not block its children
        for path in sorted(self._dir_modes, key=lambda p: p.count("/"), reverse=True):
            parent, base = path.rsplit("/", 1)
            with self._dir(parent, path, create=False) as dir_fd:
                st = _lstat(dir_fd, base) if dir_fd is not None else None
                if dir_fd is None or st is None or not stat.S_ISDIR(st.st_mode):
                    continue  # removed by a later whiteout
                child = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                try:
                    os.fchmod(child, self._dir_modes[path])
                    mtime = self._dir_mtimes.get(path)
                    if mtime is not None:  # last: creating children changed it
                        os.utime(child, ns=(mtime, mtime))
                finally:
                    os.close(child)


#: Latest mtime accepted from a tar header (year 2514); anything beyond, or negative, is left as "now".
MAX_MTIME = 1 << 34


def _mtime_ns(info: tarfile.TarInfo) -> int | None:
    try:
        mtime = float(info.mtime)
    except (TypeError, ValueError):
        return None
    if not 0 <= mtime < MAX_MTIME:
        return None
    return int(mtime * 1_000_000_000)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _lstat(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def _remove(dir_fd: int, name: str) -> None:
    st = _lstat(dir_fd, name)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        # shutil.rmtree with dir_fd walks by fd and never follows symlinks
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
        try:
            os.fchmod(child, 0o700)  # a read-only directory of a lower layer is still removable
        finally:
            os.close(child)
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def copy_rootfs(source: Path, dest: Path) -> MaterializeStats:
    """Copy an unpacked rootfs (``dir:`` target) without following links.

    Device nodes, FIFOs and sockets are skipped; setuid/setgid bits stripped.
    """
    stats = MaterializeStats()
    dest.mkdir(parents=True, exist_ok=True)
    directory_times: list[tuple[Path, int]] = []
    for current, dirs, files in os.walk(source, followlinks=False):
        rel = os.path.relpath(current, source)
        target_dir = dest if rel == "." else dest / rel
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in list(dirs):
            src = os.path.join(current, name)
            st = os.lstat(src)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), target_dir / name)
                os.utime(target_dir / name, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
                dirs.remove(name)
            else:
                (target_dir / name).mkdir(mode=0o755)
                directory_times.append((target_dir / name, st.st_mtime_ns))
        for name in files:
            src = os.path.join(current, name)
            st = os.lstat(src)
            out = target_dir / name
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(src), out)
                os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            elif stat.S_ISREG(st.st_mode):
                with open(src, "rb") as reader, open(out, "xb") as writer:
                    shutil.copyfileobj(reader, writer, CHUNK)
                os.chmod(out, stat.S_IMODE(st.st_mode) & ~PRIVILEGE_BITS)
                os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))  # bytecode caches check it
                stats.files += 1
                stats.bytes += st.st_size
            else:
                stats.skipped_special.append("/" + os.path.normpath(os.path.join(rel, name)))
    for directory, mtime in reversed(directory_times):  # children first: writing in one changes it
        os.utime(directory, ns=(mtime, mtime))
    return stats
