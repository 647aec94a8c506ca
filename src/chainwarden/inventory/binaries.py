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

import hashlib
import json
import posixpath
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from packageurl import PackageURL

from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Digest, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import MAX_FILE_BODY, EntryType, FileSystemView

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


@dataclass(slots=True)
class ElfFile:
    """Sections and segments of an ELF file, all bounds-checked against ``data``."""

    data: bytes
    is64: bool
    order: str  # "<" or ">"
    elf_type: int
    sections: list[ElfSection] = field(default_factory=list)
    segments: list[ElfSegment] = field(default_factory=list)

    def section(self, name: str) -> ElfSection | None:
        return next((s for s in self.sections if s.name == name), None)

    def section_data(self, section: ElfSection) -> bytes:
        if section.type == 8:  # SHT_NOBITS
            return b""
        return self.data[section.offset : section.offset + section.size]

    def read_at(self, vaddr: int, size: int) -> bytes:
        """``size`` bytes at virtual address ``vaddr`` (file-backed part of a PT_LOAD segment)."""
        for segment in self.segments:
            if segment.type == 1 and segment.vaddr <= vaddr and vaddr + size <= segment.vaddr + segment.filesz:
                start = segment.offset + (vaddr - segment.vaddr)
                return self.data[start : start + size]
        raise BinaryFormatError(f"address {vaddr:#x} is in no loaded segment")

    @property
    def has_interpreter(self) -> bool:
        return any(segment.type == 3 for segment in self.segments)  # PT_INTERP


def parse_elf(data: bytes) -> ElfFile:
    if len(data) < 52 or not data.startswith(ELF_MAGIC):
        raise BinaryFormatError("not an ELF file")
    klass, encoding = data[4], data[5]
    if klass not in (1, 2) or encoding not in (1, 2):
        raise BinaryFormatError("unknown ELF class or byte order")
    is64, order = klass == 2, "<" if encoding == 1 else ">"
    if is64:
        if len(data) < 64:
            raise BinaryFormatError("truncated ELF header")
        elf_type, phoff, shoff = (
            struct.unpack_from(f"{order}H", data, 16)[0],
            *struct.unpack_from(f"{order}QQ", data, 32),
        )
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(f"{order}5H", data, 54)
    else:
        elf_type = struct.unpack_from(f"{order}H", data, 16)[0]
        phoff, shoff = struct.unpack_from(f"{order}II", data, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(f"{order}5H", data, 42)
    elf = ElfFile(data, is64, order, elf_type)
    if phnum:
        if phentsize < (56 if is64 else 32) or phoff + phnum * phentsize > len(data):
            raise BinaryFormatError("program headers outside the file")
        for index in range(phnum):
            at = phoff + index * phentsize
            if is64:
                p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(f"{order}IIQQQQ", data, at)
            else:
                p_type, offset, vaddr, _paddr, filesz = struct.unpack_from(f"{order}5I", data, at)
            if offset + filesz > len(data):
                filesz = max(0, len(data) - offset)  # a truncated segment: keep what is in the file
            elf.segments.append(ElfSegment(p_type, offset, vaddr, filesz))
    if shnum:
        if shentsize < (64 if is64 else 40) or shoff + shnum * shentsize > len(data):
            raise BinaryFormatError("section headers outside the file")
        raw: list[tuple[int, int, int, int, int]] = []
        for index in range(shnum):
            at = shoff + index * shentsize
            if is64:
                name, s_type, _flags, addr, offset, size = struct.unpack_from(f"{order}IIQQQQ", data, at)
            else:
                name, s_type, _flags, addr, offset, size = struct.unpack_from(f"{order}6I", data, at)
            if s_type != 8 and offset + size > len(data):
                raise BinaryFormatError(f"section {index} outside the file")
            raw.append((name, s_type, addr, offset, size))
        names = b""
        if shstrndx < len(raw):
            _, _, _, str_offset, str_size = raw[shstrndx]
            names = data[str_offset : str_offset + str_size]
        for name_offset, s_type, addr, offset, size in raw:
            end = names.find(b"\x00", name_offset) if name_offset < len(names) else -1
            name = names[name_offset:end].decode("ascii", errors="replace") if end >= 0 else ""
            elf.sections.append(ElfSection(name, s_type, addr, offset, size))
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


def _go_string_inline(data: bytes, position: int) -> tuple[bytes, int]:
    length, position = _uvarint(data, position)
    if position + length > len(data):
        raise BinaryFormatError("Go build info string runs past the data")
    return data[position : position + length], position + length


def _go_string_pointer(elf: ElfFile, address: int, ptr_size: int, order: str) -> bytes:
    fmt = f"{order}{'Q' if ptr_size == 8 else 'I'}"
    header = elf.read_at(address, 2 * ptr_size)
    data_address = struct.unpack_from(fmt, header, 0)[0]
    length = struct.unpack_from(fmt, header, ptr_size)[0]
    if length > len(elf.data):
        raise BinaryFormatError("Go build info string longer than the file")
    return elf.read_at(data_address, length) if length else b""


def read_go_buildinfo(elf: ElfFile) -> GoBuildInfo | None:
    """The embedded build info, or None when the binary is not a Go binary."""
    section = elf.section(".go.buildinfo")
    if section is not None:
        blob = elf.section_data(section)
        start = blob.find(GO_BUILDINFO_MAGIC)
        if start < 0:
            return None
        blob = blob[start:]
    else:
        # section headers stripped: the header sits 16-byte aligned in a data segment
        start = elf.data.find(GO_BUILDINFO_MAGIC)
        while start >= 0 and start % 16:
            start = elf.data.find(GO_BUILDINFO_MAGIC, start + 1)
        if start < 0:
            return None
        blob = elf.data[start : start + 64 * 1024 * 1024]
    if len(blob) < 32:
        raise BinaryFormatError("truncated Go build info header")
    ptr_size, flags = blob[14], blob[15]
    if flags & 0x2:  # Go >= 1.18: version and module info inline after the header
        version, position = _go_string_inline(blob, 32)
        modinfo, _ = _go_string_inline(blob, position)
    else:
        if ptr_size not in (4, 8):
            raise BinaryFormatError(f"Go build info pointer size {ptr_size}")
        order = ">" if flags & 0x1 else "<"
        fmt = f"{order}{'Q' if ptr_size == 8 else 'I'}"
        version_address = struct.unpack_from(fmt, blob, 16)[0]
        modinfo_address = struct.unpack_from(fmt, blob, 16 + ptr_size)[0]
        version = _go_string_pointer(elf, version_address, ptr_size, order)
        modinfo = _go_string_pointer(elf, modinfo_address, ptr_size, order)
    if not version.startswith((b"go", b"devel")):
        raise BinaryFormatError(f"Go build info version {version[:40]!r}")
    return parse_modinfo(version.decode("utf-8", errors="replace"), modinfo)


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
    if section is None:
        return None
    decompressor = zlib.decompressobj()
    try:
        text = decompressor.decompress(elf.section_data(section), MAX_RUST_JSON + 1)
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


# -- the cataloger ----------------------------------------------------------------------------------


def _merged_usr_aliases(path: str) -> Iterator[str]:
    yield path
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith(short):
            yield "/usr" + path
        elif path.startswith("/usr" + short):
            yield path[4:]


class BinaryCataloger(Cataloger):
    """Go modules and Rust crates compiled into executables; other unowned executables as unknown."""

    id = "binary"
    needs_owned_files = True
    #: bodies over the source's limit are not fatal here: the file is listed without them
    bounded_bodies = True

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
        for entry in view.walk_files("/"):
            if entry.type is not EntryType.FILE or not self.wants(entry.path):
                continue
            self._catalog_file(view, entry.path, entry.size, entry.mode, entry.layer, context, result)
        return result

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
            data = view.read(path)
        except Exception as exc:
            if not owned and mode & 0o111:
                result.skipped.append(Skipped(f"executable {path}", where, f"cannot read: {exc}"))
            return
        if not data.startswith(ELF_MAGIC):
            return  # scripts and data files: other catalogers (or none) speak for them
        try:
            elf = parse_elf(data)
            go = read_go_buildinfo(elf)
            rust = read_rust_audit(elf) if go is None else None
        except BinaryFormatError as exc:
            result.skipped.append(Skipped(f"executable {path}", where, str(exc)))
            go, rust, elf = None, None, None
        if go is not None:
            result.packages.extend(self._go_packages(go, where))
            return
        if rust is not None:
            result.packages.extend(self._rust_packages(rust, where))
            return
        name = posixpath.basename(path)
        # ET_EXEC, or ET_DYN with a loader (PIE) or, for static-pie, an executable bit on a non-library name
        is_executable = (
            elf is None
            or elf.elf_type == 2
            or (elf.elf_type == 3 and (elf.has_interpreter or (bool(mode & 0o111) and ".so" not in name)))
        )
        if owned or not is_executable:
            return  # an OS package speaks for it, or it is a shared library
        digest = hashlib.sha256(data).hexdigest()
        result.packages.append(
            Package(
                ecosystem=Ecosystem.BINARY,
                name=name,
                version="",
                purl=PackageURL(type="generic", name=name, qualifiers={"checksum": f"sha256:{digest}"}).to_string(),
                found_by="binary-unknown",
                locations=(where,),
                files=(path,),
                hashes=(f"sha256:{digest}",),
            )
        )

    def _go_packages(self, info: GoBuildInfo, where: Location) -> Iterator[Package]:
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
        if info.main is not None:
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

    def _rust_packages(self, crates: list[RustCrate], where: Location) -> Iterator[Package]:
        for crate in crates:
            if crate.root or crate.source not in ("crates.io", "registry"):
                continue  # the binary's own crate, path and git dependencies are not on crates.io
            yield Package(
                ecosystem=Ecosystem.CARGO,
                name=crate.name,
                version=crate.version,
                purl=PackageURL(type="cargo", name=crate.name, version=crate.version).to_string(),
                found_by="rust-cargo-auditable",
                locations=(where,),
                files=(where.path,),
            )
