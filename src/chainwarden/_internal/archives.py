"""Readers for hostile archives: tar layers, gzip/zstd streams, digests.

Nothing here writes to disk or follows a link. Every limit is explicit:
decompressed bytes per stream, member count, body size. Errors name the archive
(layer digest or file) and the member, in one line.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from chainwarden.errors import DigestMismatchError, HostileArchiveError, InvalidImageError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: Ceiling on decompressed bytes of one stream, whatever its compressed size.
MAX_DECOMPRESSED = int(os.environ.get("CHAINWARDEN_MAX_LAYER_BYTES", str(32 * 1024**3)))
#: Real layers compress 2-5x; a sparse-file layer maybe 50x. Beyond this, a bomb.
MAX_RATIO = 200
#: Floor so that tiny compressed inputs may still hold ordinary content.
MIN_ALLOWANCE = 256 * 1024**2
MAX_MEMBERS = 2_000_000


class HashingReader(io.RawIOBase):
    """Passes reads through while computing a digest of everything read."""

    def __init__(self, raw: IO[bytes], algorithm: str = "sha256") -> None:
        self._raw = raw
        self._hash = hashlib.new(algorithm)
        self.algorithm = algorithm
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._hash.update(data)
        self.count += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._hash.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def verify(self, expected: str, label: str, expected_size: int | None = None) -> None:
        """Read what is left and compare with ``expected`` ("sha256:hex")."""
        self.drain()
        algorithm, _, want = expected.partition(":")
        if algorithm != self.algorithm:
            raise InvalidImageError(f"{label}: unsupported digest algorithm {algorithm!r}")
        got = self.hexdigest()
        if got != want:
            raise DigestMismatchError(f"{label}: content digest sha256:{got[:16]}… does not match {expected[:23]}…")
        if expected_size is not None and expected_size >= 0 and self.count != expected_size:
            raise DigestMismatchError(f"{label}: size {self.count} differs from descriptor size {expected_size}")


class BoundedReader(io.RawIOBase):
    """Refuses to deliver more than ``limit`` bytes: the decompression-bomb fuse."""

    def __init__(self, raw: IO[bytes], limit: int, label: str) -> None:
        self._raw = raw
        self._limit = limit
        self._label = label
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size >= 0 else 1 << 20)
        self.count += len(data)
        if self.count > self._limit:
            raise HostileArchiveError(
                f"{self._label}: decompresses beyond {self._limit // 1024**2} MiB (decompression bomb?)"
            )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _PeekReader(io.RawIOBase):
    """Lets us sniff magic bytes from a non-seekable stream."""

    def __init__(self, raw: IO[bytes], head: bytes) -> None:
        self._raw = raw
        self._head = head

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._raw.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            if len(data) < size:
                data += self._raw.read(size - len(data))
            return data
        return self._raw.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def decompressed(raw: IO[bytes], *, compressed_size: int, label: str) -> IO[bytes]:
    """A bounded, decompressing reader over ``raw`` (gzip, zstd or plain tar)."""
    head = raw.read(4)
    source = _PeekReader(raw, head)
    limit = min(MAX_DECOMPRESSED, max(MIN_ALLOWANCE, MAX_RATIO * max(compressed_size, 1)))
    stream: Any
    if head.startswith(GZIP_MAGIC):
        from isal import igzip

        stream = igzip.IGzipFile(fileobj=source, mode="rb")
    elif head.startswith(ZSTD_MAGIC):
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
    else:
        stream = source
        limit = max(limit, compressed_size)
    return cast(IO[bytes], BoundedReader(stream, limit, label))


@dataclass(slots=True)
class TarMember:
    """One archive member, validated and normalised."""

    path: str  # absolute, normalised ("/etc/passwd")
    kind: str  # "file", "dir", "symlink", "hardlink", "device", "fifo"
    size: int
    mode: int
    link_target: str | None  # symlink target as stored; hardlink: normalised path
    uid: int
    gid: int
    body: bytes | None


def safe_member_path(name: str, label: str) -> str:
    """Normalise a member name, refusing absolute paths and ``..`` escapes."""
    if name.startswith("/"):
        raise HostileArchiveError(f"{label}: member {name!r} has an absolute path")
    if "\x00" in name:
        raise HostileArchiveError(f"{label}: member {name!r} contains a NUL byte")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise HostileArchiveError(f"{label}: member {name!r} escapes the root")
        parts.append(part)
    return "/" + "/".join(parts)


def symlink_escapes(link_path: str, target: str) -> bool:
    """True when a relative symlink climbs above the root it lives in.

    Absolute targets are interpreted inside the image root, as a container
    runtime would; only a relative target with more ``..`` than depth escapes.
    """
    if target.startswith("/"):
        return False
    depth = len([p for p in posixpath.dirname(link_path).split("/") if p])
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def iter_tar(
    stream: IO[bytes],
    *,
    label: str,
    wanted: Any,
    max_body: int,
) -> Iterator[TarMember]:
    """Stream members of a tar, keeping bodies only where ``wanted(path)``."""
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - streamed below
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidImageError(f"{label}: not a readable tar stream ({exc})") from exc
    count = 0
    name = "<first member>"
    try:
        for info in archive:
            count += 1
            name = info.name
            if count > MAX_MEMBERS:
                raise HostileArchiveError(f"{label}: more than {MAX_MEMBERS} members")
            yield _member(archive, info, label, wanted, max_body)
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        if isinstance(exc, HostileArchiveError):
            raise
        raise InvalidImageError(f"{label}: truncated or corrupt after member {name!r} ({exc})") from exc
    finally:
        archive.close()


def _member(archive: tarfile.TarFile, info: tarfile.TarInfo, label: str, wanted: Any, max_body: int) -> TarMember:
    path = safe_member_path(info.name, label)
    body: bytes | None = None
    link: str | None = None
    if info.isdir():
        kind = "dir"
    elif info.issym():
        kind = "symlink"
        link = info.linkname
        if symlink_escapes(path, link):
            raise HostileArchiveError(f"{label}: symlink {info.name!r} -> {link!r} points outside the root")
    elif info.islnk():
        kind = "hardlink"
        link = safe_member_path(info.linkname, f"{label}: hard link {info.name!r}")
    elif info.isreg():
        kind = "file"
        if wanted(path):
            if info.size > max_body:
                raise HostileArchiveError(
                    f"{label}: member {info.name!r} is {info.size} bytes, over the {max_body} byte limit"
                )
            handle = archive.extractfile(info)
            body = handle.read() if handle is not None else b""
            if len(body) != info.size:
                raise InvalidImageError(f"{label}: member {info.name!r} is truncated")
    elif info.ischr() or info.isblk():
        kind = "device"
    elif info.isfifo():
        kind = "fifo"
    else:
        kind = "other"
    return TarMember(path, kind, info.size, info.mode, link, info.uid, info.gid, body)


def sha256_file(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return "sha256:" + digest.hexdigest()
