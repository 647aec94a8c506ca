"""Update review: what changed between two versions of one package, and should it worry you?

The event-stream pattern is the model: a patch or minor release that suddenly
adds an install hook, network egress or obfuscated code, published by someone
new. :func:`diff_artifacts` compares the heuristic signals, dependencies,
files and (for npm) the packument's maintainers of the two versions, and
returns findings plus an overall verdict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainwarden.analyzers.heuristics import analyze_artifact
from chainwarden.analyzers.heuristics.common import RULES, Kind, Signal
from chainwarden.analyzers.heuristics.javascript import parse_package_json
from chainwarden.analyzers.packages import PackageArtifact
from chainwarden.analyzers.registry_client import RegistryClient, RegistryClientError, npm_maintainers, npm_publisher
from chainwarden.analyzers.typosquat import TyposquatDetector, bare_package
from chainwarden.models import Ecosystem, Finding, Location, Package, RuleId, Severity, Skipped, max_severity

RULE_NEW_HOOK: Final = RuleId("update-new-install-hook")
RULE_CHANGED_HOOK: Final = RuleId("update-changed-install-hook")
RULE_NEW_DEPENDENCY: Final = RuleId("update-new-dependency")
RULE_NEW_CAPABILITY: Final = RuleId("update-new-capability")
RULE_NEW_THREAT: Final = RuleId("update-new-threat")
RULE_NEW_OBFUSCATED: Final = RuleId("update-new-obfuscated-file")
RULE_MAINTAINERS: Final = RuleId("update-maintainers-changed")
RULE_VERDICT: Final = RuleId("update-verdict")

CAPABILITIES: Final = {
    "capability-network": "network egress",
    "capability-subprocess": "process execution",
    "capability-dynamic-exec": "dynamic code execution",
    "capability-native-binary": "native executables",
    "capability-fs-write": "filesystem writes",
    "malicious-env-exfiltration": "environment serialisation",
    "malicious-credential-access": "credential store access",
}
BRAND_NEW: Final = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class DiffReport:
    """The comparison of two versions and its verdict."""

    ecosystem: Ecosystem
    name: str
    old_version: str
    new_version: str
    bump: str  # "major", "minor", "patch", "downgrade", "same", "unknown"
    findings: tuple[Finding, ...]
    verdict: str  # "ok", "review", "block"
    added_files: tuple[str, ...]
    removed_files: tuple[str, ...]
    added_dependencies: tuple[str, ...]
    files_compared: int = 0  # files read from both versions together
    skipped: tuple[Skipped, ...] = ()  # files of either version that could not be read


def bump_kind(old: str, new: str, ecosystem: Ecosystem) -> str:
    """Classify the version change."""
    a: Version | None = None
    b: Version | None = None
    if ecosystem is Ecosystem.PYPI:
        try:
            a, b = Version(old), Version(new)
        except InvalidVersion:
            return "unknown"
        ra, rb = [*a.release, 0, 0, 0][:3], [*b.release, 0, 0, 0][:3]
    else:
        pa = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", old)
        pb = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", new)
        if not pa or not pb:
            return "unknown"
        ra, rb = [int(x) for x in pa.groups()], [int(x) for x in pb.groups()]
    if rb < ra:
        return "downgrade"
    if rb[0] != ra[0]:
        return "major"
    if rb[1] != ra[1]:
        return "minor"
    if rb[2] != ra[2]:
        return "patch"
    if a is not None and b is not None and b < a:
        return "downgrade"
    return "same" if old == new else "patch"


def _dependencies(artifact: PackageArtifact) -> dict[str, str]:
    deps: dict[str, str] = {}
    manifest = artifact.file("package.json")
    if manifest is not None:
        info = parse_package_json(manifest.text())
        if info is not None:
            return {name.lower(): spec for name, spec in info.dependencies.items()}
    for package_file in artifact.files:
        if package_file.path.endswith((".dist-info/METADATA", "PKG-INFO")) and package_file.path.count("/") <= 1:
            for line in package_file.text().splitlines():
                if line.startswith("Requires-Dist:"):
                    try:
                        requirement = Requirement(line.split(":", 1)[1].strip())
                    except InvalidRequirement:
                        continue
                    if requirement.marker is not None and "extra" in str(requirement.marker):
                        continue
                    deps[canonicalize_name(requirement.name)] = str(requirement.specifier)
    pyproject = artifact.file("pyproject.toml")
    if pyproject is not None and not deps:
        import tomllib

        try:
            project = tomllib.loads(pyproject.text()).get("project", {})
        except tomllib.TOMLDecodeError:
            project = {}
        for entry in project.get("dependencies", []) if isinstance(project, dict) else []:
            try:
                requirement = Requirement(str(entry))
            except InvalidRequirement:
                continue
            deps[canonicalize_name(requirement.name)] = str(requirement.specifier)
    return deps


def _hooks(signals: Iterable[Signal]) -> dict[str, Signal]:
    return {f"{s.path}:{s.scope}": s for s in signals if s.rule_id == "capability-install-hook"}


def _finding(
    rule: RuleId, severity: Severity, title: str, package: Package, *, evidence: Iterable[str] = (),
    location: Location | None = None, remediation: str | None = None, description: str = "",
) -> Finding:  # fmt: skip
    return Finding(
        rule_id=rule,
        severity=severity,
        title=title,
        package=package,
        location=location,
        evidence=tuple(evidence),
        remediation=remediation or "Review the change before upgrading; pin the previous version until then.",
        description=description,
    )


def diff_artifacts(
    old: PackageArtifact,
    new: PackageArtifact,
    *,
    detector: TyposquatDetector | None = None,
    client: RegistryClient | None = None,
) -> DiffReport:
    """Compare ``old`` and ``new`` versions of one package."""
    package = bare_package(new.ecosystem, new.name or old.name, new.version)
    old_report = analyze_artifact(old)
    new_report = analyze_artifact(new, package)
    bump = bump_kind(old.version, new.version, new.ecosystem)
    small_bump = bump in ("patch", "minor", "same", "downgrade")
    findings: list[Finding] = []

    old_hooks, new_hooks = _hooks(old_report.signals), _hooks(new_report.signals)
    added_hook = False
    for key, signal in new_hooks.items():
        before = old_hooks.get(key)
        if before is None:
            added_hook = True
            findings.append(
                _finding(
                    RULE_NEW_HOOK,
                    Severity.HIGH if small_bump else Severity.MEDIUM,
                    f"{bump} release adds an install-time hook" if small_bump else "release adds an install-time hook",
                    package,
                    evidence=(f"{signal.path}:{signal.line}: {signal.snippet}", f"why: {signal.why}"),
                    location=Location(signal.path, line=signal.line),
                    description="A patch/minor release that starts running code at install time is how "
                    "event-stream, ua-parser-js and coa were weaponised.",
                )
            )
        elif before.why != signal.why:
            findings.append(
                _finding(
                    RULE_CHANGED_HOOK,
                    Severity.MEDIUM,
                    "install-time hook changed",
                    package,
                    evidence=(f"before: {before.why}", f"after: {signal.why}"),
                    location=Location(signal.path, line=signal.line),
                )
            )

    old_caps = {s.rule_id for s in old_report.signals if s.rule_id in CAPABILITIES}
    new_caps: dict[str, Signal] = {}
    for signal in new_report.signals:
        if signal.rule_id in CAPABILITIES and signal.rule_id not in old_caps:
            new_caps.setdefault(signal.rule_id, signal)
    for rule_id, signal in new_caps.items():
        egress = rule_id in ("capability-network", "malicious-env-exfiltration", "malicious-credential-access")
        if rule_id == "capability-fs-write":
            severity = Severity.LOW  # most libraries write files somewhere; context, not an alarm
        else:
            severity = Severity.HIGH if egress and small_bump else Severity.MEDIUM if small_bump else Severity.LOW
        findings.append(
            _finding(
                RULE_NEW_CAPABILITY,
                severity,
                f"new capability in a {bump} release: {CAPABILITIES[rule_id]}",
                package,
                evidence=(f"{signal.path}:{signal.line}: {signal.snippet}", f"why: {signal.why}"),
                location=Location(signal.path, line=signal.line),
                description="Behaviour that was not there before deserves a reason in the changelog.",
            )
        )

    old_threats = {(f.rule_id, f.location.path if f.location else "") for f in old_report.findings}
    for finding in new_report.findings:
        threat_key = (finding.rule_id, finding.location.path if finding.location else "")
        if (
            RULES[finding.rule_id].kind is Kind.THREAT
            and threat_key not in old_threats
            and finding.severity.at_least(Severity.MEDIUM)
        ):
            findings.append(
                _finding(
                    RULE_NEW_THREAT,
                    finding.severity,
                    f"new in this release: {finding.title}",
                    package,
                    evidence=finding.evidence,
                    location=finding.location,
                    description=finding.description,
                )
            )

    old_files = {f.path for f in old.files}
    new_files = {f.path for f in new.files}
    added_files = sorted(new_files - old_files)
    obfuscated = {s.path for s in new_report.signals if s.rule_id == "malicious-obfuscation"}
    for path in added_files:
        package_file = new.file(path)
        minified = False
        if package_file is not None and package_file.complete and path.endswith((".js", ".py")):
            text = package_file.text()
            lines = text.count("\n") + 1
            minified = len(text) > 5000 and len(text) / lines > 500 and not path.endswith(".min.js")
        if path in obfuscated or minified:
            findings.append(
                _finding(
                    RULE_NEW_OBFUSCATED,
                    Severity.HIGH if small_bump and path in obfuscated else Severity.MEDIUM,
                    f"new {'obfuscated' if path in obfuscated else 'minified'} file {path}",
                    package,
                    location=Location(path),
                    evidence=(f"added in {new.version}",),
                    description="Payloads ship as new minified/obfuscated files (flatmap-stream's test/data.js).",
                )
            )

    old_deps, new_deps = _dependencies(old), _dependencies(new)
    added_deps = sorted(set(new_deps) - set(old_deps))
    for name in added_deps:
        evidence = [f"{name} {new_deps[name]}".strip()]
        severity = Severity.LOW
        match = detector.check(name) if detector is not None else None
        if match is not None:
            severity = Severity.HIGH
            evidence.append(f"typosquat of {match.target}: {match.explanation}")
        age = package_age(client, new.ecosystem, name) if client is not None else None
        if age is not None and age < BRAND_NEW:
            severity = max(severity, Severity.MEDIUM, key=lambda s: s.rank)
            evidence.append(f"first published {age.days} days ago")
        findings.append(
            _finding(
                RULE_NEW_DEPENDENCY,
                severity,
                f"new dependency {name}",
                package,
                evidence=evidence,
                description="flatmap-stream entered event-stream as a new dependency in a patch release.",
            )
        )

    if client is not None and new.ecosystem is Ecosystem.NPM:
        findings.extend(_maintainer_findings(client, new.name, old.version, new.version, package, added_hook))

    worst = max_severity(findings)
    verdict = (
        "block"
        if worst and worst.at_least(Severity.HIGH)
        else "review"
        if worst and worst.at_least(Severity.MEDIUM)
        else "ok"
    )
    summary = _finding(
        RULE_VERDICT,
        worst if worst and worst.at_least(Severity.MEDIUM) else Severity.INFO,
        f"{new.name} {old.version} → {new.version} ({bump}): {verdict}",
        package,
        evidence=(
            f"{len(findings)} change(s) worth attention",
            f"files: +{len(added_files)} −{len(old_files - new_files)}",
            f"dependencies: +{len(added_deps)} −{len(set(old_deps) - set(new_deps))}",
        ),
        remediation="Upgrade." if verdict == "ok" else "Read the flagged changes before upgrading.",
    )
    return DiffReport(
        ecosystem=new.ecosystem,
        name=new.name,
        old_version=old.version,
        new_version=new.version,
        bump=bump,
        findings=(*findings, summary),
        verdict=verdict,
        added_files=tuple(added_files),
        removed_files=tuple(sorted(old_files - new_files)),
        added_dependencies=tuple(added_deps),
    )


def package_age(client: RegistryClient, ecosystem: Ecosystem, name: str) -> timedelta | None:
    """How long ago ``name`` was first published (None when the registry does not say)."""
    try:
        if ecosystem is Ecosystem.NPM:
            packument = client.npm_packument(name)
            created = (packument or {}).get("time", {}).get("created") if packument else None
            if not isinstance(created, str):
                return None
            return datetime.now(UTC) - datetime.fromisoformat(created.replace("Z", "+00:00"))
        body: Any = client.get_json(
            f"{client.pypi_url}/{canonicalize_name(name)}/", accept="application/vnd.pypi.simple.v1+json"
        )
        if not isinstance(body, dict):
            return None
        times = [f.get("upload-time") for f in body.get("files", []) if isinstance(f, dict) and f.get("upload-time")]
        if not times:
            return None
        first = min(str(t) for t in times)
        return datetime.now(UTC) - datetime.fromisoformat(first.replace("Z", "+00:00"))
    except (RegistryClientError, ValueError):
        return None


def _maintainer_findings(
    client: RegistryClient, name: str, old_version: str, new_version: str, package: Package, added_hook: bool
) -> list[Finding]:
    try:
        packument = client.npm_packument(name)
    except RegistryClientError as exc:
        return [
            _finding(
                RULE_MAINTAINERS,
                Severity.UNKNOWN,
                "could not compare maintainers",
                package,
                evidence=(exc.diagnostics(),),
            )
        ]
    if packument is None:
        return []
    before, after = npm_maintainers(packument, old_version), npm_maintainers(packument, new_version)
    old_publisher, new_publisher = npm_publisher(packument, old_version), npm_publisher(packument, new_version)
    evidence: list[str] = []
    if before and after and before != after:
        evidence.append(f"maintainers {', '.join(sorted(before))} → {', '.join(sorted(after))}")
    if old_publisher and new_publisher and old_publisher != new_publisher:
        evidence.append(f"published by {new_publisher!r} (previous version by {old_publisher!r})")
    if not evidence:
        return []
    newcomer = bool(new_publisher and new_publisher not in before)
    severity = Severity.HIGH if added_hook or newcomer else Severity.MEDIUM
    if newcomer:
        evidence.append(f"{new_publisher!r} did not maintain {old_version}")
    return [
        _finding(
            RULE_MAINTAINERS,
            severity,
            "maintainers or publisher changed between the versions",
            package,
            evidence=evidence,
            description="A new publisher on a popular package (event-stream's right9ctrl) precedes most takeovers.",
        )
    ]
