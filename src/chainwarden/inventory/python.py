"""Installed Python distributions: ``*.dist-info`` and ``*.egg-info`` anywhere.

System site-packages, virtualenvs, ``/usr/local`` and ``/opt`` alike: an
attacker's copy of a library in a forgotten venv runs just as well.
"""

from __future__ import annotations

import posixpath

from packageurl import PackageURL

from chainwarden.inventory.bounds import pypi_name_problem
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Ecosystem, Location, Package, Skipped
from chainwarden.sources.interface import EntryType, FileSystemView

DIST_INFO_FILES = frozenset({"METADATA", "RECORD", "INSTALLER", "direct_url.json"})
EGG_INFO_FILES = frozenset({"PKG-INFO", "installed-files.txt"})
LICENSE_CLASSIFIER = "License :: "
METADATA_SUFFIXES = ("/METADATA", "/PKG-INFO", ".egg-info")


def parse_metadata(text: str) -> tuple[str, str, tuple[str, ...]]:
    """(name, version, licenses) from core metadata (METADATA / PKG-INFO)."""
    from email.parser import HeaderParser  # costs ~70 ms to import; most scans never need it

    headers = HeaderParser().parsestr(text, headersonly=True)
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
        try:
            name, version, licenses = parse_metadata(view.read_text(metadata_path))
        except Exception as exc:
            result.skipped.append(Skipped("python metadata", Location(metadata_path, layer), str(exc)))
            return
        if not name or not version:
            result.skipped.append(
                Skipped("python metadata", Location(metadata_path, layer), "no Name or Version header")
            )
            return
        problem = pypi_name_problem(name)
        if problem is not None:
            result.skipped.append(Skipped("python metadata", Location(metadata_path, layer), problem))
            return
        from packaging.utils import canonicalize_name  # packaging costs ~20 ms to import

        normalized = canonicalize_name(name)
        files = self._owned_files(view, info_dir, record) if record else (metadata_path,)
        result.packages.append(
            Package(
                ecosystem=Ecosystem.PYPI,
                name=normalized,
                version=version,
                purl=pypi_purl(normalized, version),
                found_by=self.id,
                locations=(Location(metadata_path, layer),),
                files=files,
                licenses=licenses,
            )
        )

    @staticmethod
    def _owned_files(view: FileSystemView, info_dir: str, record: str) -> tuple[str, ...]:
        try:
            text = view.read_text(record)
        except Exception:
            return tuple(sorted(posixpath.join(info_dir, name) for name in view.children(info_dir)))
        if record.endswith("installed-files.txt"):
            base = info_dir  # egg-info paths are relative to the egg-info directory
            names = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            base = posixpath.dirname(info_dir)  # RECORD paths are relative to site-packages
            names = [_record_path(line) for line in text.splitlines() if line.strip()]
        files = {posixpath.normpath(posixpath.join(base, name)) for name in names if name}
        return tuple(sorted(files))


def _record_path(line: str) -> str:
    """First CSV field of a RECORD row (paths may be quoted when they hold commas)."""
    if line.startswith('"'):
        end = line.find('",', 1)
        return line[1:end] if end > 0 else line.strip('"')
    return line.split(",", 1)[0]
