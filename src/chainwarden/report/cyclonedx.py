"""CycloneDX 1.6 JSON: the inventory as an SBOM, vulnerability findings as VEX.

Built with cyclonedx-python-lib, which owns the schema and its serialisation;
this module only maps chainwarden's records onto the CycloneDX model.

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
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.exception import CycloneDxException
from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisState,
)
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema.schema import SchemaVersion1Dot6
from packageurl import PackageURL

from chainwarden._internal.jsontext import LazyList, Prerendered, escape, iter_indented
from chainwarden.models import (
    ADVISORY_RULE_IDS,
    Distro,
    Ecosystem,
    Finding,
    Inventory,
    Package,
    Scope,
    Severity,
    TargetInfo,
)
from chainwarden.models import primary_vulnerability_id as primary_id
from chainwarden.report.interface import ReporterError
from chainwarden.report.json_report import parse_hash_pin, tool_version

PROPERTY_PREFIX = "chainwarden:"

_SEVERITY = {
    Severity.UNKNOWN: VulnerabilitySeverity.UNKNOWN,
    Severity.INFO: VulnerabilitySeverity.INFO,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
}

_SCOPE = {
    Scope.PROD: ComponentScope.REQUIRED,
    Scope.OPTIONAL: ComponentScope.OPTIONAL,
    # "excluded" is CycloneDX's word for test/build-only components.
    Scope.DEV: ComponentScope.EXCLUDED,
}

# VEX states as chainwarden tags them: CycloneDX's own names plus the OpenVEX /
# CSAF status names, so a statement imported from either keeps its meaning.
_VEX_STATES = {
    "not_affected": ImpactAnalysisState.NOT_AFFECTED,
    "affected": ImpactAnalysisState.EXPLOITABLE,
    "exploitable": ImpactAnalysisState.EXPLOITABLE,
    "fixed": ImpactAnalysisState.RESOLVED,
    "resolved": ImpactAnalysisState.RESOLVED,
    "under_investigation": ImpactAnalysisState.IN_TRIAGE,
    "in_triage": ImpactAnalysisState.IN_TRIAGE,
    "false_positive": ImpactAnalysisState.FALSE_POSITIVE,
}
# OpenVEX justifications mapped as CISA's "VEX status justifications" maps them.
_VEX_JUSTIFICATIONS = {
    **{j.value: j for j in ImpactAnalysisJustification},
    "component_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_in_execute_path": ImpactAnalysisJustification.CODE_NOT_REACHABLE,
    "vulnerable_code_cannot_be_controlled_by_adversary": ImpactAnalysisJustification.REQUIRES_ENVIRONMENT,
    "inline_mitigations_already_exist": ImpactAnalysisJustification.PROTECTED_BY_MITIGATING_CONTROL,
}
_UNAFFECTED_STATES = {
    ImpactAnalysisState.NOT_AFFECTED,
    ImpactAnalysisState.RESOLVED,
    ImpactAnalysisState.FALSE_POSITIVE,
}

_HASH_ALGORITHMS = {
    "md5": HashAlgorithm.MD5,
    "sha1": HashAlgorithm.SHA_1,
    "sha256": HashAlgorithm.SHA_256,
    "sha384": HashAlgorithm.SHA_384,
    "sha512": HashAlgorithm.SHA_512,
    "sha3-256": HashAlgorithm.SHA3_256,
    "sha3-512": HashAlgorithm.SHA3_512,
}

# Where each advisory namespace publishes its records, for ``source``/``references``.
_ADVISORY_SOURCES: tuple[tuple[str, str, str], ...] = (
    ("CVE-", "NVD", "https://nvd.nist.gov/vuln/detail/{id}"),
    ("GHSA-", "GitHub Advisories", "https://github.com/advisories/{id}"),
    ("PYSEC-", "PyPA Advisory Database", "https://osv.dev/vulnerability/{id}"),
    ("DSA-", "Debian Security Tracker", "https://security-tracker.debian.org/tracker/{id}"),
    ("DLA-", "Debian Security Tracker", "https://security-tracker.debian.org/tracker/{id}"),
    ("DEBIAN-", "Debian Security Tracker", "https://osv.dev/vulnerability/{id}"),
    ("MAL-", "OpenSSF Malicious Packages", "https://osv.dev/vulnerability/{id}"),
)
# "registry.example.com", "localhost:5000": a first path segment that names a
# registry, as opposed to a local path such as "./build/image".
_REGISTRY_HOST = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:\d+)?$")
_OSV_SOURCE = ("OSV", "https://osv.dev/vulnerability/{id}")


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
        ReporterError: the CycloneDX library rejected the document.
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
    lifecycles = [PredefinedLifecycle(LifecyclePhase.POST_BUILD)] if inventory.target.kind != "dir" else []
    metadata = BomMetaData(
        timestamp=timestamp or datetime.now(UTC),
        component=root,
        lifecycles=lifecycles,
        properties=_target_properties(inventory),
    )
    metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="chainwarden", version=tool_version(), bom_ref="chainwarden")
    )
    bom = Bom(serial_number=serial or uuid.uuid4(), metadata=metadata)

    # Packages and their file evidence are most of an image's SBOM (2,000
    # components, 50,000 occurrences): built through the library's model they
    # took 60x the JSON report's time (sorted sets, quadratic dependency
    # registration), so chainwarden writes them itself, in the order and shape
    # the library gives them (a test holds the two to the same output), and
    # one at a time. The library still owns the rest: metadata, vulnerabilities, VEX.
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
    for vulnerability in _vulnerabilities(findings, package_refs, refs):
        bom.vulnerabilities.add(vulnerability)

    try:
        document: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    except (CycloneDxException, ValueError) as exc:
        raise ReporterError(f"CycloneDX: cannot serialise the SBOM for {inventory.target.reference}: {exc}") from exc

    def components() -> Iterator[dict[str, Any]]:
        licences = _LicenceCache()
        for _, package, bom_ref in placed:
            if package is not None:
                yield _package_component(package, bom_ref, licences)
            elif os_component is not None:
                yield os_component

    # The target contains every component. chainwarden does not resolve the
    # dependency graph between packages, so the per-package entries stay empty
    # rather than guessed.
    component_refs = sorted(bom_ref for _, _, bom_ref in placed)
    root_dependency: dict[str, Any] = {"ref": str(root.bom_ref.value)}
    if component_refs:
        root_dependency["dependsOn"] = component_refs
        document["components"] = LazyList(components())
    document["dependencies"] = sorted(
        [root_dependency, *({"ref": ref} for ref in component_refs)], key=lambda dependency: dependency["ref"]
    )
    # The library writes the document's own keys last, after the sorted body.
    core = {key: document.pop(key) for key in ("$schema", "bomFormat", "specVersion")}
    yield from iter_indented(document, trailing=core)
    yield "\n"


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


def _root_component(target: TargetInfo, refs: _BomRefs) -> Component:
    properties = [Property(name=f"{PROPERTY_PREFIX}target-kind", value=target.kind)]
    if target.kind == "dir":
        return Component(
            type=ComponentType.APPLICATION,
            name=target.reference,
            bom_ref=refs.claim(f"target:{target.reference}"),
            properties=properties,
        )
    name, repository, tag = _image_name(target)
    digest = target.digest or target.config_digest
    hashes = []
    purl: PackageURL | None = None
    if digest:
        digest_hash = _hash_type(digest)
        if digest_hash is not None:
            hashes.append(digest_hash)
        qualifiers = {}
        # A repository_url is only meaningful for registry-style names; a local
        # layout path would be noise in the purl.
        if repository and _REGISTRY_HOST.match(repository.split("/", 1)[0]) and "/" in repository:
            qualifiers["repository_url"] = repository
        if tag:
            qualifiers["tag"] = tag
        if target.platform:
            qualifiers["arch"] = target.platform.split("/")[-1]
        purl = PackageURL(type="oci", name=name, version=digest, qualifiers=qualifiers)
    if target.digest:
        properties.append(Property(name=f"{PROPERTY_PREFIX}image-digest", value=target.digest))
    if target.config_digest:
        properties.append(Property(name=f"{PROPERTY_PREFIX}image-id", value=target.config_digest))
    if target.platform:
        properties.append(Property(name=f"{PROPERTY_PREFIX}platform", value=target.platform))
    properties.extend(Property(name=f"{PROPERTY_PREFIX}repo-tag", value=t) for t in target.repo_tags)
    return Component(
        type=ComponentType.CONTAINER,
        name=name,
        version=tag or digest,
        purl=purl,
        hashes=hashes,
        bom_ref=refs.claim(purl.to_string() if purl else f"target:{target.reference}"),
        properties=properties,
    )


def _target_properties(inventory: Inventory) -> list[Property]:
    properties = [
        Property(name=f"{PROPERTY_PREFIX}target", value=inventory.target.reference),
    ]
    for number, layer in enumerate(inventory.target.layers):
        properties.append(Property(name=f"{PROPERTY_PREFIX}layer:{number}", value=layer.digest))
    for skipped in inventory.skipped:
        where = f" at {skipped.location}" if skipped.location else ""
        properties.append(Property(name=f"{PROPERTY_PREFIX}skipped", value=f"{skipped.what}{where}: {skipped.reason}"))
    return properties


def _component_type(package: Package) -> str:
    # an unknown executable is an application; everything else chainwarden catalogs is a library
    kind = ComponentType.APPLICATION if package.ecosystem is Ecosystem.BINARY else ComponentType.LIBRARY
    return str(kind.value)


def _os_component(distro: Distro, refs: _BomRefs) -> dict[str, Any]:
    component: dict[str, Any] = {
        "bom-ref": refs.claim(f"os:{distro.id}@{distro.version_id}"),
        "name": distro.id,
        "type": ComponentType.OPERATING_SYSTEM.value,
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


def _package_component(package: Package, bom_ref: str, licences: _LicenceCache) -> dict[str, Any]:
    purl: str | None
    try:
        purl = canonical_purl(package.purl) if package.purl else None
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
        parsed = parse_hash_pin(pin)
        if parsed is None or parsed[0] not in _HASH_ALGORITHMS:
            properties.append(_property("hash", pin))
        else:
            alg = _HASH_ALGORITHMS[parsed[0]].value
            hashes[alg, parsed[1]] = {"alg": alg, "content": parsed[1]}

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
        component["scope"] = _SCOPE[package.scope].value
    # Properties, like every set the library models, come out sorted and without repeats.
    component["properties"] = [
        {"name": name, "value": value} for name, value in sorted({(p["name"], p["value"]) for p in properties})
    ]
    occurrences = _occurrences(package, bom_ref)
    if occurrences is not None:
        component["evidence"] = {"occurrences": occurrences}
    return component


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


def _occurrences(package: Package, component_ref: str) -> Prerendered | None:
    """Where the package was found, then the files it owns, as occurrences.

    Each occurrence gets a bom-ref derived from its component and path, and
    occurrences are ordered by it, as the library orders them: without one the
    order (and so the document's bytes) would change from run to run. Written
    as text directly: they are most of an image's SBOM.
    """
    occurrences: dict[str, str] = {}
    for loc in package.locations:
        ref = f"{component_ref}#found-at:{loc.path}" + (f":{loc.line}" if loc.line is not None else "")
        if ref not in occurrences:
            context = f'"additionalContext": {escape(f"layer {loc.layer}")},\n    ' if loc.layer else ""
            line = f'"line": {loc.line},\n    ' if loc.line is not None else ""
            occurrences[ref] = (
                f'{{\n    {context}"bom-ref": {escape(ref)},\n    {line}"location": {escape(loc.path)}\n  }}'
            )
    for path in package.files:
        ref = f"{component_ref}#owns:{path}"
        if ref not in occurrences:
            occurrences[ref] = (
                f'{{\n    "additionalContext": "owned file",\n    "bom-ref": {escape(ref)},\n'
                f'    "location": {escape(path)}\n  }}'
            )
    if not occurrences:
        return None
    return Prerendered("[\n  " + ",\n  ".join([occurrences[ref] for ref in sorted(occurrences)]) + "\n]")


class _LicenceCache:
    """A package's declared licences as CycloneDX JSON, serialised by the
    library once per distinct declaration (an image has a few hundred)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], list[Any]] = {}

    def get(self, values: tuple[str, ...]) -> list[Any]:
        cached = self._seen.get(values)
        if cached is None:
            licenses = _licenses(values)
            cached = []
            if licenses:
                holder = Component(type=ComponentType.LIBRARY, name="licences", licenses=licenses)
                cached = json.loads(holder.as_json(view_=SchemaVersion1Dot6))["licenses"]  # type: ignore[attr-defined]
            self._seen[values] = cached
        return cached


def _licenses(values: Iterable[str]) -> list[License]:
    factory = LicenseFactory()
    licenses = [factory.make_from_string(value) for value in dict.fromkeys(v.strip() for v in values) if value]
    # CycloneDX allows an expression only as the sole license entry; with
    # several declared licenses, keep each one's text as a named license.
    if len(licenses) > 1 and any(isinstance(lic, LicenseExpression) for lic in licenses):
        licenses = [
            DisjunctiveLicense(name=lic.value) if isinstance(lic, LicenseExpression) else lic for lic in licenses
        ]
    return licenses


def _hash_type(pin: str) -> HashType | None:
    parsed = parse_hash_pin(pin)
    if parsed is None or parsed[0] not in _HASH_ALGORITHMS:
        return None
    return HashType(alg=_HASH_ALGORITHMS[parsed[0]], content=parsed[1])


def primary_vulnerability_id(finding: Finding) -> str:
    """The id a vulnerability finding is listed under: a CVE when known (the
    other ids stay attached as references)."""
    return primary_id(finding.aliases) if finding.aliases else finding.title


def _advisory_source(vuln_id: str) -> VulnerabilitySource:
    for prefix, name, url in _ADVISORY_SOURCES:
        if vuln_id.startswith(prefix):
            return VulnerabilitySource(name=name, url=XsUri(url.format(id=vuln_id)))
    name, url = _OSV_SOURCE
    return VulnerabilitySource(name=name, url=XsUri(url.format(id=vuln_id)))


def _vex(finding: Finding) -> tuple[ImpactAnalysisState | None, ImpactAnalysisJustification | None]:
    state: ImpactAnalysisState | None = None
    justification: ImpactAnalysisJustification | None = None
    for tag in sorted(finding.tags):
        key, _, value = tag.partition(":")
        if key == "vex" and value in _VEX_STATES:
            state = _VEX_STATES[value]
        elif key == "vex-justification" and value in _VEX_JUSTIFICATIONS:
            justification = _VEX_JUSTIFICATIONS[value]
    return state, justification


@dataclass
class _VulnGroup:
    """Findings of one vulnerability sharing one VEX analysis."""

    vuln_id: str
    state: ImpactAnalysisState | None
    justification: ImpactAnalysisJustification | None
    findings: list[Finding] = field(default_factory=list)


def _vulnerabilities(
    findings: Sequence[Finding], package_refs: dict[Package, str], refs: _BomRefs
) -> list[Vulnerability]:
    groups: dict[tuple[str, str, str], _VulnGroup] = {}
    for finding in findings:
        if finding.rule_id not in ADVISORY_RULE_IDS:
            continue
        vuln_id = primary_vulnerability_id(finding)
        state, justification = _vex(finding)
        key = (vuln_id, state.value if state else "", justification.value if justification else "")
        groups.setdefault(key, _VulnGroup(vuln_id, state, justification)).findings.append(finding)

    vulnerabilities = []
    for key in sorted(groups):
        group = groups[key]
        vulnerabilities.append(_vulnerability(group, package_refs, refs))
    return vulnerabilities


def _vulnerability(group: _VulnGroup, package_refs: dict[Package, str], refs: _BomRefs) -> Vulnerability:
    findings = group.findings
    worst = max(findings, key=lambda f: f.severity.rank)
    aliases = sorted({alias for f in findings for alias in f.aliases} - {group.vuln_id})
    urls = sorted({url for f in findings for url in f.references})
    status = (
        ImpactAnalysisAffectedStatus.UNAFFECTED
        if group.state in _UNAFFECTED_STATES
        else ImpactAnalysisAffectedStatus.AFFECTED
    )

    affects: dict[str, BomTarget] = {}
    advice: list[str] = []
    for finding in findings:
        package = finding.package
        if package is None:
            continue
        ref = package_refs.get(package)
        if ref is None:
            # The finding names a package the inventory does not hold (e.g. a
            # lockfile entry scanned without an SBOM): reference it by purl.
            ref = package.purl or package.id
        if ref not in affects:
            versions = [BomTargetVersionRange(version=package.version, status=status)] if package.version else []
            affects[ref] = BomTarget(ref=ref, versions=versions)
        if group.state in _UNAFFECTED_STATES:
            continue  # nothing to do about a vulnerability that does not apply
        if finding.remediation:
            advice.append(finding.remediation)
        elif finding.fixed_versions:
            advice.append(f"Upgrade {package.name} to {' or '.join(finding.fixed_versions)} or later.")

    ratings = [VulnerabilityRating(severity=_SEVERITY[worst.severity], method=VulnerabilityScoreSource.OTHER)]
    for finding in findings:
        ratings.extend(_cvss_ratings(finding))

    analysis = None
    if group.state is not None or group.justification is not None:
        analysis = VulnerabilityAnalysis(state=group.state, justification=group.justification)

    ref_suffix = f"#{group.state.value}" if group.state else ""
    tags = sorted({tag for f in findings for tag in f.tags})
    evidence = dict.fromkeys(item for f in findings for item in f.evidence)
    properties = [Property(name=f"{PROPERTY_PREFIX}tag", value=tag) for tag in tags]
    properties.extend(Property(name=f"{PROPERTY_PREFIX}evidence", value=item) for item in evidence)
    return Vulnerability(
        bom_ref=refs.claim(f"vuln:{group.vuln_id}{ref_suffix}"),
        id=group.vuln_id,
        source=_advisory_source(group.vuln_id),
        references=[VulnerabilityReference(id=alias, source=_advisory_source(alias)) for alias in aliases],
        ratings=ratings,
        description=worst.title,
        detail=worst.description or None,
        recommendation=" ".join(dict.fromkeys(advice)) or None,
        advisories=[],
        analysis=analysis,
        affects=list(affects.values()),
        properties=properties + [Property(name=f"{PROPERTY_PREFIX}reference", value=url) for url in urls],
    )


_CVSS_METHODS = {
    "CVSS:3.0/": VulnerabilityScoreSource.CVSS_V3,
    "CVSS:3.1/": VulnerabilityScoreSource.CVSS_V3_1,
    "CVSS:4.0/": VulnerabilityScoreSource.CVSS_V4,
}


def _cvss_ratings(finding: Finding) -> list[VulnerabilityRating]:
    """A rating per CVSS vector the finding carries in its evidence, scored with ``cvss``."""
    ratings = []
    for item in finding.evidence:
        for prefix, method in _CVSS_METHODS.items():
            if item.startswith(prefix):
                score = _cvss_score(item)
                ratings.append(
                    VulnerabilityRating(
                        score=score,
                        severity=_severity_from_score(score) if score is not None else None,
                        method=method,
                        vector=item,
                    )
                )
    return ratings


def _cvss_score(vector: str) -> Decimal | None:
    from cvss import CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    try:
        if vector.startswith("CVSS:4.0/"):
            return Decimal(str(CVSS4(vector).base_score))
        return Decimal(str(CVSS3(vector).base_score))
    except CVSSError:
        return None


def _severity_from_score(score: Decimal) -> VulnerabilitySeverity:
    if score >= Decimal("9.0"):
        return VulnerabilitySeverity.CRITICAL
    if score >= Decimal("7.0"):
        return VulnerabilitySeverity.HIGH
    if score >= Decimal("4.0"):
        return VulnerabilitySeverity.MEDIUM
    if score > 0:
        return VulnerabilitySeverity.LOW
    return VulnerabilitySeverity.NONE
