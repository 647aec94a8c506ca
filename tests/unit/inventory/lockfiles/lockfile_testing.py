"""Helpers shared by the lockfile cataloger tests: build a project tree, catalog it, index the result."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.models import Package
from chainwarden.sources.rootfs import DirectoryView

PROJECT = CatalogContext(is_image=False)


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``files`` (relative path → content) below ``root``."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def catalog(cataloger: Cataloger, root: Path, files: Mapping[str, str | bytes] | None = None) -> CatalogResult:
    """Write ``files`` under ``root`` (if given) and run ``cataloger`` on it as a project directory."""
    if files:
        write_tree(root, files)
    return cataloger.catalog(DirectoryView(root), PROJECT)


def by_name(result: CatalogResult) -> dict[str, Package]:
    """Packages keyed by name; fails the test if a name appears twice (use by_name_version then)."""
    index: dict[str, Package] = {}
    for package in result.packages:
        assert package.name not in index, f"{package.name} reported twice"
        index[package.name] = package
    return index


def line_of(text: str, needle: str, *, exact: bool = False) -> int:
    """1-based line of the first line containing (``exact``: being) ``needle``; fixtures compute expected lines so."""
    for number, line in enumerate(text.splitlines(), start=1):
        if (line == needle) if exact else (needle in line):
            return number
    raise AssertionError(f"{needle!r} not in fixture")
