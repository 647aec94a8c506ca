"""CycloneDX ``vulnerabilities``: advisory findings, and their VEX analysis, through cyclonedx-python-lib.

The rest of the CycloneDX document is written by :mod:`chainwarden.report.cyclonedx`
itself; vulnerabilities still go through the library's model, which owns their
many ordering rules (ratings, references, affected versions). It is a module of
its own so that the library is imported only by a document that has vulnerabilities
to list: an SBOM without findings never pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cyclonedx.exception import CycloneDxException
from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisState,
)
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

from chainwarden.models import ADVISORY_RULE_IDS, Finding, Package, Severity, primary_vulnerability_id
from chainwarden.report.interface import ReporterError

__all__ = ["vulnerabilities_json"]

_PROPERTY_PREFIX = "chainwarden:"

_SEVERITY = {
    Severity.UNKNOWN: VulnerabilitySeverity.UNKNOWN,
    Severity.INFO: VulnerabilitySeverity.INFO,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
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
_OSV_SOURCE = ("OSV", "https://osv.dev/vulnerability/{id}")


def vulnerabilities_json(
    findings: Sequence[Finding], package_refs: dict[Package, str], claim: Callable[[str], str]
) -> list[dict[str, Any]]:
    """The document's ``vulnerabilities``, as the library writes them (``[]`` when none).

    ``package_refs`` gives each inventoried package's bom-ref; ``claim`` hands out
    a bom-ref unique within the document.

    Raises:
        ReporterError: the library rejected a vulnerability.
    """
    vulnerabilities = _vulnerabilities(findings, package_refs, claim)
    if not vulnerabilities:
        return []
    try:
        document = json.loads(JsonV1Dot6(Bom(vulnerabilities=vulnerabilities)).output_as_string())
    except (CycloneDxException, ValueError) as exc:
        raise ReporterError(f"CycloneDX: cannot serialise the vulnerabilities: {exc}") from exc
    listed: list[dict[str, Any]] = document.get("vulnerabilities", [])
    return listed


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
    findings: Sequence[Finding], package_refs: dict[Package, str], claim: Callable[[str], str]
) -> list[Vulnerability]:
    groups: dict[tuple[str, str, str], _VulnGroup] = {}
    for finding in findings:
        if finding.rule_id not in ADVISORY_RULE_IDS:
            continue
        vuln_id = primary_vulnerability_id(finding.aliases) if finding.aliases else finding.title
        state, justification = _vex(finding)
        key = (vuln_id, state.value if state else "", justification.value if justification else "")
        groups.setdefault(key, _VulnGroup(vuln_id, state, justification)).findings.append(finding)
    return [_vulnerability(groups[key], package_refs, claim) for key in sorted(groups)]


def _vulnerability(group: _VulnGroup, package_refs: dict[Package, str], claim: Callable[[str], str]) -> Vulnerability:
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
    properties = [Property(name=f"{_PROPERTY_PREFIX}tag", value=tag) for tag in tags]
    properties.extend(Property(name=f"{_PROPERTY_PREFIX}evidence", value=item) for item in evidence)
    return Vulnerability(
        bom_ref=claim(f"vuln:{group.vuln_id}{ref_suffix}"),
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
        properties=properties + [Property(name=f"{_PROPERTY_PREFIX}reference", value=url) for url in urls],
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
