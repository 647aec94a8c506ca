"""``chainwarden db import`` then ``chainwarden scan`` on a generated image and a project.

The image holds old Debian packages (with Source: fields, bookworm os-release),
an old Python distribution and an old node_modules package; the advisories are
OSV records written here. Everything goes through ``chainwarden.cli.main``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chainwarden.cli import main
from support.images import dist_info, dpkg_status_entry, make_oci, make_rootfs, npm_package
from support.osv import import_records

pytestmark = pytest.mark.integration

CVSS_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def advisory(vuln_id: str, ecosystem: str, name: str, events: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    range_type = "SEMVER" if ecosystem == "npm" else "ECOSYSTEM"
    return {
        "id": vuln_id,
        "modified": "2024-06-01T00:00:00Z",
        "summary": f"{name}: test advisory {vuln_id}",
        "affected": [
            {"package": {"ecosystem": ecosystem, "name": name}, "ranges": [{"type": range_type, "events": events}]}
        ],
        "references": [{"type": "ADVISORY", "url": f"https://example.invalid/{vuln_id}"}],
        **extra,
    }


ADVISORIES = [
    advisory(
        "DEBIAN-CVE-2024-1001",
        "Debian:12",
        "openssl",
        [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}],
        aliases=["CVE-2024-1001"],
        severity=[{"type": "CVSS_V3", "score": CVSS_CRITICAL}],
    ),
    advisory("DEBIAN-CVE-2024-1002", "Debian:11", "openssl", [{"introduced": "0"}, {"fixed": "9.0"}]),
    advisory("DEBIAN-CVE-2024-1003", "Debian:12", "bash", [{"introduced": "0"}], database_specific={"severity": "LOW"}),
    advisory(
        "PYSEC-2019-217",
        "PyPI",
        "Jinja2",
        [{"introduced": "0"}, {"fixed": "2.10.1"}],
        aliases=["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
        database_specific={"severity": "HIGH"},
    ),
    advisory(
        "GHSA-462w-v97r-4m45",
        "PyPI",
        "jinja2",
        [{"introduced": "0"}, {"fixed": "2.10.1"}],
        aliases=["CVE-2019-10906", "PYSEC-2019-217"],
        database_specific={"severity": "HIGH"},
    ),
    advisory(
        "GHSA-35jh-r3h4-6jhm",
        "npm",
        "lodash",
        [{"introduced": "0"}, {"fixed": "4.17.21"}],
        aliases=["CVE-2021-23337"],
        database_specific={"severity": "HIGH"},
    ),
]


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return import_records(tmp_path_factory.mktemp("osv"), ADVISORIES)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    status = "\n".join(
        [
            dpkg_status_entry("libssl3", "3.0.11-1~deb12u1", source="openssl"),
            dpkg_status_entry("openssl", "3.0.11-1~deb12u1"),
            dpkg_status_entry("bash", "5.2.15-2+b2", source="bash (5.2.15-2)"),
            dpkg_status_entry("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
        ]
    )
    base = {"/etc/os-release": OS_RELEASE, "/var/lib/dpkg/status": status}
    apps = {
        **dist_info("Jinja2", "2.10", ["jinja2/__init__.py"]),
        **npm_package("/srv/app", "lodash", "4.17.20"),
        **npm_package("/srv/app", "left-pad", "1.3.0"),
    }
    return make_oci(tmp_path_factory.mktemp("image") / "oci", [base, apps])


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scan_image_json(db_path: Path, image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "scan", f"oci:{image}", "--db", str(db_path), "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    found = sorted((f["package"]["name"], sorted(f["aliases"])) for f in report["findings"])
    assert found == [
        ("bash", ["CVE-2024-1003", "DEBIAN-CVE-2024-1003"]),  # listed under the CVE
        ("jinja2", ["CVE-2019-10906", "GHSA-462w-v97r-4m45", "PYSEC-2019-217"]),  # two records, one finding
        ("libssl3", ["CVE-2024-1001", "DEBIAN-CVE-2024-1001"]),
        ("lodash", ["CVE-2021-23337", "GHSA-35jh-r3h4-6jhm"]),
        ("openssl", ["CVE-2024-1001", "DEBIAN-CVE-2024-1001"]),
    ]
    by_name = {f["package"]["name"]: f for f in report["findings"]}
    assert by_name["libssl3"]["severity"] == "critical"
    assert by_name["libssl3"]["fixed_versions"] == ["3.0.11-1~deb12u2"]
    assert by_name["libssl3"]["remediation"] == "upgrade libssl3 (source openssl) to 3.0.11-1~deb12u2"
    assert by_name["jinja2"]["severity"] == "high"
    assert by_name["jinja2"]["location"]["path"] == "/usr/lib/python3/dist-packages/Jinja2-2.10.dist-info/METADATA"
    assert by_name["bash"]["location"] == {
        "path": "/var/lib/dpkg/status",
        "layer": by_name["bash"]["location"]["layer"],
        "line": 18,  # the stanza of bash in the status file
        "column": None,
    }
    assert "matched as Debian source package bash 5.2.15-2 (Debian:12)" in by_name["bash"]["evidence"]
    assert by_name["bash"]["fixed_versions"] == []
    assert report["packages_scanned"] == 7
    upgrades = {u["package"]["name"]: u["upgrade_to"] for u in report["best_upgrades"]}
    assert upgrades == {
        "jinja2": "2.10.1",
        "libssl3": "3.0.11-1~deb12u2",
        "lodash": "4.17.21",
        "openssl": "3.0.11-1~deb12u2",
    }
    assert report["skipped"] == []
    assert report["database"]["records"] == len(ADVISORIES)
    assert report["warnings"] == []


def test_fail_on_thresholds_and_only_fixed(db_path: Path, image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"oci:{image}"
    assert run(capsys, "scan", target, "--db", str(db_path), "--fail-on", "critical", "-f", "json")[0] == 1
    code, out, _ = run(capsys, "scan", target, "--db", str(db_path), "--only-fixed", "-f", "json")
    assert code == 0
    assert "bash" not in {f["package"]["name"] for f in json.loads(out)["findings"]}


def test_ignore_file_and_vex_suppress(
    db_path: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(
        "ignore:\n"
        "  - id: CVE-2024-1001\n"
        "    reason: openssl is not reachable from the network in this image\n"
        "  - id: DEBIAN-CVE-2024-1003\n"
        "    reason: old exception\n"
        "    expires: 2020-01-01\n"
    )
    vex = tmp_path / "vex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2021-23337"},
                        "products": [{"@id": "pkg:npm/lodash@4.17.20"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    args = ["scan", f"oci:{image}", "--db", str(db_path), "--ignore-file", str(ignore), "--vex", str(vex)]
    code, out, err = run(capsys, *args, "--fail-on", "critical", "-f", "json")
    assert code == 0  # the only critical finding is ignored
    report = json.loads(out)
    assert sorted((s["package"].split("?")[0], s["by"].rsplit(":", 1)[-1]) for s in report["suppressed"]) == [
        ("pkg:deb/debian/libssl3@3.0.11-1~deb12u1", "2"),
        ("pkg:deb/debian/openssl@3.0.11-1~deb12u1", "2"),
        ("pkg:npm/lodash@4.17.20", " statements[0]"),
    ]
    assert "expired on 2020-01-01" in err
    assert report["warnings"] and "expired" in report["warnings"][0]


def test_sarif_is_valid_and_points_at_lockfile_lines(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_rootfs(tmp_path / "project", {"requirements.txt": "# pinned\nflask==2.0.0\nJinja2==2.10\n"})
    code, out, err = run(capsys, "scan", str(project), "--db", str(db_path), "-f", "sarif", "--fail-on", "high")
    assert code == 1, err
    log = json.loads(out)
    schema = json.loads(resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(log, schema)
    (result,) = log["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "requirements.txt"
    assert location["region"]["startLine"] == 3
    assert result["level"] == "error"


def test_cyclonedx_lists_vulnerabilities(db_path: Path, image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", f"oci:{image}", "--db", str(db_path), "-f", "cyclonedx")
    assert code == 0
    bom = json.loads(out)
    assert bom["bomFormat"] == "CycloneDX"
    vulnerability_ids = {v["id"] for v in bom["vulnerabilities"]}
    assert {"CVE-2024-1001", "CVE-2019-10906", "CVE-2021-23337", "CVE-2024-1003"} <= vulnerability_ids


def test_table_output(db_path: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "report.txt"
    code, _, _ = run(capsys, "scan", f"oci:{image}", "--db", str(db_path), "-o", str(out_file))
    assert code == 0
    text = out_file.read_text()
    assert "libssl3 3.0.11-1~deb12u1" in text
    assert "Best upgrades" in text
    assert "lodash 4.17.20 -> 4.17.21  fixes 1 of 1" in text
    assert "\x1b[" not in text  # no colour codes in a file


def test_missing_database_is_a_clear_error(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "scan", f"oci:{image}", "--db", str(tmp_path / "none.sqlite3"))
    assert code == 2
    assert out == ""
    assert "run `chainwarden db update` or `chainwarden db import PATH`" in err
    assert "Traceback" not in err


def test_stale_database_warns(db_path: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "stale.sqlite3"
    stale.write_bytes(db_path.read_bytes())
    old = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    with sqlite3.connect(stale) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'updated_at'", (old,))
    conn.close()
    code, _, err = run(capsys, "scan", f"oci:{image}", "--db", str(stale), "-f", "json")
    assert code == 0
    assert "the vulnerability database is 10 days old" in err


def test_db_status(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "status", "--db", str(db_path))
    assert code == 0
    assert "Debian:12" in out and "PyPI" in out and "npm" in out
    code, out, _ = run(capsys, "db", "status", "--db", str(db_path), "-f", "json")
    status = json.loads(out)
    assert {e["ecosystem"]: e["records"] for e in status["ecosystems"]} == {
        "Debian:11": 1,
        "Debian:12": 2,
        "PyPI": 2,
        "npm": 1,
    }
    assert status["age_seconds"] < 3600


# -- in-use prioritisation (issue 6) -----------------------------------------------------------

# what a profile of the image saw: bash ran, lodash was required; the rest was never touched
PROFILE_USE = {
    "bash": ("executed", {"executed": ["/usr/bin/bash"]}),
    "lodash": ("loaded", {"loaded": ["/srv/app/node_modules/lodash/index.js"]}),
}


@pytest.fixture(scope="module")
def profile_path(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile of ``image`` in the documented format, its package view written from the inventory."""
    from chainwarden.api import build_inventory

    inventory = build_inventory(f"oci:{image}")
    packages = []
    for package in inventory.packages:
        status, files = PROFILE_USE.get(package.name, ("unused", {}))
        packages.append(
            {
                "purl": package.purl,
                "name": package.name,
                "version": package.version,
                "ecosystem": package.ecosystem.value,
                "status": status,
                "files": files,
            }
        )
    document = {
        "format": "chainwarden-profile/1",
        "target": {"reference": f"oci:{image}", "kind": "oci", "digest": inventory.target.digest},
        "net": "none",
        "probes": [],
        "programs": [],
        "files": [],
        "network": [],
        "processes": [],
        "packages": packages,
    }
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    path.write_text(json.dumps(document))
    return path


def test_profile_puts_in_use_findings_first(
    db_path: Path, image: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["scan", f"oci:{image}", "--db", str(db_path), "--profile", str(profile_path)]
    code, out, err = run(capsys, *args, "-f", "json")
    assert code == 0, err
    report = json.loads(out)
    order = [(f["package"]["name"], [t for t in f["tags"] if t.startswith("in-use:")]) for f in report["findings"]]
    assert order[:2] == [("bash", ["in-use:executed"]), ("lodash", ["in-use:loaded"])]  # low and high, yet first
    assert [name for name, _ in order[2:]] == ["libssl3", "openssl", "jinja2"]  # then worst first
    assert {tuple(tags) for _, tags in order[2:]} == {("in-use:not-observed",)}
    assert report["in_use"] == {
        "profile": str(profile_path),
        "counts": {"executed": 1, "loaded": 1, "read": 0, "unknown": 0, "not-observed": 3},
    }
    bash = report["findings"][0]
    assert bash["evidence"][0] == "in use: executed /usr/bin/bash"
    assert report["warnings"] == []


def test_fail_on_in_use_gates_only_what_ran(
    db_path: Path, image: Path, profile_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["scan", f"oci:{image}", "--db", str(db_path), "--profile", str(profile_path), "-f", "json"]
    # the critical openssl findings were never observed in use: the in-use gate passes
    assert run(capsys, *args, "--fail-on-in-use", "critical")[0] == 0
    assert run(capsys, *args, "--fail-on-in-use", "high")[0] == 1  # lodash was loaded
    assert run(capsys, *args, "--fail-on", "critical", "--fail-on-in-use", "critical")[0] == 1  # both gates apply


def test_profile_table_has_a_section_per_level(
    db_path: Path, image: Path, profile_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "report.txt"
    args = ["scan", f"oci:{image}", "--db", str(db_path), "--profile", str(profile_path), "-o", str(out_file)]
    assert run(capsys, *args)[0] == 0
    text = out_file.read_text()
    assert f"Prioritised with {profile_path}: 1 executed, 1 loaded, 3 not-observed" in text
    executed, loaded, unseen = (text.index(f"[{level}]") for level in ("EXECUTED", "LOADED", "NOT-OBSERVED"))
    assert executed < text.index("bash 5.2.15-2+b2") < loaded < text.index("lodash 4.17.20") < unseen
    assert unseen < text.index("libssl3 3.0.11-1~deb12u1")
    assert "Best upgrades" in text


def test_profile_usage_and_input_errors(
    db_path: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"oci:{image}"
    code, _, err = run(capsys, "scan", target, "--db", str(db_path), "--fail-on-in-use", "high")
    assert code == 2 and "--fail-on-in-use needs --profile" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "chainwarden-profile/1", "packages": "nope"}')
    code, out, err = run(capsys, "scan", target, "--db", str(db_path), "--profile", str(bad))
    assert code == 2 and out == ""
    assert "invalid profile" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "scan", target, "--db", str(db_path), "--profile", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read profile" in err


# -- Debian-shipped node modules -----------------------------------------------------------------


def test_debian_shipped_node_module_is_matched_and_marked(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = dpkg_status_entry("node-lodash", "4.17.20+dfsg-1", arch="all")
    files = {
        "/etc/os-release": OS_RELEASE,
        "/var/lib/dpkg/status": status,
        "/var/lib/dpkg/info/node-lodash.list": "/usr/share/nodejs/lodash\n/usr/share/nodejs/lodash/package.json\n",
        "/usr/share/nodejs/lodash/package.json": '{"name": "lodash", "version": "4.17.20", "license": "MIT"}',
    }
    image = make_oci(tmp_path / "oci", [files])
    code, out, err = run(capsys, "scan", f"oci:{image}", "--db", str(db_path), "-f", "json")
    assert code == 0, err
    (finding,) = [f for f in json.loads(out)["findings"] if f["package"]["ecosystem"] == "npm"]
    assert finding["package"]["found_by"] == "npm-debian"
    assert finding["tags"] == ["debian-packaged"]
    assert "apt-get install --only-upgrade node-lodash" in finding["remediation"]
    assert "Debian may have backported the fix" in finding["remediation"]
    assert finding["evidence"][0] == "shipped by Debian package node-lodash 4.17.20+dfsg-1 (source node-lodash)"
