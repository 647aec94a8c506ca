"""An SBOM as a scan target: chainwarden's own (CycloneDX, SPDX) and syft's give the image's findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.api import build_inventory
from chainwarden.cli import main
from chainwarden.errors import Error
from chainwarden.models import Ecosystem
from support.images import dist_info, dpkg_status_entry, make_rootfs, npm_package
from unit.vulndb.test_vulndb_match import build_db, osv

FIXTURES = Path(__file__).parent / "fixtures" / "syft"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    status = "\n".join(
        [
            dpkg_status_entry("libssl3", "3.0.11-1~deb12u2", source="openssl"),
            dpkg_status_entry("tzdata", "1:2024a-0+deb12u1", arch="all"),
        ]
    )
    return make_rootfs(
        tmp_path / "root",
        {
            "etc/os-release": OS_RELEASE,
            "var/lib/dpkg/status": status,
            **dist_info("requests", "2.31.0", ["requests/__init__.py"]),
            **npm_package("/app", "lodash", "4.17.4"),
        },
    )


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return build_db(
        tmp_path,
        [
            osv("DEBIAN-CVE-2024-0001", "Debian:12", "openssl", [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]),
            osv("DEBIAN-CVE-2024-0002", "Debian:12", "tzdata", [{"introduced": "0"}, {"fixed": "1:2024b-0+deb12u1"}]),
            osv("PYSEC-2024-1", "PyPI", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}]),
            osv(
                "GHSA-aaaa-bbbb-cccc", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.12"}], range_type="SEMVER"
            ),
        ],
    )


def _findings(target: str, database: Path, tmp_path: Path, name: str) -> set[tuple[str, str, str, str]]:
    out = tmp_path / f"{name}.json"
    assert main(["scan", target, "--db", str(database), "-f", "json", "-o", str(out)]) == 0
    return {
        (f["rule_id"], f["title"], f["package"]["name"], f["package"]["version"])
        for f in json.loads(out.read_text())["findings"]
    }


@pytest.mark.parametrize("sbom_format", ["cyclonedx", "spdx"])
def test_chainwarden_sbom_scans_like_the_image(rootfs: Path, database: Path, tmp_path: Path, sbom_format: str) -> None:
    direct = _findings(f"dir:{rootfs}", database, tmp_path, "direct")
    assert {name for _, _, name, _ in direct} == {"libssl3", "tzdata", "requests", "lodash"}
    document = tmp_path / f"image.{sbom_format}.json"
    assert main(["sbom", f"dir:{rootfs}", "-f", sbom_format, "-o", str(document)]) == 0
    assert _findings(f"sbom:{document}", database, tmp_path, "explicit") == direct
    assert _findings(str(document), database, tmp_path, "detected") == direct  # a JSON SBOM is recognised


def test_syft_sbom_scans_like_the_image(rootfs: Path, database: Path, tmp_path: Path) -> None:
    # syft 1.18 does not catalog node_modules of a directory target: everything else must match
    direct = {f for f in _findings(f"dir:{rootfs}", database, tmp_path, "direct") if f[2] != "lodash"}
    for name in ("syft.cdx.json", "syft.spdx.json"):
        assert _findings(f"sbom:{FIXTURES / name}", database, tmp_path, name) == direct, name


def test_what_an_sbom_tells_about_each_package() -> None:
    inventory = build_inventory(f"sbom:{FIXTURES / 'syft.cdx.json'}")
    assert inventory.target.kind == "sbom"
    assert (inventory.distro.id, inventory.distro.version_id) == ("debian", "12") if inventory.distro else False
    by_name = {p.name: p for p in inventory.packages}
    libssl = by_name["libssl3"]
    assert (libssl.ecosystem, libssl.source_name, libssl.source_version) == (
        Ecosystem.DEBIAN,
        "openssl",
        "3.0.11-1~deb12u2",
    )
    assert by_name["tzdata"].version == "1:2024a-0+deb12u1"


def test_components_it_cannot_match_are_skipped_with_the_reason(tmp_path: Path) -> None:
    document = tmp_path / "bom.json"
    document.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [
                    {"type": "library", "name": "no-purl"},
                    {"type": "library", "name": "guava", "purl": "pkg:maven/com.google.guava/guava@32.0.0"},
                    {"type": "library", "name": "bad", "purl": "pkg:"},
                    {
                        "type": "library",
                        "name": "outer",
                        "purl": "pkg:npm/outer@1.0.0",
                        "components": [{"type": "library", "name": "inner", "purl": "pkg:npm/%40s/inner@2.0.0"}],
                    },
                ],
            }
        )
    )
    inventory = build_inventory(str(document))
    assert sorted(p.name for p in inventory.packages) == ["@s/inner", "outer"]
    reasons = {s.what: s.reason for s in inventory.skipped}
    assert "no purl" in reasons["no-purl"]
    assert "maven" in reasons["pkg:maven/com.google.guava/guava@32.0.0"]
    assert "malformed purl" in reasons["bad"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"bomFormat": "CycloneDX", "components": [', "not valid JSON"),
        ('{"hello": 1}', "neither CycloneDX"),
        ("[1, 2]", "not an SBOM"),
    ],
)
def test_broken_sboms_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    document = tmp_path / "bom.json"
    document.write_text(content)
    with pytest.raises(Error, match=message):
        build_inventory(f"sbom:{document}")


def test_an_sbom_is_not_a_filesystem(tmp_path: Path) -> None:
    document = tmp_path / "bom.json"
    document.write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}')
    assert main(["profile", f"sbom:{document}"]) == 2
