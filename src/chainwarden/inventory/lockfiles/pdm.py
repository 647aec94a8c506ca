"""``pdm.lock``: PDM's TOML lock, lock versions 3.x and 4.x.

Every ``[[package]]`` is one resolved distribution; PDM repeats a package once
per extra it is installed with (``extras = [...]``), which is still one
package here. Hashes come from the entry's ``files`` (4.x) or from
``[metadata.files]`` keyed ``"name version"`` (3.x).

Scope: since lock version 4.4 every package lists the ``groups`` that pull it
in; ``default`` is the project's own dependencies (PROD), and the sibling
``pyproject.toml`` tells which other groups are extras (OPTIONAL:
``[project.optional-dependencies]``) and which are development groups (DEV:
``[tool.pdm.dev-dependencies]``, PEP 735 ``[dependency-groups]``). Older locks
have no groups: scope then follows the dependency graph from the
``pyproject.toml`` declarations, as for ``poetry.lock``. ``direct`` means
declared in that ``pyproject.toml``.

Git dependencies are pinned by their ``revision``; ``path``/``editable``
entries and bare ``url`` archives are local or mutable and reported unpinned.
"""

from __future__ import annotations

import re
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
from chainwarden.inventory.lockfiles._manifests import PythonManifest, parse_pep508, pyproject_manifest
from chainwarden.inventory.lockfiles._positions import load_toml, toml_package_tables
from chainwarden.inventory.lockfiles.poetry import file_hashes
from chainwarden.models import Scope

_REVISION = re.compile(r"^[0-9a-f]{40}$")


@dataclass(slots=True)
class _Locked:
    name: str
    version: str
    line: int | None
    entry: JsonDict
    groups: set[str]


@dataclass(slots=True)
class _Project:
    """What the sibling ``pyproject.toml`` says: declarations and the kind of each group."""

    manifest: PythonManifest
    extras: set[str]
    dev_groups: set[str]


def _project_beside(source: LockfileInput) -> _Project | None:
    text = source.read_sibling("pyproject.toml")
    if text is None:
        return None
    try:
        manifest = pyproject_manifest(text)
        document = load_toml(text)
    except LockfileFormatError:
        return None  # the pyproject cataloger reports why
    extras = set(as_dict(as_dict(document.get("project")).get("optional-dependencies")))
    dev_groups = set(as_dict(as_dict(as_dict(document.get("tool")).get("pdm")).get("dev-dependencies")))
    dev_groups |= set(as_dict(document.get("dependency-groups")))
    return _Project(manifest, extras, dev_groups)


class PdmLockCataloger(LockfileCataloger):
    """``pdm.lock`` packages, their hashes, scope from groups and directness from ``pyproject.toml``."""

    id = "pdm-lock"
    what = "pdm.lock"
    filenames = frozenset({"pdm.lock"})
    companion_names = frozenset({"pyproject.toml"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        document = load_toml(source.text)
        outcome = FileOutcome()
        locked: dict[tuple[str, str], _Locked] = {}
        for position, entry, line in toml_package_tables(document, source.text):
            if not isinstance(entry, dict):
                outcome.skipped.append(skip_entry(source, f"package #{position + 1}", line, "not a table"))
                continue
            name, version = as_str(entry.get("name")), entry.get("version", "")
            if name is None:
                outcome.skipped.append(skip_entry(source, f"package #{position + 1}", line, "missing string 'name'"))
                continue
            if not isinstance(version, str):
                outcome.skipped.append(skip_entry(source, name, line, f"version is {type_name(version)}"))
                continue
            try:
                canonical = pypi_name(name)
            except LockfileFormatError as exc:
                outcome.skipped.append(skip_entry(source, name, line, str(exc)))
                continue
            groups = set(as_str_list(entry.get("groups")))
            earlier = locked.get((canonical, version))
            if earlier is not None:
                earlier.groups |= groups  # the same release again, installed with an extra
                continue
            locked[(canonical, version)] = _Locked(canonical, version, line, as_dict(entry), groups)

        project = _project_beside(source)
        graph_scopes = self._graph_scopes(list(locked.values()), project.manifest) if project is not None else {}
        legacy_files = as_dict(as_dict(document.get("metadata")).get("files"))
        for item in locked.values():
            entry = item.entry
            hashes = file_hashes(entry.get("files")) or file_hashes(legacy_files.get(f"{item.name} {item.version}"))
            outcome.packages.append(
                pypi_package(
                    source,
                    item.name,
                    item.version,
                    item.line,
                    direct=(item.name in project.manifest.names()) if project is not None else None,
                    scope=_scope(item.groups, project) if item.groups else graph_scopes.get(item.name),
                    hashes=hashes,
                    pinned=_is_pinned(entry) and bool(item.version),
                )
            )
        return outcome

    @staticmethod
    def _graph_scopes(locked: list[_Locked], manifest: PythonManifest) -> dict[str, Scope]:
        edges: dict[str, list[tuple[str, bool]]] = {}
        for item in locked:
            children = edges.setdefault(item.name, [])
            for requirement in as_str_list(item.entry.get("dependencies")):
                try:
                    child, _version, _pinned = parse_pep508(requirement)
                except LockfileFormatError:
                    continue
                children.append((child, False))
        return propagate_scopes(manifest.roots(), edges)


def _scope(groups: set[str], project: _Project | None) -> Scope | None:
    """PROD for the default group; extras and dev groups as ``pyproject.toml`` names them."""
    if "default" in groups:
        return Scope.PROD
    if project is None:
        return None  # an extra or a dev group: only pyproject.toml tells which
    if groups & project.extras:
        return Scope.OPTIONAL
    if groups & project.dev_groups:
        return Scope.DEV
    return None


def _is_pinned(entry: JsonDict) -> bool:
    """Index releases and git revisions are immutable; local paths and bare URLs are not."""
    if "git" in entry or any(key in entry for key in ("hg", "svn", "bzr")):
        return bool(_REVISION.match(as_str(entry.get("revision")) or ""))
    if any(key in entry for key in ("path", "editable")):
        return False
    return "url" not in entry or bool(file_hashes(entry.get("files")))
