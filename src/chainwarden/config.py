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

Also read: ``[typosquat] allow``, ``[vet] allow / ignore``, ``[internal] owners /
claimed``. Everything is validated against :data:`SCHEMA`: an unknown section or
key, a value of the wrong type (``require_ignore_scripts = "no"``) or an unknown
rule id is a :class:`~chainwarden.errors.ConfigError` naming the closest valid one.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
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


_STRINGS: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_STR: dict[str, Any] = {"type": "string"}


def _section(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties}


#: The whole file. Unknown sections and keys are errors (a typo would otherwise
#: silently disable a policy); so are values of the wrong type.
SCHEMA: dict[str, Any] = _section(
    exclude=_STRINGS,
    registries=_section(pypi=_STRINGS, npm=_STRINGS),
    internal=_section(
        patterns=_STRINGS, scopes=_STRINGS, pypi_index=_STR, npm_registry=_STR, owners=_STRINGS, claimed=_STRINGS
    ),
    rules=_section(
        disabled=_STRINGS,
        severity={"type": "object", "additionalProperties": {"enum": [s.value for s in Severity]}},
    ),
    policy=_section(require_ignore_scripts={"type": "boolean"}),
    typosquat=_section(allow=_STRINGS),
    vet=_section(
        allow=_STRINGS,
        ignore={
            "type": "array",
            "items": {
                "description": "a string RULE[:PACKAGE] or a table { rule = ..., package = ... }",
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["rule"],
                        "properties": {"rule": _STR, "package": _STR, "reason": _STR},
                    },
                ],
            },
        },
    ),
)


def _closest(word: str, choices: Iterable[str]) -> str:
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" (known: {', '.join(options)})" if len(options) <= 12 else ""


def _unknown_keys(data: Any, schema: dict[str, Any], where: str, section: str) -> None:
    properties = schema.get("properties")
    if not isinstance(data, dict) or properties is None:
        return
    for key, value in data.items():
        if key not in properties:
            place = f"section [{section}]" if section else "the top level"
            what = "section" if not section and isinstance(value, dict) else "key"
            raise ConfigError(f"{where}: unknown {what} '{key}' in {place}{_closest(key, properties)}")
        _unknown_keys(value, properties[key], where, f"{section}.{key}" if section else key)


def validate_config(data: dict[str, Any], where: str) -> None:
    """Raise ConfigError, in one line, for the first unknown section or key, or value of a wrong type."""
    import jsonschema

    _unknown_keys(data, SCHEMA, where, "")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])), None)
    if error is not None:
        key = _key_name(list(error.absolute_path))
        expected = _expected(error)
        raise ConfigError(f"{where}: {key} = {_toml_value(error.instance)} must be {expected}")


def _key_name(path: list[Any]) -> str:
    """``[vet] ignore[0]``, ``[policy] require_ignore_scripts``, ``exclude``."""
    names = [str(p) for p in path if not isinstance(p, int)]
    indexes = "".join(f"[{p}]" for p in path if isinstance(p, int))
    if not names:
        return "(top)"
    if len(names) == 1:
        return names[0] + indexes
    return f"[{'.'.join(names[:-1])}] {names[-1]}{indexes}"


def _expected(error: Any) -> str:
    schema = error.schema
    if "description" in schema:
        return str(schema["description"])
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if schema is _STRINGS or ("anyOf" in schema and schema["anyOf"] == _STRINGS["anyOf"]):
        return "a string or a list of strings"
    kind = schema.get("type")
    return {"boolean": "true or false", "string": "a string", "object": "a table", "array": "a list"}.get(
        str(kind), f"valid ({error.message[:80]})"
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_rule_ids(config: Config, known: Iterable[str]) -> None:
    """Raise ConfigError for a ``[rules]`` id that is not in ``known``, naming the closest one.

    The rule tables live with the analyzers that emit them (above this module),
    so whoever knows them all — the CLI — passes them in.
    """
    known_ids = set(known)
    rules = config.raw.get("rules", {}) if isinstance(config.raw.get("rules"), dict) else {}
    where = f"{config.path}" if config.path is not None else "config"
    for rule_id in [*sorted(config.rules.disabled), *rules.get("severity", {})]:
        if rule_id not in known_ids:
            raise ConfigError(f"{where}: [rules] unknown rule id '{rule_id}'{_closest(rule_id, known_ids)}")


def _strings(table: dict[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    return (value,) if isinstance(value, str) else tuple(value)


def parse_config(data: dict[str, Any], where: str, path: Path | None = None) -> Config:
    validate_config(data, where)
    registries = data.get("registries", {})
    internal = data.get("internal", {})
    rules = data.get("rules", {})
    policy = data.get("policy", {})
    severities = {rule_id: Severity(level) for rule_id, level in rules.get("severity", {}).items()}
    return Config(
        registries=Registries(
            pypi=_strings(registries, "pypi") or DEFAULT_PYPI,
            npm=_strings(registries, "npm") or DEFAULT_NPM,
        ),
        internal=Internal(
            patterns=_strings(internal, "patterns"),
            scopes=_strings(internal, "scopes"),
            pypi_index=internal.get("pypi_index"),
            npm_registry=internal.get("npm_registry"),
        ),
        rules=Rules(disabled=frozenset(_strings(rules, "disabled")), severity=severities),
        policy=Policy(require_ignore_scripts=policy.get("require_ignore_scripts", False)),
        exclude=_strings(data, "exclude"),
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
