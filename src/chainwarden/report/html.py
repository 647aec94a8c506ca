"""One self-contained HTML file a person can open or attach (``--format html``).

Inline CSS and inline SVG charts; no script, no external font, stylesheet or
image: the file renders the same offline, in a mail client's preview, or years
later. Every value is escaped by Jinja2's autoescaping (findings quote hostile
package metadata). Findings come in the order every other format uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup

from chainwarden.models import Finding, InUse, Inventory
from chainwarden.report.json_report import severity_counts, sort_findings, tool_version
from chainwarden.report.svg import bar_chart

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eceff1}code{font-size:.82rem}
.sev{padding:0 .4rem;border-radius:3px;color:#fff;font-size:.8rem}
.sev-critical{background:#7b1fa2}.sev-high{background:#c62828}.sev-medium{background:#ef6c00}
.sev-low{background:#f9a825;color:#000}.sev-info,.sev-unknown{background:#9e9e9e}
.meta{color:#555}.chart text{font-size:12px}.chart .chart-title{font-weight:600}
"""

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="chainwarden {{ version }}">
<title>{{ title }}</title><style>{{ style }}</style></head>
<body><h1>{{ title }}</h1>
<p class="meta">Target <code id="target">{{ target }}</code> · chainwarden {{ version }} · {{ generated }}</p>
{% block body %}{% endblock %}
</body></html>
"""

_FINDINGS = """{% extends "base" %}{% block body %}
<p id="summary">{{ findings|length }} finding(s){% if scanned is not none %} in {{ scanned }} package(s){% endif %}.</p>
<div id="chart">{{ chart }}</div>
{% if findings %}
<table id="findings"><thead><tr><th>Severity</th><th>Rule</th><th>Title</th><th>Package</th><th>Location</th>
<th>In use</th><th>Fix</th></tr></thead><tbody>
{% for f in findings %}<tr class="finding" data-rule="{{ f.rule_id }}" data-severity="{{ f.severity.value }}">
<td><span class="sev sev-{{ f.severity.value }}">{{ f.severity.value }}</span></td><td>{{ f.rule_id }}</td>
<td>{{ f.title }}{% if f.evidence %}<br><small>{{ f.evidence|join("; ") }}</small>{% endif %}</td>
<td>{% if f.package %}{{ f.package.name }} {{ f.package.version }}{% else %}-{% endif %}</td>
<td><code>{{ f.location or "-" }}</code></td><td>{{ in_use(f) }}</td>
<td>{{ f.remediation or (f.fixed_versions|join(", ")) or "-" }}</td></tr>
{% endfor %}</tbody></table>
{% else %}<p id="clean">No findings.</p>{% endif %}
{% endblock %}"""

_INVENTORY = """{% extends "base" %}{% block body %}
<p id="summary">{{ packages|length }} package(s){% if distro %} · {{ distro }}{% endif %}.</p>
<div id="chart">{{ chart }}</div>
<table id="packages"><thead><tr><th>Ecosystem</th><th>Name</th><th>Version</th><th>Licences</th><th>Location</th>
<th>Package URL</th></tr></thead><tbody>
{% for p in packages %}<tr class="package"><td>{{ p.ecosystem.value }}</td><td>{{ p.name }}</td><td>{{ p.version }}</td>
<td>{{ p.licenses|join(", ") or "-" }}</td><td><code>{{ p.locations[0] if p.locations else "-" }}</code></td>
<td><code>{{ p.purl }}</code></td></tr>
{% endfor %}</tbody></table>
{% if skipped %}<h2>Skipped</h2><ul id="skipped">{% for s in skipped %}<li>{{ s.what }}: {{ s.reason }}</li>
{% endfor %}</ul>{% endif %}
{% endblock %}"""

_ENV = Environment(
    loader=DictLoader({"base": _BASE, "findings": _FINDINGS, "inventory": _INVENTORY}),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _in_use(finding: Finding) -> str:
    level = InUse.of(finding)
    return level.value if level is not None else "-"


def _now(generated: datetime | None) -> str:
    return (generated or datetime.now(UTC)).isoformat(timespec="seconds")


def render_findings_html(
    findings: Sequence[Finding],
    *,
    command: str,
    target: str,
    inventory: Inventory | None = None,
    generated: datetime | None = None,
) -> str:
    """Findings of ``command`` on ``target`` as one HTML page (worst first, malicious before all)."""
    ordered = sort_findings(findings)
    counts = severity_counts(ordered)
    chart = bar_chart("Findings by severity", [(k, v) for k, v in counts.items() if v])
    return _ENV.get_template("findings").render(
        title=f"chainwarden {command}: {target}",
        target=target,
        version=tool_version(),
        generated=_now(generated),
        style=Markup(_STYLE),  # noqa: S704 - a constant of this module
        findings=ordered,
        scanned=len(inventory.packages) if inventory is not None else None,
        chart=Markup(chart),  # noqa: S704 - drawn from escaped values
        in_use=_in_use,
    )


def render_inventory_html(inventory: Inventory, *, generated: datetime | None = None) -> str:
    """An inventory (SBOM) as one HTML page, with a packages-per-ecosystem chart."""
    per_ecosystem: dict[str, int] = {}
    for package in inventory.packages:
        per_ecosystem[package.ecosystem.value] = per_ecosystem.get(package.ecosystem.value, 0) + 1
    distro = inventory.distro
    return _ENV.get_template("inventory").render(
        title=f"chainwarden sbom: {inventory.target.reference}",
        target=inventory.target.reference,
        version=tool_version(),
        generated=_now(generated),
        style=Markup(_STYLE),  # noqa: S704 - a constant of this module
        packages=inventory.packages,
        distro=distro.pretty_name or f"{distro.id} {distro.version_id}" if distro else None,
        skipped=inventory.skipped,
        chart=Markup(bar_chart("Packages by ecosystem", sorted(per_ecosystem.items()))),  # noqa: S704
    )
