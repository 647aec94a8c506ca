"""The contract of a cataloger: which file bodies it needs, what it finds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from chainwarden.errors import InventoryError
from chainwarden.models import Distro, Package, Skipped
from chainwarden.sources.interface import BodyDigest, FileSystemView


@dataclass(frozen=True, slots=True)
class CatalogContext:
    """What every cataloger may know about the target besides its files."""

    is_image: bool  # True for images and rootfs, False for project directories
    distro: Distro | None = None
    #: files owned by the packages other catalogers found (given to ``needs_owned_files`` ones)
    owned_files: frozenset[str] = frozenset()


@dataclass(slots=True)
class CatalogResult:
    packages: list[Package] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class Cataloger(ABC):
    """Finds packages of one kind in a filesystem view.

    ``wants`` runs for every path of an image while its layers stream by, so
    it must be a few string operations at most; ``catalog`` then reads only
    the bodies ``wants`` accepted.
    """

    #: stable id, reported as ``Package.found_by``
    id: str = ""

    #: whether this cataloger looks at installed packages (images, rootfs)
    #: or at declared ones (project lockfiles and manifests)
    installed: bool = True

    #: runs after the others and receives their packages' files in ``CatalogContext.owned_files``
    needs_owned_files: bool = False

    #: a wanted body over the source's size limit is left out (the file is still listed)
    #: instead of failing the whole read as a hostile archive
    bounded_bodies: bool = False

    #: when set, the cataloger reads the files it wants only through this digest
    #: (``view.digest(path, body_digest)``), so images keep the digest, not the body
    body_digest: BodyDigest | None = None

    @abstractmethod
    def wants(self, path: str) -> bool:
        """Whether the body of the file at ``path`` is needed."""

    @abstractmethod
    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        """Every package found. Unparseable files become ``Skipped`` records."""


class CatalogerError(InventoryError):
    """A cataloger could not run at all (not: one file was malformed)."""
