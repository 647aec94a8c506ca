"""One finding per CVE for Debian packages: DSA/DLA/DTSA advisories fold into DEBIAN-CVE findings.

OSV's Debian exports report a fixed CVE twice, as the security tracker's
``DEBIAN-CVE-…`` record and as the advisory that fixed it, which names its CVEs
in ``upstream`` (``related`` in older exports). Records are OSV documents
written here; the CLI test goes through ``chainwarden.cli.main``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from chainwarden.models import Distro, Ecosystem, Inventory, Location, Package, Severity, TargetInfo
from chainwarden.vulndb import ScanResult, VulnMatch, apply_suppressions, import_osv, open_database
from chainwarden.vulndb import match_inventory as match
from chainwarden.vulndb.ignore import load_ignore_file, load_openvex
from support.images import dpkg_status_entry, make_oci

CVE_A = "CVE-2023-1234"
CVE_B = "CVE-2023-1235"
CVE_C = "CVE-2023-1236"
DSA = "DSA-5555-1"
INSTALLED = "3.0.11-1~deb12u1"
FIXED = "3.0.11-1~deb12u2"
LATER = "3.0.13-1~deb12u1"
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"
BOOKWORM = Distro("debian", "12", "bookworm")


# -- helpers ---------------------------------------------------------------------------------


def record(
    vuln_id: str, fixed: str | None, *, name: str = "openssl", ecosystem: str = "Debian:12", **extra: Any
) -> dict[str, Any]:
    """A Debian record for a source package: every version below ``fixed`` (all without one)."""
    events = [{"introduced": "0"}, *([{"fixed": fixed}] if fixed else [])]
    return {
        "id": vuln_id,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
        "references": [{"type": "ADVISORY", "url": f"https://example.invalid/{vuln_id}"}],
        **extra,
    }


def per_cve(cve: str, fixed: str | None = FIXED, **extra: Any) -> dict[str, Any]:
    """The security tracker's record of one CVE, as OSV exports it (``upstream``, no aliases)."""
    return record(f"DEBIAN-CVE-{cve[4:]}", fixed, upstream=[cve], details=f"Flaw {cve} in openssl.", **extra)


def advisory(
    vuln_id: str, *cves: str, fixed: str | None = FIXED, field: str = "upstream", **extra: Any
) -> dict[str, Any]:
    naming: dict[str, Any] = {field: list(cves)}
    return record(vuln_id, fixed, summary="openssl security update", **naming, **extra)


def build_db(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    source = tmp_path / "advisories"
    source.mkdir(parents=True, exist_ok=True)
    for item in records:
        (source / f"{item['id']}.json").write_text(json.dumps(item))
    db_path = tmp_path / "osv.sqlite3"
    assert import_osv([source], db_path).problems == ()
    return db_path


def deb(name: str = "openssl", version: str = INSTALLED, source: str = "openssl") -> Package:
    return Package(
        Ecosystem.DEBIAN,
        name,
        version,
        f"pkg:deb/debian/{name}@{version}?arch=amd64",
        "dpkg-status",
        (Location("/var/lib/dpkg/status"),),
        source_name=source,
    )


def scan(db_path: Path, *packages: Package, distro: Distro | None = BOOKWORM) -> ScanResult:
    inventory = Inventory(TargetInfo("dir", "test"), packages, distro=distro)
    with open_database(db_path) as db:
        return match(inventory, db)


def by_id(result: ScanResult) -> dict[str, VulnMatch]:
    listed = [m.vuln_id for m in result.matches]
    assert len(listed) == len(set(listed)), listed  # one finding per vulnerability and package
    return {m.vuln_id: m for m in result.matches}


def notes(found: VulnMatch) -> list[str]:
    return [item for item in found.finding.evidence if "Debian advisory" in item]


# -- an advisory whose CVEs all have per-CVE records: folded, dropped ------------------------


@pytest.mark.parametrize("field", ["upstream", "related", "aliases"])
def test_advisory_folds_into_each_cve_finding(tmp_path: Path, field: str) -> None:
    records = [advisory(DSA, CVE_A, CVE_B, field=field), per_cve(CVE_A), per_cve(CVE_B)]
    result = scan(build_db(tmp_path, records), deb())
    found = by_id(result)
    assert sorted(found) == [CVE_A, CVE_B]  # listed under the CVE, not DEBIAN-CVE-…; no DSA finding
    assert len(result.findings) == 2
    for cve in (CVE_A, CVE_B):
        finding = found[cve].finding
        assert found[cve].record_ids == (f"DEBIAN-CVE-{cve[4:]}",)
        assert finding.aliases == {cve, f"DEBIAN-CVE-{cve[4:]}", DSA}  # not the other CVE: another finding
        assert notes(found[cve]) == [f"also Debian advisory {DSA} (fixes {CVE_A}, {CVE_B})"]
        assert f"{DSA}: {INSTALLED} is in range introduced 0, fixed {FIXED}" in finding.evidence
        assert finding.evidence[0] == f"DEBIAN-CVE-{cve[4:]}: {INSTALLED} is in range introduced 0, fixed {FIXED}"
        assert finding.fixed_versions == (FIXED,)
        assert finding.title == f"Flaw {cve} in openssl."  # the CVE's own text, not the advisory's
        assert f"https://example.invalid/{DSA}" in finding.references
    (upgrade,) = result.best_upgrades
    assert (upgrade.version, upgrade.fixes, upgrade.remaining) == (FIXED, (CVE_A, CVE_B), ())


def test_per_cve_record_alone_is_listed_under_its_cve(tmp_path: Path) -> None:
    (found,) = scan(build_db(tmp_path, [per_cve(CVE_A)]), deb()).matches
    assert found.vuln_id == CVE_A
    assert found.finding.aliases == {CVE_A, "DEBIAN-CVE-2023-1234"}
    assert notes(found) == []


def test_every_binary_of_the_source_package_gets_the_fold(tmp_path: Path) -> None:
    records = [advisory(DSA, CVE_A), per_cve(CVE_A)]
    libssl = Package(
        Ecosystem.DEBIAN, "libssl3", INSTALLED + "+b1", f"pkg:deb/debian/libssl3@{INSTALLED}+b1", "dpkg-status",
        (Location("/var/lib/dpkg/status"),), source_name="openssl", source_version=INSTALLED,
    )  # fmt: skip
    result = scan(build_db(tmp_path, records), deb(), libssl)
    assert sorted((m.package.name, m.vuln_id) for m in result.matches) == [("libssl3", CVE_A), ("openssl", CVE_A)]
    assert all(DSA in m.finding.aliases for m in result.matches)


# -- CVEs without a per-CVE record keep the advisory, reduced to them -------------------------


def test_advisory_with_an_uncovered_cve_is_kept_for_it(tmp_path: Path) -> None:
    records = [advisory(DSA, CVE_A, CVE_C), per_cve(CVE_A)]
    found = by_id(scan(build_db(tmp_path, records), deb()))
    assert sorted(found) == [CVE_A, CVE_C]
    assert notes(found[CVE_A]) == [f"also Debian advisory {DSA} (fixes {CVE_A}, {CVE_C})"]
    kept = found[CVE_C]
    assert kept.record_ids == (DSA,)
    assert kept.finding.aliases == {DSA, CVE_C}  # the covered CVE is its own finding
    assert notes(kept) == [f"Debian advisory {DSA} fixes {CVE_C} ({CVE_A}: listed as separate findings)"]
    assert kept.finding.title == "openssl security update"


def test_advisory_without_any_per_cve_record(tmp_path: Path) -> None:
    (single,) = scan(build_db(tmp_path, [advisory(DSA, CVE_C)]), deb()).matches
    assert single.vuln_id == CVE_C and single.finding.aliases == {DSA, CVE_C}
    assert notes(single) == [f"Debian advisory {DSA} fixes {CVE_C}"]

    # several CVEs: listed under the advisory, the CVEs named in the evidence only, so that
    # ignoring one of them does not hide the other
    (several,) = scan(build_db(tmp_path / "two", [advisory(DSA, CVE_B, CVE_C)]), deb()).matches
    assert several.vuln_id == DSA and several.finding.aliases == {DSA}
    assert notes(several) == [f"Debian advisory {DSA} fixes {CVE_B}, {CVE_C}"]


def test_advisory_and_its_regression_update_are_one_finding(tmp_path: Path) -> None:
    records = [advisory(DSA, CVE_C), advisory("DSA-5555-2", CVE_C, fixed=LATER)]
    (found,) = scan(build_db(tmp_path, records), deb()).matches
    assert found.vuln_id == CVE_C
    assert found.finding.aliases == {DSA, "DSA-5555-2", CVE_C}
    assert found.finding.fixed_versions == (FIXED, LATER)


def test_advisory_naming_no_cve_stays_as_it_is(tmp_path: Path) -> None:
    records = [record("DTSA-100-1", FIXED, summary="old testing advisory"), per_cve(CVE_A)]
    found = by_id(scan(build_db(tmp_path, records), deb()))
    assert sorted(found) == [CVE_A, "DTSA-100-1"]
    assert notes(found["DTSA-100-1"]) == [] and notes(found[CVE_A]) == []


def test_dla_on_an_lts_release(tmp_path: Path) -> None:
    bullseye = Distro("debian", "11", "bullseye")
    records = [
        advisory("DLA-3333-1", CVE_A, fixed="1.1.1w-0+deb11u2", ecosystem="Debian:11", field="related"),
        per_cve(CVE_A, fixed="1.1.1w-0+deb11u2", ecosystem="Debian:11"),
        advisory(DSA, CVE_A),  # bookworm's advisory plays no part on bullseye
    ]
    (found,) = scan(build_db(tmp_path, records), deb(version="1.1.1n-0+deb11u5"), distro=bullseye).matches
    assert found.vuln_id == CVE_A
    assert found.finding.aliases == {CVE_A, "DEBIAN-CVE-2023-1234", "DLA-3333-1"}


def test_advisory_on_another_package_does_not_fold(tmp_path: Path) -> None:
    records = [advisory(DSA, CVE_A, name="openssh"), per_cve(CVE_A)]
    result = scan(build_db(tmp_path, records), deb(), deb("openssh-client", INSTALLED, "openssh"))
    assert sorted((m.package.name, m.vuln_id, notes(m) != []) for m in result.matches) == [
        ("openssh-client", CVE_A, True),  # the advisory, listed under its only CVE
        ("openssl", CVE_A, False),
    ]


def test_fixed_advisory_does_not_touch_the_finding(tmp_path: Path) -> None:
    # the installed version is past the advisory's fix: only the tracker still says affected
    records = [advisory(DSA, CVE_A, fixed="3.0.0-1"), per_cve(CVE_A, fixed=None)]
    (found,) = scan(build_db(tmp_path, records), deb()).matches
    assert found.vuln_id == CVE_A and DSA not in found.finding.aliases and notes(found) == []


# -- severity and fix information ------------------------------------------------------------


def test_advisory_brings_the_fix_and_a_worse_severity(tmp_path: Path) -> None:
    records = [
        advisory(DSA, CVE_A, severity=[{"type": "CVSS_V3", "score": CVSS_HIGH}]),
        per_cve(CVE_A, fixed=None),  # the tracker has no fix (yet): the advisory has one
        per_cve(CVE_B, fixed=None),
    ]
    result = scan(build_db(tmp_path, records), deb())
    found = by_id(result)
    finding = found[CVE_A].finding
    assert finding.severity is Severity.HIGH  # merging never lowers what --fail-on sees
    assert f"severity high from Debian advisory {DSA}" in finding.evidence
    assert CVSS_HIGH in finding.evidence
    assert finding.fixed_versions == (FIXED,)
    assert finding.remediation == f"upgrade openssl to {FIXED}"
    assert found[CVE_B].finding.severity is Severity.UNKNOWN
    (upgrade,) = result.best_upgrades
    assert (upgrade.version, upgrade.fixes, upgrade.remaining) == (FIXED, (CVE_A,), (CVE_B,))


def test_smaller_fix_comes_first_and_worse_own_severity_stays(tmp_path: Path) -> None:
    records = [
        advisory(DSA, CVE_A, fixed=FIXED, database_specific={"severity": "LOW"}),
        per_cve(CVE_A, fixed=LATER, database_specific={"severity": "CRITICAL"}),
    ]
    (found,) = scan(build_db(tmp_path, records), deb()).matches
    assert found.finding.fixed_versions == (FIXED, LATER)
    assert found.finding.remediation == f"upgrade openssl to {FIXED}"
    assert found.finding.severity is Severity.CRITICAL
    assert not any(item.startswith("severity ") for item in found.finding.evidence)


def test_per_cve_fix_smaller_than_the_advisorys_stays_first(tmp_path: Path) -> None:
    records = [advisory(DSA, CVE_A, fixed=LATER), per_cve(CVE_A, fixed=FIXED)]
    result = scan(build_db(tmp_path, records), deb())
    (found,) = result.matches
    assert found.finding.fixed_versions == (FIXED, LATER)
    assert [(u.version, u.fixes) for u in result.best_upgrades] == [(FIXED, (CVE_A,))]


# -- ignore files and VEX --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ignored", "hidden"),
    [
        (DSA, [CVE_A, CVE_B]),  # the advisory fixed both: both findings carry its id
        (CVE_A, [CVE_A]),
        ("debian-cve-2023-1235", [CVE_B]),
    ],
)
def test_ignore_file_naming_the_advisory_or_the_cve(tmp_path: Path, ignored: str, hidden: list[str]) -> None:
    db_path = build_db(tmp_path, [advisory(DSA, CVE_A, CVE_B), per_cve(CVE_A), per_cve(CVE_B)])
    ignore_path = tmp_path / "ignore.yaml"
    ignore_path.write_text(f"ignore:\n  - id: {ignored}\n    reason: not reachable\n")
    result = apply_suppressions(scan(db_path, deb()), ignore=load_ignore_file(ignore_path))
    assert sorted(s.match.vuln_id for s in result.suppressed) == hidden
    assert sorted(m.vuln_id for m in result.matches) == sorted({CVE_A, CVE_B} - set(hidden))


def test_vex_naming_the_advisory(tmp_path: Path) -> None:
    db_path = build_db(tmp_path, [advisory(DSA, CVE_A, CVE_C), per_cve(CVE_A)])
    vex_path = tmp_path / "vex.json"
    statement = {
        "vulnerability": {"name": DSA},
        "products": [{"@id": "pkg:deb/debian/openssl"}],
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
    }
    vex_path.write_text(json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [statement]}))
    result = apply_suppressions(scan(db_path, deb()), vex=load_openvex(vex_path))
    assert result.matches == ()
    assert sorted(s.match.vuln_id for s in result.suppressed) == [CVE_A, CVE_C]


# -- benign and hostile ----------------------------------------------------------------------


def test_fixed_package_has_no_findings(tmp_path: Path) -> None:
    records = [advisory(DSA, CVE_A, CVE_B), per_cve(CVE_A), per_cve(CVE_B)]
    assert scan(build_db(tmp_path, records), deb(version=FIXED)).matches == ()


def test_malformed_cve_lists_are_ignored(tmp_path: Path) -> None:
    hostile = record(DSA, FIXED, upstream={"cve": CVE_A}, related=[1, None, [CVE_A], " ", CVE_B.lower()])
    result = scan(build_db(tmp_path, [hostile, per_cve(CVE_A), per_cve(CVE_B)]), deb())
    found = by_id(result)
    # the one readable CVE (upper-cased) folds; nothing is guessed from the rest
    assert sorted(found) == [CVE_A, CVE_B]
    assert DSA in found[CVE_B].finding.aliases and DSA not in found[CVE_A].finding.aliases


def test_many_source_packages(tmp_path: Path) -> None:
    records = []
    packages = []
    for index in range(300):
        name = f"src{index}"
        first, second = f"CVE-2024-{10000 + 2 * index}", f"CVE-2024-{10001 + 2 * index}"
        records += [
            record(f"DSA-{6000 + index}-1", FIXED, name=name, upstream=[first, second]),
            record(f"DEBIAN-CVE-{first[4:]}", FIXED, name=name, upstream=[first]),
            record(f"DEBIAN-CVE-{second[4:]}", None, name=name, upstream=[second]),
        ]
        packages.append(deb(f"lib{name}", INSTALLED, name))
    result = scan(build_db(tmp_path, records), *packages)
    assert len(result.matches) == 600
    assert all(m.vuln_id.startswith("CVE-") and len(notes(m)) == 1 for m in result.matches)
    assert len(result.best_upgrades) == 300
    assert all(len(u.fixes) == 2 for u in result.best_upgrades)  # the advisory's fix covers both


# -- with Debian-shipped node modules (vulndb.debian) ------------------------------------------


def test_npm_advisory_merges_into_the_folded_finding(tmp_path: Path) -> None:
    module_json = "/usr/share/nodejs/lodash/package.json"
    npm = {
        "id": "GHSA-35jh-r3h4-6jhm",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": [CVE_A],
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "lodash"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}],
            }
        ],
    }
    records = [
        npm,
        advisory(DSA, CVE_A, name="node-lodash", fixed="4.17.21-1"),
        record("DEBIAN-CVE-2023-1234", None, name="node-lodash"),
    ]
    module = Package(
        Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", "npm-debian",
        (Location(module_json),), (module_json,),
    )  # fmt: skip
    owner = Package(
        Ecosystem.DEBIAN, "node-lodash", "4.17.20-1", "pkg:deb/debian/node-lodash@4.17.20-1", "dpkg-status",
        (Location("/var/lib/dpkg/status"),), (module_json,), source_name="node-lodash",
    )  # fmt: skip
    result = scan(build_db(tmp_path, records), module, owner)
    (found,) = result.matches
    assert found.package.name == "node-lodash" and found.vuln_id == CVE_A
    assert {CVE_A, DSA, "GHSA-35jh-r3h4-6jhm"} <= found.finding.aliases
    assert found.finding.fixed_versions == ("4.17.21-1",)
    assert [(u.version, u.fixes) for u in result.best_upgrades] == [("4.17.21-1", (CVE_A,))]


# -- through the CLI ---------------------------------------------------------------------------

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


@pytest.mark.integration
def test_cli_scan_lists_one_finding_per_cve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    records = [
        advisory(DSA, CVE_A, CVE_B, database_specific={"severity": "HIGH"}),
        per_cve(CVE_A),
        per_cve(CVE_B),
        advisory("DSA-5600-1", CVE_C, field="related"),
    ]
    for item in records:
        (advisories / f"{item['id']}.json").write_text(json.dumps(item))
    db_path = tmp_path / "osv.sqlite3"
    assert main(["db", "import", str(advisories), "--db", str(db_path)]) == 0
    capsys.readouterr()
    status = "\n".join(
        [
            dpkg_status_entry("libssl3", INSTALLED, source="openssl"),
            dpkg_status_entry("openssl", INSTALLED),
        ]
    )
    image = make_oci(tmp_path / "oci", [{"/etc/os-release": OS_RELEASE, "/var/lib/dpkg/status": status}])

    code = main(["scan", f"oci:{image}", "--db", str(db_path), "-f", "json", "--fail-on", "high"])
    out, err = capsys.readouterr()
    assert code == 1, err
    report = json.loads(out)
    found = sorted((f["package"]["name"], f["aliases"]) for f in report["findings"])
    for name in ("libssl3", "openssl"):
        assert (name, [CVE_A, "DEBIAN-CVE-2023-1234", DSA]) in found
        assert (name, [CVE_B, "DEBIAN-CVE-2023-1235", DSA]) in found
        assert (name, [CVE_C, "DSA-5600-1"]) in found
    assert report["summary"]["total"] == len(report["findings"]) == 6
    by_cve = {f["aliases"][0]: f for f in report["findings"] if f["package"]["name"] == "openssl"}
    assert by_cve[CVE_A]["severity"] == "high"
    assert f"also Debian advisory {DSA} (fixes {CVE_A}, {CVE_B})" in by_cve[CVE_A]["evidence"]
    upgrades = {u["package"]["name"]: (u["upgrade_to"], u["fixes"]) for u in report["best_upgrades"]}
    assert upgrades["openssl"] == (FIXED, [CVE_A, CVE_B, CVE_C])

    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(f"ignore:\n  - id: {DSA}\n    reason: patched in our own build\n")
    args = ["scan", f"oci:{image}", "--db", str(db_path), "-f", "json", "--ignore-file", str(ignore)]
    code = main([*args, "--fail-on", "high"])
    out, err = capsys.readouterr()
    assert code == 0, err  # the high findings carry the ignored advisory's id
    report = json.loads(out)
    assert sorted({f["aliases"][0] for f in report["findings"]}) == [CVE_C]
    assert sorted(s["vuln_id"] for s in report["suppressed"]) == [CVE_A, CVE_A, CVE_B, CVE_B]
