"""Debian packages: ``/var/lib/dpkg/status`` and distroless ``status.d/*``.

The source package and its version matter most: Debian advisories are filed
against source packages (``openssl``), not the binaries built from them
(``libssl3``), and a binNMU gives the binary a version its source never had.
"""

from __future__ import annotations

import posixpath
import re

from packageurl import PackageURL

from chainwarden.inventory.bounds import clip, debian_name_problem
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Digest, Distro, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
INFO_DIR = "/var/lib/dpkg/info/"
DOC_DIR = "/usr/share/doc/"
OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
#: DEP-5 short names (Debian copyright-format 1.0 §7.8) → SPDX identifiers.
DEP5_TO_SPDX = {
    "GPL-1": "GPL-1.0-only",
    "GPL-1+": "GPL-1.0-or-later",
    "GPL-2": "GPL-2.0-only",
    "GPL-2+": "GPL-2.0-or-later",
    "GPL-3": "GPL-3.0-only",
    "GPL-3+": "GPL-3.0-or-later",
    "LGPL-2": "LGPL-2.0-only",
    "LGPL-2+": "LGPL-2.0-or-later",
    "LGPL-2.1": "LGPL-2.1-only",
    "LGPL-2.1+": "LGPL-2.1-or-later",
    "LGPL-3": "LGPL-3.0-only",
    "LGPL-3+": "LGPL-3.0-or-later",
    "AGPL-3": "AGPL-3.0-only",
    "AGPL-3+": "AGPL-3.0-or-later",
    "GFDL-1.2+": "GFDL-1.2-or-later",
    "GFDL-1.3+": "GFDL-1.3-or-later",
    "Expat": "MIT",
    "BSD-2-clause": "BSD-2-Clause",
    "BSD-3-clause": "BSD-3-Clause",
    "BSD-4-clause": "BSD-4-Clause",
    "Apache-2": "Apache-2.0",
    "Apache-2.0": "Apache-2.0",
    "MPL-1.1": "MPL-1.1",
    "MPL-2.0": "MPL-2.0",
    "Zlib": "Zlib",
    "zlib": "Zlib",
    "ISC": "ISC",
    "PSF-2": "PSF-2.0",
    "Artistic": "Artistic-1.0-Perl",
    "Artistic-2.0": "Artistic-2.0",
    "CC0-1.0": "CC0-1.0",
    "OpenSSL": "OpenSSL",
    "X11": "X11",
}
_SOURCE_RE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?$")


def parse_control_stanzas(text: str) -> list[tuple[int, dict[str, str]]]:
    """RFC 822-style stanzas with their first line number (1-based)."""
    stanzas: list[tuple[int, dict[str, str]]] = []
    fields: dict[str, str] = {}
    start = 0
    key: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if fields:
                stanzas.append((start, fields))
            fields, key = {}, None
            continue
        if line[0] in " \t":
            if key is not None:
                fields[key] += "\n" + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if not fields:
            start = number
        key = name.strip()
        fields[key] = value.strip()
    if fields:
        stanzas.append((start, fields))
    return stanzas


def parse_os_release(text: str) -> Distro | None:
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            values[name] = value.strip().strip("'\"")
    if "ID" not in values:
        return None
    version_id = values.get("VERSION_ID", "")
    codename = values.get("VERSION_CODENAME", "")
    if not version_id and values.get("ID") == "debian" and "PRETTY_NAME" in values:
        # testing/sid carry no VERSION_ID; the codename is the best we have
        version_id = codename
    return Distro(values["ID"], version_id, codename, values.get("PRETTY_NAME", ""))


def read_distro(view: FileSystemView) -> Distro | None:
    for path in OS_RELEASE_PATHS:
        try:
            return parse_os_release(view.read_text(path))
        except Exception:  # noqa: S112 - missing or uncaptured: try the next path
            continue
    return None


def _is_dir(view: FileSystemView, path: str, resolved_dirs: dict[str, str]) -> bool:
    """Whether ``path`` is a directory, following symlinked parents (merged /usr)."""
    entry = view.entry(path)
    if entry is None:
        parent, _, base = path.rpartition("/")
        real_parent = resolved_dirs.get(parent)
        if real_parent is None:
            real_parent = resolved_dirs[parent] = view.resolve(parent or "/")
        entry = view.entry(posixpath.join(real_parent, base))
    if entry is not None and entry.type is EntryType.SYMLINK:
        # merged /usr: dpkg lists /bin as a directory; on disk it is a link to one
        entry = view.entry(view.resolve(path))
    return entry is not None and entry.type is EntryType.DIR


def deb_purl(
    name: str, version: str, arch: str | None, distro: Distro | None, source_name: str, source_version: str
) -> str:
    """``pkg:deb/<distro>/NAME@VERSION?arch=…&distro=…&upstream=…``; ``name`` must be a valid Debian name."""
    qualifiers = {"arch": arch} if arch else {}
    if distro is not None and distro.id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id
    if source_name != name or source_version != version:
        # syft's convention: the source package, with its version when it differs
        qualifiers["upstream"] = source_name if source_version == version else f"{source_name}@{source_version}"
    namespace = distro.id if distro else "debian"
    return PackageURL(type="deb", namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()


class DpkgCataloger(Cataloger):
    id = "dpkg-status"

    def __init__(self) -> None:
        self._resolved_dirs: dict[str, str] = {}

    def wants(self, path: str) -> bool:
        if path.startswith("/var/lib/dpkg/"):
            return (
                path == STATUS
                or path.startswith(STATUS_D)
                or (path.startswith(INFO_DIR) and path.endswith((".list", ".md5sums")))
            )
        if path.startswith(DOC_DIR) and path.endswith("/copyright"):
            return path.count("/") == 5
        return path in OS_RELEASE_PATHS

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        status_files: list[str] = []
        if view.entry(STATUS) is not None:
            status_files.append(STATUS)
        status_files += [
            posixpath.join(STATUS_D, name)
            for name in view.children(STATUS_D.rstrip("/"))
            if not name.endswith(".md5sums")
        ]
        distro = context.distro
        for path in status_files:
            entry = view.entry(path)
            if entry is None or entry.type is not EntryType.FILE:
                continue
            try:
                text = view.read_text(path)
            except Exception as exc:
                result.skipped.append(Skipped("dpkg status", Location(path), str(exc)))
                continue
            for line, fields in parse_control_stanzas(text):
                package = self._package(view, path, line, fields, distro, entry.layer, result)
                if package is not None:
                    result.packages.append(package)
        return result

    def _package(
        self,
        view: FileSystemView,
        status_path: str,
        line: int,
        fields: dict[str, str],
        distro: Distro | None,
        layer: Digest | None,
        result: CatalogResult,
    ) -> Package | None:
        name = fields.get("Package", "")
        version = fields.get("Version", "")
        status = fields.get("Status", "install ok installed")
        # "deinstall ok config-files" leaves only conffiles behind: not installed
        if not name or status.split()[-1:] != ["installed"]:
            return None
        problem = debian_name_problem(name)
        if problem is not None:
            result.skipped.append(Skipped(f"deb {clip(name)}", Location(status_path, line=line), problem))
            return None
        if not version:
            result.skipped.append(Skipped(f"deb {name}", Location(status_path, line=line), "stanza has no Version"))
            return None
        arch = fields.get("Architecture") or None
        source_name, source_version = name, version
        match = _SOURCE_RE.match(fields.get("Source", "").strip())
        if match:
            source_name = match.group("name")
            source_version = match.group("version") or version
        purl = deb_purl(name, version, arch, distro, source_name, source_version)
        files = self._owned_files(view, name, arch, status_path)
        return Package(
            ecosystem=Ecosystem.DEBIAN,
            name=name,
            version=version,
            purl=purl,
            found_by=self.id,
            locations=(Location(status_path, layer, line=line),) if layer else (Location(status_path, line=line),),
            files=files,
            source_name=source_name,
            source_version=source_version,
            arch=arch,
            licenses=self._licenses(view, name),
        )

    def _owned_files(self, view: FileSystemView, name: str, arch: str | None, status_path: str) -> tuple[str, ...]:
        candidates = [f"{INFO_DIR}{name}.list"]
        if arch:
            candidates.insert(0, f"{INFO_DIR}{name}:{arch}.list")
        for path in candidates:
            entry = view.entry(path)
            if entry is None:
                continue
            try:
                text = view.read_text(path)
            except Exception:  # noqa: S112 - fall through to md5sums
                continue
            files = tuple(line for line in text.splitlines() if line.startswith("/") and line not in ("/", "/."))
            # a directory is shared by many packages; only non-directories are owned
            return tuple(p for p in files if not _is_dir(view, p, self._resolved_dirs))
        # distroless images ship only status.d/<pkg>.md5sums
        for path in (f"{status_path}.md5sums", f"{STATUS_D}{name}.md5sums", f"{INFO_DIR}{name}.md5sums"):
            try:
                text = view.read_text(path)
            except Exception:  # noqa: S112
                continue
            pairs = (line.split(None, 1) for line in text.splitlines())
            return tuple("/" + pair[1] for pair in pairs if len(pair) == 2)
        return ()

    @staticmethod
    def _licenses(view: FileSystemView, name: str) -> tuple[str, ...]:
        """License short names from a machine-readable (DEP-5) copyright file."""
        try:
            text = view.read_text(f"{DOC_DIR}{name}/copyright")
        except Exception:
            return ()
        licenses: list[str] = []
        for line in text.splitlines():
            if line.startswith("License:"):
                value = line[len("License:") :].strip()
                value = DEP5_TO_SPDX.get(value, value)
                if value and value not in licenses and len(value) < 100:
                    licenses.append(value)
        return tuple(licenses)
