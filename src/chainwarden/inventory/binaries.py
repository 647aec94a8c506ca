"""Static binaries: Go build info, Rust ``cargo auditable`` data, and unknown executables.

scratch and distroless images often hold nothing but one binary; an inventory
that skips it says "0 packages" and every gate passes on nothing. This cataloger
reads ELF executables in the places images keep them:

* Go: the build info the toolchain embeds (``.go.buildinfo``, ``runtime/debug.BuildInfo``):
  the Go version (the standard library is a package: ``stdlib``), the main module and
  every dependency module with version, ``h1:`` sum and replacement.
* Rust: the ``.dep-v0`` section ``cargo auditable`` writes (zlib-compressed JSON).
* Anything else that is an ELF executable and owned by no OS package is listed as an
  unknown executable (path, size, sha256): never silently ignored.

ELF files are hostile input: the reader below checks every offset and size against
the file before use and gives up with :class:`BinaryFormatError`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, BinaryIO

from packageurl import PackageURL

from chainwarden.inventory.bounds import go_module_path_problem, package_name_problem
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Digest, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import MAX_FILE_BODY, BodyDigest, EntryType, FileEntry, FileSystemView

#: directories whose direct children are executables (FHS), plus the top level
BIN_DIRS = frozenset({"/", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"})
#: trees where images put application binaries (ko: /ko-app; many Dockerfiles: /app, /opt/<app>)
APP_TREES = ("/app/", "/ko-app/", "/opt/", "/srv/", "/usr/local/app/")
#: parts of a path that mean "a language's package tree": their catalogers own it
_LANGUAGE_TREES = ("/node_modules/", "/site-packages/", "/dist-packages/", "/lib/python", "/include/", "/share/")
#: extensions of files that are never native executables
_NOT_BINARY = frozenset(
    [
        "py",
        "pyc",
        "pyi",
        "js",
        "mjs",
        "cjs",
        "ts",
        "json",
        "txt",
        "md",
        "rst",
        "html",
        "htm",
        "css",
        "map",
        "yml",
        "yaml",
        "toml",
        "ini",
        "cfg",
        "conf",
        "xml",
        "sh",
        "bash",
        "pl",
        "pm",
        "rb",
        "php",
        "lua",
        "sql",
        "csv",
        "gz",
        "xz",
        "bz2",
        "zst",
        "zip",
        "tar",
        "jar",
        "war",
        "whl",
        "pem",
        "crt",
        "key",
        "pub",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "ico",
        "a",
        "o",
        "h",
        "c",
        "cc",
        "cpp",
        "hpp",
        "go",
        "rs",
        "java",
        "class",
        "lock",
        "log",
        "mo",
        "po",
        "pot",
        "gpg",
        "asc",
        "sig",
    ]
)

ELF_MAGIC = b"\x7fELF"
GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"
#: Go >= 1.18 brackets the inline module info with these 16-byte sentinels (cmd/go/internal/modload)
_MODINFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_MODINFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
RUST_SECTION = ".dep-v0"
#: cargo auditable's JSON is a few KB; 8 MB decompressed is far beyond any real one
MAX_RUST_JSON = 8 * 1024 * 1024
MAX_GO_MODULES = 100_000


class BinaryFormatError(ValueError):
    """An ELF file (or the data in it) that is malformed."""


# -- a bounded ELF reader ---------------------------------------------------------------------------

#: the most bytes one read of an ELF file takes (a section, a string): what the
#: sources' body limit allows, far above any real build info
MAX_ELF_READ = MAX_FILE_BODY
#: how far into its data Go's own reader (debug/buildinfo, Go 1.22) looks for the build info header
GO_DATA_WINDOW = 512 * 1024
_PT_LOAD, _PT_INTERP, _PF_X, _PF_W, _SHT_NOBITS = 1, 3, 0x1, 0x2, 8


@dataclass(frozen=True, slots=True)
class ElfSection:
    name: str
    type: int
    addr: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class ElfSegment:
    type: int
    offset: int
    vaddr: int
    filesz: int
    flags: int = 0


@dataclass(slots=True)
class ElfFile:
    """Sections and segments of an ELF file, read by offset from ``body`` and
    bounds-checked against its ``size``: only headers and the parts asked for
    are ever read."""

    body: BinaryIO
    size: int
    is64: bool
    order: str  # "<" or ">"
    elf_type: int
    sections: list[ElfSection] = field(default_factory=list)
    segments: list[ElfSegment] = field(default_factory=list)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes at file ``offset``, all inside the file."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise BinaryFormatError(f"{length} bytes at {offset:#x} run past the file")
        if length > MAX_ELF_READ:
            raise BinaryFormatError(f"{length} bytes at {offset:#x}: over the {MAX_ELF_READ} byte read limit")
        self.body.seek(offset)
        data = self.body.read(length)
        if len(data) != length:
            raise BinaryFormatError(f"file shorter than it said ({offset + len(data)} bytes)")
        return data

    def section(self, name: str) -> ElfSection | None:
        return next((s for s in self.sections if s.name == name), None)

    def section_data(self, section: ElfSection) -> bytes:
        if section.type == _SHT_NOBITS:
            return b""
        return self.read(section.offset, section.size)

    def read_at(self, vaddr: int, size: int) -> bytes:
        """``size`` bytes at virtual address ``vaddr`` (file-backed part of a PT_LOAD segment)."""
        for segment in self.segments:
            if segment.type == _PT_LOAD and segment.vaddr <= vaddr and vaddr + size <= segment.vaddr + segment.filesz:
                return self.read(segment.offset + (vaddr - segment.vaddr), size)
        raise BinaryFormatError(f"address {vaddr:#x} is in no loaded segment")

    @property
    def has_interpreter(self) -> bool:
        return any(segment.type == _PT_INTERP for segment in self.segments)


def parse_elf(body: bytes | BinaryIO) -> ElfFile:
    """The headers of the ELF file ``body`` (bytes, or a seekable binary stream read by offset)."""
    if isinstance(body, bytes):
        body = io.BytesIO(body)
    size = body.seek(0, io.SEEK_END)
    body.seek(0)
    head = body.read(64)
    if len(head) < 52 or not head.startswith(ELF_MAGIC):
        raise BinaryFormatError("not an ELF file")
    klass, encoding = head[4], head[5]
    if klass not in (1, 2) or encoding not in (1, 2):
        raise BinaryFormatError("unknown ELF class or byte order")
    is64, order = klass == 2, "<" if encoding == 1 else ">"
    if is64:
        if len(head) < 64:
            raise BinaryFormatError("truncated ELF header")
        elf_type, phoff, shoff = (
            struct.unpack_from(f"{order}H", head, 16)[0],
            *struct.unpack_from(f"{order}QQ", head, 32),
        )
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(f"{order}5H", head, 54)
    else:
        elf_type = struct.unpack_from(f"{order}H", head, 16)[0]
        phoff, shoff = struct.unpack_from(f"{order}II", head, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(f"{order}5H", head, 42)
    elf = ElfFile(body, size, is64, order, elf_type)
    if phnum:
        if phentsize < (56 if is64 else 32) or phoff + phnum * phentsize > size:
            raise BinaryFormatError("program headers outside the file")
        table = elf.read(phoff, phnum * phentsize)
        for index in range(phnum):
            at = index * phentsize
            if is64:
                p_type, flags, offset, vaddr, _paddr, filesz = struct.unpack_from(f"{order}IIQQQQ", table, at)
            else:
                p_type, offset, vaddr, _paddr, filesz, _memsz, flags = struct.unpack_from(f"{order}7I", table, at)
            if offset + filesz > size:
                filesz = max(0, size - offset)  # a truncated segment: keep what is in the file
            elf.segments.append(ElfSegment(p_type, offset, vaddr, filesz, flags))
    if shnum:
        if shentsize < (64 if is64 else 40) or shoff + shnum * shentsize > size:
            raise BinaryFormatError("section headers outside the file")
        table = elf.read(shoff, shnum * shentsize)
        raw: list[tuple[int, int, int, int, int]] = []
        for index in range(shnum):
            at = index * shentsize
            if is64:
                name, s_type, _flags, addr, offset, sh_size = struct.unpack_from(f"{order}IIQQQQ", table, at)
            else:
                name, s_type, _flags, addr, offset, sh_size = struct.unpack_from(f"{order}6I", table, at)
            if s_type != _SHT_NOBITS and offset + sh_size > size:
                raise BinaryFormatError(f"section {index} outside the file")
            raw.append((name, s_type, addr, offset, sh_size))
        names = b""
        if shstrndx < len(raw) and raw[shstrndx][1] != _SHT_NOBITS:
            _, _, _, str_offset, str_size = raw[shstrndx]
            names = elf.read(str_offset, str_size)
        for name_offset, s_type, addr, offset, sh_size in raw:
            end = names.find(b"\x00", name_offset) if name_offset < len(names) else -1
            name = names[name_offset:end].decode("ascii", errors="replace") if end >= 0 else ""
            elf.sections.append(ElfSection(name, s_type, addr, offset, sh_size))
    return elf


# -- Go build info ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoModule:
    path: str
    version: str
    sum: str = ""
    replaced_by: GoModule | None = None


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    go_version: str  # "go1.19.8"
    main_path: str  # the main package ("path" line)
    main: GoModule | None
    deps: tuple[GoModule, ...]
    settings: tuple[tuple[str, str], ...]  # "build" lines: -ldflags, GOOS, vcs.revision…


def _uvarint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise BinaryFormatError("truncated varint in Go build info")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _go_string_inline(elf: ElfFile, offset: int, limit: int) -> tuple[bytes, int]:
    """The varint-prefixed string at file ``offset`` that must end by ``limit``, and the offset after it."""
    head = elf.read(offset, min(10, max(0, limit - offset)))
    length, used = _uvarint(head, 0)
    start = offset + used
    if start + length > limit:
        raise BinaryFormatError("Go build info string runs past the data")
    return elf.read(start, length), start + length


def _go_string_pointer(elf: ElfFile, address: int, ptr_size: int, order: str) -> bytes:
    fmt = f"{order}{'Q' if ptr_size == 8 else 'I'}"
    header = elf.read_at(address, 2 * ptr_size)
    data_address = struct.unpack_from(fmt, header, 0)[0]
    length = struct.unpack_from(fmt, header, ptr_size)[0]
    if length > elf.size:
        raise BinaryFormatError("Go build info string longer than the file")
    return elf.read_at(data_address, length) if length else b""


def _go_buildinfo_raw(elf: ElfFile) -> tuple[str, bytes] | None:
    """(toolchain version, module info) as the Go toolchain embeds them, or None when not a Go binary.

    Found as Go's own reader (debug/buildinfo) finds them: in the ``.go.buildinfo``
    section, or without section headers at the start of the first writable,
    non-executable PT_LOAD segment, where the linker puts that section.
    """
    section = elf.section(".go.buildinfo")
    if section is not None:
        if section.type == _SHT_NOBITS:
            return None
        base, limit = section.offset, section.offset + section.size
        window = elf.read(base, min(section.size, GO_DATA_WINDOW))
        found = window.find(GO_BUILDINFO_MAGIC)
    else:
        segment = next(
            (p for p in elf.segments if p.type == _PT_LOAD and p.flags & (_PF_X | _PF_W) == _PF_W and p.filesz),
            None,
        )
        if segment is None:
            return None
        base, limit = segment.offset, segment.offset + segment.filesz
        window = elf.read(base, min(segment.filesz, GO_DATA_WINDOW))
        found = window.find(GO_BUILDINFO_MAGIC)
        while found >= 0 and found % 16:  # the header is 16-byte aligned
            found = window.find(GO_BUILDINFO_MAGIC, found + 1)
    if found < 0:
        return None
    start = base + found
    if limit - start < 32:
        raise BinaryFormatError("truncated Go build info header")
    header = elf.read(start, 32)
    ptr_size, flags = header[14], header[15]
    if flags & 0x2:  # Go >= 1.18: version and module info inline after the header
        version, position = _go_string_inline(elf, start + 32, limit)
        modinfo, _ = _go_string_inline(elf, position, limit)
    else:
        if ptr_size not in (4, 8):
            raise BinaryFormatError(f"Go build info pointer size {ptr_size}")
        order = ">" if flags & 0x1 else "<"
        fmt = f"{order}{'Q' if ptr_size == 8 else 'I'}"
        version_address = struct.unpack_from(fmt, header, 16)[0]
        modinfo_address = struct.unpack_from(fmt, header, 16 + ptr_size)[0]
        version = _go_string_pointer(elf, version_address, ptr_size, order)
        modinfo = _go_string_pointer(elf, modinfo_address, ptr_size, order)
    if not version.startswith((b"go", b"devel")):
        raise BinaryFormatError(f"Go build info version {version[:40]!r}")
    return version.decode("utf-8", errors="replace"), modinfo


def read_go_buildinfo(elf: ElfFile) -> GoBuildInfo | None:
    """The embedded build info, or None when the binary is not a Go binary."""
    raw = _go_buildinfo_raw(elf)
    return parse_modinfo(*raw) if raw is not None else None


def parse_modinfo(version: str, raw: bytes) -> GoBuildInfo:
    """The ``runtime/debug.BuildInfo`` text (``path``, ``mod``, ``dep``, ``=>``, ``build`` lines)."""
    if len(raw) >= 33 and raw.startswith(_MODINFO_START) and raw.endswith(_MODINFO_END):
        raw = raw[16:-16]
    modinfo = raw.decode("utf-8", errors="replace")
    main_path = ""
    main: GoModule | None = None
    deps: list[GoModule] = []
    settings: list[tuple[str, str]] = []
    for line in modinfo.splitlines():
        fields = line.split("\t")
        kind = fields[0]
        if kind == "path" and len(fields) >= 2:
            main_path = fields[1]
        elif kind in ("mod", "dep") and len(fields) >= 3:
            module = GoModule(fields[1], fields[2], fields[3] if len(fields) > 3 else "")
            if kind == "mod":
                main = module
            else:
                if len(deps) >= MAX_GO_MODULES:
                    raise BinaryFormatError("too many modules in Go build info")
                deps.append(module)
        elif kind == "=>" and len(fields) >= 2:
            replacement = GoModule(
                fields[1], fields[2] if len(fields) > 2 else "", fields[3] if len(fields) > 3 else ""
            )
            if deps:
                deps[-1] = GoModule(deps[-1].path, deps[-1].version, deps[-1].sum, replacement)
            elif main is not None:
                main = GoModule(main.path, main.version, main.sum, replacement)
        elif kind == "build" and len(fields) >= 2:
            key, _, value = "\t".join(fields[1:]).partition("=")
            settings.append((key, value))
    return GoBuildInfo(version, main_path, main, tuple(deps), tuple(settings))


def go_stdlib_version(go_version: str) -> str | None:
    """``go1.19.8`` → ``1.19.8``; ``go1.21`` → ``1.21.0``; ``go1.21rc2`` → ``1.21.0-rc.2`` (OSV's ``stdlib``)."""
    text = go_version.split(" ", 1)[0].removeprefix("go")
    for marker in ("rc", "beta"):
        base, sep, number = text.partition(marker)
        if sep and number.isdigit():
            parts = base.split(".")
            while len(parts) < 3:
                parts.append("0")
            return ".".join(parts) + f"-{marker}.{number}"
    parts = text.split("-", 1)[0].split("+", 1)[0].split(".")
    if not all(part.isdigit() for part in parts) or not 2 <= len(parts) <= 3:
        return None
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts)


def golang_purl(path: str, version: str) -> str:
    namespace, _, name = path.rpartition("/")
    return PackageURL(type="golang", namespace=namespace or None, name=name, version=version or None).to_string()


def cargo_purl(name: str, version: str) -> str:
    return PackageURL(type="cargo", name=name, version=version or None).to_string()


def binary_purl(name: str, sha256: str) -> str:
    """``pkg:generic/NAME?checksum=sha256:…``: an executable known by its file name and content only.

    packageurl strips the name's surrounding white space; a file named by
    nothing else is still listed, as ``unnamed``."""
    qualifiers = {"checksum": f"sha256:{sha256}"}
    return PackageURL(type="generic", name=name.strip() or "unnamed", qualifiers=qualifiers).to_string()


# -- Rust (cargo auditable) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RustCrate:
    name: str
    version: str
    source: str  # "crates.io", "local", "git", "registry"…
    root: bool
    kind: str  # "runtime" or "build"


def read_rust_audit(elf: ElfFile) -> list[RustCrate] | None:
    """Crates recorded by ``cargo auditable``, or None when the section is absent."""
    section = elf.section(RUST_SECTION)
    return parse_rust_audit(elf.section_data(section)) if section is not None else None


def parse_rust_audit(compressed: bytes) -> list[RustCrate]:
    """The crates of a ``.dep-v0`` section's bytes (zlib-compressed JSON)."""
    decompressor = zlib.decompressobj()
    try:
        text = decompressor.decompress(compressed, MAX_RUST_JSON + 1)
    except zlib.error as exc:
        raise BinaryFormatError(f"{RUST_SECTION}: {exc}") from exc
    if len(text) > MAX_RUST_JSON or decompressor.unconsumed_tail:
        raise BinaryFormatError(f"{RUST_SECTION}: over {MAX_RUST_JSON} bytes decompressed")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BinaryFormatError(f"{RUST_SECTION}: not JSON ({exc})") from exc
    packages = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(packages, list):
        raise BinaryFormatError(f"{RUST_SECTION}: no package list")
    crates = []
    for item in packages:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        crates.append(
            RustCrate(
                name=item["name"],
                version=str(item.get("version", "")),
                source=str(item.get("source", "")),
                root=item.get("root") is True,
                kind=str(item.get("kind", "runtime")),
            )
        )
    return crates


# -- what the cataloger keeps of a file ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutableFacts:
    """What the cataloger needs of one wanted file, read from its headers and the
    sections they point at: an image keeps these instead of the body.

    Build info is kept as embedded (parsed when cataloging), so a malformed one
    is reported where it is met, as before.
    """

    elf: bool
    error: str | None = None  # the ELF headers or build info could not be read
    elf_type: int = 0
    has_interpreter: bool = False
    go: tuple[str, bytes] | None = None  # toolchain version, module info
    rust: bytes | None = None  # the .dep-v0 section, compressed
    #: the body's SHA-256, for an executable that may be unknown; left out when
    #: the file can still be read when needed (a directory), as most are owned
    sha256: str | None = None

    def encode(self) -> bytes:
        fields: dict[str, Any] = {"elf": self.elf}
        if self.elf:
            fields.update(error=self.error, type=self.elf_type, interp=self.has_interpreter, sha256=self.sha256)
            if self.go is not None:
                fields["go"] = [self.go[0], base64.b64encode(self.go[1]).decode()]
            if self.rust is not None:
                fields["rust"] = base64.b64encode(self.rust).decode()
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> ExecutableFacts:
        fields = json.loads(data)
        go = fields.get("go")
        rust = fields.get("rust")
        return cls(
            elf=fields["elf"],
            error=fields.get("error"),
            elf_type=fields.get("type", 0),
            has_interpreter=fields.get("interp", False),
            go=(go[0], base64.b64decode(go[1])) if go is not None else None,
            rust=base64.b64decode(rust) if rust is not None else None,
            sha256=fields.get("sha256"),
        )


def executable_facts(body: BinaryIO, *, with_sha256: bool) -> ExecutableFacts:
    """The facts of the file ``body``: its first bytes say whether it is ELF (a
    script or data file is read no further); then headers, and the build info
    sections by their offsets. ``with_sha256``: hash the whole body when it
    carries no build info (an executable that may turn out unknown)."""
    body.seek(0)
    if body.read(len(ELF_MAGIC)) != ELF_MAGIC:
        return ExecutableFacts(elf=False)
    elf: ElfFile | None = None
    go: tuple[str, bytes] | None = None
    rust: bytes | None = None
    error: str | None = None
    try:
        elf = parse_elf(body)
        go = _go_buildinfo_raw(elf)
        if go is None and (section := elf.section(RUST_SECTION)) is not None:
            rust = elf.section_data(section)
    except BinaryFormatError as exc:
        elf, error = None, str(exc)
    sha256 = None
    if with_sha256 and go is None and rust is None:
        sha256 = _hash_body(body)
    return ExecutableFacts(
        elf=True,
        error=error,
        elf_type=elf.elf_type if elf is not None else 0,
        has_interpreter=elf.has_interpreter if elf is not None else False,
        go=go,
        rust=rust,
        sha256=sha256,
    )


def _hash_body(body: BinaryIO) -> str:
    """SHA-256 of the whole of ``body``, read a block at a time."""
    body.seek(0)
    digest = hashlib.sha256()
    while block := body.read(1024 * 1024):
        digest.update(block)
    return digest.hexdigest()


#: the digest of a wanted file the cataloger reads (see :class:`~chainwarden.sources.interface.BodyDigest`)
EXECUTABLE_FACTS = BodyDigest(
    "executable-facts-1", lambda body, final: executable_facts(body, with_sha256=final).encode()
)


# -- the cataloger ----------------------------------------------------------------------------------


def _merged_usr_aliases(path: str) -> Iterator[str]:
    yield path
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith(short):
            yield "/usr" + path
        elif path.startswith("/usr" + short):
            yield path[4:]


def _sha256(view: FileSystemView, path: str) -> str:
    with view.open(path) as body:
        return _hash_body(body)


class BinaryCataloger(Cataloger):
    """Go modules and Rust crates compiled into executables; other unowned executables as unknown."""

    id = "binary"
    needs_owned_files = True
    #: bodies over the source's limit are not fatal here: the file is listed without them
    bounded_bodies = True
    #: headers and build info sections, never a whole executable (see ExecutableFacts)
    body_digest: BodyDigest | None = EXECUTABLE_FACTS

    def wants(self, path: str) -> bool:
        directory, _, name = path.rpartition("/")
        if not name or (("." in name) and name.rsplit(".", 1)[1].lower() in _NOT_BINARY):
            return False
        if (directory or "/") in BIN_DIRS:
            return True
        return path.startswith(APP_TREES) and not any(tree in path for tree in _LANGUAGE_TREES)

    def uses_owned(self, path: str) -> bool:
        # only executables it reads are judged by their owner, under either merged-/usr name
        return any(self.wants(alias) for alias in _merged_usr_aliases(path))

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        for entry in self._candidates(view):
            if entry.type is EntryType.FILE and self.wants(entry.path):
                self._catalog_file(view, entry.path, entry.size, entry.mode, entry.layer, context, result)
        return result

    @staticmethod
    def _candidates(view: FileSystemView) -> Iterator[FileEntry]:
        """The entries ``wants`` may take, without walking the whole tree: the top
        level, the binary directories and the application trees, each once."""
        binaries = (view.walk_files(directory, depth=1) for directory in sorted(BIN_DIRS))
        applications = (view.walk_files(tree.rstrip("/")) for tree in APP_TREES)
        seen: set[str] = set()
        for entry in chain(*binaries, *applications):
            if entry.path not in seen:
                seen.add(entry.path)
                yield entry

    def _catalog_file(
        self,
        view: FileSystemView,
        path: str,
        size: int,
        mode: int,
        layer: Digest | None,
        context: CatalogContext,
        result: CatalogResult,
    ) -> None:
        where = Location(path, layer)
        owned = any(alias in context.owned_files for alias in _merged_usr_aliases(path))
        if size > MAX_FILE_BODY:
            if not owned:  # unread, so possibly an executable: said, not ignored
                result.skipped.append(
                    Skipped(f"executable {path}", where, f"{size} bytes, over the {MAX_FILE_BODY} byte read limit")
                )
            return
        try:
            facts = ExecutableFacts.decode(view.digest(path, EXECUTABLE_FACTS))
        except Exception as exc:
            if not owned and mode & 0o111:
                result.skipped.append(Skipped(f"executable {path}", where, f"cannot read: {exc}"))
            return
        if not facts.elf:
            return  # scripts and data files: other catalogers (or none) speak for them
        error = facts.error
        go: GoBuildInfo | None = None
        rust: list[RustCrate] | None = None
        if error is None:
            try:
                go = parse_modinfo(*facts.go) if facts.go is not None else None
                rust = parse_rust_audit(facts.rust) if facts.rust is not None else None
            except BinaryFormatError as exc:
                error = str(exc)
        if error is not None:
            result.skipped.append(Skipped(f"executable {path}", where, error))
        if go is not None:
            result.packages.extend(self._go_packages(go, where, result))
            return
        if rust is not None:
            result.packages.extend(self._rust_packages(rust, where, result))
            return
        name = posixpath.basename(path)
        # ET_EXEC, or ET_DYN with a loader (PIE) or, for static-pie, an executable bit on a non-library name;
        # a file whose headers could not be read may be anything
        is_executable = (
            error is not None
            or facts.elf_type == 2
            or (facts.elf_type == 3 and (facts.has_interpreter or (bool(mode & 0o111) and ".so" not in name)))
        )
        if owned or not is_executable:
            return  # an OS package speaks for it, or it is a shared library
        try:
            digest = facts.sha256 or _sha256(view, path)
        except Exception as exc:
            result.skipped.append(Skipped(f"executable {path}", where, f"cannot read: {exc}"))
            return
        result.packages.append(
            Package(
                ecosystem=Ecosystem.BINARY,
                name=name,
                version="",
                purl=binary_purl(name, digest),
                found_by="binary-unknown",
                locations=(where,),
                files=(path,),
                hashes=(f"sha256:{digest}",),
            )
        )

    def _go_packages(self, info: GoBuildInfo, where: Location, result: CatalogResult) -> Iterator[Package]:
        stdlib = go_stdlib_version(info.go_version)
        yield Package(
            ecosystem=Ecosystem.GOLANG,
            name="stdlib",
            version=info.go_version,
            purl=golang_purl("stdlib", stdlib or info.go_version),
            found_by="go-binary",
            locations=(where,),
            files=(where.path,),  # compiled into the binary: it runs when the binary does
            direct=True,
        )
        main_problem = go_module_path_problem(info.main.path) if info.main is not None else None
        if main_problem is not None:
            result.skipped.append(Skipped(f"main module of {where.path}", where, main_problem))
        elif info.main is not None:
            main = info.main.replaced_by or info.main
            yield Package(
                ecosystem=Ecosystem.GOLANG,
                name=info.main.path,
                version=main.version,
                purl=golang_purl(info.main.path, main.version if main.version != "(devel)" else ""),
                found_by="go-binary",
                locations=(where,),
                files=(where.path,),
                hashes=(main.sum,) if main.sum else (),
                direct=True,
            )
        for dep in info.deps:
            # what was compiled is the replacement, when it is a module (a directory has no version)
            module = dep.replaced_by if dep.replaced_by is not None and dep.replaced_by.version else dep
            problem = go_module_path_problem(module.path)
            if problem is not None:
                result.skipped.append(Skipped(f"module in {where.path}", where, problem))
                continue
            yield Package(
                ecosystem=Ecosystem.GOLANG,
                name=module.path,
                version=module.version,
                purl=golang_purl(module.path, module.version),
                found_by="go-binary",
                locations=(where,),
                files=(where.path,),
                hashes=(module.sum,) if module.sum else (),
            )

    def _rust_packages(self, crates: list[RustCrate], where: Location, result: CatalogResult) -> Iterator[Package]:
        for crate in crates:
            if crate.root or crate.source not in ("crates.io", "registry"):
                continue  # the binary's own crate, path and git dependencies are not on crates.io
            problem = package_name_problem(crate.name, "Rust crate")
            if problem is not None:
                result.skipped.append(Skipped(f"crate in {where.path}", where, problem))
                continue
            yield Package(
                ecosystem=Ecosystem.CARGO,
                name=crate.name,
                version=crate.version,
                purl=cargo_purl(crate.name, crate.version),
                found_by="rust-cargo-auditable",
                locations=(where,),
                files=(where.path,),
            )
