"""Catalogers of declared dependencies: project lockfiles and manifests.

One module per format. Each cataloger finds its files anywhere in the view
(outside ``node_modules``, virtualenvs and ``site-packages``), reports every
package with the line that declares it, and turns unreadable files into
:class:`~chainwarden.models.Skipped` records instead of errors.
"""

from __future__ import annotations

from chainwarden.inventory.interface import Cataloger
from chainwarden.inventory.lockfiles._common import LockfileFormatError
from chainwarden.inventory.lockfiles._positions import load_yaml, yaml_key_lines
from chainwarden.inventory.lockfiles.npm import NpmPackageLockCataloger
from chainwarden.inventory.lockfiles.pdm import PdmLockCataloger
from chainwarden.inventory.lockfiles.pipfile import PipfileLockCataloger
from chainwarden.inventory.lockfiles.pnpm import PnpmLockCataloger
from chainwarden.inventory.lockfiles.poetry import PoetryLockCataloger
from chainwarden.inventory.lockfiles.pyproject import PyprojectCataloger
from chainwarden.inventory.lockfiles.requirements import PythonRequirementsCataloger
from chainwarden.inventory.lockfiles.uv import UvLockCataloger
from chainwarden.inventory.lockfiles.yarn import YarnLockCataloger

#: Every lockfile/manifest cataloger, in a stable order (Python first, then npm).
LOCKFILE_CATALOGERS: tuple[type[Cataloger], ...] = (
    PythonRequirementsCataloger,
    PoetryLockCataloger,
    PipfileLockCataloger,
    UvLockCataloger,
    PdmLockCataloger,
    PyprojectCataloger,
    NpmPackageLockCataloger,
    YarnLockCataloger,
    PnpmLockCataloger,
)


def lockfile_catalogers() -> list[Cataloger]:
    """A fresh instance of every lockfile cataloger."""
    return [cataloger() for cataloger in LOCKFILE_CATALOGERS]


__all__ = [
    "LOCKFILE_CATALOGERS",
    "LockfileFormatError",
    "NpmPackageLockCataloger",
    "PdmLockCataloger",
    "PipfileLockCataloger",
    "PnpmLockCataloger",
    "PoetryLockCataloger",
    "PyprojectCataloger",
    "PythonRequirementsCataloger",
    "UvLockCataloger",
    "YarnLockCataloger",
    "load_yaml",
    "lockfile_catalogers",
    "yaml_key_lines",
]
