"""Suppressing findings on purpose: an ignore file with reasons and expiry, and OpenVEX.

Ignore file (``.chainwarden-ignore.yaml``)::

    ignore:
      - id: CVE-2023-30608          # any id of the vulnerability: CVE, GHSA, PYSEC, DSA…
        package: sqlparse           # optional: a name, or a purl (pkg:pypi/sqlparse[@0.4.3])
        reason: only parses our own SQL templates
        expires: 2025-06-30         # optional: from the next day on, the entry stops suppressing

Every entry needs a ``reason``; unknown keys are errors (a misspelt
``expire:`` must not silently make an exception permanent). Expired entries
are reported as warnings so that they get reviewed or removed.

OpenVEX (https://openvex.dev, v0.2.0 and the older v0.0.x shapes): statements
with status ``not_affected`` or ``fixed`` suppress findings whose vulnerability
(name or aliases) and package (a product's or subcomponent's purl) match. When
several statements cover the same pair, the latest (by timestamp, then order
in the document) decides.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from chainwarden._internal.files import read_bounded
from chainwarden.errors import ConfigError
from chainwarden.models import Package
from chainwarden.vulndb.results import ScanResult, Suppression, VulnMatch

MAX_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_IGNORE_FILE = ".chainwarden-ignore.yaml"
_ENTRY_KEYS = {"id", "package", "reason", "expires"}
_SUPPRESSING = ("not_affected", "fixed")


class IgnoreFileError(ConfigError):
    """The ignore file is malformed."""


class VexError(ConfigError):
    """An OpenVEX document is malformed."""


# -- package patterns ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PackagePattern:
    """A package named by a purl (type/namespace/name[@version]) or by a bare name."""

    name: str
    type: str | None = None
    namespace: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> PackagePattern:
        """Raises ValueError for a malformed purl."""
        text = text.strip()
        if not text.startswith("pkg:"):
            return cls(name=text)
        purl = PackageURL.from_string(text)
        name = canonicalize_name(purl.name) if purl.type == "pypi" else purl.name
        return cls(name=name, type=purl.type, namespace=purl.namespace or None, version=purl.version or None)

    def matches(self, package: Package) -> bool:
        if self.type is None:
            names = {package.name, canonicalize_name(package.name)}
            if package.source_name:
                names.add(package.source_name)
            return self.name in names or canonicalize_name(self.name) in names
        try:
            purl = _parse_purl(package.purl)
        except ValueError:
            return False
        if purl.type != self.type or (purl.namespace or None) != self.namespace:
            return False
        name = canonicalize_name(purl.name) if purl.type == "pypi" else purl.name
        if name != self.name:
            return False
        return self.version is None or self.version == (purl.version or package.version)


_PURL_CACHE: dict[str, PackageURL] = {}


def _parse_purl(text: str) -> PackageURL:
    parsed = _PURL_CACHE.get(text)
    if parsed is None:
        parsed = PackageURL.from_string(text)
        if len(_PURL_CACHE) < 100_000:
            _PURL_CACHE[text] = parsed
    return parsed


def _ids_of(match: VulnMatch) -> set[str]:
    return {i.upper() for i in (match.vuln_id, *match.record_ids, *match.finding.aliases)}


# -- ignore file --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    id: str
    reason: str
    package: PackagePattern | None = None
    expires: dt.date | None = None
    where: str = ""  # "path:line"

    def expired(self, today: dt.date) -> bool:
        """Expiry dates are inclusive: an entry expiring today still applies today."""
        return self.expires is not None and self.expires < today

    def matches(self, match: VulnMatch) -> bool:
        if self.id.upper() not in _ids_of(match):
            return False
        return self.package is None or self.package.matches(match.package)


@dataclass(frozen=True, slots=True)
class IgnoreFile:
    path: Path
    rules: tuple[IgnoreRule, ...]


class _LineLoader(yaml.SafeLoader):
    """Safe loading, plus the line of every mapping (for messages)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        # PyYAML turns 2024-02-30 into a ValueError deep inside the parser; keep
        # the text instead, so the entry's check names the file, line and value.
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_yaml_timestamp)


def load_ignore_file(path: Path) -> IgnoreFile:
    """Parse and validate an ignore file; raises :class:`IgnoreFileError` with file:line."""
    data = read_bounded(path, MAX_FILE_BYTES, IgnoreFileError)
    try:
        doc = yaml.load(data, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise IgnoreFileError(f"{where}: not valid YAML: {problem}") from exc
    except RecursionError as exc:
        raise IgnoreFileError(f"{path}: nested too deeply") from exc
    if doc is None:
        return IgnoreFile(path, ())
    if isinstance(doc, dict):
        extra = set(doc) - {"ignore", "__line__"}
        if extra:
            raise IgnoreFileError(f"{path}: unknown top-level key(s) {', '.join(sorted(map(str, extra)))}")
        doc = doc.get("ignore") or []
    if not isinstance(doc, list):
        raise IgnoreFileError(f"{path}: expected a list of entries under 'ignore:'")
    return IgnoreFile(path, tuple(_ignore_rule(path, index, entry) for index, entry in enumerate(doc)))


def _ignore_rule(path: Path, index: int, entry: Any) -> IgnoreRule:
    if not isinstance(entry, dict):
        raise IgnoreFileError(f"{path}: entry {index + 1} is not a mapping with 'id' and 'reason'")
    where = f"{path}:{entry.get('__line__', '?')}"
    unknown = set(entry) - _ENTRY_KEYS - {"__line__"}
    if unknown:
        raise IgnoreFileError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    vuln_id = entry.get("id")
    if not isinstance(vuln_id, str) or not vuln_id.strip():
        raise IgnoreFileError(f"{where}: entry needs an 'id' (CVE-…, GHSA-…, PYSEC-…)")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise IgnoreFileError(f"{where}: entry for {vuln_id} needs a 'reason'")
    package = entry.get("package")
    pattern: PackagePattern | None = None
    if package is not None:
        if not isinstance(package, str) or not package.strip():
            raise IgnoreFileError(f"{where}: 'package' must be a name or a purl")
        try:
            pattern = PackagePattern.parse(package)
        except ValueError as exc:
            raise IgnoreFileError(f"{where}: 'package' is not a valid purl ({exc})") from exc
    expires = entry.get("expires")
    expiry: dt.date | None
    if expires is None:
        expiry = None
    elif isinstance(expires, dt.datetime):
        expiry = expires.date()
    elif isinstance(expires, dt.date):
        expiry = expires
    elif isinstance(expires, str):
        try:
            expiry = dt.date.fromisoformat(expires.strip())
        except ValueError as exc:
            raise IgnoreFileError(f"{where}: 'expires' must be a date YYYY-MM-DD, not '{expires}'") from exc
    else:
        raise IgnoreFileError(f"{where}: 'expires' must be a date YYYY-MM-DD")
    return IgnoreRule(vuln_id.strip(), reason.strip(), pattern, expiry, where)


# -- OpenVEX ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VexStatement:
    vulnerabilities: frozenset[str]  # upper-cased name and aliases
    products: tuple[PackagePattern, ...]
    status: str
    justification: str
    timestamp: str  # ISO 8601, "" when the document has none
    order: int
    where: str

    def matches(self, match: VulnMatch) -> bool:
        if not self.vulnerabilities & _ids_of(match):
            return False
        return any(product.matches(match.package) for product in self.products)


def load_openvex(path: Path) -> tuple[VexStatement, ...]:
    """Statements of an OpenVEX JSON document; raises :class:`VexError`."""
    data = read_bounded(path, MAX_FILE_BYTES, VexError)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise VexError(f"{path}: not valid JSON ({str(exc).splitlines()[0] if str(exc) else 'too deep'})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        raise VexError(f"{path}: not an OpenVEX document (no 'statements' list)")
    doc_time = doc.get("timestamp") if isinstance(doc.get("timestamp"), str) else ""
    statements = []
    for index, raw in enumerate(doc["statements"]):
        where = f"{path}: statements[{index}]"
        if not isinstance(raw, dict):
            raise VexError(f"{where} is not an object")
        status = raw.get("status")
        if status not in ("not_affected", "affected", "fixed", "under_investigation"):
            raise VexError(f"{where}: unknown status {status!r}")
        vulnerabilities = _vex_vulnerabilities(raw.get("vulnerability"), where)
        products = _vex_products(raw.get("products"), where)
        explanation = raw.get("justification") or raw.get("impact_statement") or raw.get("status_notes") or ""
        timestamp = raw.get("timestamp") if isinstance(raw.get("timestamp"), str) else doc_time
        statements.append(
            VexStatement(
                vulnerabilities=vulnerabilities,
                products=products,
                status=status,
                justification=str(explanation),
                timestamp=str(timestamp or ""),
                order=index,
                where=where,
            )
        )
    return tuple(statements)


def _vex_vulnerabilities(value: Any, where: str) -> frozenset[str]:
    ids: list[str] = []
    if isinstance(value, str):
        ids.append(value)
    elif isinstance(value, dict):
        for key in ("name", "@id"):
            if isinstance(value.get(key), str):
                ids.append(value[key])
        aliases = value.get("aliases")
        if isinstance(aliases, list):
            ids.extend(a for a in aliases if isinstance(a, str))
    ids = [i.strip().upper() for i in ids if i.strip()]
    if not ids:
        raise VexError(f"{where}: no vulnerability name")
    return frozenset(ids)


def _vex_products(value: Any, where: str) -> tuple[PackagePattern, ...]:
    if not isinstance(value, list) or not value:
        raise VexError(f"{where}: no products")
    purls: list[str] = []
    for product in value:
        if isinstance(product, str):
            purls.append(product)
        elif isinstance(product, dict):
            purls.extend(_product_purls(product))
            subcomponents = product.get("subcomponents")
            if isinstance(subcomponents, list):
                for sub in subcomponents:
                    if isinstance(sub, str):
                        purls.append(sub)
                    elif isinstance(sub, dict):
                        purls.extend(_product_purls(sub))
    patterns = []
    for purl in purls:
        if not purl.startswith("pkg:"):
            continue  # image digests and other identifiers do not name a package
        try:
            patterns.append(PackagePattern.parse(purl))
        except ValueError as exc:
            raise VexError(f"{where}: product '{purl}' is not a valid purl ({exc})") from exc
    return tuple(patterns)


def _product_purls(product: dict[str, Any]) -> list[str]:
    found = [product["@id"]] if isinstance(product.get("@id"), str) else []
    identifiers = product.get("identifiers")
    if isinstance(identifiers, dict) and isinstance(identifiers.get("purl"), str):
        found.append(identifiers["purl"])
    return found


# -- applying -----------------------------------------------------------------------------


def apply_suppressions(
    result: ScanResult,
    *,
    ignore: IgnoreFile | None = None,
    vex: Sequence[VexStatement] = (),
    today: dt.date | None = None,
) -> ScanResult:
    """``result`` without the matches an ignore entry or a VEX statement covers.

    Suppressed matches move to ``result.suppressed`` with who suppressed them;
    expired ignore entries become warnings.
    """
    today = today or dt.date.today()
    warnings = list(result.warnings)
    active: list[IgnoreRule] = []
    for rule in ignore.rules if ignore else ():
        if rule.expired(today):
            warnings.append(
                f"{rule.where}: ignore entry for {rule.id} expired on {rule.expires}; it no longer suppresses"
            )
        else:
            active.append(rule)
    statements = sorted(vex, key=lambda s: (s.timestamp, s.order))
    kept: list[VulnMatch] = []
    suppressed = list(result.suppressed)
    for match in result.matches:
        suppression = _suppression_for(match, active, statements)
        if suppression is None:
            kept.append(match)
        else:
            suppressed.append(suppression)
    return replace(result, matches=tuple(kept), suppressed=tuple(suppressed), warnings=tuple(warnings))


def _suppression_for(
    match: VulnMatch, rules: Iterable[IgnoreRule], statements: Sequence[VexStatement]
) -> Suppression | None:
    for rule in rules:
        if rule.matches(match):
            return Suppression(match, rule.where, rule.reason)
    latest: VexStatement | None = None
    for statement in statements:
        if statement.matches(match):
            latest = statement  # sorted: the last one that matches is the newest
    if latest is not None and latest.status in _SUPPRESSING:
        detail = f": {latest.justification}" if latest.justification else ""
        return Suppression(match, latest.where, f"OpenVEX {latest.status}{detail}")
    return None
