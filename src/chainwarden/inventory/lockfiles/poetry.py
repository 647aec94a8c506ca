"""``poetry.lock``: every ``[[package]]`` Poetry resolved, any lock-version (1.x and 2.x).

Scope comes from the lock when it says (``category`` before Poetry 1.5,
``groups`` since Poetry 2); otherwise from the sibling ``pyproject.toml``: what
the main group reaches is PROD, what only dev groups reach is DEV. ``direct``
means listed in that ``pyproject.toml``.
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
    propagate_scopes,
    pypi_name,
    pypi_package,
    skip_entry,
)
from chainwarden.inventory.lockfiles._manifests import PythonManifest, pyproject_manifest
from chainwarden.inventory.lockfiles._positions import load_toml, toml_package_tables
from chainwarden.models import Scope


@dataclass(slots=True)
class _Locked:
    name: str
    version: str
    line: int | None
    entry: JsonDict


def manifest_beside(source: LockfileInput) -> PythonManifest | None:
    """The sibling ``pyproject.toml``'s declarations; None when absent or broken (its own cataloger says why)."""
    text = source.read_sibling("pyproject.toml")
    if text is None:
        return None
    try:
        return pyproject_manifest(text)
    except LockfileFormatError:
        return None


def file_hashes(files: object) -> list[str]:
    """``hash`` values of a list of ``{file = …, hash = "sha256:…"}`` tables."""
    if not isinstance(files, list):
        return []
    return [item["hash"] for item in files if isinstance(item, dict) and isinstance(item.get("hash"), str)]


class PoetryLockCataloger(LockfileCataloger):
    """``poetry.lock`` packages, with scope and directness from groups and ``pyproject.toml``."""

    id = "poetry-lock"
    what = "poetry.lock"
    filenames = frozenset({"poetry.lock"})
    companion_names = frozenset({"pyproject.toml"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        document = load_toml(source.text)
        outcome = FileOutcome()
        locked: list[_Locked] = []
        for position, entry, line in toml_package_tables(document, source.text):
            if not isinstance(entry, dict):
                outcome.skipped.append(skip_entry(source, f"package #{position + 1}", line, "not a table"))
                continue
            name, version = as_str(entry.get("name")), as_str(entry.get("version"))
            if name is None or version is None:
                outcome.skipped.append(
                    skip_entry(source, f"package #{position + 1}", line, "missing string 'name' or 'version'")
                )
                continue
            try:
                locked.append(_Locked(pypi_name(name), version, line, as_dict(entry)))
            except LockfileFormatError as exc:
                outcome.skipped.append(skip_entry(source, name, line, str(exc)))

        manifest = manifest_beside(source)
        graph_scopes = self._graph_scopes(locked, manifest) if manifest is not None else {}
        legacy_files = as_dict(as_dict(document.get("metadata")).get("files"))
        for item in locked:
            entry = item.entry
            hashes = file_hashes(entry.get("files")) or file_hashes(legacy_files.get(item.name))
            if not hashes:
                # [metadata.files] keys are the names as Poetry spelled them, not always normalised
                hashes = next(
                    (file_hashes(v) for k, v in legacy_files.items() if k.lower().replace("_", "-") == item.name), []
                )
            outcome.packages.append(
                pypi_package(
                    source,
                    item.name,
                    item.version,
                    item.line,
                    direct=(item.name in manifest.names()) if manifest is not None else None,
                    scope=self._scope(entry, graph_scopes.get(item.name)),
                    hashes=hashes,
                    pinned=_is_pinned(as_dict(entry.get("source"))),
                )
            )
        return outcome

    @staticmethod
    def _scope(entry: JsonDict, from_graph: Scope | None) -> Scope | None:
        category = entry.get("category")
        groups = entry.get("groups")
        scope: Scope | None
        if category == "main":
            scope = Scope.PROD
        elif category == "dev":
            scope = Scope.DEV
        elif isinstance(groups, list) and groups:
            scope = Scope.PROD if "main" in groups else Scope.DEV
        else:
            scope = from_graph
        if scope is Scope.PROD and entry.get("optional") is True:
            return Scope.OPTIONAL  # installed only for an extra
        return scope

    @staticmethod
    def _graph_scopes(locked: list[_Locked], manifest: PythonManifest) -> dict[str, Scope]:
        edges: dict[str, list[tuple[str, bool]]] = {}
        for item in locked:
            children = edges.setdefault(item.name, [])
            for raw_name, spec in as_dict(item.entry.get("dependencies")).items():
                try:
                    child = pypi_name(raw_name)
                except LockfileFormatError:
                    continue
                children.append((child, isinstance(spec, dict) and spec.get("optional") is True))
        return propagate_scopes(manifest.roots(), edges)


def _is_pinned(package_source: JsonDict) -> bool:
    """Registry releases and git commits are immutable; local directories and bare URLs are not."""
    kind = as_str(package_source.get("type"))
    if kind == "git":
        return isinstance(package_source.get("resolved_reference"), str)
    return kind not in {"directory", "file", "url"}
