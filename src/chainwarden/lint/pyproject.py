"""pyproject.toml and uv.toml: index configuration, source priorities, lockfile presence and consistency.

Dependency confusion lives in resolver configuration: Poetry consults PyPI
*before* a ``supplemental``/``secondary`` source, and uv's
``unsafe-best-match`` picks the highest version across every index, so a
public package that borrows an internal name wins. These rules read the
configuration the way the resolvers do.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from chainwarden.lint.base import Hit, LintContext, LintFile, LintInputError, find_line, is_http, url_allowed

PYTHON_LOCKFILES = ("poetry.lock", "uv.lock", "pdm.lock", "pylock.toml", "Pipfile.lock")
_PYPI_NAMES = frozenset({"pypi", "pypi.org"})


def _load_toml(file: LintFile) -> dict[str, Any]:
    try:
        return tomllib.loads(file.text)
    except tomllib.TOMLDecodeError as exc:
        raise LintInputError(f"{file.display}: invalid TOML ({exc})") from exc


def _table(data: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _where(text: str, *needles: str) -> tuple[int | None, int | None]:
    for needle in needles:
        found = find_line(text, needle)
        if found is not None:
            return found
    return None, None


def _pep508_names(values: Iterable[Any]) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    for value in values:
        if not isinstance(value, str):
            continue
        try:
            names.append((canonicalize_name(Requirement(value).name), value))
        except InvalidRequirement:
            continue
    return names


def declared_dependencies(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(normalised name, as written) for every direct dependency the manifest declares."""
    project = _table(data, "project")
    names = _pep508_names(_list(project.get("dependencies")))
    for extra in _table(project, "optional-dependencies").values():
        names += _pep508_names(_list(extra))
    for group in _table(data, "dependency-groups").values():
        names += _pep508_names(_list(group))
    poetry = _table(data, "tool", "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(group, "dependencies") for group in _table(poetry, "group").values() if isinstance(group, dict)]
    for table in tables:
        for name in table:
            if name.lower() != "python":
                names.append((canonicalize_name(name), name))
    own = project.get("name") or poetry.get("name")
    own_name = canonicalize_name(own) if isinstance(own, str) else None
    return [(name, raw) for name, raw in names if name != own_name]


def _locked_names(lock_name: str, text: str) -> set[str] | None:
    try:
        if lock_name == "Pipfile.lock":
            data = json.loads(text)
            if not isinstance(data, dict):
                return None
            return {canonicalize_name(n) for section in ("default", "develop") for n in _table(data, section)}
        data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError):
        return None
    packages = data.get("package") or data.get("packages") or []
    return {
        canonicalize_name(p["name"]) for p in _list(packages) if isinstance(p, dict) and isinstance(p.get("name"), str)
    }


def lint_pyproject(file: LintFile, ctx: LintContext) -> list[Hit]:
    data = _load_toml(file)
    hits: list[Hit] = []
    hits += _poetry_sources(file, data)
    uv = _table(data, "tool", "uv")
    hits += _uv_settings(file, uv, ctx)
    hits += _lock_checks(file, data, ctx)
    return hits


def lint_uv_toml(file: LintFile, ctx: LintContext) -> list[Hit]:
    return _uv_settings(file, _load_toml(file), ctx)


def _poetry_sources(file: LintFile, data: dict[str, Any]) -> list[Hit]:
    hits: list[Hit] = []
    sources = [s for s in _list(_table(data, "tool", "poetry").get("source")) if isinstance(s, dict)]
    primary: list[str] = []
    for source in sources:
        name = str(source.get("name", ""))
        url = str(source.get("url", ""))
        priority = str(source.get("priority", "")).lower()
        if not priority:
            priority = "default" if source.get("default") else "secondary" if source.get("secondary") else "primary"
        line, column = _where(file.text, f'"{name}"', name)
        if url and is_http(url):
            hits.append(Hit("pip-insecure-index", line, column, f"{name} = {url}", detail=url))
        if name.lower() in _PYPI_NAMES:
            if priority in ("primary", "default"):
                primary.append(name)
            continue
        if priority in ("supplemental", "secondary"):
            hits.append(
                Hit(
                    "poetry-source-priority",
                    line,
                    column,
                    f'[[tool.poetry.source]] name = "{name}" priority = "{priority}"',
                    detail=f"{name} is consulted only after PyPI (priority {priority})",
                )
            )
        elif priority in ("primary", "default"):
            primary.append(name)
    # several primary sources (PyPI named explicitly among them) are merged: the best match wins
    if len(primary) > 1 and any(p.lower() in _PYPI_NAMES for p in primary):
        for name in primary:
            if name.lower() in _PYPI_NAMES:
                continue
            line, column = _where(file.text, f'"{name}"', name)
            hits.append(
                Hit(
                    "poetry-source-priority",
                    line,
                    column,
                    f'[[tool.poetry.source]] name = "{name}"',
                    detail=f"{name} and PyPI are both primary: names resolve across both",
                )
            )
    return hits


def _uv_settings(file: LintFile, uv: dict[str, Any], ctx: LintContext) -> list[Hit]:
    hits: list[Hit] = []
    for table in (uv, _table(uv, "pip")):
        strategy = table.get("index-strategy")
        if isinstance(strategy, str) and strategy.startswith("unsafe"):
            line, column = _where(file.text, "index-strategy")
            hits.append(
                Hit("uv-unsafe-index-strategy", line, column, f'index-strategy = "{strategy}"', detail=strategy)
            )
        for url in _list(table.get("extra-index-url")):
            if isinstance(url, str):
                line, column = _where(file.text, url)
                hits.append(Hit("pip-extra-index-url", line, column, url, detail=url))
    allowed = ctx.config.registries.pypi
    pinned_sources = {
        str(v.get("index")) for v in _table(uv, "sources").values() if isinstance(v, dict) and "index" in v
    }
    for index in _list(uv.get("index")):
        if not isinstance(index, dict):
            continue
        url = str(index.get("url", ""))
        name = str(index.get("name", url))
        line, column = _where(file.text, f'"{url}"', f'"{name}"')
        if is_http(url):
            hits.append(Hit("pip-insecure-index", line, column, url, detail=url))
        if index.get("explicit") is True or index.get("default") is True or url_allowed(url, allowed):
            continue
        detail = f"{name} ({url}) is searched for every package"
        if name in pinned_sources:
            detail += "; internal packages pinned in [tool.uv.sources] still fall through to PyPI when missing here"
        hits.append(Hit("uv-index-not-explicit", line, column, f'[[tool.uv.index]] name = "{name}"', detail=detail))
    return hits


_REQUIREMENTS_LOCK = re.compile(r"^(requirements|constraints|lock|pylock)([-_.].*)?\.(txt|lock|toml)$|\.lock$")


def _has_pinned_requirements(ctx: LintContext, directory: str) -> bool:
    """A pip-compile / ``uv pip compile`` style lock next to pyproject.toml or in ``requirements/``."""
    children = ctx.view.children(directory)
    if any(_REQUIREMENTS_LOCK.search(child) for child in children):
        return True
    for folder in ("requirements", "constraints", "locks"):
        if folder in children and any(
            child.endswith((".txt", ".lock")) for child in ctx.view.children(f"{directory.rstrip('/')}/{folder}")
        ):
            return True
    return False


def _lock_checks(file: LintFile, data: dict[str, Any], ctx: LintContext) -> list[Hit]:
    declared = declared_dependencies(data)
    if not declared:
        return []
    hits: list[Hit] = []
    locks = {name: ctx.read_text(ctx.sibling(file.path, name)) for name in PYTHON_LOCKFILES}
    present = {name: text for name, text in locks.items() if text is not None}
    directory = ctx.sibling(file.path, "").rstrip("/") or "/"
    has_requirements = _has_pinned_requirements(ctx, directory)
    if not present:
        if not has_requirements:
            line, column = _where(file.text, "dependencies")
            hits.append(
                Hit("python-lockfile-missing", line, column, "pyproject.toml", detail=f"{len(declared)} dependencies")
            )
        return hits
    for lock_name, text in present.items():
        locked = _locked_names(lock_name, text)
        if locked is None:
            continue
        missing = sorted({(name, raw) for name, raw in declared if name not in locked})
        for name, raw in missing:
            line, column = _where(file.text, f'"{raw}', raw)
            hits.append(Hit("lockfile-missing-dependency", line, column, raw, detail=f"{name} is not in {lock_name}"))
    return hits
