"""The small typed records that flow one way through chainwarden.

source → inventory (:class:`Package`) → analyzers (:class:`Finding`) → report.
Every analyzer, whatever its concern, speaks in these types; nothing downstream
needs to know which module produced a record.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NewType

RuleId = NewType("RuleId", str)
Digest = NewType("Digest", str)


class Ecosystem(enum.StrEnum):
    """Package ecosystems chainwarden catalogs. Values are purl types."""

    DEBIAN = "deb"
    PYPI = "pypi"
    NPM = "npm"
    APK = "apk"  # Alpine packages
    RPM = "rpm"  # Red Hat family and SUSE packages
    GOLANG = "golang"  # Go modules (and the standard library) compiled into a binary
    CARGO = "cargo"  # Rust crates recorded by cargo-auditable
    BINARY = "generic"  # an executable whose dependencies cannot be read

    @property
    def osv_name(self) -> str:
        """The ecosystem name as OSV records spell it (OS ecosystems add ``:<release>``)."""
        return {
            "deb": "Debian",
            "pypi": "PyPI",
            "npm": "npm",
            "apk": "Alpine",
            "rpm": "Red Hat",
            "golang": "Go",
            "cargo": "crates.io",
            "generic": "",
        }[self.value]


class Severity(enum.StrEnum):
    """Closed, ordered set of severities; compare with :meth:`rank`."""

    UNKNOWN = "unknown"
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_ORDER = [
    Severity.UNKNOWN,
    Severity.INFO,
    Severity.LOW,
    Severity.MEDIUM,
    Severity.HIGH,
    Severity.CRITICAL,
]


class Scope(enum.StrEnum):
    """Dependency scope as a lockfile/manifest declares it."""

    PROD = "prod"
    DEV = "dev"
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was seen.

    ``path`` is absolute inside an image/rootfs (``/usr/lib/...``) or relative to
    the scanned project directory (``requirements.txt``). ``layer`` is the digest
    of the image layer that last wrote the file, when the target is an image.
    """

    path: str
    layer: Digest | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        if self.layer:
            text = f"{self.layer[:19]}:{text}"
        return text


@dataclass(frozen=True, slots=True)
class Package:
    """One installed or declared package.

    Two records with the same name and version at different locations stay
    distinct: a second, forgotten copy of a library is exactly what an attacker
    hides behind.
    """

    ecosystem: Ecosystem
    name: str  # normalised where it enters (PEP 503 for PyPI)
    version: str  # "" when the source pins nothing (reported as unpinned)
    purl: str
    found_by: str  # cataloger id, e.g. "dpkg-status", "python-installed" (see CATALOGER_IDS)
    locations: tuple[Location, ...] = ()
    files: tuple[str, ...] = ()  # owned files, absolute paths in the rootfs
    source_name: str | None = None  # Debian source package
    source_version: str | None = None
    arch: str | None = None
    licenses: tuple[str, ...] = ()
    direct: bool | None = None  # None: the format does not say
    scope: Scope | None = None
    hashes: tuple[str, ...] = ()  # "sha256:…" integrity pins from lockfiles
    pinned: bool = True  # False for ranges, editables, URL requirements
    supplier: str | None = None  # maintainer (apk), vendor or packager (rpm)
    #: digests of ``files``, position by position ("sha256:…", "sha1:…", "" when unknown), when the
    #: package database records them (apk ``Z:``, rpm FILEDIGESTS); empty otherwise
    file_digests: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Stable identity: purl plus the first location."""
        where = self.locations[0].path if self.locations else ""
        return f"{self.purl}@{where}" if where else self.purl


#: ``Package.found_by`` of chainwarden's own catalogers. They build every purl
#: with packageurl (``PackageURL(...).to_string()``) from names they have
#: validated, so the text is already in the library's canonical spelling and a
#: report may write it as it stands (a test runs every cataloger to hold them to
#: it). A package found by anything else — an SBOM read as input, a caller of the
#: library — may spell its purl any way, and reports normalise it.
CATALOGER_IDS: frozenset[str] = frozenset(
    {
        "dpkg-status",
        "apk-db",
        "rpm-db",
        "python-installed",
        "npm-installed",
        "npm-debian",
        "go-binary",
        "rust-cargo-auditable",
        "binary-unknown",
        "python-requirements",
        "pyproject",
        "pipfile-lock",
        "poetry-lock",
        "pdm-lock",
        "uv-lock",
        "npm-package-lock",
        "pnpm-lock",
        "yarn-lock",
    }
)


@dataclass(frozen=True, slots=True)
class Distro:
    """The operating system release from ``/etc/os-release``."""

    id: str  # "debian"
    version_id: str  # "12"
    codename: str = ""  # "bookworm"
    pretty_name: str = ""


@dataclass(frozen=True, slots=True)
class LayerInfo:
    digest: Digest  # digest of the (compressed) blob as in the manifest
    diff_id: Digest | None  # digest of the uncompressed tar, from the config
    size: int
    media_type: str
    created_by: str = ""  # history entry, where the config has one


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """What was scanned: a description of the target, identity and layers."""

    kind: str  # "oci", "docker-archive", "oci-archive", "registry", "dir"
    reference: str  # the user's target string
    digest: Digest | None = None  # manifest digest for images
    config_digest: Digest | None = None
    platform: str | None = None
    layers: tuple[LayerInfo, ...] = ()
    repo_tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something the tool saw but could not use, and why: data, not an exception."""

    what: str
    location: Location | None
    reason: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much a run checked, and what it saw but could not check.

    Every report carries it, so "no findings" can be told apart from "nothing
    checked": ``counts`` pairs a unit with a number (``("package", 12)``,
    ``("file", 3)``), ``skipped`` lists what was left out with its reason. A
    gate (``--fail-on``) fails when :attr:`empty` unless told otherwise.
    """

    counts: tuple[tuple[str, int], ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def checked(self) -> int:
        """Everything checked, all units together."""
        return sum(count for _, count in self.counts)

    @property
    def empty(self) -> bool:
        return self.checked == 0

    def describe(self) -> str:
        """``"12 packages, 3 files checked; 1 skipped"`` (``"0 packages checked"`` when empty)."""
        counts = [(unit, count) for unit, count in self.counts if count] or list(self.counts)
        shown = [f"{count} {unit}{'' if count == 1 else 's'}" for unit, count in counts]
        text = f"{', '.join(shown)} checked" if shown else "nothing checked"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


@dataclass(frozen=True, slots=True)
class Inventory:
    target: TargetInfo
    packages: tuple[Package, ...]
    distro: Distro | None = None
    skipped: tuple[Skipped, ...] = ()

    def by_ecosystem(self) -> dict[Ecosystem, list[Package]]:
        grouped: dict[Ecosystem, list[Package]] = {}
        for pkg in self.packages:
            grouped.setdefault(pkg.ecosystem, []).append(pkg)
        return grouped


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a user should know, from any analyzer.

    ``rule_id`` is stable and kebab-case ("vuln", "dockerfile-unpinned-base",
    "typosquat"...). ``aliases`` carries every id of the same issue (CVE, GHSA…).
    """

    rule_id: RuleId
    severity: Severity
    title: str
    package: Package | None = None
    location: Location | None = None
    evidence: tuple[str, ...] = ()
    remediation: str | None = None
    aliases: frozenset[str] = frozenset()
    description: str = ""
    fixed_versions: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)  # e.g. "in-use:executed"


IN_USE_TAG_PREFIX = "in-use:"


class InUse(enum.StrEnum):
    """How much of a package a runtime profile saw in use, strongest first.

    Findings carry it as a tag (``in-use:executed``); reports list in-use first.
    """

    EXECUTED = "executed"
    LOADED = "loaded"
    READ = "read"
    UNKNOWN = "unknown"  # the package is not in the profile
    NOT_OBSERVED = "not-observed"

    @property
    def tag(self) -> str:
        return IN_USE_TAG_PREFIX + self.value

    @property
    def rank(self) -> int:
        """0 for the most urgent (executed)."""
        return list(InUse).index(self)

    @property
    def in_use(self) -> bool:
        """Whether ``--fail-on-in-use`` counts it: everything but ``not-observed``."""
        return self is not InUse.NOT_OBSERVED

    @classmethod
    def of(cls, finding: Finding) -> InUse | None:
        for tag in finding.tags:
            if tag.startswith(IN_USE_TAG_PREFIX):
                try:
                    return cls(tag[len(IN_USE_TAG_PREFIX) :])
                except ValueError:
                    return None
        return None


#: A package version in a published vulnerability's affected range (OSV).
VULN_RULE_ID = RuleId("vuln")
#: A package version an OSV ``MAL-`` record (OpenSSF malicious packages) names as
#: malicious: critical, listed before everything else in every format.
MALICIOUS_PACKAGE_RULE_ID = RuleId("known-malicious-package")
#: Findings that come from an advisory database record, with its ids as aliases.
ADVISORY_RULE_IDS: frozenset[str] = frozenset({VULN_RULE_ID, MALICIOUS_PACKAGE_RULE_ID})


def is_malicious_record_id(vuln_id: str) -> bool:
    """An OSV id from the malicious-packages namespace (``MAL-2024-1234``)."""
    return vuln_id.startswith("MAL-")


def primary_vulnerability_id(ids: Iterable[str]) -> str:
    """The id one vulnerability is shown and counted under in every format:
    a CVE when known (people search by CVE first), else a GHSA, else the first id."""
    ordered = sorted(ids)
    for prefix in ("CVE-", "GHSA-"):
        for vuln_id in ordered:
            if vuln_id.startswith(prefix):
                return vuln_id
    return ordered[0]


def max_severity(findings: Iterable[Finding]) -> Severity | None:
    worst: Severity | None = None
    for finding in findings:
        if worst is None or finding.severity.rank > worst.rank:
            worst = finding.severity
    return worst
