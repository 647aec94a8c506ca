"""The matcher's shared work (slots between range boundaries, shared templates and options),
the display id the reporters agree on, and Debian-shipped node modules."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainwarden.inventory.npm import DEBIAN_FOUND_BY
from chainwarden.models import Distro, Ecosystem, Finding, Inventory, Location, Package, RuleId, Severity, TargetInfo
from chainwarden.report.cyclonedx import primary_vulnerability_id
from chainwarden.vulndb import DEBIAN_PACKAGED_TAG, ScanResult, import_osv, match_inventory, open_database
from chainwarden.vulndb.debian import DEBIAN_NPM_FOUND_BY
from chainwarden.vulndb.match import (
    AffectedEntry,
    Matcher,
    VersionKeys,
    evaluate,
    primary_id,
)
from chainwarden.vulndb.osv_import import record_from_osv
from chainwarden.vulndb.store import AffectedRow, VulnDatabase, VulnInfo
from chainwarden.vulndb.versions import UncomparableVersion

# -- an in-memory database (unit level: the matcher only needs these two queries) -------------


class MemoryDatabase:
    def __init__(self, documents: Sequence[dict[str, Any]]) -> None:
        self.records = [record_from_osv(document) for document in documents]
        self.rows = [
            AffectedRow(rowid, record.id, affected.ecosystem, affected.name, affected.data_json(), affected.severity)
            for rowid, (record, affected) in enumerate(
                (record, affected) for record in self.records for affected in record.affected
            )
        ]

    def affected_rows(self, ecosystems: Sequence[str], names: Collection[str]) -> list[AffectedRow]:
        return [row for row in self.rows if row.ecosystem in ecosystems and row.name in names]

    def vulns(self, ids: Collection[str]) -> dict[str, VulnInfo]:
        return {
            r.id: VulnInfo(r.id, r.summary, r.details, r.aliases, r.severity, r.references, r.modified, r.published)
            for r in self.records
            if r.id in ids
        }


def matcher(documents: Sequence[dict[str, Any]]) -> tuple[Matcher, MemoryDatabase]:
    database = MemoryDatabase(documents)
    return Matcher(cast(VulnDatabase, database)), database


# -- generated records and installed versions ------------------------------------------------

VERSIONS = ["0", "1.0", "1.0.0", "1.2", "1.5rc1", "1.5", "2.0", "2.0.post1", "3", "bad!"]
INSTALLED = ["0.5", "1.0", "1.0.0", "1.1", "1.2", "1.5.dev0", "1.5rc1", "1.5", "2.0", "2.5", "3", "9", "not valid!"]
SEMVER_EVENTS = ["0", "1.0.0", "2.0.0", "2.0.0-rc.1"]

_EVENT = st.tuples(
    st.sampled_from(["introduced", "fixed", "last_affected", "limit"]), st.sampled_from(VERSIONS)
).filter(lambda event: event[1] != "0" or event[0] == "introduced")
_SEMVER_EVENT = st.tuples(st.sampled_from(["introduced", "fixed"]), st.sampled_from(SEMVER_EVENTS)).filter(
    lambda event: event[1] != "0" or event[0] == "introduced"
)
_RANGE = st.one_of(
    st.tuples(st.just("ECOSYSTEM"), st.lists(_EVENT, min_size=1, max_size=5)),
    st.tuples(st.just("SEMVER"), st.lists(_SEMVER_EVENT, min_size=1, max_size=3)),  # a second scheme for the name
)


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    documents = []
    for index in range(draw(st.integers(1, 5))):
        ranges = draw(st.lists(_RANGE, max_size=2))
        affected: dict[str, Any] = {
            "package": {"ecosystem": "PyPI", "name": draw(st.sampled_from(["lib", "other"]))},
            "ranges": [{"type": kind, "events": [{k: v} for k, v in events]} for kind, events in ranges],
        }
        if draw(st.booleans()):
            affected["versions"] = draw(st.lists(st.sampled_from([*VERSIONS, "1.1", "9"]), max_size=4))
        documents.append(
            {
                "id": f"PYSEC-{index}",
                "modified": "2024-01-01T00:00:00Z",
                "summary": f"record {index}",
                # records sharing an alias merge into one finding
                "aliases": draw(st.lists(st.sampled_from(["CVE-1", "CVE-2", "GHSA-x"]), max_size=1)),
                "affected": [affected],
            }
        )
    return documents


def pypi(name: str, version: str, where: int) -> Package:
    return Package(
        Ecosystem.PYPI, name, version, f"pkg:pypi/{name}@{version}", "test", (Location(f"/venv{where}/{name}"),)
    )


def view(result: ScanResult) -> list[Any]:
    """Everything a report shows, per package, in a comparable form."""
    return sorted(
        [
            *(("match", m.package.id, m.vuln_id, m.record_ids, repr(m.finding)) for m in result.matches),
            *(("skipped", s.package.id, s.vuln_id or "", s.reason, "") for s in result.skipped),
            *(
                ("option", o.package.id, o.version, tuple(sorted(o.fixes)), str(o.order))
                for o in result.upgrade_options
            ),
        ]
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), st.lists(st.tuples(st.sampled_from(["lib", "other"]), st.sampled_from(INSTALLED)), max_size=10))
def test_shared_work_gives_what_each_version_alone_gives(
    documents: list[dict[str, Any]], installed: list[tuple[str, str]]
) -> None:
    packages = [pypi(name, version, where) for where, (name, version) in enumerate(installed)]
    shared, database = matcher(documents)
    together = shared.match(Inventory(TargetInfo("dir", "t"), tuple(packages)))
    alone = [matcher(documents)[0].match(Inventory(TargetInfo("dir", "t"), (p,))) for p in packages]
    assert view(together) == sorted(item for result in alone for item in view(result))
    # report order: by package name and identity (inventory order for equals), worst first, then id
    order = [(m.package.name, m.package.id, -m.finding.severity.rank, m.vuln_id) for m in together.matches]
    assert order == sorted(order)
    assert [s.package for s in together.skipped] == sorted((s.package for s in together.skipped), key=packages.index)

    # and the records that match are exactly those evaluate() (the OSV walk) says affect the version
    entries = [AffectedEntry.from_row(row) for row in database.rows]
    keys = VersionKeys()
    for package in packages:
        expected = set()
        for entry in entries:
            if entry.name != package.name:
                continue
            try:
                if evaluate(entry, package.version, keys).affected:
                    expected.add(entry.vuln_id)
            except UncomparableVersion:
                continue
        found = {i for m in together.matches if m.package is package for i in m.record_ids}
        assert found == expected


def test_versions_between_the_same_boundaries_share_their_evidence_text_per_version() -> None:
    shared, _ = matcher(
        [
            {
                "id": "PYSEC-1",
                "modified": "2024-01-01T00:00:00Z",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "lib"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "2.0"}]}],
                    }
                ],
            }
        ]
    )
    result = shared.match(Inventory(TargetInfo("dir", "t"), (pypi("lib", "1.1", 0), pypi("lib", "1.7", 1))))
    assert [m.finding.evidence for m in result.matches] == [
        ("PYSEC-1: 1.1 is in range introduced 1.0, fixed 2.0",),
        ("PYSEC-1: 1.7 is in range introduced 1.0, fixed 2.0",),
    ]


# -- one id for one vulnerability, everywhere ------------------------------------------------

_IDS = st.sampled_from(["CVE-2024-2", "CVE-2023-9", "GHSA-b", "GHSA-a", "PYSEC-1", "DSA-5000-1", "DEBIAN-CVE-2024-3"])


@given(st.sets(_IDS, min_size=1))
def test_primary_id_is_the_reporters_id(ids: set[str]) -> None:
    finding = Finding(RuleId("vuln"), Severity.HIGH, "t", aliases=frozenset(ids))
    assert primary_id(ids) == primary_vulnerability_id(finding)


# -- Debian-shipped node modules ---------------------------------------------------------------


def test_inventory_and_matcher_agree_on_the_debian_node_module_marker() -> None:
    assert DEBIAN_NPM_FOUND_BY == DEBIAN_FOUND_BY


def test_debian_shipped_node_module_names_apt_as_the_fix(tmp_path: Path) -> None:
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    record = {
        "id": "GHSA-35jh-r3h4-6jhm",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2021-23337"],
        "summary": "Command injection in lodash",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}],
            }
        ],
    }
    (advisories / "GHSA-35jh-r3h4-6jhm.json").write_text(json.dumps(record))
    db = tmp_path / "osv.sqlite3"
    import_osv([advisories], db)
    shipped = Package(
        Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", DEBIAN_FOUND_BY,
        (Location("/usr/share/nodejs/lodash/package.json"),), ("/usr/share/nodejs/lodash/package.json",),
    )  # fmt: skip
    owner = Package(
        Ecosystem.DEBIAN, "node-lodash", "4.17.20+dfsg+~cs8.31.198.20210220-9", "pkg:deb/debian/node-lodash",
        "dpkg-status", (Location("/var/lib/dpkg/status"),), ("/usr/share/nodejs/lodash/package.json",),
        source_name="node-lodash",
    )  # fmt: skip
    orphan = Package(
        Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", DEBIAN_FOUND_BY,
        (Location("/usr/lib/nodejs/lodash/package.json"),),
    )  # fmt: skip
    upstream = Package(
        Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", "npm-installed",
        (Location("/app/node_modules/lodash/package.json"),),
    )  # fmt: skip
    inventory = Inventory(
        TargetInfo("dir", "t"), (shipped, owner, orphan, upstream), distro=Distro("debian", "12", "bookworm")
    )
    with open_database(db) as database:
        result = match_inventory(inventory, database)
    by_path = {m.finding.location.path: m.finding for m in result.matches if m.finding.location}
    debian = by_path["/usr/share/nodejs/lodash/package.json"]
    assert debian.tags == {DEBIAN_PACKAGED_TAG}
    assert debian.remediation is not None
    assert "node-lodash" in debian.remediation and "apt-get install --only-upgrade node-lodash" in debian.remediation
    assert "do not upgrade it with npm" in debian.remediation
    assert "Debian may have backported the fix" in debian.remediation
    assert "upstream fixed it in lodash 4.17.21" in debian.remediation
    assert debian.evidence[0].startswith("shipped by Debian package node-lodash 4.17.20+dfsg")
    assert debian.fixed_versions == ("4.17.21",)  # still the npm advisory's facts
    no_owner = by_path["/usr/lib/nodejs/lodash/package.json"]
    assert no_owner.tags == {DEBIAN_PACKAGED_TAG}
    assert no_owner.remediation is not None and "dpkg -S /usr/lib/nodejs/lodash/package.json" in no_owner.remediation
    plain = by_path["/app/node_modules/lodash/package.json"]
    assert plain.tags == frozenset()
    assert plain.remediation == "upgrade lodash to 4.17.21"
