"""Whole-image inventory cache, keyed by the image's layer chain.

The per-layer cache (sources/image.py) spares re-reading layers; this one
spares re-squashing and re-cataloging an image whose layers (by digest, and
for local blobs by file identity) and catalogers are all unchanged. Entries
are plain JSON, never pickles: a cache file is input too.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from chainwarden._internal.cachefile import write_json_atomically
from chainwarden.models import Digest, Distro, Ecosystem, Location, Package, Scope, Skipped

FORMAT = 2


def entry_path(cache_dir: Path, identity: str, catalogers_key: str) -> Path:
    key = hashlib.sha256(f"{FORMAT}\n{catalogers_key}\n{identity}".encode()).hexdigest()
    return cache_dir / "inventories" / f"{key}.json"


def _location(loc: Location) -> list[Any]:
    return [loc.path, loc.layer, loc.line, loc.column]


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
        locations=tuple(
            Location(path, Digest(layer) if layer else None, line, column) for path, layer, line, column in locations
        ),
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


def load(path: Path) -> tuple[tuple[Package, ...], Distro | None, tuple[Skipped, ...]] | None:
    """The cached result, or None when absent or damaged (then it is rebuilt)."""
    try:
        data = json.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            return None
        distro = Distro(*data["distro"]) if data["distro"] else None
        skipped = tuple(
            Skipped(what, Location(loc[0], Digest(loc[1]) if loc[1] else None, loc[2], loc[3]) if loc else None, why)
            for what, loc, why in data["skipped"]
        )
        return tuple(_unpackage(row) for row in data["packages"]), distro, skipped
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(path: Path, packages: tuple[Package, ...], distro: Distro | None, skipped: tuple[Skipped, ...]) -> None:
    payload = {
        "format": FORMAT,
        "distro": [distro.id, distro.version_id, distro.codename, distro.pretty_name] if distro else None,
        "skipped": [[s.what, _location(s.location) if s.location else None, s.reason] for s in skipped],
        "packages": [_package(p) for p in packages],
    }
    write_json_atomically(path, payload)
