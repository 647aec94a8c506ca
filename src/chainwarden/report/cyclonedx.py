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

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.exception import CycloneDxException
from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.contact import OrganizationalEntity
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
from packageurl import PackageURL

from chainwarden.models import Ecosystem, Finding, Inventory, Package, Scope, Severity, TargetInfo
from chainwarden.models import primary_vulnerability_id as primary_id
from chainwarden.report.interface import ReporterError
from chainwarden.report.json_report import parse_hash_pin, tool_version

VULN_RULE_ID = "vuln"
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

    components_by_package: dict[int, Component] = {}
    if inventory.distro is not None:
        distro = inventory.distro
        os_component = Component(
            type=ComponentType.OPERATING_SYSTEM,
            name=distro.id,
            version=distro.version_id or None,
            description=distro.pretty_name or None,
            bom_ref=refs.claim(f"os:{distro.id}@{distro.version_id}"),
            properties=[Property(name=f"{PROPERTY_PREFIX}distro-codename", value=distro.codename)]
            if distro.codename
            else [],
        )
        bom.components.add(os_component)
    for index, package in enumerate(inventory.packages):
        component = _package_component(package, refs)
        components_by_package[index] = component
        bom.components.add(component)

    # The target contains every component. chainwarden does not resolve the
    # dependency graph between packages, so the per-package entries stay empty
    # rather than guessed.
    bom.register_dependency(root, list(bom.components))

    package_refs: dict[Package, str] = {}
    for index, component in components_by_package.items():
        package_refs.setdefault(inventory.packages[index], str(component.bom_ref.value))
    for vulnerability in _vulnerabilities(findings, package_refs, refs):
        bom.vulnerabilities.add(vulnerability)

    try:
        return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"
    except (CycloneDxException, ValueError) as exc:
        raise ReporterError(f"CycloneDX: cannot serialise the SBOM for {inventory.target.reference}: {exc}") from exc


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


def _package_component(package: Package, refs: _BomRefs) -> Component:
    purl: PackageURL | None
    try:
        purl = PackageURL.from_string(package.purl) if package.purl else None
    except ValueError:
        purl = None  # a malformed purl is kept as a property rather than dropped with the package
    properties = [Property(name=f"{PROPERTY_PREFIX}found-by", value=package.found_by)]
    if purl is None and package.purl:
        properties.append(Property(name=f"{PROPERTY_PREFIX}purl", value=package.purl))
    layers = dict.fromkeys(loc.layer for loc in package.locations if loc.layer)
    properties.extend(Property(name=f"{PROPERTY_PREFIX}layer", value=layer) for layer in layers)
    if package.source_name:
        properties.append(Property(name=f"{PROPERTY_PREFIX}source-name", value=package.source_name))
        if package.source_version:
            properties.append(Property(name=f"{PROPERTY_PREFIX}source-version", value=package.source_version))
    if package.arch:
        properties.append(Property(name=f"{PROPERTY_PREFIX}arch", value=package.arch))
    if package.direct is not None:
        properties.append(Property(name=f"{PROPERTY_PREFIX}direct", value=str(package.direct).lower()))
    if package.scope is not None:
        properties.append(Property(name=f"{PROPERTY_PREFIX}scope", value=package.scope.value))
    if not package.pinned:
        properties.append(Property(name=f"{PROPERTY_PREFIX}pinned", value="false"))

    hashes: list[HashType] = []
    for pin in package.hashes:
        hash_type = _hash_type(pin)
        if hash_type is None:
            properties.append(Property(name=f"{PROPERTY_PREFIX}hash", value=pin))
        else:
            hashes.append(hash_type)

    bom_ref = refs.claim(package.id)
    return Component(
        # an unknown executable is an application; everything else chainwarden catalogs is a library
        type=ComponentType.APPLICATION if package.ecosystem is Ecosystem.BINARY else ComponentType.LIBRARY,
        supplier=OrganizationalEntity(name=package.supplier) if package.supplier else None,
        name=package.name,
        version=package.version or None,
        purl=purl,
        bom_ref=bom_ref,
        licenses=_licenses(package.licenses),
        hashes=hashes,
        scope=_SCOPE.get(package.scope) if package.scope else None,
        properties=properties,
        evidence=_evidence(package, bom_ref),
    )


def _evidence(package: Package, component_ref: str) -> ComponentEvidence | None:
    """Where the package was found, then the files it owns, as occurrences.

    Each occurrence gets a bom-ref derived from its component and path: the
    library orders occurrences by bom-ref, and without one the order (and so
    the document's bytes) would change from run to run.
    """
    occurrences: dict[str, Occurrence] = {}
    for loc in package.locations:
        ref = f"{component_ref}#found-at:{loc.path}" + (f":{loc.line}" if loc.line is not None else "")
        occurrences.setdefault(
            ref,
            Occurrence(
                bom_ref=ref,
                location=loc.path,
                line=loc.line,
                additional_context=f"layer {loc.layer}" if loc.layer else None,
            ),
        )
    for path in package.files:
        ref = f"{component_ref}#owns:{path}"
        occurrences.setdefault(ref, Occurrence(bom_ref=ref, location=path, additional_context="owned file"))
    return ComponentEvidence(occurrences=occurrences.values()) if occurrences else None


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
        if finding.rule_id != VULN_RULE_ID:
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
