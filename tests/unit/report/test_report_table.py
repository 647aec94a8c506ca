"""Terminal tables: readable, colour only on request, and safe against hostile names."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from chainwarden.models import Finding, Inventory, RuleId, Severity, TargetInfo
from chainwarden.report.table import render_findings_table, render_inventory_table, safe, short_digest
from unit.report.report_samples import FINDINGS, INVENTORY, LIBSSL, REQUESTS_SYSTEM, assert_snapshot

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_inventory_table_snapshot() -> None:
    text = render_inventory_table(INVENTORY, color=False, width=120)
    assert "\x1b" not in text
    assert_snapshot("inventory-table.txt", text)


def test_inventory_table_contents() -> None:
    text = render_inventory_table(INVENTORY, color=False, width=160)
    for expected in (
        "oci:./build/app-image:1.4 (oci)",
        INVENTORY.target.digest or "",
        "Debian GNU/Linux 12 (bookworm)",
        "Debian packages (2)",
        "Python packages (3)",
        "npm packages (2)",
        "openssl",  # source package column
        "@a1a1a1a1a1a1",  # layer as a short digest
        "/app/requirements.txt:3",
        "(unpinned)",
        "7 packages (deb 2, pypi 3, npm 2)",
        "Skipped 1:",
    ):
        assert expected in text, expected
    # Two copies of requests: two rows.
    assert len(re.findall(r"^\s*requests\s+2\.31\.0", text, re.MULTILINE)) == 2
    # Ecosystems in a fixed order.
    assert text.index("Debian packages") < text.index("Python packages") < text.index("npm packages")


def test_empty_inventory() -> None:
    text = render_inventory_table(Inventory(TargetInfo("dir", "."), ()), color=False, width=80)
    assert "No packages found." in text
    assert "0 packages" in text


def test_findings_table_snapshot() -> None:
    text = render_findings_table(FINDINGS, title="Vulnerabilities in app-image", color=False, width=120)
    assert "\x1b" not in text
    assert_snapshot("findings-table.txt", text)


def test_findings_grouped_by_package_worst_first() -> None:
    text = render_findings_table(FINDINGS, title="Scan", color=False, width=140)
    headings = [line for line in text.splitlines() if line and not line.startswith(" ") and "—" in line]
    assert headings[0].startswith("@babel/core 7.23.0 (npm)")  # the critical finding's package
    assert text.index("Other findings") > text.index("lodash (npm)")
    assert "CVE-2023-43804" in text
    assert "GHSA-v845-jxx5-vc9f" in text  # aliases are shown
    assert "1.26.17, 2.0.6" in text  # fixed versions
    assert "VEX: not affected (vulnerable code not in execute path)" in text
    assert "Fix: Pin the base image" in text
    assert "at Dockerfile:1:6" in text
    assert text.rstrip().endswith("8 findings: 1 critical, 2 high, 3 medium, 1 low, 1 info")


def test_findings_flat_table_names_the_package() -> None:
    text = render_findings_table(FINDINGS[:2], title="Scan", color=False, group_by_package=False, width=140)
    assert "libssl3 3.0.11-1~deb12u2: openssl" in text
    assert "Other findings" not in text
    assert "2 findings: 1 high, 1 medium" in text


def test_no_findings() -> None:
    text = render_findings_table([], title="Lint of .", color=False, width=80)
    assert "No findings." in text
    assert "Lint of ." in text


def test_colour_only_when_asked() -> None:
    plain = render_findings_table(FINDINGS, title="Scan", color=False, width=120)
    coloured = render_findings_table(FINDINGS, title="Scan", color=True, width=120)
    assert "\x1b[" not in plain
    assert ANSI.search(coloured)
    # Same words either way.
    assert [w for w in ANSI.sub("", coloured).split()] == plain.split()


def test_width_defaults_to_120_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    long_title = "x" * 200
    finding = Finding(RuleId("typosquat"), Severity.LOW, long_title)
    text = render_findings_table([finding], title="t", color=False)
    assert max(len(line) for line in text.splitlines()) <= 120


@pytest.mark.parametrize(
    "nasty",
    [
        "evil\x1b[2J\x1b]0;pwned\x07",  # clear screen, set window title
        "pay\u202epal",  # right-to-left override: displays as "paylap"
        "line\nbreak\rcarriage",
        "\x9b31m",  # C1 control sequence introducer
    ],
)
def test_hostile_names_cannot_drive_the_terminal(nasty: str) -> None:
    package = replace(LIBSSL, name=nasty, version=nasty, source_name=nasty, found_by=nasty)
    inventory = Inventory(TargetInfo("dir", nasty), (package,))
    finding = Finding(RuleId(nasty), Severity.HIGH, nasty, package=package, evidence=(nasty,), remediation=nasty)
    for color in (False, True):
        outputs = [
            render_inventory_table(inventory, color=color, width=200),
            render_findings_table([finding], title=nasty, color=color, width=200),
            render_findings_table([finding], title=nasty, color=color, group_by_package=False, width=200),
        ]
        for text in outputs:
            without_our_colours = ANSI.sub("", text)
            assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", without_our_colours)
            assert "\x1b[2J" not in text


def test_markup_in_names_is_text() -> None:
    package = replace(REQUESTS_SYSTEM, name="[bold red]owned[/bold red]")
    text = render_inventory_table(Inventory(TargetInfo("dir", "[link=x]t[/link]"), (package,)), color=False)
    assert "[bold red]owned[/bold red]" in text
    assert "[link=x]t[/link]" in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("ok", "ok"),
        ("a\x1bb", "a\\x1bb"),
        ("\u202e", "\\u202e"),
        ("tab\there", "tab\\x09here"),
        ("ünïcödé", "ünïcödé"),
    ],
)
def test_safe(raw: str, shown: str) -> None:
    assert safe(raw) == shown


def test_short_digest() -> None:
    assert short_digest("sha256:" + "ab" * 32) == "abababababab"
    assert short_digest(None) == ""
    assert short_digest("nocolon") == "nocolon"
