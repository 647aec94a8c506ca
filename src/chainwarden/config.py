"""``chainwarden.toml`` (or ``[tool.chainwarden]`` in pyproject.toml).

Example::

    [registries]
    pypi = ["https://pypi.org/simple"]          # allowed indexes
    npm = ["https://registry.npmjs.org"]         # allowed registries

    [internal]
    patterns = ["acme-*", "acme_*"]              # internal package names (fnmatch, normalised)
    scopes = ["@acme"]                           # internal npm scopes
    pypi_index = "https://pypi.acme.example/simple"
    npm_registry = "https://npm.acme.example"

    [rules]
    disabled = ["dockerfile-root-user"]
    severity = { "npm-install-without-lock" = "high" }

    [policy]
    require_ignore_scripts = false               # .npmrc must set ignore-scripts=true

    exclude = ["bench/corpus/*"]                  # paths (relative, fnmatch; * crosses /) never walked
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from chainwarden.errors import ConfigError
from chainwarden.models import Severity

CONFIG_NAMES = ("chainwarden.toml", ".chainwarden.toml")
DEFAULT_PYPI = ("https://pypi.org/simple", "https://files.pythonhosted.org")
DEFAULT_NPM = ("https://registry.npmjs.org", "https://registry.yarnpkg.com")


@dataclass(frozen=True, slots=True)
class Registries:
    pypi: tuple[str, ...] = DEFAULT_PYPI
    npm: tuple[str, ...] = DEFAULT_NPM


@dataclass(frozen=True, slots=True)
class Internal:
    patterns: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    pypi_index: str | None = None
    npm_registry: str | None = None

    def is_internal(self, name: str, ecosystem: str) -> bool:
        """Whether ``name`` is one of ours (patterns match normalised names)."""
        if ecosystem == "npm" and name.startswith("@"):
            scope = name.split("/", 1)[0]
            if scope in self.scopes:
                return True
        candidate = canonicalize_name(name) if ecosystem == "pypi" else name
        return any(fnmatchcase(candidate, canonicalize_name(p) if ecosystem == "pypi" else p) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Rules:
    disabled: frozenset[str] = frozenset()
    severity: dict[str, Severity] = field(default_factory=dict)

    def apply(self, rule_id: str, severity: Severity) -> Severity | None:
        """The effective severity, or None when the rule is disabled."""
        if rule_id in self.disabled:
            return None
        return self.severity.get(rule_id, severity)


@dataclass(frozen=True, slots=True)
class Policy:
    require_ignore_scripts: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    registries: Registries = Registries()
    internal: Internal = Internal()
    rules: Rules = Rules()
    policy: Policy = Policy()
    exclude: tuple[str, ...] = ()
    path: Path | None = None  # where it was read from
    raw: dict[str, Any] = field(default_factory=dict)  # every table, for analyzers' own sections


def is_excluded(config: Config, relative_path: str) -> bool:
    """Whether a path relative to the walked root matches an ``exclude`` pattern."""
    return any(fnmatchcase(relative_path, pattern) for pattern in config.exclude)


def _strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def parse_config(data: dict[str, Any], where: str, path: Path | None = None) -> Config:
    registries = _table(data, "registries", where)
    internal = _table(data, "internal", where)
    rules = _table(data, "rules", where)
    policy = _table(data, "policy", where)
    unknown = sorted(set(rules) - {"disabled", "severity"})
    if unknown:
        # a typo such as `disable = [...]` would otherwise silently disable nothing
        raise ConfigError(f"{where}: [rules] has unknown keys {', '.join(unknown)} (known: disabled, severity)")
    severities: dict[str, Severity] = {}
    for rule_id, level in _table(rules, "severity", f"{where} [rules]").items():
        try:
            severities[rule_id] = Severity(level)
        except ValueError as exc:
            raise ConfigError(f"{where}: [rules.severity] {rule_id} = {level!r} is not a severity") from exc
    for key in ("pypi_index", "npm_registry"):
        if key in internal and not isinstance(internal[key], str):
            raise ConfigError(f"{where}: [internal] {key} must be a string")
    return Config(
        registries=Registries(
            pypi=_strings(registries, "pypi", where) or DEFAULT_PYPI,
            npm=_strings(registries, "npm", where) or DEFAULT_NPM,
        ),
        internal=Internal(
            patterns=_strings(internal, "patterns", where),
            scopes=_strings(internal, "scopes", where),
            pypi_index=internal.get("pypi_index"),
            npm_registry=internal.get("npm_registry"),
        ),
        rules=Rules(disabled=frozenset(_strings(rules, "disabled", where)), severity=severities),
        policy=Policy(require_ignore_scripts=bool(policy.get("require_ignore_scripts", False))),
        exclude=_strings(data, "exclude", where),
        path=path,
        raw=data,
    )


def load_config(start: Path | None = None, explicit: Path | None = None) -> Config:
    """Read the explicit file, or the first config found from ``start`` upwards."""
    if explicit is not None:
        return _load_file(explicit)
    directory = (start or Path.cwd()).resolve()
    if directory.is_file():
        directory = directory.parent
    for candidate_dir in (directory, *directory.parents):
        for name in CONFIG_NAMES:
            if (candidate_dir / name).is_file():
                return _load_file(candidate_dir / name)
        pyproject = candidate_dir / "pyproject.toml"
        if pyproject.is_file():
            data = _read_toml(pyproject)
            tool = data.get("tool", {})
            if isinstance(tool, dict) and isinstance(tool.get("chainwarden"), dict):
                return parse_config(tool["chainwarden"], f"{pyproject} [tool.chainwarden]", pyproject)
        if (candidate_dir / ".git").exists():
            break
    return Config()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # tomllib reads UTF-8 only
        raise ConfigError(f"{path}: invalid TOML ({exc})") from exc


def _load_file(path: Path) -> Config:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("chainwarden", {}) if isinstance(tool, dict) else {}
    return parse_config(data, str(path), path)
