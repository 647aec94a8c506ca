"""``fleet stale``: images whose base image moved on, and what a rebuild would fix.

The base of an image comes from, in order:

1. the OCI annotations ``org.opencontainers.image.base.name`` / ``.digest``
   (manifest annotations, or config labels of the same names);
2. the layers: the fleet image whose layer list is the longest strict prefix of
   this image's layers. Longest wins, so an image built on a hardened base
   (debian + hardening layers) is matched to the hardened base, not to debian.

"Base moved" means a tag that pointed at the base digest now points elsewhere
(read from the tag history). The peers' known mistakes are avoided on purpose:
an image whose digest *is* the base's current digest is never outdated; a base
digest reachable under several tags is one base, not an ambiguity (each moved
tag is listed); an unknown base is reported as unknown, never as up to date.

"Fixable" counts the findings in the image's base layers that the current base
no longer has (both are matched in the store: the newer base's inventory was
synced, so nothing is rescanned).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from chainwarden.fleet.store import (
    FleetStore,
    findings,
    image_layers,
    image_packages,
    images,
    layers,
    packages,
    repositories,
    tag_events,
    tags,
)


@dataclass(frozen=True, slots=True)
class StaleRow:
    digest: str
    tags: tuple[str, ...]
    created: str | None
    age_days: int | None
    base_name: str | None
    base_digest: str | None
    base_source: str | None  # "annotation", "layers" or None (unknown)
    base_current: str | None  # the digest the base tag points at now
    base_moved: bool | None  # None: cannot tell (base unknown or not in the fleet)
    moved_tags: tuple[str, ...]
    fixable: tuple[str, ...]  # advisory ids a rebuild on the current base fixes
    advice: str

    @property
    def stale(self) -> bool:
        return bool(self.base_moved)


def parse_age(text: str) -> int:
    """``30d``, ``2w``, ``12h`` (rounded up to days), or a plain number of days."""
    text = text.strip().lower()
    units = {"d": 1, "w": 7}
    try:
        if text.endswith("h"):
            return max(1, -(-int(text[:-1]) // 24))
        if text and text[-1] in units:
            return int(text[:-1]) * units[text[-1]]
        return int(text)
    except ValueError:
        from chainwarden.errors import UsageError

        raise UsageError(f"{text!r}: want an age like 30d, 2w or 12h") from None


def _age_days(created: str | None, now: datetime) -> int | None:
    if not created:
        return None
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, (now - when).days)


def _split_name(name: str) -> tuple[str, str, str] | None:
    """``host/repo:tag`` → (host, repo, tag); None when it names no registry host."""
    from chainwarden.errors import UsageError
    from chainwarden.sources.registry import parse_reference

    try:
        ref = parse_reference(name)
    except UsageError:
        return None
    return ref.registry, ref.repository, ref.tag or "latest"


def stale_images(
    store: FleetStore, *, older_than_days: int | None = None, now: datetime | None = None
) -> list[StaleRow]:
    """Every image with its base verdict; with ``older_than_days`` only images that old (or older)."""
    now = now or datetime.now(UTC)
    with store.connect() as conn:
        image_rows = conn.execute(
            sa.select(
                images.c.id, images.c.digest, images.c.created, images.c.base_name, images.c.base_digest
            ).order_by(images.c.digest)
        ).all()
        chains: dict[int, list[str]] = {}
        for chain_row in conn.execute(
            sa.select(image_layers.c.image_id, image_layers.c.position, layers.c.digest)
            .select_from(image_layers.join(layers))
            .order_by(image_layers.c.image_id, image_layers.c.position)
        ):
            chains.setdefault(int(chain_row[0]), []).append(str(chain_row[2]))
        current: dict[tuple[str, str, str], str] = {}
        names_of: dict[str, list[str]] = {}
        for tag_row in conn.execute(
            sa.select(repositories.c.registry, repositories.c.name, tags.c.tag, tags.c.digest).select_from(
                tags.join(repositories)
            )
        ):
            registry, repo, tag, digest = (str(v) for v in tag_row)
            current[(registry, repo, tag)] = digest
            names_of.setdefault(digest, []).append(f"{registry}/{repo}:{tag}")
        # every (registry, repo, tag) that ever pointed at a digest
        pointed: dict[str, set[tuple[str, str, str]]] = {}
        for event_row in conn.execute(
            sa.select(repositories.c.registry, repositories.c.name, tag_events.c.tag, tag_events.c.new_digest)
            .select_from(tag_events.join(repositories))
            .distinct()
        ):
            registry, repo, tag, digest = (str(v) for v in event_row)
            pointed.setdefault(digest, set()).add((registry, repo, tag))
    by_chain: dict[tuple[str, ...], str] = {}
    digest_of = {int(r.id): str(r.digest) for r in image_rows}
    for image_id, chain in chains.items():
        by_chain.setdefault(tuple(chain), digest_of[image_id])
    result: list[StaleRow] = []
    for row in image_rows:
        digest = str(row.digest)
        age = _age_days(row.created, now)
        if older_than_days is not None and (age is None or age < older_than_days):
            continue
        base_name, base_digest, source = row.base_name, row.base_digest, None
        moved_tags: list[str] = []
        base_current: str | None = None
        moved: bool | None = None
        if base_name or base_digest:
            source = "annotation"
            split = _split_name(base_name) if base_name else None
            if split is not None and split in current:
                base_current = current[split]
                moved = base_digest is not None and base_current != base_digest
                if moved:
                    moved_tags.append(f"{split[0]}/{split[1]}:{split[2]}")
            elif base_digest is not None:
                base_current, moved = _moved_by_history(base_digest, pointed, current, moved_tags)
        else:
            chain = chains.get(int(row.id), [])
            for length in range(len(chain) - 1, 0, -1):
                found = by_chain.get(tuple(chain[:length]))
                if found is not None and found != digest:
                    base_digest, source = found, "layers"
                    names = names_of.get(found) or sorted(f"{r}/{p}:{t}" for r, p, t in pointed.get(found, set()))
                    base_current, moved = _moved_by_history(found, pointed, current, moved_tags)
                    # a moved base is named by the tag that moved (what the Dockerfile's FROM most likely says)
                    base_name = moved_tags[0] if moved_tags else (names[0] if names else None)
                    break
        if base_digest is not None and digest == base_current:
            moved = False  # the image is its base's current digest: never outdated
        fixable: tuple[str, ...] = ()
        if moved and base_digest and base_current:
            fixable = tuple(sorted(_fixable(store, digest, base_digest, base_current)))
        result.append(
            StaleRow(
                digest=digest,
                tags=tuple(sorted(names_of.get(digest, ()))),
                created=row.created,
                age_days=age,
                base_name=base_name,
                base_digest=base_digest,
                base_source=source,
                base_current=base_current,
                base_moved=moved,
                moved_tags=tuple(sorted(set(moved_tags))),
                fixable=fixable,
                advice=_advice(base_name, base_current, moved, fixable, source),
            )
        )
    return sorted(result, key=lambda r: (not r.base_moved, -len(r.fixable), -(r.age_days or 0), r.digest))


def _moved_by_history(
    base: str,
    pointed: dict[str, set[tuple[str, str, str]]],
    current: dict[tuple[str, str, str], str],
    moved_tags: list[str],
) -> tuple[str | None, bool | None]:
    """(current digest of a moved tag, moved?) for a base known by digest only."""
    names = pointed.get(base, set())
    if not names:
        return None, None  # never tagged in the fleet: cannot tell
    still = [n for n in names if current.get(n) == base]
    gone = sorted(n for n in names if current.get(n) not in (None, base))
    for registry, repo, tag in gone:
        moved_tags.append(f"{registry}/{repo}:{tag}")
    if gone:
        return current[gone[0]], True
    return (base if still else None), (False if still else None)


def _image_findings(store: FleetStore, digest: str, layer_digests: Iterable[str] | None) -> set[tuple[str, str]]:
    """(advisory id, package name) of an image's findings, only in ``layer_digests`` when given."""
    query = (
        sa.select(findings.c.vuln_id, packages.c.name)
        .select_from(
            images.join(image_packages, image_packages.c.image_id == images.c.id)
            .join(packages, packages.c.id == image_packages.c.package_id)
            .join(
                findings,
                sa.and_(
                    findings.c.package_id == packages.c.id,
                    findings.c.distro == image_packages.c.match_key,
                ),
            )
            .outerjoin(layers, layers.c.id == image_packages.c.layer_id)
        )
        .where(images.c.digest == digest)
    )
    if layer_digests is not None:
        query = query.where(layers.c.digest.in_(sorted(set(layer_digests))))
    with store.connect() as conn:
        return {(str(v), str(n)) for v, n in conn.execute(query)}


def _fixable(store: FleetStore, digest: str, base: str, base_now: str) -> set[str]:
    with store.connect() as conn:
        base_layers: list[str] = list(
            conn.scalars(
                sa.select(layers.c.digest)
                .select_from(image_layers.join(layers).join(images, images.c.id == image_layers.c.image_id))
                .where(images.c.digest == base)
            )
        )
    from_base = _image_findings(store, digest, base_layers)
    still = _image_findings(store, base_now, None)
    return {vuln_id for vuln_id, name in from_base - still}


def _advice(
    base_name: str | None, base_now: str | None, moved: bool | None, fixable: tuple[str, ...], source: str | None
) -> str:
    if source is None:
        return "base unknown: no base annotation and no fleet image whose layers it starts with"
    if moved is None:
        return f"base {base_name or '?'} not tracked in the fleet: sync its repository to tell whether it moved"
    if not moved:
        return "base is current"
    what = f"fixes {len(fixable)} finding(s)" if fixable else "no known finding fixed, but picks up the newer base"
    return f"rebuild on {base_name or 'the base'} (now {base_now[:19] if base_now else '?'}): {what}"
