"""chainwarden's own JSON documents: inventory and findings."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import replace

import pytest

from chainwarden.models import Ecosystem, Finding, Inventory, Package, RuleId, Severity, TargetInfo
from chainwarden.report.interface import JSON_SCHEMA_VERSION, ReporterError, finding_to_dict, inventory_to_dict
from chainwarden.report.json_report import (
    parse_hash_pin,
    render_findings_json,
    render_inventory_json,
    severity_counts,
    sort_findings,
)
from unit.report.report_samples import FINDINGS, INVENTORY, LIBSSL, TZDATA, assert_snapshot


def test_inventory_json_is_the_documented_shape() -> None:
    text = render_inventory_json(INVENTORY)
    document = json.loads(text)
    assert document == json.loads(json.dumps(inventory_to_dict(INVENTORY)))
    assert document["schema_version"] == JSON_SCHEMA_VERSION
    assert [p["name"] for p in document["packages"]] == [p.name for p in INVENTORY.packages]
    libssl = document["packages"][0]
    assert libssl["source"] == {"name": "openssl", "version": "3.0.11-1~deb12u2"}
    assert libssl["locations"][0]["layer"] == LIBSSL.locations[0].layer
    # Unicode stays readable rather than \u-escaped.
    assert "Zürich" in text
    assert text.endswith("\n")
    assert_snapshot("inventory.json", text)


def test_findings_json_sorted_worst_first_with_summary() -> None:
    text = render_findings_json(FINDINGS, command="scan", target=INVENTORY.target.reference)
    document = json.loads(text)
    assert list(document)[:5] == ["schema_version", "command", "target", "summary", "findings"]
    assert document["command"] == "scan"
    severities = [f["severity"] for f in document["findings"]]
    ranks = [Severity(s).rank for s in severities]
    assert ranks == sorted(ranks, reverse=True)
    assert severities[0] == "critical"
    assert document["summary"] == {
        "total": 8,
        "by_severity": {"critical": 1, "high": 2, "medium": 3, "low": 1, "info": 1, "unknown": 0},
    }
    assert document["findings"][0] == json.loads(json.dumps(finding_to_dict(sort_findings(FINDINGS)[0])))
    assert_snapshot("findings.json", text)


def test_findings_json_with_inventory_and_extra() -> None:
    text = render_findings_json(
        FINDINGS[:1],
        command="scan",
        target="oci:x",
        inventory=INVENTORY,
        extra={"database": {"built": "2024-05-01"}},
    )
    document = json.loads(text)
    assert document["scanned"]["packages"] == len(INVENTORY.packages)
    assert document["scanned"]["target"]["digest"] == INVENTORY.target.digest
    assert document["database"] == {"built": "2024-05-01"}


@pytest.mark.parametrize("key", ["findings", "summary", "schema_version", "scanned"])
def test_extra_cannot_replace_the_documents_own_keys(key: str) -> None:
    with pytest.raises(ReporterError, match=key):
        render_findings_json([], command="lint", target=".", inventory=INVENTORY, extra={key: 1})


def test_empty_findings() -> None:
    document = json.loads(render_findings_json([], command="lint", target="."))
    assert document["findings"] == []
    assert document["summary"]["total"] == 0
    assert set(document["summary"]["by_severity"].values()) == {0}


def test_sort_is_stable_and_total() -> None:
    shuffled = list(reversed(FINDINGS))
    assert sort_findings(shuffled) == sort_findings(FINDINGS)
    same_rule = [
        Finding(RuleId("vuln"), Severity.HIGH, "b", package=TZDATA),
        Finding(RuleId("vuln"), Severity.HIGH, "a", package=LIBSSL),
    ]
    assert [f.package.name for f in sort_findings(same_rule) if f.package] == ["libssl3", "tzdata"]


def test_severity_counts_lists_every_severity_worst_first() -> None:
    counts = severity_counts(FINDINGS)
    assert list(counts) == ["critical", "high", "medium", "low", "info", "unknown"]


def test_rendering_is_deterministic() -> None:
    first = render_findings_json(FINDINGS, command="scan", target="t", inventory=INVENTORY)
    second = render_findings_json(tuple(reversed(FINDINGS)), command="scan", target="t", inventory=INVENTORY)
    assert first == second
    assert render_inventory_json(INVENTORY) == render_inventory_json(INVENTORY)


_SHA512 = hashlib.sha512(b"chainwarden").digest()


@pytest.mark.parametrize(
    ("pin", "expected"),
    [
        ("sha256:" + "AB" * 32, ("sha256", "ab" * 32)),
        ("sha512-" + base64.b64encode(_SHA512).decode(), ("sha512", _SHA512.hex())),
        ("sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=", ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709")),
        ("sha256:" + "ab" * 31, None),  # too short
        ("sha512-" + base64.b64encode(b"short").decode(), None),  # decodes, but to the wrong length
        ("md5:not-a-digest", None),
        ("crc32:deadbeef", None),
        ("sha256", None),
        ("", None),
    ],
)
def test_parse_hash_pin(pin: str, expected: tuple[str, str] | None) -> None:
    assert parse_hash_pin(pin) == expected


def test_large_inventory_renders_quickly() -> None:
    packages = tuple(
        Package(Ecosystem.NPM, f"pkg-{n}", "1.0.0", f"pkg:npm/pkg-{n}@1.0.0", "npm-package-lock") for n in range(20_000)
    )
    inventory = Inventory(TargetInfo("dir", "."), packages)
    started = time.monotonic()
    document = json.loads(render_inventory_json(inventory))
    assert len(document["packages"]) == 20_000
    assert time.monotonic() - started < 10


def test_hostile_strings_survive_as_data() -> None:
    nasty = replace(LIBSSL, name='evil"\n\x1b[2J\u202e', version="1:2\x00")
    document = json.loads(render_inventory_json(Inventory(TargetInfo("dir", "."), (nasty,))))
    assert document["packages"][0]["name"] == 'evil"\n\x1b[2J\u202e'
    assert document["packages"][0]["version"] == "1:2\x00"
