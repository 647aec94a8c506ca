"""Real OSV ``MAL-`` records: a known malicious package is its own critical finding, first everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainwarden.cli import main
from chainwarden.models import Ecosystem
from support.images import dist_info, make_rootfs, npm_package
from unit.vulndb.test_vulndb_match import build_db, osv, pkg, scan

FIXTURES = Path(__file__).parent / "fixtures" / "ossf-malicious-packages"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    records = [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("MAL-*.json"))]
    records.append(osv("PYSEC-2099-1", "PyPI", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}]))
    return build_db(tmp_path, records)


def test_mal_records_are_critical_known_malicious_findings(database: Path) -> None:
    result = scan(
        database,
        pkg(Ecosystem.PYPI, "1337test", "1"),
        pkg(Ecosystem.NPM, "flatmap-stream", "0.1.1"),
        pkg(Ecosystem.PYPI, "requests", "2.31.0"),
    )
    by_name = {m.finding.package.name: m.finding for m in result.matches if m.finding.package}
    for name in ("1337test", "flatmap-stream"):
        finding = by_name[name]
        assert finding.rule_id == "known-malicious-package"
        assert finding.severity.value == "critical"
        assert finding.title.startswith("known malicious package: Malicious code in")
        assert "compromised" in (finding.remediation or "")
    assert by_name["requests"].rule_id == "vuln"
    # no upgrade fixes a malicious package, and --only-fixed never hides one
    assert {m.finding.package.name for m in result.only_fixed().matches if m.finding.package} == set(by_name)


def test_a_version_the_record_does_not_list_is_not_malicious(database: Path) -> None:
    assert scan(database, pkg(Ecosystem.PYPI, "1337test", "2")).matches == ()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_rootfs(
        tmp_path / "rootfs",
        {
            **dist_info("requests", "2.31.0", ["requests/__init__.py"]),
            **dist_info("1337test", "1", ["t/__init__.py"]),
            **npm_package("/app", "flatmap-stream", "0.1.1"),
        },
    )


@pytest.mark.parametrize("output_format", ["json", "sarif", "table", "cyclonedx"])
def test_known_malicious_packages_come_first_in_every_format(
    database: Path, project: Path, tmp_path: Path, output_format: str
) -> None:
    out = tmp_path / "report"
    code = main(
        ["scan", f"dir:{project}", "--db", str(database), "-f", output_format, "-o", str(out), "--fail-on", "critical"]
    )
    assert code == 1
    text = out.read_text()
    if output_format == "json":
        rules = [finding["rule_id"] for finding in json.loads(text)["findings"]]
        assert rules == ["known-malicious-package", "known-malicious-package", "vuln"]
    elif output_format == "sarif":
        run = json.loads(text)["runs"][0]
        rule_ids = [result["ruleId"] for result in run["results"]]
        assert [r.split("/")[0] for r in rule_ids] == ["known-malicious-package", "known-malicious-package", "vuln"]
        assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {"known-malicious-package/MAL-2024-4720"}
    elif output_format == "table":
        assert text.index("MAL-2024-4720") < text.index("PYSEC-2099-1")
        assert text.index("MAL-2025-20690") < text.index("PYSEC-2099-1")
    else:
        ids = {vulnerability["id"] for vulnerability in json.loads(text)["vulnerabilities"]}
        assert ids == {"MAL-2024-4720", "MAL-2025-20690", "PYSEC-2099-1"}
