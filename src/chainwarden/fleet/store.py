"""The fleet store: every image of a registry, normalised, in SQLite or PostgreSQL.

SQLAlchemy Core 2 over one schema that Alembic migrations create and upgrade
(``fleet/migrations``), the same on both engines:

- ``packages``: each (ecosystem, name, version) exactly once; images point at it.
- ``layers``: content-addressed, so a base layer shared by 500 images is one row.
- ``images``: one per manifest digest (created, platform, distro, base image).
- ``image_layers`` / ``image_packages``: which layers and which package versions
  (with the layer and path that brought them, and the in-use level a stored
  runtime profile gave them).
- ``repositories`` / ``tags`` / ``tag_events``: where each digest is published,
  and every move of a tag (a tag that moved is an event, never an overwrite).
- ``findings``: per package version and match key (see :func:`match_key`: the
  Debian release of a .deb, the release and owning .deb of a node module that
  Debian ships), never per image, with the vulnerability database version that
  produced them; ``matched`` says which were matched against which database
  version; ``debian_modules`` which .deb ships which node module.
- ``advisories``: the state of every advisory at the last match, so that
  ``fleet rematch`` recomputes only package versions named by advisories that changed.

SQLite is the default (a file in the user data dir); ``postgresql://…`` URLs
select PostgreSQL through psycopg 3.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from chainwarden.fleet.interface import FleetError, StoreMissingError

ENV_STORE = "CHAINWARDEN_FLEET_STORE"
STORE_FILENAME = "fleet.sqlite3"

metadata = sa.MetaData()

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("registry", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.UniqueConstraint("registry", "name", name="uq_repositories"),
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(80), nullable=False, unique=True),
    sa.Column("config_digest", sa.String(80)),
    sa.Column("created", sa.String(40)),
    sa.Column("platform", sa.String(64)),
    sa.Column("distro", sa.String(64)),  # "debian:12", "" when none
    sa.Column("base_name", sa.String(512)),
    sa.Column("base_digest", sa.String(80)),
    sa.Column("base_source", sa.String(16)),  # "annotation", "layers" or NULL
    sa.Column("reference", sa.Text, nullable=False),  # what was scanned
    sa.Column("scanned_at", sa.String(40), nullable=False),
    sa.Column("profiled", sa.Boolean, nullable=False, default=False),
)

layers = sa.Table(
    "layers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(80), nullable=False, unique=True),
    sa.Column("diff_id", sa.String(80)),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(128), nullable=False),
)

image_layers = sa.Table(
    "image_layers",
    metadata,
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("layer_id", sa.Integer, sa.ForeignKey("layers.id"), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False, default=""),
)

packages = sa.Table(
    "packages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ecosystem", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.String(255), nullable=False),
    sa.Column("purl", sa.Text, nullable=False),
    sa.Column("source_name", sa.String(255)),
    sa.Column("source_version", sa.String(255)),
    sa.UniqueConstraint("ecosystem", "name", "version", name="uq_packages"),
)

image_packages = sa.Table(
    "image_packages",
    metadata,
    sa.Column("image_id", sa.Integer, sa.ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id"), nullable=False),
    sa.Column("layer_id", sa.Integer, sa.ForeignKey("layers.id")),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("in_use", sa.String(16)),
    # the findings this placement reads (findings.distro): see match_key()
    sa.Column("match_key", sa.String(96), nullable=False, server_default=""),
    sa.PrimaryKeyConstraint("image_id", "package_id", "path", name="pk_image_packages"),
)

debian_modules = sa.Table(
    "debian_modules",
    metadata,
    sa.Column("distro", sa.String(64), primary_key=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
    sa.Column("module_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), primary_key=True),
    sa.Column("tag", sa.String(128), primary_key=True),
    sa.Column("digest", sa.String(80), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

tag_events = sa.Table(
    "tag_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repositories.id"), nullable=False),
    sa.Column("tag", sa.String(128), nullable=False),
    sa.Column("old_digest", sa.String(80)),
    sa.Column("new_digest", sa.String(80), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
    sa.Column("distro", sa.String(64), primary_key=True),
    sa.Column("vuln_id", sa.String(128), primary_key=True),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("aliases", sa.Text, nullable=False),  # JSON list
    sa.Column("fixed", sa.Text, nullable=False),  # JSON list
    sa.Column("db_version", sa.String(64), nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
)

finding_ids = sa.Table(
    "finding_ids",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),  # any alias of a finding
    sa.Column("vuln_id", sa.String(128), primary_key=True),  # the finding's primary id
)

matched = sa.Table(
    "matched",
    metadata,
    sa.Column("package_id", sa.Integer, sa.ForeignKey("packages.id"), primary_key=True),
    sa.Column("distro", sa.String(64), primary_key=True),
    sa.Column("db_version", sa.String(64), nullable=False),
)

advisories = sa.Table(
    "advisories",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("state", sa.String(96), nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

scan_failures = sa.Table(
    "scan_failures",
    metadata,
    sa.Column("digest", sa.String(80), primary_key=True),
    sa.Column("reference", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)

_CHUNK = 500
#: what a PackageKey holds of a package version (its match key comes from a placement)
_PACKAGE_KEY_COLUMNS = (
    packages.c.id,
    packages.c.ecosystem,
    packages.c.name,
    packages.c.version,
    packages.c.purl,
    packages.c.source_name,
    packages.c.source_version,
)


def default_store_url() -> str:
    """``$CHAINWARDEN_FLEET_STORE``, else a SQLite file in the user data dir."""
    configured = os.environ.get(ENV_STORE)
    if configured:
        return configured
    import platformdirs

    return "sqlite:///" + str(Path(platformdirs.user_data_dir("chainwarden", appauthor=False)) / STORE_FILENAME)


def normalise_url(url: str) -> str:
    """Accept a path, ``sqlite:///path`` or ``postgresql://…`` (driven by psycopg 3)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    if "://" in url:
        raise FleetError(f"{url.split('://', 1)[0]}: unsupported store (want a path, sqlite:///PATH or postgresql://…)")
    return "sqlite:///" + str(Path(url).expanduser().absolute())


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class PackagePlacement:
    """One package version of an image, where it sits, and how much it was used."""

    ecosystem: str
    name: str
    version: str
    purl: str
    path: str
    layer: str | None
    source_name: str | None = None
    source_version: str | None = None
    in_use: str | None = None
    #: for a node module that Debian ships: (ecosystem, name, version) of the .deb shipping it in this image
    debian_owner: tuple[str, str, str] | None = None


def match_key(distro: str, ecosystem: str, debian_owner_id: int | None = None) -> str:
    """Which findings a package placement reads, as one scan of its image would report them.

    "" for ecosystem packages (matched alone), the release (``debian:12``) for a
    .deb, and ``debian:12>ID`` for a node module that the .deb with package id ID
    ships: such a module and its .deb are matched together (an npm advisory
    that Debian's records also cover is merged into the .deb's finding or
    suppressed as backported, see :mod:`chainwarden.vulndb.debian`).
    """
    if debian_owner_id is not None:
        return f"{distro}>{debian_owner_id}"
    return distro if ecosystem == "deb" else ""


def split_match_key(key: str) -> tuple[str, int | None]:
    """(release, owning .deb's package id or None) of a match key."""
    distro, sep, owner = key.partition(">")
    return distro, int(owner) if sep and owner.isdigit() else None


@dataclass(frozen=True, slots=True)
class LayerRecord:
    digest: str
    diff_id: str | None
    size: int
    media_type: str
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """Everything stored for one image digest."""

    digest: str
    reference: str
    config_digest: str | None
    created: str | None
    platform: str | None
    distro: str
    layers: tuple[LayerRecord, ...]
    packages: tuple[PackagePlacement, ...]
    base_name: str | None = None
    base_digest: str | None = None
    profiled: bool = False


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """A finding for one package version (in one Debian release, or "")."""

    ecosystem: str
    name: str
    version: str
    distro: str
    vuln_id: str
    rule_id: str
    severity: str
    title: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PackageKey:
    id: int
    ecosystem: str
    name: str
    version: str
    purl: str
    source_name: str | None
    source_version: str | None
    distro: str  # the match key of its placements (see match_key): a release, with an owning .deb for a module


@dataclass(slots=True)
class TagChange:
    repository: str
    tag: str
    old_digest: str | None
    new_digest: str


@dataclass(slots=True)
class StoreStats:
    images: int = 0
    layers: int = 0
    packages: int = 0
    image_packages: int = 0
    findings: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def _insert_ignoring(conn: Connection, table: sa.Table, keys: Sequence[str]) -> Any:
    """INSERT … ON CONFLICT (keys) DO NOTHING for the connection's engine."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys))


def _insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on either engine: concurrent writers never fail on a duplicate."""
    if rows:
        conn.execute(_insert_ignoring(conn, table, keys), list(rows))


def _insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """A plain bulk INSERT of an image's ~1,000 placements: on PostgreSQL through COPY (one round
    trip), on SQLite the driver's executemany with tuples (no per-row statement parameters to build)."""
    if not rows:
        return
    names = list(rows[0])
    if conn.dialect.name != "postgresql":
        columns = ", ".join(f'"{name}"' for name in names)
        marks = ", ".join("?" for _ in names)
        # names come from the schema; every value is a parameter
        statement = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # noqa: S608
        conn.exec_driver_sql(statement, [tuple(row[n] for n in names) for row in rows])
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        columns = ", ".join(f'"{name}"' for name in names)
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(tuple(row[name] for name in names))
    finally:
        cursor.close()


class FleetStore:
    """A connection pool to one fleet store; every write is one transaction."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        # ids of package versions and layers, which are never deleted nor renumbered: an image of
        # 500 packages on a known base looks none up (filled only from committed transactions)
        self._package_id_of: dict[tuple[str, str, str], int] = {}
        self._layer_id_of: dict[str, int] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> FleetStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise FleetError(f"{redact(self.url)}: {_first_line(str(exc.orig))}") from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise FleetError(f"{redact(self.url)}: {_first_line(str(exc.orig))}") from exc

    # -- writing -------------------------------------------------------------

    def known_digests(self, digests: Iterable[str]) -> set[str]:
        """Which of ``digests`` are stored already."""
        wanted = sorted(set(digests))
        found: set[str] = set()
        with self.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                found.update(conn.scalars(sa.select(images.c.digest).where(images.c.digest.in_(chunk))))
        return found

    def record_tags(self, registry: str, seen: Mapping[tuple[str, str], str]) -> list[TagChange]:
        """Record (repository, tag) → digest; a tag that now points elsewhere is an event."""
        changes: list[TagChange] = []
        at = now_text()
        with self.begin() as conn:
            repo_ids = self._repository_ids(conn, registry, {repo for repo, _ in seen})
            current = {
                (row.repository_id, row.tag): row.digest
                for row in conn.execute(
                    sa.select(tags.c.repository_id, tags.c.tag, tags.c.digest).where(
                        tags.c.repository_id.in_(list(repo_ids.values()))
                    )
                )
            }
            for (repo, tag), digest in sorted(seen.items()):
                repo_id = repo_ids[repo]
                old = current.get((repo_id, tag))
                if old == digest:
                    continue
                if old is None:
                    _insert_ignore(
                        conn,
                        tags,
                        [{"repository_id": repo_id, "tag": tag, "digest": digest, "updated_at": at}],
                        ["repository_id", "tag"],
                    )
                else:
                    conn.execute(
                        tags.update()
                        .where(tags.c.repository_id == repo_id, tags.c.tag == tag)
                        .values(digest=digest, updated_at=at)
                    )
                conn.execute(
                    tag_events.insert().values(repository_id=repo_id, tag=tag, old_digest=old, new_digest=digest, at=at)
                )
                changes.append(TagChange(f"{registry}/{repo}", tag, old, digest))
        return changes

    def _repository_ids(self, conn: Connection, registry: str, names: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(names))
        _insert_ignore(
            conn, repositories, [{"registry": registry, "name": name} for name in wanted], ["registry", "name"]
        )
        ids: dict[str, int] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for row in conn.execute(
                sa.select(repositories.c.id, repositories.c.name).where(
                    repositories.c.registry == registry, repositories.c.name.in_(chunk)
                )
            ):
                ids[row.name] = row.id
        return ids

    def store_image(self, record: ImageRecord) -> bool:
        """Store one image with its layers and packages; False when the digest was stored already.

        Idempotent by digest: two workers storing the same digest at once leave one image.
        """
        return self.store_images([record])[0]

    def store_images(self, records: Sequence[ImageRecord]) -> list[bool]:
        """Store images in one transaction; for each, False when its digest was stored already.

        An in-process sync stores its images in batches: the index pages of a base's
        package versions are then written once per batch instead of once per image.
        """
        new_layer_ids: dict[str, int] = {}
        new_package_ids: dict[tuple[str, str, str], int] = {}
        with self.begin() as conn:
            stored = [self._store_one(conn, record, new_layer_ids, new_package_ids) for record in records]
        self._layer_id_of.update(new_layer_ids)
        self._package_id_of.update(new_package_ids)
        return stored

    def _store_one(
        self,
        conn: Connection,
        record: ImageRecord,
        new_layer_ids: dict[str, int],
        new_package_ids: dict[tuple[str, str, str], int],
    ) -> bool:
        if conn.scalar(sa.select(images.c.id).where(images.c.digest == record.digest)) is not None:
            return False
        row = {
            "digest": record.digest,
            "config_digest": record.config_digest,
            "created": record.created,
            "platform": record.platform,
            "distro": record.distro,
            "base_name": record.base_name,
            "base_digest": record.base_digest,
            "base_source": "annotation" if record.base_name or record.base_digest else None,
            "reference": record.reference,
            "scanned_at": now_text(),
            "profiled": record.profiled,
        }
        if conn.dialect.insert_returning:
            # one round trip: no row back means a concurrent writer stored the digest first
            image_id = conn.scalar(_insert_ignoring(conn, images, ["digest"]).values(row).returning(images.c.id))
            if image_id is None:
                return False
        else:
            _insert_ignore(conn, images, [row], ["digest"])
            image_id = conn.scalar(sa.select(images.c.id).where(images.c.digest == record.digest))
            assert image_id is not None
            # a concurrent writer that won the race committed first: ours is a no-op
            if conn.scalar(
                sa.select(sa.func.count()).select_from(image_layers).where(image_layers.c.image_id == image_id)
            ):
                return False
        layer_ids = self._layer_ids(conn, record.layers, new_layer_ids)
        if record.layers:
            conn.execute(
                image_layers.insert(),
                [
                    {
                        "image_id": image_id,
                        "position": position,
                        "layer_id": layer_ids[layer.digest],
                        "created_by": layer.created_by,
                    }
                    for position, layer in enumerate(record.layers)
                ],
            )
        owners = [p.debian_owner for p in record.packages if p.debian_owner is not None]
        package_ids = self._package_ids(conn, record.packages, new_package_ids, owners)
        placements: dict[tuple[int, str], dict[str, Any]] = {}
        modules: set[tuple[int, int]] = set()
        for pkg in record.packages:
            key = (package_ids[(pkg.ecosystem, pkg.name, pkg.version)], pkg.path)
            owner_id = package_ids.get(pkg.debian_owner) if pkg.debian_owner is not None else None
            if owner_id is not None:
                modules.add((owner_id, key[0]))
            placements.setdefault(
                key,
                {
                    "image_id": image_id,
                    "package_id": key[0],
                    "layer_id": layer_ids.get(pkg.layer) if pkg.layer else None,
                    "path": pkg.path,
                    "in_use": pkg.in_use,
                    "match_key": match_key(record.distro, pkg.ecosystem, owner_id),
                },
            )
        _insert_rows(conn, image_packages, list(placements.values()))
        _insert_ignore(
            conn,
            debian_modules,
            [{"distro": record.distro, "owner_id": o, "module_id": m} for o, m in sorted(modules)],
            ["distro", "owner_id", "module_id"],
        )
        return True

    def _layer_ids(self, conn: Connection, records: Sequence[LayerRecord], found_now: dict[str, int]) -> dict[str, int]:
        """Layer digest → id, inserting unknown layers; ids read from the database go to ``found_now``."""
        known = {**self._layer_id_of, **found_now} if found_now else self._layer_id_of
        ids = {r.digest: known[r.digest] for r in records if r.digest in known}
        rows = {
            r.digest: {"digest": r.digest, "diff_id": r.diff_id, "size": r.size, "media_type": r.media_type}
            for r in records
            if r.digest not in ids
        }
        _insert_ignore(conn, layers, list(rows.values()), ["digest"])
        wanted = sorted(rows)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found_now.update(
                (row.digest, row.id)
                for row in conn.execute(sa.select(layers.c.id, layers.c.digest).where(layers.c.digest.in_(chunk)))
            )
        ids.update(found_now)
        return ids

    def _package_ids(
        self,
        conn: Connection,
        placements: Sequence[PackagePlacement],
        found_now: dict[tuple[str, str, str], int],
        also: Sequence[tuple[str, str, str]] = (),
    ) -> dict[tuple[str, str, str], int]:
        """(ecosystem, name, version) → id, inserting unknown ones; ids read from the database go to ``found_now``."""
        ids: dict[tuple[str, str, str], int] = {}
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for p in placements:
            key = (p.ecosystem, p.name, p.version)
            if key in ids or key in rows:
                continue
            known = self._package_id_of.get(key) or found_now.get(key)
            if known is not None:
                ids[key] = known
                continue
            rows[key] = {
                "ecosystem": p.ecosystem,
                "name": p.name,
                "version": p.version,
                "purl": p.purl,
                "source_name": p.source_name,
                "source_version": p.source_version,
            }
        keys = sorted(rows)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            found = self._select_package_ids(conn, chunk)
            missing = [rows[k] for k in chunk if k not in found]
            if missing:
                _insert_ignore(conn, packages, missing, ["ecosystem", "name", "version"])
                found = self._select_package_ids(conn, chunk)
            found_now.update(found)
        ids.update(found_now)
        # a module's .deb is one of the image's own packages: its id is known by now
        unknown = sorted({key for key in also if key not in ids})
        if unknown:
            ids.update(self._select_package_ids(conn, unknown))
        return ids

    @staticmethod
    def _select_package_ids(conn: Connection, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        names = sorted({name for _, name, _ in keys})
        wanted = set(keys)
        found: dict[tuple[str, str, str], int] = {}
        for row in conn.execute(
            sa.select(packages.c.id, packages.c.ecosystem, packages.c.name, packages.c.version).where(
                packages.c.name.in_(names)
            )
        ):
            key = (row.ecosystem, row.name, row.version)
            if key in wanted:
                found[key] = row.id
        return found

    # -- matching bookkeeping ---------------------------------------------------

    def unmatched_packages(self, db_version: str | None, digests: Iterable[str] | None = None) -> list[PackageKey]:
        """Package versions (per match key) not yet matched against ``db_version`` (None: never matched)."""
        done = sa.select(matched.c.package_id).where(
            matched.c.package_id == packages.c.id, matched.c.distro == image_packages.c.match_key
        )
        if db_version is not None:
            done = done.where(matched.c.db_version == db_version)
        query = _package_keys_query().where(~sa.exists(done))
        if digests is None:
            return [_key(row) for row in self._rows(query)]
        wanted = sorted(set(digests))
        keys: dict[tuple[int, str], PackageKey] = {}
        for start in range(0, len(wanted), _CHUNK):
            for row in self._rows(query.where(images.c.digest.in_(wanted[start : start + _CHUNK]))):
                key = _key(row)
                keys[(key.id, key.distro)] = key
        return list(keys.values())

    def with_debian_modules(self, keys: Sequence[PackageKey]) -> list[PackageKey]:
        """``keys``, and what is matched with them: the node modules each .deb among them ships
        (in some image of the fleet), and the .deb shipping each such module."""
        found = {(k.id, k.distro): k for k in keys}
        # (package id, release) of every .deb concerned: those among the keys, those shipping a module among them
        debs = {(k.id, k.distro) for k in keys if k.ecosystem == "deb"}
        for key in keys:
            distro, owner = split_match_key(key.distro)
            if owner is not None:
                debs.add((owner, distro))
        if not debs:
            return list(found.values())
        wanted = set(debs)
        with self.connect() as conn:
            for distro in sorted({d for _, d in debs}):
                ids = sorted(i for i, d in debs if d == distro)
                for start in range(0, len(ids), _CHUNK):
                    for row in conn.execute(
                        sa.select(debian_modules.c.owner_id, debian_modules.c.module_id).where(
                            debian_modules.c.distro == distro,
                            debian_modules.c.owner_id.in_(ids[start : start + _CHUNK]),
                        )
                    ):
                        wanted.add((int(row.module_id), match_key(distro, "npm", int(row.owner_id))))
            missing = sorted({package_id for package_id, key in wanted if (package_id, key) not in found})
            rows: dict[int, sa.Row[Any]] = {}
            for start in range(0, len(missing), _CHUNK):
                rows.update(
                    (int(row.id), row)
                    for row in conn.execute(
                        sa.select(*_PACKAGE_KEY_COLUMNS).where(packages.c.id.in_(missing[start : start + _CHUNK]))
                    )
                )
        for package_id, key_text in sorted(wanted):
            package_row = rows.get(package_id)
            if (package_id, key_text) not in found and package_row is not None:
                found[(package_id, key_text)] = _key((*package_row, key_text))
        return list(found.values())

    def packages_named(self, names: Iterable[tuple[str, str]]) -> list[PackageKey]:
        """Package versions of the fleet whose (ecosystem, name or Debian source name) is in ``names``."""
        wanted = set(names)
        by_name = sorted({name for _, name in wanted})
        found: dict[tuple[int, str], PackageKey] = {}
        for start in range(0, len(by_name), _CHUNK):
            chunk = by_name[start : start + _CHUNK]
            query = _package_keys_query().where(sa.or_(packages.c.name.in_(chunk), packages.c.source_name.in_(chunk)))
            for row in self._rows(query):
                key = _key(row)
                names_of = {(key.ecosystem, key.name)}
                if key.source_name:
                    names_of.add((key.ecosystem, key.source_name))
                if names_of & wanted:
                    found[(key.id, key.distro)] = key
        return list(found.values())

    def replace_findings(
        self, keys: Sequence[PackageKey], records: Sequence[FindingRecord], db_version: str
    ) -> list[tuple[int, str, str]]:
        """Set the findings of ``keys`` to ``records``; return the (package id, distro, vuln id) that are new."""
        at = now_text()
        by_key = {(k.ecosystem, k.name, k.version, k.distro): k for k in keys}
        new: list[tuple[int, str, str]] = []
        with self.begin() as conn:
            previous: set[tuple[int, str, str]] = set()
            ids = sorted({k.id for k in keys})
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                previous.update(
                    (row.package_id, row.distro, row.vuln_id)
                    for row in conn.execute(
                        sa.select(findings.c.package_id, findings.c.distro, findings.c.vuln_id).where(
                            findings.c.package_id.in_(chunk)
                        )
                    )
                )
            wanted_pairs = {(k.id, k.distro) for k in keys}
            previous = {p for p in previous if (p[0], p[1]) in wanted_pairs}
            rows: dict[tuple[int, str, str], dict[str, Any]] = {}
            for record in records:
                key = by_key.get((record.ecosystem, record.name, record.version, record.distro))
                if key is None:
                    continue
                rows[(key.id, key.distro, record.vuln_id)] = {
                    "package_id": key.id,
                    "distro": key.distro,
                    "vuln_id": record.vuln_id,
                    "rule_id": record.rule_id,
                    "severity": record.severity,
                    "title": record.title,
                    "aliases": json.dumps(sorted(record.aliases)),
                    "fixed": json.dumps(list(record.fixed)),
                    "db_version": db_version,
                    "first_seen": at,
                }
            gone = previous - set(rows)
            for package_id, distro, vuln_id in gone:
                conn.execute(
                    findings.delete().where(
                        findings.c.package_id == package_id, findings.c.distro == distro, findings.c.vuln_id == vuln_id
                    )
                )
            for key3, row in rows.items():
                if key3 in previous:
                    conn.execute(
                        findings.update()
                        .where(
                            findings.c.package_id == key3[0],
                            findings.c.distro == key3[1],
                            findings.c.vuln_id == key3[2],
                        )
                        .values(
                            rule_id=row["rule_id"],
                            severity=row["severity"],
                            title=row["title"],
                            aliases=row["aliases"],
                            fixed=row["fixed"],
                            db_version=db_version,
                        )
                    )
                else:
                    new.append(key3)
            _insert_ignore(conn, findings, [rows[k] for k in new], ["package_id", "distro", "vuln_id"])
            _insert_ignore(
                conn,
                finding_ids,
                [
                    {"id": alias, "vuln_id": row["vuln_id"]}
                    for row in rows.values()
                    for alias in {row["vuln_id"], *json.loads(row["aliases"])}
                ],
                ["id", "vuln_id"],
            )
            for start in range(0, len(keys), _CHUNK):
                chunk_keys = keys[start : start + _CHUNK]
                conn.execute(
                    matched.delete().where(
                        sa.tuple_(matched.c.package_id, matched.c.distro).in_([(k.id, k.distro) for k in chunk_keys])
                    )
                )
                conn.execute(
                    matched.insert(),
                    [{"package_id": k.id, "distro": k.distro, "db_version": db_version} for k in chunk_keys],
                )
        return new

    def mark_all_matched(self, db_version: str) -> None:
        """Every matched package version is now current with ``db_version`` (after a rematch)."""
        with self.begin() as conn:
            conn.execute(matched.update().values(db_version=db_version))

    def has_advisory_states(self) -> bool:
        with self.connect() as conn:
            return conn.scalar(sa.select(advisories.c.id).limit(1)) is not None

    def advisory_states(self) -> dict[str, str]:
        with self.connect() as conn:
            return {row.id: row.state for row in conn.execute(sa.select(advisories.c.id, advisories.c.state))}

    def save_advisory_states(self, states: Mapping[str, str]) -> None:
        with self.begin() as conn:
            conn.execute(advisories.delete())
            items = sorted(states.items())
            for start in range(0, len(items), 5000):
                conn.execute(advisories.insert(), [{"id": i, "state": s} for i, s in items[start : start + 5000]])

    def finding_names(self, vuln_ids: Iterable[str]) -> set[tuple[str, str]]:
        """(ecosystem, name) of packages with a stored finding from any of ``vuln_ids`` (or their aliases)."""
        wanted = sorted(set(vuln_ids))
        found: set[tuple[str, str]] = set()
        with self.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                primary = sa.select(finding_ids.c.vuln_id).where(finding_ids.c.id.in_(chunk))
                found.update(
                    (row.ecosystem, row.name)
                    for row in conn.execute(
                        sa.select(packages.c.ecosystem, packages.c.name)
                        .distinct()
                        .select_from(packages.join(findings))
                        .where(findings.c.vuln_id.in_(primary))
                    )
                )
        return found

    def get_setting(self, key: str) -> str | None:
        with self.connect() as conn:
            value: str | None = conn.scalar(sa.select(settings.c.value).where(settings.c.key == key))
            return value

    def set_setting(self, key: str, value: str) -> None:
        with self.begin() as conn:
            conn.execute(settings.delete().where(settings.c.key == key))
            conn.execute(settings.insert().values(key=key, value=value))

    # -- reading -------------------------------------------------------------

    def _rows(self, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        with self.connect() as conn:
            return list(conn.execute(query))

    def stats(self) -> StoreStats:
        with self.connect() as conn:

            def count(table: sa.Table) -> int:
                return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)

            return StoreStats(
                images=count(images),
                layers=count(layers),
                packages=count(packages),
                image_packages=count(image_packages),
                findings=count(findings),
            )


def _package_keys_query() -> sa.Select[Any]:
    """Every stored package version with what matching needs, per match key of its placements."""
    return (
        sa.select(*_PACKAGE_KEY_COLUMNS, image_packages.c.match_key.label("distro"))
        .distinct()
        .select_from(packages.join(image_packages).join(images))
    )


def _key(row: Sequence[Any]) -> PackageKey:
    return PackageKey(
        int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), row[5], row[6], str(row[7] or "")
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "database error"


def open_store(url: str | None = None, *, create: bool = True) -> FleetStore:
    """Open (and with ``create``, create or upgrade) the store at ``url``.

    Without ``create`` a missing SQLite file is :class:`StoreMissingError`
    (queries never create an empty store and report "nothing found").
    """
    from chainwarden.fleet.migrate import upgrade  # alembic: loaded only when a store is opened

    raw = url or default_store_url()
    full = normalise_url(raw)
    try:
        sa_url = sa.engine.make_url(full)
    except sa.exc.ArgumentError as exc:
        raise FleetError(f"{redact(raw)}: not a store URL ({exc})") from exc
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database or ""
        if not database or database == ":memory:":
            raise FleetError("an in-memory SQLite store would be lost at exit; give a file")
        path = Path(database)
        if not path.exists():
            if not create:
                raise StoreMissingError(f"{path}: no fleet store yet (run 'chainwarden fleet add' or 'fleet sync')")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise FleetError(f"{path.parent}: cannot create the store directory ({exc.strerror})") from exc
        engine = sa.create_engine(full, connect_args={"timeout": 60})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(full, pool_pre_ping=True)
    store = FleetStore(full, engine)
    try:
        upgrade(engine, redact(full))
    except BaseException:
        store.close()
        raise
    return store


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (serve, queries) run while a sync writes
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
