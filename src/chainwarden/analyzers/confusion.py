"""Dependency confusion: can an internal package name be served from a public registry?

Two halves:

* **Config analysis** reads how the project's installers pick an index — pip
  (``--extra-index-url``, ``PIP_EXTRA_INDEX_URL``, pip.conf), uv
  (``index-strategy``, ``explicit`` indexes, ``[tool.uv.sources]``), Poetry
  (source priorities, per-package ``source``), npm/yarn/pnpm (``.npmrc``
  ``@scope:registry``, ``.yarnrc(.yml)``) — and says which internal names a
  public registry could serve, and why.
* **Public-claim check** asks the public registry about every internal name:
  *unclaimed* (register a placeholder or scope it), *claimed by someone else*
  (critical when their versions are higher than yours: the confusion works
  today), or *claimed by you* (same maintainers or the same artifacts).
"""

from __future__ import annotations

import configparser
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainwarden.analyzers.registry_client import (
    RegistryClient,
    RegistryClientError,
    max_version,
    npm_maintainers,
    npm_max_version,
)
from chainwarden.analyzers.typosquat import bare_package
from chainwarden.config import DEFAULT_NPM, DEFAULT_PYPI, Config
from chainwarden.models import Ecosystem, Finding, Location, Package, RuleId, Severity

PUBLIC_HOSTS: Final = ("pypi.org", "pypi.python.org", "files.pythonhosted.org", "registry.npmjs.org",
                       "registry.yarnpkg.com", "registry.npmmirror.com")  # fmt: skip

RULE_EXTRA_INDEX: Final = RuleId("dependency-confusion-extra-index")
RULE_UV_STRATEGY: Final = RuleId("dependency-confusion-index-strategy")
RULE_POETRY_SOURCE: Final = RuleId("dependency-confusion-source-priority")
RULE_NPM_SCOPE: Final = RuleId("dependency-confusion-unmapped-scope")
RULE_NPM_UNSCOPED: Final = RuleId("dependency-confusion-unscoped-internal")
RULE_UNCLAIMED: Final = RuleId("dependency-confusion-unclaimed")
RULE_CLAIMED: Final = RuleId("dependency-confusion-claimed")
RULE_CLAIMED_BY_YOU: Final = RuleId("dependency-confusion-claimed-by-you")
RULE_LOOKUP_FAILED: Final = RuleId("dependency-confusion-lookup-failed")


def is_public(url: str) -> bool:
    return any(host in url for host in PUBLIC_HOSTS)


@dataclass(frozen=True, slots=True)
class InternalName:
    """A package name that must only ever come from a private index."""

    ecosystem: Ecosystem
    name: str
    version: str | None = None  # the internal version in use, when known
    why: str = ""  # "matches [internal] pattern 'acme-*'", "pinned to source 'private'"
    private_index: str | None = None


@dataclass(slots=True)
class ProjectPicture:
    """What the installer configuration of one project says."""

    findings: list[Finding] = field(default_factory=list)
    internal: dict[tuple[Ecosystem, str], InternalName] = field(default_factory=dict)
    pinned: set[tuple[Ecosystem, str]] = field(default_factory=set)  # bound to a private index explicitly
    scope_registries: dict[str, str] = field(default_factory=dict)
    npm_default_registry: str | None = None
    private_pypi: list[str] = field(default_factory=list)

    def add_internal(self, item: InternalName) -> None:
        key = (item.ecosystem, item.name)
        known = self.internal.get(key)
        if known is None or (known.version is None and item.version):
            self.internal[key] = item


def _finding(
    rule: RuleId,
    severity: Severity,
    title: str,
    *,
    path: str | None = None,
    line: int | None = None,
    evidence: Iterable[str] = (),
    remediation: str,
    package: Package | None = None,
    description: str = "",
) -> Finding:
    return Finding(
        rule_id=rule,
        severity=severity,
        title=title,
        package=package,
        location=Location(path=path, line=line) if path else None,
        evidence=tuple(evidence),
        remediation=remediation,
        description=description,
    )


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


# --------------------------------------------------------------------------- config analysis


def analyze_project(
    root: Path,
    config: Config,
    *,
    env: Mapping[str, str] | None = None,
    packages: Iterable[Package] = (),
) -> ProjectPicture:
    """Read the installer configs under ``root`` and the inventory's packages."""
    env = os.environ if env is None else env
    picture = ProjectPicture()
    packages = list(packages)
    for package in packages:
        if package.ecosystem in (Ecosystem.PYPI, Ecosystem.NPM) and config.internal.is_internal(
            package.name, package.ecosystem.value
        ):
            picture.add_internal(
                InternalName(
                    package.ecosystem, package.name, package.version or None, "matches chainwarden.toml [internal]"
                )
            )
    if config.internal.pypi_index:
        picture.private_pypi.append(config.internal.pypi_index)
    _pip(root, env, config, picture)
    _uv(root, config, picture)
    _poetry(root, config, picture)
    _npm(root, config, picture, packages)
    return picture


def _internal_list(picture: ProjectPicture, ecosystem: Ecosystem) -> list[str]:
    return sorted(name for (eco, name) in picture.internal if eco is ecosystem)


def _pip(root: Path, env: Mapping[str, str], config: Config, picture: ProjectPicture) -> None:
    sources: list[tuple[str, int | None, str, bool]] = []  # (file, line, url, hashes required)
    for requirements in sorted(root.glob("*requirements*.txt")) + sorted(root.glob("requirements/*.txt")):
        try:
            text = requirements.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        hashed = "--require-hashes" in text or "--hash=" in text
        for number, line in enumerate(text.splitlines(), 1):
            match = re.match(r"^\s*(--extra-index-url|--index-url|-i)[\s=]+(\S+)", line)
            if match:
                url = match.group(2)
                if match.group(1) == "--extra-index-url":
                    sources.append((str(requirements.relative_to(root)), number, url, hashed))
                elif not is_public(url):
                    picture.private_pypi.append(url)
    extra_env = env.get("PIP_EXTRA_INDEX_URL")
    if extra_env:
        for url in extra_env.split():
            sources.append(("environment PIP_EXTRA_INDEX_URL", None, url, False))
    for conf in (
        root / "pip.conf",
        root / "pip.ini",
        Path(env["PIP_CONFIG_FILE"]) if env.get("PIP_CONFIG_FILE") else None,
    ):
        if conf is None or not conf.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)  # pip reads its files raw: "%" is no escape
        try:
            parser.read(conf, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in parser.sections():
            extra = parser.get(section, "extra-index-url", fallback="")
            for url in extra.split():
                conf_text = conf.read_text(encoding="utf-8", errors="replace")
                sources.append((str(conf), _line_of(conf_text, url), url, False))
    for file, line_number, url, hashed in sources:
        if not is_public(url):
            picture.private_pypi.append(url)
        names = _internal_list(picture, Ecosystem.PYPI)
        severity = Severity.MEDIUM if hashed else Severity.HIGH
        picture.findings.append(
            _finding(
                RULE_EXTRA_INDEX,
                severity,
                f"pip merges {url} with PyPI and installs the highest version found on either",
                path=file,
                line=line_number,
                evidence=(
                    f"extra index: {url}",
                    "internal names that PyPI could serve: " + (", ".join(names) if names else "(none declared)"),
                    *(("hash pinning (--hash/--require-hashes) blocks a substituted file",) if hashed else ()),
                ),
                remediation=(
                    "Install from one index that proxies PyPI and blocks your internal names, or use uv with an "
                    "explicit index and [tool.uv.sources]; keep --require-hashes."
                ),
                description=(
                    "--extra-index-url does not set a priority: pip collects candidates from every index and picks "
                    "the highest version, so anyone who publishes an internal name on PyPI with a higher version wins."
                ),
            )
        )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):  # tomllib reads UTF-8 only
        return {}


def _uv(root: Path, config: Config, picture: ProjectPicture) -> None:
    for path in (root / "pyproject.toml", root / "uv.toml"):
        if not path.is_file():
            continue
        data = _read_toml(path)
        uv = data.get("tool", {}).get("uv", {}) if path.name == "pyproject.toml" else data
        if not isinstance(uv, dict):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        indexes = uv.get("index", []) if isinstance(uv.get("index"), list) else []
        explicit_names = {
            str(i.get("name")): str(i.get("url", "")) for i in indexes if isinstance(i, dict) and i.get("explicit")
        }
        for index in indexes:
            if isinstance(index, dict) and isinstance(index.get("url"), str) and not is_public(index["url"]):
                picture.private_pypi.append(index["url"])
        sources = uv.get("sources", {}) if isinstance(uv.get("sources"), dict) else {}
        for name, source in sources.items():
            if isinstance(source, dict) and isinstance(source.get("index"), str):
                key = (Ecosystem.PYPI, canonicalize_name(name))
                picture.pinned.add(key)
                url = explicit_names.get(source["index"]) or source["index"]
                picture.add_internal(
                    InternalName(Ecosystem.PYPI, key[1], None, f"pinned to uv index {source['index']!r}", url)
                )
        strategy = uv.get("index-strategy")
        extra = uv.get("extra-index-url")
        if strategy in ("unsafe-best-match", "unsafe-first-match") and (indexes or extra):
            names = _internal_list(picture, Ecosystem.PYPI)
            picture.findings.append(
                _finding(
                    RULE_UV_STRATEGY,
                    Severity.HIGH,
                    f"uv index-strategy = {strategy!r} lets PyPI serve internal names",
                    path=str(path.relative_to(root)),
                    line=_line_of(text, "index-strategy"),
                    evidence=(
                        f"index-strategy: {strategy}",
                        "internal names: " + (", ".join(names) or "(none declared)"),
                    ),
                    remediation="Use the default 'first-index' strategy, mark private indexes explicit = true "
                    "and pin internal packages in [tool.uv.sources].",
                    description="uv's unsafe strategies consider every index for every name, which reintroduces "
                    "pip's dependency-confusion behaviour.",
                )
            )
        for index in indexes:
            if not isinstance(index, dict) or index.get("explicit") or is_public(str(index.get("url", ""))):
                continue
            unpinned = [n for n in _internal_list(picture, Ecosystem.PYPI) if (Ecosystem.PYPI, n) not in picture.pinned]
            if unpinned:
                picture.findings.append(
                    _finding(
                        RULE_UV_STRATEGY,
                        Severity.LOW,
                        f"internal names are not pinned to uv index {index.get('name')!r}",
                        path=str(path.relative_to(root)),
                        line=_line_of(text, str(index.get("url", ""))),
                        evidence=("unpinned: " + ", ".join(unpinned),),
                        remediation="Set explicit = true on the private index and map each internal package to it "
                        "in [tool.uv.sources].",
                        description="With the first-index strategy uv stops at the first index that has a name; "
                        "if the private index ever lacks one, PyPI is asked next.",
                    )
                )


def _poetry(root: Path, config: Config, picture: ProjectPicture) -> None:
    path = root / "pyproject.toml"
    if not path.is_file():
        return
    poetry = _read_toml(path).get("tool", {}).get("poetry", {})
    if not isinstance(poetry, dict):
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    sources = poetry.get("source", []) if isinstance(poetry.get("source"), list) else []
    by_name = {str(s.get("name")): s for s in sources if isinstance(s, dict)}
    deps: dict[str, Any] = {}
    for table in (
        poetry.get("dependencies"),
        *(g.get("dependencies") for g in (poetry.get("group") or {}).values() if isinstance(g, dict)),
    ):
        if isinstance(table, dict):
            deps.update(table)
    for name, spec in deps.items():
        if isinstance(spec, dict) and isinstance(spec.get("source"), str):
            source = by_name.get(spec["source"], {})
            key = (Ecosystem.PYPI, canonicalize_name(name))
            picture.pinned.add(key)
            picture.add_internal(
                InternalName(
                    Ecosystem.PYPI, key[1], None, f"pinned to Poetry source {spec['source']!r}", source.get("url")
                )
            )
    for source in sources:
        if not isinstance(source, dict):
            continue
        url = str(source.get("url", ""))
        if url and not is_public(url):
            picture.private_pypi.append(url)
        priority = source.get("priority") or ("secondary" if source.get("secondary") else None)
        if priority in ("supplemental", "secondary") and not is_public(url):
            unpinned = [n for n in _internal_list(picture, Ecosystem.PYPI) if (Ecosystem.PYPI, n) not in picture.pinned]
            picture.findings.append(
                _finding(
                    RULE_POETRY_SOURCE,
                    Severity.HIGH if unpinned or not picture.internal else Severity.LOW,
                    f"Poetry source {source.get('name')!r} is {priority}: PyPI is searched before it",
                    path="pyproject.toml",
                    line=_line_of(text, url) if url else None,
                    evidence=(
                        f"source {source.get('name')!r} priority={priority} url={url}",
                        "internal names not pinned with source=: " + (", ".join(unpinned) or "(none declared)"),
                    ),
                    remediation="Make the private source 'explicit' (or primary) and add source = \"<name>\" to "
                    "every internal dependency.",
                    description="A supplemental/secondary source is only consulted when PyPI has no match, so a "
                    "public package with the internal name is installed instead.",
                )
            )


def _parse_npmrc(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")) or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        values[key.strip()] = value.strip().strip("\"'")
    return values


def _npm(root: Path, config: Config, picture: ProjectPicture, packages: list[Package]) -> None:
    npmrc_path = root / ".npmrc"
    npmrc = _parse_npmrc(npmrc_path.read_text(encoding="utf-8", errors="replace")) if npmrc_path.is_file() else {}
    for key, value in npmrc.items():
        if key == "registry":
            picture.npm_default_registry = value
        elif key.startswith("@") and key.endswith(":registry"):
            picture.scope_registries[key[: -len(":registry")]] = value
    yarnrc = root / ".yarnrc.yml"
    if yarnrc.is_file():
        import yaml

        try:
            data = yaml.safe_load(yarnrc.read_text(encoding="utf-8", errors="replace")) or {}
        except (yaml.YAMLError, ValueError, RecursionError):  # ValueError: a timestamp such as 2024-02-30
            data = {}
        if isinstance(data, dict):
            if isinstance(data.get("npmRegistryServer"), str):
                picture.npm_default_registry = data["npmRegistryServer"]
            for scope, settings in (data.get("npmScopes") or {}).items():
                if isinstance(settings, dict) and isinstance(settings.get("npmRegistryServer"), str):
                    picture.scope_registries[f"@{scope}"] = settings["npmRegistryServer"]
    yarnrc_v1 = root / ".yarnrc"
    if yarnrc_v1.is_file():
        for line in yarnrc_v1.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r'^\s*"?(@[\w.-]+:)?registry"?\s+"?([^"\s]+)"?', line)
            if match and match.group(1):
                picture.scope_registries[match.group(1)[:-1]] = match.group(2)
            elif match:
                picture.npm_default_registry = match.group(2)
    names: set[str] = {p.name for p in packages if p.ecosystem is Ecosystem.NPM}
    manifest = root / "package.json"
    if manifest.is_file():
        import json

        try:
            data = json.loads(manifest.read_text(encoding="utf-8", errors="replace"))
        except ValueError:
            data = {}
        if isinstance(data, dict):
            for table in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
                if isinstance(data.get(table), dict):
                    names.update(str(n).lower() for n in data[table])
    private_scopes = {s for s, url in picture.scope_registries.items() if not is_public(url)}
    for scope in private_scopes:
        for name in names:
            if name.startswith(scope + "/"):
                picture.add_internal(
                    InternalName(Ecosystem.NPM, name, None, f"scope {scope} maps to a private registry")
                )
    default_public = picture.npm_default_registry is None or is_public(picture.npm_default_registry)
    for name in sorted(names):
        if not config.internal.is_internal(name, "npm"):
            continue
        picture.add_internal(InternalName(Ecosystem.NPM, name, None, "matches chainwarden.toml [internal]"))
        if name.startswith("@"):
            scope = name.split("/", 1)[0]
            if scope not in picture.scope_registries:
                picture.findings.append(
                    _finding(
                        RULE_NPM_SCOPE,
                        Severity.HIGH,
                        f"internal scope {scope} has no registry mapping: {name} resolves from "
                        f"{picture.npm_default_registry or DEFAULT_NPM[0]}",
                        path=".npmrc" if npmrc_path.is_file() else "package.json",
                        evidence=(f"no '{scope}:registry=' line in .npmrc",),
                        remediation=f"Add '{scope}:registry=<private registry>' to .npmrc and own the scope on npmjs.",
                        description="Without a scope mapping npm asks the default registry for the scoped name; if "
                        "the scope is not yours on npmjs, someone else can publish there.",
                    )
                )
        else:
            picture.findings.append(
                _finding(
                    RULE_NPM_UNSCOPED,
                    Severity.HIGH if default_public else Severity.MEDIUM,
                    f"internal package {name!r} is unscoped: anyone can publish that name on npmjs",
                    path="package.json",
                    evidence=(
                        f"default registry: {picture.npm_default_registry or DEFAULT_NPM[0]}",
                        "private registries that proxy npmjs fall through to the public name when theirs is missing",
                    ),
                    remediation="Move internal packages under a scope you own (@yourorg/…) mapped with "
                    "'@yourorg:registry=' in .npmrc.",
                    description="Unscoped names are first-come on npmjs; Birsan's 2021 research took over builds "
                    "through exactly such names.",
                )
            )


# --------------------------------------------------------------------------- public claims


@dataclass(frozen=True, slots=True)
class ClaimResult:
    item: InternalName
    outcome: str  # "unclaimed", "claimed-by-you", "claimed", "lookup-failed"
    public_versions: tuple[str, ...] = ()
    public_latest: str | None = None
    maintainers: frozenset[str] = frozenset()
    detail: str = ""


def _owners(config: Config) -> frozenset[str]:
    raw = config.raw.get("internal", {})
    owners = raw.get("owners", []) if isinstance(raw, dict) else []
    return frozenset(str(o) for o in owners) if isinstance(owners, list) else frozenset()


def _claimed_list(config: Config) -> frozenset[str]:
    raw = config.raw.get("internal", {})
    claimed = raw.get("claimed", []) if isinstance(raw, dict) else []
    return frozenset(str(o).lower() for o in claimed) if isinstance(claimed, list) else frozenset()


def check_claims(
    items: Iterable[InternalName],
    client: RegistryClient,
    config: Config,
    *,
    private_pypi: str | None = None,
) -> list[ClaimResult]:
    """Ask the public registry about every internal name."""
    owners = _owners(config)
    claimed = _claimed_list(config)
    results: list[ClaimResult] = []
    for item in items:
        try:
            results.append(_claim(item, client, owners, claimed, private_pypi or config.internal.pypi_index))
        except RegistryClientError as exc:
            results.append(ClaimResult(item, "lookup-failed", detail=exc.diagnostics()))
    return results


def _claim(
    item: InternalName,
    client: RegistryClient,
    owners: frozenset[str],
    claimed: frozenset[str],
    private_pypi: str | None,
) -> ClaimResult:
    if item.ecosystem is Ecosystem.PYPI:
        project = client.pypi_project(item.name)
        if project is None:
            return ClaimResult(item, "unclaimed")
        versions = project.versions
        latest = project.latest()
        if item.name in claimed:
            return ClaimResult(item, "claimed-by-you", versions, latest, detail="listed in [internal] claimed")
        private_index = item.private_index or private_pypi
        if private_index and not is_public(private_index):
            private = client.pypi_project(item.name, index=private_index)
            if private is not None:
                public_hashes = {f.sha256 for f in project.files if f.sha256}
                private_hashes = {f.sha256 for f in private.files if f.sha256}
                if public_hashes and public_hashes <= private_hashes:
                    return ClaimResult(item, "claimed-by-you", versions, latest, detail="public files are your files")
                if item.version is None:
                    item = InternalName(item.ecosystem, item.name, private.latest(), item.why, private_index)
        return ClaimResult(item, "claimed", versions, latest)
    packument = client.npm_packument(item.name)
    if packument is None:
        return ClaimResult(item, "unclaimed")
    versions = tuple(str(v) for v in packument.get("versions", {}))
    latest = npm_max_version(list(versions))
    maintainers = npm_maintainers(packument)
    if item.name in claimed or (owners and maintainers & owners):
        return ClaimResult(item, "claimed-by-you", versions, latest, maintainers, detail="maintained by your accounts")
    return ClaimResult(item, "claimed", versions, latest, maintainers)


def _newer(public: str | None, internal: str | None, ecosystem: Ecosystem) -> bool | None:
    if public is None or internal is None:
        return None
    if ecosystem is Ecosystem.PYPI:
        try:
            return Version(public) > Version(internal)
        except InvalidVersion:
            return None
    return npm_max_version([public, internal]) == public and public != internal


def claim_findings(results: Iterable[ClaimResult], *, registry_urls: Mapping[Ecosystem, str]) -> list[Finding]:
    """Turn claim results into findings (one per internal name)."""
    findings: list[Finding] = []
    for result in results:
        item = result.item
        package = bare_package(item.ecosystem, item.name, item.version or "")
        where = registry_urls.get(item.ecosystem, "")
        base_evidence = [f"internal because: {item.why}"] if item.why else []
        if result.outcome == "unclaimed":
            scoped = item.ecosystem is Ecosystem.NPM and item.name.startswith("@")
            findings.append(
                _finding(
                    RULE_UNCLAIMED,
                    Severity.MEDIUM,
                    f"internal name {item.name!r} is unclaimed on {where}: anyone can register it",
                    evidence=(*base_evidence, f"{where} has no package named {item.name!r}"),
                    remediation=(
                        "Make sure you own the scope on npmjs."
                        if scoped
                        else "Register a placeholder under your account, or move the package under a prefix you own."
                    ),
                    package=package,
                    description="An unclaimed internal name is the opening move of dependency confusion.",
                )
            )
        elif result.outcome == "claimed-by-you":
            findings.append(
                _finding(
                    RULE_CLAIMED_BY_YOU,
                    Severity.INFO,
                    f"internal name {item.name!r} is claimed on {where} by you",
                    evidence=(*base_evidence, result.detail),
                    remediation="Nothing to do; keep the public placeholder's versions below your internal ones.",
                    package=package,
                )
            )
        elif result.outcome == "claimed":
            newer = _newer(result.public_latest, item.version, item.ecosystem)
            severity = Severity.CRITICAL if newer or (newer is None and item.version is None) else Severity.HIGH
            if newer:
                headline = (
                    f"{item.name!r} is claimed on {where} by someone else with higher version "
                    f"{result.public_latest} (yours: {item.version}): confusion is possible now"
                )
            elif newer is None:
                headline = f"{item.name!r} is claimed on {where} by someone else (public latest {result.public_latest})"
            else:
                headline = (
                    f"{item.name!r} is claimed on {where} by someone else (public {result.public_latest} ≤ yours "
                    f"{item.version}); any higher version they publish wins"
                )
            evidence = [*base_evidence, f"public versions: {', '.join(result.public_versions[-8:]) or '(none)'}"]
            if result.maintainers:
                evidence.append(f"public maintainers: {', '.join(sorted(result.maintainers))}")
            findings.append(
                _finding(
                    RULE_CLAIMED,
                    severity,
                    headline,
                    evidence=evidence,
                    remediation="Pin the internal package to your private index (uv sources / Poetry source / "
                    "npm scope), use hash-pinned lockfiles, and ask the registry to transfer or remove the name.",
                    package=package,
                    description="A resolver that merges indexes prefers the highest version, so the public package "
                    "replaces yours.",
                )
            )
        else:
            findings.append(
                _finding(
                    RULE_LOOKUP_FAILED,
                    Severity.UNKNOWN,
                    f"could not check whether {item.name!r} is claimed on {where}",
                    evidence=(result.detail,),
                    remediation="Re-run when the registry is reachable, or point --pypi-url/--npm-url at a mirror.",
                    package=package,
                )
            )
    return findings


def registry_urls(client: RegistryClient) -> dict[Ecosystem, str]:
    return {Ecosystem.PYPI: client.pypi_url, Ecosystem.NPM: client.npm_url}


__all__ = [
    "DEFAULT_NPM",
    "DEFAULT_PYPI",
    "ClaimResult",
    "InternalName",
    "ProjectPicture",
    "analyze_project",
    "check_claims",
    "claim_findings",
    "max_version",
]
