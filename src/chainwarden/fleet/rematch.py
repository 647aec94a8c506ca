"""``fleet rematch``: after ``db update|import``, recompute only what changed advisories touch.

The store keeps each advisory's state (``modified|withdrawn``) as of the last
match. A rematch compares it with the database now: the advisories that are
new, modified, withdrawn or gone name a set of packages (ecosystem and name,
or Debian source name); only the fleet's package versions with those names are
matched again (plus any never matched, e.g. stored before a database existed).
Never per image: a package version shared by 500 images is matched once.

The findings reported are those first seen since the previous rematch (from the
rematch itself or from syncs in between), so a cron job can alert on them.
Malicious-package records (OSV ``MAL-…``) are critical and listed first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from packaging.utils import canonicalize_name

from chainwarden.fleet.interface import AffectedRow
from chainwarden.fleet.queries import sort_key, tags_by_digest
from chainwarden.fleet.store import (
    FleetStore,
    PackageKey,
    advisories,
    findings,
    image_packages,
    images,
    layers,
    now_text,
    packages,
)
from chainwarden.fleet.sync import match_packages
from chainwarden.vulndb.store import VulnDatabase

LAST_REMATCH = "last_rematch_at"


@dataclass(frozen=True, slots=True)
class RematchReport:
    db_version: str
    advisories_changed: int
    package_versions_rematched: int
    since: str | None  # findings first seen after this time are "new"
    new: tuple[AffectedRow, ...]
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {
            "db_version": self.db_version,
            "advisories_changed": self.advisories_changed,
            "package_versions_rematched": self.package_versions_rematched,
            "since": self.since,
            "seconds": round(self.seconds, 3),
            "new_findings": [
                {
                    "vuln_id": r.vuln_id,
                    "rule_id": r.rule_id,
                    "severity": r.severity,
                    "image_digest": r.image_digest,
                    "tags": list(r.tags),
                    "ecosystem": r.ecosystem,
                    "name": r.name,
                    "version": r.version,
                    "layer": r.layer,
                    "path": r.path,
                    "in_use": r.in_use,
                    "fixed": list(r.fixed),
                }
                for r in self.new
            ],
        }


def _fleet_names(osv_names: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """OSV (ecosystem, name) → the store's (ecosystem, name); Debian names are source names."""
    found: set[tuple[str, str]] = set()
    for ecosystem, name in osv_names:
        if ecosystem == "PyPI":
            found.add(("pypi", canonicalize_name(name)))
        elif ecosystem == "npm":
            found.add(("npm", name))
        elif ecosystem == "Debian" or ecosystem.startswith("Debian:"):
            found.add(("deb", name))
    return found


def changed_advisories(previous: Mapping[str, str], current: Mapping[str, str]) -> set[str]:
    return {vuln_id for vuln_id in previous.keys() | current.keys() if previous.get(vuln_id) != current.get(vuln_id)}


def rematch(store: FleetStore, db: VulnDatabase) -> RematchReport:
    """Recompute findings for package versions named by changed advisories; report what is new."""
    started = time.perf_counter()
    since = store.get_setting(LAST_REMATCH)
    run_at = now_text()
    version = db.version()
    current = db.record_states()
    previous = store.advisory_states()
    changed = changed_advisories(previous, current) if previous else set(current)
    names = _fleet_names(db.affected_names(changed & current.keys()))
    names |= store.finding_names(changed)  # findings of withdrawn or deleted records go away
    keys: dict[tuple[int, str], PackageKey] = {(k.id, k.distro): k for k in store.packages_named(names)}
    for key in store.unmatched_packages(None):  # never matched (stored while there was no database)
        keys.setdefault((key.id, key.distro), key)
    chosen = list(keys.values())
    if chosen:
        chosen, records = match_packages(store, chosen, db)
        store.replace_findings(chosen, records, version)
    # what no changed advisory names is as current as if it had been matched again
    store.mark_all_matched(version)
    _save_states(store, previous, current, changed)
    store.set_setting(LAST_REMATCH, run_at)
    return RematchReport(
        db_version=version,
        advisories_changed=len(changed),
        package_versions_rematched=len(chosen),
        since=since,
        new=tuple(new_findings(store, since)),
        seconds=time.perf_counter() - started,
    )


def _save_states(store: FleetStore, previous: Mapping[str, str], current: Mapping[str, str], changed: set[str]) -> None:
    if not previous:
        store.save_advisory_states(current)
        return
    with store.begin() as conn:
        ids = sorted(changed)
        for start in range(0, len(ids), 500):
            conn.execute(advisories.delete().where(advisories.c.id.in_(ids[start : start + 500])))
        rows = [{"id": i, "state": current[i]} for i in ids if i in current]
        if rows:
            conn.execute(advisories.insert(), rows)


def new_findings(store: FleetStore, since: str | None) -> list[AffectedRow]:
    """Every (image, finding) whose finding was first seen after ``since`` (all when None)."""
    condition = sa.true() if since is None else findings.c.first_seen > since
    source = (
        findings.join(packages, findings.c.package_id == packages.c.id)
        .join(image_packages, image_packages.c.package_id == packages.c.id)
        .join(
            images,
            sa.and_(
                image_packages.c.image_id == images.c.id,
                findings.c.distro == image_packages.c.match_key,
            ),
        )
        .outerjoin(layers, image_packages.c.layer_id == layers.c.id)
    )
    query = (
        sa.select(
            findings.c.vuln_id,
            findings.c.rule_id,
            findings.c.severity,
            findings.c.fixed,
            images.c.digest,
            packages.c.ecosystem,
            packages.c.name,
            packages.c.version,
            layers.c.digest.label("layer"),
            image_packages.c.path,
            image_packages.c.in_use,
        )
        .select_from(source)
        .where(condition)
    )
    with store.connect() as conn:
        rows = conn.execute(query).all()
    tag_map = tags_by_digest(store, {str(r.digest) for r in rows})
    result = [
        AffectedRow(
            vuln_id=str(r.vuln_id),
            rule_id=str(r.rule_id),
            severity=str(r.severity),
            image_digest=str(r.digest),
            tags=tuple(tag_map.get(str(r.digest), ())),
            ecosystem=str(r.ecosystem),
            name=str(r.name),
            version=str(r.version),
            layer=str(r.layer) if r.layer else None,
            path=str(r.path),
            in_use=str(r.in_use) if r.in_use else None,
            fixed=tuple(json.loads(str(r.fixed))),
        )
        for r in rows
    ]
    return sorted(result, key=sort_key)
