"""SPDX 2.3 JSON: the inventory as an SPDX document.

Written by hand from plain dicts: the document is small and flat, and a
dependency on the whole SPDX tool suite for it would cost more than it gives.
The output is checked against the official SPDX 2.3 JSON schema in the tests.

Mapping:

* one SPDX package for the target (the image or directory) that the document
  ``DESCRIBES`` and that ``CONTAINS`` every other package;
* one SPDX package per :class:`~chainwarden.models.Package` with its purl as a
  ``PACKAGE-MANAGER`` external reference, ``filesAnalyzed: false``, and where it
  was found (cataloger, path, layer) in ``sourceInfo``;
* owned files are listed in the package ``comment``: SPDX file elements would
  require per-file checksums chainwarden does not compute;
* declared licenses become one SPDX expression; strings that are not SPDX ids
  or expressions become ``LicenseRef-`` ids with their text kept in
  ``hasExtractedLicensingInfos``, so nothing a package declared is lost.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from cyclonedx.spdx import fixup_id, is_expression

from chainwarden.models import Inventory, Location, Package, TargetInfo
from chainwarden.report.json_report import parse_hash_pin, tool_version

SPDX_VERSION = "SPDX-2.3"
NOASSERTION = "NOASSERTION"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
# The namespace prefix the SPDX specification's own examples use for documents
# without a home of their own; the UUID part makes each namespace unique.
NAMESPACE_PREFIX = "https://spdx.org/spdxdocs/chainwarden"

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
_CHECKSUM_ALGORITHMS = {
    "md5": "MD5",
    "sha1": "SHA1",
    "sha224": "SHA224",
    "sha256": "SHA256",
    "sha384": "SHA384",
    "sha512": "SHA512",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "sha3-512": "SHA3-512",
    "blake2b-256": "BLAKE2b-256",
    "blake2b-384": "BLAKE2b-384",
    "blake2b-512": "BLAKE2b-512",
}


def render_spdx(inventory: Inventory, *, created: datetime | None = None, namespace_seed: str | None = None) -> str:
    """The inventory as an SPDX 2.3 JSON document.

    ``created`` defaults to now. ``documentNamespace`` is derived from
    ``namespace_seed`` (a UUIDv5, so the same seed gives the same namespace) or,
    without a seed, from a random UUID as the specification asks for documents
    that may differ.
    """
    builder = _DocumentBuilder()
    return builder.render(inventory, created or datetime.now(UTC), namespace_seed)


def spdx_id(kind: str, text: str) -> str:
    """An SPDX element id ``SPDXRef-<kind>-<text>`` using only the allowed characters."""
    cleaned = _ID_UNSAFE.sub("-", text).strip("-") or "x"
    return f"SPDXRef-{kind}-{cleaned}"


class _DocumentBuilder:
    def __init__(self) -> None:
        self._ids: set[str] = {DOCUMENT_ID}
        self._license_refs: dict[str, str] = {}  # text → LicenseRef id

    def render(self, inventory: Inventory, created: datetime, seed: str | None) -> str:
        target = inventory.target
        root = self._root_package(target)
        packages: list[dict[str, Any]] = [root]
        relationships = [
            {"spdxElementId": DOCUMENT_ID, "relationshipType": "DESCRIBES", "relatedSpdxElement": root["SPDXID"]}
        ]
        if inventory.distro is not None:
            distro = inventory.distro
            os_package: dict[str, Any] = {
                "SPDXID": self._claim(spdx_id("OperatingSystem", f"{distro.id}-{distro.version_id}")),
                "name": distro.id,
                "downloadLocation": NOASSERTION,
                "filesAnalyzed": False,
                "primaryPackagePurpose": "OPERATING_SYSTEM",
            }
            if distro.version_id:
                os_package["versionInfo"] = distro.version_id
            if distro.pretty_name:
                os_package["description"] = distro.pretty_name
            packages.append(os_package)
        for package in inventory.packages:
            packages.append(self._package(package))
        relationships.extend(
            {"spdxElementId": root["SPDXID"], "relationshipType": "CONTAINS", "relatedSpdxElement": p["SPDXID"]}
            for p in packages[1:]
        )

        name = target.reference
        namespace_uuid = uuid.uuid5(uuid.NAMESPACE_URL, seed) if seed is not None else uuid.uuid4()
        slug = _ID_UNSAFE.sub("-", name).strip("-") or "target"
        document: dict[str, Any] = {
            "spdxVersion": SPDX_VERSION,
            "dataLicense": "CC0-1.0",
            "SPDXID": DOCUMENT_ID,
            "name": name,
            "documentNamespace": f"{NAMESPACE_PREFIX}/{slug}-{namespace_uuid}",
            "creationInfo": {
                "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "creators": [f"Tool: chainwarden-{tool_version()}"],
            },
            "packages": packages,
            "relationships": relationships,
        }
        if inventory.skipped:
            document["comment"] = "Skipped: " + "; ".join(
                f"{s.what}{f' at {s.location}' if s.location else ''}: {s.reason}" for s in inventory.skipped
            )
        if self._license_refs:
            document["hasExtractedLicensingInfos"] = [
                {"licenseId": ref, "name": text, "extractedText": text} for text, ref in self._license_refs.items()
            ]
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    def _claim(self, wanted: str) -> str:
        ref, counter = wanted, 1
        while ref in self._ids:
            counter += 1
            ref = f"{wanted}-{counter}"
        self._ids.add(ref)
        return ref

    def _root_package(self, target: TargetInfo) -> dict[str, Any]:
        if target.kind == "dir":
            return {
                "SPDXID": self._claim(spdx_id("Directory", target.reference)),
                "name": target.reference,
                "downloadLocation": NOASSERTION,
                "filesAnalyzed": False,
                "primaryPackagePurpose": "APPLICATION",
            }
        name = target.repo_tags[0] if target.repo_tags else target.reference
        package: dict[str, Any] = {
            "SPDXID": self._claim(spdx_id("Image", name)),
            "name": name,
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": False,
            "primaryPackagePurpose": "CONTAINER",
        }
        digest = target.digest or target.config_digest
        if digest:
            package["versionInfo"] = digest
            checksum = _checksum(digest)
            if checksum:
                package["checksums"] = [checksum]
        details = [f"target {target.reference} ({target.kind})"]
        if target.platform:
            details.append(f"platform {target.platform}")
        details.extend(f"layer {n} {layer.digest}" for n, layer in enumerate(target.layers))
        package["comment"] = "; ".join(details)
        return package

    def _package(self, package: Package) -> dict[str, Any]:
        element: dict[str, Any] = {
            "SPDXID": self._claim(
                spdx_id("Package", f"{package.ecosystem.value}-{package.name}-{_short_hash(package.id)}")
            ),
            "name": package.name,
        }
        if package.version:
            element["versionInfo"] = package.version
        element.update(
            {
                "downloadLocation": NOASSERTION,
                "filesAnalyzed": False,
                "primaryPackagePurpose": "LIBRARY",
                "licenseConcluded": NOASSERTION,
                "licenseDeclared": self._license_expression(package.licenses),
                "copyrightText": NOASSERTION,
            }
        )
        checksums = [c for c in (_checksum(pin) for pin in package.hashes) if c is not None]
        if checksums:
            element["checksums"] = checksums
        if package.supplier:
            element["supplier"] = _supplier(package.supplier)
        if package.purl:
            element["externalRefs"] = [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": package.purl}
            ]
        element["sourceInfo"] = _source_info(package)
        if package.files:
            element["comment"] = "owned files: " + ", ".join(package.files)
        return element

    def _license_expression(self, licenses: tuple[str, ...]) -> str:
        parts: list[str] = []
        for text in dict.fromkeys(value.strip() for value in licenses):
            if not text:
                continue
            known_id = fixup_id(text)
            if known_id is not None:
                parts.append(known_id)
            elif is_expression(text):
                expression = text
                while _is_wrapped(expression):
                    expression = expression[1:-1].strip()
                parts.append(f"({expression})" if " " in expression else expression)
            else:
                parts.append(self._license_ref(text))
        if not parts:
            return NOASSERTION
        if len(parts) == 1:
            return parts[0].removeprefix("(").removesuffix(")") if _is_wrapped(parts[0]) else parts[0]
        return " AND ".join(parts)

    def _license_ref(self, text: str) -> str:
        if text not in self._license_refs:
            wanted = "LicenseRef-" + (_ID_UNSAFE.sub("-", text).strip("-") or "unnamed")
            ref, counter = wanted, 1
            while ref in self._license_refs.values():
                counter += 1
                ref = f"{wanted}-{counter}"
            self._license_refs[text] = ref
        return self._license_refs[text]


def _is_wrapped(expression: str) -> bool:
    """True when the outer parentheses enclose the whole expression."""
    if not (expression.startswith("(") and expression.endswith(")")):
        return False
    depth = 0
    for index, char in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and index < len(expression) - 1:
            return False
    return True


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _checksum(pin: str) -> dict[str, str] | None:
    parsed = parse_hash_pin(pin)
    if parsed is None or parsed[0] not in _CHECKSUM_ALGORITHMS:
        return None
    return {"algorithm": _CHECKSUM_ALGORITHMS[parsed[0]], "checksumValue": parsed[1]}


def _source_info(package: Package) -> str:
    text = f"found by {package.found_by}"
    if package.locations:
        text += " at " + ", ".join(_where(location) for location in package.locations)
    if package.source_name:
        source = package.source_name + (f" {package.source_version}" if package.source_version else "")
        text += f"; built from source package {source}"
    return text


def _where(location: Location) -> str:
    text = location.path if location.line is None else f"{location.path}:{location.line}"
    return f"{text} (layer {location.layer})" if location.layer else text


def _supplier(text: str) -> str:
    """SPDX 2.3 §7.5: ``Person: name (email)`` for an apk maintainer, ``Organization: name`` for an rpm vendor."""
    name, sep, rest = text.partition("<")
    if sep and rest.endswith(">"):
        return f"Person: {name.strip()} ({rest[:-1].strip()})"
    return f"Organization: {text.strip()}"
