"""SARIF 2.1.0 for GitHub code scanning and any other SARIF consumer.

GitHub reads a few things from places the specification leaves open, and this
module puts them there:

* ``rules[].properties.security-severity`` (a numeric string) decides the
  alert's severity; GitHub reads it from the rule only, never from a result.
  So each vulnerability gets its own rule, ``vuln/<id>`` (SARIF's hierarchical
  rule ids, §3.49.3), scored from its CVSS vector when the finding carries one.
* ``partialFingerprints`` keep an alert the same alert across runs; ours hash
  the rule, the package and the location, never line text that moves.
* ``physicalLocation.artifactLocation`` is relative to ``%SRCROOT%`` for
  project files; paths inside an image stay absolute and the layer digest goes
  in the location's properties.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from chainwarden.models import ADVISORY_RULE_IDS, VULN_RULE_ID, Coverage, Finding, Location, Severity
from chainwarden.report.cyclonedx import primary_vulnerability_id
from chainwarden.report.interface import RuleInfo
from chainwarden.report.json_report import sort_findings

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "chainwarden/v1"
INFORMATION_URI = "https://github.com/chainwarden/chainwarden"

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
    Severity.UNKNOWN: "note",
}
# GitHub's bands: critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9.
# INFO and UNKNOWN get none, so GitHub falls back to the level.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}
_BASE_TAGS = ("security", "supply-chain")
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass
class _Rule:
    descriptor: dict[str, Any]
    index: int


def render_sarif(
    findings: Sequence[Finding],
    *,
    rules: Mapping[str, RuleInfo],
    tool_name: str = "chainwarden",
    tool_version: str,
    target: str,
    base_dir: Path | None = None,
    coverage: Coverage | None = None,
    artifact_uris: Mapping[str, str] | None = None,
) -> str:
    """Findings as a SARIF 2.1.0 log with one run.

    ``rules`` describes the rules by id; a finding whose rule is not in it gets
    a generic rule so the log stays valid. ``base_dir`` is the directory that
    ``%SRCROOT%`` stands for (usually the scanned project, or the repository
    root): relative finding paths are taken relative to it, and absolute paths
    under it are made relative. Paths inside an image are kept as they are.

    ``coverage`` goes into ``invocations[0]``: each skipped item becomes a
    ``toolExecutionNotifications`` entry with its reason, and a run that
    checked nothing says so in an error-level notification, so that an empty
    results list cannot pass for a clean one. ``artifact_uris`` maps a
    package purl to the URI a result without a file location points at (the
    target the package came from, e.g. ``pypi:requests``) instead of the
    whole target string.
    """
    table = _RuleTable(rules)
    for info in rules.values():
        table.add_info(info)
    results = [_result(finding, table, target, base_dir, artifact_uris) for finding in sort_findings(findings)]

    driver: dict[str, Any] = {
        "name": tool_name,
        "version": tool_version,
        "informationUri": INFORMATION_URI,
        "rules": table.descriptors(),
    }
    if re.fullmatch(r"\d+\.\d+\.\d+([-+].*)?", tool_version):
        driver["semanticVersion"] = tool_version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"{tool_name}/{_category(target)}/"},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"target": target},
    }
    if coverage is not None:
        run["invocations"] = [_invocation(coverage, base_dir)]
    if base_dir is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": _directory_uri(base_dir)}}
    log = {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


class _RuleTable:
    """The run's rules in order, with their indices; generates missing ones."""

    def __init__(self, infos: Mapping[str, RuleInfo]) -> None:
        self._infos = infos
        self._rules: dict[str, _Rule] = {}

    def descriptors(self) -> list[dict[str, Any]]:
        return [rule.descriptor for rule in self._rules.values()]

    def _add(self, descriptor: dict[str, Any]) -> _Rule:
        rule = _Rule(descriptor, len(self._rules))
        self._rules[descriptor["id"]] = rule
        return rule

    def add_info(self, info: RuleInfo) -> _Rule:
        if info.id in self._rules:
            return self._rules[info.id]
        return self._add(
            _descriptor(
                rule_id=info.id,
                name=info.name,
                short=info.short_description,
                full=info.short_description,
                help_text=info.help_text,
                help_markdown=info.help_text,
                severity=info.default_severity,
                help_uri=info.help_uri,
            )
        )

    def rule_for(self, finding: Finding) -> tuple[str, _Rule]:
        if finding.rule_id in ADVISORY_RULE_IDS:
            return self._vulnerability_rule(finding)
        if finding.rule_id in self._rules:
            return finding.rule_id, self._rules[finding.rule_id]
        info = self._infos.get(finding.rule_id)
        if info is not None:
            return finding.rule_id, self.add_info(info)
        rule = self._add(
            _descriptor(
                rule_id=finding.rule_id,
                name=_pascal_case(finding.rule_id),
                short=f"chainwarden rule {finding.rule_id}",
                full=f"Findings of the chainwarden rule {finding.rule_id}.",
                help_text=f"See the finding's message and remediation for {finding.rule_id}.",
                help_markdown=f"See the finding's message and remediation for `{finding.rule_id}`.",
                severity=finding.severity,
                help_uri=None,
            )
        )
        return finding.rule_id, rule

    def _vulnerability_rule(self, finding: Finding) -> tuple[str, _Rule]:
        vuln_id = primary_vulnerability_id(finding)
        rule_id = f"{finding.rule_id}/{vuln_id}"
        existing = self._rules.get(rule_id)
        if existing is not None:
            _raise_severity(existing.descriptor, finding)
            return rule_id, existing
        base = self._infos.get(finding.rule_id)
        aliases = sorted(finding.aliases - {vuln_id})
        lines = [finding.description or finding.title]
        if aliases:
            lines.append(f"Also known as: {', '.join(aliases)}.")
        if base is not None:
            lines.append(base.help_text)
        markdown = [f"**{vuln_id}**: {finding.title}"]
        if finding.description:
            markdown.extend(["", finding.description])
        if aliases:
            markdown.extend(["", f"Also known as: {', '.join(aliases)}."])
        if finding.references:
            markdown.extend(["", "References:", *(f"- <{url}>" for url in finding.references)])
        if base is not None:
            markdown.extend(["", base.help_text])
        descriptor = _descriptor(
            rule_id=rule_id,
            name=base.name if base is not None else "KnownVulnerability",
            short=f"{vuln_id}: {finding.title}",
            full=finding.description or finding.title,
            help_text="\n".join(line for line in lines if line),
            help_markdown="\n".join(markdown).strip(),
            severity=finding.severity,
            help_uri=finding.references[0] if finding.references else _advisory_uri(vuln_id),
            security_severity=_security_severity(finding),
            extra_tags=("vulnerability",),
        )
        return rule_id, self._add(descriptor)


def _descriptor(
    *,
    rule_id: str,
    name: str,
    short: str,
    full: str,
    help_text: str,
    help_markdown: str,
    severity: Severity,
    help_uri: str | None,
    security_severity: str | None = None,
    extra_tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    properties: dict[str, Any] = {"tags": [*_BASE_TAGS, *extra_tags]}
    if security_severity is None:
        security_severity = _SECURITY_SEVERITY.get(severity)
    if security_severity is not None:
        properties["security-severity"] = security_severity
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": properties,
    }
    if help_uri:
        descriptor["helpUri"] = help_uri
    return descriptor


def _raise_severity(descriptor: dict[str, Any], finding: Finding) -> None:
    """A rule shared by several findings is as severe as the worst of them."""
    current = descriptor["properties"].get("security-severity")
    candidate = _security_severity(finding)
    if candidate is not None and (current is None or float(candidate) > float(current)):
        descriptor["properties"]["security-severity"] = candidate
        descriptor["defaultConfiguration"]["level"] = _LEVELS[finding.severity]


_BANDS = {
    Severity.CRITICAL: (9.0, 10.0),
    Severity.HIGH: (7.0, 8.9),
    Severity.MEDIUM: (4.0, 6.9),
    Severity.LOW: (0.1, 3.9),
}


def _security_severity(finding: Finding) -> str | None:
    """GitHub's numeric severity: the CVSS score when it agrees with the finding's severity.

    The finding's severity is chainwarden's verdict (it may come from a
    distribution's own rating); a CVSS score from another band would make
    GitHub disagree with every other report, so it is used only to refine.
    """
    band = _BANDS.get(finding.severity)
    if band is None:
        return None
    score = _cvss_score(finding)
    if score is not None and band[0] <= score <= band[1]:
        return f"{score:.1f}"
    return _SECURITY_SEVERITY[finding.severity]


def _cvss_score(finding: Finding) -> float | None:
    """The highest CVSS v3/v4 base score among the vectors in the evidence."""
    from cvss import CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    best: float | None = None
    for item in finding.evidence:
        try:
            if item.startswith("CVSS:4.0/"):
                score = float(CVSS4(item).base_score)
            elif item.startswith(("CVSS:3.0/", "CVSS:3.1/")):
                score = float(CVSS3(item).base_score)
            else:
                continue
        except CVSSError:
            continue
        best = score if best is None else max(best, score)
    return best


def _advisory_uri(vuln_id: str) -> str:
    return f"https://osv.dev/vulnerability/{quote(vuln_id)}"


def _pascal_case(rule_id: str) -> str:
    return "".join(word.capitalize() for word in _WORD.findall(rule_id)) or "Rule"


def _category(target: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", target).strip("-") or "target"


def _directory_uri(directory: Path) -> str:
    uri = directory.absolute().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _invocation(coverage: Coverage, base_dir: Path | None) -> dict[str, Any]:
    """SARIF ``invocation``: what was checked, and a notification per skipped item (§3.20.21)."""
    notifications: list[dict[str, Any]] = []
    if coverage.empty:
        notifications.append(
            {
                "level": "error",
                "message": {"text": "Nothing was checked: an empty result list here does not mean clean."},
                "descriptor": {"id": "nothing-checked"},
            }
        )
    for skipped in coverage.skipped:
        notification: dict[str, Any] = {
            "level": "warning",
            "message": {"text": f"Skipped {skipped.what}: {skipped.reason}"},
            "descriptor": {"id": "skipped"},
        }
        if skipped.location is not None:
            notification["locations"] = [_location(skipped.location, base_dir)]
        notifications.append(notification)
    return {
        "executionSuccessful": True,
        "toolExecutionNotifications": notifications,
        "properties": {
            "checked": {unit: count for unit, count in coverage.counts},
            "summary": coverage.describe(),
        },
    }


def _result(
    finding: Finding,
    table: _RuleTable,
    target: str,
    base_dir: Path | None,
    artifact_uris: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    rule_id, rule = table.rule_for(finding)
    package = finding.package
    location = finding.location or (package.locations[0] if package and package.locations else None)

    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule.index,
        "level": _LEVELS[finding.severity],
        "message": {"text": _message(finding, rule_id)},
    }
    if location is not None:
        result["locations"] = [_location(location, base_dir)]
    else:
        # GitHub drops results without a location; the target the package came
        # from (or the target itself) is the most honest place for a finding
        # about a whole package, image or project.
        where = (artifact_uris or {}).get(package.purl, target) if package is not None else target
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": _uri(where)}}}]
    result["partialFingerprints"] = {FINGERPRINT_KEY: _fingerprint(finding, rule_id, location)}

    suppression = _vex_suppression(finding)
    if suppression is not None:
        result["suppressions"] = [suppression]

    properties: dict[str, Any] = {"chainwarden-rule": finding.rule_id, "severity": finding.severity.value}
    if package is not None:
        properties["package"] = {
            "name": package.name,
            "version": package.version,
            "purl": package.purl,
            "ecosystem": package.ecosystem.value,
        }
    if finding.aliases:
        properties["aliases"] = sorted(finding.aliases)
    if finding.fixed_versions:
        properties["fixedVersions"] = list(finding.fixed_versions)
    if finding.evidence:
        properties["evidence"] = list(finding.evidence)
    if finding.remediation:
        properties["remediation"] = finding.remediation
    if finding.references:
        properties["references"] = list(finding.references)
    if finding.tags:
        properties["tags"] = sorted(finding.tags)
    result["properties"] = properties
    return result


# VEX statuses that say "nothing to do here": the result is kept, but
# suppressed, so that a consumer such as GitHub does not raise an alert.
_SUPPRESSING_VEX = frozenset({"not_affected", "fixed", "resolved", "false_positive"})


def _vex_suppression(finding: Finding) -> dict[str, Any] | None:
    status = justification = None
    for tag in finding.tags:
        key, _, value = tag.partition(":")
        if key == "vex":
            status = value
        elif key == "vex-justification":
            justification = value
    if status not in _SUPPRESSING_VEX:
        return None
    text = f"VEX: {status}" + (f" ({justification})" if justification else "")
    return {"kind": "external", "status": "accepted", "justification": text}


def _message(finding: Finding, rule_id: str) -> str:
    package = finding.package
    parts = []
    if package is not None:
        version = f" {package.version}" if package.version else ""
        parts.append(f"{package.name}{version} ({package.ecosystem.value}): {finding.title}")
    else:
        parts.append(finding.title)
    if finding.rule_id in ADVISORY_RULE_IDS:
        parts[0] = f"{rule_id.split('/', 1)[1]} in {parts[0]}"
    if finding.fixed_versions:
        parts.append(f"Fixed in {', '.join(finding.fixed_versions)}.")
    elif finding.rule_id == VULN_RULE_ID:
        parts.append("No fixed version is known.")
    if finding.remediation:
        parts.append(finding.remediation)
    text = " ".join(part if part.endswith((".", "!", "?")) else part + "." for part in parts)
    return text


def _location(location: Location, base_dir: Path | None) -> dict[str, Any]:
    artifact: dict[str, Any]
    path = location.path
    if location.layer is not None:
        # A path inside an image: no source file to link to, keep it absolute.
        artifact = {"uri": _uri(path)}
    elif PurePosixPath(path).is_absolute() or Path(path).is_absolute():
        relative = _relative_to(Path(path), base_dir)
        artifact = {"uri": _uri(relative), "uriBaseId": SRCROOT} if relative is not None else {"uri": _uri(path)}
    else:
        artifact = {"uri": _uri(PurePosixPath(path).as_posix()), "uriBaseId": SRCROOT}

    physical: dict[str, Any] = {"artifactLocation": artifact}
    if location.line is not None and location.line >= 1:
        region: dict[str, Any] = {"startLine": location.line}
        if location.column is not None and location.column >= 1:
            region["startColumn"] = location.column
        physical["region"] = region
    result: dict[str, Any] = {"physicalLocation": physical}
    if location.layer is not None:
        result["properties"] = {"layer": location.layer, "pathInImage": path}
    return result


def _relative_to(path: Path, base_dir: Path | None) -> str | None:
    if base_dir is None:
        return None
    try:
        return path.relative_to(base_dir.absolute()).as_posix()
    except ValueError:
        return None


def _uri(path: str) -> str:
    # A URI reference: keep "/" and percent-encode the rest (spaces, "%", "#", non-ASCII).
    return quote(path, safe="/@:+,;=!$&'()*~-._")


def _fingerprint(finding: Finding, rule_id: str, location: Location | None) -> str:
    package = finding.package
    # The layer digest is left out on purpose: rebuilding an image changes it,
    # and the alert for the same package at the same path must survive that.
    parts = [
        rule_id,
        package.purl if package else "",
        location.path if location else "",
        "" if package or location else finding.title,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
