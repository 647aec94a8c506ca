"""In-use prioritisation: which vulnerable packages did the image actually use?

A runtime profile (``chainwarden profile``, docs/profile-schema.md) records,
for every inventory package, the strongest access to any of its files. A
finding on a package whose code was executed or loaded is on the path an
attacker can reach; one on a package never touched is attack surface that
exists on disk only. :func:`prioritise` tags every vulnerability finding with
``in-use:<level>`` and sorts the in-use ones first:

``executed``
    a file of the package was executed (a program, or the ELF loader).
``loaded``
    a shared object was mapped, a Python module imported or a JavaScript file
    required: its code ran inside another program.
``read``
    files were read or written, but no code of it ran (data such as CA
    certificates or time zones, which can still matter).
``unknown``
    the profile has no entry for the package (it was recorded for another
    inventory); counted as in use, since nothing shows it is not.
``not-observed``
    the profile lists the package and no probe touched any of its files.

A profile only shows what its probes exercised: "not observed" is not "never
used". The gate ``--fail-on-in-use`` therefore considers every level except
``not-observed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chainwarden.models import IN_USE_TAG_PREFIX, Finding, InUse, Package, TargetInfo

if TYPE_CHECKING:
    from chainwarden.runtime.profile import PackageUse, Profile
    from chainwarden.vulndb.results import ScanResult

TAG_PREFIX = IN_USE_TAG_PREFIX
#: Paths of merged-/usr systems: the profile records the real path (/usr/bin/ls),
#: dpkg the one the package installed (/bin/ls).
_MERGED_USR = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/")
_SHOWN_FILES = 3


#: profile package status → level (docs/profile-schema.md, ``packages[].status``)
_FROM_STATUS = {
    "executed": InUse.EXECUTED,
    "loaded": InUse.LOADED,
    "read": InUse.READ,
    "written": InUse.READ,
    "unused": InUse.NOT_OBSERVED,
}


@dataclass(frozen=True, slots=True)
class PackageInUse:
    """The level for one package, and the evidence for it."""

    level: InUse
    files: tuple[str, ...] = ()  # the files that show it (strongest access), a few at most
    note: str = ""

    def evidence(self) -> str:
        """One line for the finding's evidence."""
        if self.level is InUse.UNKNOWN:
            return f"in use: unknown ({self.note})"
        if self.level is InUse.NOT_OBSERVED:
            return "in use: not observed (no profiled probe touched any of its files)" + (
                f"; {self.note}" if self.note else ""
            )
        shown = ", ".join(self.files[:_SHOWN_FILES])
        more = f" and {len(self.files) - _SHOWN_FILES} more" if len(self.files) > _SHOWN_FILES else ""
        text = f"in use: {self.level.value} {shown}{more}".rstrip()
        return text + (f" ({self.note})" if self.note else "")


def _fold(path: str) -> str:
    return "/usr" + path if path.startswith(_MERGED_USR) else path


class ProfileIndex:
    """A profile's package view, looked up by purl and location.

    The package view has one entry per inventory package, keyed by purl. Two
    copies of one release (the same purl in two virtualenvs) are told apart
    by the files each entry saw used: an entry belongs to the package that
    owns one of its files, or whose directory holds it.
    """

    def __init__(self, packages: Iterable[PackageUse]) -> None:
        self._by_purl: dict[str, list[PackageUse]] = {}
        for use in packages:
            self._by_purl.setdefault(use.purl, []).append(use)

    @classmethod
    def from_profile(cls, profile: Profile) -> ProfileIndex:
        return cls(profile.packages)

    def __len__(self) -> int:
        return sum(len(uses) for uses in self._by_purl.values())

    def use_of(self, package: Package) -> PackageInUse:
        """The level of ``package`` (by purl, then by its files and location)."""
        candidates = self._by_purl.get(package.purl)
        if not candidates:
            return PackageInUse(InUse.UNKNOWN, note="the profile has no entry for this package")
        if len(candidates) == 1:
            return _from_entry(candidates[0])
        used = [use for use in candidates if use.status in _FROM_STATUS and use.status != "unused"]
        if not used:
            return PackageInUse(InUse.NOT_OBSERVED)
        mine = [use for use in used if _belongs_to(use, package)]
        if mine:
            return _from_entry(min(mine, key=lambda use: _FROM_STATUS[use.status].rank))
        if len(used) < len(candidates) and (package.files or package.locations):
            # some copy of this release was used, and it is not this one
            return PackageInUse(InUse.NOT_OBSERVED, note="another copy of this release was used")
        strongest = min(used, key=lambda use: _FROM_STATUS[use.status].rank)
        verdict = _from_entry(strongest)
        note = f"{len(candidates)} copies of this release; which one was used is not known"
        return PackageInUse(verdict.level, verdict.files, note)


def _from_entry(use: PackageUse) -> PackageInUse:
    level = _FROM_STATUS.get(use.status, InUse.UNKNOWN)
    files = tuple(use.files.get(use.status, ())) if level not in (InUse.UNKNOWN, InUse.NOT_OBSERVED) else ()
    if level is InUse.UNKNOWN:
        return PackageInUse(level, note=f"unknown profile status '{use.status}'")
    return PackageInUse(level, files)


def _belongs_to(use: PackageUse, package: Package) -> bool:
    used = {_fold(path) for paths in use.files.values() for path in paths}
    if not used:
        return False
    if any(_fold(path) in used for path in package.files):
        return True
    # node modules and dist-info directories: the package's files sit next to its manifest
    roots = {_fold(location.path).rsplit("/", 1)[0] + "/" for location in package.locations if "/" in location.path}
    return any(path.startswith(root) for path in used for root in roots if root != "/")


def _retag(finding: Finding, verdict: PackageInUse) -> Finding:
    tags = frozenset(tag for tag in finding.tags if not tag.startswith(TAG_PREFIX)) | {verdict.level.tag}
    evidence = tuple(item for item in finding.evidence if not item.startswith("in use: "))
    return replace(finding, tags=tags, evidence=(verdict.evidence(), *evidence))


def in_use_of(finding: Finding) -> InUse | None:
    """The level a finding was tagged with, or None when it was not prioritised."""
    return InUse.of(finding)


def in_use_rank(finding: Finding) -> int:
    """Sort key: in-use findings first; findings without a level after all others."""
    level = in_use_of(finding)
    return level.rank if level is not None else len(InUse)


def tag_in_use(findings: Sequence[Finding], index: ProfileIndex) -> tuple[Finding, ...]:
    """``findings`` tagged ``in-use:<level>`` (findings about no package are left as they are).

    Any analyzer's findings can go through this (vulnerabilities, malicious
    code); the order is kept.
    """
    cache: dict[int, PackageInUse] = {}
    tagged: list[Finding] = []
    for finding in findings:
        package = finding.package
        if package is None:
            tagged.append(finding)
            continue
        verdict = cache.get(id(package))
        if verdict is None:
            verdict = cache[id(package)] = index.use_of(package)
        tagged.append(_retag(finding, verdict))
    return tuple(tagged)


def prioritise_findings(findings: Sequence[Finding], profile: Profile) -> tuple[Finding, ...]:
    """Any analyzer's ``findings`` tagged ``in-use:<level>``, in-use first (the order kept within a level)."""
    return tuple(sorted(tag_in_use(findings, ProfileIndex.from_profile(profile)), key=in_use_rank))


def is_in_use(finding: Finding) -> bool:
    """Whether ``--fail-on-in-use`` counts the finding (tagged, and not ``not-observed``)."""
    level = in_use_of(finding)
    return level is not None and level.in_use


def prioritise(
    result: ScanResult, profile: Profile, *, target: TargetInfo | None = None, profile_name: str = "profile"
) -> ScanResult:
    """``result`` with every finding tagged ``in-use:<level>`` and in-use findings first.

    Within one level the previous order (by package, worst first) is kept.
    Suppressed matches are tagged too, so that a report of them tells the
    same story. ``target`` (the scanned target) is compared with the target
    the profile was recorded for: a different image digest gives a warning,
    since the levels then describe another image.
    """
    index = ProfileIndex.from_profile(profile)
    warnings = list(result.warnings)
    recorded = profile.target.get("digest") if isinstance(profile.target, Mapping) else None
    if target is not None and target.digest and recorded and recorded != target.digest:
        warnings.append(
            f"{profile_name} was recorded for {recorded}, not for the scanned {target.digest}: "
            "in-use levels describe that image"
        )
    if not index:
        warnings.append(f"{profile_name} has no package view (profiled without an inventory): every level is unknown")
    matches = [
        replace(match, finding=finding)
        for match, finding in zip(result.matches, tag_in_use([m.finding for m in result.matches], index), strict=True)
    ]
    matches.sort(key=lambda match: in_use_rank(match.finding))  # stable: keeps the order within a level
    suppressed = tuple(
        replace(item, match=replace(item.match, finding=finding))
        for item, finding in zip(
            result.suppressed, tag_in_use([s.match.finding for s in result.suppressed], index), strict=True
        )
    )
    unknown = sum(1 for match in matches if in_use_of(match.finding) is InUse.UNKNOWN)
    if unknown and index:
        warnings.append(
            f"{unknown} finding(s) on packages the profile does not list: is {profile_name} from this target?"
        )
    return replace(
        result,
        matches=tuple(matches),
        suppressed=suppressed,
        warnings=tuple(dict.fromkeys(warnings)),
        in_use={"profile": profile_name, "counts": in_use_counts(m.finding for m in matches)},
    )


def in_use_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per in-use level (every level present, untagged findings not counted)."""
    counts = {level.value: 0 for level in InUse}
    for finding in findings:
        level = in_use_of(finding)
        if level is not None:
            counts[level.value] += 1
    return counts


__all__ = [
    "TAG_PREFIX",
    "InUse",
    "PackageInUse",
    "ProfileIndex",
    "in_use_counts",
    "in_use_of",
    "in_use_rank",
    "is_in_use",
    "prioritise",
    "prioritise_findings",
    "tag_in_use",
]
