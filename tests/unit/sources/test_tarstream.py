"""The streaming tar reader against archives written by Python's tarfile in every format."""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainwarden._internal.tarstream import RawMember, iter_members
from chainwarden.errors import HostileArchiveError, InvalidImageError


class Source(io.BytesIO):
    def skip(self, size: int) -> int:
        before = self.tell()
        self.seek(min(before + size, len(self.getbuffer())))
        return self.tell() - before


def build(members: Sequence[tuple[str, bytes | None, str]], fmt: int) -> bytes:
    """(name, body or None for a symlink, link target)"""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for name, body, link in members:
            info = tarfile.TarInfo(name)
            info.uid, info.gid, info.mode = 1000, 1000, 0o4755
            if body is None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                archive.addfile(info)
            else:
                info.size = len(body)
                archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def read(data: bytes, keep: bool = True) -> list[tuple[RawMember, bytes | None]]:
    return list(iter_members(Source(data), "L", lambda m: keep))


LONG = "usr/lib/" + "very-long-directory-name/" * 8 + "file.py"


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_formats(fmt: int) -> None:
    members = [("etc/a", b"alpha", ""), ("usr/lib/" + "d/" * 60 + "x", b"b" * 1000, ""), ("lnk", None, "etc/a")]
    if fmt != tarfile.USTAR_FORMAT:
        members.append((LONG, b"long", ""))
        members.append(("lnk2", None, LONG))
    parsed = read(build(members, fmt))
    assert [(m.name, body) for m, body in parsed if m.kind == "file"] == [
        (name, body) for name, body, _ in members if body is not None
    ]
    links = [(m.name, m.linkname) for m, _ in parsed if m.kind == "symlink"]
    assert links == [(name, link) for name, body, link in members if body is None]
    assert all((m.uid, m.gid, m.mode) == (1000, 1000, 0o4755) for m, _ in parsed)


def test_unicode_names_in_pax() -> None:
    parsed = read(build([("usr/share/ünïcødé/ファイル", b"x", "")], tarfile.PAX_FORMAT))
    assert parsed[0][0].name == "usr/share/ünïcødé/ファイル"


def test_bodies_skipped_when_not_kept() -> None:
    parsed = read(build([("a", b"1" * 5000, ""), ("b", b"2", "")], tarfile.GNU_FORMAT), keep=False)
    assert [(m.name, m.size, body) for m, body in parsed] == [("a", 5000, None), ("b", 1, None)]


def test_bad_checksum() -> None:
    data = bytearray(build([("a", b"1", "")], tarfile.USTAR_FORMAT))
    data[0:1] = b"b"
    with pytest.raises(InvalidImageError, match="checksum"):
        read(bytes(data))


def test_truncated_body_and_header() -> None:
    data = build([("a", b"1" * 5000, ""), ("b", b"2", "")], tarfile.USTAR_FORMAT)
    with pytest.raises(InvalidImageError, match="truncated"):
        read(data[:2000])
    with pytest.raises(InvalidImageError, match="truncated"):
        read(data[: 512 + 5120 + 100])


def test_huge_extended_header_is_refused() -> None:
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    header.size = 10 << 20
    data = header.tobuf(tarfile.USTAR_FORMAT)
    with pytest.raises(HostileArchiveError, match="extended header"):
        read(data + b"\0" * 1024)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8", exclude_characters="\0/"), min_size=1, max_size=120),
            st.binary(max_size=700),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_matches_tarfile(entries: list[tuple[str, bytes]]) -> None:
    members = [(f"d/{name}", body, "") for name, body in entries]
    data = build(members, tarfile.PAX_FORMAT)
    with tarfile.open(fileobj=io.BytesIO(data)) as reference:
        expected = [(m.name, reference.extractfile(m).read()) for m in reference.getmembers()]  # type: ignore[union-attr]
    assert [(m.name, body) for m, body in read(data)] == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=3000))
def test_garbage_never_crashes(data: bytes) -> None:
    with contextlib.suppress(InvalidImageError, HostileArchiveError):
        read(data)
