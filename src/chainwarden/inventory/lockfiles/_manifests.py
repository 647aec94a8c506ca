"""What manifests declare: ``pyproject.toml``, ``Pipfile`` and ``package.json``.

Lockfiles list everything that gets installed; only the manifest beside them
says which of those the project asked for (``direct``) and in which role
(``scope``). The pyproject cataloger also reports these declarations themselves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from chainwarden.inventory.lockfiles._common import (
    JsonDict,
    LockfileFormatError,
    as_dict,
    as_str,
    pypi_name,
    type_name,
)
from chainwarden.inventory.lockfiles._positions import (
    LineIndex,
    find_line,
    load_toml,
    toml_header_offset,
    toml_key_pattern,
    toml_string_pattern,
)
from chainwarden.models import Scope


@dataclass(frozen=True, slots=True)
class DeclaredDependency:
    """One dependency a manifest declares."""

    name: str  # normalised
    version: str  # the exact pin, or "" when the declaration allows a range
    pinned: bool
    scope: Scope
    line: int | None


@dataclass(frozen=True, slots=True)
class DeclarationProblem:
    """A declaration that could not be understood (reported as Skipped by callers)."""

    raw: str
    line: int | None
    reason: str


@dataclass(slots=True)
class PythonManifest:
    dependencies: list[DeclaredDependency] = field(default_factory=list)
    problems: list[DeclarationProblem] = field(default_factory=list)

    def names(self) -> set[str]:
        return {dep.name for dep in self.dependencies}

    def roots(self) -> dict[Scope, list[str]]:
        roots: dict[Scope, list[str]] = {}
        for dep in self.dependencies:
            roots.setdefault(dep.scope, []).append(dep.name)
        return roots


def exact_pin(specifier: SpecifierSet) -> str | None:
    """The version an ``==``/``===`` clause fixes, or None (wildcards and ranges fix nothing)."""
    for spec in specifier:
        if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
            return spec.version
    return None


def parse_pep508(raw: str) -> tuple[str, str, bool]:
    """(normalised name, exact version or "", pinned) of a PEP 508 requirement string."""
    try:
        requirement = Requirement(raw)
    except InvalidRequirement as exc:
        why = str(exc).splitlines()[0] if str(exc) else "unparseable"
        raise LockfileFormatError(f"invalid requirement {raw!r}: {why}") from exc
    name = pypi_name(requirement.name)
    if requirement.url:
        return name, "", False
    version = exact_pin(requirement.specifier)
    return name, version or "", version is not None


_POETRY_EXACT = re.compile(r"^\s*(?:==\s*)?([0-9][^\s,<>=!~^*|]*)\s*$")


def poetry_constraint_pin(constraint: str) -> str | None:
    """Poetry reads a bare ``1.2.3`` as ``==1.2.3``; carets, tildes and ranges pin nothing."""
    match = _POETRY_EXACT.match(constraint)
    if not match:
        return None
    try:
        Version(match.group(1))
    except InvalidVersion:
        return None
    return match.group(1)


def _poetry_declaration(value: object) -> tuple[str, bool, bool] | None:
    """(exact version or "", pinned, optional) of a Poetry dependency value; None if unusable."""
    if isinstance(value, str):
        version = poetry_constraint_pin(value)
        return version or "", version is not None, False
    if isinstance(value, dict):
        optional = value.get("optional") is True
        if any(key in value for key in ("git", "path", "url", "file")):
            return "", False, optional
        constraint = as_str(value.get("version"))
        version = poetry_constraint_pin(constraint) if constraint is not None else None
        return version or "", version is not None, optional
    if isinstance(value, list) and value:
        # several constraints for different markers: pinned only if all agree on one version
        parsed = [_poetry_declaration(item) for item in value]
        versions = {p[0] for p in parsed if p is not None and p[1]}
        if len(versions) == 1 and all(p is not None and p[1] for p in parsed):
            return versions.pop(), True, any(p is not None and p[2] for p in parsed)
        return "", False, any(p is not None and p[2] for p in parsed)
    return None


def pyproject_manifest(text: str) -> PythonManifest:
    """Every dependency ``pyproject.toml`` declares (PEP 621, PEP 735, Poetry, uv, PDM)."""
    document = load_toml(text)
    index = LineIndex(text)
    manifest = PythonManifest()

    def add_pep508(raw: object, scope: Scope, table: str, key: str) -> None:
        start = toml_header_offset(text, table)
        if not isinstance(raw, str):
            if isinstance(raw, dict) and "include-group" in raw:
                return  # PEP 735 group inclusion, not a dependency
            line = find_line(text, index, toml_key_pattern(key), start, index.line_of(start or 0))
            manifest.problems.append(DeclarationProblem(repr(raw)[:80], line, f"{type_name(raw)}, not a string"))
            return
        line = find_line(text, index, toml_string_pattern(raw), start, None)
        try:
            name, version, pinned = parse_pep508(raw)
        except LockfileFormatError as exc:
            manifest.problems.append(DeclarationProblem(raw, line, str(exc)))
            return
        manifest.dependencies.append(DeclaredDependency(name, version, pinned, scope, line))

    def add_list(value: object, scope: Scope, table: str, key: str) -> None:
        if isinstance(value, list):
            for item in value:
                add_pep508(item, scope, table, key)

    project = as_dict(document.get("project"))
    add_list(project.get("dependencies"), Scope.PROD, "project", "dependencies")
    for extra, extra_list in as_dict(project.get("optional-dependencies")).items():
        add_list(extra_list, Scope.OPTIONAL, "project.optional-dependencies", extra)
    for group_name, group in as_dict(document.get("dependency-groups")).items():
        add_list(group, Scope.DEV, "dependency-groups", group_name)

    tool = as_dict(document.get("tool"))
    add_list(as_dict(tool.get("uv")).get("dev-dependencies"), Scope.DEV, "tool.uv", "dev-dependencies")
    for group_name, group in as_dict(as_dict(tool.get("pdm")).get("dev-dependencies")).items():
        add_list(group, Scope.DEV, "tool.pdm.dev-dependencies", group_name)

    poetry = as_dict(tool.get("poetry"))
    _add_poetry_table(
        manifest, text, index, as_dict(poetry.get("dependencies")), Scope.PROD, "tool.poetry.dependencies"
    )
    _add_poetry_table(
        manifest, text, index, as_dict(poetry.get("dev-dependencies")), Scope.DEV, "tool.poetry.dev-dependencies"
    )
    for group_name, group in as_dict(poetry.get("group")).items():
        table = f"tool.poetry.group.{group_name}.dependencies"
        _add_poetry_table(manifest, text, index, as_dict(as_dict(group).get("dependencies")), Scope.DEV, table)
    return manifest


def _add_poetry_table(
    manifest: PythonManifest, text: str, index: LineIndex, table: JsonDict, scope: Scope, header: str
) -> None:
    start = toml_header_offset(text, header)
    for raw_name, value in table.items():
        if raw_name.lower() == "python":
            continue  # the interpreter constraint, not a package
        line = find_line(text, index, toml_key_pattern(raw_name), start, None)
        try:
            name = pypi_name(raw_name)
        except LockfileFormatError as exc:
            manifest.problems.append(DeclarationProblem(raw_name, line, str(exc)))
            continue
        declaration = _poetry_declaration(value)
        if declaration is None:
            manifest.problems.append(DeclarationProblem(raw_name, line, "unsupported Poetry dependency value"))
            continue
        version, pinned, optional = declaration
        effective = Scope.OPTIONAL if optional and scope is Scope.PROD else scope
        manifest.dependencies.append(DeclaredDependency(name, version, pinned, effective, line))


def pipfile_names(text: str) -> dict[str, set[str]] | None:
    """Normalised names per Pipfile category (``packages``, ``dev-packages``, custom), or None if unusable."""
    try:
        document = load_toml(text)
    except LockfileFormatError:
        return None
    categories: dict[str, set[str]] = {}
    for category, table in document.items():
        if category in {"source", "requires", "scripts", "pipenv"} or not isinstance(table, dict):
            continue
        names: set[str] = set()
        for raw in table:
            try:
                names.add(pypi_name(raw))
            except LockfileFormatError:
                continue
        categories[category] = names
    return categories


@dataclass(slots=True)
class NpmManifest:
    """Dependencies a ``package.json`` declares, with the range asked for and the scope."""

    dependencies: list[tuple[str, str, Scope]] = field(default_factory=list)

    def names(self) -> set[str]:
        return {name for name, _range, _scope in self.dependencies}

    def scope_of(self, name: str) -> Scope | None:
        scopes = {scope for dep, _range, scope in self.dependencies if dep == name}
        for scope in (Scope.PROD, Scope.OPTIONAL, Scope.DEV):
            if scope in scopes:
                return scope
        return None


#: package.json fields in the order that decides a name listed twice: what ships wins.
NPM_DEPENDENCY_FIELDS = (
    ("dependencies", Scope.PROD),
    ("peerDependencies", Scope.PROD),
    ("optionalDependencies", Scope.OPTIONAL),
    ("devDependencies", Scope.DEV),
)


def npm_dependencies_of(document: JsonDict) -> NpmManifest:
    """Declared dependencies of a parsed package.json (or a lockfile's root package entry)."""
    manifest = NpmManifest()
    for field_name, scope in NPM_DEPENDENCY_FIELDS:
        for name, spec in as_dict(document.get(field_name)).items():
            manifest.dependencies.append((name, spec if isinstance(spec, str) else "", scope))
    return manifest


def npm_manifest(text: str | None) -> NpmManifest | None:
    """Parse a ``package.json`` body; None when absent or unusable (it is only context)."""
    if text is None:
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    return npm_dependencies_of(as_dict(document))
