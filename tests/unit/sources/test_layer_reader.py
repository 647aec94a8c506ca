"""The layer stream: decompression, digests and the bomb fuse."""

from __future__ import annotations

import gzip
import hashlib
import io

import pytest
import zstandard

from chainwarden._internal import archives
from chainwarden._internal.archives import LayerReader
from chainwarden.errors import DigestMismatchError, HostileArchiveError, InvalidImageError

PAYLOAD = b"".join(b"line %d of a tar-ish payload\n" % i for i in range(50_000))


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_all(reader: LayerReader, block: int = 10240) -> bytes:
    parts = []
    while chunk := reader.read(block):
        parts.append(chunk)
    return b"".join(parts)


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: gzip.compress(d, mtime=0),
        lambda d: gzip.compress(d[:1000], mtime=0) + gzip.compress(d[1000:], mtime=0),  # multi-member
        lambda d: zstandard.ZstdCompressor().compress(d),
        lambda d: d,
    ],
    ids=["gzip", "gzip-multi-member", "zstd", "plain"],
)
def test_round_trip_and_digests(encode: object) -> None:
    blob = encode(PAYLOAD)  # type: ignore[operator]
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="layer", hash_uncompressed=True)
    assert read_all(reader) == PAYLOAD
    reader.verify(sha(blob), len(blob), sha(PAYLOAD))


def test_digest_and_size_mismatches() -> None:
    blob = gzip.compress(PAYLOAD)
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="L", hash_uncompressed=True)
    with pytest.raises(DigestMismatchError, match=r"L \(uncompressed\)"):
        reader.verify(sha(blob), len(blob), sha(b"other"))
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="L", hash_uncompressed=False)
    with pytest.raises(DigestMismatchError, match="size"):
        reader.verify(sha(blob), len(blob) + 1, None)


def test_unread_rest_is_still_hashed() -> None:
    blob = gzip.compress(PAYLOAD)
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="L", hash_uncompressed=True)
    reader.read(100)
    reader.verify(sha(blob), len(blob), sha(PAYLOAD))


def test_truncated_gzip() -> None:
    blob = gzip.compress(PAYLOAD)[:-100]
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="L", hash_uncompressed=False)
    with pytest.raises(InvalidImageError, match="truncated"):
        read_all(reader)


def test_corrupt_gzip() -> None:
    blob = bytearray(gzip.compress(PAYLOAD))
    blob[100:140] = b"\xff" * 40
    reader = LayerReader(io.BytesIO(bytes(blob)), compressed_size=len(blob), label="L", hash_uncompressed=False)
    with pytest.raises(InvalidImageError, match="corrupt"):
        read_all(reader)


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_bomb_fuse(monkeypatch: pytest.MonkeyPatch, codec: str) -> None:
    monkeypatch.setattr(archives, "MIN_ALLOWANCE", 1 << 20)
    monkeypatch.setattr(archives, "MAX_RATIO", 100)
    zeros = b"\0" * (64 << 20)
    blob = gzip.compress(zeros) if codec == "gzip" else zstandard.ZstdCompressor().compress(zeros)
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="L", hash_uncompressed=False)
    with pytest.raises(HostileArchiveError, match="decompression bomb"):
        read_all(reader, block=1 << 20)


@pytest.mark.parametrize("background", [False, True])
def test_errors_reach_the_reader_in_both_modes(background: bool) -> None:
    blob = bytearray(gzip.compress(PAYLOAD))
    blob[100:140] = b"\xff" * 40
    reader = LayerReader(io.BytesIO(bytes(blob)), compressed_size=len(blob), label="L", hash_uncompressed=True)
    if background:
        reader.start_background()
    with pytest.raises(InvalidImageError, match="corrupt"):
        read_all(reader)
    reader.close()


def test_background_reader_stops_when_abandoned() -> None:
    blob = gzip.compress(PAYLOAD * 20)
    reader = LayerReader(io.BytesIO(blob), compressed_size=len(blob), label="L", hash_uncompressed=True)
    reader.start_background()
    reader.read(10)
    reader.close()  # must not hang although the producer still has output to hand over
    assert reader.closed
