"""A zip archive's central directory and members, read with strict bounds, fast.

OSV's exports are zips of one JSON record per member: 180,000 members for
Debian alone. The standard library's :mod:`zipfile` builds a ``ZipInfo`` per
member (name decoding, extra-field parsing, a regex) and took 2.7 s of CPU for
the three exports before anything was read; an incremental database update
that reads only the 1 % of members that changed was dominated by it. This
reader takes only what the importer needs from each central-directory record
(PKWARE APPNOTE 4.3.12), zip64 included, and reads stored and deflated members
itself; anything else (other methods, encryption) is left to :mod:`zipfile`.
The tests hold its listing equal to :mod:`zipfile`'s on archives of every shape.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["ZipFormatError", "ZipMember", "read_deflated", "read_directory", "read_member"]

_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF
STORED, DEFLATED = 0, 8


class ZipFormatError(ValueError):
    """Not a zip archive, or one whose directory contradicts itself."""


@dataclass(frozen=True, slots=True)
class ZipMember:
    name: str
    method: int  # 0 stored, 8 deflated, others as APPNOTE numbers them
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int  # of the local header, from the start of the file

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 0x1)


def read_directory(handle: BinaryIO, file_size: int, *, max_members: int) -> list[ZipMember]:
    """Every member the central directory lists, in its order.

    Raises:
        ZipFormatError: no end-of-directory record, offsets outside the file,
            more than ``max_members`` members, or a malformed record.
    """
    tail_size = min(file_size, _EOCD.size + _MAX_COMMENT)
    handle.seek(file_size - tail_size)
    tail = handle.read(tail_size)
    # the record is the last one whose comment reaches exactly the end of the file
    # (a comment may itself hold the signature's bytes)
    at = tail.rfind(_EOCD_SIG)
    while at >= 0 and not (
        len(tail) - at >= _EOCD.size and at + _EOCD.size + _EOCD.unpack_from(tail, at)[7] == len(tail)
    ):
        at = tail.rfind(_EOCD_SIG, 0, at)
    if at < 0:
        raise ZipFormatError("no end of central directory record")
    eocd_offset = file_size - tail_size + at
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    directory_end = eocd_offset  # where the directory (and any zip64 records) must stop
    if eocd_offset >= _ZIP64_LOCATOR.size:
        handle.seek(eocd_offset - _ZIP64_LOCATOR.size)
        locator = handle.read(_ZIP64_LOCATOR.size)
        if locator[:4] == _ZIP64_LOCATOR_SIG:
            # like zipfile: the zip64 record sits right before its locator, wherever
            # the archive starts in the file (data may precede it)
            record_at = eocd_offset - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
            if record_at < 0:
                raise ZipFormatError("zip64 end of central directory outside the file")
            handle.seek(record_at)
            record = handle.read(_ZIP64_EOCD.size)
            if record[:4] != _ZIP64_EOCD_SIG:
                raise ZipFormatError("zip64 locator without its end of central directory record")
            _, _, _, _, _, _, _, count, cd_size, cd_offset = _ZIP64_EOCD.unpack(record)
            directory_end = record_at
    if count > max_members:
        raise ZipFormatError(f"more than {max_members} members")
    # bytes before the archive proper (a self-extracting stub, say) shift every offset
    shift = directory_end - cd_size - cd_offset
    if shift < 0 or cd_size < 0:
        raise ZipFormatError("central directory outside the file")
    handle.seek(cd_offset + shift)
    directory = handle.read(cd_size)
    if len(directory) != cd_size:
        raise ZipFormatError("central directory truncated")
    members: list[ZipMember] = []
    position = 0
    unpack = _CENTRAL.unpack_from
    fixed = _CENTRAL.size
    while position < cd_size:
        if cd_size - position < fixed:
            raise ZipFormatError("central directory record truncated")
        (sig, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len, comment_len, _, _, _, offset) = unpack(
            directory, position
        )
        if sig != _CENTRAL_SIG:
            raise ZipFormatError("bad central directory record signature")
        name_start = position + fixed
        extra_start = name_start + name_len
        end = extra_start + extra_len + comment_len
        if end > cd_size:
            raise ZipFormatError("central directory record runs past the directory")
        raw_name = directory[name_start:extra_start]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        if 0xFFFFFFFF in (csize, usize, offset):
            usize, csize, offset = _zip64_sizes(directory[extra_start : extra_start + extra_len], usize, csize, offset)
        members.append(ZipMember(name, method, flags, crc, csize, usize, offset + shift))
        if len(members) > max_members:
            raise ZipFormatError(f"more than {max_members} members")
        position = end
    return members


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """The 64-bit values of the zip64 extra field (id 1), for those marked 0xFFFFFFFF."""
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        if kind == 1:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body)) if len(body) >= 8 else []
            result = []
            for short in (usize, csize, offset):
                if short == 0xFFFFFFFF:
                    if not values:
                        raise ZipFormatError("zip64 extra field too short")
                    result.append(values.pop(0))
                else:
                    result.append(short)
            return result[0], result[1], result[2]
        position += 4 + length
    raise ZipFormatError("zip64 sizes without a zip64 extra field")


def read_deflated(handle: BinaryIO, member: ZipMember, file_size: int) -> bytes:
    """The member's bytes as stored in the archive (compressed), after its local header."""
    if member.header_offset + _LOCAL.size > file_size:
        raise ZipFormatError(f"{member.name}: local header outside the file")
    handle.seek(member.header_offset)
    header = handle.read(_LOCAL.size)
    if header[:4] != _LOCAL_SIG:
        raise ZipFormatError(f"{member.name}: bad local header signature")
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    start = member.header_offset + _LOCAL.size + name_len + extra_len
    if start + member.compressed_size > file_size:
        raise ZipFormatError(f"{member.name}: data runs past the end of the file")
    handle.seek(start)
    return handle.read(member.compressed_size)


def read_member(handle: BinaryIO, member: ZipMember, file_size: int, *, limit: int) -> tuple[bytes, bytes | None]:
    """A stored or deflated member's content (at most ``limit`` bytes, CRC checked),
    and, for a deflated one, its raw DEFLATE stream as stored.

    Raises:
        ZipFormatError: another method, encryption, a corrupt stream, or a
            content that does not match the directory's size and CRC.
    """
    if member.encrypted or member.method not in (STORED, DEFLATED):
        raise ZipFormatError(f"{member.name}: compression method {member.method} or encryption is not read here")
    stored = read_deflated(handle, member, file_size)
    if member.method == STORED:
        data, deflated = stored[: limit + 1], None
    else:
        try:
            data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(stored, limit + 1)
        except zlib.error as exc:
            raise ZipFormatError(f"{member.name}: corrupt deflate stream ({exc})") from exc
        deflated = stored
    if len(data) != member.size or zlib.crc32(data) != member.crc:
        raise ZipFormatError(f"{member.name}: content does not match the directory's size and CRC")
    return data, deflated
