"""Human-readable tables for the terminal, rendered with rich.

The functions return text; printing stays with the CLI. With ``color=False``
the text holds no escape codes at all, so it can go to a file, a pipe or a CI
log as is.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from chainwarden.models import (
    ADVISORY_RULE_IDS,
    VULN_RULE_ID,
    Coverage,
    Ecosystem,
    Finding,
    Inventory,
    Location,
    Package,
    Severity,
    max_severity,
)
from chainwarden.report.cyclonedx import primary_vulnerability_id
from chainwarden.report.json_report import severity_counts, sort_findings

DEFAULT_WIDTH = 120
SHORT_DIGEST = 12  # hex characters, as `docker images` shows image ids

SEVERITY_STYLES = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "blue",
    Severity.UNKNOWN: "dim",
}
_ECOSYSTEM_ORDER = {ecosystem: n for n, ecosystem in enumerate(Ecosystem)}
_ECOSYSTEM_TITLES = {
    Ecosystem.DEBIAN: "Debian packages",
    Ecosystem.PYPI: "Python packages",
    Ecosystem.NPM: "npm packages",
    Ecosystem.APK: "Alpine packages",
    Ecosystem.RPM: "RPM packages",
    Ecosystem.GOLANG: "Go modules",
    Ecosystem.CARGO: "Rust crates",
    Ecosystem.BINARY: "Unknown executables",
}


# Control characters (C0, DEL, C1) and the bidirectional overrides of "Trojan
# Source": a package name is attacker-controlled text, and printed raw it could
# rewrite the user's terminal or make one name look like another.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """``text`` with control and bidi-override characters shown as ``\\xNN``/``\\uNNNN`` escapes."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return _UNSAFE_CHARS.sub(escape, text)


def _width() -> int:
    # COLUMNS wins, terminal or not: a CI log or a pager asks for a width that way
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


def _render(renderable: RenderableType, *, color: bool, width: int | None) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width or _width(),
        color_system="truecolor" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    console.print(renderable)
    text = buffer.getvalue()
    if not color:
        # rich pads every cell to the column width; plain text for files and
        # CI logs has no use for the trailing blanks.
        text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    return text


def short_digest(digest: str | None) -> str:
    """``sha256:abcdef012345…`` → ``abcdef012345``; empty for ``None``."""
    if not digest:
        return ""
    return digest.partition(":")[2][:SHORT_DIGEST] or digest[:SHORT_DIGEST]


def _location_text(location: Location) -> str:
    text = safe(location.path)
    if location.line is not None:
        text += f":{location.line}"
        if location.column is not None:
            text += f":{location.column}"
    if location.layer:
        text += f" @{short_digest(location.layer)}"
    return text


def _package_where(package: Package) -> str:
    return "\n".join(_location_text(loc) for loc in package.locations) or "-"


def render_inventory_table(inventory: Inventory, *, color: bool, width: int | None = None) -> str:
    """The inventory as one table per ecosystem, then the counts.

    The header names the target, its digest and distribution; each row shows
    where the package was found (path, and layer as a 12-hex-digit digest) so
    that two copies of a package are visibly two rows.
    """
    target = inventory.target
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    rows = [("Target", f"{target.reference} ({target.kind})")]
    if target.digest:
        rows.append(("Digest", target.digest))
    if target.config_digest:
        rows.append(("Image ID", target.config_digest))
    if target.repo_tags:
        rows.append(("Tags", ", ".join(target.repo_tags)))
    if target.platform:
        rows.append(("Platform", target.platform))
    if target.layers:
        rows.append(("Layers", str(len(target.layers))))
    if inventory.distro is not None:
        distro = inventory.distro
        rows.append(("Distro", distro.pretty_name or f"{distro.id} {distro.version_id}".strip()))
    for label, value in rows:
        # Text, not str: rich would read "[...]" in a value as markup.
        header.add_row(Text(label), Text(safe(value)))

    parts: list[RenderableType] = [header, Text("")]
    grouped = inventory.by_ecosystem()
    for ecosystem in sorted(grouped, key=lambda e: _ECOSYSTEM_ORDER[e]):
        packages = sorted(grouped[ecosystem], key=lambda p: (p.name, p.version, p.id))
        table = Table(
            title=f"{_ECOSYSTEM_TITLES.get(ecosystem, ecosystem.value)} ({len(packages)})",
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            show_edge=False,
        )
        table.add_column("Name", overflow="fold")
        table.add_column("Version", overflow="fold")
        with_source = ecosystem in (Ecosystem.DEBIAN, Ecosystem.APK, Ecosystem.RPM)
        if with_source:
            table.add_column("Source", overflow="fold")
        table.add_column("Found by")
        table.add_column("Location", overflow="fold")
        for package in packages:
            unversioned = "(unknown)" if ecosystem is Ecosystem.BINARY else "(unpinned)"
            row = [safe(package.name), safe(package.version) or unversioned]
            if with_source:
                source = package.source_name or ""
                if source and package.source_version and package.source_version != package.version:
                    source += f" {package.source_version}"
                row.append(safe(source))
            row.extend([safe(package.found_by), _package_where(package)])
            table.add_row(*(Text(cell) for cell in row))
        parts.extend([table, Text("")])

    if not inventory.packages:
        parts.append(Text("No packages found."))
    ordered_ecosystems = sorted(grouped, key=lambda e: _ECOSYSTEM_ORDER[e])
    counts = ", ".join(f"{ecosystem.value} {len(grouped[ecosystem])}" for ecosystem in ordered_ecosystems)
    total = len(inventory.packages)
    parts.append(Text(f"{total} package{'s' if total != 1 else ''}" + (f" ({counts})" if counts else ""), "bold"))
    if inventory.skipped:
        parts.append(Text(f"Skipped {len(inventory.skipped)}:", "bold yellow"))
        for skipped in inventory.skipped:
            where = f" {_location_text(skipped.location)}" if skipped.location else ""
            parts.append(Text(f"  {safe(skipped.what)}{where}: {safe(skipped.reason)}"))
    return _render(Group(*parts), color=color, width=width)


def _severity_text(severity: Severity) -> Text:
    return Text(severity.value.upper(), SEVERITY_STYLES[severity])


def _ids(finding: Finding) -> str:
    if finding.rule_id in ADVISORY_RULE_IDS:
        primary = primary_vulnerability_id(finding)
        others = sorted(finding.aliases - {primary})
        return "\n".join(safe(vuln_id) for vuln_id in [primary, *others])
    return safe(finding.rule_id)


def _details(finding: Finding, *, with_package: bool) -> Text:
    text = Text(safe(finding.title))
    package = finding.package
    if with_package and package is not None:
        text = Text(safe(f"{package.name} {package.version}".strip()) + ": ", "bold") + text
    # In a package's own table its first location is already the heading.
    same_as_heading = not with_package and package is not None and package.locations[:1] == (finding.location,)
    if finding.location is not None and not same_as_heading:
        text.append(f"\nat {_location_text(finding.location)}", "dim")
    vex = _vex_note(finding)
    if vex:
        text.append(f"\n{safe(vex)}", "bold magenta")
    other_tags = sorted(tag for tag in finding.tags if not tag.startswith(("vex:", "vex-justification:")))
    if other_tags:
        text.append(f"\ntags: {safe(', '.join(other_tags))}", "dim")
    for item in finding.evidence[:3]:
        text.append(f"\n> {safe(item)}", "dim")
    if len(finding.evidence) > 3:
        text.append(f"\n> … {len(finding.evidence) - 3} more", "dim")
    if finding.remediation:
        text.append(f"\nFix: {safe(finding.remediation)}", "green")
    return text


def _vex_note(finding: Finding) -> str:
    """``VEX: not affected (vulnerable code not in execute path)`` from the finding's tags."""
    state = justification = ""
    for tag in finding.tags:
        key, _, value = tag.partition(":")
        if key == "vex":
            state = value.replace("_", " ")
        elif key == "vex-justification":
            justification = value.replace("_", " ")
    if not state:
        return ""
    return f"VEX: {state}" + (f" ({justification})" if justification else "")


def _findings_table(findings: Sequence[Finding], *, with_package: bool) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        show_lines=True,
    )
    table.add_column("Severity", no_wrap=True)
    table.add_column("ID", overflow="fold")
    table.add_column("Finding", overflow="fold", ratio=3)
    table.add_column("Fixed in", overflow="fold")
    for finding in findings:
        fixed = ", ".join(finding.fixed_versions) or ("no fix" if finding.rule_id == VULN_RULE_ID else "-")
        table.add_row(
            _severity_text(finding.severity),
            Text(_ids(finding)),
            _details(finding, with_package=with_package),
            Text(safe(fixed)),
        )
    return table


def _package_heading(package: Package) -> str:
    version = f" {package.version}" if package.version else ""
    where = f" — {_location_text(package.locations[0])}" if package.locations else ""
    return f"{safe(package.name)}{safe(version)} ({package.ecosystem.value}){where}"


def render_findings_table(
    findings: Sequence[Finding],
    *,
    title: str,
    color: bool,
    group_by_package: bool = True,
    width: int | None = None,
    coverage: Coverage | None = None,
) -> str:
    """Findings as tables, worst first, then the counts per severity.

    With ``coverage``, a footer says how much was checked and lists what was
    skipped with its reason; a run that checked nothing says so instead of
    "No findings.".

    Grouped by package (the unit a user upgrades or removes), each group
    ordered worst first; findings about no package come last under "Other
    findings". Without grouping, one table with the package in each row.
    """
    ordered = sort_findings(findings)
    parts: list[RenderableType] = [Text(safe(title), "bold underline"), Text("")]
    if not ordered:
        if coverage is not None and coverage.empty:
            parts.append(Text("Nothing was checked: no findings does not mean clean.", "bold red"))
        else:
            parts.append(Text("No findings.", "bold green"))
        parts.extend(coverage_footer(coverage))
        return _render(Group(*parts), color=color, width=width)

    if group_by_package:
        groups: dict[Package | None, list[Finding]] = {}
        for finding in ordered:
            groups.setdefault(finding.package, []).append(finding)

        def group_key(item: tuple[Package | None, list[Finding]]) -> tuple[int, int, str, str]:
            package, members = item
            worst = max_severity(members) or Severity.UNKNOWN
            return (package is None, -worst.rank, package.name if package else "", package.id if package else "")

        for package, members in sorted(groups.items(), key=group_key):
            # A heading of its own rather than the table's title: a title wraps
            # at the table's width, which is often narrower than a long path.
            heading = _package_heading(package) if package is not None else "Other findings"
            parts.extend([Text(heading, "bold"), _findings_table(members, with_package=False), Text("")])
    else:
        parts.extend([_findings_table(ordered, with_package=True), Text("")])

    counts = severity_counts(ordered)
    summary = Text(f"{len(ordered)} finding{'s' if len(ordered) != 1 else ''}: ", "bold")
    first = True
    for severity in sorted(Severity, key=lambda s: -s.rank):
        if counts[severity.value] == 0:
            continue
        if not first:
            summary.append(", ")
        summary.append(f"{counts[severity.value]} {severity.value}", SEVERITY_STYLES[severity])
        first = False
    parts.append(summary)
    parts.extend(coverage_footer(coverage))
    return _render(Group(*parts), color=color, width=width)


def render_coverage(coverage: Coverage, *, color: bool, width: int | None = None) -> str:
    """The coverage footer alone (see :func:`coverage_footer`), for reports that are not one table."""
    return _render(Group(*coverage_footer(coverage)), color=color, width=width)


#: Skipped items listed under a table; the rest are counted (every one is in the JSON and SARIF).
FOOTER_SKIPPED = 20


def coverage_footer(coverage: Coverage | None) -> list[Text]:
    """``12 packages, 3 files checked; 1 skipped:`` and the skipped items with their reasons."""
    if coverage is None:
        return []
    style = "bold red" if coverage.empty else "bold"
    lines = [Text(coverage.describe() + (":" if coverage.skipped else "."), style)]
    if coverage.skipped:
        for skipped in coverage.skipped[:FOOTER_SKIPPED]:
            where = _location_text(skipped.location) if skipped.location else ""
            what = safe(skipped.what)
            label = what if not where or where == what else f"{what} ({where})"
            lines.append(Text(f"  {label}: {safe(skipped.reason)}"))
        if len(coverage.skipped) > FOOTER_SKIPPED:
            lines.append(Text(f"  … and {len(coverage.skipped) - FOOTER_SKIPPED} more (all listed with -f json)"))
    return lines
