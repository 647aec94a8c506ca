"""An SBOM as the inventory: CycloneDX or SPDX JSON, by chainwarden or another tool.

``chainwarden scan sbom:FILE`` matches what an SBOM lists without the image it
describes: an attested SBOM that ``verify-attestation --predicate-out`` wrote,
or one that syft, trivy or a build system produced. Packages are read from
their purls (CycloneDX ``components[].purl``, recursively; SPDX
``packages[].externalRefs`` of type ``purl``), with what matching needs and
the producers spell differently: the Debian source package (chainwarden's
``chainwarden:source-name`` property, syft's ``upstream`` qualifier, trivy's
``aquasecurity:trivy:SrcName``), the epoch (a qualifier or in the version),
and the distribution (the operating-system component, or a purl's ``distro``).
A component without a purl, or of an ecosystem chainwarden does not match, is
a skipped record with its reason, never silently dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from packaging.utils import canonicalize_name

from chainwarden.errors import SourceError
from chainwarden.models import Distro, Ecosystem, Inventory, Location, Package, Skipped, TargetInfo

__all__ = ["MAX_SBOM_BYTES", "looks_like_sbom", "read_sbom"]

#: An image SBOM with every file as evidence is tens of MB; a thousand times an
#: ordinary one is not an SBOM but an attack on the reader.
MAX_SBOM_BYTES = 512 * 1024**2
_ECOSYSTEMS = {ecosystem.value: ecosystem for ecosystem in Ecosystem if ecosystem is not Ecosystem.BINARY}
#: purl types that name the target itself, not a package in it
_TARGET_TYPES = frozenset({"oci", "docker"})
_SOURCE_NAME = ("chainwarden:source-name", "aquasecurity:trivy:SrcName", "syft:metadata:source")
_SOURCE_VERSION = ("chainwarden:source-version", "aquasecurity:trivy:SrcVersion", "syft:metadata:sourceVersion")


def looks_like_sbom(path: Path) -> bool:
    """A JSON file that names itself CycloneDX or SPDX in its first or last 4 KiB
    (cyclonedx-python-lib writes ``bomFormat`` last, after the components)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            size = os.fstat(handle.fileno()).st_size
            if size > 8192:
                handle.seek(size - 4096)
            tail = handle.read(4096) if size > 4096 else b""
    except OSError:
        return False
    if not head.lstrip().startswith(b"{"):
        return False
    return any(marker in head + tail for marker in (b'"bomFormat"', b'"spdxVersion"'))


def read_sbom(path: Path, reference: str) -> Inventory:
    """The packages a CycloneDX (1.2–1.6) or SPDX (2.2/2.3) JSON document lists.

    Raises:
        SourceError: not readable, too large, not JSON, or neither format.
    """
    try:
        size = path.stat().st_size
        if size > MAX_SBOM_BYTES:
            raise SourceError(f"{reference}: larger than {MAX_SBOM_BYTES // 1024**2} MiB")
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise SourceError(f"{reference}: cannot read ({exc.strerror})") from exc
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{reference}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise SourceError(f"{reference}: not an SBOM (the top level is not an object)")
    where = Location(str(path))
    if document.get("bomFormat") == "CycloneDX":
        return _cyclonedx(document, reference, where)
    if isinstance(document.get("spdxVersion"), str):
        return _spdx(document, reference, where)
    raise SourceError(f"{reference}: neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON")


class _Reader:
    def __init__(self, reference: str, where: Location, found_by: str) -> None:
        self.reference = reference
        self.where = where
        self.found_by = found_by
        self.packages: list[Package] = []
        self.skipped: list[Skipped] = []
        self.distro: Distro | None = None

    def add(self, name: str, purl_text: Any, properties: dict[str, str], licenses: tuple[str, ...]) -> None:
        if not isinstance(purl_text, str) or not purl_text:
            self.skipped.append(Skipped(name or "(unnamed component)", self.where, "no purl: nothing to match it by"))
            return
        try:
            purl = PackageURL.from_string(purl_text)
        except ValueError as exc:
            self.skipped.append(Skipped(name or purl_text, self.where, f"malformed purl {purl_text!r} ({exc})"))
            return
        if purl.type in _TARGET_TYPES:
            return  # the image the SBOM describes
        ecosystem = _ECOSYSTEMS.get(purl.type)
        if ecosystem is None:
            self.skipped.append(
                Skipped(purl_text, self.where, f"purl type '{purl.type}' is not an ecosystem chainwarden matches")
            )
            return
        qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
        package_name = (
            f"{purl.namespace}/{purl.name}"
            if purl.namespace and ecosystem in (Ecosystem.NPM, Ecosystem.GOLANG)
            else purl.name
        )
        if ecosystem is Ecosystem.PYPI:
            package_name = canonicalize_name(package_name)
        version = purl.version or ""
        epoch = qualifiers.get("epoch")
        if epoch and ecosystem in (Ecosystem.DEBIAN, Ecosystem.RPM) and ":" not in version and version:
            version = f"{epoch}:{version}"
        source_name = next((properties[key] for key in _SOURCE_NAME if properties.get(key)), None)
        source_version = next((properties[key] for key in _SOURCE_VERSION if properties.get(key)), None)
        upstream = qualifiers.get("upstream")
        if source_name is None and upstream:
            # syft: upstream=openssl or upstream=openssl@3.0.11-1 (the source package and, when it differs, its version)
            source_name, _, upstream_version = upstream.partition("@")
            source_version = upstream_version or None
        if ecosystem in (Ecosystem.DEBIAN, Ecosystem.APK, Ecosystem.RPM) and source_name and not source_version:
            source_version = version
        if self.distro is None and "distro" in qualifiers:
            self.distro = _distro_from_qualifier(qualifiers["distro"])
        self.packages.append(
            Package(
                ecosystem=ecosystem,
                name=package_name,
                version=version,
                purl=purl.to_string(),
                found_by=self.found_by,
                locations=(self.where,),
                source_name=source_name,
                source_version=source_version,
                arch=qualifiers.get("arch"),
                licenses=licenses,
            )
        )

    def inventory(self, target: TargetInfo, distro: Distro | None) -> Inventory:
        return Inventory(target, tuple(self.packages), distro=distro or self.distro, skipped=tuple(self.skipped))


def _distro_from_qualifier(value: str) -> Distro:
    """``debian-12`` → Debian 12; ``alpine-3.19``; ``rocky-9.3``."""
    distro_id, _, version = value.partition("-")
    return Distro(id=distro_id.lower(), version_id=version)


def _cyclonedx(document: dict[str, Any], reference: str, where: Location) -> Inventory:
    reader = _Reader(reference, where, "sbom-cyclonedx")
    distro: Distro | None = None
    stack = list(_objects(document.get("components")))
    while stack:
        component = stack.pop(0)
        stack[:0] = _objects(component.get("components"))
        name = _text(component.get("name"))
        if component.get("type") == "operating-system":
            version = component.get("version")
            distro = distro or Distro(id=name.lower(), version_id=version if isinstance(version, str) else "")
            continue
        properties = {
            p["name"]: p["value"]
            for p in _objects(component.get("properties"))
            if isinstance(p.get("name"), str) and isinstance(p.get("value"), str)
        }
        licenses = []
        for entry in _objects(component.get("licenses")):
            if isinstance(entry.get("expression"), str):
                licenses.append(entry["expression"])
            licence = entry.get("license")
            if isinstance(licence, dict):
                text = licence.get("id") or licence.get("name")
                if isinstance(text, str):
                    licenses.append(text)
        reader.add(name, component.get("purl"), properties, tuple(licenses))
    metadata = document.get("metadata")
    described = metadata.get("component") if isinstance(metadata, dict) else None
    return reader.inventory(_target(reference, described), distro)


def _spdx(document: dict[str, Any], reference: str, where: Location) -> Inventory:
    reader = _Reader(reference, where, "sbom-spdx")
    for package in _objects(document.get("packages")):
        name = _text(package.get("name"))
        purl = next(
            (
                ref.get("referenceLocator")
                for ref in _objects(package.get("externalRefs"))
                if ref.get("referenceType") == "purl"
            ),
            None,
        )
        licence = package.get("licenseDeclared")
        licenses = (licence,) if isinstance(licence, str) and licence not in ("NOASSERTION", "NONE") else ()
        if purl is None and package.get("primaryPackagePurpose") in ("CONTAINER", "OPERATING-SYSTEM"):
            continue  # the image or its OS, described rather than contained
        reader.add(name, purl, {}, licenses)
    return reader.inventory(TargetInfo(kind="sbom", reference=reference), None)


def _target(reference: str, component: Any) -> TargetInfo:
    digest = None
    if isinstance(component, dict):
        for entry in _objects(component.get("hashes")):
            if entry.get("alg") == "SHA-256" and isinstance(entry.get("content"), str):
                digest = f"sha256:{entry['content']}"
    return TargetInfo(kind="sbom", reference=reference, digest=digest)  # type: ignore[arg-type]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
