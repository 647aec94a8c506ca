"""Debian post-processing of matches: one finding per vulnerability on a Debian system.

The matcher (:mod:`chainwarden.vulndb.match`) hands this module its public
records (:mod:`chainwarden.vulndb.results`) and nothing else; this module never
reads the matcher's internals.

**Which vulnerabilities a Debian record stands for.** OSV's Debian exports hold
two kinds of records for one vulnerability of one source package, and rarely
link them through ``aliases``:

* per-CVE records from the Debian security tracker, ``DEBIAN-CVE-2023-1234``,
  naming their CVE in ``upstream`` (and in the id itself);
* advisories, ``DSA-5555-1``, ``DLA-3333-1``, ``DTSA-…``, each fixing one or
  more CVEs, named in ``upstream`` or, in exports from before OSV had
  ``upstream``, in ``related``.

The matcher's alias merging reads only ``aliases``; :class:`DebianIds` reads
the rest, once per record and scan.

**Advisories fold into per-CVE findings** (:func:`fold_advisories`): a finding
made only of DSA/DLA/DTSA records joins the ``DEBIAN-CVE`` findings of the CVEs
it fixes, so that one CVE is one finding per package.

**Node modules that Debian ships** (:func:`reconcile_debian_node_modules`).

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
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from chainwarden.errors import DatabaseError
from chainwarden.models import Ecosystem, Finding, Inventory, Package, primary_vulnerability_id
from chainwarden.vulndb.results import UNTITLED, Suppression, VulnMatch, VulnTemplate
from chainwarden.vulndb.store import VulnDatabase

#: Debian advisories (not per-CVE records): each fixes the CVEs it names.
ADVISORY_PREFIXES = ("DSA-", "DLA-", "DTSA-")
#: ``DEBIAN-CVE-2021-23337`` is Debian's view of ``CVE-2021-23337``.
DEBIAN_CVE_PREFIX = "DEBIAN-CVE-"
_DEBIAN_PREFIX = "DEBIAN-"


def is_advisory(vuln_id: str) -> bool:
    """Whether ``vuln_id`` names a Debian advisory (DSA, DLA, DTSA)."""
    return vuln_id.startswith(ADVISORY_PREFIXES)


def cve_of_debian_record(vuln_id: str) -> str | None:
    """``CVE-X`` for a per-CVE record ``DEBIAN-CVE-X``, else None."""
    return vuln_id[len(_DEBIAN_PREFIX) :] if vuln_id.startswith(DEBIAN_CVE_PREFIX) else None


class DebianIds:
    """Every id one Debian record stands for, read from the stored record once per scan.

    OSV's Debian records rarely carry ``aliases``: a DEBIAN-CVE or DSA record
    names the CVEs it is about in ``upstream`` (or, in older exports of DSA and
    DLA records, ``related``), which the matcher's alias merging does not read.
    Malformed fields (not a list of strings) are ignored.
    """

    def __init__(self, db: VulnDatabase) -> None:
        self._db = db
        self._cache: dict[str, frozenset[str]] = {}

    def of_record(self, vuln_id: str) -> frozenset[str]:
        """``vuln_id`` with its aliases and upstream CVEs, upper-cased."""
        cached = self._cache.get(vuln_id)
        if cached is not None:
            return cached
        ids = {vuln_id}
        cve = cve_of_debian_record(vuln_id)
        if cve is not None:
            ids.add(cve)
        raw = self._raw(vuln_id)
        fields = ["aliases", "upstream"]
        if is_advisory(vuln_id):
            fields.append("related")
        for name in fields:
            ids.update(_strings(raw.get(name)))
        result = frozenset(i.strip().upper() for i in ids if i.strip())
        self._cache[vuln_id] = result
        return result

    def cves_of_record(self, vuln_id: str) -> frozenset[str]:
        """The CVEs a record names (``DEBIAN-CVE-X`` read as ``CVE-X``)."""
        cves = set()
        for item in self.of_record(vuln_id):
            cve = cve_of_debian_record(item)
            if cve is not None:
                cves.add(cve)
            elif item.startswith("CVE-"):
                cves.add(item)
        return frozenset(cves)

    def of_match(self, match: VulnMatch) -> frozenset[str]:
        """Every id of a finding on a .deb, including its records' upstream CVEs."""
        ids = set(match.ids)
        for record_id in match.record_ids:
            ids.update(self.of_record(record_id))
        return frozenset(ids)

    def _raw(self, vuln_id: str) -> dict[str, Any]:
        try:
            raw = self._db.raw_record(vuln_id)
        except (sqlite3.DatabaseError, zlib.error, ValueError) as exc:
            raise DatabaseError(f"{self._db.path}: record {vuln_id} cannot be read ({exc})") from exc
        return raw if isinstance(raw, dict) else {}


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


# -- DSA, DLA, DTSA into per-CVE findings ----------------------------------------------------


def is_advisory_only(template: VulnTemplate) -> bool:
    """Whether every record of a merged vulnerability is a Debian advisory (DSA, DLA, DTSA)."""
    return all(is_advisory(record_id) for record_id in template.info.record_ids)


def fold_advisories(
    templates: Sequence[VulnTemplate], debian_ids: DebianIds, version_order: Callable[[str], Any]
) -> list[VulnTemplate]:
    """One finding per CVE of a Debian source package: advisories fold into the per-CVE findings.

    OSV's Debian exports report a fixed CVE twice, as ``DEBIAN-CVE-X`` and as the
    DSA/DLA/DTSA that fixed it (named in ``upstream`` or ``related``), and neither
    aliases the other. A finding made only of advisories is folded into the
    per-CVE findings of its CVEs: each gains the advisory's id (an alias, so
    ignore rules and VEX naming it apply) and an evidence line, its fixed
    version and its severity when they are better or worse respectively; the
    advisory finding is dropped. CVEs of the advisory without a per-CVE finding
    keep it, reduced to those CVEs (see :func:`_kept_advisory`).

    ``templates`` are one lookup's (a Debian source package at one version);
    ``version_order`` is the sort key of that ecosystem's versions, which
    orders the fixed versions of a folded finding.
    """
    per_cve = [template for template in templates if not is_advisory_only(template)]
    by_cve: dict[str, list[int]] = {}
    for position, template in enumerate(per_cve):
        cves = {alias for alias in template.info.aliases if alias.startswith("CVE-")}
        for record_id in template.info.record_ids:
            # a DEBIAN-CVE record is about the CVE in its id (already an alias): its
            # ``upstream`` says no more, and not reading it halves the reads
            if not is_advisory(record_id) and cve_of_debian_record(record_id) is None:
                cves.update(debian_ids.cves_of_record(record_id))
        for cve in cves:
            by_cve.setdefault(cve, []).append(position)
    absorbed: dict[int, list[tuple[VulnTemplate, tuple[str, ...]]]] = {}
    # per set of CVEs without a per-CVE finding, the advisories that fix them
    # (a DSA and its regression update DSA-…-2 are one finding too)
    kept: dict[tuple[str, ...], list[tuple[VulnTemplate, tuple[str, ...]]]] = {}
    kept_as_is: list[VulnTemplate] = []
    for advisory in templates:
        if not is_advisory_only(advisory):
            continue
        cves = {alias for alias in advisory.info.aliases if alias.startswith("CVE-")}
        for record_id in advisory.info.record_ids:
            cves.update(debian_ids.cves_of_record(record_id))
        ordered = tuple(sorted(cves))
        covered = [cve for cve in ordered if cve in by_cve]
        targets = dict.fromkeys(position for cve in covered for position in by_cve[cve])
        for position in targets:
            absorbed.setdefault(position, []).append((advisory, ordered))
        if not ordered:
            kept_as_is.append(advisory)  # names no CVE: nothing to fold by
        elif len(covered) < len(ordered):
            uncovered = tuple(cve for cve in ordered if cve not in covered)
            kept.setdefault(uncovered, []).append((_kept_advisory(advisory, ordered, covered), ordered))
    folded = [
        _absorb_advisories(template, absorbed[position], version_order) if position in absorbed else template
        for position, template in enumerate(per_cve)
    ]
    for (first, _), *others in kept.values():
        folded.append(_absorb_advisories(first, others, version_order) if others else first)
    return folded + kept_as_is


def _kept_advisory(advisory: VulnTemplate, cves: Sequence[str], covered: Sequence[str]) -> VulnTemplate:
    """An advisory finding that stands only for its CVEs without a per-CVE finding.

    The covered CVEs leave its aliases (they are listed as their own findings);
    when it stands for exactly one CVE, that CVE becomes an alias and the id it
    is listed under. With several, they are named in the evidence only, so that
    ignoring one of them does not hide the others.
    """
    if not cves:
        return advisory
    uncovered = [cve for cve in cves if cve not in covered]
    aliases = set(advisory.info.aliases).difference(covered)
    if len(uncovered) == 1:
        aliases.add(uncovered[0])
    note = f"Debian advisory {', '.join(advisory.info.record_ids)} fixes {', '.join(uncovered)}"
    if covered:
        note += f" ({', '.join(covered)}: listed as separate findings)"
    info = replace(advisory.info, aliases=frozenset(aliases), vuln_id=primary_vulnerability_id(aliases))
    return replace(advisory, info=info, notes=(*advisory.notes, note))


def _absorb_advisories(
    template: VulnTemplate,
    advisories: Sequence[tuple[VulnTemplate, tuple[str, ...]]],
    version_order: Callable[[str], Any],
) -> VulnTemplate:
    """A per-CVE finding with the Debian advisories (and the CVEs each fixes) that cover it folded in."""
    info = template.info
    severity, title, description = info.severity, info.title, info.description
    aliases = set(info.aliases)
    references = dict.fromkeys(info.references)
    notes = list(template.notes)
    parts = list(template.evidence_parts)
    groups = list(template.extra_fix_groups)
    fixed = {version: version_order(version) for version in template.fixed_versions}
    for advisory, cves in advisories:
        advisory_ids = ", ".join(advisory.info.record_ids)
        notes.append(f"also Debian advisory {advisory_ids} (fixes {', '.join(cves)})")
        # the advisory's own ids, not the other CVEs it fixes: those are other findings
        aliases.update(advisory.info.record_ids)
        aliases.update(alias for alias in advisory.info.aliases if is_advisory(alias))
        if advisory.info.severity.severity.rank > severity.severity.rank:
            severity = advisory.info.severity  # merging never lowers what --fail-on sees
            notes.append(f"severity {severity.severity.value} from Debian advisory {advisory_ids}")
        references.update(dict.fromkeys(advisory.info.references))
        if title == UNTITLED:
            title = advisory.info.title
        description = description or advisory.info.description
        for version in advisory.fixed_versions:
            if version not in fixed:
                fixed[version] = version_order(version)
        parts.extend(advisory.evidence_parts)
        groups.append(advisory.info.record_ids)
    merged_info = replace(
        info,
        vuln_id=primary_vulnerability_id(aliases),
        severity=severity,
        title=title,
        description=description,
        references=tuple(references),
        aliases=frozenset(aliases),
    )
    return VulnTemplate(
        info=merged_info,
        # the smallest fix either names comes first: the remediation's upgrade
        fixed_versions=tuple(sorted(fixed, key=lambda version: fixed[version])),
        evidence_parts=tuple(dict.fromkeys(parts)),
        notes=tuple(dict.fromkeys(notes)),
        extra_fix_groups=tuple(dict.fromkeys(groups)),
    )


# -- node modules shipped in .debs ---------------------------------------------------------


#: ``Package.found_by`` of node modules that Debian ships under /usr/share/nodejs
#: (``chainwarden.inventory.npm.DEBIAN_FOUND_BY``; not imported: the inventory
#: package is slow to import and matching does not need it otherwise).
DEBIAN_NPM_FOUND_BY = "npm-debian"
#: Tag of findings on such modules: the fix comes through apt, not npm.
DEBIAN_PACKAGED_TAG = "debian-packaged"


@dataclass(frozen=True, slots=True)
class DebianOwner:
    """The .deb that ships a Debian-packaged node module."""

    name: str
    version: str
    source_name: str
    #: the .deb's own inventory record: its findings are the ones a module's findings merge into
    package: Package = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DebianRecordStatus:
    """One Debian record of a .deb's source package, evaluated (by the matcher) at the installed source version."""

    vuln_id: str
    #: True only when every range of the record could be evaluated and none affects the installed version
    not_affected: bool
    #: the highest ``fixed`` event at or below the installed version (only for a record it does not affect)
    fixed_at_or_below: str | None = None


@dataclass(frozen=True, slots=True)
class DebianRecords:
    """Debian's records for the source package of a .deb, as the .deb's own lookup saw them."""

    ecosystem: str  # "Debian:12"
    source_name: str
    source_version: str  # the installed source version, the one the records are evaluated at
    records: tuple[DebianRecordStatus, ...]


class DebianOwners:
    """File → owning .deb, built on first use (only scans with Debian-shipped node modules need it)."""

    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._owners: dict[str, DebianOwner] | None = None

    @property
    def used(self) -> bool:
        """Whether any module asked for its owner, i.e. a Debian-shipped module has a finding."""
        return self._owners is not None

    def of(self, package: Package) -> DebianOwner | None:
        """The .deb owning one of ``package``'s locations or files, if the inventory has it."""
        if self._owners is None:
            self._owners = {
                path: DebianOwner(deb.name, deb.version, deb.source_name or deb.name, deb)
                for deb in self._inventory.packages
                if deb.ecosystem is Ecosystem.DEBIAN
                for path in deb.files
            }
        paths = [location.path for location in package.locations] + list(package.files)
        return next((self._owners[path] for path in paths if path in self._owners), None)


def debian_remediation(package: Package, fixed: tuple[str, ...], owner: DebianOwner | None) -> str:
    """Remediation for an npm advisory on a module shipped (and patched) by a Debian package."""
    upstream = f"upstream fixed it in {package.name} {fixed[0]}" if fixed else "no upstream fix is published yet"
    if owner is not None:
        deb = f"the Debian package {owner.name} {owner.version}".rstrip()
        upgrade = f"`apt-get install --only-upgrade {owner.name}`"
        tracker = f"https://security-tracker.debian.org/tracker/source-package/{owner.source_name}"
    else:
        where = package.locations[0].path if package.locations else package.name
        deb = f"the Debian package that ships it (find it with `dpkg -S {where}`)"
        upgrade = "upgrade that package with apt"
        tracker = "the Debian security tracker"
    return (
        f"{package.name} is shipped by {deb}: do not upgrade it with npm, {upgrade}; "
        f"{upstream}, and Debian may have backported the fix without changing the npm version "
        f"(check {tracker})"
    )


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
    debian_ids: DebianIds,
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
    records_by_deb: dict[int, DebianRecords | None] = {}
    merged: dict[int, list[VulnMatch]] = {}
    dropped: set[int] = set()
    suppressions: list[Suppression] = []
    for position in modules:
        match = matches[position]
        owner = owners.of(match.package)
        if owner is None:
            continue  # no .deb in the inventory owns it: nothing to compare with
        npm_ids = match.ids
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
        reason = _backport_reason(npm_ids, owner, records, debian_ids)
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
) -> str | None:
    """Why Debian's records clear an npm finding on a module of ``owner``, or None when they do not.

    Every CVE of the npm finding (or, without one, any of its ids) must be
    covered by a Debian record with a fix at or below the installed source
    version, and no covering record may still affect it or be unreadable: a
    backport is asserted only where Debian says so.
    """
    covering = [record for record in records.records if debian_ids.of_record(record.vuln_id) & npm_ids]
    if not covering:
        return None
    cleared: set[str] = set()
    fixes: dict[str, str] = {}  # record id -> its fixed version at or below the installed one
    for record in covering:
        if not record.not_affected:
            return None
        if record.fixed_at_or_below is None:
            continue  # not affected for another reason (introduced later, not listed): not a backport
        cleared.update(debian_ids.of_record(record.vuln_id))
        fixes.setdefault(record.vuln_id, record.fixed_at_or_below)
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
    vuln_id = primary_vulnerability_id(aliases | npm_ids)
    if vuln_id in taken:
        vuln_id = deb_match.vuln_id
        aliases.update(alias for alias in npm_ids if primary_vulnerability_id({*aliases, alias}) == vuln_id)
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
