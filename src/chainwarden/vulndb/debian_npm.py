"""One finding per vulnerability for the node modules that Debian ships.

A module under /usr/share/nodejs is seen twice by a scan: as an npm package
(found by ``npm-debian``) matched against npm advisories, and, through the .deb
that ships it, as part of a Debian source package matched against Debian's own
records (DSA, DLA, DEBIAN-CVE). Debian patches such modules in place and
rarely changes their npm version, so the two views repeat or contradict each
other. For each finding on such a module:

* the .deb has a finding for the same vulnerability (a shared id or alias, or a
  CVE that a Debian record names as its ``upstream``): one finding is reported,
  the .deb's (its fix comes through apt), with evidence naming the npm advisory
  and the module; the npm finding is dropped;
* Debian's records for the source package cover the advisory's CVEs and put a
  fix at or below the installed source version: Debian backported the fix, so
  the npm finding is a false positive and moves to ``ScanResult.suppressed``
  (by :data:`BACKPORT_SUPPRESSOR`, with the records and versions as reason);
* otherwise (no Debian record mentions it, or the release is not covered) the
  npm finding stays as it is, tagged ``debian-packaged``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from chainwarden.models import Ecosystem, Finding, Package
from chainwarden.vulndb.debian_ids import DebianIds, ids_of
from chainwarden.vulndb.match import (
    DEBIAN_NPM_FOUND_BY,
    UNTITLED,
    AffectedEntry,
    DebianOwner,
    DebianOwners,
    DebianRecords,
    Suppression,
    VersionKeys,
    VulnMatch,
    evaluate,
    primary_id,
)
from chainwarden.vulndb.store import VulnDatabase
from chainwarden.vulndb.versions import UncomparableVersion, scheme_for

#: ``Suppression.by`` of npm findings that Debian's own records show as fixed by a backport.
BACKPORT_SUPPRESSOR = "debian-backport"


class Reconciled(NamedTuple):
    """What :func:`reconcile_debian_node_modules` made of a scan's matches."""

    matches: list[VulnMatch]  # to report, in the order given
    suppressed: tuple[Suppression, ...]  # npm matches Debian's records show fixed by a backport
    #: (id() of a .deb's Package, its finding's old id) -> the id it is listed under now
    renamed: dict[tuple[int, str], str]


def reconcile_debian_node_modules(
    matches: Sequence[VulnMatch],
    owners: DebianOwners,
    records_of: Callable[[Package], DebianRecords | None],
    db: VulnDatabase,
    keys: VersionKeys,
) -> Reconciled:
    """``matches`` with one finding per vulnerability of Debian-shipped node modules.

    ``records_of`` gives the Debian records of a .deb's source package, or None
    when the scan does not match Debian packages (no or another distribution).
    A .deb finding that absorbs an npm advisory may be listed under a new id
    (the CVE the two share): ``renamed`` says which, for the upgrade options.
    """
    modules = [
        position
        for position, match in enumerate(matches)
        if match.package.found_by == DEBIAN_NPM_FOUND_BY and match.package.ecosystem is Ecosystem.NPM
    ]
    if not modules:
        return Reconciled(list(matches), (), {})
    on_debs: dict[int, list[int]] = {}
    listed_on_debs: dict[int, set[str]] = {}  # per .deb, the ids its findings are listed under
    for position, match in enumerate(matches):
        if match.package.ecosystem is Ecosystem.DEBIAN:
            on_debs.setdefault(id(match.package), []).append(position)
            listed_on_debs.setdefault(id(match.package), set()).add(match.vuln_id)
    debian_ids = DebianIds(db)
    records_by_deb: dict[int, DebianRecords | None] = {}
    merged: dict[int, list[VulnMatch]] = {}
    dropped: set[int] = set()
    suppressions: list[Suppression] = []
    for position in modules:
        match = matches[position]
        owner = owners.of(match.package)
        if owner is None:
            continue  # no .deb in the inventory owns it: nothing to compare with
        npm_ids = ids_of(match)
        targets = [
            target for target in on_debs.get(id(owner.package), ()) if debian_ids.of_match(matches[target]) & npm_ids
        ]
        if targets:
            for target in targets:
                merged.setdefault(target, []).append(match)
            dropped.add(position)
            continue
        key = id(owner.package)
        if key not in records_by_deb:
            records_by_deb[key] = records_of(owner.package)
        records = records_by_deb[key]
        if records is None:
            continue
        reason = _backport_reason(npm_ids, owner, records, debian_ids, keys)
        if reason is not None:
            suppressions.append(Suppression(match, BACKPORT_SUPPRESSOR, reason))
            dropped.add(position)
    kept = []
    renamed: dict[tuple[int, str], str] = {}
    for position, match in enumerate(matches):
        if position in dropped:
            continue
        absorbed = merged.get(position)
        if not absorbed:
            kept.append(match)
            continue
        listed = listed_on_debs[id(match.package)]
        updated = _absorb(match, absorbed, listed - {match.vuln_id})
        if updated.vuln_id != match.vuln_id:
            listed.discard(match.vuln_id)
            listed.add(updated.vuln_id)
            renamed[(id(match.package), match.vuln_id)] = updated.vuln_id
        kept.append(updated)
    return Reconciled(kept, tuple(suppressions), renamed)


def _backport_reason(
    npm_ids: frozenset[str],
    owner: DebianOwner,
    records: DebianRecords,
    debian_ids: DebianIds,
    keys: VersionKeys,
) -> str | None:
    """Why Debian's records clear an npm finding on a module of ``owner``, or None when they do not.

    Every CVE of the npm finding (or, without one, any of its ids) must be
    covered by a Debian record with a fix at or below the installed source
    version, and no covering record may still affect it or be unreadable: a
    backport is asserted only where Debian says so.
    """
    covering = [entry for entry in records.entries if debian_ids.of_record(entry.vuln_id) & npm_ids]
    if not covering:
        return None
    cleared: set[str] = set()
    fixes: dict[str, str] = {}  # record id -> its fixed version at or below the installed one
    for entry in covering:
        try:
            verdict = evaluate(entry, records.source_version, keys)
        except UncomparableVersion:
            return None
        if verdict.affected or verdict.problems:
            return None
        fixed = _fix_at_or_below(entry, records.source_version, keys)
        if fixed is None:
            continue  # not affected for another reason (introduced later, not listed): not a backport
        cleared.update(debian_ids.of_record(entry.vuln_id))
        fixes.setdefault(entry.vuln_id, fixed)
    if not fixes:
        return None
    cves = {i for i in npm_ids if i.startswith("CVE-")}
    if not cves <= cleared:
        return None  # another CVE of the same advisory is not shown fixed
    per_record = ", ".join(f"{record_id} (fixed in {version})" for record_id, version in sorted(fixes.items()))
    source = f"source {records.source_name} {records.source_version}"
    return (
        f"fixed by Debian backport: {owner.name} {owner.version} is not affected per {per_record}; "
        f"{source}, {records.ecosystem}"
    )


def _fix_at_or_below(entry: AffectedEntry, version: str, keys: VersionKeys) -> str | None:
    """The highest ``fixed`` event of ``entry`` at or below ``version``, or None."""
    best: tuple[Any, str] | None = None
    for version_range in entry.ranges:
        scheme = scheme_for(entry.ecosystem, version_range.type)
        if scheme is None:
            continue
        try:
            installed = keys.key(scheme, version)
        except UncomparableVersion:
            continue
        for event in version_range.events:
            if event.kind != "fixed":
                continue
            try:
                at = keys.key(scheme, event.version)
            except UncomparableVersion:
                continue
            if at <= installed and (best is None or at > best[0]):
                best = (at, event.version)
    return best[1] if best is not None else None


def _module_dir(package: Package) -> str:
    path = package.locations[0].path if package.locations else (package.files[0] if package.files else "")
    return posixpath.dirname(path) if posixpath.basename(path) == "package.json" else path


def _absorb(deb_match: VulnMatch, npm_matches: Iterable[VulnMatch], taken: set[str]) -> VulnMatch:
    """The .deb's match, naming the npm advisories on its modules that report the same vulnerability.

    Its fix and remediation stay Debian's. It gains the npm advisories' ids as
    aliases (ignore rules and VEX naming the GHSA still apply) and is listed
    under the CVE they share, unless another finding on the .deb is already
    listed under that id (Debian's DSA and DEBIAN-CVE records of one CVE stay
    apart when neither aliases the other); then only ids that keep its listing
    are added. The severity is the worse of the two, so that merging never
    lowers what ``--fail-on`` sees (Debian's per-CVE records often have none).
    """
    finding = deb_match.finding
    evidence = list(finding.evidence)
    aliases = set(finding.aliases)
    references = dict.fromkeys(finding.references)
    severity = finding.severity
    title, description = finding.title, finding.description
    npm_ids: set[str] = set()
    for npm_match in npm_matches:
        npm = npm_match.finding
        module = npm_match.package
        note = (
            f"also npm advisory {', '.join(npm_match.record_ids)} for the node module "
            f"{module.name} {module.version} at {_module_dir(module)}"
        )
        if npm.fixed_versions:
            note += f" (upstream fixed it in {module.name} {npm.fixed_versions[0]})"
        evidence.append(note)
        npm_ids.update((npm_match.vuln_id, *npm_match.record_ids, *npm.aliases))
        references.update(dict.fromkeys(npm.references))
        if npm.severity.rank > severity.rank:
            severity = npm.severity
            evidence.append(f"severity {npm.severity.value} from npm advisory {', '.join(npm_match.record_ids)}")
            evidence.extend(_vectors(npm))
        if title == UNTITLED and npm.title != UNTITLED:
            title = npm.title
        if not description:
            description = npm.description
    vuln_id = primary_id(aliases | npm_ids)
    if vuln_id in taken:
        vuln_id = deb_match.vuln_id
        aliases.update(alias for alias in npm_ids if primary_id({*aliases, alias}) == vuln_id)
    else:
        aliases |= npm_ids
    updated: Finding = replace(
        finding,
        severity=severity,
        title=title,
        description=description,
        evidence=tuple(dict.fromkeys(evidence)),
        aliases=frozenset(aliases),
        references=tuple(references),
    )
    return replace(deb_match, vuln_id=vuln_id, finding=updated)


def _vectors(finding: Finding) -> list[str]:
    """The CVSS vectors a finding carries (reporters rescore from them)."""
    return [item for item in finding.evidence if item.startswith("CVSS:")]
