"""Open package artifacts for static analysis: wheels, sdists, npm tarballs, directories.

Everything is read into memory through hostile-input-safe readers: member
names are normalised and refused when they escape (``safe_member_path``),
decompression is bounded (``LayerReader``), symlinks and
devices are recorded but never followed, and member count, per-file and total
sizes are capped. Nothing is extracted, and nothing is executed.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from packaging.utils import canonicalize_name

from chainwarden._internal.archives import LayerReader, iter_tar, safe_member_path
from chainwarden.errors import HostileArchiveError, SourceError, UsageError
from chainwarden.models import Digest, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

MAX_MEMBERS: Final = 50_000
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_TOTAL_BYTES: Final = 1024 * 1024 * 1024
MAX_ZIP_RATIO: Final = 200
HEAD_BYTES: Final = 64

#: Bodies kept whole; every other file keeps only its first bytes (binary sniffing).
TEXT_SUFFIXES: Final = (".py", ".pyw", ".pth", ".js", ".cjs", ".mjs", ".ts", ".json", ".sh", ".bat", ".cmd", ".ps1",
                        ".cfg", ".toml", ".txt", ".in", ".yml", ".yaml")  # fmt: skip
TEXT_NAMES: Final = frozenset({"METADATA", "PKG-INFO", "RECORD", "entry_points.txt", "setup.py", "package.json"})


class PackageOpenError(SourceError):
    """A package artifact could not be opened."""


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One regular file of a package; ``data`` is whole for text, the head for others."""

    path: str  # relative to the package root, "/"-separated
    size: int
    data: bytes
    mode: int = 0o644
    complete: bool = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class PackageArtifact:
    """An opened package: identity, kind and files."""

    label: str  # what the user gave: a path or "pypi:name==1.0"
    kind: str  # "wheel", "sdist", "npm-tarball", "directory"
    ecosystem: Ecosystem
    name: str
    version: str
    files: tuple[PackageFile, ...]
    skipped: tuple[Skipped, ...] = ()
    links: tuple[str, ...] = ()  # symlinks seen (never followed)
    source_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def file(self, path: str) -> PackageFile | None:
        return next((f for f in self.files if f.path == path), None)

    @classmethod
    def from_files(
        cls,
        label: str,
        files: Iterable[tuple[str, bytes]],
        *,
        kind: str = "installed",
        ecosystem: Ecosystem | None = None,
        name: str | None = None,
        version: str | None = None,
        skipped: Sequence[Skipped] = (),
        links: Sequence[str] = (),
        modes: dict[str, int] | None = None,
    ) -> PackageArtifact:
        """An artifact from in-memory ``(relative path, body)`` pairs (e.g. read out of an image).

        Text files keep their whole body, others their first bytes, as when
        reading an archive. Identity comes from the arguments, else from the
        files (``package.json``, ``*.dist-info/METADATA``, ``PKG-INFO``).
        """
        opened: list[PackageFile] = []
        for path, body in files:
            rel = path.lstrip("/")
            whole = _keep_whole(rel)
            mode = (modes or {}).get(path, 0o644)
            opened.append(PackageFile(rel, len(body), body if whole else body[:HEAD_BYTES], mode, whole))
        if ecosystem is None or name is None:
            found_ecosystem, found_name, found_version, kind = _identify(opened, Path(label), kind)
            ecosystem = ecosystem or found_ecosystem
            name = name if name is not None else found_name
            version = version if version is not None else found_version
        return cls(label, kind, ecosystem, name, version or "", tuple(opened), tuple(skipped), tuple(links))


def _keep_whole(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name in TEXT_NAMES or name.endswith(TEXT_SUFFIXES) or "." not in name


def open_artifact(path: Path, label: str | None = None) -> PackageArtifact:
    """Open a wheel, sdist, npm tarball or directory, detecting the kind from its name/content."""
    label = label or str(path)
    if path.is_dir():
        files, links, skipped = _read_directory(path, label)
        kind = "directory"
    elif path.is_file():
        if path.stat().st_size == 0:
            raise PackageOpenError(f"{label}: empty file, not a package archive")
        name = path.name.lower()
        if name.endswith((".whl", ".zip", ".egg")):
            files, links, skipped = _read_zip(path, label)
            kind = "wheel" if name.endswith(".whl") else "sdist"
        elif name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.zst", ".tar.zstd")):
            files, links, skipped = _read_tar(path, label)
            kind = "sdist"
        else:
            raise PackageOpenError(f"{label}: not a package archive (.whl, .tar.gz, .tgz, .zip) or directory")
    else:
        raise PackageOpenError(f"{label}: no such file or directory")
    files = _strip_common_root(files)
    ecosystem, name, version, kind = _identify(files, path, kind)
    return PackageArtifact(label, kind, ecosystem, name, version, tuple(files), tuple(skipped), tuple(links), path)


def _read_tar(path: Path, label: str) -> tuple[list[PackageFile], list[str], list[Skipped]]:
    size = path.stat().st_size
    files: list[PackageFile] = []
    links: list[str] = []
    total = 0
    try:
        with path.open("rb") as raw:
            stream = LayerReader(raw, compressed_size=size, label=label, hash_uncompressed=False)
            for count, member in enumerate(
                iter_tar(stream, label=label, wanted=lambda _p: True, max_body=MAX_FILE_BYTES), 1
            ):
                if count > MAX_MEMBERS:
                    raise HostileArchiveError(f"{label}: more than {MAX_MEMBERS} members")
                if member.kind in ("symlink", "hardlink"):
                    links.append(f"{member.path.lstrip('/')} -> {member.link_target}")
                    continue
                if member.kind != "file" or member.body is None:
                    continue
                total += len(member.body)
                if total > MAX_TOTAL_BYTES:
                    raise HostileArchiveError(f"{label}: more than {MAX_TOTAL_BYTES // 1024**2} MiB of files")
                rel = member.path.lstrip("/")
                whole = _keep_whole(rel)
                body = member.body if whole else member.body[:HEAD_BYTES]
                files.append(PackageFile(rel, member.size, body, member.mode & 0o7777, whole))
    except OSError as exc:
        raise PackageOpenError(f"{label}: cannot read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise PackageOpenError(f"{label}: not a readable tar archive ({exc})") from exc
    return files, links, []


def _read_zip(path: Path, label: str) -> tuple[list[PackageFile], list[str], list[Skipped]]:
    files: list[PackageFile] = []
    links: list[str] = []
    skipped: list[Skipped] = []
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise HostileArchiveError(f"{label}: more than {MAX_MEMBERS} members")
            for info in infos:
                if info.is_dir():
                    continue
                rel = safe_member_path(info.filename, label).lstrip("/")
                mode = (info.external_attr >> 16) & 0o177777
                if stat.S_ISLNK(mode):
                    links.append(rel)
                    continue
                if info.file_size > MAX_FILE_BYTES:
                    skipped.append(Skipped(rel, Location(rel), f"{info.file_size} bytes, over the per-file limit"))
                    continue
                if (
                    info.compress_size
                    and info.file_size / max(info.compress_size, 1) > MAX_ZIP_RATIO
                    and (info.file_size > 16 * 1024**2)
                ):
                    raise HostileArchiveError(
                        f"{label}: member {info.filename!r} expands {MAX_ZIP_RATIO}x+ (zip bomb?)"
                    )
                whole = _keep_whole(rel)
                with archive.open(info) as handle:
                    body = handle.read(MAX_FILE_BYTES + 1) if whole else handle.read(HEAD_BYTES)
                if len(body) > MAX_FILE_BYTES:
                    raise HostileArchiveError(f"{label}: member {info.filename!r} is larger than its header says")
                total += info.file_size
                if total > MAX_TOTAL_BYTES:
                    raise HostileArchiveError(f"{label}: more than {MAX_TOTAL_BYTES // 1024**2} MiB of files")
                files.append(PackageFile(rel, info.file_size, body, mode & 0o7777 or 0o644, whole))
    except zipfile.BadZipFile as exc:
        raise PackageOpenError(f"{label}: not a readable zip archive ({exc})") from exc
    except (OSError, EOFError, NotImplementedError) as exc:
        raise PackageOpenError(f"{label}: cannot read zip member ({exc})") from exc
    return files, links, skipped


def _read_directory(root: Path, label: str) -> tuple[list[PackageFile], list[str], list[Skipped]]:
    files: list[PackageFile] = []
    links: list[str] = []
    skipped: list[Skipped] = []
    total = 0

    def gap(exc: OSError) -> None:
        rel = os.path.relpath(exc.filename, root).replace(os.sep, "/") if exc.filename else "."
        skipped.append(Skipped(rel, Location(rel), f"cannot list ({exc.strerror or exc}): its files were not scanned"))

    for current, dirnames, filenames in os.walk(root, onerror=gap, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in (".git", "node_modules", "__pycache__", ".venv"))
        for filename in sorted(filenames):
            full = Path(current) / filename
            rel = full.relative_to(root).as_posix()
            try:
                info = full.lstat()
            except OSError as exc:
                skipped.append(Skipped(rel, Location(rel), f"cannot stat ({exc.strerror})"))
                continue
            if stat.S_ISLNK(info.st_mode):
                links.append(f"{rel} -> {os.readlink(full)}")
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if len(files) >= MAX_MEMBERS:
                raise HostileArchiveError(f"{label}: more than {MAX_MEMBERS} files")
            if info.st_size > MAX_FILE_BYTES:
                skipped.append(Skipped(rel, Location(rel), f"{info.st_size} bytes, over the per-file limit"))
                continue
            whole = _keep_whole(rel)
            try:
                with full.open("rb") as handle:
                    body = handle.read() if whole else handle.read(HEAD_BYTES)
            except OSError as exc:
                skipped.append(Skipped(rel, Location(rel), f"cannot read ({exc.strerror})"))
                continue
            total += info.st_size
            if total > MAX_TOTAL_BYTES:
                raise HostileArchiveError(f"{label}: more than {MAX_TOTAL_BYTES // 1024**2} MiB of files")
            files.append(PackageFile(rel, info.st_size, body, info.st_mode & 0o7777, whole))
    return files, links, skipped


def _strip_common_root(files: list[PackageFile]) -> list[PackageFile]:
    """Drop the single top directory of sdists (``name-1.0/``) and npm tarballs (``package/``)."""
    tops = {f.path.split("/", 1)[0] for f in files}
    if len(tops) != 1 or not all("/" in f.path for f in files):
        return files
    prefix = next(iter(tops)) + "/"
    return [PackageFile(f.path[len(prefix) :], f.size, f.data, f.mode, f.complete) for f in files]


_SDIST_NAME = re.compile(
    r"^(?P<name>.+?)-(?P<version>\d[^-]*?)(\.tar\.gz|\.tgz|\.zip|\.tar\.bz2|\.tar)$", re.IGNORECASE
)


def _identify(files: list[PackageFile], path: Path, kind: str) -> tuple[Ecosystem, str, str, str]:
    by_path = {f.path: f for f in files}
    package_json = by_path.get("package.json")
    if package_json is not None:
        from chainwarden.analyzers.heuristics.javascript import parse_package_json

        info = parse_package_json(package_json.text())
        if info is not None and info.name.strip():
            return Ecosystem.NPM, info.name.lower(), info.version, "npm-tarball" if kind == "sdist" else kind
    for meta_path in [p for p in by_path if p.endswith((".dist-info/METADATA", "PKG-INFO"))]:
        text = by_path[meta_path].text()
        name = re.search(r"^Name:\s*(.+)$", text, re.MULTILINE)
        version = re.search(r"^Version:\s*(.+)$", text, re.MULTILINE)
        if name:
            return (
                Ecosystem.PYPI,
                canonicalize_name(name.group(1).strip()),
                version.group(1).strip() if version else "",
                kind,
            )
    declared = _declared_python_name(by_path)
    if declared is not None:
        return Ecosystem.PYPI, declared[0], declared[1], kind
    match = _SDIST_NAME.match(path.name)
    if match:
        return Ecosystem.PYPI, canonicalize_name(match.group("name")), match.group("version"), kind
    if path.name.endswith(".whl"):
        parts = path.name.split("-")
        return Ecosystem.PYPI, canonicalize_name(parts[0]) or UNNAMED, parts[1] if len(parts) > 1 else "", kind
    # "." or "dir/" has no name of its own: the directory's real name, else a placeholder (a purl needs a name)
    base = path.name or Path(os.path.abspath(path)).name
    return Ecosystem.PYPI, canonicalize_name(base.split(".")[0]) or UNNAMED, "", kind


#: The name of a package that declares none (a purl cannot be empty).
UNNAMED: Final = "unnamed-package"
_NAME_LITERAL = re.compile(r"""\bname\s*=\s*['"]([A-Za-z0-9][A-Za-z0-9._-]*)['"]""")
_VERSION_LITERAL = re.compile(r"""\bversion\s*=\s*['"]([^'"\s]+)['"]""")
_VALID_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def _declared_python_name(by_path: dict[str, PackageFile]) -> tuple[str, str] | None:
    """``(name, version)`` a source tree declares: pyproject.toml, then setup.cfg, then a literal in setup.py."""
    import configparser
    import tomllib

    pyproject = by_path.get("pyproject.toml")
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject.text())
        except tomllib.TOMLDecodeError:
            data = {}
        tool = data.get("tool")
        poetry = tool.get("poetry") if isinstance(tool, dict) else None
        for table in (data.get("project"), poetry):
            if isinstance(table, dict) and isinstance(table.get("name"), str) and _VALID_NAME.match(table["name"]):
                version = table.get("version")
                return canonicalize_name(table["name"]), version if isinstance(version, str) else ""
    setup_cfg = by_path.get("setup.cfg")
    if setup_cfg is not None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(setup_cfg.text())
            name = parser.get("metadata", "name", fallback="").strip()
            version = parser.get("metadata", "version", fallback="").strip()
        except configparser.Error:
            name = version = ""
        if _VALID_NAME.match(name):
            return canonicalize_name(name), "" if version.startswith(("attr:", "file:")) else version
    setup_py = by_path.get("setup.py")
    if setup_py is not None:
        text = setup_py.text()
        found = _NAME_LITERAL.search(text)
        if found:
            version_found = _VERSION_LITERAL.search(text)
            return canonicalize_name(found.group(1)), version_found.group(1) if version_found else ""
    return None


def package_manifest(path: Path) -> str | None:
    """The file that makes directory ``path`` a package (``setup.py``, ``pyproject.toml``, ``package.json``…).

    ``None`` for a directory that declares no package of its own.
    """
    import tomllib

    if (path / "package.json").is_file():
        return "package.json"
    for name in ("setup.py", "setup.cfg", "PKG-INFO"):
        if (path / name).is_file():
            return name
    pyproject = path / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8", errors="replace"))
        except (OSError, tomllib.TOMLDecodeError):
            return None
        tool = data.get("tool")
        if "project" in data or (isinstance(tool, dict) and "poetry" in tool):
            return "pyproject.toml"
    return None


# --------------------------------------------------------------------------- installed packages (images)

#: Installed files larger than this are not read out of an image (reported as skipped).
INSTALLED_MAX_FILE_BYTES: Final = 4 * 1024 * 1024
#: Budget of file bodies held in memory for one image's code scan.
INSTALLED_MAX_TOTAL_BYTES: Final = 512 * 1024 * 1024
#: Found by the npm cataloger for modules a Debian package shipped (updated through the .deb).
NPM_DEBIAN_FOUND_BY: Final = "npm-debian"
#: Compiled bytecode and shared libraries: no heuristic reads them, so their bodies are never kept.
NEVER_READ_SUFFIXES: Final = (".pyc", ".pyo", ".so", ".pyd", ".dylib", ".node", ".dll", ".a", ".o")


def is_distro_package(package: Package) -> bool:
    """Shipped by the distribution (a .deb, or an npm module installed by one)."""
    return package.ecosystem is Ecosystem.DEBIAN or package.found_by == NPM_DEBIAN_FOUND_BY


@dataclass(frozen=True, slots=True)
class InstalledCode:
    """The files of one installed package chosen for a code scan, and what was left out."""

    package: Package
    root: str  # directory the package-relative paths start from (site-packages, the npm package dir, /)
    paths: dict[str, str]  # package-relative path -> absolute path in the image
    too_large: int = 0  # files over the per-file limit
    over_budget: int = 0  # files left out once the image's byte budget was spent


def installed_root(package: Package) -> str:
    """Where ``package``'s relative paths start: site-packages, the npm package directory, or ``/``."""
    where = package.locations[0].path if package.locations else "/"
    if package.ecosystem is Ecosystem.NPM:
        return posixpath.dirname(where)
    if package.ecosystem is Ecosystem.PYPI:
        parent = posixpath.dirname(where)
        # METADATA/PKG-INFO sit inside the *.dist-info/*.egg-info directory; a bare *.egg-info file does not
        return posixpath.dirname(parent) if parent.endswith((".dist-info", ".egg-info", "/EGG-INFO")) else parent
    return "/"


def _relative(path: str, root: str) -> str:
    if root != "/" and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path.lstrip("/")  # outside the root (console scripts in bin/): keep the image path


def plan_installed_code(
    view: FileSystemView,
    packages: Iterable[Package],
    *,
    include_distro: bool = False,
    max_file_bytes: int = INSTALLED_MAX_FILE_BYTES,
    max_total_bytes: int = INSTALLED_MAX_TOTAL_BYTES,
) -> list[InstalledCode]:
    """Choose, from sizes in ``view`` (metadata only), which owned files of each package to read.

    Only PyPI and npm packages are planned, plus distribution packages when
    ``include_distro``; files over ``max_file_bytes`` and files past the
    ``max_total_bytes`` budget are counted, not read.
    """
    plans: list[InstalledCode] = []
    budget = max_total_bytes
    for package in packages:
        if package.ecosystem not in (Ecosystem.PYPI, Ecosystem.NPM, Ecosystem.DEBIAN):
            continue
        if is_distro_package(package) and not include_distro:
            continue
        root = installed_root(package)
        paths: dict[str, str] = {}
        too_large = over_budget = 0
        for path in package.files:
            name = path.rsplit("/", 1)[-1]
            if name.endswith(NEVER_READ_SUFFIXES) or ".so." in name:
                continue
            entry = view.entry(path)
            if entry is None or entry.type is not EntryType.FILE:
                continue  # listed in RECORD but removed since, or a symlink (never followed)
            if entry.size > max_file_bytes:
                too_large += 1
                continue
            if entry.size > budget:
                over_budget += 1
                continue
            budget -= entry.size
            paths[_relative(path, root)] = path
        plans.append(InstalledCode(package, root, paths, too_large, over_budget))
    return plans


def wanted_paths(plans: Iterable[InstalledCode]) -> frozenset[str]:
    """Every image path some plan reads (the set behind a second ``Source.view``)."""
    return frozenset(path for plan in plans for path in plan.paths.values())


def installed_artifact(plan: InstalledCode, view: FileSystemView) -> tuple[PackageArtifact, dict[str, Digest | None]]:
    """Build the in-memory artifact of ``plan`` from ``view``; also each relative path's layer."""
    package = plan.package
    label = f"{package.ecosystem.value}:{package.name}@{package.version} ({plan.root})"
    files: list[tuple[str, bytes]] = []
    modes: dict[str, int] = {}
    layers: dict[str, Digest | None] = {}
    skipped: list[Skipped] = []
    for rel, path in sorted(plan.paths.items()):
        entry = view.entry(path)
        layer = entry.layer if entry else None
        try:
            body = view.read(path)
        except SourceError as exc:
            skipped.append(Skipped(label, Location(path, layer), f"cannot read ({exc})"))
            continue
        files.append((rel, body))
        modes[rel] = entry.mode if entry else 0o644
        layers[rel] = layer
    where = Location(plan.root, package.locations[0].layer if package.locations else None)
    if plan.too_large:
        skipped.append(
            Skipped(label, where, f"{plan.too_large} files over {INSTALLED_MAX_FILE_BYTES // 1024**2} MiB not scanned")
        )
    if plan.over_budget:
        skipped.append(Skipped(label, where, f"{plan.over_budget} files not scanned: image byte budget spent"))
    artifact = PackageArtifact.from_files(
        label,
        files,
        ecosystem=package.ecosystem,
        name=package.name,
        version=package.version,
        skipped=skipped,
        modes=modes,
    )
    return artifact, layers


# --------------------------------------------------------------------------- registry specs

_SPEC = re.compile(r"^(?P<eco>pypi|npm):(?P<rest>.*)$")


@dataclass(frozen=True, slots=True)
class PackageSpec:
    """``pypi:NAME[==VER]`` or ``npm:NAME[@VER]`` (``NAME@A..B`` for diff ranges)."""

    ecosystem: Ecosystem
    name: str
    version: str | None


def parse_spec(text: str) -> PackageSpec | None:
    """Parse a registry spec, or None when ``text`` is not one."""
    match = _SPEC.match(text.strip())
    if not match:
        return None
    rest = match.group("rest").strip()
    if not rest:
        raise UsageError(f"{text}: missing package name")
    if match.group("eco") == "pypi":
        name, sep, version = rest.partition("==")
        if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*|[A-Za-z0-9]", name.strip()):
            raise UsageError(f"{text}: not a valid PyPI project name")
        return PackageSpec(Ecosystem.PYPI, canonicalize_name(name.strip()), version.strip() if sep else None)
    scoped = rest.startswith("@")
    body = rest[1:] if scoped else rest
    name, sep, version = body.partition("@")
    name = ("@" + name if scoped else name).strip().lower()
    if not name or name in ("@",) or (scoped and "/" not in name):
        raise UsageError(f"{text}: not a valid npm package name")
    return PackageSpec(Ecosystem.NPM, name, version.strip() if sep else None)


def fetch_spec(spec: PackageSpec, client: object, workdir: Path | None = None) -> PackageArtifact:
    """Download ``spec`` from the configured registry into a temp dir and open it."""
    from chainwarden.analyzers.registry_client import RegistryClient

    assert isinstance(client, RegistryClient)
    if spec.version is None:
        raise UsageError(
            f"{spec.ecosystem.value}:{spec.name}: give a version to scan its code "
            f"({'pypi:NAME==VER' if spec.ecosystem is Ecosystem.PYPI else 'npm:NAME@VER'})"
        )
    directory = workdir or Path(tempfile.mkdtemp(prefix="chainwarden-pkg-"))
    if spec.ecosystem is Ecosystem.PYPI:
        path = client.download_pypi(spec.name, spec.version, directory)
        label = f"pypi:{spec.name}=={spec.version}"
    else:
        path = client.download_npm(spec.name, spec.version, directory)
        label = f"npm:{spec.name}@{spec.version}"
    artifact = open_artifact(path, label)
    return artifact


def iter_text_files(artifact: PackageArtifact) -> Iterator[PackageFile]:
    for package_file in artifact.files:
        if package_file.complete:
            yield package_file
