"""Plumbing shared by the lockfile catalogers: finding files, reading them safely, building records.

A lockfile is hostile input like any other: each one is parsed on its own, and
whatever goes wrong with it (bad syntax, a string where a table belongs, a
60 MB blob) becomes one :class:`~chainwarden.models.Skipped` record while the
other files are still cataloged.
"""

from __future__ import annotations

import posixpath
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from packaging.utils import InvalidName, canonicalize_name

from chainwarden.errors import InventoryError, SourceError
from chainwarden.inventory.bounds import (
    MAX_LINE_CHARS,
    MAX_MANIFEST_BYTES,
    clip,
    npm_name_problem,
    pypi_name_problem,
    shown,
)
from chainwarden.inventory.interface import CatalogContext, Cataloger, CatalogResult
from chainwarden.inventory.npm import npm_purl
from chainwarden.inventory.python import pypi_purl
from chainwarden.models import Ecosystem, Location, Package, Scope, Skipped
from chainwarden.sources.interface import MAX_FILE_BODY, FileEntry, FileSystemView

#: Directories whose contents are installed copies, not the project's declarations:
#: a lockfile under ``node_modules/`` belongs to some dependency, not to us.
SKIP_DIR_NAMES = frozenset({"node_modules", ".venv", "site-packages", "dist-packages", ".tox", ".nox"})

#: Largest lockfile parsed. Real monorepo lockfiles reach tens of MB; beyond the
#: view's own limit a file is hostile.
MAX_LOCKFILE_BYTES = MAX_FILE_BODY

#: hand-written manifests: bounded by MAX_MANIFEST_BYTES rather than the lockfile limit
MANIFEST_NAMES = frozenset({"Pipfile", "pyproject.toml", "package.json"})


def size_limit(path: str) -> int:
    """The byte limit for the file at ``path``: manifests are small, lockfiles may be large."""
    name = basename(path)
    manifest = name in MANIFEST_NAMES or name.lower().endswith(".txt")
    return min(MAX_MANIFEST_BYTES, MAX_LOCKFILE_BYTES) if manifest else MAX_LOCKFILE_BYTES


def overlong_skip(source: LockfileInput, number: int, length: int) -> Skipped:
    """The record of a line rejected for its length: never a package."""
    return Skipped(
        "overlong line", source.location(number), f"line of {length} characters, over the {MAX_LINE_CHARS} limit"
    )


class LockfileFormatError(InventoryError):
    """One lockfile is not what its format says. Never escapes ``catalog()``: it becomes a Skipped."""


def in_skipped_dir(path: str) -> bool:
    """Whether ``path`` lies below a directory of installed (not declared) packages."""
    return any(part in SKIP_DIR_NAMES for part in path.split("/")[:-1])


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


@dataclass(slots=True)
class LockfileInput:
    """One file being cataloged, with what a parser needs to locate and relate its records."""

    view: FileSystemView
    path: str  # absolute inside the view
    display_path: str  # what Location.path says: relative for projects, absolute in images
    text: str
    context: CatalogContext
    found_by: str

    def location(self, line: int | None = None) -> Location:
        return Location(self.display_path, line=line)

    def sibling_path(self, name: str) -> str:
        return posixpath.join(posixpath.dirname(self.path), name)

    def read_sibling(self, name: str) -> str | None:
        """Text of a file next to this one, or None when absent/unreadable (it is optional context)."""
        return read_optional(self.view, self.sibling_path(name))

    def display(self, path: str) -> str:
        return display_path(path, self.context)


@dataclass(slots=True)
class FileOutcome:
    """What one file yielded: packages, and entries skipped inside it."""

    packages: list[Package] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: other files this one pulls in (requirements ``-r``/``-c``): absolute path, 1-based line
    includes: list[tuple[str, int]] = field(default_factory=list)


def display_path(path: str, context: CatalogContext) -> str:
    """Image paths stay absolute; project paths are relative to the project root."""
    return path if context.is_image else path.lstrip("/")


def read_optional(view: FileSystemView, path: str) -> str | None:
    """Text of an optional companion file (a manifest beside a lockfile), or None."""
    try:
        resolved = view.resolve(path)
        entry = view.entry(resolved)
        if entry is None or entry.size > MAX_LOCKFILE_BYTES:
            return None
        return view.read_text(resolved)
    except SourceError:
        return None


def read_lockfile(view: FileSystemView, entry: FileEntry) -> str:
    """The text of a lockfile, refusing oversized bodies before reading them (see :func:`size_limit`)."""
    limit = size_limit(entry.path)
    if entry.size > limit:
        raise LockfileFormatError(f"{entry.size} bytes, over the {limit} byte limit")
    data = view.read(entry.path)
    if len(data) > limit:
        raise LockfileFormatError(f"over the {limit} byte limit")
    if b"\x00" in data:
        raise LockfileFormatError("binary content (NUL bytes)")
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


class LockfileCataloger(Cataloger):
    """Base of the catalogers of declared packages: one parser per lockfile/manifest format."""

    installed = False

    #: basenames of the files this cataloger parses
    filenames: ClassVar[frozenset[str]] = frozenset()
    #: basenames read only as context for a lockfile (its manifest)
    companion_names: ClassVar[frozenset[str]] = frozenset()
    #: how a skipped file is described ("npm lockfile")
    what: ClassVar[str] = "lockfile"

    def is_lockfile(self, path: str) -> bool:
        """Whether ``path`` is a file this cataloger parses (by name, and not inside installed trees)."""
        return basename(path) in self.filenames and not in_skipped_dir(path)

    def wants(self, path: str) -> bool:
        if in_skipped_dir(path):
            return False
        return self.is_lockfile(path) or basename(path) in self.companion_names

    def lockfiles(self, view: FileSystemView) -> list[FileEntry]:
        """Every file of the view this cataloger parses, in path order (stable output)."""
        return sorted((e for e in view.walk_files() if self.is_lockfile(e.path)), key=lambda e: e.path)

    def catalog(self, view: FileSystemView, context: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        seen: set[str] = set()
        for entry in self.lockfiles(view):
            try:
                resolved = view.resolve(entry.path)
            except SourceError as exc:
                result.skipped.append(Skipped(self.what, Location(display_path(entry.path, context)), str(exc)))
                continue
            if resolved in seen:
                continue  # a symlink to a lockfile already cataloged: one file, one report
            seen.add(resolved)
            outcome = self.catalog_file(view, entry, context)
            result.packages.extend(outcome.packages)
            result.skipped.extend(outcome.skipped)
        return result

    def catalog_file(self, view: FileSystemView, entry: FileEntry, context: CatalogContext) -> FileOutcome:
        """Parse one file; any failure costs this file only."""
        shown = display_path(entry.path, context)

        def run() -> FileOutcome:
            text = read_lockfile(view, entry)
            return self.parse(LockfileInput(view, entry.path, shown, text, context, self.id))

        return self.guarded(shown, run)

    def guarded(self, shown: str, run: Callable[[], FileOutcome]) -> FileOutcome:
        """Run ``run`` for the file shown as ``shown``; whatever it raises becomes one Skipped."""
        try:
            return run()
        except (LockfileFormatError, SourceError) as exc:
            reason = str(exc)
        except RecursionError:
            reason = "nested too deeply"
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            # Last line of defence: a shape no validation anticipated must cost one
            # file, not the whole scan. The reason names the exception for bug reports.
            reason = f"unexpected structure ({type(exc).__name__}: {exc})"
        return FileOutcome(skipped=[Skipped(self.what, Location(shown), reason)])

    @abstractmethod
    def parse(self, source: LockfileInput) -> FileOutcome:
        """Packages (and skipped entries) of one file. Raise LockfileFormatError for a wholly bad file."""


# --- typed access to parsed documents -------------------------------------------------------

JsonDict = dict[str, Any]


def as_dict(value: object) -> JsonDict:
    """``value`` when it is a mapping with string keys, else an empty dict (absent and wrong are alike)."""
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return value
    return {}


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_str_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def require_dict(value: object, what: str) -> JsonDict:
    """``value`` as a mapping, or a format error naming ``what``."""
    if not isinstance(value, dict):
        raise LockfileFormatError(f"{what} is {type_name(value)}, expected a mapping")
    return as_dict(value)


def type_name(value: object) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# --- package records ---------------------------------------------------------------------------


def is_npm_name(name: str) -> bool:
    """Whether ``name`` follows npm's naming rules (:func:`chainwarden.inventory.bounds.npm_name_problem`)."""
    return npm_name_problem(name) is None


def pypi_name(raw: str) -> str:
    """PEP 503 normalised name, or a format error for something that is no valid PEP 508 name."""
    problem = pypi_name_problem(raw)
    if problem is not None:
        raise LockfileFormatError(problem)
    try:
        return canonicalize_name(raw, validate=True)
    except InvalidName as exc:
        raise LockfileFormatError(f"invalid Python package name {shown(raw)}") from exc


def pypi_package(
    source: LockfileInput,
    name: str,
    version: str,
    line: int | None,
    *,
    direct: bool | None = None,
    scope: Scope | None = None,
    hashes: Iterable[str] = (),
    pinned: bool = True,
) -> Package:
    """A PyPI package declared in ``source``; ``name`` must already be normalised."""
    return Package(
        ecosystem=Ecosystem.PYPI,
        name=name,
        version=version,
        purl=pypi_purl(name, version),
        found_by=source.found_by,
        locations=(source.location(line),),
        direct=direct,
        scope=scope,
        hashes=tuple(dict.fromkeys(hashes)),
        pinned=pinned,
    )


def npm_package(
    source: LockfileInput,
    name: str,
    version: str,
    line: int | None,
    *,
    direct: bool | None = None,
    scope: Scope | None = None,
    hashes: Iterable[str] = (),
    pinned: bool = True,
) -> Package:
    """An npm package declared in ``source``; ``name`` is exact (scope included)."""
    problem = npm_name_problem(name)
    if problem is not None:
        raise LockfileFormatError(problem)
    return Package(
        ecosystem=Ecosystem.NPM,
        name=name,
        version=version,
        purl=npm_purl(name, version),
        found_by=source.found_by,
        locations=(source.location(line),),
        direct=direct,
        scope=scope,
        hashes=tuple(dict.fromkeys(hashes)),
        pinned=pinned,
    )


def split_integrity(value: object) -> list[str]:
    """Subresource-integrity strings as given (``sha512-…``); npm may list several, space separated."""
    if not isinstance(value, str):
        return []
    return [part for part in value.split() if part]


def skip_entry(source: LockfileInput, what: str, line: int | None, reason: str) -> Skipped:
    # what the file said is bounded here, once: a hostile 5 MB key must not become a 5 MB record
    return Skipped(clip(what), source.location(line), clip(reason, 400))


# --- scopes from a dependency graph ---------------------------------------------------------

K = TypeVar("K")


def propagate_scopes(
    roots: Mapping[Scope, Iterable[K]],
    edges: Mapping[K, Iterable[tuple[K, bool]]],
) -> dict[K, Scope]:
    """Scope of every node reachable from the declared roots.

    A node reachable from a production root is PROD, even if a dev root reaches
    it too (it ships); an edge marked optional downgrades PROD to OPTIONAL;
    nodes reached only from dev roots are DEV.
    """
    order = (Scope.PROD, Scope.OPTIONAL, Scope.DEV)
    queues: dict[Scope, list[K]] = {scope: list(roots.get(scope, ())) for scope in order}
    result: dict[K, Scope] = {}
    for scope in order:
        queue = queues[scope]
        while queue:
            node = queue.pop()
            if node in result:
                continue
            result[node] = scope
            for child, optional in edges.get(node, ()):
                if child in result:
                    continue
                if optional and scope is Scope.PROD:
                    queues[Scope.OPTIONAL].append(child)
                else:
                    queue.append(child)
    return result
