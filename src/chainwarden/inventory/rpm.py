"""RPM packages: the rpm database in its three backends, read without rpm.

* SQLite ``rpmdb.sqlite`` (Fedora >= 33, RHEL/UBI 9, Amazon Linux 2023, Rocky/Alma 9):
  table ``Packages(hnum, blob)``; opened in memory with ``sqlite3`` (Python's own).
* Berkeley DB ``Packages`` (RHEL/UBI 8, CentOS 7): a hash database whose
  values are header blobs; read page by page here (no libdb), both byte orders.
* NDB ``Packages.db`` (SUSE): rpm's own slot/blob format (``lib/backend/ndb/rpmpkg.c``).

Every backend yields header blobs, parsed by :func:`parse_header` with strict
bounds: an rpm database inside an image is as hostile as any other layer file.
A malformed blob becomes a ``Skipped`` record, never an exception.
"""

from __future__ import annotations

import contextlib
import posixpath
import sqlite3
import stat
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packageurl import PackageURL

from chainwarden.inventory.bounds import package_name_problem
from chainwarden.inventory.distro import REDHAT_RELEASE_PATHS
from chainwarden.inventory.dpkg import OS_RELEASE_PATHS
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Digest, Distro, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

DB_DIRS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")
SQLITE_NAME, BDB_NAME, NDB_NAME = "rpmdb.sqlite", "Packages", "Packages.db"
#: backends in the order rpm itself prefers them when several files are present
DB_NAMES = (SQLITE_NAME, NDB_NAME, BDB_NAME)
DB_PATHS = tuple(f"{directory}/{name}" for directory in DB_DIRS for name in DB_NAMES)
WAL_PATHS = tuple(f"{directory}/{SQLITE_NAME}-wal" for directory in DB_DIRS)

# -- header blobs -------------------------------------------------------------------------------

#: rpm's own limits (lib/header.c): at most 0xffff index entries and 256 MB of data
HEADER_TAGS_MAX = 0xFFFF
HEADER_DATA_MAX = 0x0FFFFFFF
#: more files than this in one package is not a real package
MAX_FILES = 1_000_000

TAG_NAME, TAG_VERSION, TAG_RELEASE, TAG_EPOCH = 1000, 1001, 1002, 1003
TAG_VENDOR, TAG_LICENSE, TAG_PACKAGER, TAG_ARCH, TAG_SOURCERPM = 1011, 1014, 1015, 1022, 1044
TAG_OLDFILENAMES, TAG_FILEMODES, TAG_FILEDIGESTS, TAG_FILEFLAGS = 1027, 1030, 1035, 1037
TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES = 1116, 1117, 1118
TAG_FILEDIGESTALGO = 5011
RPMFILE_GHOST = 1 << 6  # listed, never shipped in the payload
#: RPM_HASH_* (rpmpgp.h) → name; rpm's default before FILEDIGESTALGO existed is MD5
DIGEST_ALGORITHMS = {1: "md5", 2: "sha1", 8: "sha256", 9: "sha384", 10: "sha512", 11: "sha224"}

T_CHAR, T_INT8, T_INT16, T_INT32, T_INT64, T_STRING, T_BIN, T_STRING_ARRAY, T_I18NSTRING = 1, 2, 3, 4, 5, 6, 7, 8, 9
_FIXED_SIZE = {T_CHAR: 1, T_INT8: 1, T_INT16: 2, T_INT32: 4, T_INT64: 8, T_BIN: 1}
_STRING_TYPES = (T_STRING, T_STRING_ARRAY, T_I18NSTRING)


class HeaderError(ValueError):
    """A header blob that is not what rpm writes."""


Value = tuple[str, ...] | tuple[int, ...] | bytes


def parse_header(blob: bytes) -> dict[int, Value]:
    """Tag → value of an rpm header blob (the database form: no lead, no magic).

    Layout (rpm ``lib/header.c``): ``il`` and ``dl`` as big-endian int32, ``il``
    16-byte index entries (tag, type, offset, count), then ``dl`` bytes of data.
    Every offset and count is checked against the blob before it is used.
    """
    if len(blob) < 8:
        raise HeaderError("header shorter than its 8-byte preamble")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il < 1 or il > HEADER_TAGS_MAX:
        raise HeaderError(f"index count {il} out of range")
    if dl > HEADER_DATA_MAX:
        raise HeaderError(f"data length {dl} out of range")
    data_start = 8 + 16 * il
    if data_start + dl > len(blob):
        raise HeaderError(f"header claims {data_start + dl} bytes, blob has {len(blob)}")
    data = blob[data_start : data_start + dl]
    values: dict[int, Value] = {}
    for tag, kind, offset, count in struct.iter_unpack(">IIiI", blob[8:data_start]):
        if offset < 0 or offset > dl:
            raise HeaderError(f"tag {tag}: offset {offset} outside the data ({dl} bytes)")
        if kind in _STRING_TYPES:
            if count < 1 or count > dl:
                raise HeaderError(f"tag {tag}: {count} strings cannot fit")
            values[tag] = _strings(data, offset, 1 if kind == T_STRING else count, tag)
        elif kind in _FIXED_SIZE:
            size = _FIXED_SIZE[kind] * count
            if count > dl or offset + size > dl:
                raise HeaderError(f"tag {tag}: {count} values overrun the data")
            raw = data[offset : offset + size]
            if kind in (T_CHAR, T_BIN):
                values[tag] = raw
            else:
                fmt = {T_INT8: "B", T_INT16: "H", T_INT32: "I", T_INT64: "Q"}[kind]
                values[tag] = struct.unpack(f">{count}{fmt}", raw)
        # other types (NULL, future ones) carry nothing a cataloger needs
    return values


def _strings(data: bytes, offset: int, count: int, tag: int) -> tuple[str, ...]:
    out: list[str] = []
    position = offset
    for _ in range(count):
        nul = data.find(b"\x00", position)
        if nul < 0:
            raise HeaderError(f"tag {tag}: string runs past the data")
        out.append(data[position:nul].decode("utf-8", errors="replace"))
        position = nul + 1
    return tuple(out)


# -- backends: each yields (record number, header blob) -------------------------------------------


class RpmDbError(ValueError):
    """A database file no backend can read."""


def sqlite_blobs(body: bytes, wal: bytes = b"") -> Iterator[tuple[int, bytes]]:
    """Blobs of an ``rpmdb.sqlite``, with its write-ahead log when one was left behind.

    Without a WAL the database is opened in memory (``deserialize``), its header
    switched from WAL to rollback-journal mode, which an in-memory copy needs.
    With one, both go to a private temporary directory so that SQLite itself
    applies the log: packages installed by an rpm that never checkpointed are
    in the log only.
    """
    if not body.startswith(b"SQLite format 3\x00") or len(body) < 100:
        raise RpmDbError("not an SQLite database")
    try:
        if wal:
            with tempfile.TemporaryDirectory(prefix="chainwarden-rpmdb-") as tmp:
                path = Path(tmp, "rpmdb.sqlite")
                path.write_bytes(body)
                Path(tmp, "rpmdb.sqlite-wal").write_bytes(wal)
                connection = sqlite3.connect(path)
                try:
                    rows = connection.execute(_SQLITE_QUERY).fetchall()
                finally:
                    connection.close()
        else:
            image = bytearray(body)
            image[18:20] = b"\x01\x01"  # file format versions: legacy (no WAL)
            connection = sqlite3.connect(":memory:")
            try:
                connection.deserialize(bytes(image))
                rows = connection.execute(_SQLITE_QUERY).fetchall()
            finally:
                connection.close()
    except sqlite3.Error as exc:
        raise RpmDbError(f"SQLite: {exc}") from exc
    for hnum, blob in rows:
        if isinstance(hnum, int) and isinstance(blob, bytes):
            yield hnum, blob


_SQLITE_QUERY = "SELECT hnum, blob FROM Packages ORDER BY hnum"


# Berkeley DB hash format (db-5.3 dbinc/db_page.h): a 512+ byte metadata page, then pages
# of PAGE_HEADER (26 bytes) + an index of item offsets; hash pages hold key/data pairs.
BDB_HASH_MAGIC = 0x061561
P_HASH_UNSORTED, P_OVERFLOW, P_HASH = 2, 7, 13
H_KEYDATA, H_DUPLICATE, H_OFFPAGE = 1, 2, 3
_PAGE_HEADER = 26


def bdb_blobs(body: bytes) -> Iterator[tuple[int, bytes]]:
    """Values of a Berkeley DB hash database (rpm's ``Packages``), either byte order."""
    if len(body) < 512:
        raise RpmDbError("too short for a Berkeley DB")
    for order in ("<", ">"):
        if struct.unpack_from(f"{order}I", body, 12)[0] == BDB_HASH_MAGIC:
            break
    else:
        raise RpmDbError("not a Berkeley DB hash database")
    page_size = struct.unpack_from(f"{order}I", body, 20)[0]
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        raise RpmDbError(f"page size {page_size} is not a Berkeley DB page size")
    pages = len(body) // page_size
    for pgno in range(1, pages):
        page = body[pgno * page_size : (pgno + 1) * page_size]
        if page[25] not in (P_HASH, P_HASH_UNSORTED):
            continue
        entries = struct.unpack_from(f"{order}H", page, 20)[0]
        if _PAGE_HEADER + 2 * entries > page_size:
            raise RpmDbError(f"page {pgno}: {entries} entries cannot fit")
        offsets = struct.unpack_from(f"{order}{entries}H", page, _PAGE_HEADER)
        for index in range(0, entries - 1, 2):
            key = _bdb_item(body, page, offsets, index, order, page_size)
            value = _bdb_item(body, page, offsets, index + 1, order, page_size)
            if key is None or value is None or len(key) != 4:
                continue
            hnum = struct.unpack(f"{order}I", key)[0]
            if hnum == 0:
                continue  # rpm keeps its next free record number under key 0
            yield hnum, value


def _bdb_item(
    body: bytes, page: bytes, offsets: tuple[int, ...], index: int, order: str, page_size: int
) -> bytes | None:
    start = offsets[index]
    # items are packed from the end of the page downwards: an item ends where the previous one starts
    end = offsets[index - 1] if index > 0 else page_size
    if not _PAGE_HEADER <= start < end <= page_size:
        raise RpmDbError(f"item offset {start} outside its page")
    kind = page[start]
    if kind == H_KEYDATA:
        return page[start + 1 : end]
    if kind == H_OFFPAGE:
        if start + 12 > end:
            raise RpmDbError("truncated off-page item")
        pgno, total = struct.unpack_from(f"{order}II", page, start + 4)
        return _bdb_overflow(body, pgno, total, order, page_size)
    return None  # duplicates are not used by rpm's Packages


def _bdb_overflow(body: bytes, pgno: int, total: int, order: str, page_size: int) -> bytes:
    if total > HEADER_DATA_MAX:
        raise RpmDbError(f"overflow item of {total} bytes")
    chunks: list[bytes] = []
    size = 0
    seen: set[int] = set()
    while pgno and size < total:
        if pgno in seen or (pgno + 1) * page_size > len(body):
            raise RpmDbError(f"overflow chain broken at page {pgno}")
        seen.add(pgno)
        page = body[pgno * page_size : (pgno + 1) * page_size]
        if page[25] != P_OVERFLOW:
            raise RpmDbError(f"page {pgno} is not an overflow page")
        next_pgno = struct.unpack_from(f"{order}I", page, 16)[0]
        used = struct.unpack_from(f"{order}H", page, 22)[0]
        if _PAGE_HEADER + used > page_size:
            raise RpmDbError(f"overflow page {pgno} claims {used} bytes")
        chunks.append(page[_PAGE_HEADER : _PAGE_HEADER + used])
        size += used
        pgno = next_pgno
    data = b"".join(chunks)
    if len(data) != total:
        raise RpmDbError(f"overflow item is {len(data)} bytes, not {total}")
    return data


# NDB (rpm lib/backend/ndb/rpmpkg.c): little-endian; a 32-byte header
# ('RpmP', version 0, generation, slot pages), slots of 16 bytes ('Slot', package
# index, block offset, block count) filling the slot pages, then blobs at
# 16-byte blocks ('BlbS', package index, generation, length, header blob…).
NDB_MAGIC = int.from_bytes(b"RpmP", "little")
NDB_SLOT_MAGIC = int.from_bytes(b"Slot", "little")
NDB_BLOB_MAGIC = int.from_bytes(b"BlbS", "little")
NDB_PAGE, NDB_SLOT, NDB_BLOCK, NDB_HEADER = 4096, 16, 16, 32


def ndb_blobs(body: bytes) -> Iterator[tuple[int, bytes]]:
    """Header blobs of an NDB ``Packages.db``."""
    if len(body) < NDB_HEADER:
        raise RpmDbError("too short for an NDB database")
    magic, version, _generation, slot_pages = struct.unpack_from("<IIII", body, 0)
    if magic != NDB_MAGIC or version != 0:
        raise RpmDbError("not an NDB database (version 0)")
    if slot_pages < 1 or slot_pages * NDB_PAGE > len(body):
        raise RpmDbError(f"{slot_pages} slot pages do not fit the file")
    for position in range(NDB_HEADER, slot_pages * NDB_PAGE, NDB_SLOT):
        slot_magic, pkgidx, blkoff, blkcnt = struct.unpack_from("<IIII", body, position)
        if slot_magic != NDB_SLOT_MAGIC:
            raise RpmDbError(f"bad slot at byte {position}")
        if pkgidx == 0:
            continue  # a free slot
        start = blkoff * NDB_BLOCK
        if blkoff == 0 or start + 16 > len(body) or blkcnt * NDB_BLOCK > len(body) - start:
            raise RpmDbError(f"package {pkgidx}: blob outside the file")
        blob_magic, blob_pkgidx, _blob_generation, length = struct.unpack_from("<IIII", body, start)
        if blob_magic != NDB_BLOB_MAGIC or blob_pkgidx != pkgidx:
            raise RpmDbError(f"package {pkgidx}: bad blob header")
        if length > blkcnt * NDB_BLOCK - 16:
            raise RpmDbError(f"package {pkgidx}: blob longer than its blocks")
        yield pkgidx, body[start + 16 : start + 16 + length]


BACKENDS = {SQLITE_NAME: "SQLite", BDB_NAME: "Berkeley DB", NDB_NAME: "NDB"}


# -- packages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RpmHeader:
    """The fields of one installed package chainwarden uses."""

    name: str
    version: str
    release: str
    epoch: int | None
    arch: str | None
    source_rpm: str | None
    license: str | None
    vendor: str | None
    packager: str | None
    files: tuple[str, ...]  # regular files and symlinks (directories and ghosts left out)
    digests: tuple[str, ...]  # "sha256:…" per file, "" for none
    modes: tuple[int, ...]

    @property
    def evr(self) -> str:
        """``[epoch:]version-release``, the form OSV's rpm ecosystems compare."""
        vr = f"{self.version}-{self.release}"
        return f"{self.epoch}:{vr}" if self.epoch is not None else vr


def _text(values: dict[int, Value], tag: int) -> str | None:
    value = values.get(tag)
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        return value[0]
    return None


def _ints(values: dict[int, Value], tag: int) -> tuple[int, ...]:
    value = values.get(tag)
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return value  # type: ignore[return-value]
    return ()


def _strs(values: dict[int, Value], tag: int) -> tuple[str, ...]:
    value = values.get(tag)
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return value  # type: ignore[return-value]
    return ()


def read_header(blob: bytes) -> RpmHeader:
    """The package a header blob describes; raises :class:`HeaderError`."""
    values = parse_header(blob)
    name, version, release = _text(values, TAG_NAME), _text(values, TAG_VERSION), _text(values, TAG_RELEASE)
    if not name or not version or release is None:
        raise HeaderError("header has no name, version or release")
    epochs = _ints(values, TAG_EPOCH)
    basenames = _strs(values, TAG_BASENAMES)
    if basenames:
        dirnames, dirindexes = _strs(values, TAG_DIRNAMES), _ints(values, TAG_DIRINDEXES)
        if len(dirindexes) != len(basenames) or any(i >= len(dirnames) for i in dirindexes):
            raise HeaderError("file list: directory indexes do not match the names")
        paths = [dirnames[i] + base for i, base in zip(dirindexes, basenames, strict=True)]
    else:
        paths = list(_strs(values, TAG_OLDFILENAMES))
    if len(paths) > MAX_FILES:
        raise HeaderError(f"{len(paths)} files")
    modes, flags, digests = _ints(values, TAG_FILEMODES), _ints(values, TAG_FILEFLAGS), _strs(values, TAG_FILEDIGESTS)
    algorithm = DIGEST_ALGORITHMS.get((_ints(values, TAG_FILEDIGESTALGO) or (1,))[0], "")
    files: list[str] = []
    file_digests: list[str] = []
    file_modes: list[int] = []
    for index, path in enumerate(paths):
        mode = modes[index] if index < len(modes) else 0
        if stat.S_ISDIR(mode) or (index < len(flags) and flags[index] & RPMFILE_GHOST):
            continue  # a directory is shared by many packages; a ghost was never shipped
        if not path.startswith("/"):
            continue
        files.append(posixpath.normpath(path))
        digest = digests[index] if index < len(digests) else ""
        file_digests.append(f"{algorithm}:{digest}" if digest and algorithm else "")
        file_modes.append(mode)
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=epochs[0] if epochs else None,
        arch=_text(values, TAG_ARCH),
        source_rpm=_text(values, TAG_SOURCERPM),
        license=_text(values, TAG_LICENSE),
        vendor=_text(values, TAG_VENDOR),
        packager=_text(values, TAG_PACKAGER),
        files=tuple(files),
        digests=tuple(file_digests),
        modes=tuple(file_modes),
    )


def split_source_rpm(source_rpm: str) -> tuple[str, str] | None:
    """``zlib-1.2.11-31.el9.src.rpm`` → ``("zlib", "1.2.11-31.el9")``."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if source_rpm.endswith(suffix):
            stem = source_rpm[: -len(suffix)]
            parts = stem.rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], f"{parts[1]}-{parts[2]}"
    return None


#: os-release ID → purl namespace (purl-spec: pkg:rpm/fedora/…, pkg:rpm/opensuse/…, syft: redhat)
_PURL_NAMESPACES = {"rhel": "redhat", "sles": "suse", "opensuse-leap": "opensuse", "opensuse-tumbleweed": "opensuse"}


def rpm_purl(header: RpmHeader, distro: Distro | None) -> str:
    qualifiers: dict[str, str] = {}
    if header.arch:
        qualifiers["arch"] = header.arch
    if header.epoch is not None:
        qualifiers["epoch"] = str(header.epoch)
    if distro is not None and distro.id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id
    if header.source_rpm:
        qualifiers["upstream"] = header.source_rpm  # syft's convention
    namespace = _PURL_NAMESPACES.get(distro.id, distro.id) if distro is not None and distro.id else "rpm"
    return PackageURL(
        type="rpm",
        namespace=namespace,
        name=header.name,
        version=f"{header.version}-{header.release}",
        qualifiers=qualifiers,
    ).to_string()


class RpmCataloger(Cataloger):
    id = "rpm-db"

    def wants(self, path: str) -> bool:
        if path.startswith(("/var/lib/rpm/", "/usr/lib/sysimage/rpm/")):
            return path in DB_PATHS or path in WAL_PATHS
        return path in OS_RELEASE_PATHS or path in REDHAT_RELEASE_PATHS

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        seen: set[str] = set()
        for path in DB_PATHS:
            entry = view.entry(path)
            if entry is None:
                continue
            with contextlib.suppress(Exception):
                real = view.resolve(path)
                if real in seen:
                    continue  # /var/lib/rpm → /usr/lib/sysimage/rpm
                seen.add(real)
                entry = view.entry(real) or entry
            if entry.type is not EntryType.FILE:
                continue
            name = posixpath.basename(path)
            backend = BACKENDS[name]
            try:
                records = self._records(view, path, name)
            except Exception as exc:
                result.skipped.append(Skipped(f"rpm database ({backend})", Location(path, entry.layer), str(exc)))
                continue
            for hnum, blob in records:
                package = self._package(hnum, blob, path, entry.layer, context.distro, result)
                if package is not None:
                    result.packages.append(package)
            if records:
                break  # one database per image: rpm reads only the configured backend
        return result

    @staticmethod
    def _records(view: FileSystemView, path: str, name: str) -> list[tuple[int, bytes]]:
        body = view.read(path)
        if name == SQLITE_NAME:
            wal = b""
            if view.exists(f"{path}-wal"):
                with contextlib.suppress(Exception):  # no log, or not captured: the main file alone
                    wal = view.read(f"{path}-wal")
            return list(sqlite_blobs(body, wal))
        if name == NDB_NAME:
            return list(ndb_blobs(body))
        return list(bdb_blobs(body))

    def _package(
        self,
        hnum: int,
        blob: bytes,
        db_path: str,
        layer: Digest | None,
        distro: Distro | None,
        result: CatalogResult,
    ) -> Package | None:
        where = Location(db_path, layer)
        try:
            header = read_header(blob)
        except HeaderError as exc:
            result.skipped.append(Skipped(f"rpm header #{hnum}", where, str(exc)))
            return None
        if header.name == "gpg-pubkey":
            return None  # an imported signing key, recorded by rpm as a pseudo-package
        problem = package_name_problem(header.name, "rpm")
        if problem is not None:
            result.skipped.append(Skipped(f"rpm header #{hnum}", where, problem))
            return None
        source = split_source_rpm(header.source_rpm) if header.source_rpm else None
        source_name, source_version = source if source else (header.name, header.evr)
        if source is not None and header.epoch is not None:
            source_version = f"{header.epoch}:{source_version}"
        return Package(
            ecosystem=Ecosystem.RPM,
            name=header.name,
            version=header.evr,
            purl=rpm_purl(header, distro),
            found_by=self.id,
            locations=(where,),
            files=header.files,
            source_name=source_name,
            source_version=source_version,
            arch=header.arch,
            licenses=(header.license,) if header.license else (),
            supplier=header.vendor or header.packager,
            file_digests=header.digests if any(header.digests) else (),
        )
