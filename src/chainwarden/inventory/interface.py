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
        """Every package found. Unparseable files become ``Skipped`` records.

        The result may depend only on what ``view`` answers (entries, children,
        bodies; a directory's own mode, owner or layer excepted) and on
        ``context``: an image's upper layers that change none of the paths it
        looked at, and none that :meth:`walks` accepts when it walked the whole
        view, leave it as it was (``chainwarden.inventory.chain`` reuses it).
        """

    def walks(self, path: str) -> bool:
        """When :meth:`catalog` walks every entry (``entries()``, ``walk_files()``), whether
        an entry at ``path`` can change its result. A walk passes over directory entries
        themselves (their content is entries of its own). Default: the paths it :meth:`wants`."""
        return self.wants(path)

    def uses_owned(self, path: str) -> bool:
        """For ``needs_owned_files`` catalogers: whether ``path`` being owned or not can
        change the result. Default: any path."""
        return True


class CatalogerError(InventoryError):
    """A cataloger could not run at all (not: one file was malformed)."""
