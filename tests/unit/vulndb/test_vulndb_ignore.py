"""Ignore file (reasons, expiry) and OpenVEX suppression."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from chainwarden.models import Ecosystem, Finding, Location, Package, RuleId, Severity
from chainwarden.vulndb import (
    IgnoreFileError,
    ScanResult,
    VexError,
    VulnMatch,
    apply_suppressions,
    load_ignore_file,
    load_openvex,
)

TODAY = dt.date(2025, 3, 1)


def match(
    vuln_id: str, name: str, version: str, aliases: tuple[str, ...] = (), ecosystem: Ecosystem = Ecosystem.PYPI
) -> VulnMatch:
    package = Package(
        ecosystem=ecosystem,
        name=name,
        version=version,
        purl=f"pkg:{ecosystem.value}/{name}@{version}",
        found_by="test",
        locations=(Location(f"/site/{name}"),),
    )
    finding = Finding(
        rule_id=RuleId("vuln"),
        severity=Severity.HIGH,
        title="t",
        package=package,
        aliases=frozenset({vuln_id, *aliases}),
        fixed_versions=("9",),
    )
    return VulnMatch(vuln_id, finding, (vuln_id,))


RESULT = ScanResult(
    matches=(
        match("PYSEC-1", "django", "3.2", ("CVE-2021-1", "GHSA-aaaa")),
        match("PYSEC-2", "django", "3.2", ("CVE-2021-2",)),
        match("PYSEC-3", "flask", "1.0", ("CVE-2021-1",)),
        match("GHSA-npm1", "lodash", "4.17.20", ("CVE-2021-3",), Ecosystem.NPM),
    )
)


def ignore_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".chainwarden-ignore.yaml"
    path.write_text(text)
    return path


def remaining(result: ScanResult) -> list[tuple[str, str]]:
    return [(m.vuln_id, m.package.name) for m in result.matches]


def test_ignore_by_alias_and_package(tmp_path: Path) -> None:
    path = ignore_file(
        tmp_path,
        """\
ignore:
  - id: cve-2021-1          # any alias, any case
    package: django
    reason: not reachable from our code
  - id: CVE-2021-3
    package: pkg:npm/lodash@4.17.20
    reason: build-time only
    expires: 2025-03-01     # inclusive: still applies today
""",
    )
    result = apply_suppressions(RESULT, ignore=load_ignore_file(path), today=TODAY)
    assert remaining(result) == [("PYSEC-2", "django"), ("PYSEC-3", "flask")]
    assert [(s.match.vuln_id, s.reason, s.by) for s in result.suppressed] == [
        ("PYSEC-1", "not reachable from our code", f"{path}:2"),
        ("GHSA-npm1", "build-time only", f"{path}:5"),
    ]
    assert result.warnings == ()
    assert result.extra()["suppressed"][0] == {
        "vuln_id": "PYSEC-1",
        "aliases": ["CVE-2021-1", "GHSA-aaaa", "PYSEC-1"],
        "package": "pkg:pypi/django@3.2",
        "by": f"{path}:2",
        "reason": "not reachable from our code",
    }


def test_expired_entries_stop_suppressing_and_warn(tmp_path: Path) -> None:
    path = ignore_file(
        tmp_path,
        "- id: PYSEC-2\n  reason: waiting for upstream\n  expires: 2025-02-28\n",
    )
    result = apply_suppressions(RESULT, ignore=load_ignore_file(path), today=TODAY)
    assert ("PYSEC-2", "django") in remaining(result)
    assert result.suppressed == ()
    assert result.warnings == (f"{path}:1: ignore entry for PYSEC-2 expired on 2025-02-28; it no longer suppresses",)


def test_package_version_in_purl_must_match(tmp_path: Path) -> None:
    path = ignore_file(tmp_path, "- id: PYSEC-3\n  package: pkg:pypi/Flask@2.0\n  reason: r\n")
    result = apply_suppressions(RESULT, ignore=load_ignore_file(path), today=TODAY)
    assert ("PYSEC-3", "flask") in remaining(result)
    path = ignore_file(tmp_path, "- id: PYSEC-3\n  package: pkg:pypi/Flask\n  reason: r\n")
    result = apply_suppressions(RESULT, ignore=load_ignore_file(path), today=TODAY)
    assert ("PYSEC-3", "flask") not in remaining(result)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- id: CVE-1\n", r":1: entry for CVE-1 needs a 'reason'"),
        ("- reason: x\n", r":1: entry needs an 'id'"),
        ("- id: CVE-1\n  reason: x\n  expire: 2025-01-01\n", r":1: unknown key\(s\) expire"),
        ("- id: CVE-1\n  reason: x\n  expires: next week\n", r"'expires' must be a date YYYY-MM-DD"),
        ("- id: CVE-1\n  reason: x\n  package: 'pkg:'\n", r"'package' is not a valid purl"),
        ("ignore:\n  - id: [unclosed\n", r"\.yaml:3: not valid YAML"),
        ("ignore: {id: x}\n", r"expected a list of entries"),
        ("ignores: []\n", r"unknown top-level key\(s\) ignores"),
        ("- just a string\n", r"entry 1 is not a mapping"),
        ("- !!python/object/apply:os.system ['true']\n", r"not valid YAML"),
    ],
)
def test_malformed_ignore_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(IgnoreFileError, match=message):
        load_ignore_file(ignore_file(tmp_path, text))


def test_empty_and_huge_ignore_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_ignore_file(ignore_file(tmp_path, "")).rules == ()
    from chainwarden.vulndb import ignore

    monkeypatch.setattr(ignore, "MAX_FILE_BYTES", 100)
    with pytest.raises(IgnoreFileError, match="larger than"):
        load_ignore_file(ignore_file(tmp_path, "#" * 200))
    with pytest.raises(IgnoreFileError, match="cannot read"):
        load_ignore_file(tmp_path / "missing.yaml")


def vex(tmp_path: Path, statements: list[dict[str, Any]], **doc: Any) -> Path:
    path = tmp_path / "vex.json"
    document = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.invalid/vex/1",
        "author": "test",
        "timestamp": "2025-01-01T00:00:00Z",
        "version": 1,
        "statements": statements,
        **doc,
    }
    path.write_text(json.dumps(document))
    return path


def test_openvex_not_affected_and_fixed_suppress(tmp_path: Path) -> None:
    path = vex(
        tmp_path,
        [
            {
                "vulnerability": {"name": "CVE-2021-2"},
                "products": [{"@id": "pkg:pypi/django@3.2"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
            },
            {
                # v0.0.x shape: plain strings; an image product with the package as subcomponent
                "vulnerability": "GHSA-npm1",
                "products": [{"@id": "pkg:oci/app@sha256:abc", "subcomponents": [{"@id": "pkg:npm/lodash"}]}],
                "status": "fixed",
            },
            {
                "vulnerability": {"name": "PYSEC-3"},
                "products": ["pkg:pypi/flask@1.0"],
                "status": "affected",
            },
        ],
    )
    result = apply_suppressions(RESULT, vex=load_openvex(path), today=TODAY)
    assert remaining(result) == [("PYSEC-1", "django"), ("PYSEC-3", "flask")]
    reasons = sorted(s.reason for s in result.suppressed)
    assert reasons == ["OpenVEX fixed", "OpenVEX not_affected: vulnerable_code_not_in_execute_path"]


def test_openvex_latest_statement_wins(tmp_path: Path) -> None:
    path = vex(
        tmp_path,
        [
            {
                "vulnerability": {"name": "PYSEC-3"},
                "products": [{"@id": "pkg:pypi/flask"}],
                "status": "affected",
                "timestamp": "2025-02-01T00:00:00Z",
            },
            {
                "vulnerability": {"name": "PYSEC-3"},
                "products": [{"@id": "pkg:pypi/flask"}],
                "status": "not_affected",
                "justification": "component_not_present",
                "timestamp": "2024-12-01T00:00:00Z",
            },
        ],
    )
    # the later "affected" statement overrides the earlier "not_affected"
    assert ("PYSEC-3", "flask") in remaining(apply_suppressions(RESULT, vex=load_openvex(path)))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "no 'statements' list"),
        (
            json.dumps({"statements": [{"vulnerability": "X", "products": ["pkg:pypi/a"], "status": "maybe"}]}),
            "unknown status",
        ),
        (
            json.dumps({"statements": [{"vulnerability": {}, "products": ["pkg:pypi/a"], "status": "fixed"}]}),
            "no vulnerability name",
        ),
        (json.dumps({"statements": [{"vulnerability": "X", "status": "fixed"}]}), "no products"),
        (
            json.dumps({"statements": [{"vulnerability": "X", "products": ["pkg:"], "status": "fixed"}]}),
            "not a valid purl",
        ),
        (json.dumps({"statements": ["nope"]}), "is not an object"),
    ],
)
def test_malformed_openvex(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "vex.json"
    path.write_text(content)
    with pytest.raises(VexError, match=message):
        load_openvex(path)
