"""Ingest: list a registry's repositories and tags, scan only digests not seen before.

A sync has three steps:

1. :func:`discover` — ``/v2/_catalog`` (filtered by the repository glob), then
   every repository's ``/tags/list`` and each tag's manifest digest;
2. :meth:`FleetStore.record_tags` — tags are recorded, a moved tag is an event;
3. :func:`scan_image` for each digest the store does not hold — run in-process
   (SQLite, or ``--in-process``) or as procrastinate jobs (``fleet.tasks``)
   picked up by ``chainwarden fleet worker`` processes.

Scanning an image goes through the layer-chain inventory cache
(:mod:`chainwarden.inventory.chain`): a base shared by 500 images is read and
catalogued once, and each image on it reads its own layers and reruns only the
catalogers they concern. Findings are computed per package version (and match
key, see :func:`chainwarden.fleet.store.match_key`) that the store has not
matched against the current database version: a package shared by 500 images
is matched once.
"""

from __future__ import annotations

import fnmatch
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from chainwarden.errors import Error, UsageError
from chainwarden.fleet.store import (
    FindingRecord,
    FleetStore,
    ImageRecord,
    LayerRecord,
    PackageKey,
    PackagePlacement,
    split_match_key,
)
from chainwarden.inventory import catalog_source
from chainwarden.inventory.npm import DEBIAN_FOUND_BY
from chainwarden.models import Distro, Ecosystem, Inventory, Location, Package, TargetInfo
from chainwarden.sources import SourceOptions, open_source
from chainwarden.sources.registry import ImageReference, RegistryClient
from chainwarden.vulndb.store import VulnDatabase

#: an in-process sync reads this many images at once, and stores them this many per transaction
#: (or what it has every STORE_EVERY seconds)
SCAN_THREADS = 2
STORE_BATCH = 25
STORE_EVERY = 2.0
BASE_NAME_ANNOTATION = "org.opencontainers.image.base.name"
BASE_DIGEST_ANNOTATION = "org.opencontainers.image.base.digest"


@dataclass(frozen=True, slots=True)
class Discovered:
    """One digest found in a registry, with every (repository, tag) pointing at it."""

    digest: str
    reference: str  # "registry:HOST/REPO@sha256:…", what a scan opens
    tags: tuple[tuple[str, str], ...]  # (repository, tag)
    #: the manifest (or index) the listing fetched, and its media type: handed to the scan
    manifest: bytes | None = None
    media_type: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    what: str
    reason: str


@dataclass(slots=True)
class SyncSummary:
    """What ``fleet sync`` and ``fleet add`` print at the end."""

    new: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    tags_moved: list[str] = field(default_factory=list)
    findings_new: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "new": sorted(self.new),
            "unchanged": len(self.unchanged),
            "queued": sorted(self.queued),
            "failed": [{"what": f.what, "reason": f.reason} for f in self.failed],
            "tags_moved": self.tags_moved,
            "findings_new": self.findings_new,
        }


@dataclass(frozen=True, slots=True)
class QueueOutcome:
    """What handing scans to workers gave: still queued (not waited for), stored, failed."""

    queued: list[str]
    stored: list[str]
    failed: list[Failure]


class SyncProgress:
    """Receives progress of a sync; the CLI supplies a rich-backed one."""

    def phase(self, description: str, total: int | None) -> None:
        """A new phase with ``total`` steps."""

    def step(self, what: str) -> None:
        """One step of the current phase is done."""


def parse_sync_target(text: str) -> tuple[str, str]:
    """``HOST[:PORT][/REPO-GLOB]`` → (registry, glob); the glob defaults to ``*``."""
    text = text.removeprefix("registry:")
    host, _, glob = text.partition("/")
    if not host or not (("." in host) or (":" in host) or host == "localhost"):
        raise UsageError(f"{text!r}: want a registry host (HOST[:PORT][/REPO-GLOB], e.g. 127.0.0.1:5000/team/*)")
    return host, glob or "*"


def _client(registry: str, repository: str, options: SourceOptions) -> RegistryClient:
    ref = ImageReference(registry, repository or "_catalog", "latest", None)
    return RegistryClient(
        ref, f"registry:{registry}", timeout=options.registry_timeout, insecure=options.insecure_registry
    )


def discover(
    registry: str,
    glob: str,
    options: SourceOptions,
    progress: SyncProgress | None = None,
) -> tuple[list[Discovered], list[Failure]]:
    """Every digest under repositories matching ``glob``, with its tags; failures are data."""
    failures: list[Failure] = []
    with _client(registry, "", options) as catalog_client:
        repositories = sorted(r for r in catalog_client.catalog() if fnmatch.fnmatchcase(r, glob))
    by_digest: dict[str, list[tuple[str, str]]] = {}
    first_repo: dict[str, str] = {}
    manifests: dict[str, tuple[bytes, str]] = {}
    if progress:
        progress.phase(f"listing tags of {len(repositories)} repositories", len(repositories))
    for repository in repositories:
        with _client(registry, repository, options) as client:
            try:
                tag_names = sorted(client.list_tags())
            except Error as exc:
                failures.append(Failure(f"{registry}/{repository}", exc.diagnostics()))
                continue
            for tag in tag_names:
                try:
                    body, media_type, digest = client.get_manifest(tag)
                except Error as exc:
                    failures.append(Failure(f"{registry}/{repository}:{tag}", exc.diagnostics()))
                    continue
                by_digest.setdefault(digest, []).append((repository, tag))
                if digest not in first_repo:
                    first_repo[digest] = repository
                    manifests[digest] = (body, media_type)
        if progress:
            progress.step(repository)
    found = [
        Discovered(
            digest,
            f"registry:{registry}/{first_repo[digest]}@{digest}",
            tuple(sorted(pairs)),
            manifest=manifests[digest][0],
            media_type=manifests[digest][1],
        )
        for digest, pairs in sorted(by_digest.items())
    ]
    return found, failures


# -- one image ---------------------------------------------------------------------


def distro_key(distro: Distro | None) -> str:
    """``debian:12`` — the release Debian advisories are matched against; "" for none."""
    if distro is None or not distro.id:
        return ""
    return f"{distro.id}:{distro.version_id.split('.', 1)[0]}" if distro.version_id else distro.id


def image_record(
    info: TargetInfo,
    inventory: Inventory,
    *,
    digest: str,
    config: dict[str, object],
    annotations: dict[str, str],
    in_use: Callable[[Package], str | None] | None = None,
) -> ImageRecord:
    """What the store keeps of one scanned image."""
    labels = config.get("config")
    label_map = labels.get("Labels") if isinstance(labels, dict) else None
    base_name = annotations.get(BASE_NAME_ANNOTATION)
    base_digest = annotations.get(BASE_DIGEST_ANNOTATION)
    if isinstance(label_map, dict):
        base_name = base_name or _str_or_none(label_map.get(BASE_NAME_ANNOTATION))
        base_digest = base_digest or _str_or_none(label_map.get(BASE_DIGEST_ANNOTATION))
    from chainwarden.vulndb.debian import DebianOwners

    created = config.get("created")
    owners = DebianOwners(inventory)

    def debian_owner(package: Package) -> tuple[str, str, str] | None:
        # a node module Debian ships is matched with its .deb, as a scan of the image does
        if package.found_by != DEBIAN_FOUND_BY or package.ecosystem is not Ecosystem.NPM:
            return None
        owner = owners.of(package)
        return (Ecosystem.DEBIAN.value, owner.name, owner.version) if owner is not None else None

    placements = tuple(
        PackagePlacement(
            ecosystem=p.ecosystem.value,
            name=p.name,
            version=p.version,
            purl=p.purl,
            path=p.locations[0].path if p.locations else "",
            layer=p.locations[0].layer if p.locations else None,
            source_name=p.source_name,
            source_version=p.source_version,
            in_use=in_use(p) if in_use else None,
            debian_owner=debian_owner(p),
        )
        for p in inventory.packages
    )
    return ImageRecord(
        digest=digest,
        reference=info.reference,
        config_digest=info.config_digest,
        created=created if isinstance(created, str) else None,
        platform=info.platform,
        distro=distro_key(inventory.distro),
        layers=tuple(
            LayerRecord(layer.digest, layer.diff_id, layer.size, layer.media_type, layer.created_by)
            for layer in info.layers
        ),
        packages=placements,
        base_name=base_name,
        base_digest=base_digest,
        profiled=in_use is not None,
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def read_image(
    store: FleetStore,
    reference: str,
    options: SourceOptions,
    *,
    digest: str | None = None,
    profile: Path | None = None,
    skip_known: bool = True,
) -> tuple[str, ImageRecord | None]:
    """What the store would keep of ``reference``: (digest, record), the record None when
    ``skip_known`` and the store holds the digest already (then nothing is catalogued).

    ``digest`` is the identity the registry listing saw (the tag's manifest or
    index digest); without it the resolved manifest digest is used.
    """
    in_use: Callable[[Package], str | None] | None = None
    if profile is not None:
        from chainwarden.runtime import load_profile
        from chainwarden.vulndb.in_use import ProfileIndex

        index = ProfileIndex.from_profile(load_profile(profile))

        def in_use(package: Package) -> str | None:
            return index.use_of(package).level.value

    with open_source(reference, options) as source:
        info = source.info
        identity = digest or info.digest
        if identity is None:
            raise UsageError(f"{reference}: not an image (fleet holds images; use 'scan' for directories)")
        if skip_known and profile is None and store.known_digests([identity]):
            return identity, None
        inventory = catalog_source(source)
        config_of = getattr(source, "image_config", None)
        annotations_of = getattr(source, "manifest_annotations", None)
        config = config_of() if callable(config_of) else {}
        annotations = annotations_of() if callable(annotations_of) else {}
        record = image_record(
            info,
            inventory,
            digest=identity,
            config=config if isinstance(config, dict) else {},
            annotations=annotations if isinstance(annotations, dict) else {},
            in_use=in_use,
        )
    return identity, record


def scan_image(
    store: FleetStore,
    reference: str,
    options: SourceOptions,
    *,
    digest: str | None = None,
    profile: Path | None = None,
) -> tuple[str, bool]:
    """Scan ``reference`` into the store: (digest, whether it was new). See :func:`read_image`."""
    identity, record = read_image(store, reference, options, digest=digest, profile=profile)
    return identity, record is not None and store.store_image(record)


# -- matching ------------------------------------------------------------------------


def _package_of(key: PackageKey) -> Package:
    return Package(
        ecosystem=Ecosystem(key.ecosystem),
        name=key.name,
        version=key.version,
        purl=key.purl,
        found_by="fleet-store",
        source_name=key.source_name,
        source_version=key.source_version,
    )


def _distro_of(key: str) -> Distro | None:
    if not key:
        return None
    distro_id, _, version = key.partition(":")
    return Distro(distro_id, version)


def _match_groups(keys: Sequence[PackageKey]) -> list[tuple[str, list[tuple[Package, PackageKey]]]]:
    """The inventories to match, as (release key, packages with their keys): one per .deb that ships
    node modules, holding the .deb and its modules as a scan of an image sees them, then one per
    match key for the rest."""
    by_key: dict[str, list[PackageKey]] = {}
    for key in keys:
        by_key.setdefault(key.distro, []).append(key)
    groups: list[tuple[str, list[tuple[Package, PackageKey]]]] = []
    grouped: set[tuple[int, str]] = set()
    for group_key, modules in sorted(by_key.items()):
        distro, owner_id = split_match_key(group_key)
        if owner_id is None:
            continue
        deb_key = next((k for k in by_key.get(distro, ()) if k.id == owner_id and k.ecosystem == "deb"), None)
        if deb_key is None:
            continue  # no such .deb in the store any more: the modules are matched alone
        members: list[tuple[Package, PackageKey]] = []
        for module in modules:
            # DebianOwners pairs a module with the .deb that lists its manifest among its files
            path = f"/usr/share/nodejs/{module.name}/package.json"
            package = replace(_package_of(module), found_by=DEBIAN_FOUND_BY, locations=(Location(path),), files=(path,))
            members.append((package, module))
        paths = tuple(package.locations[0].path for package, _ in members)
        members.append((replace(_package_of(deb_key), files=paths), deb_key))
        grouped.update((key.id, key.distro) for _, key in members)
        groups.append((distro, members))
    for group_key, group in sorted(by_key.items()):
        plain = [(_package_of(k), k) for k in group if (k.id, k.distro) not in grouped]
        if plain:
            groups.append((split_match_key(group_key)[0], plain))
    return groups


def match_packages(
    store: FleetStore, keys: Sequence[PackageKey], db: VulnDatabase
) -> tuple[list[PackageKey], list[FindingRecord]]:
    """Findings for package versions, and the keys they were computed for: ``keys`` and what is
    matched with them (a .deb and the node modules it ships, see :meth:`FleetStore.with_debian_modules`).

    Each group goes through the matcher ``scan`` uses, so that an image's findings in the fleet
    are the ones a scan of it reports (Debian-shipped node modules included).
    """
    from chainwarden.vulndb import Matcher

    expanded = store.with_debian_modules(keys)
    matcher = Matcher(db)
    records: list[FindingRecord] = []
    for distro, members in _match_groups(expanded):
        inventory = Inventory(
            target=TargetInfo(kind="fleet", reference=f"fleet packages ({distro or 'no distro'})"),
            packages=tuple(package for package, _ in members),
            distro=_distro_of(distro),
        )
        key_of = {id(package): key for package, key in members}
        for vuln_match in matcher.match(inventory).matches:
            finding = vuln_match.finding
            key = key_of[id(vuln_match.package)]
            records.append(
                FindingRecord(
                    ecosystem=key.ecosystem,
                    name=key.name,
                    version=key.version,
                    distro=key.distro,
                    vuln_id=vuln_match.vuln_id,
                    rule_id=str(finding.rule_id),
                    severity=finding.severity.value,
                    title=finding.title,
                    aliases=tuple(sorted({*finding.aliases, *vuln_match.record_ids})),
                    fixed=finding.fixed_versions,
                )
            )
    return expanded, records


def match_pending(store: FleetStore, db: VulnDatabase, digests: Iterable[str] | None = None) -> int:
    """Match every package version not yet matched against this database version; new findings count."""
    version = db.version()
    keys = store.unmatched_packages(version, digests)
    if not store.has_advisory_states():
        # the baseline ``fleet rematch`` compares the next database with
        store.save_advisory_states(db.record_states())
    if not keys:
        return 0
    matched_keys, records = match_packages(store, keys, db)
    return len(store.replace_findings(matched_keys, records, version))


def open_vulndb(path: Path | None) -> VulnDatabase | None:
    """The vulnerability database, or None when there is none yet (inventories are stored all the same)."""
    from chainwarden.vulndb import DatabaseMissingError, open_database

    try:
        return open_database(path)
    except DatabaseMissingError:
        if path is not None:
            raise
        return None


# -- orchestration -------------------------------------------------------------------


def scan_discovered(
    store: FleetStore,
    found: Sequence[Discovered],
    options: SourceOptions,
    summary: SyncSummary,
    progress: SyncProgress | None = None,
) -> None:
    """Scan, in this process, every discovered digest the store does not hold yet.

    Images are stored in batches (:data:`STORE_BATCH` images or :data:`STORE_EVERY`
    seconds, one transaction each): what an interrupted sync scanned but did not
    store yet is scanned again by the next one.
    """
    known = store.known_digests(d.digest for d in found)
    todo = [d for d in found if d.digest not in known]
    summary.unchanged.extend(d.digest for d in found if d.digest in known)
    if progress:
        progress.phase(f"scanning {len(todo)} new images", len(todo))
    batch: list[tuple[Discovered, ImageRecord]] = []
    last_store = time.monotonic()

    def store_batch() -> None:
        if not batch:
            return
        try:
            stored = store.store_images([record for _, record in batch])
        except Error as exc:
            summary.failed.extend(Failure(item.reference, exc.diagnostics()) for item, _ in batch)
        else:
            for (item, _), new in zip(batch, stored, strict=True):
                (summary.new if new else summary.unchanged).append(item.digest)
        batch.clear()

    def read(item: Discovered) -> ImageRecord | None:
        # the listing just checked the store: a digest stored meanwhile is a no-op when stored
        return read_image(store, item.reference, options, digest=item.digest, skip_known=False)[1]

    # two images are read at once: one's registry and cache waits overlap the other's cataloguing
    with ThreadPoolExecutor(max_workers=SCAN_THREADS, thread_name_prefix="fleet-scan") as pool:
        pending: deque[tuple[Discovered, Future[ImageRecord | None]]] = deque()
        items = iter(todo)
        try:
            while True:
                while len(pending) < 2 * SCAN_THREADS and (next_item := next(items, None)) is not None:
                    pending.append((next_item, pool.submit(read, next_item)))
                if not pending:
                    break
                item, future = pending.popleft()
                try:
                    record = future.result()
                except Error as exc:
                    summary.failed.append(Failure(item.reference, exc.diagnostics()))
                else:
                    assert record is not None
                    batch.append((item, record))
                if len(batch) >= STORE_BATCH or time.monotonic() - last_store > STORE_EVERY:
                    store_batch()
                    last_store = time.monotonic()
                if progress:
                    progress.step(item.reference)
        finally:
            for _, waiting in pending:
                waiting.cancel()
            store_batch()


def sync_registry(
    store: FleetStore,
    target: str,
    options: SourceOptions,
    *,
    db: VulnDatabase | None,
    progress: SyncProgress | None = None,
    enqueue: Callable[[Sequence[Discovered]], QueueOutcome] | None = None,
) -> SyncSummary:
    """List ``HOST[/REPO-GLOB]``, record tags, scan new digests (or hand them to ``enqueue``), match."""
    registry, glob = parse_sync_target(target)
    summary = SyncSummary()
    found, failures = discover(registry, glob, options, progress)
    summary.failed.extend(failures)
    changes = store.record_tags(registry, {pair: d.digest for d in found for pair in d.tags})
    summary.tags_moved = [f"{c.repository}:{c.tag} {c.old_digest} -> {c.new_digest}" for c in changes if c.old_digest]
    if enqueue is not None:
        known = store.known_digests(d.digest for d in found)
        summary.unchanged.extend(d.digest for d in found if d.digest in known)
        outcome = enqueue([d for d in found if d.digest not in known])
        summary.queued.extend(outcome.queued)
        summary.new.extend(outcome.stored)
        summary.failed.extend(outcome.failed)
    else:
        scan_discovered(store, found, options, summary, progress)
    if db is not None:
        summary.findings_new = match_pending(store, db)
    return summary


def add_targets(
    store: FleetStore,
    targets: Sequence[str],
    options: SourceOptions,
    *,
    db: VulnDatabase | None,
    profile: Path | None = None,
    progress: SyncProgress | None = None,
) -> SyncSummary:
    """Scan each target (any image target string) into the store; registry tags are recorded too."""
    summary = SyncSummary()
    if progress:
        progress.phase(f"adding {len(targets)} images", len(targets))
    for target in targets:
        try:
            digest, new = scan_image(store, target, options, profile=profile)
        except Error as exc:
            summary.failed.append(Failure(target, exc.diagnostics()))
        else:
            (summary.new if new else summary.unchanged).append(digest)
            _record_registry_tag(store, target, digest)
        if progress:
            progress.step(target)
    if db is not None:
        summary.findings_new = match_pending(store, db)
    return summary


def _record_registry_tag(store: FleetStore, target: str, digest: str) -> None:
    if not target.startswith("registry:"):
        return
    from chainwarden.sources.registry import parse_reference

    ref = parse_reference(target.removeprefix("registry:"))
    if ref.tag and not ref.digest:
        store.record_tags(ref.registry, {(ref.repository, ref.tag): digest})
