"""What reporters share: rule metadata and the stable JSON shape of records.

The JSON field names produced here are a public, documented schema
(docs/json-schema.md); change them only with a schema version bump.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chainwarden.errors import ReportError
from chainwarden.models import Coverage, Finding, Inventory, Location, Package, Severity, Skipped, TargetInfo

JSON_SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Metadata of one rule, for SARIF ``tool.driver.rules`` and docs."""

    id: str
    name: str  # PascalCase for SARIF, e.g. "DockerfileUnpinnedBase"
    short_description: str
    help_text: str  # rationale citing the threat, and the fix
    default_severity: Severity
    help_uri: str | None = None


class ReporterError(ReportError):
    """A report could not be rendered."""


def location_to_dict(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"path": location.path, "layer": location.layer, "line": location.line, "column": location.column}


def package_to_dict(package: Package, *, with_files: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ecosystem": package.ecosystem.value,
        "name": package.name,
        "version": package.version,
        "purl": package.purl,
        "found_by": package.found_by,
        "locations": [location_to_dict(loc) for loc in package.locations],
        "source": ({"name": package.source_name, "version": package.source_version} if package.source_name else None),
        "arch": package.arch,
        "licenses": list(package.licenses),
        "direct": package.direct,
        "scope": package.scope.value if package.scope else None,
        "hashes": list(package.hashes),
        "pinned": package.pinned,
        "supplier": package.supplier,
    }
    if with_files:
        data["files"] = list(package.files)
        data["file_digests"] = list(package.file_digests)
    return data


def target_to_dict(target: TargetInfo) -> dict[str, Any]:
    return {
        "kind": target.kind,
        "reference": target.reference,
        "digest": target.digest,
        "config_digest": target.config_digest,
        "platform": target.platform,
        "repo_tags": list(target.repo_tags),
        "layers": [
            {
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "size": layer.size,
                "media_type": layer.media_type,
                "created_by": layer.created_by,
            }
            for layer in target.layers
        ],
    }


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "title": finding.title,
        "description": finding.description,
        "package": package_to_dict(finding.package, with_files=False) if finding.package else None,
        "location": location_to_dict(finding.location),
        "evidence": list(finding.evidence),
        "remediation": finding.remediation,
        "aliases": sorted(finding.aliases),
        "fixed_versions": list(finding.fixed_versions),
        "references": list(finding.references),
        "tags": sorted(finding.tags),
    }


def inventory_to_dict(inventory: Inventory) -> dict[str, Any]:
    distro = inventory.distro
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "target": target_to_dict(inventory.target),
        "distro": (
            {
                "id": distro.id,
                "version_id": distro.version_id,
                "codename": distro.codename,
                "pretty_name": distro.pretty_name,
            }
            if distro
            else None
        ),
        "packages": [package_to_dict(p) for p in inventory.packages],
        "skipped": [skipped_to_dict(s) for s in inventory.skipped],
    }


def skipped_to_dict(skipped: Skipped) -> dict[str, Any]:
    return {"what": skipped.what, "location": location_to_dict(skipped.location), "reason": skipped.reason}


def coverage_to_dict(coverage: Coverage) -> dict[str, Any]:
    """The ``coverage`` object of the findings document (docs/json-schema.md)."""
    return {
        "checked": {unit: count for unit, count in coverage.counts},
        "total": coverage.checked,
        "empty": coverage.empty,
        "summary": coverage.describe(),
        "skipped": [skipped_to_dict(s) for s in coverage.skipped],
    }
