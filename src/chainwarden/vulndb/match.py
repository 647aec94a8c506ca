"""Matching an inventory against the database, with OSV's range semantics.

A version is affected by an ``affected[]`` entry when it is listed in
``versions`` or falls in any ``ECOSYSTEM``/``SEMVER`` range. A range is read
as the OSV schema says: sort its events by version (``introduced: "0"`` first),
walk them, and let each event at or below the version switch the state
(``introduced`` on; ``fixed`` off; ``last_affected`` off for versions above
it); ``limit`` events cap the range from above. Records may list events in
any order and several ranges per package; ``ecosystem_specific`` and
``database_specific`` play no part.

Lookups are batched: one query per ecosystem for every name in the inventory,
parsed entries and version keys are cached for the whole scan. The work is
shared as widely as the semantics allow (see :class:`_NameIndex`): once per
package name the boundaries of all its ranges are sorted; a version is placed
among them with a bisect, and every version in the same slot gets the same
range verdicts, templates and upgrade options. Only the text of the evidence
(which names the version) and the finding itself are made per package.

Every finding is listed under one id, :func:`primary_id` (a CVE when one is
known), the same id the table, SARIF and CycloneDX reporters show; Debian's
per-CVE records ``DEBIAN-CVE-X`` are listed under ``CVE-X``. Debian advisories
(DSA, DLA, DTSA) that fix CVEs with a per-CVE finding on the same package fold
into those findings (see :func:`chainwarden.vulndb.debian.fold_advisories`), so
that one CVE is one finding per package.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from chainwarden.models import (
    MALICIOUS_PACKAGE_RULE_ID,
    VULN_RULE_ID,
    Ecosystem,
    Finding,
    Inventory,
    Package,
    Severity,
    is_malicious_record_id,
    primary_vulnerability_id,
)
from chainwarden.vulndb.debian import (
    DEBIAN_NPM_FOUND_BY,
    DEBIAN_PACKAGED_TAG,
    DebianIds,
    DebianOwners,
    DebianRecords,
    DebianRecordStatus,
    cve_of_debian_record,
    debian_remediation,
    fold_advisories,
    is_advisory_only,
    reconcile_debian_node_modules,
)
from chainwarden.vulndb.os_ecosystems import OS_ECOSYSTEMS, os_lookup, scan_warnings
from chainwarden.vulndb.osv_import import normalize_name
from chainwarden.vulndb.results import (
    UNTITLED,
    GroupInfo,
    ScanResult,
    SkippedPackage,
    Suppression,
    UpgradeOption,
    VulnMatch,
    VulnTemplate,
)
from chainwarden.vulndb.severity import UNKNOWN, SeverityInfo
from chainwarden.vulndb.store import AffectedRow, VulnDatabase, VulnInfo
from chainwarden.vulndb.versions import UncomparableVersion, VersionScheme, scheme_for

RULE_ID = VULN_RULE_ID

# -- parsed index entries ------------------------------------------------------------------


class Event(NamedTuple):
    """One OSV range event (a named tuple: thousands are decoded per scan)."""

    kind: str  # "introduced", "fixed", "last_affected", "limit"
    version: str


@dataclass(frozen=True, slots=True)
class VersionRange:
    type: str  # "ECOSYSTEM" or "SEMVER"
    events: tuple[Event, ...]

    def describe(self) -> str:
        return ", ".join(f"{event.kind} {event.version}" for event in self.events)


@dataclass(frozen=True, slots=True, eq=False)
class AffectedEntry:
    """One ``affected[]`` entry of one record, as matching sees it.

    Compared and hashed by identity: an entry is one database row, and the
    matcher keys its caches by entry.
    """

    vuln_id: str
    ecosystem: str
    name: str
    ranges: tuple[VersionRange, ...]
    #: exact-match forms of the listed versions; a frozenset, or from the database a
    #: str-keyed dict (the garbage collector never has to walk one, a set it walks
    #: on every full collection: PyPA records list hundreds of versions each)
    versions: Collection[str]
    severity: SeverityInfo | None = None

    @classmethod
    def from_row(cls, row: AffectedRow) -> AffectedEntry:
        data = json.loads(row.data)
        return cls(
            vuln_id=row.vuln_id,
            ecosystem=row.ecosystem,
            name=row.name,
            ranges=tuple(VersionRange(kind, tuple(map(Event._make, events))) for kind, events in data["r"]),
            versions=dict.fromkeys(data["v"]),
            severity=row.severity,
        )


@dataclass(slots=True)  # made per (entry, version) in the hot loop: plain init is much faster than frozen
class Verdict:
    """Whether one version is affected by one entry, and the evidence."""

    affected: bool
    fixed: tuple[str, ...] = ()  # smallest fixed version above the installed one, per matching range
    evidence: str = ""
    problems: tuple[str, ...] = ()  # ranges that could not be evaluated, and why
    #: the first matching range (VersionRange.describe()); None when matched through ``versions``
    matched_range: str | None = None


class VersionKeys:
    """Sort keys per (scheme, version string) and compiled ranges, computed once per scan."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Any] = {}
        # id(range) -> (range, scheme name, compiled or the reason it cannot be);
        # the range itself is kept so that its id cannot be reused meanwhile
        self._ranges: dict[int, tuple[VersionRange, str, _CompiledRange | str]] = {}
        self._entries: dict[int, tuple[AffectedEntry, tuple[tuple[VersionScheme, _CompiledRange | str], ...]]] = {}

    def key(self, scheme: VersionScheme, version: str) -> Any:
        """The key, or raises :class:`UncomparableVersion` (also cached)."""
        cache_key = (scheme.name, version)
        try:
            found = self._cache[cache_key]
        except KeyError:
            try:
                found = scheme.key(version)
            except UncomparableVersion as exc:
                found = exc
            self._cache[cache_key] = found
        if isinstance(found, UncomparableVersion):
            raise found
        return found

    def prepared(self, entry: AffectedEntry) -> tuple[tuple[VersionScheme, _CompiledRange | str], ...]:
        """The entry's ranges that have a scheme, compiled (or why not), once per entry."""
        cached = self._entries.get(id(entry))
        if cached is not None and cached[0] is entry:
            return cached[1]
        prepared = []
        for version_range in entry.ranges:
            scheme = scheme_for(entry.ecosystem, version_range.type)
            if scheme is not None:
                prepared.append((scheme, self.compiled(version_range, scheme)))
        result = tuple(prepared)
        self._entries[id(entry)] = (entry, result)
        return result

    def compiled(self, version_range: VersionRange, scheme: VersionScheme) -> _CompiledRange | str:
        """The range with events keyed and sorted, or why an event version cannot be ordered."""
        cached = self._ranges.get(id(version_range))
        if cached is not None and cached[0] is version_range and cached[1] == scheme.name:
            return cached[2]
        try:
            result: _CompiledRange | str = _compile(version_range, scheme, self)
        except UncomparableVersion as exc:
            result = f"range ({version_range.describe()}) skipped: {exc}"
        self._ranges[id(version_range)] = (version_range, scheme.name, result)
        return result


_INTRODUCED, _FIXED, _LAST_AFFECTED = 0, 1, 2


@dataclass(slots=True)  # internal and hot: plain init is several times faster than frozen
class _CompiledRange:
    # (kind, key or None for introduced "0", version text), in OSV evaluation order
    events: tuple[tuple[int, Any, str], ...]
    limits: tuple[Any, ...]
    # the same range as intervals (start or None, end or None, end inclusive),
    # for locating many versions at once with bisect; limits not applied
    intervals: tuple[tuple[Any, Any, bool], ...]
    source: VersionRange
    _text: str | None = None

    @property
    def text(self) -> str:
        """VersionRange.describe(), for evidence: made only for ranges that match something."""
        if self._text is None:
            self._text = self.source.describe()
        return self._text


def _intervals(events: Sequence[tuple[int, Any, str]]) -> tuple[tuple[Any, Any, bool], ...]:
    """Affected intervals of sorted events: the walk of :func:`_in_range`, run once for all versions.

    Events at one version are applied together, twice: once as the walk sees that
    version itself (``last_affected`` still includes it) and once as it sees the
    versions just above (``last_affected`` excludes them). A version just above
    can only be affected when the version itself is, so every interval's start
    is inclusive.
    """
    intervals: list[tuple[Any, Any, bool]] = []
    affected = False
    start: Any = None
    index = 0
    while index < len(events) and events[index][1] is None:  # introduced "0": below every version
        affected = True
        index += 1
    while index < len(events):
        at = events[index][1]
        at_version = above_version = affected
        while index < len(events) and events[index][1] == at:
            kind = events[index][0]
            if kind != _LAST_AFFECTED:
                at_version = kind == _INTRODUCED
            above_version = kind == _INTRODUCED
            index += 1
        if at_version and not affected:
            start = at
        elif affected and not at_version:
            intervals.append((start, at, False))
        if at_version and not above_version:
            intervals.append((start, at, True))
        affected = above_version
    if affected:
        intervals.append((start, None, False))
    return tuple(intervals)


def _in_intervals(compiled: _CompiledRange, installed: Any) -> bool:
    """Same answer as ``_in_range(compiled, installed)[0]`` (tested), through the intervals."""
    if compiled.limits and not any(installed < limit for limit in compiled.limits):
        return False
    for start, end, inclusive in compiled.intervals:
        if start is not None and installed < start:
            continue
        if end is None or installed < end or (inclusive and installed == end):
            return True
    return False


def _compile(version_range: VersionRange, scheme: VersionScheme, keys: VersionKeys) -> _CompiledRange:
    ordered: list[tuple[tuple[int, ...] | tuple[int, Any], int, tuple[int, Any, str]]] = []
    limits: list[Any] = []
    kinds = {"introduced": _INTRODUCED, "fixed": _FIXED, "last_affected": _LAST_AFFECTED}
    for position, event in enumerate(version_range.events):
        if event.kind == "limit":
            if event.version != "*":
                limits.append(keys.key(scheme, event.version))
            continue
        kind = kinds[event.kind]
        if kind == _INTRODUCED and event.version == "0":
            # "0" is below every version, including PEP 440 "0.dev0" and dpkg "0~pre"
            ordered.append(((0,), position, (kind, None, event.version)))
            continue
        key = keys.key(scheme, event.version)
        ordered.append(((1, key), position, (kind, key, event.version)))
    # sort by version; equal versions keep the record's order (sort is stable)
    ordered.sort(key=lambda item: item[0])
    events = tuple(item[2] for item in ordered)
    return _CompiledRange(events, tuple(limits), _intervals(events), version_range)


_NOT_AFFECTED = Verdict(affected=False)


def evaluate(entry: AffectedEntry, version: str, keys: VersionKeys) -> Verdict:
    """Whether ``version`` is affected by ``entry`` (OSV semantics; see module docstring).

    Raises :class:`UncomparableVersion` when the installed version cannot be
    ordered by a scheme some range needs and it is not listed explicitly.
    """
    fixed: list[tuple[Any, str]] = []
    problems: list[str] = []
    evidence = ""
    matched_range: str | None = None
    uncomparable: UncomparableVersion | None = None
    for scheme, compiled in keys.prepared(entry):
        if isinstance(compiled, str):
            problems.append(compiled)
            continue
        try:
            installed = keys.key(scheme, version)
        except UncomparableVersion as exc:
            uncomparable = exc
            continue
        hit, fix = _in_range(compiled, installed)
        if hit:
            if not evidence:
                evidence = _range_evidence(entry.vuln_id, version, compiled.text)
                matched_range = compiled.text
            if fix is not None:
                fixed.append(fix)
    if not evidence and entry.versions:
        exact_form = scheme_for(entry.ecosystem)
        if (exact_form.exact(version) if exact_form else version) in entry.versions:
            evidence = _range_evidence(entry.vuln_id, version, None)
    if not evidence:
        if uncomparable is not None:
            raise uncomparable
        if not problems:
            return _NOT_AFFECTED
    if len(fixed) > 1:
        fixed.sort(key=lambda item: item[0])
        fixed_texts = tuple(dict.fromkeys(text for _, text in fixed))
    else:
        fixed_texts = (fixed[0][1],) if fixed else ()
    return Verdict(bool(evidence), fixed_texts, evidence, tuple(problems), matched_range)


def _range_evidence(vuln_id: str, version: str, matched_range: str | None) -> str:
    if matched_range is None:
        return f"{vuln_id}: {version} is listed as affected"
    return f"{vuln_id}: {version} is in range {matched_range}"


def _in_range(compiled: _CompiledRange, installed: Any) -> tuple[bool, tuple[Any, str] | None]:
    """(affected, smallest fixed version above ``installed``) for one compiled range."""
    affected = False
    smallest_fix: tuple[Any, str] | None = None
    for kind, at, text in compiled.events:
        if kind == _INTRODUCED:
            if at is None or installed >= at:
                affected = True
        elif kind == _FIXED:
            if installed >= at:
                affected = False
            elif smallest_fix is None:
                smallest_fix = (at, text)  # events are sorted: the first fix above is the smallest
        elif installed > at:  # last_affected
            affected = False
    if affected and compiled.limits and not any(installed < limit for limit in compiled.limits):
        affected = False
    return affected, (smallest_fix if affected else None)


def is_affected(entries: Iterable[AffectedEntry], version: str, keys: VersionKeys) -> bool:
    """Whether any of ``entries`` affects ``version`` (uncomparable counts as affected).

    The boolean core of :func:`evaluate`, without building evidence.
    """
    for entry in entries:
        for version_range in entry.ranges:
            scheme = scheme_for(entry.ecosystem, version_range.type)
            if scheme is None:
                continue
            try:
                installed = keys.key(scheme, version)
            except UncomparableVersion:
                return True
            compiled = keys.compiled(version_range, scheme)
            if not isinstance(compiled, str) and _in_range(compiled, installed)[0]:
                return True
        if entry.versions:
            exact_form = scheme_for(entry.ecosystem)
            if (exact_form.exact(version) if exact_form else version) in entry.versions:
                return True
    return False


# -- the matcher ---------------------------------------------------------------------------


class _KnownEcosystems:
    """The database's ecosystem names, read on first use (only OS and binary lookups need them)."""

    def __init__(self, db: VulnDatabase) -> None:
        self._db = db
        self._names: frozenset[str] | None = None

    def __call__(self) -> frozenset[str]:
        if self._names is None:
            self._names = self._db.ecosystem_names()
        return self._names


_Hits = list[tuple[AffectedEntry, Verdict]]
#: (record id or None for the package as a whole, reason)
_Reasons = list[tuple[str | None, str]]


class _Lookup(NamedTuple):
    """Where a package is looked up: OSV ecosystems, normalised name, version to compare.

    A named tuple, not a dataclass: it is made per package and used as a dict
    key throughout, and tuples hash and compare in C.
    """

    ecosystems: tuple[str, ...]
    name: str
    version: str


def _lookup_for(
    package: Package, inventory: Inventory, known_ecosystems: Callable[[], Collection[str]] = frozenset
) -> _Lookup | str:
    """The lookup key, or the reason the package cannot be matched."""
    if package.ecosystem in OS_ECOSYSTEMS:
        # Alpine, rpm, Go, Rust and unknown binaries: vulndb.os_ecosystems chooses where
        found = os_lookup(package, inventory.distro, known_ecosystems)
        return found if isinstance(found, str) else _Lookup(found.ecosystems, found.name, found.version)
    if not package.version or not package.pinned:
        return "no exact version (unpinned or a range)"
    if package.ecosystem is Ecosystem.PYPI:
        return _Lookup(("PyPI",), normalize_name("PyPI", package.name), package.version)
    if package.ecosystem is Ecosystem.NPM:
        return _Lookup(("npm",), package.name, package.version)
    if package.ecosystem is Ecosystem.DEBIAN:
        distro = inventory.distro
        if distro is None:
            return "no /etc/os-release: the Debian release is unknown"
        if distro.id != "debian":
            return f"distribution '{distro.id}' is not covered (Debian advisories only)"
        if not distro.version_id:
            return "Debian release without VERSION_ID (testing/unstable) is not covered"
        release = distro.version_id.split(".", 1)[0]
        # Debian advisories name source packages and source versions: a binNMU
        # "1.2-3+b1" of source "1.2-3" is fixed exactly when its source is
        name = package.source_name or package.name
        version = package.source_version or package.version
        return _Lookup((f"Debian:{release}", "Debian"), name, version)
    return f"ecosystem {package.ecosystem.value} is not covered"


@dataclass(slots=True)  # internal and hot: plain init is several times faster than frozen
class _LookupResult:
    templates: tuple[VulnTemplate, ...]
    reasons: tuple[tuple[str | None, str], ...]
    options: tuple[tuple[str, frozenset[str]], ...]  # (version, fixed ids), lowest version first


class _NameIndex:
    """Every entry for one package name, with the boundaries of all its ranges sorted once.

    The sorted, de-duplicated event and limit versions of all ranges cut the
    version line into slots: each boundary itself, and the open interval below
    it. Every comparison :func:`_in_range` makes gives the same answer for all
    versions in one slot, so a slot's range verdicts are computed for the first
    version that lands in it and reused (a bisect) for every other. Only the
    explicit ``versions`` lists still depend on the exact version; the entries
    that have one are checked per version. Names whose ranges need a second scheme
    (a SEMVER range in a PyPI record) are evaluated per version instead.
    """

    __slots__ = ("bounds", "entries", "listing", "outcomes", "outcomes_by_signature", "scheme", "segmented")

    def __init__(self, entries: list[AffectedEntry], scheme: VersionScheme | None, keys: VersionKeys) -> None:
        self.entries = entries
        self.scheme = scheme
        #: slot → (range hits as (entry position, verdict), reasons)
        self.outcomes: dict[int, tuple[list[tuple[int, Verdict]], _Reasons]] = {}
        #: (slot, listed entry positions) → what every version with that signature shows
        self.outcomes_by_signature: dict[tuple[int, tuple[int, ...]], _Outcome] = {}
        #: positions of the entries with an explicit ``versions`` list
        self.listing = [position for position, entry in enumerate(entries) if entry.versions]
        self.segmented = scheme is not None
        boundaries: list[Any] = []
        for entry in entries:
            for range_scheme, compiled in keys.prepared(entry):
                if range_scheme is not scheme:
                    self.segmented = False
                elif not isinstance(compiled, str):
                    boundaries.extend(at for _, at, _ in compiled.events if at is not None)
                    boundaries.extend(compiled.limits)
        boundaries.sort()
        # equal keys may differ in text ("1.0" and "1.0.0"): keep one of each
        self.bounds = [key for index, key in enumerate(boundaries) if index == 0 or boundaries[index - 1] != key]

    def slot(self, installed: Any) -> int:
        """2i+1 for a version equal to boundary i, 2i for one between boundaries i-1 and i."""
        index = bisect.bisect_left(self.bounds, installed)
        if index < len(self.bounds) and self.bounds[index] == installed:
            return 2 * index + 1
        return 2 * index

    def range_outcome(self, slot: int, installed: Any, keys: VersionKeys) -> tuple[list[tuple[int, Verdict]], _Reasons]:
        """Range verdicts for every entry, for any version in ``slot`` (``installed`` is one of them)."""
        cached = self.outcomes.get(slot)
        if cached is not None:
            return cached
        hits: list[tuple[int, Verdict]] = []
        reasons: _Reasons = []
        for position, entry in enumerate(self.entries):
            fixed: list[tuple[Any, str]] = []
            problems: list[str] = []
            matched: str | None = None
            for _, compiled in keys.prepared(entry):
                if isinstance(compiled, str):
                    problems.append(compiled)
                    continue
                hit, fix = _in_range(compiled, installed)
                if hit:
                    if matched is None:
                        matched = compiled.text
                    if fix is not None:
                        fixed.append(fix)
            reasons.extend((entry.vuln_id, problem) for problem in problems)
            if matched is not None:
                fixed.sort(key=lambda item: item[0])
                fixed_texts = tuple(dict.fromkeys(text for _, text in fixed))
                hits.append((position, Verdict(True, fixed_texts, "", tuple(problems), matched)))
        outcome = (hits, reasons)
        self.outcomes[slot] = outcome
        return outcome


_LISTED = Verdict(True, matched_range=None)
_NO_RESULT = _LookupResult((), (), ())


@dataclass(slots=True)  # internal and hot: plain init is several times faster than frozen
class _Outcome:
    """Hits for one signature (or one version), and what pass 2 makes of them."""

    lookup: _Lookup  # the first version seen with this signature
    hits: _Hits
    reasons: _Reasons
    result: _LookupResult | None = None
    queued: bool = False


class Matcher:
    """Matches packages against one open database; reusable across inventories.

    Work is done once per distinct (ecosystem, name, version), and, for names
    whose ranges share one version scheme, once per slot between range
    boundaries (see :class:`_NameIndex`): the same library in twenty
    virtualenvs, or at twenty versions between the same two fixes, costs one
    evaluation.
    """

    def __init__(self, db: VulnDatabase) -> None:
        self.db = db
        self.keys = VersionKeys()
        self._entries: dict[int, AffectedEntry] = {}
        self._fix_cache: dict[tuple[Any, ...], tuple[frozenset[str], tuple[tuple[str, Any], ...]]] = {}
        self._universes: dict[tuple[Any, ...], tuple[list[str], list[Any]]] = {}
        self._options_cache: dict[tuple[Any, ...], tuple[tuple[str, frozenset[str]], ...]] = {}

    def _candidates(self, lookups: Iterable[_Lookup]) -> dict[tuple[str, str], list[AffectedEntry]]:
        """Entries per (ecosystem, name), one query per ecosystem group."""
        names_by_ecosystems: dict[tuple[str, ...], set[str]] = {}
        for lookup in lookups:
            names_by_ecosystems.setdefault(lookup.ecosystems, set()).add(lookup.name)
        found: dict[tuple[str, str], list[AffectedEntry]] = {}
        for ecosystems, names in names_by_ecosystems.items():
            for row in self.db.affected_rows(ecosystems, names):
                entry = self._entries.get(row.rowid)
                if entry is None:
                    entry = AffectedEntry.from_row(row)
                    self._entries[row.rowid] = entry
                found.setdefault((row.ecosystem, row.name), []).append(entry)
        return found

    def match(self, inventory: Inventory) -> ScanResult:
        """Findings for every package of ``inventory``; see :func:`match_inventory`."""
        skipped: list[SkippedPackage] = []
        # one shared lookup object per distinct lookup; per package its lookup, or None
        distinct: dict[_Lookup, _Lookup] = {}
        package_lookups: list[_Lookup | None] = []
        known = _KnownEcosystems(self.db)
        not_covered: Counter[str] = Counter()
        for package in inventory.packages:
            lookup = _lookup_for(package, inventory, known)
            if isinstance(lookup, str):
                skipped.append(SkippedPackage(package, lookup))
                package_lookups.append(None)
                if package.ecosystem in OS_ECOSYSTEMS:
                    not_covered[lookup] += 1
            else:
                package_lookups.append(distinct.setdefault(lookup, lookup))
        candidates = self._candidates(distinct)

        # pass 1: hits once per signature (slot and listed entries), or per version
        indexes: dict[tuple[tuple[str, ...], str], _NameIndex] = {}
        outcomes: dict[_Lookup, _Outcome] = {}
        pending: list[_Outcome] = []
        for lookup in distinct:
            index_key = (lookup.ecosystems, lookup.name)
            index = indexes.get(index_key)
            if index is None:
                entries = self._entries_for(lookup, candidates)
                index = indexes[index_key] = _NameIndex(entries, scheme_for(lookup.ecosystems[0]), self.keys)
            outcome = self._outcome(lookup, index)
            if outcome.result is None and not outcome.queued:
                outcome.queued = True
                pending.append(outcome)
            outcomes[lookup] = outcome

        infos = self.db.vulns({entry.vuln_id for outcome in pending for entry, _ in outcome.hits})
        group_cache: dict[tuple[int, ...], GroupInfo] = {}
        partitions: dict[frozenset[str], dict[str, int]] = {}
        built: dict[tuple[tuple[int, tuple[str, ...], str | None], ...], VulnTemplate] = {}
        folded: dict[tuple[int, ...], list[VulnTemplate]] = {}
        debian_ids = DebianIds(self.db)  # reads records only when a Debian finding needs it

        # pass 2: templates and upgrade options, once per outcome
        for outcome in pending:
            lookup, hits = outcome.lookup, outcome.hits
            merged = _merge_aliases(lookup, hits, infos, group_cache, self.keys, partitions, built)
            if lookup.ecosystems[0].startswith("Debian") and any(is_advisory_only(t) for t in merged):
                # templates live as long as ``built``: their ids identify the combination
                fold_key = tuple(id(template) for template in merged)
                if fold_key not in folded:
                    folded[fold_key] = fold_advisories(merged, debian_ids, self._version_order(lookup))
                merged = folded[fold_key]
            # in report order (worst first, then by id): pass 3 then emits matches sorted
            templates = tuple(sorted(merged, key=lambda t: (-t.info.severity.severity.rank, t.info.vuln_id)))
            options = self._upgrade_options(lookup, templates, candidates)
            outcome.result = _LookupResult(templates, tuple(outcome.reasons), options)

        # pass 3: skip reasons and upgrade options in inventory order, then one
        # finding per (vulnerability, package) in report order: by package name and
        # identity (a stable sort keeps inventory order for equal ones), worst first
        upgrade_options: list[UpgradeOption] = []
        vulnerable: list[tuple[Package, _Lookup, _LookupResult]] = []
        for package, package_lookup in zip(inventory.packages, package_lookups, strict=True):
            if package_lookup is None:
                continue
            result = outcomes[package_lookup].result
            assert result is not None
            if result.reasons:
                skipped.extend(SkippedPackage(package, reason, vuln_id) for vuln_id, reason in result.reasons)
            if result.templates:
                vulnerable.append((package, package_lookup, result))
            if result.options:
                upgrade_options.extend(
                    UpgradeOption(package, version, fixes, rank) for rank, (version, fixes) in enumerate(result.options)
                )
        vulnerable.sort(key=lambda item: (item[0].name, item[0].id))
        matches: list[VulnMatch] = []
        evidence_by_lookup: dict[_Lookup, tuple[tuple[str, ...], ...]] = {}
        debian_owners = DebianOwners(inventory)
        for package, package_lookup, result in vulnerable:
            evidence = evidence_by_lookup.get(package_lookup)
            if evidence is None:
                evidence = tuple(_evidence(template, package_lookup.version) for template in result.templates)
                evidence_by_lookup[package_lookup] = evidence
            matches.extend(
                _instantiate(template, package, package_lookup, template_evidence, debian_owners)
                for template, template_evidence in zip(result.templates, evidence, strict=True)
            )
        final: Sequence[VulnMatch] = matches
        suppressed: tuple[Suppression, ...] = ()
        if debian_owners.used:

            def records_of(deb: Package) -> DebianRecords | None:
                return self._debian_records(deb, inventory, candidates)

            reconciled = reconcile_debian_node_modules(matches, debian_owners, records_of, debian_ids)
            final, suppressed = reconciled.matches, reconciled.suppressed
            if reconciled.renamed:
                upgrade_options = [_renamed(option, reconciled.renamed) for option in upgrade_options]
        return ScanResult(
            matches=tuple(final),
            skipped=tuple(skipped),
            upgrade_options=tuple(upgrade_options),
            suppressed=suppressed,
            packages_scanned=len(inventory.packages),
            warnings=tuple(scan_warnings(not_covered, not_covered)),
        )

    def _debian_records(
        self, deb: Package, inventory: Inventory, candidates: Mapping[tuple[str, str], list[AffectedEntry]]
    ) -> DebianRecords | None:
        """The records of ``deb``'s source package evaluated at its installed source version,
        or None when Debian packages are not matched here."""
        lookup = _lookup_for(deb, inventory)
        if isinstance(lookup, str):
            return None
        statuses = tuple(self._record_status(entry, lookup.version) for entry in self._entries_for(lookup, candidates))
        return DebianRecords(lookup.ecosystems[0], lookup.name, lookup.version, statuses)

    def _record_status(self, entry: AffectedEntry, version: str) -> DebianRecordStatus:
        try:
            verdict = evaluate(entry, version, self.keys)
        except UncomparableVersion:
            return DebianRecordStatus(entry.vuln_id, not_affected=False)
        if verdict.affected or verdict.problems:
            return DebianRecordStatus(entry.vuln_id, not_affected=False)
        return DebianRecordStatus(entry.vuln_id, True, _fix_at_or_below(entry, version, self.keys))

    def _version_order(self, lookup: _Lookup) -> Callable[[str], Any]:
        """The sort key of versions in ``lookup``'s ecosystem (unorderable ones last, by text)."""
        scheme = scheme_for(lookup.ecosystems[0])
        return lambda version: _sort_key(scheme, version, self.keys)

    def _entries_for(
        self, lookup: _Lookup, candidates: Mapping[tuple[str, str], list[AffectedEntry]]
    ) -> list[AffectedEntry]:
        entries: list[AffectedEntry] = []
        for ecosystem in lookup.ecosystems:
            entries.extend(candidates.get((ecosystem, lookup.name), ()))
        return entries

    def _outcome(self, lookup: _Lookup, index: _NameIndex) -> _Outcome:
        """The outcome for one installed version: shared by every version with its signature.

        The signature is the slot among the range boundaries plus the entries
        whose ``versions`` list names this version and whose ranges do not
        already match; versions with one signature get the same hits, reasons,
        templates and upgrade options. Versions the scheme cannot order, and
        names with mixed schemes, are evaluated on their own.
        """
        if not index.entries:
            return _Outcome(lookup, [], [], _NO_RESULT)
        installed: Any = None
        if index.segmented:
            assert index.scheme is not None
            try:
                installed = self.keys.key(index.scheme, lookup.version)
            except UncomparableVersion:
                installed = None
        if installed is None:
            hits, reasons = self._evaluate_all(lookup, index.entries)
            return _Outcome(lookup, hits, reasons)
        assert index.scheme is not None
        slot = index.slot(installed)
        range_hits, reasons = index.range_outcome(slot, installed, self.keys)
        listed: tuple[int, ...] = ()
        if index.listing:
            exact = index.scheme.exact(lookup.version)
            entries = index.entries
            listed = tuple(position for position in index.listing if exact in entries[position].versions)
            if listed and range_hits:
                by_range = {position for position, _ in range_hits}
                listed = tuple(position for position in listed if position not in by_range)
        signature = (slot, listed)
        outcome = index.outcomes_by_signature.get(signature)
        if outcome is not None:
            return outcome
        if listed:
            merged = sorted([*range_hits, *((position, _LISTED) for position in listed)], key=lambda hit: hit[0])
        else:
            merged = range_hits
        hits = [(index.entries[position], verdict) for position, verdict in merged]
        outcome = index.outcomes_by_signature[signature] = _Outcome(lookup, hits, reasons)
        return outcome

    def _evaluate_all(self, lookup: _Lookup, entries: Sequence[AffectedEntry]) -> tuple[_Hits, _Reasons]:
        hits: _Hits = []
        reasons: _Reasons = []
        uncomparable: str | None = None
        for entry in entries:
            try:
                verdict = evaluate(entry, lookup.version, self.keys)
            except UncomparableVersion as exc:
                uncomparable = f"could not compare: {exc}"
                continue
            reasons.extend((entry.vuln_id, problem) for problem in verdict.problems)
            if verdict.affected:
                hits.append((entry, verdict))
        if uncomparable is not None:
            reasons.insert(0, (None, uncomparable))
        return hits, reasons

    def _upgrade_options(
        self,
        lookup: _Lookup,
        templates: Sequence[VulnTemplate],
        candidates: Mapping[tuple[str, str], list[AffectedEntry]],
    ) -> tuple[tuple[str, frozenset[str]], ...]:
        scheme = scheme_for(lookup.ecosystems[0])
        if scheme is None or not any(template.fixed_versions for template in templates):
            return ()
        try:
            installed = self.keys.key(scheme, lookup.version)
        except UncomparableVersion:
            return ()
        # the answer depends on the installed version only through which of the
        # package's fixed versions lie above it: versions between the same two
        # fixes share it
        _, universe_keys = self._fix_universe(lookup, scheme, candidates)
        cache_key = (
            lookup.ecosystems,
            lookup.name,
            tuple(
                (template.info.vuln_id, template.info.record_ids, template.extra_fix_groups) for template in templates
            ),
            bisect.bisect_right(universe_keys, installed),
        )
        cached = self._options_cache.get(cache_key)
        if cached is not None:
            return cached
        # every fixed version above the installed one is a candidate, not only the
        # nearest: a vulnerability re-introduced later is fixed only by a later fix
        versions: dict[str, Any] = {}
        fixed_sets = []
        for template in templates:
            fixes, fixed_events = self._group_fixes(lookup, template.info.record_ids, scheme, candidates)
            for group in template.extra_fix_groups:
                # a folded Debian advisory's fix resolves the finding as well
                group_fixes, group_events = self._group_fixes(lookup, group, scheme, candidates)
                fixes, fixed_events = fixes | group_fixes, fixed_events + group_events
            fixed_sets.append((template.info.vuln_id, fixes))
            for version, key in fixed_events:
                if key > installed:
                    versions[version] = key
        ordered = sorted(versions, key=lambda v: versions[v])
        options = tuple(
            (version, frozenset(vuln_id for vuln_id, fixes in fixed_sets if version in fixes)) for version in ordered
        )
        self._options_cache[cache_key] = options
        return options

    def _group_fixes(
        self,
        lookup: _Lookup,
        record_ids: tuple[str, ...],
        scheme: VersionScheme,
        candidates: Mapping[tuple[str, str], list[AffectedEntry]],
    ) -> tuple[frozenset[str], tuple[tuple[str, Any], ...]]:
        """(versions among every fix of this package that resolve the records, the records' own fixes).

        Cached per package name and record group: twenty installed versions of
        one library share the work.
        """
        cache_key = (lookup.ecosystems, lookup.name, record_ids)
        cached = self._fix_cache.get(cache_key)
        if cached is not None:
            return cached
        ordered, sorted_keys = self._fix_universe(lookup, scheme, candidates)
        entries = [e for e in self._entries_for(lookup, candidates) if e.vuln_id in record_ids]
        fixes = frozenset(ordered[i] for i in _fixing_indices(entries, ordered, sorted_keys, scheme, self.keys))
        result = (fixes, tuple(_fixed_versions(entries, scheme, self.keys).items()))
        self._fix_cache[cache_key] = result
        return result

    def _fix_universe(
        self, lookup: _Lookup, scheme: VersionScheme, candidates: Mapping[tuple[str, str], list[AffectedEntry]]
    ) -> tuple[list[str], list[Any]]:
        """Every fixed version any record names for this package, sorted."""
        cache_key = (lookup.ecosystems, lookup.name)
        cached = self._universes.get(cache_key)
        if cached is not None:
            return cached
        versions = _fixed_versions(self._entries_for(lookup, candidates), scheme, self.keys)
        ordered = sorted(versions, key=lambda v: versions[v])
        result = (ordered, [versions[v] for v in ordered])
        self._universes[cache_key] = result
        return result


def _fixed_versions(entries: Iterable[AffectedEntry], scheme: VersionScheme, keys: VersionKeys) -> dict[str, Any]:
    """Every ``fixed`` event version of ``entries`` that ``scheme`` can order, with its key, first seen first."""
    versions: dict[str, Any] = {}
    for entry in entries:
        for version_range in entry.ranges:
            for event in version_range.events:
                if event.kind == "fixed" and event.version not in versions:
                    try:
                        versions[event.version] = keys.key(scheme, event.version)
                    except UncomparableVersion:
                        continue
    return versions


def _fix_at_or_below(entry: AffectedEntry, version: str, keys: VersionKeys) -> str | None:
    """The highest ``fixed`` event of ``entry`` at or below ``version``, or None.

    Asked only of entries that :func:`evaluate` read without problems, so every range compiles.
    """
    best: tuple[Any, str] | None = None
    for scheme, compiled in keys.prepared(entry):
        if isinstance(compiled, str):
            continue
        try:
            installed = keys.key(scheme, version)
        except UncomparableVersion:
            continue
        for kind, at, text in compiled.events:
            if kind == _FIXED and at <= installed and (best is None or at > best[0]):
                best = (at, text)
    return best[1] if best is not None else None


def _fixing_indices(
    entries: Sequence[AffectedEntry],
    ordered: Sequence[str],
    sorted_keys: Sequence[Any],
    scheme: VersionScheme,
    keys: VersionKeys,
) -> list[int]:
    """Indices of the candidate versions (sorted) that none of ``entries`` affects.

    Equivalent to ``not is_affected(entries, version)`` per candidate, but each
    range is located among all candidates at once with bisect.
    """
    count = len(ordered)
    affected = [False] * count
    for entry in entries:
        for version_range in entry.ranges:
            range_scheme = scheme_for(entry.ecosystem, version_range.type)
            if range_scheme is None:
                continue
            compiled = keys.compiled(version_range, range_scheme)
            if isinstance(compiled, str):
                continue
            if range_scheme is not scheme:
                # e.g. a SEMVER range in a PyPI record: other keys, one by one
                for index, version in enumerate(ordered):
                    try:
                        hit = _in_intervals(compiled, keys.key(range_scheme, version))
                    except UncomparableVersion:
                        hit = True
                    affected[index] = affected[index] or hit
                continue
            ceiling = bisect.bisect_left(sorted_keys, max(compiled.limits)) if compiled.limits else count
            for start, end, inclusive in compiled.intervals:
                low = 0 if start is None else bisect.bisect_left(sorted_keys, start)
                if end is None:
                    high = count
                elif inclusive:
                    high = bisect.bisect_right(sorted_keys, end)
                else:
                    high = bisect.bisect_left(sorted_keys, end)
                for index in range(low, min(high, ceiling)):
                    affected[index] = True
        if entry.versions:
            for index, version in enumerate(ordered):
                if not affected[index] and scheme.exact(version) in entry.versions:
                    affected[index] = True
    return [index for index in range(count) if not affected[index]]


_ID_PREFERENCE = ("PYSEC-", "DSA-", "DLA-", "DTSA-", "DEBIAN-", "GHSA-", "MAL-")
#: The order reports list a vulnerability under (report.cyclonedx.primary_vulnerability_id):
#: people and other scanners search by CVE first, then by GitHub advisory.


def primary_id(ids: Iterable[str]) -> str:
    """The id a vulnerability is shown and counted under in every format (see
    :func:`chainwarden.models.primary_vulnerability_id`); the OSV records that
    matched stay in ``VulnMatch.record_ids`` and in the evidence."""
    return primary_vulnerability_id(ids)


def _canonical_id(record_ids: Iterable[str]) -> str:
    """The record whose summary and details a merged finding shows: the ecosystem database's own first."""

    def rank(vuln_id: str) -> tuple[int, str]:
        for index, prefix in enumerate(_ID_PREFERENCE):
            if vuln_id.startswith(prefix):
                return (index, vuln_id)
        return (len(_ID_PREFERENCE), vuln_id)

    return min(record_ids, key=rank)


def _merge_aliases(
    lookup: _Lookup,
    hits: Sequence[tuple[AffectedEntry, Verdict]],
    infos: Mapping[str, VulnInfo],
    cache: dict[tuple[int, ...], GroupInfo],
    keys: VersionKeys,
    partitions: dict[frozenset[str], dict[str, int]],
    built: dict[tuple[tuple[int, tuple[str, ...], str | None], ...], VulnTemplate],
) -> list[VulnTemplate]:
    """One template per vulnerability: records that alias each other (transitively) merge."""
    record_ids = frozenset(entry.vuln_id for entry, _ in hits)
    partition = partitions.get(record_ids)
    if partition is None:
        partition = partitions[record_ids] = _alias_partition(record_ids, infos)
    groups: dict[int, list[tuple[AffectedEntry, Verdict]]] = {}
    for entry, verdict in hits:
        groups.setdefault(partition[entry.vuln_id], []).append((entry, verdict))
    templates = []
    for group in groups.values():
        # one vulnerability often looks the same from several slots (only another
        # record's range changed): entries are alive for the scan, so ids identify them
        group_key = tuple((id(entry), verdict.fixed, verdict.matched_range) for entry, verdict in group)
        template = built.get(group_key)
        if template is None:
            template = built[group_key] = _build_template(lookup, group, infos, cache, keys)
        templates.append(template)
    return templates


def _alias_partition(record_ids: frozenset[str], infos: Mapping[str, VulnInfo]) -> dict[str, int]:
    """Group number per record id: union-find over the records' aliases."""
    parent: dict[str, str] = {}

    def find(item: str) -> str:
        while parent.setdefault(item, item) != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for record_id in sorted(record_ids):
        find(record_id)
        info = infos.get(record_id)
        for alias in info.aliases if info else ():
            root_a, root_b = find(record_id), find(alias)
            if root_a != root_b:
                parent[root_b] = root_a
    numbers: dict[str, int] = {}
    return {record_id: numbers.setdefault(find(record_id), len(numbers)) for record_id in sorted(record_ids)}


def _group_info(entries: Sequence[AffectedEntry], infos: Mapping[str, VulnInfo]) -> GroupInfo:
    record_ids = tuple(sorted({entry.vuln_id for entry in entries}))
    canonical = _canonical_id(record_ids)
    records = [infos[i] for i in record_ids if i in infos]
    main = infos.get(canonical)
    aliases = {canonical, *record_ids}
    for info in records:
        aliases.update(info.aliases)
    for record_id in record_ids:
        # Debian's per-CVE records rarely alias their CVE: listed and searchable under it
        cve = cve_of_debian_record(record_id)
        if cve is not None:
            aliases.add(cve)
    severity = UNKNOWN
    for entry in entries:
        candidate = entry.severity or (infos[entry.vuln_id].severity if entry.vuln_id in infos else UNKNOWN)
        if candidate.severity.rank > severity.severity.rank:
            severity = candidate  # merged records disagree: the gate takes the worst
    summary = (main.summary if main else "") or next((r.summary for r in records if r.summary), "")
    details = (main.details if main else "") or next((r.details for r in records if r.details), "")
    references: dict[str, None] = {}
    for info in [*([main] if main else []), *records]:
        references.update(dict.fromkeys(info.references))
    return GroupInfo(
        vuln_id=primary_id(aliases),
        record_ids=record_ids,
        severity=severity,
        # reports put the ids beside the title (aliases); the evidence names the matching records
        title=summary or _first_line(details) or UNTITLED,
        description=details or summary,
        references=tuple(references),
        aliases=frozenset(aliases),
    )


def _build_template(
    lookup: _Lookup,
    group: Sequence[tuple[AffectedEntry, Verdict]],
    infos: Mapping[str, VulnInfo],
    cache: dict[tuple[int, ...], GroupInfo],
    keys: VersionKeys,
) -> VulnTemplate:
    # entries are kept alive by the matcher, so their ids identify the group
    cache_key = tuple(sorted(id(entry) for entry, _ in group))
    info = cache.get(cache_key)
    if info is None:
        info = cache[cache_key] = _group_info([entry for entry, _ in group], infos)
    scheme = scheme_for(lookup.ecosystems[0])
    fixed: dict[str, Any] = {}
    for _, verdict in group:
        for version in verdict.fixed:
            if version not in fixed:
                fixed[version] = _sort_key(scheme, version, keys)
    parts = tuple(dict.fromkeys((entry.vuln_id, verdict.matched_range) for entry, verdict in group if verdict.affected))
    return VulnTemplate(
        info=info,
        fixed_versions=tuple(sorted(fixed, key=lambda v: fixed[v])) if len(fixed) > 1 else tuple(fixed),
        evidence_parts=parts,
    )


def _evidence(template: VulnTemplate, version: str) -> tuple[str, ...]:
    """Why ``version`` matched, record by record, then the CVSS vector (reports recompute the score)."""
    evidence = [_range_evidence(vuln_id, version, matched) for vuln_id, matched in template.evidence_parts]
    evidence.extend(template.notes)
    if template.info.severity.vector:
        evidence.append(template.info.severity.vector)
    return tuple(dict.fromkeys(evidence))


_NO_TAGS: frozenset[str] = frozenset()
_DEBIAN_PACKAGED_TAGS = frozenset({DEBIAN_PACKAGED_TAG})


def _instantiate(
    template: VulnTemplate,
    package: Package,
    lookup: _Lookup,
    evidence: tuple[str, ...],
    debian_owners: DebianOwners | None = None,
) -> VulnMatch:
    tags = _NO_TAGS
    if package.found_by == DEBIAN_NPM_FOUND_BY and debian_owners is not None:
        owner = debian_owners.of(package)
        remediation = debian_remediation(package, template.fixed_versions, owner)
        tags = _DEBIAN_PACKAGED_TAGS
        if owner is not None:
            evidence = (
                f"shipped by Debian package {owner.name} {owner.version} (source {owner.source_name})",
                *evidence,
            )
    else:
        shown_name = package.name if lookup.name == package.name else f"{package.name} (source {lookup.name})"
        if template.fixed_versions and package.ecosystem in (Ecosystem.GOLANG, Ecosystem.CARGO):
            # compiled in: the fix ships only when the binary is rebuilt
            binary = package.locations[0].path if package.locations else "the binary"
            if package.name == "stdlib":
                remediation = f"rebuild {binary} with Go {template.fixed_versions[0]}"
            else:
                remediation = f"upgrade {shown_name} to {template.fixed_versions[0]} and rebuild {binary}"
        elif template.fixed_versions:
            remediation = f"upgrade {shown_name} to {template.fixed_versions[0]}"
        else:
            remediation = f"no fixed version of {lookup.name} is published yet"
    if lookup.ecosystems[0].startswith("Debian") and (lookup.name, lookup.version) != (package.name, package.version):
        note = f"matched as Debian source package {lookup.name} {lookup.version} ({lookup.ecosystems[0]})"
        evidence = (note, *evidence)
    rule_id, severity, title = RULE_ID, template.info.severity.severity, template.info.title
    if any(is_malicious_record_id(vuln_id) for vuln_id in template.info.aliases):
        # No upgrade fixes a package published to do harm: it goes, and whatever ran it is suspect.
        rule_id, severity = MALICIOUS_PACKAGE_RULE_ID, Severity.CRITICAL
        title = f"known malicious package: {title}"
        remediation = (
            f"remove {package.name} {package.version} now: it is a published malicious package; treat every "
            "machine and build that installed it as compromised and rotate the credentials they could reach"
        )
    finding = Finding(
        rule_id=rule_id,
        severity=severity,
        title=title,
        package=package,
        location=package.locations[0] if package.locations else None,
        evidence=evidence,
        remediation=remediation,
        aliases=template.info.aliases,
        description=template.info.description,
        fixed_versions=template.fixed_versions,
        references=template.info.references,
        tags=tags,
    )
    return VulnMatch(template.info.vuln_id, finding, template.info.record_ids)


def _renamed(option: UpgradeOption, renamed: Mapping[tuple[int, str], str]) -> UpgradeOption:
    """``option`` naming its package's findings by the ids they are listed under now."""
    key = id(option.package)
    fixes = frozenset(renamed.get((key, vuln_id), vuln_id) for vuln_id in option.fixes)
    return option if fixes == option.fixes else replace(option, fixes=fixes)


def _sort_key(scheme: VersionScheme | None, version: str, keys: VersionKeys) -> Any:
    if scheme is None:
        return (1, version)
    try:
        return (0, keys.key(scheme, version))
    except UncomparableVersion:
        return (1, version)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 120 else line[:117] + "…"


def match_inventory(inventory: Inventory, db: VulnDatabase) -> ScanResult:
    """Match every package of ``inventory`` against ``db``.

    PyPI names are compared PEP 503-normalised, npm names exactly, Debian
    binary packages through their source package and the release in
    ``inventory.distro`` (``Debian:12``). Packages that cannot be compared are
    in ``ScanResult.skipped`` with the reason, never silently dropped.

    Debian packages get one finding per CVE: an advisory (DSA, DLA, DTSA) whose
    CVEs have Debian per-CVE records (``DEBIAN-CVE-…``) matching the package is
    folded into those findings, as an alias, an evidence line, and its fixed
    version and severity where better or worse; what it fixes beyond them stays
    a finding of its own.

    Node modules that Debian ships (found by ``npm-debian``) get one finding per
    vulnerability: an npm advisory that Debian's records for the owning .deb also
    cover merges into the .deb's finding, or, when those records say the
    installed .deb is fixed, moves to ``ScanResult.suppressed`` (see
    :mod:`chainwarden.vulndb.debian`).
    """
    return Matcher(db).match(inventory)
