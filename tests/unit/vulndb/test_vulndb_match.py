"""OSV range semantics and inventory matching, per ecosystem, with records written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chainwarden.models import Distro, Ecosystem, Inventory, Location, Package, Scope, Severity, TargetInfo
from chainwarden.vulndb import ScanResult, import_osv, match_inventory, open_database
from chainwarden.vulndb.match import (
    AffectedEntry,
    Event,
    VersionKeys,
    VersionRange,
    _in_intervals,
    _in_range,
    evaluate,
    is_affected,
)
from chainwarden.vulndb.versions import PEP440, UncomparableVersion

# -- helpers ---------------------------------------------------------------------------------


def osv(
    vuln_id: str,
    ecosystem: str,
    name: str,
    *ranges: list[dict[str, str]],
    range_type: str = "ECOSYSTEM",
    versions: list[str] | None = None,
    aliases: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"ecosystem": ecosystem, "name": name}}
    if ranges:
        affected["ranges"] = [{"type": range_type, "events": events} for events in ranges]
    if versions is not None:
        affected["versions"] = versions
    record: dict[str, Any] = {
        "id": vuln_id,
        "modified": "2024-01-01T00:00:00Z",
        "summary": f"summary of {vuln_id}",
        "details": f"details of {vuln_id}",
        "aliases": aliases or [],
        "affected": [affected],
        "references": [{"type": "ADVISORY", "url": f"https://example.invalid/{vuln_id}"}],
    }
    record.update(extra)
    return record


def build_db(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    source = tmp_path / "advisories"
    source.mkdir(exist_ok=True)
    for record in records:
        (source / f"{record['id']}.json").write_text(json.dumps(record))
    db_path = tmp_path / "osv.sqlite3"
    report = import_osv([source], db_path)
    assert report.problems == ()
    return db_path


def pkg(
    ecosystem: Ecosystem,
    name: str,
    version: str,
    *,
    source_name: str | None = None,
    source_version: str | None = None,
    location: Location | None = None,
    pinned: bool = True,
) -> Package:
    return Package(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=f"pkg:{ecosystem.value}/{name}@{version}",
        found_by="test",
        locations=(location,) if location else (Location(f"/fake/{name}"),),
        source_name=source_name,
        source_version=source_version,
        pinned=pinned,
        scope=Scope.PROD,
    )


def scan(db_path: Path, *packages: Package, distro: Distro | None = None) -> ScanResult:
    inventory = Inventory(TargetInfo("dir", "test"), tuple(packages), distro=distro)
    with open_database(db_path) as db:
        return match_inventory(inventory, db)


def ids(result: ScanResult) -> list[str]:
    return sorted(match.vuln_id for match in result.matches)


def entry(
    ecosystem: str, *ranges: list[tuple[str, str]], versions: tuple[str, ...] = (), range_type: str = "ECOSYSTEM"
) -> AffectedEntry:
    return AffectedEntry(
        vuln_id="TEST-1",
        ecosystem=ecosystem,
        name="x",
        ranges=tuple(VersionRange(range_type, tuple(Event(k, v) for k, v in events)) for events in ranges),
        versions=frozenset(versions),
    )


# -- range semantics (no database) -----------------------------------------------------------

RANGE_CASES: list[tuple[str, list[list[tuple[str, str]]], str, bool, tuple[str, ...]]] = [
    # ecosystem, ranges, installed, affected, fixed (smallest above installed)
    ("PyPI", [[("introduced", "0"), ("fixed", "1.2")]], "1.1.9", True, ("1.2",)),
    ("PyPI", [[("introduced", "0"), ("fixed", "1.2")]], "1.2", False, ()),
    ("PyPI", [[("introduced", "0"), ("fixed", "1.2")]], "1.2.0", False, ()),  # PEP 440: 1.2 == 1.2.0
    ("PyPI", [[("introduced", "0"), ("fixed", "1.2")]], "1.2rc1", True, ("1.2",)),  # pre-release below
    ("PyPI", [[("introduced", "0"), ("fixed", "1.2")]], "1.2.post1", False, ()),
    ("PyPI", [[("introduced", "0"), ("fixed", "1.2")]], "0.dev0", True, ("1.2",)),  # "0" is below 0.dev0
    ("PyPI", [[("introduced", "1.0"), ("fixed", "1.2")]], "0.9", False, ()),
    ("PyPI", [[("introduced", "1.0"), ("fixed", "1.2")]], "1.0", True, ("1.2",)),  # introduced is inclusive
    ("PyPI", [[("introduced", "1.0"), ("fixed", "1.2")]], "1.0+local.7", True, ("1.2",)),
    # several intervals in one range, events deliberately unsorted
    ("PyPI", [[("fixed", "2.5"), ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "0")]], "1.7", False, ()),
    ("PyPI", [[("fixed", "2.5"), ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "0")]], "2.1", True, ("2.5",)),
    ("PyPI", [[("fixed", "2.5"), ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "0")]], "1.0", True, ("1.5",)),
    # last_affected: inclusive upper bound, no fix known
    ("PyPI", [[("introduced", "1.0"), ("last_affected", "1.4")]], "1.4", True, ()),
    ("PyPI", [[("introduced", "1.0"), ("last_affected", "1.4")]], "1.4.1", False, ()),
    # limit caps the range
    ("PyPI", [[("introduced", "0"), ("limit", "2.0")]], "1.9", True, ()),
    ("PyPI", [[("introduced", "0"), ("limit", "2.0")]], "2.0", False, ()),
    ("PyPI", [[("introduced", "0"), ("limit", "*")]], "99", True, ()),
    # several ranges: any one affecting is enough; fixes of every matching range are offered
    (
        "PyPI",
        [[("introduced", "1.0"), ("fixed", "1.1")], [("introduced", "1.0"), ("fixed", "1.3")]],
        "1.0.5",
        True,
        ("1.1", "1.3"),
    ),
    ("PyPI", [[("introduced", "1.0"), ("fixed", "1.1")], [("introduced", "3.0"), ("fixed", "3.1")]], "2.0", False, ()),
    # npm SemVer: pre-releases sort below the release
    ("npm", [[("introduced", "1.0.0"), ("fixed", "1.2.0")]], "1.2.0-rc.1", True, ("1.2.0",)),
    ("npm", [[("introduced", "1.0.0"), ("fixed", "1.2.0")]], "1.0.0-beta", False, ()),
    ("npm", [[("introduced", "1.0.0"), ("fixed", "1.2.0")]], "1.2.0+build.7", False, ()),
    ("npm", [[("introduced", "0"), ("fixed", "4.17.21")]], "4.17.20", True, ("4.17.21",)),
    # Debian: epochs, tildes, revisions
    (
        "Debian:12",
        [[("introduced", "0"), ("fixed", "3.0.11-1~deb12u2")]],
        "3.0.11-1~deb12u1",
        True,
        ("3.0.11-1~deb12u2",),
    ),
    ("Debian:12", [[("introduced", "0"), ("fixed", "3.0.11-1~deb12u2")]], "3.0.11-1", False, ()),
    ("Debian:12", [[("introduced", "0"), ("fixed", "1:2.0-1")]], "9.9-1", True, ("1:2.0-1",)),
    ("Debian:12", [[("introduced", "0"), ("fixed", "2.0-1")]], "2.0~rc1-1", True, ("2.0-1",)),
]


@pytest.mark.parametrize(("ecosystem", "ranges", "installed", "affected", "fixed"), RANGE_CASES)
def test_osv_range_semantics(
    ecosystem: str, ranges: list[list[tuple[str, str]]], installed: str, affected: bool, fixed: tuple[str, ...]
) -> None:
    verdict = evaluate(entry(ecosystem, *ranges), installed, VersionKeys())
    assert verdict.affected is affected
    assert verdict.fixed == fixed
    if affected:
        assert verdict.evidence.startswith("TEST-1: ")


def test_semver_range_type_applies_semver_in_any_ecosystem() -> None:
    semver_entry = entry("PyPI", [("introduced", "1.0.0"), ("fixed", "1.2.0")], range_type="SEMVER")
    assert evaluate(semver_entry, "1.1.0", VersionKeys()).affected
    # OSV reads a short version in a SemVer range leniently: 1.1 is 1.1.0
    assert evaluate(semver_entry, "1.1", VersionKeys()).affected
    assert not evaluate(semver_entry, "1.2", VersionKeys()).affected
    # what does not start with a number is not a version at all
    with pytest.raises(UncomparableVersion):
        evaluate(semver_entry, "latest", VersionKeys())


def test_explicit_versions_list_matches_normalised_forms() -> None:
    listed = entry("PyPI", versions=("1.10", "2"))  # stored forms, as the import normalises them
    keys = VersionKeys()
    assert evaluate(listed, "1.10", keys).affected
    assert evaluate(listed, "1.10.0", keys).affected  # equal under PEP 440
    assert not evaluate(listed, "1.1", keys).affected  # YAML must not have turned 1.10 into 1.1
    assert evaluate(listed, "2.0.0", keys).affected
    assert evaluate(listed, "1.10", keys).fixed == ()


def test_invalid_installed_version_is_uncomparable_unless_listed() -> None:
    keys = VersionKeys()
    ranged = entry("PyPI", [("introduced", "0"), ("fixed", "2.0")], versions=("weird 1",))
    with pytest.raises(UncomparableVersion, match="PEP 440"):
        evaluate(ranged, "not a version", keys)
    assert evaluate(ranged, "weird 1", keys).affected


def test_invalid_advisory_version_skips_only_that_range() -> None:
    broken = entry("PyPI", [("introduced", "0"), ("fixed", "bogus !")], [("introduced", "1.0"), ("fixed", "1.5")])
    verdict = evaluate(broken, "1.2", VersionKeys())
    assert verdict.affected
    assert verdict.fixed == ("1.5",)
    assert len(verdict.problems) == 1
    assert "bogus !" in verdict.problems[0]


def test_legacy_pypi_versions_sort_below_every_pep440_version_as_in_osv() -> None:
    keys = VersionKeys()
    # introduced "0" covers every version, a legacy one included (OSV's rule)
    assert evaluate(entry("PyPI", [("introduced", "0"), ("fixed", "2.0")]), "0.9-doduo", keys).affected
    # but a legacy version is below 0.0.1, so it is never inside a range that starts above 0
    assert not evaluate(entry("PyPI", [("introduced", "0.0.1"), ("fixed", "2.0")]), "0.9-doduo", keys).affected
    # between legacy versions, setuptools' legacy order
    legacy = entry("PyPI", [("introduced", "0.9-doduo"), ("fixed", "0.9-fearow")])
    assert evaluate(legacy, "0.9-eevee", keys).affected
    assert not evaluate(legacy, "0.9-gyarados", keys).affected
    assert evaluate(legacy, "0.9-eevee", keys).fixed == ("0.9-fearow",)


# -- matching through the database -----------------------------------------------------------


def test_pypi_names_are_pep503_normalised(tmp_path: Path) -> None:
    db = build_db(tmp_path, [osv("PYSEC-2024-1", "PyPI", "Zope.Interface_Ext", [{"introduced": "0"}, {"fixed": "5"}])])
    result = scan(db, pkg(Ecosystem.PYPI, "zope-interface-ext", "4.0"), pkg(Ecosystem.PYPI, "zope-interface", "4.0"))
    assert ids(result) == ["PYSEC-2024-1"]
    assert result.matches[0].package.name == "zope-interface-ext"


def test_npm_names_are_exact_with_scopes(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv(
                "GHSA-aaaa-bbbb-cccc",
                "npm",
                "@acme/left-pad",
                [{"introduced": "0"}, {"fixed": "1.3.0"}],
                range_type="SEMVER",
            ),
            osv(
                "GHSA-dddd-eeee-ffff", "npm", "Lodash", [{"introduced": "0"}, {"fixed": "4.17.21"}], range_type="SEMVER"
            ),
        ],
    )
    result = scan(
        db,
        pkg(Ecosystem.NPM, "@acme/left-pad", "1.2.9"),
        pkg(Ecosystem.NPM, "left-pad", "1.2.9"),
        pkg(Ecosystem.NPM, "lodash", "4.17.20"),  # npm names are case-sensitive: "Lodash" is another package
    )
    assert ids(result) == ["GHSA-aaaa-bbbb-cccc"]
    assert result.matches[0].finding.fixed_versions == ("1.3.0",)


def test_debian_matches_source_package_and_release(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv("DEBIAN-CVE-2024-0001", "Debian:12", "openssl", [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]),
            osv("DEBIAN-CVE-2024-0002", "Debian:11", "openssl", [{"introduced": "0"}, {"fixed": "1.1.1w-0+deb11u2"}]),
            osv("DEBIAN-CVE-2024-0003", "Debian:12", "libssl3", [{"introduced": "0"}, {"fixed": "9"}]),
        ],
    )
    libssl = pkg(
        Ecosystem.DEBIAN,
        "libssl3",
        "3.0.11-1~deb12u2+b1",
        source_name="openssl",
        source_version="3.0.11-1~deb12u2",
    )
    bookworm = Distro("debian", "12", "bookworm")
    result = scan(db, libssl, distro=bookworm)
    # the binary name is not looked up when the source is known; Debian:11 records do not apply
    assert ids(result) == ["CVE-2024-0001"]  # DEBIAN-CVE-X is listed under CVE-X
    finding = result.matches[0].finding
    assert finding.fixed_versions == ("3.0.13-1~deb12u1",)
    assert finding.remediation == "upgrade libssl3 (source openssl) to 3.0.13-1~deb12u1"

    fixed = pkg(Ecosystem.DEBIAN, "libssl3", "3.0.13-1~deb12u1", source_name="openssl")
    assert scan(db, fixed, distro=bookworm).matches == ()

    # without a Source field the binary name is the source name
    plain = pkg(Ecosystem.DEBIAN, "libssl3", "3.0.0-1")
    assert ids(scan(db, plain, distro=bookworm)) == ["CVE-2024-0003"]


@pytest.mark.parametrize(
    ("distro", "reason"),
    [
        (None, "os-release"),
        (Distro("ubuntu", "22.04"), "'ubuntu' is not covered"),
        (Distro("debian", ""), "testing/unstable"),
    ],
)
def test_debian_packages_without_a_debian_release_are_skipped(
    tmp_path: Path, distro: Distro | None, reason: str
) -> None:
    db = build_db(tmp_path, [osv("DEBIAN-CVE-2024-0001", "Debian:12", "bash", [{"introduced": "0"}])])
    result = scan(db, pkg(Ecosystem.DEBIAN, "bash", "5.2-1"), distro=distro)
    assert result.matches == ()
    assert len(result.skipped) == 1
    assert reason in result.skipped[0].reason


def test_aliases_merge_into_one_finding(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv("PYSEC-2023-10", "PyPI", "demo", [{"introduced": "0"}, {"fixed": "2.0"}], aliases=["CVE-2023-1111"]),
            osv(
                "GHSA-1111-2222-3333",
                "PyPI",
                "demo",
                [{"introduced": "1.0"}, {"fixed": "1.9.1"}],
                aliases=["CVE-2023-1111"],
                severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
            ),
            osv(
                "GHSA-4444-5555-6666",
                "PyPI",
                "demo",
                [{"introduced": "0"}, {"fixed": "3.0"}],
                aliases=["CVE-2023-2222"],
            ),
        ],
    )
    result = scan(db, pkg(Ecosystem.PYPI, "demo", "1.5"))
    # shown under the CVE, like every reporter lists it; the OSV records stay attached
    assert ids(result) == ["CVE-2023-1111", "CVE-2023-2222"]
    merged = next(m for m in result.matches if m.vuln_id == "CVE-2023-1111")
    assert merged.record_ids == ("GHSA-1111-2222-3333", "PYSEC-2023-10")
    assert merged.finding.title == "summary of PYSEC-2023-10"  # the ecosystem database's own record speaks
    assert merged.finding.aliases == {"PYSEC-2023-10", "GHSA-1111-2222-3333", "CVE-2023-1111"}
    # the worst severity of the merged records, and every fix on offer, smallest first
    assert merged.finding.severity is Severity.CRITICAL
    assert merged.finding.fixed_versions == ("1.9.1", "2.0")
    assert merged.finding.remediation == "upgrade demo to 1.9.1"
    assert merged.finding.evidence[0].startswith("GHSA-1111-2222-3333: 1.5 is in range")
    assert "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" in merged.finding.evidence


def test_best_upgrade_fixes_the_most_findings(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv("PYSEC-1", "PyPI", "lib", [{"introduced": "0"}, {"fixed": "1.2"}]),
            osv("PYSEC-2", "PyPI", "lib", [{"introduced": "0"}, {"fixed": "1.5"}]),
            # fixed in 1.2 but broken again from 1.4 to 1.6: 1.5 does not fix it, 1.6 does
            osv(
                "PYSEC-3",
                "PyPI",
                "lib",
                [{"introduced": "0"}, {"fixed": "1.2"}, {"introduced": "1.4"}, {"fixed": "1.6"}],
            ),
            osv("PYSEC-4", "PyPI", "lib", [{"introduced": "0"}]),  # never fixed
        ],
    )
    result = scan(db, pkg(Ecosystem.PYPI, "lib", "1.0"))
    assert ids(result) == ["PYSEC-1", "PYSEC-2", "PYSEC-3", "PYSEC-4"]
    (best,) = result.best_upgrades
    assert best.version == "1.6"
    assert best.fixes == ("PYSEC-1", "PYSEC-2", "PYSEC-3")
    assert best.remaining == ("PYSEC-4",)
    no_fix = next(m for m in result.matches if m.vuln_id == "PYSEC-4")
    assert no_fix.finding.fixed_versions == ()
    assert no_fix.finding.remediation == "no fixed version of lib is published yet"
    assert ids(result.only_fixed()) == ["PYSEC-1", "PYSEC-2", "PYSEC-3"]
    extra = result.extra()
    assert extra["best_upgrades"][0]["upgrade_to"] == "1.6"
    assert extra["packages_scanned"] == 1


def test_best_upgrade_ties_go_to_the_smallest_version(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv("PYSEC-1", "PyPI", "lib", [{"introduced": "0"}, {"fixed": "1.2"}]),
            osv(
                "PYSEC-2",
                "PyPI",
                "lib",
                [{"introduced": "0"}, {"fixed": "1.1"}, {"introduced": "1.3"}, {"fixed": "1.4"}],
            ),
        ],
    )
    (best,) = scan(db, pkg(Ecosystem.PYPI, "lib", "1.0")).best_upgrades
    assert best.version == "1.2"  # fixes both, like 1.4 would; the smaller change wins


def test_withdrawn_records_never_match(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [osv("PYSEC-W", "PyPI", "lib", [{"introduced": "0"}], withdrawn="2024-02-01T00:00:00Z")],
    )
    assert scan(db, pkg(Ecosystem.PYPI, "lib", "1.0")).matches == ()
    with open_database(db) as database:
        assert database.ids() == ["PYSEC-W"]  # kept for the record
        assert database.status().withdrawn == 1


def test_uncomparable_and_unpinned_packages_are_reported(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv("PYSEC-1", "PyPI", "lib", [{"introduced": "0"}, {"fixed": "2.0"}]),
            osv("PYSEC-2", "PyPI", "other", [{"introduced": "0"}, {"fixed": "not a version"}]),
            osv("GHSA-x", "npm", "left", [{"introduced": "0"}, {"fixed": "2.0.0"}], range_type="SEMVER"),
        ],
    )
    result = scan(
        db,
        pkg(Ecosystem.PYPI, "lib", "1.0 foo"),
        pkg(Ecosystem.PYPI, "lib", "", pinned=False),
        pkg(Ecosystem.PYPI, "other", "1.0"),
        pkg(Ecosystem.NPM, "left", "latest"),  # not a version
        pkg(Ecosystem.PYPI, "unknown-to-db", "???"),  # no advisory: nothing to compare, no noise
    )
    assert result.matches == ()
    reasons = sorted((s.package.name, s.vuln_id, s.reason) for s in result.skipped)
    assert reasons == [
        ("left", None, "could not compare: 'latest' is not a SemVer 2 version"),
        ("lib", None, "could not compare: '1.0 foo' is not a PEP 440 version"),
        ("lib", None, "no exact version (unpinned or a range)"),
        (
            "other",
            "PYSEC-2",
            "range (introduced 0, fixed not a version) skipped: 'not a version' is not a PEP 440 version",
        ),
    ]
    assert {s["reason"] for s in result.extra()["skipped"]} == {r for _, _, r in reasons}


def test_finding_points_at_the_package_location(tmp_path: Path) -> None:
    db = build_db(tmp_path, [osv("PYSEC-1", "PyPI", "lib", [{"introduced": "0"}, {"fixed": "2.0"}])])
    where = Location("requirements.txt", line=7)
    result = scan(db, pkg(Ecosystem.PYPI, "lib", "1.0", location=where))
    finding = result.matches[0].finding
    assert finding.location == where
    assert finding.rule_id == "vuln"
    assert finding.title == "summary of PYSEC-1"
    assert finding.description == "details of PYSEC-1"
    assert finding.references == ("https://example.invalid/PYSEC-1",)


def test_severity_sources(tmp_path: Path) -> None:
    db = build_db(
        tmp_path,
        [
            osv("GHSA-a", "PyPI", "a", [{"introduced": "0"}], database_specific={"severity": "MODERATE"}),
            osv("GHSA-b", "PyPI", "b", [{"introduced": "0"}]),
            osv(
                "GHSA-c",
                "PyPI",
                "c",
                [{"introduced": "0"}],
                severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"}],
                database_specific={"severity": "CRITICAL"},
            ),
        ],
    )
    result = scan(db, pkg(Ecosystem.PYPI, "a", "1"), pkg(Ecosystem.PYPI, "b", "1"), pkg(Ecosystem.PYPI, "c", "1"))
    severities = {m.package.name: m.finding.severity for m in result.matches}
    # the computed CVSS score (3.7, low) beats the free-text label
    assert severities == {"a": Severity.MEDIUM, "b": Severity.UNKNOWN, "c": Severity.LOW}


def test_same_package_at_two_locations_gives_two_findings(tmp_path: Path) -> None:
    db = build_db(tmp_path, [osv("PYSEC-1", "PyPI", "lib", [{"introduced": "0"}, {"fixed": "2.0"}])])
    first = pkg(Ecosystem.PYPI, "lib", "1.0", location=Location("/app/venv1/lib"))
    second = pkg(Ecosystem.PYPI, "lib", "1.0", location=Location("/app/venv2/lib"))
    result = scan(db, first, second)
    assert [m.finding.location for m in result.matches] == [first.locations[0], second.locations[0]]
    assert len(result.best_upgrades) == 2


def test_many_packages_match_in_batched_queries(tmp_path: Path) -> None:
    records = [osv(f"PYSEC-{i}", "PyPI", f"pkg{i}", [{"introduced": "0"}, {"fixed": "2.0"}]) for i in range(1200)]
    db = build_db(tmp_path, records)
    packages = [pkg(Ecosystem.PYPI, f"pkg{i}", "1.0" if i % 2 else "2.0") for i in range(1200)]
    result = scan(db, *packages)
    assert len(result.matches) == 600  # more names than one SQL statement may bind


_EVENT = st.tuples(
    st.sampled_from(["introduced", "fixed", "last_affected", "limit"]),
    st.sampled_from(["0", "1", "1.5", "2", "2.5", "3", "4", "*"]),
).filter(lambda event: (event[1] != "*" or event[0] == "limit") and (event[1] != "0" or event[0] == "introduced"))


@settings(max_examples=400, deadline=None)
@example([("introduced", "0"), ("last_affected", "2"), ("fixed", "2")], "2")  # fixed wins at equal versions
@example([("introduced", "1"), ("last_affected", "1")], "1")
@example([("introduced", "1"), ("fixed", "1"), ("introduced", "1")], "1")
@given(
    st.lists(_EVENT, min_size=1, max_size=7), st.sampled_from(["0.5", "1", "1.2", "1.5", "2", "2.7", "3", "3.5", "9"])
)
def test_interval_form_agrees_with_the_event_walk(events: list[tuple[str, str]], installed: str) -> None:
    # best-upgrade search locates versions through the interval form; it must
    # agree with the OSV walk for any event order, duplicates and limits
    version_range = VersionRange("ECOSYSTEM", tuple(Event(kind, version) for kind, version in events))
    keys = VersionKeys()
    compiled = keys.compiled(version_range, PEP440)
    assert not isinstance(compiled, str)
    key = keys.key(PEP440, installed)
    assert _in_intervals(compiled, key) == _in_range(compiled, key)[0]
    single = AffectedEntry("TEST-1", "PyPI", "x", (version_range,), frozenset())
    assert is_affected([single], installed, keys) == evaluate(single, installed, keys).affected
