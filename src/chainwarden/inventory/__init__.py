"""Catalogers turn a filesystem view into :class:`~chainwarden.models.Package` records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from chainwarden.inventory.apk import ApkCataloger
from chainwarden.inventory.binaries import BinaryCataloger
from chainwarden.inventory.chain import assemble, catalog_layers, run_catalogers
from chainwarden.inventory.distro import read_release
from chainwarden.inventory.dpkg import DpkgCataloger
from chainwarden.inventory.interface import CatalogContext, Cataloger
from chainwarden.inventory.npm import NpmInstalledCataloger
from chainwarden.inventory.python import PythonInstalledCataloger
from chainwarden.inventory.rpm import RpmCataloger
from chainwarden.inventory.sbom_document import read_sbom
from chainwarden.models import Inventory, Location, Skipped, TargetInfo
from chainwarden.sources import SourceOptions, detect_scheme, open_source
from chainwarden.sources.interface import BodyDigest, FileSystemView, ProgressCallback, Source

#: Bump when any cataloger's ``wants`` changes: it keys the per-layer cache.
CATALOG_VERSION = "5"


def installed_catalogers() -> list[Cataloger]:
    return [
        DpkgCataloger(),
        ApkCataloger(),
        RpmCataloger(),
        PythonInstalledCataloger(),
        NpmInstalledCataloger(),
        BinaryCataloger(),
    ]


def project_catalogers() -> list[Cataloger]:
    try:
        from chainwarden.inventory.lockfiles import lockfile_catalogers
    except ImportError:  # pragma: no cover - lockfile support is part of the package
        return []
    return list(lockfile_catalogers())


def default_catalogers(*, is_image: bool) -> list[Cataloger]:
    """Images: what is installed. Directories: installed and declared (lockfiles)."""
    catalogers = installed_catalogers()
    if not is_image:
        catalogers += project_catalogers()
    return catalogers


def cache_key(catalogers: Sequence[Cataloger]) -> str:
    # a digest's name changes with what it keeps, so it keys what a cached layer holds too
    names = sorted(c.id if c.body_digest is None else f"{c.id}={c.body_digest.name}" for c in catalogers)
    return f"catalog-v{CATALOG_VERSION}:" + ",".join(names)


def wanted_by(catalogers: Sequence[Cataloger]) -> WantedAny:
    return WantedAny(catalogers)


class WantedAny:
    """A wanted-predicate accepting any path one of the catalogers asks for."""

    def __init__(self, catalogers: Sequence[Cataloger]) -> None:
        self._wants = [c.wants for c in catalogers]
        self._required = [c.wants for c in catalogers if not c.bounded_bodies]
        self._whole = [c.wants for c in catalogers if c.body_digest is None]
        self._digested = [(c.wants, c.body_digest) for c in catalogers if c.body_digest is not None]

    def __call__(self, path: str) -> bool:
        return any(wants(path) for wants in self._wants)

    def digest(self, path: str) -> BodyDigest | None:
        """The digest to keep instead of the body at a wanted ``path``: when every
        cataloger that wants it reads it through one, and the same one."""
        digests = {digest for wants, digest in self._digested if wants(path)}
        if len(digests) != 1 or any(wants(path) for wants in self._whole):
            return None
        return digests.pop()

    def optional(self, path: str) -> bool:
        """Whether the body may be left out when over the size limit (no cataloger needs it whole)."""
        return not any(wants(path) for wants in self._required)


def catalog_view(
    view: FileSystemView,
    target: TargetInfo,
    catalogers: Sequence[Cataloger],
    *,
    is_image: bool,
    skipped: Sequence[Skipped] = (),
) -> Inventory:
    """Run ``catalogers`` over an already opened view."""
    context = CatalogContext(is_image=is_image, distro=read_release(view))
    runs = run_catalogers(view, catalogers, context)
    # project paths are relative to the project, as every other location of a directory scan
    gaps = [
        Skipped(gap.what, gap.location, gap.reason)
        if is_image or gap.location is None
        else Skipped(gap.what, Location(gap.location.path.lstrip("/") or "."), gap.reason)
        for gap in view.unreadable()
    ]
    return assemble(target, context.distro, runs, skipped, gaps)


def catalog_source(
    source: Source,
    *,
    catalogers: Sequence[Cataloger] | None = None,
    progress: ProgressCallback | None = None,
) -> Inventory:
    """Inventory of an opened source.

    An image with a cache directory is catalogued through
    :func:`chainwarden.inventory.chain.catalog_layers`: the whole image from the
    cache when it was catalogued before, else on top of the longest prefix of its
    layers whose inventory is known, rerunning only the catalogers whose paths
    its own layers change.
    """
    is_image = source.info.kind != "dir"
    chosen = list(catalogers) if catalogers is not None else default_catalogers(is_image=is_image)
    key = cache_key(chosen)
    if source.cache_dir is not None and is_image and source.layer_chain():
        return catalog_layers(source, chosen, key, wanted_by(chosen), cache_dir=source.cache_dir, progress=progress)
    view = source.view(wanted_by(chosen), progress, key)
    return catalog_view(view, source.info, chosen, is_image=is_image, skipped=source.skipped)


def build_inventory(
    target: str,
    *,
    options: SourceOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Inventory:
    """Every package in ``target``, with locations and owned files.

    An SBOM (``sbom:FILE``, or a CycloneDX/SPDX JSON file) is read as the
    inventory it describes: packages and their purls, without files.
    """
    scheme, rest = detect_scheme(target)
    if scheme == "sbom":
        return read_sbom(Path(rest), target)
    with open_source(target, options) as source:
        return catalog_source(source, progress=progress)
