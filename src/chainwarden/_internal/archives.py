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
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from chainwarden._internal.tarstream import RawMember, iter_members
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


INPUT_CHUNK = 1 << 20
OUTPUT_CHUNK = 4 << 20


def _codec_errors() -> tuple[type[Exception], ...]:
    import zstandard
    from isal import isal_zlib

    return (zlib.error, EOFError, cast(type[Exception], isal_zlib.error), zstandard.ZstdError)


def _new_gzip_decoder() -> Any:
    from isal import isal_zlib  # about 2x faster than zlib at inflating layers

    return isal_zlib.decompressobj(wbits=31)  # 31: gzip header and trailer expected


class LayerReader(io.RawIOBase):
    """raw blob → sha256 → gunzip/unzstd → sha256 + bomb fuse → ``read()``.

    One object instead of a stack of wrappers: layer reading is the floor of
    every image scan, and each Python-level hop per 10 KiB tar block costs.
    """

    def __init__(self, raw: IO[bytes], *, compressed_size: int, label: str, hash_uncompressed: bool) -> None:
        self._raw = raw
        self._label = label
        self.blob_hash = hashlib.sha256()
        self.blob_count = 0
        self.tar_hash = hashlib.sha256() if hash_uncompressed else None
        self.count = 0
        self._chunk = b""
        self._pos = 0
        self._done = False
        head = self._raw_read(4)
        self._pending = head
        self._limit = min(MAX_DECOMPRESSED, max(MIN_ALLOWANCE, MAX_RATIO * max(compressed_size, 1)))
        self._gzip: Any = None
        self._zstd: Any = None
        self._thread: threading.Thread | None = None
        if head.startswith(GZIP_MAGIC):
            self._gzip = _new_gzip_decoder()
        elif head.startswith(ZSTD_MAGIC):
            import zstandard

            self._zstd = zstandard.ZstdDecompressor().stream_reader(
                cast(IO[bytes], _Prefixed(head, self)), read_size=INPUT_CHUNK, read_across_frames=True
            )
            self._pending = b""
        else:
            self._limit = max(self._limit, compressed_size)

    def readable(self) -> bool:
        return True

    def _raw_read(self, size: int) -> bytes:
        data = self._raw.read(size)
        self.blob_hash.update(data)
        self.blob_count += len(data)
        return data

    def _produce(self) -> bytes:
        """The next piece of decompressed output; b"" at the end."""
        if self._zstd is not None:
            return bytes(self._zstd.read(OUTPUT_CHUNK))
        if self._gzip is None:
            data, self._pending = self._pending + self._raw_read(INPUT_CHUNK), b""
            return data
        while True:
            decoder = self._gzip
            if decoder.unconsumed_tail:
                out = decoder.decompress(decoder.unconsumed_tail, OUTPUT_CHUNK)
            else:
                data, self._pending = self._pending + self._raw_read(INPUT_CHUNK), b""
                if not data:
                    if not decoder.eof:
                        raise InvalidImageError(f"{self._label}: gzip stream is truncated")
                    return b""
                if decoder.eof:
                    # concatenated gzip members are one stream (RFC 1952 §2.2)
                    self._gzip = decoder = _new_gzip_decoder()
                out = decoder.decompress(data, OUTPUT_CHUNK)
            if decoder.eof and decoder.unused_data:
                self._pending = decoder.unused_data
            if out:
                return bytes(out)

    def _produce_checked(self) -> bytes:
        try:
            return self._produce()
        except _codec_errors() as exc:
            raise InvalidImageError(f"{self._label}: corrupt compressed stream ({exc})") from exc

    def start_background(self) -> None:
        """Inflate in a second thread while the caller parses.

        isal and hashlib release the GIL on large buffers, so reading,
        hashing and inflating the blob overlaps with tar parsing on another core.
        """
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._background, name="layer-inflate", daemon=True)
        self._thread.start()

    def _background(self) -> None:
        while not self._stop.is_set():
            try:
                item: bytes | BaseException = self._produce_checked()
            except BaseException as exc:
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not isinstance(item, bytes) or not item:
                return

    def _next_output(self) -> bytes:
        if self._thread is None:
            return self._produce_checked()
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        super().close()

    def _fill(self) -> bool:
        if self._done:
            return False
        out = self._next_output()
        if not out:
            self._done = True
            return False
        self.count += len(out)
        if self.count > self._limit:
            raise HostileArchiveError(
                f"{self._label}: decompresses beyond {self._limit // 1024**2} MiB (decompression bomb?)"
            )
        if self.tar_hash is not None:
            self.tar_hash.update(out)
        rest = self._chunk[self._pos :]
        self._chunk = rest + out if rest else out
        self._pos = 0
        return True

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            while self._fill():
                pass
            data, self._chunk, self._pos = self._chunk[self._pos :], b"", 0
            return data
        while len(self._chunk) - self._pos < size and not self._done:
            self._fill()
        data = self._chunk[self._pos : self._pos + size]
        self._pos += len(data)
        return data

    def skip(self, size: int) -> int:
        """Advance ``size`` bytes without copying them; returns how many were skipped."""
        skipped = 0
        while skipped < size:
            available = len(self._chunk) - self._pos
            if available == 0:
                if self._done or not self._fill():
                    break
                continue
            step = min(available, size - skipped)
            self._pos += step
            skipped += step
        return skipped

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def verify(self, blob_digest: str | None, blob_size: int | None, diff_id: str | None) -> None:
        """Consume what is left, then compare every digest that is known."""
        while self._fill():
            self._chunk, self._pos = b"", 0
        while self._raw_read(INPUT_CHUNK):
            pass  # trailing bytes after the compressed stream still count for the blob digest
        if diff_id is not None and self.tar_hash is not None:
            _compare(diff_id, self.tar_hash.hexdigest(), f"{self._label} (uncompressed)")
        if blob_digest is not None:
            _compare(blob_digest, self.blob_hash.hexdigest(), self._label)
            if blob_size is not None and blob_size >= 0 and self.blob_count != blob_size:
                raise DigestMismatchError(
                    f"{self._label}: size {self.blob_count} differs from descriptor size {blob_size}"
                )


class _Prefixed(io.RawIOBase):
    """The sniffed head, then the rest of a LayerReader's raw stream (hashed)."""

    def __init__(self, head: bytes, owner: LayerReader) -> None:
        self._head = head
        self._owner = owner

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        head, self._head = self._head, b""
        return head + self._owner._raw_read(max(size - len(head), 0) if size >= 0 else INPUT_CHUNK)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _compare(expected: str, got_hex: str, label: str) -> None:
    algorithm, _, want = expected.partition(":")
    if algorithm != "sha256":
        raise InvalidImageError(f"{label}: unsupported digest algorithm {algorithm!r}")
    if got_hex != want:
        raise DigestMismatchError(f"{label}: content digest sha256:{got_hex[:16]}… does not match {expected[:23]}…")


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
    #: (digest name, value) kept instead of ``body`` where the wanted predicate asked only for a digest
    digest: tuple[str, bytes] | None = None


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
    stream: LayerReader,
    *,
    label: str,
    wanted: Any,
    max_body: int,
) -> Iterator[TarMember]:
    """Stream members of a layer tar, keeping bodies only where ``wanted(path)``.

    Where ``wanted.digest(path)`` names a digest (``chainwarden.sources.interface.BodyDigest``:
    a ``name`` and ``compute(body, final)``), the member keeps that digest of its
    body instead of the body, which is dropped as soon as the digest is made.
    """
    paths: dict[str, str] = {}
    digest_for = getattr(wanted, "digest", None)

    def keep_body(member: RawMember) -> bool:
        path = paths[member.name]
        if not wanted(path):
            return False
        if member.size > max_body:
            optional = getattr(wanted, "optional", None)
            if optional is not None and optional(path):
                return False  # listed without its body (e.g. a 100 MB binary); nobody needs it whole
            raise HostileArchiveError(
                f"{label}: member {member.name!r} is {member.size} bytes, over the {max_body} byte limit"
            )
        return True

    members = iter_members(stream, label, _remember_path(paths, label, keep_body))
    for count, (raw, body) in enumerate(members, 1):
        if count > MAX_MEMBERS:
            raise HostileArchiveError(f"{label}: more than {MAX_MEMBERS} members")
        path = paths.pop(raw.name) if raw.name in paths else safe_member_path(raw.name, label)
        member = _member(raw, path, label, body)
        if body is not None and digest_for is not None and (digest := digest_for(path)) is not None:
            member.digest, member.body = (digest.name, digest.compute(io.BytesIO(body), True)), None
        yield member


def _remember_path(
    paths: dict[str, str], label: str, keep_body: Callable[[RawMember], bool]
) -> Callable[[RawMember], bool]:
    """Validate the name once, before any body is read, and keep the result."""

    def check(member: RawMember) -> bool:
        paths[member.name] = safe_member_path(member.name, label)
        return keep_body(member)

    return check


def _member(raw: RawMember, path: str, label: str, body: bytes | None) -> TarMember:
    link: str | None = None
    if raw.kind == "symlink":
        link = raw.linkname
        if symlink_escapes(path, link):
            raise HostileArchiveError(f"{label}: symlink {raw.name!r} -> {link!r} points outside the root")
    elif raw.kind == "hardlink":
        link = safe_member_path(raw.linkname, f"{label}: hard link {raw.name!r}")
    return TarMember(path, raw.kind, raw.size, raw.mode, link, raw.uid, raw.gid, body)
