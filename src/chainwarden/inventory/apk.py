"""Alpine packages: apk's installed database ``/lib/apk/db/installed``.

Each stanza is ``X:value`` lines (apk-package(5) / apk-tools ``database.c``):
``P`` name, ``V`` version, ``A`` architecture, ``o`` origin (the source package
Alpine's security database and OSV's ``Alpine:v3.NN`` records name), ``L``
licence, ``m`` maintainer; then the files: ``F:`` a directory, each ``R:`` a
file in it followed by its ``Z:`` checksum (``Q1`` + base64 SHA-1, ``Q2`` +
base64 SHA-256).
"""

from __future__ import annotations

import base64
import binascii

from packageurl import PackageURL

from chainwarden.inventory.bounds import clip, package_name_problem
from chainwarden.inventory.distro import ALPINE_RELEASE
from chainwarden.inventory.dpkg import OS_RELEASE_PATHS
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Digest, Distro, Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

INSTALLED = "/lib/apk/db/installed"
#: apk-tools 3 keeps the same text database under /usr/lib (merged-usr Alpine)
INSTALLED_PATHS = (INSTALLED, "/usr/lib/apk/db/installed")
#: a stanza line longer than this is not apk's (apk writes a few hundred bytes at most)
MAX_LINE = 64 * 1024


def apk_checksum(value: str) -> str:
    """``Q1<base64>`` → ``sha1:<hex>``, ``Q2<base64>`` → ``sha256:<hex>``; "" when unreadable."""
    algorithm = {"Q1": "sha1", "Q2": "sha256"}.get(value[:2])
    if algorithm is None:
        return ""
    try:
        raw = base64.b64decode(value[2:], validate=True)
    except (binascii.Error, ValueError):
        return ""
    if len(raw) != (20 if algorithm == "sha1" else 32):
        return ""
    return f"{algorithm}:{raw.hex()}"


class ApkStanza:
    """One package of the installed database, as read (values unvalidated)."""

    __slots__ = ("digests", "fields", "files", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self.fields: dict[str, str] = {}
        self.files: list[str] = []
        self.digests: list[str] = []


def parse_installed(text: str) -> list[ApkStanza]:
    """Stanzas of an apk ``installed`` database, with their first line number (1-based)."""
    stanzas: list[ApkStanza] = []
    current: ApkStanza | None = None
    directory: str | None = ""
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            if current is not None:
                stanzas.append(current)
            current, directory = None, ""
            continue
        if len(line) < 2 or line[1] != ":" or len(line) > MAX_LINE:
            continue
        if current is None:
            current = ApkStanza(number)
        key, value = line[0], line[2:]
        if key == "F":
            parts = [part for part in value.split("/") if part]
            # a directory apk would never write (dot segments) owns nothing: the file list is input too
            directory = "/".join(parts) if not any(part in (".", "..") for part in parts) else None
        elif key == "R":
            name = value.strip("/")
            if directory is not None and name and "/" not in name and name not in (".", ".."):
                current.files.append(f"/{directory}/{name}" if directory else f"/{name}")
                current.digests.append("")
        elif key == "Z":
            if current.files and not current.digests[-1]:
                current.digests[-1] = apk_checksum(value)
        elif key not in current.fields:
            current.fields[key] = value
    if current is not None:
        stanzas.append(current)
    return stanzas


def apk_purl(name: str, version: str, arch: str | None, origin: str, distro: Distro | None) -> str:
    qualifiers: dict[str, str] = {}
    if arch:
        qualifiers["arch"] = arch
    if distro is not None and distro.id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id
    if origin and origin != name:
        qualifiers["upstream"] = origin  # syft's convention
    namespace = distro.id if distro is not None and distro.id else "alpine"
    return PackageURL(type="apk", namespace=namespace, name=name, version=version, qualifiers=qualifiers).to_string()


class ApkCataloger(Cataloger):
    id = "apk-db"

    def wants(self, path: str) -> bool:
        return path in INSTALLED_PATHS or path == ALPINE_RELEASE or path in OS_RELEASE_PATHS

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        for path in INSTALLED_PATHS:
            entry = view.entry(path)
            if entry is None or entry.type is not EntryType.FILE:
                continue
            try:
                text = view.read_text(path)
            except Exception as exc:
                result.skipped.append(Skipped("apk database", Location(path, entry.layer), str(exc)))
                continue
            for stanza in parse_installed(text):
                package = self._package(stanza, path, entry.layer, context.distro, result)
                if package is not None:
                    result.packages.append(package)
        return result

    def _package(
        self, stanza: ApkStanza, db_path: str, layer: Digest | None, distro: Distro | None, result: CatalogResult
    ) -> Package | None:
        fields = stanza.fields
        name, version = fields.get("P", "").strip(), fields.get("V", "").strip()
        where = Location(db_path, layer, line=stanza.line)
        if not name or not version:
            what = f"apk {name}" if name else "apk stanza"
            result.skipped.append(Skipped(what, where, "stanza has no P: (name) or V: (version)"))
            return None
        problem = package_name_problem(name, "apk")
        if problem is not None:
            result.skipped.append(Skipped(f"apk {clip(name)}", where, problem))
            return None
        arch = fields.get("A", "").strip() or None
        origin = fields.get("o", "").strip() or name
        licence = fields.get("L", "").strip()
        return Package(
            ecosystem=Ecosystem.APK,
            name=name,
            version=version,
            purl=apk_purl(name, version, arch, origin, distro),
            found_by=self.id,
            locations=(where,),
            files=tuple(stanza.files),
            source_name=origin,
            source_version=version,
            arch=arch,
            licenses=(licence,) if licence else (),
            supplier=fields.get("m", "").strip() or None,
            file_digests=tuple(stanza.digests) if any(stanza.digests) else (),
        )
