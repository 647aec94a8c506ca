"""Questions the fleet store answers without rescanning anything.

- :func:`affected`: which images hold a vulnerable or malicious package version
  (by CVE/GHSA/MAL/any alias, or by ``pkg:TYPE/NAME@<range>``), in which
  layer and path, how much it was used, and which version fixes it;
  malicious-package records first, then by severity and in-use level.
- :func:`list_images`: every image with its tags, base and worst finding.
- :func:`package_usage`: who uses which version of a package.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from packageurl import PackageURL

from chainwarden.errors import UsageError
from chainwarden.fleet.interface import AffectedRow, ImageRow, PackageUsage
from chainwarden.fleet.store import (
    FleetStore,
    finding_ids,
    findings,
    image_layers,
    image_packages,
    images,
    layers,
    packages,
    repositories,
    tags,
)
from chainwarden.models import MALICIOUS_PACKAGE_RULE_ID, Ecosystem, InUse, Severity

_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9._:-]*$")
_RANGE_RE = re.compile(r"^(<=|>=|==|!=|<|>|=)?\s*(.+)$")
_OSV_ECOSYSTEM = {"pypi": "PyPI", "npm": "npm", "deb": "Debian"}


def tags_by_digest(store: FleetStore, digests: Iterable[str] | None = None) -> dict[str, list[str]]:
    """digest → ``HOST/REPO:TAG`` for every tag pointing at it now."""
    query = sa.select(repositories.c.registry, repositories.c.name, tags.c.tag, tags.c.digest).select_from(
        tags.join(repositories)
    )
    if digests is not None:
        query = query.where(tags.c.digest.in_(sorted(set(digests))))
    found: dict[str, list[str]] = {}
    with store.connect() as conn:
        for registry, name, tag, digest in conn.execute(query):
            found.setdefault(str(digest), []).append(f"{registry}/{name}:{tag}")
    for names in found.values():
        names.sort()
    return found


def _severity_rank(text: str) -> int:
    try:
        return Severity(text).rank
    except ValueError:
        return 0


def _in_use_rank(text: str | None) -> int:
    if text is None:
        return len(InUse)
    try:
        return InUse(text).rank
    except ValueError:
        return len(InUse)


def sort_key(row: AffectedRow) -> tuple[int, int, int, str, str, str]:
    """Malicious packages first, then worst severity, then in-use level, then stable order."""
    return (
        0 if row.rule_id == MALICIOUS_PACKAGE_RULE_ID else 1,
        -_severity_rank(row.severity),
        _in_use_rank(row.in_use),
        row.vuln_id,
        row.image_digest,
        row.path,
    )


def _placements(store: FleetStore, condition: sa.ColumnElement[bool], with_findings: bool) -> list[tuple[Any, ...]]:
    columns: list[sa.ColumnElement[object]] = [
        images.c.digest,
        packages.c.ecosystem,
        packages.c.name,
        packages.c.version,
        layers.c.digest.label("layer"),
        image_packages.c.path,
        image_packages.c.in_use,
    ]
    source = (
        image_packages.join(packages, image_packages.c.package_id == packages.c.id)
        .join(images, image_packages.c.image_id == images.c.id)
        .outerjoin(layers, image_packages.c.layer_id == layers.c.id)
    )
    if with_findings:
        columns += [findings.c.vuln_id, findings.c.rule_id, findings.c.severity, findings.c.fixed]
        source = source.join(
            findings,
            sa.and_(
                findings.c.package_id == packages.c.id,
                findings.c.distro == image_packages.c.match_key,
            ),
        )
    with store.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*columns).select_from(source).where(condition))]


def affected(store: FleetStore, query: str) -> list[AffectedRow]:
    """Images affected by an advisory id (any alias) or a ``pkg:`` range."""
    query = query.strip()
    if query.startswith("pkg:"):
        return _affected_by_purl(store, query)
    if not _ID_RE.match(query):
        raise UsageError(
            f"{query!r}: want an advisory id (CVE-…, GHSA-…, MAL-…, PYSEC-…) "
            "or a package range (pkg:pypi/requests@<2.32)"
        )
    # ids are stored as their databases spell them: GHSA-xxxx-xxxx-xxxx (lower-case body), else upper-case
    spellings = {query, query.upper(), "GHSA-" + query[5:].lower() if query.upper().startswith("GHSA-") else query}
    primary = sa.select(finding_ids.c.vuln_id).where(finding_ids.c.id.in_(sorted(spellings)))
    rows = _placements(store, findings.c.vuln_id.in_(primary), with_findings=True)
    tag_map = tags_by_digest(store, {str(r[0]) for r in rows})
    fixed_of: dict[str, tuple[str, ...]] = {}
    result = []
    # positional unpacking: attribute access on result rows costs more than the query itself here
    for digest, ecosystem, name, version, layer, path, in_use, vuln_id, rule_id, severity, fixed in rows:
        fixed_versions = fixed_of.get(fixed)
        if fixed_versions is None:
            fixed_versions = fixed_of[fixed] = tuple(json.loads(fixed))
        result.append(
            AffectedRow(
                vuln_id=vuln_id,
                rule_id=rule_id,
                severity=severity,
                image_digest=digest,
                tags=tuple(tag_map.get(digest, ())),
                ecosystem=ecosystem,
                name=name,
                version=version,
                layer=layer,
                path=path,
                in_use=in_use,
                fixed=fixed_versions,
            )
        )
    return sorted(result, key=sort_key)


def parse_purl_range(text: str) -> tuple[str, str, list[tuple[str, str]]]:
    """``pkg:pypi/requests@<2.32,>=2.0`` → ("pypi", "requests", [("<", "2.32"), (">=", "2.0")])."""
    name_part, at, range_part = text.partition("@")
    try:
        purl = PackageURL.from_string(name_part)
    except ValueError as exc:
        raise UsageError(f"{text!r}: not a package URL ({exc})") from exc
    try:
        ecosystem = Ecosystem(purl.type)
    except ValueError:
        ecosystem = None
    if ecosystem is None or ecosystem.value not in _OSV_ECOSYSTEM:
        raise UsageError(f"{text!r}: package type {purl.type!r} is not one of pypi, npm, deb") from None
    name = f"{purl.namespace}/{purl.name}" if purl.namespace and ecosystem is Ecosystem.NPM else purl.name
    if ecosystem is Ecosystem.PYPI:
        from packaging.utils import canonicalize_name

        name = canonicalize_name(name)
    constraints: list[tuple[str, str]] = []
    if at:
        for part in range_part.split(","):
            match = _RANGE_RE.match(part.strip())
            if not part.strip() or match is None:
                raise UsageError(f"{text!r}: empty version constraint")
            bound = match.group(2).strip()
            if not bound[:1].isalnum():
                # "<<1" or "<=>" is a typo, not a version to compare with
                raise UsageError(f"{text!r}: {part.strip()!r} is not OPERATOR VERSION (<, <=, >, >=, ==, !=)")
            constraints.append((match.group(1) or "==", bound))
    return ecosystem.value, name, constraints


def _satisfies(ecosystem: str, version: str, constraints: list[tuple[str, str]]) -> bool:
    from chainwarden.vulndb.versions import UncomparableVersion, compare, scheme_for

    scheme = scheme_for(_OSV_ECOSYSTEM[ecosystem])
    assert scheme is not None
    for op, bound in constraints:
        try:
            order = compare(scheme, version, bound)
        except UncomparableVersion:
            return False
        ok = {
            "<": order < 0,
            "<=": order <= 0,
            ">": order > 0,
            ">=": order >= 0,
            "==": order == 0,
            "=": order == 0,
            "!=": order != 0,
        }[op]
        if not ok:
            return False
    return True


def _affected_by_purl(store: FleetStore, text: str) -> list[AffectedRow]:
    ecosystem, name, constraints = parse_purl_range(text)
    rows = _placements(store, sa.and_(packages.c.ecosystem == ecosystem, packages.c.name == name), with_findings=False)
    rows = [r for r in rows if _satisfies(ecosystem, str(r[3]), constraints)]
    tag_map = tags_by_digest(store, {str(r[0]) for r in rows})
    result = [
        AffectedRow(
            vuln_id=text,
            rule_id="package-range",
            severity=Severity.UNKNOWN.value,
            image_digest=digest,
            tags=tuple(tag_map.get(digest, ())),
            ecosystem=eco,
            name=pkg_name,
            version=version,
            layer=layer,
            path=path,
            in_use=in_use,
            fixed=(),
        )
        for digest, eco, pkg_name, version, layer, path, in_use in rows
    ]
    return sorted(result, key=sort_key)


def list_images(store: FleetStore) -> list[ImageRow]:
    """Every image, worst first."""
    with store.connect() as conn:
        base = {
            row.id: row
            for row in conn.execute(
                sa.select(
                    images.c.id,
                    images.c.digest,
                    images.c.created,
                    images.c.platform,
                    images.c.distro,
                    images.c.base_name,
                    images.c.scanned_at,
                )
            )
        }
        layer_counts: dict[int, int] = {
            int(r[0]): int(r[1])
            for r in conn.execute(sa.select(image_layers.c.image_id, sa.func.count()).group_by(image_layers.c.image_id))
        }
        package_counts: dict[int, int] = {
            int(r[0]): int(r[1])
            for r in conn.execute(
                sa.select(image_packages.c.image_id, sa.func.count()).group_by(image_packages.c.image_id)
            )
        }
        finding_rows = conn.execute(
            sa.select(image_packages.c.image_id, findings.c.vuln_id, findings.c.severity, findings.c.db_version)
            .select_from(
                image_packages.join(images, image_packages.c.image_id == images.c.id).join(
                    findings,
                    sa.and_(
                        findings.c.package_id == image_packages.c.package_id,
                        findings.c.distro == image_packages.c.match_key,
                    ),
                )
            )
            .distinct()
        ).all()
    worst: dict[int, int] = {}
    count: dict[int, set[str]] = {}
    db_version: dict[int, str] = {}
    for row_ in finding_rows:
        image_id, vuln_id, severity, version = int(row_[0]), str(row_[1]), str(row_[2]), str(row_[3])
        count.setdefault(image_id, set()).add(vuln_id)
        worst[image_id] = max(worst.get(image_id, -1), _severity_rank(severity))
        db_version[image_id] = max(db_version.get(image_id, ""), version)
    tag_map = tags_by_digest(store)
    order = list(Severity)
    result = [
        ImageRow(
            digest=row.digest,
            repositories=tuple(tag_map.get(row.digest, ())),
            created=row.created,
            platform=row.platform,
            distro=row.distro or None,
            layers=layer_counts.get(image_id, 0),
            packages=package_counts.get(image_id, 0),
            findings=len(count.get(image_id, ())),
            worst=order[worst[image_id]].value if image_id in worst else None,
            base=row.base_name,
            scanned_at=row.scanned_at,
            db_version=db_version.get(image_id),
        )
        for image_id, row in base.items()
    ]
    return sorted(result, key=lambda r: (-(_severity_rank(r.worst) if r.worst else -1), -r.findings, r.digest))


def package_usage(store: FleetStore, name: str, ecosystem: str | None = None) -> list[PackageUsage]:
    """Every version of ``name`` in the fleet, with how many images use it and their tags."""
    condition = packages.c.name == name
    if ecosystem:
        condition = sa.and_(condition, packages.c.ecosystem == ecosystem)
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(packages.c.ecosystem, packages.c.name, packages.c.version, packages.c.purl, images.c.digest)
            .select_from(packages.join(image_packages).join(images))
            .where(condition)
            .distinct()
        ).all()
    tag_map = tags_by_digest(store, {str(r[4]) for r in rows})
    grouped: dict[tuple[str, str, str, str], set[str]] = {}
    for r in rows:
        grouped.setdefault((str(r[0]), str(r[1]), str(r[2]), str(r[3])), set()).add(str(r[4]))
    return [
        PackageUsage(
            ecosystem=eco,
            name=pkg_name,
            version=version,
            purl=purl,
            images=len(digests),
            tags=tuple(sorted(t for d in digests for t in tag_map.get(d, ()))),
        )
        for (eco, pkg_name, version, purl), digests in sorted(grouped.items())
    ]


@dataclass(frozen=True, slots=True)
class ImageDetail:
    """Everything the per-image page shows."""

    image: ImageRow
    layers: tuple[tuple[str, int, str], ...]  # (digest, size, created_by)
    packages: tuple[tuple[str, str, str, str, str | None, str | None], ...]  # eco, name, version, path, layer, in_use
    findings: tuple[AffectedRow, ...]


def image_detail(store: FleetStore, digest: str) -> ImageDetail | None:
    """The image ``digest`` (a unique prefix of at least 12 hex digits is enough), or None."""
    rows = [r for r in list_images(store) if r.digest == digest or (len(digest) >= 19 and r.digest.startswith(digest))]
    if len(rows) != 1:
        return None
    image = rows[0]
    with store.connect() as conn:
        image_id = conn.scalar(sa.select(images.c.id).where(images.c.digest == image.digest))
        layer_rows = conn.execute(
            sa.select(layers.c.digest, layers.c.size, image_layers.c.created_by)
            .select_from(image_layers.join(layers))
            .where(image_layers.c.image_id == image_id)
            .order_by(image_layers.c.position)
        ).all()
        package_rows = conn.execute(
            sa.select(
                packages.c.ecosystem,
                packages.c.name,
                packages.c.version,
                image_packages.c.path,
                layers.c.digest,
                image_packages.c.in_use,
            )
            .select_from(
                image_packages.join(packages, packages.c.id == image_packages.c.package_id).outerjoin(
                    layers, layers.c.id == image_packages.c.layer_id
                )
            )
            .where(image_packages.c.image_id == image_id)
            .order_by(packages.c.ecosystem, packages.c.name, packages.c.version)
        ).all()
    found = _placements(store, images.c.digest == image.digest, with_findings=True) if image.findings else []
    tag_list = tuple(image.repositories)
    finding_rows = sorted(
        (
            AffectedRow(
                vuln_id=vuln_id,
                rule_id=rule_id,
                severity=severity,
                image_digest=image.digest,
                tags=tag_list,
                ecosystem=eco,
                name=pkg_name,
                version=version,
                layer=layer,
                path=path,
                in_use=in_use,
                fixed=tuple(json.loads(fixed)),
            )
            for _, eco, pkg_name, version, layer, path, in_use, vuln_id, rule_id, severity, fixed in found
        ),
        key=sort_key,
    )
    return ImageDetail(
        image=image,
        layers=tuple((str(d), int(str(s)), str(c or "")) for d, s, c in layer_rows),
        packages=tuple(
            (str(e), str(n), str(v), str(p), str(layer) if layer else None, str(u) if u else None)
            for e, n, v, p, layer, u in package_rows
        ),
        findings=tuple(finding_rows),
    )


def findings_timeline(store: FleetStore) -> list[tuple[str, int]]:
    """(day, findings first seen up to that day) — cumulative, for the "findings over time" chart."""
    with store.connect() as conn:
        days = [str(r[0])[:10] for r in conn.execute(sa.select(findings.c.first_seen))]
    per_day: dict[str, int] = {}
    for day in days:
        per_day[day] = per_day.get(day, 0) + 1
    total = 0
    timeline = []
    for day in sorted(per_day):
        total += per_day[day]
        timeline.append((day, total))
    return timeline


def in_use_share(store: FleetStore) -> dict[str, int]:
    """Package placements of profiled images per in-use level."""
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(image_packages.c.in_use, sa.func.count())
            .where(image_packages.c.in_use.is_not(None))
            .group_by(image_packages.c.in_use)
        ).all()
    return {str(row[0]): int(str(row[1])) for row in rows}
