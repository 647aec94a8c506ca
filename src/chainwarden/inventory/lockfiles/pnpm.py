"""``pnpm-lock.yaml``: lockfile versions 5.x, 6.x and 9.x.

Package keys changed shape across versions: ``/name/1.0.0_peer@2.0.0`` (5.x),
``/name@1.0.0(peer@2.0.0)`` (6.x), and in 9.x ``name@1.0.0`` under
``packages`` (metadata) with peer-resolved instances under ``snapshots``
(dependency edges). ``importers`` (or, for a single project in 5.x/6.x, the
top-level ``dependencies``/``devDependencies``) declare what is direct; scope is
propagated from those roots through the dependency edges.
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
    npm_package,
    propagate_scopes,
    require_dict,
    skip_entry,
    split_integrity,
    type_name,
)
from chainwarden.inventory.lockfiles._positions import load_yaml, yaml_key_lines
from chainwarden.models import Scope

_SEMVER_START = re.compile(r"^\d")
_IMPORTER_FIELDS = (
    ("dependencies", Scope.PROD),
    ("optionalDependencies", Scope.OPTIONAL),
    ("devDependencies", Scope.DEV),
)
_SCOPE_RANK = {Scope.PROD: 0, Scope.OPTIONAL: 1, Scope.DEV: 2}


@dataclass(slots=True)
class _Record:
    name: str
    version: str
    line: int | None
    hashes: list[str]
    pinned: bool
    scope: Scope | None = None
    direct: bool = False


def lockfile_major(value: object) -> int:
    """5, 6 or 9 from ``lockfileVersion`` (a number in 5.x, a string since 6.0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LockfileFormatError(f"lockfileVersion is {type_name(value)}")
    try:
        major = int(float(str(value).strip("'\"")))
    except ValueError as exc:
        raise LockfileFormatError(f"lockfileVersion {value!r} is not a number") from exc
    if major not in {5, 6, 7, 9}:
        raise LockfileFormatError(f"lockfileVersion {value!r} is not supported (5.x, 6.x, 9.x are)")
    return major


def parse_package_key(key: str, major: int) -> tuple[str, str]:
    """(name, version) of a registry package key, peer suffixes dropped.

    Before 9.x a package from a registry other than the default one is keyed
    with that registry's host instead of the leading ``/``
    (``registry.example/foo/1.1.0``); the host is not part of the name. A
    ``file:``/``link:`` key names a folder, never a package.
    """
    if key.startswith(("file:", "link:")):
        raise LockfileFormatError(f"key {key!r} is a local path, it names no package")
    bare = key.removeprefix("/")
    if major < 9 and not key.startswith("/"):
        host, slash, rest = bare.partition("/")
        if slash and "." in host and not host.startswith("@") and rest:
            bare = rest
    if major == 5:
        parts = bare.split("/")
        name_parts = 2 if bare.startswith("@") else 1
        if len(parts) != name_parts + 1:
            raise LockfileFormatError(f"key {key!r} is not /name/version")
        return "/".join(parts[:name_parts]), parts[-1].split("_", 1)[0]
    base = bare.split("(", 1)[0]
    at = base.find("@", 1)
    if at <= 0:
        raise LockfileFormatError(f"key {key!r} is not name@version")
    return base[:at], base[at + 1 :]


def _reference_value(value: object) -> str | None:
    """The resolved version of an importer/package dependency (a string in 5.x, ``{version: …}`` after)."""
    if isinstance(value, dict):
        return as_str(value.get("version"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return as_str(value)


def _candidate_keys(dep: str, value: str, major: int) -> tuple[str, ...]:
    """Keys a dependency reference may be recorded under, most likely first."""
    if major == 5:
        return (value, f"/{dep}/{value}") if value.startswith("/") or "/" in value else (f"/{dep}/{value}",)
    if major in {6, 7}:
        return (value, f"/{value}") if value.startswith("/") or "/" in value.split("(", 1)[0] else (f"/{dep}@{value}",)
    base = value.split("(", 1)[0]
    if "@" in base[1:]:
        return (value, f"{dep}@{value}")  # alias: "real@1.0.0"
    return (f"{dep}@{value}",)


class PnpmLockCataloger(LockfileCataloger):
    """``pnpm-lock.yaml`` 5.x/6.x/9.x: versions, integrity, direct and scope from ``importers``."""

    id = "pnpm-lock"
    what = "pnpm-lock.yaml"
    filenames = frozenset({"pnpm-lock.yaml"})

    def parse(self, source: LockfileInput) -> FileOutcome:
        data, node = load_yaml(source.text)
        document = require_dict(data, "the document")
        major = lockfile_major(document.get("lockfileVersion"))
        packages = require_dict(document.get("packages") or {}, "'packages'")
        snapshots = require_dict(document.get("snapshots") or {}, "'snapshots'") if major >= 9 else {}
        lines = yaml_key_lines(node, "packages")
        outcome = FileOutcome()

        records: dict[str, _Record] = {}
        for key, raw_entry in packages.items():
            line = lines.get(key)
            # "key:" with nothing under it: all there is to know is in the key
            entry = {} if raw_entry is None else raw_entry
            if not isinstance(entry, dict):
                outcome.skipped.append(skip_entry(source, key, line, f"entry is {type_name(entry)}"))
                continue
            built = self._record(key, as_dict(entry), major, line)
            if isinstance(built, str):
                outcome.skipped.append(skip_entry(source, key, line, built))
                continue
            records[key] = built

        # the dependency graph: 9.x edges live in snapshots, earlier ones in packages
        graph_nodes = snapshots if major >= 9 else packages

        def node_of(dep: str, value: object) -> str | None:
            reference = _reference_value(value)
            if reference is None or reference.startswith(("link:", "file:")):
                return None
            return next((k for k in _candidate_keys(dep, reference, major) if k in graph_nodes), None)

        edges: dict[str, list[tuple[str, bool]]] = {}
        for key, entry in graph_nodes.items():
            children = edges.setdefault(key, [])
            for field_name, optional in (("dependencies", False), ("optionalDependencies", True)):
                for dep, value in as_dict(as_dict(entry).get(field_name)).items():
                    child = node_of(dep, value)
                    if child is not None:
                        children.append((child, optional))

        importers = as_dict(document.get("importers")) if "importers" in document else {".": document}
        roots: dict[Scope, list[str]] = {}
        direct_nodes: set[str] = set()
        for importer in importers.values():
            for field_name, scope in _IMPORTER_FIELDS:
                for dep, value in as_dict(as_dict(importer).get(field_name)).items():
                    child = node_of(dep, value)
                    if child is not None:
                        roots.setdefault(scope, []).append(child)
                        direct_nodes.add(child)
        scopes = propagate_scopes(roots, edges)

        for graph_key in graph_nodes:
            package_key = graph_key.split("(", 1)[0] if major >= 9 else graph_key
            reached = records.get(package_key)
            if reached is None:
                continue
            reached.scope = _wider(reached.scope, scopes.get(graph_key))
            reached.direct = reached.direct or graph_key in direct_nodes

        seen: dict[tuple[str, str], _Record] = {}
        for key, record in records.items():
            if major < 9 and record.scope is None:
                record.scope = _flag_scope(as_dict(packages.get(key)))
            identity = (record.name, record.version)
            first = seen.get(identity)
            if first is not None:
                # the same release resolved with different peers: one package, the widest scope
                first.direct = first.direct or record.direct
                first.scope = _wider(first.scope, record.scope)
                continue
            seen[identity] = record

        for record in seen.values():
            try:
                package = npm_package(
                    source,
                    record.name,
                    record.version,
                    record.line,
                    direct=record.direct,
                    scope=record.scope,
                    hashes=record.hashes,
                    pinned=record.pinned,
                )
            except LockfileFormatError as exc:
                outcome.skipped.append(skip_entry(source, record.name, record.line, str(exc)))
                continue
            outcome.packages.append(package)
        return outcome

    @staticmethod
    def _record(key: str, entry: JsonDict, major: int, line: int | None) -> _Record | str:
        """A package record, or the reason the entry cannot be one."""
        resolution = as_dict(entry.get("resolution"))
        name = as_str(entry.get("name"))
        version = as_str(entry.get("version"))
        if name is None or version is None:
            try:
                parsed_name, parsed_version = parse_package_key(key, major)
            except LockfileFormatError as exc:
                if name is None:
                    return "a local dependency without a 'name'" if key.startswith(("file:", "link:")) else str(exc)
                parsed_name, parsed_version = name, ""
            if version is None and not entry and not _SEMVER_START.match(parsed_version):
                # an empty entry whose key holds no version (a git host path, "/foo/bar"): nothing to report
                return f"key {key!r} names no version"
            name, version = name or parsed_name, version or parsed_version
        hashes = split_integrity(resolution.get("integrity"))
        local_or_vcs = (
            as_str(resolution.get("type")) in {"git", "directory"}
            or "directory" in resolution
            # a local folder or tarball: its version names no registry release
            or key.startswith(("file:", "link:"))
            or (as_str(resolution.get("tarball")) or "").startswith("file:")
        )
        tarball_only = "tarball" in resolution and not hashes
        pinned = bool(_SEMVER_START.match(version)) and not local_or_vcs and not tarball_only
        if not _SEMVER_START.match(version):
            version = ""
        return _Record(name, version, line, hashes, pinned)


def _wider(current: Scope | None, other: Scope | None) -> Scope | None:
    """The scope that ships more: PROD over OPTIONAL over DEV."""
    if current is None:
        return other
    if other is None:
        return current
    return other if _SCOPE_RANK[other] < _SCOPE_RANK[current] else current


def _flag_scope(entry: JsonDict) -> Scope | None:
    """5.x/6.x ``dev``/``optional`` flags, for packages no importer reaches."""
    if entry.get("dev") is True:
        return Scope.DEV
    if entry.get("optional") is True:
        return Scope.OPTIONAL
    if entry.get("dev") is False:
        return Scope.PROD
    return None
