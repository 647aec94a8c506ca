"""npm's ``package-lock.json`` and ``npm-shrinkwrap.json``, lockfile versions 1, 2 and 3.

v2/v3 list every installed package under ``packages``, keyed by its folder
(``node_modules/a/node_modules/@s/b``); the root entry ``""`` and workspace
folders declare what is direct. v1 nests ``dependencies`` recursively and names
only resolved packages, so directness comes from the sibling ``package.json``.
An alias (``"x": "npm:real@1"``) is reported under the real name, as that is
what is fetched and what advisories name.
"""

from __future__ import annotations

import posixpath
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
    npm_package,
    require_dict,
    skip_entry,
    split_integrity,
    type_name,
)
from chainwarden.inventory.lockfiles._manifests import NpmManifest, npm_dependencies_of, npm_manifest
from chainwarden.inventory.lockfiles._positions import JsonPath, json_key_lines, load_json
from chainwarden.models import Scope

_NODE_MODULES = "node_modules/"
#: v1 nests this deep at most in practice; deeper is hostile (and would blow the stack elsewhere)
MAX_V1_DEPTH = 256
_SEMVER_START = re.compile(r"^v?\d")
#: resolved/version forms that are not an immutable registry release
_NOT_REGISTRY = ("git+", "git:", "github:", "gitlab:", "bitbucket:", "file:", "link:")


@dataclass(frozen=True, slots=True)
class _Resolved:
    name: str
    version: str
    pinned: bool


def resolve_name_version(key_name: str, entry: JsonDict) -> _Resolved:
    """Real name and version of a lock entry, seeing through aliases and non-registry sources."""
    name = as_str(entry.get("name")) or key_name
    version = as_str(entry.get("version")) or ""
    resolved = as_str(entry.get("resolved")) or ""
    if version.startswith("npm:"):  # v1 alias: "version": "npm:real@1.2.3"
        target = version[4:]
        at = target.find("@", 1)
        if at > 0:
            name, version = target[:at], target[at + 1 :]
    pinned = True
    if version.startswith(_NOT_REGISTRY) or "://" in version:
        version, pinned = "", False
    elif resolved.startswith(_NOT_REGISTRY) or (resolved and not resolved.startswith(("http://", "https://"))):
        pinned = False
    if version and not _SEMVER_START.match(version):
        pinned = False
    return _Resolved(name, version, pinned and bool(version))


def _scope_of(entry: JsonDict) -> Scope:
    if entry.get("dev") is True and entry.get("optional") is True:
        return Scope.DEV  # v1: an optional dependency of a dev dependency
    if entry.get("dev") is True:
        return Scope.DEV
    if entry.get("optional") is True or entry.get("devOptional") is True:
        # devOptional: optional in the production tree (and needed in dev): it may ship
        return Scope.OPTIONAL
    return Scope.PROD


class NpmPackageLockCataloger(LockfileCataloger):
    """``package-lock.json``/``npm-shrinkwrap.json`` v1–v3: versions, integrity, dev/optional, direct."""

    id = "npm-package-lock"
    what = "npm lockfile"
    filenames = frozenset({"package-lock.json", "npm-shrinkwrap.json"})
    companion_names = frozenset({"package.json"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        document = require_dict(load_json(source.text), "the document")
        version = document.get("lockfileVersion", 1)
        if not isinstance(version, int) or isinstance(version, bool):
            raise LockfileFormatError(f"lockfileVersion is {type_name(version)}, expected a number")
        if not 1 <= version <= 3:
            raise LockfileFormatError(f"lockfileVersion {version} is not supported (1 to 3 are)")
        if "packages" in document and version >= 2:
            return self._parse_packages(source, require_dict(document["packages"], "'packages'"))
        return self._parse_v1(source, require_dict(document.get("dependencies", {}), "'dependencies'"))

    def _parse_packages(self, source: LockfileInput, packages: JsonDict) -> FileOutcome:
        outcome = FileOutcome()
        lines = json_key_lines(source.text, lambda path: len(path) == 2 and path[0] == "packages", max_depth=2)
        # folders that are not installed copies: the root "" and workspace members
        declarations: dict[str, NpmManifest] = {
            key: npm_dependencies_of(as_dict(entry))
            for key, entry in packages.items()
            if _NODE_MODULES not in key and isinstance(entry, dict)
        }
        workspace_names = set().union(*(m.names() for m in declarations.values())) if declarations else set()
        # folders a "link": true entry points at (workspace members, linked file: folders)
        linked = {
            posixpath.normpath(target)
            for entry in packages.values()
            if isinstance(entry, dict) and entry.get("link") is True and (target := as_str(entry.get("resolved")))
        }
        for key, entry in packages.items():
            line = lines.get(("packages", key))
            if _NODE_MODULES not in key:
                if key and key not in linked and isinstance(entry, dict):
                    # a local folder installed as a copy ("file:./deps/etag" in npm 7):
                    # a package of the project like pnpm's and yarn's file: dependencies
                    self._add_local_folder(source, outcome, key, as_dict(entry), line, declarations)
                continue  # else the project itself or a workspace folder reached through its link
            if not isinstance(entry, dict):
                outcome.skipped.append(skip_entry(source, key, line, f"entry is {type_name(entry)}"))
                continue
            self._add_v2_entry(source, outcome, key, as_dict(entry), line, declarations, workspace_names, packages)
        return outcome

    @staticmethod
    def _add_local_folder(
        source: LockfileInput,
        outcome: FileOutcome,
        key: str,
        entry: JsonDict,
        line: int | None,
        declarations: dict[str, NpmManifest],
    ) -> None:
        """A folder entry outside node_modules that no link points at: a local file: dependency."""
        declared_as = [
            (name, parent)
            for parent, manifest in declarations.items()
            for name, spec, _scope in manifest.dependencies
            if spec.startswith("file:")
            and posixpath.normpath(posixpath.join(parent, spec.removeprefix("file:"))) == posixpath.normpath(key)
        ]
        name = as_str(entry.get("name")) or (declared_as[0][0] if declared_as else posixpath.basename(key))
        version = as_str(entry.get("version")) or ""
        resolved = _Resolved(name, version, False)  # a folder on disk: nothing immutable pins it
        _add_locked(source, outcome, key, line, resolved, entry, any(parent == "" for _, parent in declared_as))

    @staticmethod
    def _add_v2_entry(
        source: LockfileInput,
        outcome: FileOutcome,
        key: str,
        entry: JsonDict,
        line: int | None,
        declarations: dict[str, NpmManifest],
        workspace_names: set[str],
        packages: JsonDict,
    ) -> None:
        parent, _, key_name = key.rpartition(_NODE_MODULES)
        parent = parent.removesuffix("/")
        if entry.get("link") is True:
            # a symlink to a local folder (workspace member, linked file: dependency): not
            # fetched from any registry; its version is the one the folder's package.json says
            target = as_dict(packages.get(posixpath.normpath(as_str(entry.get("resolved")) or "")))
            name = as_str(entry.get("name")) or key_name
            resolved = _Resolved(name, as_str(target.get("version")) or "", False)
        else:
            resolved = resolve_name_version(key_name, entry)
        declared = declarations.get(parent)
        direct = (declared is not None and key_name in declared.names()) or (
            parent == "" and key_name in workspace_names
        )
        _add_locked(source, outcome, key, line, resolved, entry, direct)

    def _parse_v1(self, source: LockfileInput, dependencies: JsonDict) -> FileOutcome:
        outcome = FileOutcome()

        def is_v1_entry(path: JsonPath) -> bool:
            return len(path) % 2 == 0 and all(part == "dependencies" for part in path[::2])

        lines = json_key_lines(source.text, is_v1_entry, max_depth=2 * MAX_V1_DEPTH)
        manifest = npm_manifest(source.read_sibling("package.json"))
        stack: list[tuple[JsonPath, JsonDict]] = [(("dependencies",), dependencies)]
        while stack:
            prefix, level = stack.pop()
            for key_name, raw_entry in level.items():
                path = (*prefix, key_name)
                line = lines.get(path)
                if not isinstance(raw_entry, dict):
                    outcome.skipped.append(skip_entry(source, key_name, line, f"entry is {type_name(raw_entry)}"))
                    continue
                entry = as_dict(raw_entry)
                top_level = len(prefix) == 1
                resolved = resolve_name_version(key_name, entry)
                direct = (key_name in manifest.names()) if (manifest is not None and top_level) else None
                if manifest is not None and not top_level:
                    direct = False
                if not _add_locked(source, outcome, key_name, line, resolved, entry, direct):
                    continue
                nested = entry.get("dependencies")
                if isinstance(nested, dict) and nested:
                    if len(path) // 2 >= MAX_V1_DEPTH:
                        outcome.skipped.append(skip_entry(source, key_name, line, "dependencies nested too deeply"))
                    else:
                        stack.append(((*path, "dependencies"), as_dict(nested)))
        outcome.packages.sort(key=lambda p: p.locations[0].line or 0)
        return outcome


def _add_locked(
    source: LockfileInput,
    outcome: FileOutcome,
    key: str,
    line: int | None,
    resolved: _Resolved,
    entry: JsonDict,
    direct: bool | None,
) -> bool:
    """Record one locked entry (v1 or v2/v3 shape); False when it became a skipped record."""
    try:
        package = npm_package(
            source,
            resolved.name,
            resolved.version,
            line,
            direct=direct,
            scope=_scope_of(entry),
            hashes=split_integrity(entry.get("integrity")),
            pinned=resolved.pinned,
        )
    except LockfileFormatError as exc:
        outcome.skipped.append(skip_entry(source, key, line, str(exc)))
        return False
    outcome.packages.append(package)
    return True
