"""Inventories of layer chains: an image on a known base catalogues only what its own layers change.

Images of a registry share base layers; an image's inventory is a function of
its layer chain, so the inventory of the first *k* layers (a base) serves
every image whose chain starts with them. Catalogers read the merged
filesystem, so the base's packages cannot simply be added to those of the
upper layers (a whiteout may remove a dpkg status entry, an opaque directory a
whole site-packages). Instead each cataloger's run on the base is kept with
what it depended on — the paths it looked up, the directories it listed, and
whether it walked every entry (then :meth:`Cataloger.walks` says which
entries matter) — and, on the merged view of an image built on that base, a
run is reused as is when the upper layers added, replaced or removed none of
those paths (:attr:`chainwarden.sources.interface.Squashed.changed`, whiteouts
and opaque directories included); otherwise the cataloger runs again on the
merged view. A different release (os-release) reruns every cataloger; a
cataloger that judges files by their owners also reruns when the owned files
it cares about changed.

Which prefix is worth cataloguing on its own is learnt from the cache: every
image leaves a mark for each of its strict prefixes, and an image whose prefix
another image already marked catalogues that prefix first (once), then itself
on top of it. Runs, dependencies and marks live in the inventory cache
(:mod:`chainwarden.inventory.cache`); the squashed view of a recently used
prefix is kept in memory, so an image on it reads and squashes only its own
layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from chainwarden._internal.recent import Recent
from chainwarden.inventory.cache import CatalogerRun, ChainEntries, ChainInventory, Dependencies
from chainwarden.inventory.distro import read_release
from chainwarden.inventory.interface import CatalogContext, Cataloger
from chainwarden.models import Distro, Inventory, Skipped, TargetInfo
from chainwarden.sources.interface import (
    BodyDigest,
    FileEntry,
    FileSystemView,
    ProgressCallback,
    Source,
    Squashed,
    WantedPredicate,
    normalize_path,
)

#: squashed prefix views kept in memory per process (a fleet usually has a handful of bases)
VIEWS_IN_MEMORY = 6


@dataclass(frozen=True, slots=True)
class Change:
    """What upper layers changed of a lower view (see :class:`~chainwarden.sources.interface.Squashed`)."""

    paths: frozenset[str] = frozenset()
    only_directories: frozenset[str] = frozenset()
    parents: frozenset[str] = frozenset()  # of the paths

    @classmethod
    def of(cls, squashed: Squashed) -> Change:
        parents = frozenset(path.rpartition("/")[0] or "/" for path in squashed.changed)
        return cls(squashed.changed, squashed.only_directories, parents)

    def hits(self, depends: Dependencies, cataloger: Cataloger) -> bool:
        """Whether this change can change the result of a run that depended on ``depends``."""
        if not depends.looked_up.isdisjoint(self.paths) or not depends.listed.isdisjoint(self.parents):
            return True
        # a walk passes over directories themselves: only other entries count
        return depends.walked and any(cataloger.walks(path) for path in self.paths if path not in self.only_directories)


def inventory_of(entry: ChainInventory, target: TargetInfo) -> Inventory:
    return assemble(target, entry.distro, entry.runs, entry.source_skipped)


class RecordingView(FileSystemView):
    """A view that remembers what a cataloger asked of it."""

    def __init__(self, inner: FileSystemView) -> None:
        self._inner = inner
        self.resolves_in_place = inner.resolves_in_place
        self.looked_up: set[str] = set()
        self.listed: set[str] = set()
        self.walked = False

    def dependencies(self) -> Dependencies:
        return Dependencies(frozenset(self.looked_up), frozenset(self.listed), self.walked)

    def entries(self) -> Iterator[FileEntry]:
        self.walked = True
        return self._inner.entries()

    def entry(self, path: str) -> FileEntry | None:
        self.looked_up.add(path)
        found = self._inner.entry(path)
        # changes are noted under normalised paths
        if found is not None:
            if found.path != path:
                self.looked_up.add(found.path)
        elif not path.startswith("/") or "//" in path or "/." in path or path.endswith("/"):
            self.looked_up.add(normalize_path(path))
        return found

    def children(self, path: str) -> list[str]:
        self.listed.add(normalize_path(path))
        return self._inner.children(path)

    def read(self, path: str) -> bytes:
        # resolved here, through entry(), so that every component on the way is recorded
        return self._inner.read(self.resolve(path))

    def open(self, path: str) -> BinaryIO:
        return self._inner.open(self.resolve(path))

    def digest(self, path: str, digest: BodyDigest) -> bytes:
        # an image keeps only the digest of some bodies (executables): ask the view that holds it
        return self._inner.digest(self.resolve(path), digest)

    def unreadable(self) -> tuple[Skipped, ...]:
        return self._inner.unreadable()


# -- running catalogers -----------------------------------------------------------------


def ordered(catalogers: Sequence[Cataloger]) -> list[Cataloger]:
    """Run order: catalogers that judge files by their owners last, once the owned files are known."""
    return sorted(catalogers, key=lambda c: c.needs_owned_files)


def run_catalogers(
    view: FileSystemView,
    catalogers: Sequence[Cataloger],
    context: CatalogContext,
    *,
    record: bool = False,
    previous: ChainInventory | None = None,
    change: Change | None = None,
) -> tuple[CatalogerRun, ...]:
    """Each cataloger's run over ``view``; with ``previous`` (the runs on a lower view that
    ``change`` turned into this one) a run whose dependencies the change misses is reused."""
    change = change or Change()
    runs: list[CatalogerRun] = []
    for cataloger in ordered(catalogers):
        before = previous.run_of(cataloger.id) if previous is not None else None
        if (
            before is not None
            and before.depends is not None
            and not change.hits(before.depends, cataloger)
            and (not cataloger.needs_owned_files or _owned_unchanged(cataloger, runs, previous))
        ):
            runs.append(before)
            continue
        if cataloger.needs_owned_files:
            context = replace(context, owned_files=frozenset(f for run in runs for p in run.packages for f in p.files))
        target = RecordingView(view) if record else view
        result = cataloger.catalog(target, context)
        depends = target.dependencies() if isinstance(target, RecordingView) else None
        runs.append(CatalogerRun(cataloger.id, tuple(result.packages), tuple(result.skipped), depends))
    return tuple(runs)


def _owned_unchanged(cataloger: Cataloger, runs: Sequence[CatalogerRun], previous: ChainInventory | None) -> bool:
    """Whether the owned files ``cataloger`` cares about are those it saw on the lower view."""
    if previous is None:
        return False
    now: set[str] = set()
    then: set[str] = set()
    for run in runs:
        before = previous.run_of(run.cataloger)
        if before is run:
            continue  # reused: the same files
        now.update(f for p in run.packages for f in p.files)
        if before is not None:
            then.update(f for p in before.packages for f in p.files)
    # the files it cares about are the same when none of those owned on one side only is one of them
    return not any(cataloger.uses_owned(path) for path in now.symmetric_difference(then))


def assemble(
    target: TargetInfo,
    distro: Distro | None,
    runs: Sequence[CatalogerRun],
    source_skipped: Sequence[Skipped],
    gaps: Sequence[Skipped] = (),
) -> Inventory:
    """One inventory from cataloger runs: packages in a stable order, skipped records in run order."""
    packages = [p for run in runs for p in run.packages]
    packages.sort(key=lambda p: (p.ecosystem.value, p.name, p.version, p.locations[0].path if p.locations else ""))
    skipped = [*source_skipped, *(s for run in runs for s in run.skipped), *gaps]
    return Inventory(target=target, packages=tuple(packages), distro=distro, skipped=tuple(skipped))


def catalog_chain_view(
    view: FileSystemView,
    catalogers: Sequence[Cataloger],
    *,
    source_skipped: Sequence[Skipped] = (),
    previous: ChainInventory | None = None,
    change: Change | None = None,
) -> ChainInventory:
    """The recorded runs of ``catalogers`` over an image view (reusing ``previous``'s where it holds)."""
    distro = read_release(view)
    if previous is not None and previous.distro != distro:
        previous = None  # another release: every purl and lookup may differ
    context = CatalogContext(is_image=True, distro=distro)
    runs = run_catalogers(view, catalogers, context, record=True, previous=previous, change=change)
    # a squashed image is in memory: nothing in it is unreadable (view.unreadable() is for directories)
    return ChainInventory(distro, tuple(source_skipped), runs)


# -- chains of an image ------------------------------------------------------------------

#: (cache file of a prefix's inventory) → its squashed view
_views: Recent[Path, Squashed] = Recent(VIEWS_IN_MEMORY)


def forget_views() -> None:
    """Drop the squashed views kept in memory (tests; a long-running process that wants the memory back)."""
    _views.clear()


@dataclass(frozen=True, slots=True)
class ChainStats:
    """How an image's inventory was made (for tests and benchmarks)."""

    whole: bool  # taken from the cache as it was
    prefix_layers: int  # layers whose runs were reused from a prefix (0: none)
    rerun: tuple[str, ...]  # catalogers that ran on this image's merged view


def catalog_layers(
    source: Source,
    catalogers: Sequence[Cataloger],
    catalogers_key: str,
    wanted: WantedPredicate,
    *,
    cache_dir: Path,
    progress: ProgressCallback | None = None,
    report: Callable[[ChainStats], None] | None = None,
) -> Inventory:
    """The inventory of a layered source, reusing the runs of the longest known prefix of its chain."""
    chain = source.layer_chain()
    entries = ChainEntries(cache_dir, catalogers_key)
    whole = entries.load(chain)
    if whole is not None:
        if report:
            report(ChainStats(True, len(chain), ()))
        return inventory_of(whole, source.info)

    def squash(stop: int, onto: Squashed | None = None) -> Squashed:
        return source.squash(wanted, stop, onto=onto, progress=progress, cache_key=catalogers_key)

    base: tuple[int, ChainInventory, Squashed | None] | None = None
    for stop in range(len(chain) - 1, 0, -1):
        known = entries.load(chain[:stop])
        if known is not None:
            base = (stop, known, _views.get(entries.path(chain[:stop])))
            break
    if base is None and (stop := entries.shared_prefix(chain)) > 0:
        # another image has these layers below its own: catalogue them once, for both
        lower = squash(stop)
        known = catalog_chain_view(lower.view, catalogers, source_skipped=lower.skipped)
        entries.save(chain[:stop], known)
        _views.put(entries.path(chain[:stop]), lower)
        base = (stop, known, lower)
    if base is None:
        full = squash(len(chain))
        result = catalog_chain_view(full.view, catalogers, source_skipped=full.skipped)
        rerun = tuple(run.cataloger for run in result.runs)
        reused_layers = 0
        entries.save(chain, result)
    else:
        stop, known, kept = base
        if kept is None:
            kept = squash(stop)
            _views.put(entries.path(chain[:stop]), kept)
        merged = squash(len(chain), onto=kept)
        result = catalog_chain_view(
            merged.view,
            catalogers,
            source_skipped=(*known.source_skipped, *merged.skipped),
            previous=known,
            change=Change.of(merged),
        )
        rerun = tuple(run.cataloger for run in result.runs if known.run_of(run.cataloger) is not run)
        reused_layers = stop
        entries.save(chain, result, base=(chain[:stop], known))
    entries.mark_prefixes(chain)
    if report:
        report(ChainStats(False, reused_layers, rerun))
    return inventory_of(result, source.info)
