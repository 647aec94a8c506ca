"""``pyproject.toml``: the dependencies a Python project declares.

PEP 621 ``[project] dependencies`` (PROD) and ``optional-dependencies``
(OPTIONAL), PEP 735 ``[dependency-groups]`` (DEV), Poetry's
``[tool.poetry.dependencies]`` and groups, uv's and PDM's dev dependencies.
All are direct; a declaration is pinned only when it fixes one version
(``==1.2.3``, ``===x``, or Poetry's bare ``1.2.3``).
"""

from __future__ import annotations

from chainwarden.inventory.lockfiles._common import (
    FileOutcome,
    LockfileCataloger,
    LockfileInput,
    pypi_package,
    skip_entry,
)
from chainwarden.inventory.lockfiles._manifests import pyproject_manifest


class PyprojectCataloger(LockfileCataloger):
    """Declared dependencies of ``pyproject.toml`` (PEP 621/735, Poetry, uv, PDM)."""

    id = "pyproject"
    what = "pyproject.toml"
    filenames = frozenset({"pyproject.toml"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        manifest = pyproject_manifest(source.text)
        outcome = FileOutcome()
        for dep in manifest.dependencies:
            outcome.packages.append(
                pypi_package(source, dep.name, dep.version, dep.line, direct=True, scope=dep.scope, pinned=dep.pinned)
            )
        outcome.skipped.extend(skip_entry(source, p.raw, p.line, p.reason) for p in manifest.problems)
        return outcome
