"""Images the seeds recommend, inventoried completely and matched against committed real OSV records.

* Alpine: syft's real Alpine 3.16 ``installed`` database plus one stanza in the same format
  (mariadb-common, origin mariadb) — matched as ``Alpine:v3.16`` on the origin.
* UBI/Alma: rpm packages built by rpmbuild and installed by rpm (SQLite rpmdb) — ``AlmaLinux:9``.
* scratch: one Go binary built by Debian's Go toolchain — ``Go`` modules and the standard library.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chainwarden.api import build_inventory
from chainwarden.cli import main
from chainwarden.models import Distro, Ecosystem, Inventory, Package, TargetInfo
from chainwarden.vulndb import import_osv, match_inventory, open_database
from chainwarden.vulndb.results import ScanResult
from support.gobuild import build_go_binary, shared_cache
from support.images import make_oci, make_rootfs
from support.rpmbuild import RpmFile, RpmSpec, build_rpms, install_rpms, require_rpm_tools

RECORDS = Path(__file__).parents[2] / "fixtures" / "osv-records-os"
APK_DB = Path(__file__).parents[2] / "fixtures" / "apk-installed" / "alpine-3.16-installed"
ALPINE_OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.2\nPRETTY_NAME="Alpine Linux v3.16"\n'
ALMA_OS_RELEASE = 'NAME="AlmaLinux"\nID="almalinux"\nVERSION_ID="9.0"\nPRETTY_NAME="AlmaLinux 9.0 (Emerald Puma)"\n'
MARIADB_STANZA = (
    "C:Q1mOtHz0yXk+Zp0SvS1SrbXhOfuDk=\nP:mariadb-common\nV:10.6.4-r2\nA:x86_64\nS:23312\nI:122880\n"
    "T:MariaDB common files for both server and client\nU:https://www.mariadb.org/\nL:GPL-2.0-or-later\n"
    "o:mariadb\nm:Jake Buchholz Göktürk <tomalok@gmail.com>\nt:1634556112\nc:0d8b1d1b3b0b7c0cd7b4b1b3a3e6c0b5a4b8a9f1\n"
    "D:musl\nF:etc\nF:etc/my.cnf.d\nR:mariadb-server.cnf\nZ:Q1Y4mP0J9pDlh0kP6yXlN1Qn1m1WYGI=\n\n"
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("osv") / "osv.sqlite3"
    report = import_osv([RECORDS], path)
    assert report.problems == ()
    return path


def _match(inventory: Inventory, db: Path) -> ScanResult:
    with open_database(db) as database:
        return match_inventory(inventory, database)


def _ids(result: ScanResult, name: str) -> set[str]:
    return {m.vuln_id for m in result.matches if m.finding.package is not None and m.finding.package.name == name}


def test_alpine_rootfs_matches_on_origin_package(db: Path, tmp_path: Path) -> None:
    text = APK_DB.read_text() + "\n" + MARIADB_STANZA
    image = make_oci(tmp_path / "img", [{"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": text}])
    inventory = build_inventory(f"oci:{image}")
    apks = [p for p in inventory.packages if p.ecosystem is Ecosystem.APK]
    assert len(apks) == 15
    result = _match(inventory, db)
    assert _ids(result, "mariadb-common") == {"CVE-2022-27449"}
    [match] = result.matches
    assert match.finding.fixed_versions == ("10.6.8-r0",)
    assert match.finding.remediation == "upgrade mariadb-common (source mariadb) to 10.6.8-r0"
    [upgrade] = result.best_upgrades
    assert (upgrade.package.name, upgrade.version) == ("mariadb-common", "10.6.8-r0")
    # the other 14 packages were looked up (Alpine:v3.16 is in the database) and are clean
    assert not [s for s in result.skipped if s.package.ecosystem is Ecosystem.APK]
    assert not result.warnings


def test_alpine_fixed_version_is_clean(db: Path, tmp_path: Path) -> None:
    text = MARIADB_STANZA.replace("V:10.6.4-r2", "V:10.6.8-r0")
    root = make_rootfs(tmp_path / "root", {"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": text})
    assert not _match(build_inventory(f"dir:{root}"), db).matches


@pytest.fixture(scope="module")
def alma_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_rpm_tools()
    work = tmp_path_factory.mktemp("alma")
    specs = [
        RpmSpec("zlib", "1.2.11", "31.el9", files=(RpmFile("/usr/lib64/libz.so.1", "z"),)),
        RpmSpec(
            "openssl",
            "3.0.1",
            "41.el9_0",
            epoch=1,
            subpackages={"openssl-libs": (RpmFile("/usr/lib64/libssl.so.3", "ssl"),)},
        ),
        RpmSpec("bash", "5.1.8", "6.el9_1", files=(RpmFile("/usr/bin/bash", "#!", mode="0755"),)),
    ]
    root = work / "root"
    install_rpms(root, build_rpms(work, specs))
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text(ALMA_OS_RELEASE)
    return root


def test_alma_rootfs_matches_binary_rpms_with_epochs(db: Path, alma_root: Path) -> None:
    inventory = build_inventory(f"dir:{alma_root}")
    assert sorted(p.name for p in inventory.packages) == ["bash", "openssl-libs", "zlib"]
    result = _match(inventory, db)
    assert _ids(result, "zlib") == {"ALSA-2022:7314"}  # "related": CVE-2022-37434
    ssl_ids = _ids(result, "openssl-libs")
    # ALSA-2023:0946 lists its CVEs as "related": shown under the advisory id
    assert ssl_ids == {"ALSA-2023:0946"}
    ssl = next(m.finding for m in result.matches if m.finding.package and m.finding.package.name == "openssl-libs")
    assert ssl.fixed_versions == ("1:3.0.1-47.el9_1",)
    assert not result.skipped and not result.warnings


def test_missing_epoch_sorts_below_the_advisorys_epoch(db: Path) -> None:
    """rpm compares epochs first: 3.0.1-50 without an epoch is older than 1:3.0.1-47."""
    inventory = _inventory(
        Distro("almalinux", "9.2"),
        Package(Ecosystem.RPM, "openssl-libs", "3.0.1-50.el9", "pkg:rpm/almalinux/openssl-libs@3.0.1-50.el9", "t"),
        Package(Ecosystem.RPM, "zlib", "1.2.11-40.el9", "pkg:rpm/almalinux/zlib@1.2.11-40.el9", "t"),
    )
    result = _match(inventory, db)
    assert _ids(result, "openssl-libs") == {"ALSA-2023:0946"}
    assert _ids(result, "zlib") == set()


def test_amazon_linux_is_not_reported_clean(db: Path, alma_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "amzn"
    shutil.copytree(alma_root, root, symlinks=True)
    (root / "etc/os-release").write_text('NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n')
    result = _match(build_inventory(f"dir:{root}"), db)
    assert not result.matches
    assert len(result.skipped) == 3
    assert result.warnings == (
        "3 package(s) not checked for vulnerabilities: Amazon Linux 2023 (OSV publishes no Amazon Linux advisories)",
    )


def test_a_gate_on_an_image_nothing_could_be_checked_in_fails(db: Path, alma_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "amzn"
    shutil.copytree(alma_root, root, symlinks=True)
    (root / "etc/os-release").write_text('NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n')
    target, report = f"dir:{root}", str(tmp_path / "report.json")
    assert main(["scan", target, "--db", str(db), "--fail-on", "high", "-f", "json", "-o", report]) == 1
    assert json.loads(Path(report).read_text())["coverage"]["empty"] is True
    assert main(["scan", target, "--db", str(db), "--fail-on", "high", "--allow-empty", "-o", report]) == 0


def test_an_ecosystem_missing_from_the_database_is_said(db: Path) -> None:
    inventory = _inventory(
        Distro("rocky", "9.3"),
        Package(Ecosystem.RPM, "zlib", "1.2.11-31.el9", "pkg:rpm/rocky/zlib@1.2.11-31.el9", "t"),
    )
    result = _match(inventory, db)
    assert result.warnings == (
        "1 package(s) not checked: the database has no records for Rocky Linux:9 "
        "(chainwarden db update -e 'Rocky Linux', or db import its records)",
    )


@pytest.fixture(scope="module")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_binary(tmp_path_factory.mktemp("go"), cache=shared_cache(tmp_path_factory))


def test_scratch_image_with_one_go_binary(db: Path, go_binary: Path, tmp_path: Path) -> None:
    image = make_oci(tmp_path / "img", [{"app": go_binary.read_bytes()}])
    inventory = build_inventory(f"oci:{image}")
    golang = {p.name: p for p in inventory.packages if p.ecosystem is Ecosystem.GOLANG}
    assert set(golang) == {"stdlib", "example.com/chainwarden/app", "github.com/gogo/protobuf"}
    assert golang["stdlib"].version.startswith("go1.")
    assert golang["github.com/gogo/protobuf"].purl == "pkg:golang/github.com/gogo/protobuf@v1.3.1"
    assert all(p.locations[0].path == "/app" for p in golang.values())
    result = _match(inventory, db)
    assert _ids(result, "github.com/gogo/protobuf") == {"CVE-2021-3121"}
    assert _ids(result, "stdlib") == {"CVE-2024-24790"}
    stdlib = next(m.finding for m in result.matches if m.finding.package and m.finding.package.name == "stdlib")
    assert stdlib.fixed_versions[0] == "1.21.11"
    assert stdlib.remediation == "rebuild /app with Go 1.21.11"
    # the main module built from a checkout has no version to compare: said, not dropped
    assert [s.package.name for s in result.skipped] == ["example.com/chainwarden/app"]


def _inventory(distro: Distro, *packages: Package) -> Inventory:
    return Inventory(TargetInfo("dir", "test"), tuple(packages), distro)


KNOWN = frozenset(
    {
        "Red Hat:enterprise_linux:9::baseos",
        "Red Hat:enterprise_linux:9::appstream",
        "Red Hat:enterprise_linux:8::baseos",
        "SUSE:Linux Enterprise Server 15 SP5",
        "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
        "SUSE:Linux Enterprise Server 15 SP4",
        "openSUSE:Leap 15.5",
        "Alpine:v3.19",
        "Go",
    }
)


@pytest.mark.parametrize(
    ("distro", "expected"),
    [
        (Distro("rhel", "9.3"), ("Red Hat:enterprise_linux:9::appstream", "Red Hat:enterprise_linux:9::baseos")),
        (
            Distro("sles", "15.5"),
            ("SUSE:Linux Enterprise Module for Basesystem 15 SP5", "SUSE:Linux Enterprise Server 15 SP5"),
        ),
        (Distro("opensuse-leap", "15.5"), ("openSUSE:Leap 15.5",)),
    ],
)
def test_rpm_ecosystems_follow_os_release(distro: Distro, expected: tuple[str, ...]) -> None:
    from chainwarden.vulndb.os_ecosystems import os_lookup

    package = Package(Ecosystem.RPM, "openssl-libs", "1:3.0.7-24.el9", "pkg:rpm/x/openssl-libs", "t")
    found = os_lookup(package, distro, lambda: KNOWN)
    assert not isinstance(found, str)
    assert found.ecosystems == expected
    assert (found.name, found.version) == ("openssl-libs", "1:3.0.7-24.el9")


@pytest.mark.parametrize(
    ("distro", "reason"),
    [
        (Distro("fedora", "40"), "not covered by OSV: Fedora 40 (OSV publishes no Fedora advisories)"),
        (Distro("centos", "7"), "not covered by OSV: CentOS 7 (OSV publishes no CentOS advisories)"),
        (Distro("mageia-like", "9", pretty_name="Other 9"), "not covered by OSV: Other 9"),
    ],
)
def test_rpm_distributions_without_osv_data(distro: Distro, reason: str) -> None:
    from chainwarden.vulndb.os_ecosystems import os_lookup

    package = Package(Ecosystem.RPM, "bash", "5.2-1", "pkg:rpm/x/bash", "t")
    found = os_lookup(package, distro, lambda: KNOWN)
    assert isinstance(found, str) and found.startswith(reason)


def test_apk_packages_outside_alpine_and_go_stdlib_versions() -> None:
    from chainwarden.vulndb.os_ecosystems import os_lookup

    apk = Package(Ecosystem.APK, "libssl3", "3.1.4-r5", "pkg:apk/wolfi/libssl3", "t", source_name="openssl")
    assert os_lookup(apk, Distro("postmarketos", "v23.12"), lambda: KNOWN) == (
        "apk package on 'postmarketos': only Alpine, Wolfi and Chainguard packages are matched"
    )
    wolfi = os_lookup(apk, Distro("wolfi", "20230201"), lambda: KNOWN | {"Wolfi"})
    assert not isinstance(wolfi, str) and (wolfi.ecosystems, wolfi.name) == (("Wolfi",), "openssl")
    found = os_lookup(apk, Distro("alpine", "3.19.1"), lambda: KNOWN)
    assert not isinstance(found, str) and (found.ecosystems, found.name) == (("Alpine:v3.19",), "openssl")
    stdlib = Package(Ecosystem.GOLANG, "stdlib", "go1.21rc2", "pkg:golang/stdlib", "t")
    found = os_lookup(stdlib, None, lambda: KNOWN)
    assert not isinstance(found, str) and found.version == "1.21.0-rc.2"
