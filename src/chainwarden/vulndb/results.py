"""What matching produces: per lookup a :class:`VulnTemplate`, per package a :class:`VulnMatch`.

The matcher (:mod:`chainwarden.vulndb.match`) builds templates once per
(ecosystem, name, version slot) and instantiates them per package; the Debian
post-processing (:mod:`chainwarden.vulndb.debian`), the ignore file and VEX
(:mod:`chainwarden.vulndb.ignore`) consume these records and nothing of the
matcher's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chainwarden.models import MALICIOUS_PACKAGE_RULE_ID, Finding, Package
from chainwarden.vulndb.severity import SeverityInfo

#: Title of a finding whose records have neither summary nor details.
UNTITLED = "known vulnerability"

# -- per lookup ----------------------------------------------------------------------------


@dataclass(slots=True)  # made per merged vulnerability in the hot loop: plain init is several times faster than frozen
class GroupInfo:
    """What a merged vulnerability (records aliasing each other) shows, independent of the installed version."""

    vuln_id: str  # the primary id (chainwarden.models.primary_vulnerability_id of ``aliases``)
    record_ids: tuple[str, ...]
    severity: SeverityInfo
    title: str
    description: str
    references: tuple[str, ...]
    aliases: frozenset[str]


@dataclass(slots=True)  # made per merged vulnerability in the hot loop: plain init is several times faster than frozen
class VulnTemplate:
    """The package-independent part of a match, shared by every package with one lookup.

    Treated as immutable: a post-processing step returns new templates (``dataclasses.replace``).
    """

    info: GroupInfo  # what the merged vulnerability shows
    fixed_versions: tuple[str, ...]  # smallest first: the remediation's upgrade
    #: (record id, matching range or None for "listed as affected"), turned into
    #: evidence text per installed version by the matcher
    evidence_parts: tuple[tuple[str, str | None], ...]
    #: evidence lines after the ranges (Debian advisories folded in)
    notes: tuple[str, ...] = ()
    #: record groups folded into this finding (Debian advisories): a version that
    #: resolves one of them resolves the finding too
    extra_fix_groups: tuple[tuple[str, ...], ...] = ()


# -- per package ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VulnMatch:
    """One vulnerability (all its aliases merged) affecting one package."""

    vuln_id: str  # the primary id (see primary_id): a CVE when any record names one
    finding: Finding
    record_ids: tuple[str, ...]  # every OSV record that matched (PYSEC-…, GHSA-…)

    @property
    def package(self) -> Package:
        assert self.finding.package is not None
        return self.finding.package

    @property
    def ids(self) -> frozenset[str]:
        """The primary id, matched records and aliases, upper-cased (as ignore rules and VEX compare them)."""
        return frozenset(i.upper() for i in (self.vuln_id, *self.record_ids, *self.finding.aliases))


@dataclass(frozen=True, slots=True)
class SkippedPackage:
    """A package (or one advisory for it) that could not be evaluated, and why."""

    package: Package
    reason: str
    vuln_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        location = str(self.package.locations[0]) if self.package.locations else None
        return {
            "package": {**_package_json(self.package), "location": location},
            "vuln_id": self.vuln_id,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class UpgradeOption:
    """Upgrading ``package`` to ``version`` resolves the vulnerabilities ``fixes``."""

    package: Package
    version: str
    fixes: frozenset[str]  # primary vuln ids (VulnMatch.vuln_id)
    order: int  # rank of ``version`` among the options for this package (0 = lowest)


@dataclass(frozen=True, slots=True)
class BestUpgrade:
    """The single upgrade of a package that resolves the most of its findings."""

    package: Package
    version: str
    fixes: tuple[str, ...]
    remaining: tuple[str, ...]  # findings this upgrade leaves (no fix, or fixed only later)

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": _package_json(self.package),
            "upgrade_to": self.version,
            "fixes": list(self.fixes),
            "remaining": list(self.remaining),
        }


@dataclass(frozen=True, slots=True)
class Suppression:
    """A match hidden by the ignore file, a VEX statement or a Debian backport (vulndb.debian)."""

    match: VulnMatch
    by: str  # ".chainwarden-ignore.yaml:12", "vex.json" or "debian-backport"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "vuln_id": self.match.vuln_id,
            "aliases": sorted(self.match.finding.aliases),
            "package": self.match.package.purl,
            "by": self.by,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a vulnerability scan found; ``findings`` is what reports show."""

    matches: tuple[VulnMatch, ...]
    skipped: tuple[SkippedPackage, ...] = ()
    upgrade_options: tuple[UpgradeOption, ...] = field(default=(), repr=False)
    suppressed: tuple[Suppression, ...] = ()
    warnings: tuple[str, ...] = ()
    packages_scanned: int = 0
    #: set by :func:`chainwarden.vulndb.in_use.prioritise`: the profile and counts per level
    in_use: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(match.finding for match in self.matches)

    @property
    def best_upgrades(self) -> tuple[BestUpgrade, ...]:
        """Per vulnerable package, the upgrade fixing most of its remaining findings.

        Ties go to the lowest version (the smallest change). Packages with no
        fixed version at all have none.
        """
        open_ids: dict[str, list[str]] = {}
        packages: dict[str, Package] = {}
        for match in self.matches:
            open_ids.setdefault(match.package.id, []).append(match.vuln_id)
            packages[match.package.id] = match.package
        best: dict[str, tuple[int, int, UpgradeOption]] = {}
        for option in self.upgrade_options:
            ids = open_ids.get(option.package.id)
            if not ids:
                continue
            count = len(option.fixes.intersection(ids))
            if count == 0:
                continue
            current = best.get(option.package.id)
            if current is None or (count, -option.order) > (current[0], current[1]):
                best[option.package.id] = (count, -option.order, option)
        upgrades = []
        for package_id, (_, _, option) in best.items():
            ids = open_ids[package_id]
            upgrades.append(
                BestUpgrade(
                    package=packages[package_id],
                    version=option.version,
                    fixes=tuple(sorted(i for i in ids if i in option.fixes)),
                    remaining=tuple(sorted(i for i in ids if i not in option.fixes)),
                )
            )
        return tuple(sorted(upgrades, key=lambda u: (u.package.name, u.package.id)))

    def only_fixed(self) -> ScanResult:
        """Without the findings that have no fixed version yet (a malicious package
        has none, and is never hidden: removing it is its fix)."""
        kept = (m for m in self.matches if m.finding.fixed_versions or m.finding.rule_id == MALICIOUS_PACKAGE_RULE_ID)
        return replace(self, matches=tuple(kept))

    def extra(self) -> dict[str, Any]:
        """The additions to the JSON report (``extra`` of the JSON reporter)."""
        return {
            "packages_scanned": self.packages_scanned,
            "best_upgrades": [upgrade.to_dict() for upgrade in self.best_upgrades],
            "skipped": [skipped.to_dict() for skipped in self.skipped],
            "suppressed": [suppression.to_dict() for suppression in self.suppressed],
            "warnings": list(self.warnings),
            **({"in_use": dict(self.in_use)} if self.in_use is not None else {}),
        }


def _package_json(package: Package) -> dict[str, Any]:
    """How the JSON report's ``skipped`` and ``best_upgrades`` name a package."""
    return {
        "ecosystem": package.ecosystem.value,
        "name": package.name,
        "version": package.version,
        "purl": package.purl,
    }
