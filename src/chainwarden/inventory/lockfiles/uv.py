"""``uv.lock``: uv's universal TOML lock.

The project itself (and workspace members) appear as ``[[package]]`` entries
whose source is ``editable``/``virtual``; they are the roots, not dependencies.
Their ``dependencies`` are direct PROD dependencies, ``optional-dependencies``
OPTIONAL and ``dev-dependencies`` (PEP 735 groups) DEV; every other package
gets the scope of the roots that reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chainwarden.inventory.lockfiles._common import (
    FileOutcome,
    JsonDict,
    LockfileCataloger,
    LockfileFormatError,
    LockfileInput,
    as_dict,
    as_str,
    as_str_list,
    propagate_scopes,
    pypi_name,
    pypi_package,
    skip_entry,
    type_name,
)
from chainwarden.inventory.lockfiles._positions import load_toml, toml_package_tables
from chainwarden.models import Scope


@dataclass(slots=True)
class _Locked:
    name: str
    version: str
    line: int | None
    entry: JsonDict


def _dependency_names(value: object) -> list[str]:
    """Names of a uv dependency list ``[{ name = "x", extra = [...] }, …]`` (bad items dropped)."""
    names: list[str] = []
    if isinstance(value, list):
        for item in value:
            name = as_str(as_dict(item).get("name"))
            if name is None:
                continue
            try:
                names.append(pypi_name(name))
            except LockfileFormatError:
                continue
    return names


def _grouped_names(value: object) -> list[str]:
    """Names of ``{group = [deps…]}`` tables (optional-dependencies, dev-dependencies)."""
    return [name for group in as_dict(value).values() for name in _dependency_names(group)]


class UvLockCataloger(LockfileCataloger):
    """``uv.lock`` packages, their hashes, and scope/directness from the project's own entry."""

    id = "uv-lock"
    what = "uv.lock"
    filenames = frozenset({"uv.lock"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        document = load_toml(source.text)
        packages = toml_package_tables(document, source.text)
        members = set()
        for raw in as_str_list(as_dict(document.get("manifest")).get("members")):
            try:
                members.add(pypi_name(raw))
            except LockfileFormatError:
                continue
        outcome = FileOutcome()
        locked: list[_Locked] = []
        roots: list[_Locked] = []
        for position, entry, line in packages:
            if not isinstance(entry, dict):
                outcome.skipped.append(skip_entry(source, f"package #{position + 1}", line, "not a table"))
                continue
            name = as_str(entry.get("name"))
            if name is None:
                outcome.skipped.append(skip_entry(source, f"package #{position + 1}", line, "missing string 'name'"))
                continue
            try:
                canonical = pypi_name(name)
            except LockfileFormatError as exc:
                outcome.skipped.append(skip_entry(source, name, line, str(exc)))
                continue
            version = entry.get("version", "")
            if not isinstance(version, str):
                outcome.skipped.append(skip_entry(source, name, line, f"version is {type_name(version)}"))
                continue
            item = _Locked(canonical, version, line, as_dict(entry))
            package_source = as_dict(entry.get("source"))
            is_project = ("virtual" in package_source or "editable" in package_source) and (
                canonical in members or package_source.get("virtual") == "." or package_source.get("editable") == "."
            )
            (roots if is_project else locked).append(item)

        root_names = {root.name for root in roots}
        direct: set[str] = set()
        scope_roots: dict[Scope, list[str]] = {Scope.PROD: [], Scope.OPTIONAL: [], Scope.DEV: []}
        for root in roots:
            prod = _dependency_names(root.entry.get("dependencies"))
            optional = _grouped_names(root.entry.get("optional-dependencies"))
            dev = _grouped_names(root.entry.get("dev-dependencies"))
            scope_roots[Scope.PROD].extend(prod)
            scope_roots[Scope.OPTIONAL].extend(optional)
            scope_roots[Scope.DEV].extend(dev)
            direct.update(name for name in (*prod, *optional, *dev) if name not in root_names)
        edges: dict[str, list[tuple[str, bool]]] = {}
        for item in locked:
            children = edges.setdefault(item.name, [])
            children.extend((child, False) for child in _dependency_names(item.entry.get("dependencies")))
            children.extend((child, True) for child in _grouped_names(item.entry.get("optional-dependencies")))
        scopes = propagate_scopes(scope_roots, edges) if roots else {}

        for item in locked:
            entry = item.entry
            hashes = [h for h in [as_str(as_dict(entry.get("sdist")).get("hash"))] if h]
            wheels = entry.get("wheels")
            if isinstance(wheels, list):
                hashes.extend(h for wheel in wheels if (h := as_str(as_dict(wheel).get("hash"))))
            outcome.packages.append(
                pypi_package(
                    source,
                    item.name,
                    item.version,
                    item.line,
                    direct=(item.name in direct) if roots else None,
                    scope=scopes.get(item.name),
                    hashes=hashes,
                    pinned=_is_pinned(as_dict(entry.get("source"))) and bool(item.version),
                )
            )
        return outcome


def _is_pinned(package_source: JsonDict) -> bool:
    """Index releases and git commits are immutable; paths, directories and editables are not."""
    if "registry" in package_source:
        return True
    git = as_str(package_source.get("git"))
    if git is not None:
        return "#" in git  # uv records the resolved commit after '#'
    return False
