"""Inventory cache: the cataloger runs of layer chains, keyed by the chain.

The per-layer cache (sources/image.py) spares re-reading layers; this one
spares re-cataloguing. An entry holds the inventory of the first *k* layers of
an image (a whole image, or a base other images are built on) as one run per
cataloger, each with what it depended on (see :mod:`chainwarden.inventory.chain`),
keyed by the layers' identities (digests, and for local blobs file identity)
and the cataloger set. An image's entry names the entry of the base it was
catalogued on and lists only the runs that differ from it.

Entries are plain JSON, never pickles: a cache file is input too. A damaged or
missing entry (or a missing base) is a miss, rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chainwarden._internal.cachefile import write_bytes_atomically, write_json_atomically
from chainwarden._internal.recent import Recent
from chainwarden.models import Digest, Distro, Ecosystem, Location, Package, Scope, Skipped

FORMAT = 4
#: loaded entries kept in memory per process (each image of a fleet loads its base's)
ENTRIES_IN_MEMORY = 32
#: an entry names at most this many bases below it (each a lookup when loading)
MAX_BASE_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Dependencies:
    """What one cataloger run read of its view."""

    looked_up: AbstractSet[str]  # paths whose entry it asked for (each component of a symlink walk)
    listed: frozenset[str]  # directories whose children it listed
    walked: bool  # it walked every entry (then Cataloger.walks says which entries matter)


@dataclass(frozen=True, slots=True)
class CatalogerRun:
    """One cataloger's result on one view, with what it depended on (None: not recorded)."""

    cataloger: str
    packages: tuple[Package, ...]
    skipped: tuple[Skipped, ...]
    depends: Dependencies | None


@dataclass(frozen=True, slots=True)
class ChainInventory:
    """The inventory of a layer chain as cataloger runs, before assembly into an Inventory."""

    distro: Distro | None
    #: entries of the chain's layers that the view does not represent (device files, …)
    source_skipped: tuple[Skipped, ...]
    runs: tuple[CatalogerRun, ...]  # in run order

    def run_of(self, cataloger_id: str) -> CatalogerRun | None:
        return next((run for run in self.runs if run.cataloger == cataloger_id), None)


# -- JSON --------------------------------------------------------------------------------


def _location(loc: Location) -> list[Any]:
    return [loc.path, loc.layer, loc.line, loc.column]


def _unlocation(row: list[Any]) -> Location:
    path, layer, line, column = row
    return Location(path, Digest(layer) if layer else None, line, column)


def _package(p: Package) -> list[Any]:
    return [
        p.ecosystem.value,
        p.name,
        p.version,
        p.purl,
        p.found_by,
        [_location(loc) for loc in p.locations],
        list(p.files),
        p.source_name,
        p.source_version,
        p.arch,
        list(p.licenses),
        p.direct,
        p.scope.value if p.scope else None,
        list(p.hashes),
        p.pinned,
        p.supplier,
        list(p.file_digests),
    ]


def _unpackage(row: list[Any]) -> Package:
    (
        eco,
        name,
        version,
        purl,
        found_by,
        locations,
        files,
        source_name,
        source_version,
        arch,
        licenses,
        direct,
        scope,
        hashes,
        pinned,
        supplier,
        file_digests,
    ) = row
    return Package(
        ecosystem=Ecosystem(eco),
        name=name,
        version=version,
        purl=purl,
        found_by=found_by,
        locations=tuple(_unlocation(loc) for loc in locations),
        files=tuple(files),
        source_name=source_name,
        source_version=source_version,
        arch=arch,
        licenses=tuple(licenses),
        direct=direct,
        scope=Scope(scope) if scope else None,
        hashes=tuple(hashes),
        pinned=pinned,
        supplier=supplier,
        file_digests=tuple(file_digests),
    )


def _skipped(items: Sequence[Skipped]) -> list[Any]:
    return [[s.what, _location(s.location) if s.location else None, s.reason] for s in items]


def _unskipped(rows: list[Any]) -> tuple[Skipped, ...]:
    return tuple(Skipped(what, _unlocation(loc) if loc else None, why) for what, loc, why in rows)


def _run(run: CatalogerRun) -> dict[str, Any]:
    depends = run.depends
    if depends is not None:
        # a run looks most of its packages' files up (dpkg: every listed path): those are not repeated
        owned = {f for p in run.packages for f in p.files}
        extra = sorted(path for path in depends.looked_up if path not in owned)
    return {
        "id": run.cataloger,
        "packages": [_package(p) for p in run.packages],
        "skipped": _skipped(run.skipped),
        "depends": None
        if depends is None
        else {"looked_up_besides_files": extra, "listed": sorted(depends.listed), "walked": depends.walked},
    }


class _LookedUpWithFiles(AbstractSet[str]):
    """The paths a run read back from the cache depends on: those stored, and all its packages' files
    (more than it may have looked up, never less), joined when first asked (a whole-image hit never asks)."""

    __slots__ = ("_all", "_extra", "_packages")

    def __init__(self, extra: frozenset[str], packages: tuple[Package, ...]) -> None:
        self._extra = extra
        self._packages = packages
        self._all: frozenset[str] | None = None

    def _paths(self) -> frozenset[str]:
        if self._all is None:
            self._all = self._extra.union(f for p in self._packages for f in p.files)
        return self._all

    def __contains__(self, path: object) -> bool:
        return path in self._paths()

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths())

    def __len__(self) -> int:
        return len(self._paths())

    def isdisjoint(self, other: Iterable[Any]) -> bool:
        return self._paths().isdisjoint(other)


def _unrun(data: dict[str, Any]) -> CatalogerRun:
    depends = data["depends"]
    packages = tuple(_unpackage(row) for row in data["packages"])
    if depends is not None:
        looked_up = _LookedUpWithFiles(frozenset(depends["looked_up_besides_files"]), packages)
    return CatalogerRun(
        str(data["id"]),
        packages,
        _unskipped(data["skipped"]),
        None if depends is None else Dependencies(looked_up, frozenset(depends["listed"]), bool(depends["walked"])),
    )


# -- the entries of one cache directory and cataloger set ---------------------------------


#: entries read from disk, by path, with the file identity they were read at (a rewritten file is read again)
_loaded: Recent[Path, tuple[tuple[int, int, int], ChainInventory]] = Recent(ENTRIES_IN_MEMORY)


def forget_loaded() -> None:
    """Drop the entries kept in memory (tests; a long-running process that wants the memory back)."""
    _loaded.clear()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class ChainEntries:
    """Cached inventories of layer chains for one cataloger set, and marks of shared prefixes."""

    def __init__(self, cache_dir: Path, catalogers_key: str) -> None:
        self._dir = cache_dir / "inventories"
        self._key = catalogers_key

    def _name(self, kind: str, chain: Sequence[str]) -> str:
        identity = "\n".join(chain)
        return hashlib.sha256(f"{FORMAT}\n{kind}\n{self._key}\n{identity}".encode()).hexdigest()

    def path(self, chain: Sequence[str]) -> Path:
        """Where the inventory of ``chain`` is kept."""
        return self._dir / f"{self._name('chain', chain)}.json"

    def _mark(self, chain: Sequence[str]) -> Path:
        return self._dir / "prefixes" / self._name("prefix", chain)

    def load(self, chain: Sequence[str]) -> ChainInventory | None:
        """The inventory of ``chain``, or None when absent or damaged (then it is rebuilt)."""
        return self._load_path(self.path(chain), MAX_BASE_DEPTH)

    def _load_path(self, path: Path, depth: int) -> ChainInventory | None:
        stamp = _stamp(path)
        if stamp is None or depth <= 0:
            return None
        cached = _loaded.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") != FORMAT:
                return None
            base: ChainInventory | None = None
            if data["base"] is not None:
                base_name = str(data["base"])
                if "/" in base_name or not base_name.endswith(".json"):
                    return None
                base = self._load_path(self._dir / base_name, depth - 1)
                if base is None:
                    return None  # the base entry is gone: so is this one
            runs: list[CatalogerRun] = []
            for item in data["runs"]:
                if item.get("same"):
                    reused = base.run_of(str(item["id"])) if base is not None else None
                    if reused is None:
                        return None
                    runs.append(reused)
                else:
                    runs.append(_unrun(item))
            distro = Distro(*data["distro"]) if data["distro"] else None
            entry = ChainInventory(distro, _unskipped(data["source_skipped"]), tuple(runs))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        _loaded.put(path, (stamp, entry))
        return entry

    def save(
        self,
        chain: Sequence[str],
        entry: ChainInventory,
        *,
        base: tuple[Sequence[str], ChainInventory] | None = None,
    ) -> None:
        """Keep ``entry`` for ``chain``; runs it shares with ``base`` (its prefix's entry) are kept by reference."""
        base_entry = base[1] if base is not None else None
        runs = [
            {"id": run.cataloger, "same": True}
            if base_entry is not None and base_entry.run_of(run.cataloger) is run
            else _run(run)
            for run in entry.runs
        ]
        distro = entry.distro
        payload = {
            "format": FORMAT,
            "base": self.path(base[0]).name if base is not None else None,
            "distro": [distro.id, distro.version_id, distro.codename, distro.pretty_name] if distro else None,
            "source_skipped": _skipped(entry.source_skipped),
            "runs": runs,
        }
        path = self.path(chain)
        if write_json_atomically(path, payload) and (stamp := _stamp(path)) is not None:
            _loaded.put(path, (stamp, entry))

    def shared_prefix(self, chain: Sequence[str]) -> int:
        """The most layers ``chain`` shares with an image seen before it (0: none)."""
        for stop in range(len(chain) - 1, 0, -1):
            if self._mark(chain[:stop]).exists():
                return stop
        return 0

    def mark_prefixes(self, chain: Sequence[str]) -> None:
        """Remember each strict prefix of ``chain``: the next image sharing one catalogues it on its own."""
        for stop in range(1, len(chain)):
            mark = self._mark(chain[:stop])
            if not os.path.exists(mark):
                write_bytes_atomically(mark, b"")
