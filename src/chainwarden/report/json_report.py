"""chainwarden's own JSON documents: the inventory and a list of findings.

Both shapes are public and documented field by field in docs/json-schema.md;
the record layouts come from :mod:`chainwarden.report.interface` so that every
command speaks the same JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chainwarden import __version__
from chainwarden.models import MALICIOUS_PACKAGE_RULE_ID, Coverage, Finding, InUse, Inventory, Severity
from chainwarden.report.interface import (
    JSON_SCHEMA_VERSION,
    ReporterError,
    coverage_to_dict,
    finding_to_dict,
    inventory_to_dict,
    target_to_dict,
)

# Keys the findings document owns; ``extra`` may add to them, never replace them.
_RESERVED_KEYS = frozenset({"schema_version", "command", "target", "summary", "findings", "scanned", "coverage"})


_HASH_HEX_LENGTHS = {
    "md5": 32,
    "sha1": 40,
    "sha224": 56,
    "sha256": 64,
    "sha384": 96,
    "sha512": 128,
    "sha3-256": 64,
    "sha3-384": 96,
    "sha3-512": 128,
    "blake2b-256": 64,
    "blake2b-384": 96,
    "blake2b-512": 128,
}
_HEX = re.compile(r"[0-9a-fA-F]+")


def tool_version() -> str:
    """chainwarden's version, as reports name their producer."""
    return __version__


def parse_hash_pin(pin: str) -> tuple[str, str] | None:
    """``(algorithm, lowercase hex)`` of a ``sha256:<hex>`` pin or an SRI ``sha512-<base64>``.

    ``None`` when the algorithm is unknown or the value is not a digest of the
    right length: SBOM formats reject malformed digests, and a pin that is not
    a digest proves nothing.
    """
    algorithm, sep, value = pin.partition(":")
    if not sep:
        algorithm, sep, value = pin.partition("-")
    algorithm = algorithm.lower()
    expected = _HASH_HEX_LENGTHS.get(algorithm)
    if not sep or expected is None:
        return None
    if not (_HEX.fullmatch(value) and len(value) == expected):
        try:
            value = base64.b64decode(value, validate=True).hex()
        except (binascii.Error, ValueError):
            return None
        if len(value) != expected:
            return None
    return algorithm, value.lower()


def finding_sort_key(finding: Finding) -> tuple[bool, int, int, str, str, str, str, str]:
    """Known malicious packages first, then in use (when a runtime profile tagged
    findings), then worst first, then a stable order by rule, package and location.

    Every reporter uses this order, so the table, JSON and SARIF list the same
    findings in the same sequence.
    """
    package = finding.package
    level = InUse.of(finding)
    return (
        finding.rule_id != MALICIOUS_PACKAGE_RULE_ID,
        level.rank if level is not None else len(InUse),
        -finding.severity.rank,
        finding.rule_id,
        package.name if package else "",
        package.version if package else "",
        str(finding.location) if finding.location else (package.id if package else ""),
        finding.title,
    )


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in report order (see :func:`finding_sort_key`)."""
    return sorted(findings, key=finding_sort_key)


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Count findings per severity, worst first, every severity present (zero included)."""
    counts = {severity.value: 0 for severity in sorted(Severity, key=lambda s: -s.rank)}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts


def _dumps(document: Mapping[str, Any], *, pretty: bool = True) -> str:
    # ensure_ascii=False keeps names such as "café" readable; sort_keys is off
    # because the field order in the schema is part of its readability.
    if pretty:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    # compact output takes the C encoder: ~10x faster on a large inventory
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def render_inventory_json(inventory: Inventory, *, pretty: bool = True) -> str:
    """The inventory as chainwarden's JSON document (schema in docs/json-schema.md).

    ``pretty=False`` writes the same document without indentation.
    """
    return _dumps(inventory_to_dict(inventory), pretty=pretty)


def render_findings_json(
    findings: Sequence[Finding],
    *,
    command: str,
    target: str,
    inventory: Inventory | None = None,
    extra: Mapping[str, Any] | None = None,
    coverage: Coverage | None = None,
) -> str:
    """Findings as chainwarden's JSON document.

    ``{"schema_version", "command", "target", "summary", "findings", ...}``;
    findings are sorted worst first. With ``inventory`` the document also holds
    ``"scanned"`` (the target description and the number of packages examined),
    so that an empty findings list can be told apart from an empty scan.
    ``extra`` adds command-specific top-level keys (e.g. ``"database"``).
    ``coverage`` adds ``"coverage"``: how much was checked, and every skipped
    item with its reason.

    Raises:
        ReporterError: ``extra`` tries to replace a key the document owns.
    """
    ordered = sort_findings(findings)
    document: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "command": command,
        "target": target,
        "summary": {"total": len(ordered), "by_severity": severity_counts(ordered)},
        "findings": [finding_to_dict(finding) for finding in ordered],
    }
    if inventory is not None:
        document["scanned"] = {
            "target": target_to_dict(inventory.target),
            "packages": len(inventory.packages),
            "skipped": len(inventory.skipped),
        }
    if coverage is not None:
        document["coverage"] = coverage_to_dict(coverage)
    if extra:
        clashing = sorted(_RESERVED_KEYS.intersection(extra))
        if clashing:
            raise ReporterError(f"findings JSON: extra keys {', '.join(clashing)} would replace the document's own")
        document.update(extra)
    return _dumps(document)
