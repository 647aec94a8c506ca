"""Installed Python distributions: ``*.dist-info`` and ``*.egg-info`` anywhere.

System site-packages, virtualenvs, ``/usr/local`` and ``/opt`` alike: an
attacker's copy of a library in a forgotten venv runs just as well.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import replace

from packageurl import PackageURL

from chainwarden._internal.recent import Recent
from chainwarden.inventory.bounds import pypi_name_problem
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

DIST_INFO_FILES = frozenset({"METADATA", "RECORD", "INSTALLER", "direct_url.json"})
EGG_INFO_FILES = frozenset({"PKG-INFO", "installed-files.txt"})
LICENSE_CLASSIFIER = "License :: "
METADATA_SUFFIXES = ("/METADATA", "/PKG-INFO", ".egg-info")
_HEADERS_END = re.compile(r"\n\r?\n")
_Parsed = tuple[tuple[Package, ...], tuple[Skipped, ...]]
#: (path, layer, METADATA digest, record path, record digest) -> what _distribution made of them
_PARSED: Recent[tuple[str, str | None, bytes, str | None, bytes | None], _Parsed] = Recent(20_000)


def parse_metadata(text: str) -> tuple[str, str, tuple[str, ...]]:
    """(name, version, licenses) from core metadata (METADATA / PKG-INFO)."""
    from email.parser import HeaderParser  # costs ~70 ms to import; most scans never need it

    # the headers end at the first empty line; the description after it is
    # often most of the file and the parser would read it line by line for nothing
    end = _HEADERS_END.search(text)
    headers = HeaderParser().parsestr(text[: end.start() + 1] if end else text, headersonly=True)
    name = (headers.get("Name") or "").strip()
    version = (headers.get("Version") or "").strip()
    licenses: list[str] = []
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        licenses.append(expression)
    else:
        declared = (headers.get("License") or "").strip()
        # a whole license text pasted into the field is not a license name
        if declared and declared.upper() != "UNKNOWN" and "\n" not in declared and len(declared) < 80:
            licenses.append(declared)
        for classifier in headers.get_all("Classifier") or []:
            if classifier.startswith(LICENSE_CLASSIFIER):
                short = classifier.rsplit(" :: ", 1)[-1].strip()
                if short not in licenses and short != "OSI Approved":
                    licenses.append(short)
    return name, version, tuple(licenses)


def pypi_purl(name: str, version: str) -> str:
    """``pkg:pypi/NAME@VERSION`` (no version part when ``version`` is empty); ``name`` must be normalised."""
    return PackageURL(type="pypi", name=name, version=version or None).to_string()


class PythonInstalledCataloger(Cataloger):
    id = "python-installed"

    def wants(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        if base in DIST_INFO_FILES:
            return ".dist-info/" in path
        if base in EGG_INFO_FILES:
            return ".egg-info/" in path or "/EGG-INFO/" in path
        return base.endswith(".egg-info")  # distutils writes PKG-INFO as a plain file

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        for entry in view.entries():
            path = entry.path
            if entry.type is not EntryType.FILE or not path.endswith(METADATA_SUFFIXES):
                continue
            parent, _, base = path.rpartition("/")
            if base == "METADATA" and parent.endswith(".dist-info"):
                self._add(view, result, path, parent, record=parent + "/RECORD")
            elif base == "PKG-INFO" and parent.endswith((".egg-info", "/EGG-INFO")):
                self._add(view, result, path, parent, record=parent + "/installed-files.txt")
            elif base.endswith(".egg-info"):
                self._add(view, result, path, parent, record=None)
        return result

    def _add(
        self, view: FileSystemView, result: CatalogResult, metadata_path: str, info_dir: str, record: str | None
    ) -> None:
        entry = view.entry(metadata_path)
        layer = entry.layer if entry else None
        where = Location(metadata_path, layer)
        try:
            metadata = view.read(metadata_path)
        except Exception as exc:
            result.skipped.append(Skipped("python metadata", where, str(exc)))
            return
        try:
            record_body = view.read(record) if record else None
        except Exception:
            record_body = None
        if record is not None and record_body is None:
            # no record: the files are what the directory holds (not worth remembering)
            found = self._distribution(where, metadata, info_dir, None, None)
            files = tuple(sorted(posixpath.join(info_dir, name) for name in view.children(info_dir)))
            found = (tuple(replace(p, files=files) for p in found[0]), found[1])
        else:
            # the same distribution in many images (a base's site-packages) is parsed once
            key = (
                metadata_path,
                layer,
                hashlib.sha256(metadata).digest(),
                record,
                hashlib.sha256(record_body).digest() if record_body is not None else None,
            )
            remembered = _PARSED.get(key)
            if remembered is None:
                remembered = self._distribution(where, metadata, info_dir, record, record_body)
                _PARSED.put(key, remembered)
            found = remembered
        result.packages.extend(found[0])
        result.skipped.extend(found[1])

    def _distribution(
        self, where: Location, metadata: bytes, info_dir: str, record: str | None, record_body: bytes | None
    ) -> _Parsed:
        try:
            name, version, licenses = parse_metadata(metadata.decode("utf-8", errors="replace"))
        except Exception as exc:
            return (), (Skipped("python metadata", where, str(exc)),)
        if not name or not version:
            return (), (Skipped("python metadata", where, "no Name or Version header"),)
        problem = pypi_name_problem(name)
        if problem is not None:
            return (), (Skipped("python metadata", where, problem),)
        from packaging.utils import canonicalize_name  # packaging costs ~20 ms to import

        normalized = canonicalize_name(name)
        if record is None:
            files: tuple[str, ...] = (where.path,)
        elif record_body is None:
            files = ()
        else:
            files = _owned_files(info_dir, record, record_body.decode("utf-8", errors="replace"))
        package = Package(
            ecosystem=Ecosystem.PYPI,
            name=normalized,
            version=version,
            purl=pypi_purl(normalized, version),
            found_by=self.id,
            locations=(where,),
            files=files,
            licenses=licenses,
        )
        return (package,), ()


def _owned_files(info_dir: str, record: str, text: str) -> tuple[str, ...]:
    if record.endswith("installed-files.txt"):
        base = info_dir  # egg-info paths are relative to the egg-info directory
        names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        base = posixpath.dirname(info_dir)  # RECORD paths are relative to site-packages
        names = [_record_path(line) for line in text.splitlines() if line.strip()]
    files = {_joined(base, name) for name in names if name}
    return tuple(sorted(files))


def _joined(base: str, name: str) -> str:
    """``base/name`` normalised; most names need no normalising (no ``.``/``..``, no doubled or edge slashes)."""
    if base == "/" or name.startswith(("/", ".")) or name.endswith("/") or "/." in name or "//" in name:
        return posixpath.normpath(posixpath.join(base, name))
    return f"{base}/{name}"


def _record_path(line: str) -> str:
    """First CSV field of a RECORD row (paths may be quoted when they hold commas)."""
    if line.startswith('"'):
        end = line.find('",', 1)
        return line[1:end] if end > 0 else line.strip('"')
    return line.split(",", 1)[0]
