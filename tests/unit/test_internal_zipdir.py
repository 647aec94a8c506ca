"""The lean zip reader lists and reads what zipfile lists and reads, and refuses what is broken."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from chainwarden._internal.zipdir import ZipFormatError, read_directory, read_member


def _listing(data: bytes) -> list[tuple[str, int, int, int, int, int, int]]:
    handle = io.BytesIO(data)
    return [
        (m.name, m.method, m.flags, m.crc, m.compressed_size, m.size, m.header_offset)
        for m in read_directory(handle, len(data), max_members=200_000)
    ]


def _reference(data: bytes) -> list[tuple[str, int, int, int, int, int, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (i.filename, i.compress_type, i.flag_bits, i.CRC, i.compress_size, i.file_size, i.header_offset)
            for i in archive.infolist()
        ]


def _archive(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED, comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
        archive.comment = comment
    return buffer.getvalue()


SHAPES = {
    "deflated": _archive({"a.json": b'{"id": "A"}' * 50, "dir/b.json": b"{}"}),
    "stored": _archive({"a.json": b"x" * 100, "b/": b""}, compression=zipfile.ZIP_STORED),
    "utf-8 and cp437 names": _archive({"résumé.json": b"1", "plain.json": b"2"}),
    "archive comment": _archive({"a.json": b"1"}, comment=b"an archive comment"),
    "empty": _archive({}),
    "data before the archive": b"#!/bin/sh\nexit 0\n" + _archive({"a.json": b"1" * 10}),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_listing_equals_zipfiles(shape: str) -> None:
    data = SHAPES[shape]
    assert _listing(data) == _reference(data)


def test_a_comment_holding_the_end_record_signature_is_not_the_end_record() -> None:
    # zipfile takes the last signature it finds, inside the comment, and fails here
    tricky = _archive({"a.json": b"1"}, comment=b"PK\x05\x06 looks like a record but is a comment")
    plain = _archive({"a.json": b"1"})
    assert _listing(tricky) == _listing(plain) == _reference(plain)


def test_zip64_archive_with_more_members_than_16_bits(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number in range(70_000):
            archive.writestr(f"R-{number}.json", b"{}")
    data = path.read_bytes()
    assert b"PK\x06\x06" in data[-200:]  # a zip64 end record was written
    assert _listing(data) == _reference(data)


@pytest.mark.parametrize("shape", ["deflated", "stored", "data before the archive"])
def test_members_read_as_zipfile_reads_them(shape: str) -> None:
    data = SHAPES[shape]
    handle = io.BytesIO(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in read_directory(handle, len(data), max_members=10):
            if member.is_dir:
                continue
            content, deflated = read_member(handle, member, len(data), limit=1 << 20)
            assert content == archive.read(member.name)
            assert (deflated is None) == (member.method == zipfile.ZIP_STORED)


def test_hostile_archives_are_refused() -> None:
    data = SHAPES["deflated"]
    with pytest.raises(ZipFormatError, match="no end of central directory"):
        _listing(data[:-30])
    with pytest.raises(ZipFormatError, match="more than 1 members"):
        read_directory(io.BytesIO(data), len(data), max_members=1)
    # a directory offset pointing past the end of the file
    broken = bytearray(data)
    eocd = broken.rfind(b"PK\x05\x06")
    broken[eocd + 16 : eocd + 20] = (len(data) * 4).to_bytes(4, "little")
    with pytest.raises(ZipFormatError):
        _listing(bytes(broken))
    # a member whose content does not match the directory's CRC
    corrupt = bytearray(SHAPES["stored"])
    corrupt[corrupt.index(b"x" * 100)] ^= 0xFF
    handle = io.BytesIO(bytes(corrupt))
    member = read_directory(handle, len(corrupt), max_members=10)[0]
    with pytest.raises(ZipFormatError, match="CRC"):
        read_member(handle, member, len(corrupt), limit=1 << 20)
    # a deflate bomb stops at the limit and fails the size check
    bomb = _archive({"a.json": b"0" * 5_000_000})
    handle = io.BytesIO(bomb)
    member = read_directory(handle, len(bomb), max_members=10)[0]
    with pytest.raises(ZipFormatError, match="size and CRC"):
        read_member(handle, member, len(bomb), limit=1000)
