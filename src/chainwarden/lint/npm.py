"""npm: package.json, package-lock.json / npm-shrinkwrap.json, yarn.lock (v1 and berry), pnpm-lock.yaml, .npmrc.

The lockfile checks are lockfile-lint's validators, all of them: allowed
hosts, https, integrity present and not sha1-only, no git/tarball URL
dependencies, and the package name matching the name in the resolved URL
(the "lockfile injection" attack rewrites ``resolved`` of a trusted name to
another package). pnpm and Yarn berry lockfiles get the same checks under the
same rule ids, read from their own fields (``resolution.tarball`` and
``resolution.integrity``; ``resolution`` and ``checksum``).
"""

from __future__ import annotations

import bisect
import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from chainwarden.inventory.lockfiles import LockfileFormatError, load_yaml, yaml_key_lines
from chainwarden.inventory.lockfiles.pnpm import lockfile_major, parse_package_key
from chainwarden.inventory.lockfiles.yarn import split_descriptor
from chainwarden.lint.base import (
    Edit,
    Hit,
    LintContext,
    LintFile,
    LintInputError,
    find_line,
    mask_secret,
    url_allowed,
    url_host,
)

NPM_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock")
_DEP_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies")
_URL_SPEC = re.compile(r"^(git\+|git:|git@|github:|gitlab:|bitbucket:|gist:|https?:)|^[\w.-]+/[\w.-]+(#.*)?$")
_AUTH_KEY = re.compile(r"(^|:)(_authToken|_auth|_password)$")
_HTTPS_CAPABLE = frozenset({"registry.npmjs.org", "registry.yarnpkg.com"})
_SCOPED_REGISTRY = re.compile(r"^@[^:\s]+:registry$")
#: Yarn berry resolutions that never leave the checkout (the project, its workspaces, local folders).
_BERRY_LOCAL = ("workspace:", "link:", "portal:", "file:", "exec:")
_BERRY_GIT = re.compile(
    r"^(git\+|git:|github:|gitlab:|bitbucket:|ssh:)|\.git#|#commit=|^https?://github\.com/[^/]+/[^/#]+#"
)


def _load_json(file: LintFile) -> Any:
    try:
        return json.loads(file.text)
    except ValueError as exc:
        raise LintInputError(f"{file.display}: invalid JSON ({exc})") from exc


def allowed_npm_registries(ctx: LintContext) -> tuple[str, ...]:
    """The configured npm registries plus the internal one, as base URLs."""
    return ctx.config.registries.npm + tuple(filter(None, [ctx.config.internal.npm_registry]))


def _find(text: str, needle: str) -> tuple[int | None, int | None]:
    found = find_line(text, needle)
    return found if found is not None else (None, None)


def _ancestors(path: str) -> Iterator[str]:
    directory = posixpath.dirname(path)
    while True:
        yield directory
        if directory in ("/", ""):
            return
        directory = posixpath.dirname(directory)


# -- package.json ---------------------------------------------------------------------------------------
def lint_package_json(file: LintFile, ctx: LintContext) -> list[Hit]:
    data = _load_json(file)
    if not isinstance(data, dict):
        raise LintInputError(f"{file.display}: not a JSON object")
    hits: list[Hit] = []
    dependencies: dict[str, str] = {}
    for section in _DEP_SECTIONS:
        table = data.get(section)
        if isinstance(table, dict):
            dependencies.update({k: v for k, v in table.items() if isinstance(v, str)})
    for name, spec in dependencies.items():
        if _URL_SPEC.match(spec) and not spec.startswith(("file:", "link:", "workspace:")):
            line, column = _find(file.text, f'"{name}"')
            hits.append(Hit("npm-url-dependency", line, column, f'"{name}": "{spec}"', detail=f"{name} → {spec}"))
    if not dependencies:
        return hits
    lock_dir = next(
        (d for d in _ancestors(file.path) if any(ctx.exists(posixpath.join(d, n)) for n in NPM_LOCKFILES)), None
    )
    if lock_dir is None:
        line, column = _find(file.text, '"dependencies"')
        hits.append(Hit("npm-lockfile-missing", line, column, file.display, detail=f"{len(dependencies)} dependencies"))
    else:
        hits += _lock_consistency(file, ctx, lock_dir, dependencies)
    npmrc = next((p for d in _ancestors(file.path) if ctx.exists(p := posixpath.join(d, ".npmrc"))), None)
    if npmrc is None:
        scopes = sorted({n.split("/", 1)[0] for n in dependencies if n.startswith("@")})
        for scope in scopes:
            if scope in ctx.config.internal.scopes:
                line, column = _find(file.text, f'"{scope}/')
                hits.append(
                    Hit("npmrc-scope-without-registry", line, column, scope, detail=f"{scope} (no .npmrc at all)")
                )
        if ctx.config.policy.require_ignore_scripts:
            hits.append(
                Hit("npmrc-ignore-scripts-missing", 1, 1, file.display, detail="no .npmrc next to package.json")
            )
    return hits


def _lock_consistency(file: LintFile, ctx: LintContext, lock_dir: str, dependencies: dict[str, str]) -> list[Hit]:
    lock_path = posixpath.join(lock_dir, "package-lock.json")
    text = ctx.read_text(lock_path) or ctx.read_text(posixpath.join(lock_dir, "npm-shrinkwrap.json"))
    if text is None:
        return []
    try:
        lock = json.loads(text)
    except ValueError:
        return []
    if not isinstance(lock, dict):
        return []
    locked: set[str] = set()
    packages = lock.get("packages")
    if isinstance(packages, dict):
        locked = {key.rsplit("node_modules/", 1)[-1] for key in packages if "node_modules/" in key}
    v1 = lock.get("dependencies")
    if isinstance(v1, dict):
        locked |= set(v1)
    if not locked and not isinstance(packages, dict):
        return []
    hits: list[Hit] = []
    for name, spec in dependencies.items():
        if name not in locked and not spec.startswith(("file:", "link:", "workspace:")):
            line, column = _find(file.text, f'"{name}"')
            hits.append(
                Hit(
                    "lockfile-missing-dependency",
                    line,
                    column,
                    f'"{name}": "{spec}"',
                    detail=f"{name} is not in {posixpath.basename(lock_path)}",
                )
            )
    return hits


# -- lockfiles ------------------------------------------------------------------------------------------
def _lock_entries(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(package name, entry) for every locked package, v1 and v2/v3."""
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, entry in packages.items():
            if not key or "node_modules/" not in key or not isinstance(entry, dict):
                continue
            if entry.get("link") or entry.get("inBundle"):
                continue
            name = entry.get("name") if isinstance(entry.get("name"), str) else key.rsplit("node_modules/", 1)[-1]
            yield str(name), entry
        return

    def walk(table: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        if not isinstance(table, dict):
            return
        for name, entry in table.items():
            if isinstance(entry, dict):
                if not entry.get("bundled"):
                    yield name, entry
                yield from walk(entry.get("dependencies"))

    yield from walk(data.get("dependencies"))


def _name_in_url(url: str) -> str | None:
    """``https://registry.npmjs.org/@scope/name/-/name-1.0.0.tgz`` → ``@scope/name``."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return None
    if "/-/" not in path:
        return None
    before = path.split("/-/", 1)[0].strip("/")
    parts = before.split("/")
    if len(parts) >= 2 and parts[-2].startswith("@"):
        return f"{parts[-2]}/{parts[-1]}"
    return parts[-1] if parts else None


def check_locked(
    name: str,
    resolved: str | None,
    integrity: str | None,
    line: int | None,
    column: int | None,
    ctx: LintContext,
    *,
    text: str,
) -> list[Hit]:
    """lockfile-lint's validators for one locked package."""
    hits: list[Hit] = []
    evidence = f"{name}: {resolved or '(no resolved URL)'}"
    if resolved is None:
        return hits
    lowered = resolved.lower()
    if lowered.startswith(("file:", "link:", "workspace:")):
        return hits
    is_git = lowered.startswith(("git+", "git:", "github:")) or "codeload.github.com" in lowered
    allowed = allowed_npm_registries(ctx)
    if is_git or not lowered.startswith(("http://", "https://")):
        hits.append(Hit("npm-url-dependency", line, column, evidence, detail=f"{name} → {resolved}"))
        return hits
    if lowered.startswith("http://"):
        edit = None
        host = (urlsplit(resolved).hostname or "").lower()
        if host in _HTTPS_CAPABLE and line is not None and column is not None:
            at = find_line(text, resolved, line)
            if at is not None:
                edit = Edit(at[0], at[1], "http://", "https://", f"{resolved}: http → https")
        hits.append(Hit("npm-lock-http", line, column, evidence, detail=resolved, edit=edit))
    https_form = "https://" + resolved[7:] if lowered.startswith("http://") else resolved
    if not url_allowed(https_form, allowed):
        hits.append(Hit("npm-lock-disallowed-host", line, column, evidence, detail=resolved))
    url_name = _name_in_url(resolved)
    if url_name is not None and url_name != name:
        hits.append(Hit("npm-lock-name-mismatch", line, column, evidence, detail=f"{name} resolves to {url_name}"))
    hits += _integrity_hits(name, integrity, line, column, evidence)
    return hits


def _integrity_hits(name: str, integrity: str | None, line: int | None, column: int | None, evidence: str) -> list[Hit]:
    if not integrity:
        return [Hit("npm-lock-missing-integrity", line, column, evidence, detail=name)]
    if all(part.startswith("sha1-") for part in integrity.split()):
        return [Hit("npm-lock-sha1-integrity", line, column, evidence, detail=name)]
    return []


def lint_package_lock(file: LintFile, ctx: LintContext) -> list[Hit]:
    data = _load_json(file)
    if not isinstance(data, dict):
        raise LintInputError(f"{file.display}: not a JSON object")
    hits: list[Hit] = []
    cursor = 1
    for name, entry in _lock_entries(data):
        resolved = entry.get("resolved") if isinstance(entry.get("resolved"), str) else None
        version = entry.get("version") if isinstance(entry.get("version"), str) else None
        if resolved is None and version and ("://" in version or version.startswith(("git", "github:"))):
            resolved = version  # lockfile v1 keeps git/tarball URLs in "version"
        integrity = entry.get("integrity") if isinstance(entry.get("integrity"), str) else None
        where = find_line(file.text, f'"{resolved}"', cursor) if resolved else None
        if where is None and resolved:
            where = find_line(file.text, f'"{resolved}"')
        line, column = where if where is not None else (None, None)
        if line is not None:
            cursor = line
        hits += check_locked(name, resolved, integrity, line, column, ctx, text=file.text)
    return hits


_YARN_HEADER = re.compile(r'^("?)(@?[^@\s"]+)@')


def lint_yarn_lock(file: LintFile, ctx: LintContext) -> list[Hit]:
    """yarn.lock v1, or Yarn berry (≥ 2, YAML with a ``__metadata`` entry) through :func:`lint_yarn_berry`."""
    if re.search(r"^__metadata:", file.text, re.MULTILINE):
        return lint_yarn_berry(file, ctx)
    hits: list[Hit] = []
    name: str | None = None
    resolved: tuple[str, int, int] | None = None
    integrity: str | None = None

    def flush() -> None:
        if name is not None and resolved is not None:
            url, line, column = resolved
            base_url = url.split("#", 1)[0]
            hits.extend(check_locked(name, base_url, integrity, line, column, ctx, text=file.text))

    for number, raw in enumerate(file.text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if not raw[0].isspace():
            flush()
            match = _YARN_HEADER.match(raw)
            name = match.group(2) if match else None
            resolved, integrity = None, None
            continue
        stripped = raw.strip()
        if stripped.startswith("resolved "):
            url = stripped.split(None, 1)[1].strip('"')
            resolved = (url, number, raw.find(url) + 1)
        elif stripped.startswith("integrity "):
            integrity = stripped.split(None, 1)[1].strip('"')
    flush()
    return hits


def _load_yaml_lock(file: LintFile) -> tuple[dict[str, Any], dict[str, int], Any]:
    """Mapping, top-level key lines and node tree of a YAML lockfile; depth-guarded, safe constructor only."""
    try:
        data, node = load_yaml(file.text)
    except LockfileFormatError as exc:
        raise LintInputError(f"{file.display}: {exc}") from exc
    if not isinstance(data, dict):
        raise LintInputError(f"{file.display}: not a YAML mapping")
    return data, yaml_key_lines(node), node


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class _Positions:
    """Line/column lookups in one file; line starts are computed once (lockfiles have 10^5 lines)."""

    def __init__(self, text: str, entry_lines: Iterable[int]) -> None:
        self.text = text
        self.starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self.entry_lines = sorted(entry_lines)

    def near(self, needle: str, line: int | None) -> tuple[int | None, int | None]:
        """Where ``needle`` appears in the entry whose key is on ``line`` (else that line itself).

        The search stops at the next entry's key, so a field missing here is never found in a neighbour.
        """
        if line is None or not 0 < line <= len(self.starts):
            return None, None
        following = bisect.bisect_right(self.entry_lines, line)
        end = len(self.text)
        if following < len(self.entry_lines) and self.entry_lines[following] <= len(self.starts):
            end = self.starts[self.entry_lines[following] - 1]
        offset = self.text.find(needle, self.starts[line - 1], end) if needle else -1
        if offset < 0:
            return line, 1
        found = bisect.bisect_right(self.starts, offset)
        return found, offset - self.starts[found - 1] + 1


def _pnpm_name(key: str, entry: dict[str, Any], major: int | None) -> str | None:
    if _text(entry.get("name")):
        return str(entry["name"])
    if major is None:
        return None
    try:
        return parse_package_key(key, major)[0]
    except LockfileFormatError:
        return None


def lint_pnpm_lock(file: LintFile, ctx: LintContext) -> list[Hit]:
    """pnpm-lock.yaml 5.x-9.x: the lockfile-lint checks on each ``packages`` entry's ``resolution``.

    pnpm records ``resolution.tarball`` only when the tarball is not the standard
    URL of the configured registry, so a registry package carries just
    ``integrity``; git dependencies carry ``type: git`` and ``repo``/``commit``.
    """
    data, _lines, node = _load_yaml_lock(file)
    packages = data.get("packages")
    if packages is None:
        return []
    if not isinstance(packages, dict):
        raise LintInputError(f"{file.display}: 'packages' is not a mapping")
    try:
        major: int | None = lockfile_major(data.get("lockfileVersion"))
    except LockfileFormatError:
        major = None  # names then come from the entries' own "name" or the tarball URL
    lines = yaml_key_lines(node, "packages")
    positions = _Positions(file.text, lines.values())
    hits: list[Hit] = []
    for raw_key, entry in packages.items():
        key = str(raw_key)
        resolution = entry.get("resolution") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(resolution, dict):
            continue
        if "directory" in resolution or resolution.get("type") == "directory":
            continue  # a local folder (file:/link:), nothing is downloaded
        line = lines.get(key)
        tarball = _text(resolution.get("tarball"))
        integrity = _text(resolution.get("integrity"))
        name = _pnpm_name(key, entry, major) or (tarball and _name_in_url(tarball)) or key
        if resolution.get("type") == "git" or "repo" in resolution:
            repo = _text(resolution.get("repo")) or key
            commit = _text(resolution.get("commit")) or "?"
            at_line, column = positions.near("resolution", line)
            hits.append(
                Hit("npm-url-dependency", at_line, column, f"{name}: {repo}#{commit}", detail=f"{name} → {repo}")
            )
            continue
        if tarball is None:
            at_line, column = positions.near("resolution", line)
            hits += _integrity_hits(name, integrity, at_line, column, f"{name}: {key} (from the configured registry)")
            continue
        if tarball.lower().startswith(("file:", "link:", "workspace:")):
            continue
        at_line, column = positions.near(tarball, line)
        hits += check_locked(name, tarball, integrity, at_line, column, ctx, text=file.text)
    return hits


def _berry_reference(reference: str) -> tuple[str, str | None]:
    """(reference without a patch: wrapper or ``::`` parameters, ``__archiveUrl`` if any).

    ``patch:left-pad@npm%3A1.3.0#./fix.patch::…`` is a registry release with a local patch on top;
    ``npm:1.3.0::__archiveUrl=https%3A%2F%2F…`` is a registry release downloaded from that URL instead of
    the registry's conventional one (how berry records tarballs on other hosts: the lockfile-injection spot).
    """
    if reference.startswith("patch:"):
        inner = unquote(reference[6:].split("#", 1)[0])
        try:
            reference = split_descriptor(inner)[1]
        except LockfileFormatError:
            return reference, None
    base, _sep, parameters = reference.partition("::")
    archive = None
    for parameter in parameters.split("&"):
        field_name, _eq, value = parameter.partition("=")
        if field_name == "__archiveUrl" and value:
            archive = unquote(value)
    return base, archive


def lint_yarn_berry(file: LintFile, ctx: LintContext) -> list[Hit]:
    """Yarn berry yarn.lock: registry (``npm:``) resolutions need a ``checksum``; git and tarball
    resolutions bypass the registry; ``__archiveUrl`` tarballs get the host/https/name checks."""
    data, lines, _node = _load_yaml_lock(file)
    positions = _Positions(file.text, lines.values())
    hits: list[Hit] = []
    for raw_key, entry in data.items():
        key = str(raw_key)
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = _text(entry.get("resolution"))
        if resolution is None:
            continue
        try:
            name, full_reference = split_descriptor(resolution)
        except LockfileFormatError:
            continue
        if full_reference.startswith(_BERRY_LOCAL):
            continue
        checksum = _text(entry.get("checksum"))
        line, column = positions.near(resolution, lines.get(key))
        evidence = f"{name}: {resolution}"
        reference, archive = _berry_reference(full_reference)
        if reference.startswith("npm:"):
            if archive is not None:
                hits += check_locked(name, archive, checksum, line, column, ctx, text=file.text)
            else:
                hits += _integrity_hits(name, checksum, line, column, evidence)
            continue
        if _BERRY_GIT.search(reference):
            hits.append(Hit("npm-url-dependency", line, column, evidence, detail=f"{name} → {reference}"))
            continue
        if reference.lower().startswith(("http://", "https://")):
            hits.append(Hit("npm-url-dependency", line, column, evidence, detail=f"{name} → {reference}"))
            if reference.lower().startswith("http://"):
                hits.append(Hit("npm-lock-http", line, column, evidence, detail=reference))
            hits += _integrity_hits(name, checksum, line, column, evidence)
            continue
        # any other protocol (a plugin's, or one yarn adds later) bypasses the registry as well
        hits.append(Hit("npm-url-dependency", line, column, evidence, detail=f"{name} → {reference}"))
    return hits


def _same_host(url: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``url``'s host and port are those of one of the ``allowed`` base URLs (any path)."""
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    host = url_host(url)
    for base in allowed:
        try:
            base_port = urlsplit(base).port
        except ValueError:
            continue
        if host and url_host(base) == host and base_port == port:
            return True
    return False


def _registry_setting(key: str, value: str, raw: str, number: int, column: int, ctx: LintContext) -> list[Hit]:
    """``registry=`` / ``@scope:registry=``: plain http, and hosts outside the allowed registries."""
    lowered = value.lower()
    if not lowered.startswith(("http://", "https://")):
        return []  # ${NPM_REGISTRY} and the like: decided at install time, nothing to check here
    hits: list[Hit] = []
    evidence = raw.strip()
    if lowered.startswith("http://"):
        edit = None
        if url_host(value) in _HTTPS_CAPABLE:
            edit = Edit(number, raw.find(value) + 1, "http://", "https://", f"{value}: http → https")
        hits.append(Hit("npm-lock-http", number, column, evidence, detail=f"{key} {value}", edit=edit))
    https_form = "https://" + value[7:] if lowered.startswith("http://") else value
    if not _same_host(https_form, allowed_npm_registries(ctx)):
        host = url_host(value) or value
        hits.append(Hit("npmrc-registry-not-allowed", number, column, evidence, detail=f"{key} → {host}"))
    return hits


# -- .npmrc ---------------------------------------------------------------------------------------------
def lint_npmrc(file: LintFile, ctx: LintContext) -> list[Hit]:
    hits: list[Hit] = []
    settings: dict[str, str] = {}
    for number, raw in enumerate(file.text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith((";", "#")):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip().strip('"').strip("'")
        settings[key.lower()] = value
        column = raw.find(key) + 1
        if _AUTH_KEY.search(key) and value and not re.fullmatch(r"\$(\{[^}]+\}|\w+)", value):
            hits.append(Hit("npmrc-plaintext-token", number, column, f"{key}={mask_secret(value)}", detail=key))
        if key.lower() == "strict-ssl" and value.lower() in ("false", "0"):
            hits.append(Hit("tls-verification-disabled", number, column, stripped, detail="strict-ssl=false"))
        if key.lower() == "registry" or _SCOPED_REGISTRY.match(key):
            hits += _registry_setting(key, value, raw, number, column, ctx)
    for scope in ctx.config.internal.scopes:
        if f"{scope.lower()}:registry" not in settings:
            hits.append(Hit("npmrc-scope-without-registry", 1, 1, file.display, detail=scope))
    if ctx.config.policy.require_ignore_scripts and settings.get("ignore-scripts", "").lower() != "true":
        line = next((n for n, raw in enumerate(file.text.splitlines(), 1) if "ignore-scripts" in raw), 1)
        hits.append(Hit("npmrc-ignore-scripts-missing", line, 1, file.display, detail="ignore-scripts is not true"))
    return hits
