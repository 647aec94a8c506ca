"""The self-contained HTML reporter: escaping, order, nothing external."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chainwarden.models import (
    MALICIOUS_PACKAGE_RULE_ID,
    Ecosystem,
    Finding,
    Inventory,
    Location,
    Package,
    RuleId,
    Severity,
    TargetInfo,
)
from chainwarden.report.html import render_findings_html, render_inventory_html

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def _package(name: str) -> Package:
    return Package(Ecosystem.NPM, name, "1.0.0", f"pkg:npm/{name}@1.0.0", "npm-installed")


def test_hostile_metadata_is_escaped_and_nothing_is_fetched() -> None:
    findings = [
        Finding(RuleId("vuln"), Severity.HIGH, HOSTILE, _package("a"), Location("/x"), evidence=(HOSTILE,)),
        Finding(MALICIOUS_PACKAGE_RULE_ID, Severity.CRITICAL, "malicious", _package(HOSTILE)),
    ]
    html = render_findings_html(findings, command="scan", target=HOSTILE, generated=WHEN)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert not re.findall(r'(?:src|href)="', html)
    rules = re.findall(r'data-rule="([^"]+)"', html)
    assert rules == ["known-malicious-package", "vuln"]  # malicious first, like every format


def test_inventory_page_lists_every_package() -> None:
    inventory = Inventory(TargetInfo("dir", "dir:."), (_package("b"), _package("a")))
    html = render_inventory_html(inventory, generated=WHEN)
    assert html.count('class="package"') == 2 and "2 package(s)" in html
    assert "2024-01-01T00:00:00+00:00" in html


def test_no_findings_says_so() -> None:
    assert 'id="clean"' in render_findings_html([], command="lint", target="Dockerfile", generated=WHEN)
