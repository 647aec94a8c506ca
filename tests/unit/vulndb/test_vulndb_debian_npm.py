"""One finding per vulnerability for node modules that Debian ships (vulndb.debian).

A module under /usr/share/nodejs is matched as npm lodash and, through the
.deb that ships it, as Debian source package node-lodash. Records are OSV
documents written here; the CLI test goes through ``chainwarden.cli.main``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.cli import main
from chainwarden.models import Distro, Ecosystem, Inventory, Location, Package, Severity, TargetInfo
from chainwarden.vulndb import DEBIAN_PACKAGED_TAG, ScanResult, apply_suppressions, import_osv, open_database
from chainwarden.vulndb import match_inventory as match
from chainwarden.vulndb.debian import BACKPORT_SUPPRESSOR
from chainwarden.vulndb.ignore import IgnoreFile, IgnoreRule
from support.images import dpkg_status_entry, make_oci

CVE = "CVE-2021-23337"
OTHER_CVE = "CVE-2020-8203"
GHSA = "GHSA-35jh-r3h4-6jhm"
MODULE_JSON = "/usr/share/nodejs/lodash/package.json"
DEB_VERSION = "4.17.21+dfsg+~cs8.31.198.20210220-9"
BACKPORTED = DEB_VERSION + "+deb12u1"
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"
BOOKWORM = Distro("debian", "12", "bookworm")


# -- helpers ---------------------------------------------------------------------------------


def record(vuln_id: str, ecosystem: str, name: str, events: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    range_type = "SEMVER" if ecosystem == "npm" else "ECOSYSTEM"
    return {
        "id": vuln_id,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": range_type, "events": events}]}
        ],
        "references": [{"type": "ADVISORY", "url": f"https://example.invalid/{vuln_id}"}],
        **extra,
    }


def npm_advisory(*aliases: str, vuln_id: str = GHSA) -> dict[str, Any]:
    """The GitHub advisory on npm lodash: every version below 4.17.21, high."""
    return record(
        vuln_id,
        "npm",
        "lodash",
        [{"introduced": "0"}, {"fixed": "4.17.21"}],
        aliases=list(aliases or (CVE,)),
        summary="Command Injection in lodash",
        severity=[{"type": "CVSS_V3", "score": CVSS_HIGH}],
    )


def debian_record(vuln_id: str, fixed: str | None, *, ecosystem: str = "Debian:12", **extra: Any) -> dict[str, Any]:
    """A Debian record for source package node-lodash (no fix: every version affected)."""
    events = [{"introduced": "0"}, *([{"fixed": fixed}] if fixed else [])]
    return record(vuln_id, ecosystem, "node-lodash", events, **extra)


def build_db(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    source = tmp_path / "advisories"
    source.mkdir(parents=True, exist_ok=True)
    for item in records:
        (source / f"{item['id']}.json").write_text(json.dumps(item))
    db_path = tmp_path / "osv.sqlite3"
    assert import_osv([source], db_path).problems == ()
    return db_path


def module(found_by: str = "npm-debian", path: str = MODULE_JSON) -> Package:
    return Package(Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", found_by, (Location(path),), (path,))


def deb(version: str = DEB_VERSION) -> Package:
    return Package(
        Ecosystem.DEBIAN,
        "node-lodash",
        version,
        f"pkg:deb/debian/node-lodash@{version}?arch=all",
        "dpkg-status",
        (Location("/var/lib/dpkg/status"),),
        ("/usr/share/nodejs/lodash", MODULE_JSON),
        source_name="node-lodash",
    )


def scan(db_path: Path, *packages: Package, distro: Distro | None = BOOKWORM) -> ScanResult:
    inventory = Inventory(TargetInfo("dir", "test"), packages, distro=distro)
    with open_database(db_path) as db:
        return match(inventory, db)


def on(result: ScanResult, name: str) -> list[Any]:
    return [m for m in result.matches if m.package.name == name]


# -- 1. the same vulnerability from both sides: one finding, the .deb's ------------------------


@pytest.mark.parametrize(
    ("vuln_id", "naming"),
    [
        ("DEBIAN-CVE-2021-23337", {"upstream": [CVE]}),  # OSV's Debian records today
        ("DEBIAN-CVE-2021-23337", {}),  # the id alone names the CVE
        ("DSA-5555-1", {"aliases": [CVE]}),
        ("DSA-5555-1", {"related": [CVE]}),  # DSA exports from before OSV had `upstream`
        ("DLA-3333-1", {"upstream": ["CVE-2099-0001", CVE]}),  # one advisory, several CVEs
    ],
    ids=["upstream", "debian-cve-id", "aliases", "dsa-related", "dla-several"],
)
def test_shared_vulnerability_is_reported_once_on_the_deb(tmp_path: Path, vuln_id: str, naming: dict[str, Any]) -> None:
    db_path = build_db(tmp_path, [npm_advisory(), debian_record(vuln_id, BACKPORTED, **naming)])
    result = scan(db_path, module(), deb())
    assert len(result.matches) == len(result.findings) == 1
    (merged,) = result.matches
    assert merged.package.ecosystem is Ecosystem.DEBIAN and merged.package.name == "node-lodash"
    assert merged.vuln_id == CVE  # listed under the CVE the two share, with every id of both
    assert {CVE, GHSA, vuln_id} <= merged.finding.aliases
    assert merged.record_ids == (vuln_id,)  # the records that matched the .deb
    finding = merged.finding
    assert (
        f"also npm advisory {GHSA} for the node module lodash 4.17.20 at /usr/share/nodejs/lodash "
        "(upstream fixed it in lodash 4.17.21)"
    ) in finding.evidence
    assert GHSA in finding.aliases  # an ignore entry or VEX statement naming the GHSA still applies
    assert finding.remediation == f"upgrade node-lodash to {BACKPORTED}"  # the fix comes through apt
    assert finding.fixed_versions == (BACKPORTED,)
    assert DEBIAN_PACKAGED_TAG not in finding.tags
    # Debian's record has no severity: merging must not lower what --fail-on sees
    assert finding.severity is Severity.HIGH
    assert CVSS_HIGH in finding.evidence
    assert f"https://example.invalid/{GHSA}" in finding.references
    assert finding.title == "Command Injection in lodash"  # the Debian record has no summary
    assert result.suppressed == ()
    assert [(u.package.name, u.version, u.fixes) for u in result.best_upgrades] == [("node-lodash", BACKPORTED, (CVE,))]


def test_merge_keeps_debians_worse_severity(tmp_path: Path) -> None:
    debian = debian_record(
        "DSA-5555-1",
        None,
        upstream=[CVE],
        summary="node-lodash security update",
        database_specific={"severity": "CRITICAL"},
    )
    db_path = build_db(tmp_path, [npm_advisory(), debian])
    (merged,) = scan(db_path, module(), deb()).matches
    assert merged.finding.severity is Severity.CRITICAL
    assert merged.finding.title == "node-lodash security update"
    assert not any(item.startswith("severity high") for item in merged.finding.evidence)
    assert merged.finding.remediation == "no fixed version of node-lodash is published yet"


def test_debian_advisory_and_per_cve_record_of_one_cve_are_one_finding(tmp_path: Path) -> None:
    # the DSA folds into the DEBIAN-CVE finding (vulndb.match), which then absorbs the npm advisory
    records = [
        npm_advisory(),
        debian_record("DEBIAN-CVE-2021-23337", None, upstream=[CVE]),
        debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE]),
    ]
    result = scan(build_db(tmp_path, records), module(), deb())
    (merged,) = result.matches
    assert (merged.vuln_id, merged.record_ids) == (CVE, ("DEBIAN-CVE-2021-23337",))
    assert {CVE, GHSA, "DSA-5555-1"} <= merged.finding.aliases
    assert any(item.startswith(f"also npm advisory {GHSA} ") for item in merged.finding.evidence)
    assert f"also Debian advisory DSA-5555-1 (fixes {CVE})" in merged.finding.evidence
    assert merged.finding.fixed_versions == (BACKPORTED,)  # the advisory's fix
    (upgrade,) = result.best_upgrades
    assert (upgrade.version, upgrade.fixes, upgrade.remaining) == (BACKPORTED, (CVE,), ())


def test_two_modules_of_one_deb_merge_into_its_finding(tmp_path: Path) -> None:
    second_json = "/usr/share/nodejs/lodash-es/package.json"
    owner = Package(
        Ecosystem.DEBIAN, "node-lodash", DEB_VERSION, "pkg:deb/debian/node-lodash", "dpkg-status",
        (Location("/var/lib/dpkg/status"),), (MODULE_JSON, second_json), source_name="node-lodash",
    )  # fmt: skip
    second = Package(
        Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20", "npm-debian",
        (Location(second_json),), (second_json,),
    )  # fmt: skip
    db_path = build_db(tmp_path, [npm_advisory(), debian_record("DEBIAN-CVE-2021-23337", None, upstream=[CVE])])
    (merged,) = scan(db_path, module(), second, owner).matches
    notes = [item for item in merged.finding.evidence if item.startswith("also npm advisory")]
    assert sorted(note.split(" at ")[1].split(" ")[0] for note in notes) == [
        "/usr/share/nodejs/lodash",
        "/usr/share/nodejs/lodash-es",
    ]


# -- 2. Debian says the installed .deb is fixed: a backport, suppressed with the reason ---------


def test_debian_backport_suppresses_the_npm_finding(tmp_path: Path) -> None:
    db_path = build_db(tmp_path, [npm_advisory(), debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE])])
    result = scan(db_path, module(), deb(BACKPORTED))
    assert result.matches == () and result.findings == ()
    (suppression,) = result.suppressed
    assert suppression.by == BACKPORT_SUPPRESSOR
    assert suppression.match.package.found_by == "npm-debian"
    assert suppression.match.vuln_id == CVE
    assert suppression.reason == (
        f"fixed by Debian backport: node-lodash {BACKPORTED} is not affected per DSA-5555-1 "
        f"(fixed in {BACKPORTED}); source node-lodash {BACKPORTED}, Debian:12"
    )
    shown = result.extra()["suppressed"]
    assert shown == [
        {
            "vuln_id": CVE,
            "aliases": [CVE, GHSA],
            "package": "pkg:npm/lodash@4.17.20",
            "by": "debian-backport",
            "reason": suppression.reason,
        }
    ]
    # the user's own suppressions add to it rather than replace it
    ignore = IgnoreFile(Path("x.yaml"), (IgnoreRule("CVE-1999-0001", "unrelated", where="x.yaml:2"),))
    assert apply_suppressions(result, ignore=ignore).suppressed == result.suppressed


def test_fix_below_the_installed_version_counts(tmp_path: Path) -> None:
    db_path = build_db(tmp_path, [npm_advisory(), debian_record("DEBIAN-CVE-2021-23337", "4.17.19+dfsg-1")])
    result = scan(db_path, module(), deb())
    assert result.matches == ()
    assert "per DEBIAN-CVE-2021-23337 (fixed in 4.17.19+dfsg-1)" in result.suppressed[0].reason


def test_binnmu_is_compared_by_its_source_version(tmp_path: Path) -> None:
    binnmu = Package(
        Ecosystem.DEBIAN, "node-lodash", BACKPORTED + "+b1", "pkg:deb/debian/node-lodash", "dpkg-status",
        (Location("/var/lib/dpkg/status"),), (MODULE_JSON,), source_name="node-lodash", source_version=BACKPORTED,
    )  # fmt: skip
    db_path = build_db(tmp_path, [npm_advisory(), debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE])])
    result = scan(db_path, module(), binnmu)
    assert result.matches == ()
    assert f"node-lodash {BACKPORTED}+b1 is not affected" in result.suppressed[0].reason


# -- 3. Debian does not say: the npm finding stays as today ------------------------------------


def test_no_debian_record_keeps_the_npm_finding(tmp_path: Path) -> None:
    db_path = build_db(tmp_path, [npm_advisory()])
    result = scan(db_path, module(), deb())
    (kept,) = result.matches
    assert kept.package.found_by == "npm-debian"
    assert kept.finding.tags == {DEBIAN_PACKAGED_TAG}
    assert kept.finding.evidence[0] == f"shipped by Debian package node-lodash {DEB_VERSION} (source node-lodash)"
    assert result.suppressed == ()


def test_record_for_another_cve_neither_merges_nor_suppresses(tmp_path: Path) -> None:
    affected = debian_record("DEBIAN-CVE-2020-8203", None, upstream=[OTHER_CVE])
    fixed = debian_record("DSA-4444-1", "4.17.0+dfsg-1", upstream=["CVE-2019-10744"])
    db_path = build_db(tmp_path, [npm_advisory(), affected, fixed])
    result = scan(db_path, module(), deb())
    assert sorted((m.package.name, m.vuln_id) for m in result.matches) == [
        ("lodash", CVE),
        ("node-lodash", OTHER_CVE),
    ]
    assert on(result, "lodash")[0].finding.tags == {DEBIAN_PACKAGED_TAG}
    assert not any("also npm advisory" in item for item in on(result, "node-lodash")[0].finding.evidence)
    assert result.suppressed == ()


@pytest.mark.parametrize(
    ("debian", "reason"),
    [
        (debian_record("DSA-5555-1", BACKPORTED, ecosystem="Debian:11", upstream=[CVE]), "another release"),
        (
            record("DSA-5555-1", "Debian:12", "node-lodash", [{"introduced": "5.0"}], upstream=[CVE]),
            "not affected, but no fix: not a backport",
        ),
        (
            record("DSA-5555-1", "Debian:12", "node-underscore", [{"introduced": "0"}, {"fixed": "1"}], upstream=[CVE]),
            "another source package",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_records_that_do_not_clear_the_installed_deb(tmp_path: Path, debian: dict[str, Any], reason: str) -> None:
    db_path = build_db(tmp_path, [npm_advisory(), debian])
    result = scan(db_path, module(), deb(BACKPORTED))
    assert [(m.package.name, set(m.finding.tags)) for m in result.matches] == [("lodash", {DEBIAN_PACKAGED_TAG})], (
        reason
    )
    assert result.suppressed == ()


def test_every_cve_of_the_advisory_must_be_fixed(tmp_path: Path) -> None:
    both = npm_advisory(CVE, OTHER_CVE)
    db_path = build_db(tmp_path, [both, debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE])])
    assert [m.package.name for m in scan(db_path, module(), deb(BACKPORTED)).matches] == ["lodash"]
    covered = [both, debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE, OTHER_CVE])]
    assert scan(build_db(tmp_path / "both", covered), module(), deb(BACKPORTED)).matches == ()


def test_only_debian_shipped_modules_with_an_owner_are_reconciled(tmp_path: Path) -> None:
    db_path = build_db(tmp_path, [npm_advisory(), debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE])])
    app = module("npm-installed", "/app/node_modules/lodash/package.json")
    orphan = module(path="/usr/lib/nodejs/lodash/package.json")  # no .deb in the inventory owns it
    result = scan(db_path, app, module(), orphan, deb(BACKPORTED))
    assert sorted(m.package.locations[0].path for m in result.matches) == [
        "/app/node_modules/lodash/package.json",
        "/usr/lib/nodejs/lodash/package.json",
    ]
    assert [s.match.package.locations[0].path for s in result.suppressed] == [MODULE_JSON]


@pytest.mark.parametrize("distro", [None, Distro("ubuntu", "22.04")], ids=["no-os-release", "ubuntu"])
def test_without_debian_matching_nothing_changes(tmp_path: Path, distro: Distro | None) -> None:
    db_path = build_db(tmp_path, [npm_advisory(), debian_record("DSA-5555-1", BACKPORTED, upstream=[CVE])])
    result = scan(db_path, module(), deb(BACKPORTED), distro=distro)
    assert [set(m.finding.tags) for m in result.matches] == [{DEBIAN_PACKAGED_TAG}]
    assert result.suppressed == ()


def test_malformed_upstream_fields_are_ignored(tmp_path: Path) -> None:
    hostile = debian_record("DSA-5555-1", None, upstream={"CVE": CVE}, related=[1, None, ["x"]])
    db_path = build_db(tmp_path, [npm_advisory(), hostile])
    result = scan(db_path, module(), deb())
    assert sorted(m.package.name for m in result.matches) == ["lodash", "node-lodash"]


# -- through the CLI ---------------------------------------------------------------------------

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def image_with(tmp_path: Path, module_name: str, deb_version: str) -> Path:
    status = dpkg_status_entry(f"node-{module_name}", deb_version, arch="all")
    base = f"/usr/share/nodejs/{module_name}"
    files = {
        "/etc/os-release": OS_RELEASE,
        "/var/lib/dpkg/status": status,
        f"/var/lib/dpkg/info/node-{module_name}.list": f"{base}\n{base}/package.json\n",
        f"{base}/package.json": f'{{"name": "{module_name}", "version": "4.17.20", "license": "MIT"}}',
    }
    return make_oci(tmp_path / f"oci-{module_name}", [files])


@pytest.mark.integration
def test_cli_scan_reports_one_finding_and_the_backport(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    advisories = tmp_path / "advisories"
    advisories.mkdir()
    records = [
        npm_advisory(),
        debian_record("DEBIAN-CVE-2021-23337", None, upstream=[CVE]),
        record("DSA-5555-1", "Debian:12", "node-underscore", [{"introduced": "0"}, {"fixed": BACKPORTED}]),
        record(
            "GHSA-cf4h-3jhx-xvhq",
            "npm",
            "underscore",
            [{"introduced": "0"}, {"fixed": "4.17.21"}],
            aliases=["CVE-2021-23358"],
        ),
    ]
    records[2]["upstream"] = ["CVE-2021-23358"]
    for item in records:
        (advisories / f"{item['id']}.json").write_text(json.dumps(item))
    db_path = tmp_path / "osv.sqlite3"
    assert main(["db", "import", str(advisories), "--db", str(db_path)]) == 0
    capsys.readouterr()

    duplicate = image_with(tmp_path, "lodash", DEB_VERSION)
    code = main(["scan", f"oci:{duplicate}", "--db", str(db_path), "-f", "json", "--fail-on", "high"])
    out, err = capsys.readouterr()
    assert code == 1, err  # the merged finding keeps the npm advisory's high severity
    report = json.loads(out)
    (finding,) = report["findings"]
    assert report["summary"]["total"] == 1
    assert finding["package"]["name"] == "node-lodash" and finding["severity"] == "high"
    assert any(
        item.startswith(f"also npm advisory {GHSA} for the node module lodash 4.17.20") for item in finding["evidence"]
    )
    assert report["suppressed"] == []

    backported = image_with(tmp_path, "underscore", BACKPORTED)
    code = main(["scan", f"oci:{backported}", "--db", str(db_path), "--fail-on", "low"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Suppressed (1):" in out
    assert "CVE-2021-23358 in underscore: fixed by Debian backport: node-underscore" in out
    assert "(debian-backport)" in out
