"""SARIF 2.1.0: valid against the official schema, and shaped as GitHub code scanning reads it."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chainwarden.models import Finding, Location, RuleId, Severity
from chainwarden.report.sarif import FINGERPRINT_KEY, SRCROOT, render_sarif
from unit.report.report_samples import BABEL_CORE, FINDINGS, INVENTORY, LIBSSL, RULES, URLLIB3_LOCK, assert_snapshot

TARGET = INVENTORY.target.reference


@cache
def _validator() -> jsonschema.protocols.Validator:
    text = resources.files("chainwarden.report").joinpath("schemas/sarif-schema-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator: jsonschema.protocols.Validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return validator


def _render(
    findings: tuple[Finding, ...] = FINDINGS, *, base_dir: Path | None = None, target: str = TARGET
) -> dict[str, Any]:
    text = render_sarif(findings, rules=RULES, tool_version="1.2.3", target=target, base_dir=base_dir)
    document: dict[str, Any] = json.loads(text)
    errors = sorted(_validator().iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    _check_github_rules(document)
    return document


def _check_github_rules(document: dict[str, Any]) -> None:
    """What GitHub code scanning needs beyond the schema."""
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["help"]["text"]
        assert {"security", "supply-chain"} <= set(rule["properties"]["tags"])
        if "security-severity" in rule["properties"]:
            score = float(rule["properties"]["security-severity"])
            assert 0.0 <= score <= 10.0
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        assert result["locations"], "GitHub drops results without a location"
        assert result["partialFingerprints"][FINGERPRINT_KEY]


def _result_for(document: dict[str, Any], rule_id: str, package_name: str | None = None) -> dict[str, Any]:
    results: list[dict[str, Any]] = [
        r
        for r in document["runs"][0]["results"]
        if r["ruleId"] == rule_id and (package_name is None or r["properties"]["package"]["name"] == package_name)
    ]
    assert len(results) == 1, (rule_id, package_name)
    return results[0]


def test_snapshot_and_determinism() -> None:
    text = render_sarif(FINDINGS, rules=RULES, tool_version="1.2.3", target=TARGET, base_dir=Path("/work/project"))
    _render(base_dir=Path("/work/project"))
    assert text == render_sarif(
        tuple(reversed(FINDINGS)), rules=RULES, tool_version="1.2.3", target=TARGET, base_dir=Path("/work/project")
    )
    assert_snapshot("findings.sarif", text)


def test_driver_and_rules() -> None:
    run = _render()["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["semanticVersion"]) == ("chainwarden", "1.2.3", "1.2.3")
    rules = {rule["id"]: rule for rule in driver["rules"]}
    unpinned = rules["dockerfile-unpinned-base"]
    assert unpinned["name"] == "DockerfileUnpinnedBase"
    assert unpinned["defaultConfiguration"]["level"] == "warning"
    assert unpinned["properties"]["security-severity"] == "5.5"
    assert unpinned["help"]["markdown"].startswith("A tag can be moved")
    # The rule table's rules are all described, used or not.
    assert set(RULES) <= set(rules)


def test_each_vulnerability_is_its_own_rule_with_its_severity() -> None:
    run = _render()["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    urllib3 = rules["vuln/CVE-2023-43804"]
    assert urllib3["name"] == "KnownVulnerability"
    assert urllib3["shortDescription"]["text"].startswith("CVE-2023-43804: urllib3 Cookie")
    assert "GHSA-v845-jxx5-vc9f" in urllib3["help"]["text"]
    # The CVSS 3.1 score (5.3) disagrees with the finding's HIGH: the finding wins.
    assert urllib3["properties"]["security-severity"] == "8.0"
    assert "vulnerability" in urllib3["properties"]["tags"]
    libssl = rules["vuln/CVE-2023-5678"]
    assert libssl["properties"]["security-severity"] == "5.5"
    assert libssl["helpUri"] == "https://www.openssl.org/news/secadv/20231106.txt"
    # Two findings of one CVE share one rule.
    shared = [r for r in run["results"] if r["ruleId"] == "vuln/CVE-2023-32681"]
    assert len(shared) == 2
    assert len({r["ruleIndex"] for r in shared}) == 1


def test_cvss_score_refines_a_matching_severity() -> None:
    finding = Finding(
        RuleId("vuln"),
        Severity.MEDIUM,
        "x",
        package=URLLIB3_LOCK,
        evidence=("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N", "CVSS:3.1/garbage"),
        aliases=frozenset({"CVE-2024-9"}),
    )
    rule = _render((finding,))["runs"][0]["tool"]["driver"]["rules"][-1]
    assert rule["properties"]["security-severity"] == "5.3"


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.CRITICAL, "error"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "note"),
        (Severity.INFO, "note"),
        (Severity.UNKNOWN, "note"),
    ],
)
def test_levels(severity: Severity, level: str) -> None:
    finding = Finding(RuleId("requirements-unpinned"), severity, "x", location=Location("requirements.txt", line=2))
    (result,) = _render((finding,))["runs"][0]["results"]
    assert result["level"] == level


def test_project_paths_are_relative_to_srcroot() -> None:
    base = Path("/work/project")
    document = _render(base_dir=base)
    run = document["runs"][0]
    assert run["originalUriBaseIds"] == {SRCROOT: {"uri": "file:///work/project/"}}
    result = _result_for(document, "dockerfile-unpinned-base")
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": SRCROOT}
    assert physical["region"] == {"startLine": 1, "startColumn": 6}


def test_absolute_project_paths_under_base_dir_become_relative(tmp_path: Path) -> None:
    inside = Finding(RuleId("typosquat"), Severity.HIGH, "x", location=Location(str(tmp_path / "sub dir" / "ü.json")))
    outside = Finding(RuleId("typosquat"), Severity.HIGH, "y", location=Location("/elsewhere/package.json"))
    results = _render((inside, outside), base_dir=tmp_path)["runs"][0]["results"]
    by_title = {r["message"]["text"]: r["locations"][0]["physicalLocation"]["artifactLocation"] for r in results}
    assert by_title["x."] == {"uri": "sub%20dir/%C3%BC.json", "uriBaseId": SRCROOT}
    assert by_title["y."] == {"uri": "/elsewhere/package.json"}


def test_image_paths_stay_absolute_with_the_layer() -> None:
    result = _result_for(_render(), "typosquat")
    (location,) = result["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "/app/package-lock.json"}
    assert location["physicalLocation"]["region"] == {"startLine": 41, "startColumn": 5}
    assert location["properties"]["layer"] == BABEL_CORE.locations[0].layer


def test_result_properties_and_message() -> None:
    document = _render()
    result = _result_for(document, "vuln/CVE-2023-5678")
    assert result["message"]["text"] == (
        "CVE-2023-5678 in libssl3 3.0.11-1~deb12u2 (deb): openssl: excessive time spent in DH check. "
        "Fixed in 3.0.11-1~deb12u3."
    )
    properties = result["properties"]
    assert properties["chainwarden-rule"] == "vuln"
    assert properties["aliases"] == ["CVE-2023-5678", "DSA-5532-1"]
    assert properties["fixedVersions"] == ["3.0.11-1~deb12u3"]
    assert properties["package"]["purl"] == LIBSSL.purl
    vex = [r for r in document["runs"][0]["results"] if "vex:not_affected" in r["properties"].get("tags", [])]
    assert len(vex) == 1
    # Declared not affected: kept for the record, suppressed so that no alert is raised.
    assert vex[0]["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "VEX: not_affected (vulnerable_code_not_in_execute_path)",
        }
    ]
    assert sum("suppressions" in r for r in document["runs"][0]["results"]) == 1


def test_fingerprints_are_stable_and_distinct() -> None:
    first = _render()["runs"][0]["results"]
    second = _render(tuple(reversed(FINDINGS)))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]
    prints = [r["partialFingerprints"][FINGERPRINT_KEY] for r in first]
    assert len(prints) == len(set(prints))


def test_unknown_rule_gets_a_generic_rule() -> None:
    document = _render()
    rules = {rule["id"]: rule for rule in document["runs"][0]["tool"]["driver"]["rules"]}
    generic = rules["install-script"]
    assert generic["name"] == "InstallScript"
    assert generic["defaultConfiguration"]["level"] == "note"
    assert "security-severity" not in generic["properties"]
    result = _result_for(document, "install-script")
    # No location anywhere: the target stands in, so GitHub keeps the result.
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "oci:./build/app-image:1.4"


def test_empty_log_is_valid() -> None:
    run = _render(())["runs"][0]
    assert run["results"] == []
    assert len(run["tool"]["driver"]["rules"]) == len(RULES)


def test_non_semver_tool_version_is_not_claimed_as_semver() -> None:
    text = render_sarif((), rules={}, tool_version="0+unknown", target=".")
    driver = json.loads(text)["runs"][0]["tool"]["driver"]
    assert "semanticVersion" not in driver
    assert driver["version"] == "0+unknown"


def test_hostile_text_stays_inside_json() -> None:
    finding = Finding(
        RuleId("typosquat"),
        Severity.HIGH,
        'title "quoted" \x1b[31m\u202e',
        location=Location("weird#path?x=1 %41.txt", line=0, column=0),
    )
    result = _render((finding,))["runs"][0]["results"][0]
    artifact = result["locations"][0]["physicalLocation"]
    assert artifact["artifactLocation"]["uri"] == "weird%23path%3Fx=1%20%2541.txt"
    assert "region" not in artifact  # line 0 is not a line
    assert result["message"]["text"].startswith('title "quoted" \x1b[31m')
