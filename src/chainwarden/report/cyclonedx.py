"""CycloneDX 1.6 JSON: the inventory as an SBOM, vulnerability findings as VEX.

The document is written here, in the shape and order cyclonedx-python-lib gives
it: the library's model took 60x the JSON report's time on an image (sorted
sets, quadratic dependency registration) and its import alone cost half the
JSON report's time, so the tests build the same documents through the library's
model and hold the two to the same bytes. The library still serves what it alone
knows, each imported only when a document needs it: the SPDX licence list and
expression grammar (``cyclonedx.spdx``, when a package declares a licence) and
the vulnerability model (:mod:`chainwarden.report.cyclonedx_vulnerabilities`,
when there are findings to list).

Choices a reader of the SBOM should know:

* Every :class:`~chainwarden.models.Package` is one component whose ``bom-ref``
  is its purl plus where it was found, so two copies of one library stay two
  components (a forgotten second copy is where attacks hide).
* Where a package was seen is ``evidence.occurrences``: one occurrence per
  location (with the line, and the image layer in ``additionalContext``) and
  one per owned file.
* Findings with rule id ``vuln`` become ``vulnerabilities``; a ``vex:<state>``
  tag on a finding becomes the ``analysis`` of that vulnerability, so the same
  document serves as a VEX statement.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from packageurl import PackageURL

from chainwarden._internal.jsontext import ITEM_NEWLINE, LazyList, Placed, dumps_at, escape, iter_indented
from chainwarden.models import (
    ADVISORY_RULE_IDS,
    CATALOGER_IDS,
    Distro,
    Ecosystem,
    Finding,
    Inventory,
    Package,
    Scope,
    TargetInfo,
)
from chainwarden.models import primary_vulnerability_id as primary_id
from chainwarden.report.json_report import parse_hash_pin, tool_version

PROPERTY_PREFIX = "chainwarden:"
SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"
SPEC_VERSION = "1.6"

_SCOPE = {
    Scope.PROD: "required",
    Scope.OPTIONAL: "optional",
    # "excluded" is CycloneDX's word for test/build-only components.
    Scope.DEV: "excluded",
}

#: digest algorithm of a pin → CycloneDX ``hashes[].alg``
_HASH_ALGORITHMS = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha3-256": "SHA3-256",
    "sha3-512": "SHA3-512",
}

# Where the parts of a package component stand: the component is an item of the
# document's "components" list; its members, their items, and theirs, each two
# spaces deeper (an occurrence's fields are one level deeper still, in "evidence").
_COMPONENT = ITEM_NEWLINE
_MEMBER = _COMPONENT + "  "
_ITEM = _MEMBER + "  "
_FIELD = _ITEM + "  "
_OCCURRENCE = _FIELD + "  "

# "registry.example.com", "localhost:5000": a first path segment that names a
# registry, as opposed to a local path such as "./build/image".
_REGISTRY_HOST = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:\d+)?$")


def render_cyclonedx(
    inventory: Inventory,
    findings: Sequence[Finding] = (),
    *,
    timestamp: datetime | None = None,
    serial: UUID | None = None,
) -> str:
    """The inventory (and any ``vuln`` findings) as a CycloneDX 1.6 JSON document.

    ``timestamp`` and ``serial`` default to now and a random UUID; pass fixed
    values for reproducible output. Findings of other rules are ignored: they
    have no place in an SBOM.

    Raises:
        ReporterError: the CycloneDX library rejected a vulnerability.
    """
    return "".join(iter_cyclonedx(inventory, findings, timestamp=timestamp, serial=serial))


def iter_cyclonedx(
    inventory: Inventory,
    findings: Sequence[Finding] = (),
    *,
    timestamp: datetime | None = None,
    serial: UUID | None = None,
) -> Iterator[str]:
    """:func:`render_cyclonedx` in pieces, one component at a time, to write
    an image-sized SBOM without holding it whole. The checks that can fail run
    before the first piece is given.
    """
    refs = _BomRefs()
    root = _root_component(inventory.target, refs)
    os_component = _os_component(inventory.distro, refs) if inventory.distro is not None else None
    package_refs: dict[Package, str] = {}
    # in the library's order: type, name, version (absent last), then bom-ref
    placed: list[tuple[tuple[str, str, bool, str, str], Package | None, str]] = []
    if os_component is not None:
        version = os_component.get("version", "")
        order = (os_component["type"], os_component["name"], not version, version, os_component["bom-ref"])
        placed.append((order, None, os_component["bom-ref"]))
    for package in inventory.packages:
        # A package with neither purl nor location (an unnamed requirement) still
        # gets a reproducible bom-ref, where the library would draw a random one.
        bom_ref = refs.claim(package.id or f"{package.ecosystem.value}:{package.name}")
        package_refs.setdefault(package, bom_ref)
        order = (_component_type(package), package.name, not package.version, package.version, bom_ref)
        placed.append((order, package, bom_ref))
    placed.sort(key=lambda entry: entry[0])
    vulnerabilities: list[dict[str, Any]] = []
    if any(finding.rule_id in ADVISORY_RULE_IDS for finding in findings):
        from chainwarden.report.cyclonedx_vulnerabilities import vulnerabilities_json

        vulnerabilities = vulnerabilities_json(findings, package_refs, refs.claim)

    def components() -> Iterator[dict[str, Any] | Placed]:
        licences = _LicenceCache()
        for _, package, bom_ref in placed:
            if package is not None:
                yield _package_component(package, bom_ref, licences)
            elif os_component is not None:
                yield os_component

    document: dict[str, Any] = {
        "metadata": _metadata(inventory, root, timestamp or datetime.now(UTC)),
        "serialNumber": (serial or uuid.uuid4()).urn,
        "version": 1,
    }
    if vulnerabilities:
        document["vulnerabilities"] = vulnerabilities
    # The target contains every component. chainwarden does not resolve the
    # dependency graph between packages, so the per-package entries stay empty
    # rather than guessed.
    component_refs = sorted(bom_ref for _, _, bom_ref in placed)
    root_dependency: dict[str, Any] = {"ref": root["bom-ref"]}
    if component_refs:
        root_dependency["dependsOn"] = component_refs
        document["components"] = LazyList(components())
    document["dependencies"] = sorted(
        [root_dependency, *({"ref": ref} for ref in component_refs)], key=lambda dependency: dependency["ref"]
    )
    # The library writes the document's own keys last, after the sorted body.
    core = {"$schema": SCHEMA_URI, "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION}
    yield from iter_indented(document, trailing=core)
    yield "\n"


def _metadata(inventory: Inventory, root: dict[str, Any], timestamp: datetime) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "component": root,
        # the library writes an ISO 8601 time with its offset (a naive time is taken as local)
        "timestamp": (timestamp if timestamp.tzinfo is not None else timestamp.astimezone()).isoformat(),
        "tools": {
            "components": [
                {"bom-ref": "chainwarden", "name": "chainwarden", "type": "application", "version": tool_version()}
            ]
        },
    }
    if inventory.target.kind != "dir":
        metadata["lifecycles"] = [{"phase": "post-build"}]
    properties = [_property("target", inventory.target.reference)]
    for number, layer in enumerate(inventory.target.layers):
        properties.append(_property(f"layer:{number}", layer.digest))
    for skipped in inventory.skipped:
        where = f" at {skipped.location}" if skipped.location else ""
        properties.append(_property("skipped", f"{skipped.what}{where}: {skipped.reason}"))
    metadata["properties"] = _property_set(properties)
    return metadata


class _BomRefs:
    """Hands out bom-refs, unique within one document."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        ref, counter = wanted, 1
        while ref in self._taken:
            counter += 1
            ref = f"{wanted}#{counter}"
        self._taken.add(ref)
        return ref


def _image_name(target: TargetInfo) -> tuple[str, str | None, str | None]:
    """(name, repository, tag) of an image target, from its tags or its reference."""
    candidate = target.repo_tags[0] if target.repo_tags else target.reference
    # "oci:./dir:tag" and "docker-archive:file.tar" carry a scheme, not a repository.
    scheme, sep, rest = candidate.partition(":")
    if sep and scheme in {"oci", "oci-archive", "docker-archive", "registry", "dir"}:
        candidate = rest
    candidate = candidate.split("@", 1)[0]
    repository, tag = candidate, None
    slash = candidate.rfind("/")
    colon = candidate.rfind(":")
    if colon > slash:
        repository, tag = candidate[:colon], candidate[colon + 1 :]
    name = repository.rstrip("/").rsplit("/", 1)[-1] or target.reference
    return name.lower(), repository or None, tag or None


def image_purl(target: TargetInfo) -> str | None:
    """``pkg:oci/NAME@DIGEST?arch=…&repository_url=…&tag=…`` of an image target, or None without a digest."""
    name, repository, tag = _image_name(target)
    digest = target.digest or target.config_digest
    if not digest:
        return None
    qualifiers = {}
    # A repository_url is only meaningful for registry-style names; a local
    # layout path would be noise in the purl.
    if repository and _REGISTRY_HOST.match(repository.split("/", 1)[0]) and "/" in repository:
        qualifiers["repository_url"] = repository
    if tag:
        qualifiers["tag"] = tag
    if target.platform:
        qualifiers["arch"] = target.platform.split("/")[-1]
    return str(PackageURL(type="oci", name=name, version=digest, qualifiers=qualifiers).to_string())


def _root_component(target: TargetInfo, refs: _BomRefs) -> dict[str, Any]:
    properties = [_property("target-kind", target.kind)]
    if target.kind == "dir":
        return {
            "bom-ref": refs.claim(f"target:{target.reference}"),
            "name": target.reference,
            "properties": properties,
            "type": "application",
        }
    name, _, tag = _image_name(target)
    digest = target.digest or target.config_digest
    component: dict[str, Any] = {"name": name, "type": "container"}
    digest_hash = _hash(digest) if digest else None
    if digest_hash is not None:
        component["hashes"] = [digest_hash]
    purl = image_purl(target)
    if purl is not None:
        component["purl"] = purl
    if tag or digest:
        component["version"] = tag or digest
    if target.digest:
        properties.append(_property("image-digest", target.digest))
    if target.config_digest:
        properties.append(_property("image-id", target.config_digest))
    if target.platform:
        properties.append(_property("platform", target.platform))
    properties.extend(_property("repo-tag", t) for t in target.repo_tags)
    component["properties"] = _property_set(properties)
    component["bom-ref"] = refs.claim(purl or f"target:{target.reference}")
    return component


def _component_type(package: Package) -> str:
    # an unknown executable is an application; everything else chainwarden catalogs is a library
    return "application" if package.ecosystem is Ecosystem.BINARY else "library"


def _os_component(distro: Distro, refs: _BomRefs) -> dict[str, Any]:
    component: dict[str, Any] = {
        "bom-ref": refs.claim(f"os:{distro.id}@{distro.version_id}"),
        "name": distro.id,
        "type": "operating-system",
    }
    if distro.version_id:
        component["version"] = distro.version_id
    if distro.pretty_name:
        component["description"] = distro.pretty_name
    if distro.codename:
        component["properties"] = [_property("distro-codename", distro.codename)]
    return component


def _property(name: str, value: str) -> dict[str, str]:
    return {"name": f"{PROPERTY_PREFIX}{name}", "value": value}


def _property_set(properties: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """Properties as the library writes every set it models: sorted, without repeats."""
    return [{"name": name, "value": value} for name, value in sorted({(p["name"], p["value"]) for p in properties})]


def _package_component(package: Package, bom_ref: str, licences: _LicenceCache) -> Placed:
    purl: str | None = package.purl or None
    if purl is not None and package.found_by not in CATALOGER_IDS:
        # chainwarden's catalogers write canonical purls (CATALOGER_IDS); anyone else's is normalised
        try:
            purl = canonical_purl(purl)
        except ValueError:
            purl = None  # a malformed purl is kept as a property rather than dropped with the package
    properties = [_property("found-by", package.found_by)]
    if purl is None and package.purl:
        properties.append(_property("purl", package.purl))
    layers = dict.fromkeys(loc.layer for loc in package.locations if loc.layer)
    properties.extend(_property("layer", layer) for layer in layers)
    if package.source_name:
        properties.append(_property("source-name", package.source_name))
        if package.source_version:
            properties.append(_property("source-version", package.source_version))
    if package.arch:
        properties.append(_property("arch", package.arch))
    if package.direct is not None:
        properties.append(_property("direct", str(package.direct).lower()))
    if package.scope is not None:
        properties.append(_property("scope", package.scope.value))
    if not package.pinned:
        properties.append(_property("pinned", "false"))

    hashes: dict[tuple[str, str], dict[str, str]] = {}
    for pin in package.hashes:
        entry = _hash(pin)
        if entry is None:
            properties.append(_property("hash", pin))
        else:
            hashes[entry["alg"], entry["content"]] = entry

    component: dict[str, Any] = {"bom-ref": bom_ref, "name": package.name, "type": _component_type(package)}
    if package.supplier:
        component["supplier"] = {"name": package.supplier}
    if package.version:
        component["version"] = package.version
    if purl is not None:
        component["purl"] = purl
    licenses = licences.get(package.licenses)
    if licenses:
        component["licenses"] = licenses
    if hashes:
        component["hashes"] = [hashes[key] for key in sorted(hashes)]
    if package.scope is not None:
        component["scope"] = _SCOPE[package.scope]
    # Written here as text, laid out for where it stands, as the writer would
    # lay out the same dicts: properties and file occurrences are most of an
    # image's SBOM, and building dicts only to have them walked again was the cost.
    members = {key: dumps_at(value, _MEMBER) for key, value in component.items()}
    members["properties"] = (
        "["
        + _ITEM
        + ("," + _ITEM).join(
            [
                "{" + _FIELD + '"name": ' + escape(name) + "," + _FIELD + '"value": ' + escape(value) + _ITEM + "}"
                for name, value in sorted({(p["name"], p["value"]) for p in properties})
            ]
        )
        + _MEMBER
        + "]"
    )
    occurrences = _occurrences(package, bom_ref)
    if occurrences is not None:
        members["evidence"] = "{" + _ITEM + '"occurrences": ' + occurrences + _MEMBER + "}"
    body = ("," + _MEMBER).join([escape(key) + ": " + members[key] for key in sorted(members)])
    return Placed("{" + _MEMBER + body + _COMPONENT + "}")


def canonical_purl(purl: str) -> str:
    """``PackageURL.from_string(purl).to_string()``: the purl as the library writes it.

    Qualifiers (``?arch=amd64&distro=debian-12``) repeat across an image's
    packages and were most of the parsing time, so each distinct qualifier
    string is normalised once; the library parses every part either way.

    Raises:
        ValueError: not a purl.
    """
    head, question, tail = purl.partition("?")
    if not question or "#" in tail:
        return str(PackageURL.from_string(purl).to_string())
    qualifiers = _canonical_qualifiers(tail)
    canonical_head = str(PackageURL.from_string(head).to_string())
    return f"{canonical_head}?{qualifiers}" if qualifiers else canonical_head


@functools.lru_cache(maxsize=1024)
def _canonical_qualifiers(qualifiers: str) -> str:
    canonical = PackageURL.from_string(f"pkg:generic/q?{qualifiers}").to_string()
    return str(canonical.partition("?")[2])


def _occurrences(package: Package, component_ref: str) -> str | None:
    """Where the package was found, then the files it owns, as the text of its
    ``evidence.occurrences``.

    Each occurrence gets a bom-ref derived from its component and path, and
    occurrences are ordered by it, as the library orders them: without one the
    order (and so the document's bytes) would change from run to run.
    """
    # Every bom-ref starts with the component's, so the order is that of what
    # follows it: "#found-at:…" before "#owns:…", each by path. As JSON escapes
    # character by character, each owned path is escaped once, for its bom-ref
    # and its location both.
    found: dict[str, str] = {}
    for loc in package.locations:
        suffix = f"#found-at:{loc.path}" + (f":{loc.line}" if loc.line is not None else "")
        if suffix not in found:
            context = f'"additionalContext": {escape(f"layer {loc.layer}")},{_OCCURRENCE}' if loc.layer else ""
            line = f'"line": {loc.line},{_OCCURRENCE}' if loc.line is not None else ""
            found[suffix] = (
                f'{{{_OCCURRENCE}{context}"bom-ref": {escape(component_ref + suffix)},{_OCCURRENCE}{line}'
                f'"location": {escape(loc.path)}{_FIELD}}}'
            )
    if not found and not package.files:
        return None
    owns = "{" + _OCCURRENCE + '"additionalContext": "owned file",' + _OCCURRENCE + '"bom-ref": '
    owns += escape(f"{component_ref}#owns:")[:-1]
    location = "," + _OCCURRENCE + '"location": '
    texts = [found[suffix] for suffix in sorted(found)]
    texts += [owns + path[1:] + location + path + _FIELD + "}" for path in map(escape, sorted(set(package.files)))]
    return "[" + _FIELD + ("," + _FIELD).join(texts) + _ITEM + "]"


class _LicenceCache:
    """A package's declared licences as CycloneDX JSON, worked out once per
    distinct declaration (an image has a few hundred)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def get(self, values: tuple[str, ...]) -> list[dict[str, Any]]:
        cached = self._seen.get(values)
        if cached is None:
            cached = self._seen[values] = _licenses(values) if values else []
        return cached


def _licenses(values: Iterable[str]) -> list[dict[str, Any]]:
    """Declared licences as the library's ``LicenseFactory`` makes them and its
    serialiser writes them: an SPDX id (its case fixed), else an SPDX expression,
    else a name."""
    # the SPDX licence list and expression grammar load in tens of milliseconds:
    # only for an inventory that declares licences
    from cyclonedx.spdx import fixup_id, is_expression

    ids: set[str] = set()
    names: set[str] = set()
    expressions: list[str] = []
    texts = [text for text in dict.fromkeys(value.strip() for value in values) if text]
    for text in texts:
        spdx_id = fixup_id(text)
        if spdx_id is not None:
            ids.add(spdx_id)
        elif len(texts) == 1 and is_expression(text):
            expressions.append(text)
        else:
            # CycloneDX allows an expression only as the sole license entry; with
            # several declared licenses, each one's text is kept as a named license.
            names.add(text)
    if expressions:
        return [{"expression": expressions[0]}]
    # ids before names, each in order: the order of the library's licence set
    return [{"license": {"id": spdx_id}} for spdx_id in sorted(ids)] + [
        {"license": {"name": name}} for name in sorted(names)
    ]


def _hash(pin: str) -> dict[str, str] | None:
    """A ``hashes`` entry for a digest pin, or None when it is no digest CycloneDX names."""
    parsed = parse_hash_pin(pin)
    if parsed is None or parsed[0] not in _HASH_ALGORITHMS:
        return None
    return {"alg": _HASH_ALGORITHMS[parsed[0]], "content": parsed[1]}


def primary_vulnerability_id(finding: Finding) -> str:
    """The id a vulnerability finding is listed under: a CVE when known (the
    other ids stay attached as references)."""
    return primary_id(finding.aliases) if finding.aliases else finding.title
