"""Build-hygiene lint: Dockerfiles, Python and npm manifests, lockfiles, registry and APT configuration.

>>> from chainwarden.config import load_config
>>> from chainwarden.lint import lint_path
>>> result = lint_path(Path("."), load_config())
>>> for finding in result.findings: print(finding.location, finding.rule_id)

Repositories (a directory or a single file) go through :func:`lint_path`;
images and root filesystems through :func:`lint_view`, which audits the
system configuration an image carries (``/etc/apt``, ``pip.conf``,
``.npmrc``). Both apply the rule registry (:mod:`chainwarden.lint.rules`),
the configuration (disabled rules, severity overrides) and inline
``# chainwarden: ignore[rule-id] reason`` comments.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from chainwarden.config import Config, is_excluded
from chainwarden.errors import SourceError, UsageError
from chainwarden.inventory.bounds import MAX_LINE_CHARS, MAX_MANIFEST_BYTES, first_overlong_line
from chainwarden.lint import apt, dockerfile, npm, pyproject, requirements, rpm_repos
from chainwarden.lint.base import Hit, LintContext, LintFile, LintInputError
from chainwarden.lint.rules import RULES, Rule, rule_infos
from chainwarden.lint.suppress import parse_suppressions, suppression_for
from chainwarden.models import Digest, Finding, Location, RuleId, Skipped
from chainwarden.sources.interface import MAX_FILE_BODY, EntryType, FileSystemView

__all__ = [
    "RULES",
    "LintResult",
    "Rule",
    "SuppressedFinding",
    "classify",
    "image_wants",
    "lint_path",
    "lint_view",
    "rule_infos",
]

Linter = Callable[[LintFile, LintContext], list[Hit]]

LINTERS: dict[str, Linter] = {
    "dockerfile": dockerfile.lint_dockerfile,
    "requirements": requirements.lint_requirements,
    "pip-conf": requirements.lint_pip_conf,
    "pyproject": pyproject.lint_pyproject,
    "uv-toml": pyproject.lint_uv_toml,
    "package-json": npm.lint_package_json,
    "package-lock": npm.lint_package_lock,
    "yarn-lock": npm.lint_yarn_lock,
    "pnpm-lock": npm.lint_pnpm_lock,
    "npmrc": npm.lint_npmrc,
    "apt-list": apt.lint_apt_list,
    "apt-sources": apt.lint_apt_sources,
    "apt-key": apt.lint_trusted_key,
    "apt-conf": apt.lint_apt_conf,
    "yum-repo": rpm_repos.lint_yum_repo,
    "dnf-conf": rpm_repos.lint_dnf_conf,
    "apk-repositories": rpm_repos.lint_apk_repositories,
}

#: Directories holding installed or generated copies, never the project's own declarations.
SKIP_DIRS = frozenset(
    {"node_modules", ".venv", "venv", "site-packages", "dist-packages", ".tox", ".nox", ".git", "__pycache__"}
)
_REQUIREMENTS = re.compile(r"^(.*[-_.])?(requirements|constraints)([-_.].*)?\.txt$", re.IGNORECASE)
_DOCKERFILE = re.compile(r"^(Dockerfile|Containerfile)([-.].+)?$|.+\.(dockerfile|containerfile)$", re.IGNORECASE)
#: ``Dockerfile.prod`` is a Dockerfile; ``dockerfile.py`` or ``Dockerfile.md`` is not.
_NOT_DOCKERFILE_SUFFIX = re.compile(
    r"\.(py|pyc|pyi|md|rst|txt|json|ya?ml|toml|ini|cfg|sh|bash|ps1|go|rs|js|mjs|cjs|ts|rb|java|kt|c|h|cc|cpp|html"
    r"|orig|rej|swp|bak|patch|diff|lock|log)$",
    re.IGNORECASE,
)
#: Paths of an image whose bodies lint needs (``image_wants``).
_IMAGE_PATTERNS = (
    "/etc/apt/sources.list",
    "/etc/apt/sources.list.d/*",
    "/etc/apt/apt.conf",
    "/etc/apt/apt.conf.d/*",
    "/etc/pip.conf",
    "/etc/xdg/pip/pip.conf",
    "/root/.pip/pip.conf",
    "/root/.config/pip/pip.conf",
    "/home/*/.pip/pip.conf",
    "/home/*/.config/pip/pip.conf",
    "/etc/npmrc",
    "/usr/local/etc/npmrc",
    "/root/.npmrc",
    "/home/*/.npmrc",
    "/etc/uv/uv.toml",
    "/root/.config/uv/uv.toml",
    "/etc/yum.repos.d/*.repo",
    "/etc/zypp/repos.d/*.repo",
    "/etc/distro.repos.d/*.repo",
    "/etc/dnf/dnf.conf",
    "/etc/yum.conf",
    "/etc/apk/repositories",
)


def classify(path: str, *, is_image: bool = False) -> str | None:
    """The kind of lintable file at ``path`` (absolute), or None."""
    name = posixpath.basename(path)
    parent = posixpath.basename(posixpath.dirname(path))
    if (
        is_image
        and not any(fnmatch.fnmatchcase(path, pattern) for pattern in _IMAGE_PATTERNS)
        and not path.startswith(("/etc/apt/trusted.gpg.d/", "/etc/apt/trusted.gpg"))
    ):
        return None
    if parent == "trusted.gpg.d" or (name == "trusted.gpg" and parent == "apt"):
        return "apt-key"
    if parent == "apt.conf.d" or (name == "apt.conf" and parent == "apt"):
        return "apt-conf"
    if name == "sources.list" or (parent == "sources.list.d" and name.endswith(".list")):
        return "apt-list"
    if parent == "sources.list.d" and name.endswith(".sources"):
        return "apt-sources"
    if (rpm_kind := rpm_repos.classify(path)) is not None:
        return rpm_kind
    if is_image:
        if name in ("pip.conf", "pip.ini"):
            return "pip-conf"
        if name in (".npmrc", "npmrc"):
            return "npmrc"
        if name == "uv.toml":
            return "uv-toml"
        return None
    if _DOCKERFILE.match(name) and not _NOT_DOCKERFILE_SUFFIX.search(name):
        return "dockerfile"
    if _REQUIREMENTS.match(name) or (parent in ("requirements", "constraints") and name.endswith(".txt")):
        return "requirements"
    simple = {
        "pip.conf": "pip-conf",
        "pip.ini": "pip-conf",
        "pyproject.toml": "pyproject",
        "uv.toml": "uv-toml",
        "package.json": "package-json",
        "package-lock.json": "package-lock",
        "npm-shrinkwrap.json": "package-lock",
        "yarn.lock": "yarn-lock",
        "pnpm-lock.yaml": "pnpm-lock",
        ".npmrc": "npmrc",
    }
    return simple.get(name)


def image_wants(path: str) -> bool:
    """The ``wanted`` predicate for :meth:`Source.view` when linting an image."""
    return classify(path, is_image=True) is not None


@dataclass(frozen=True, slots=True)
class SuppressedFinding:
    finding: Finding
    reason: str
    comment_line: int


@dataclass(frozen=True, slots=True)
class LintResult:
    """Findings (config and suppressions applied), what was linted, and what could not be."""

    findings: tuple[Finding, ...]
    files: tuple[str, ...]
    suppressed: tuple[SuppressedFinding, ...] = ()
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True, slots=True)
class LintedHit:
    """A hit that survived config and suppressions, with its file (used by ``--fix``)."""

    file: LintFile
    hit: Hit
    finding: Finding


def _finding(file: LintFile, hit: Hit, rule: Rule, config: Config, layer: Digest | None = None) -> Finding | None:
    severity = config.rules.apply(rule.id, hit.severity or rule.severity)
    if severity is None:
        return None
    title = f"{rule.title}: {hit.detail}" if hit.detail else rule.title
    return Finding(
        rule_id=RuleId(rule.id),
        severity=severity,
        title=title,
        location=Location(file.display, layer=layer, line=hit.line, column=hit.column),
        evidence=(hit.evidence,) if hit.evidence else (),
        remediation=hit.remediation or rule.fix,
        description=rule.rationale,
    )


def lint_files(
    view: FileSystemView,
    files: Iterable[tuple[str, str, str]],
    config: Config,
    *,
    is_image: bool,
) -> tuple[LintResult, list[LintedHit]]:
    """Lint ``(path in view, display path, kind)`` triples. The engine under both public entry points."""
    context = LintContext(view, config, is_image)
    findings: list[Finding] = []
    linted: list[LintedHit] = []
    suppressed: list[SuppressedFinding] = []
    skipped: list[Skipped] = []
    shown: list[str] = []
    seen: set[tuple[str, str, int | None, int | None, str]] = set()
    for path, display, kind in files:
        try:
            entry = view.entry(view.resolve(path))
            if entry is not None and entry.size > MAX_FILE_BODY:
                raise LintInputError(f"{display}: {entry.size} bytes, over the {MAX_FILE_BODY} byte limit")
            text = "" if kind == "apt-key" else _text(view.read(path), display)
            check_bounds(kind, display, text)
            file = LintFile(path, display, text, kind)
            hits = LINTERS[kind](file, context)
        except (LintInputError, SourceError) as exc:
            skipped.append(Skipped(display, Location(display), str(exc)))
            continue
        except RecursionError:
            skipped.append(Skipped(display, Location(display), "nesting too deep to analyse"))
            continue
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            # Last line of defence, as for the lockfile catalogers: a shape no check
            # anticipated (a YAML date like 2024-02-30) costs this file, not the run.
            reason = f"unexpected structure ({type(exc).__name__}: {exc})"
            skipped.append(Skipped(display, Location(display), reason))
            continue
        shown.append(display)
        comments = parse_suppressions(text)
        for hit in hits:
            key = (hit.rule_id, display, hit.line, hit.column, hit.detail)
            if key in seen:
                continue
            seen.add(key)
            finding = _finding(file, hit, RULES[hit.rule_id], config, entry.layer if entry is not None else None)
            if finding is None:
                continue
            suppression = suppression_for(comments, hit.rule_id, hit.line, hit.anchor_lines)
            if suppression is not None:
                suppressed.append(SuppressedFinding(finding, suppression.reason, suppression.line))
                continue
            findings.append(finding)
            linted.append(LintedHit(file, hit, finding))
    result = LintResult(tuple(findings), tuple(shown), tuple(suppressed), tuple(skipped))
    return result, linted


def _text(body: bytes, display: str) -> str:
    """The text of a file to lint; a binary file is refused, not linted as mojibake."""
    # git and `file` call content with a NUL byte binary; a stray NUL in a
    # text file is linted anyway when the rest is text (valid UTF-8, few controls).
    head = body[:8192]
    if b"\x00" in head:
        controls = sum(1 for byte in head if byte < 0x20 and byte not in (0x09, 0x0A, 0x0C, 0x0D))
        try:
            head.decode("utf-8")
            undecodable = False
        except UnicodeDecodeError as exc:
            undecodable = exc.start < len(head) - 4  # not just a character cut at the 8 KiB boundary
        if undecodable or controls * 10 > len(head) * 3:
            raise LintInputError(f"{display}: a binary file, not text")
    return body.decode("utf-8", errors="replace")


#: Hand-written formats: a manifest's size bound, and a line bound for the line-oriented ones
#: (lockfiles may be large; JSON ones may be one minified line; Dockerfiles have their own bound).
_MANIFEST_KINDS = frozenset(
    {"requirements", "pip-conf", "pyproject", "uv-toml", "package-json", "npmrc", "apt-list", "apt-sources", "apt-conf"}
)
_LINE_KINDS = frozenset({"requirements", "pip-conf", "npmrc", "yarn-lock", "apt-list", "apt-sources", "apt-conf"})


def check_bounds(kind: str, display: str, text: str) -> None:
    """Raise LintInputError (the file is skipped, with this reason) for an oversized manifest or line."""
    if kind in _MANIFEST_KINDS and len(text) > MAX_MANIFEST_BYTES:
        raise LintInputError(f"{display}: {len(text)} characters, over the {MAX_MANIFEST_BYTES} limit of a manifest")
    overlong = first_overlong_line(text) if kind in _LINE_KINDS else None
    if overlong is not None:
        number, length = overlong
        raise LintInputError(f"{display}:{number}: line of {length} characters, over the {MAX_LINE_CHARS} limit")


def _repository_files(
    root: Path, config: Config, unreadable: list[Skipped] | None = None
) -> list[tuple[str, str, str]]:
    """Lintable files below ``root``; installed copies (node_modules, virtualenvs) and the
    config's ``exclude`` patterns are pruned, not walked. Directories that cannot be
    listed are added to ``unreadable``: a walk never leaves a gap unsaid."""
    files: list[tuple[str, str, str]] = []

    def gap(exc: OSError) -> None:
        if unreadable is not None:
            where = os.path.relpath(exc.filename, root).replace(os.sep, "/") if exc.filename else "."
            reason = f"cannot list ({exc.strerror or exc}): nothing below it was linted"
            unreadable.append(Skipped("directory", Location(where), reason))

    for directory, subdirectories, names in os.walk(root, onerror=gap):
        relative = os.path.relpath(directory, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        subdirectories[:] = sorted(
            d for d in subdirectories if d not in SKIP_DIRS and not is_excluded(config, f"{prefix}{d}/")
        )
        for name in names:
            display = prefix + name
            if is_excluded(config, display):
                continue
            kind = classify("/" + display)
            host = os.path.join(directory, name)
            if kind is None or not os.path.isfile(host):
                continue
            inner = "/" + display
            if os.path.islink(host):
                # A repository's symlink means what it means on the host (an absolute link
                # into the checkout is common); one that leaves the checkout is not followed.
                real = os.path.realpath(host)
                if os.path.commonpath([real, str(root)]) != str(root):
                    if unreadable is not None:
                        reason = f"a symlink to {real}, outside the linted directory: not followed"
                        unreadable.append(Skipped(display, Location(display), reason))
                    continue
                inner = "/" + os.path.relpath(real, root).replace(os.sep, "/")
            files.append((inner, display, kind))
    # one file, one report: a link to a file linted under its own name adds nothing
    by_target: dict[str, tuple[str, str, str]] = {}
    for item in sorted(files, key=lambda f: (f[0] != "/" + f[1], f[1])):
        by_target.setdefault(item[0], item)
    return sorted(by_target.values())


def collect_path(path: Path, config: Config) -> tuple[LintResult, list[LintedHit], Path]:
    """:func:`lint_path` plus the hits with edits and the root the display paths are relative to."""
    from chainwarden.sources.rootfs import DirectoryView

    unreadable: list[Skipped] = []
    if path.is_dir():
        root = path.resolve()
        view = DirectoryView(root)
        files = _repository_files(root, config, unreadable)
    elif path.is_file():
        # A symlink (Dockerfile -> docker/Dockerfile.prod) is linted as the file
        # it points at, under the name the user gave.
        real = path.resolve()
        root = real.parent
        view = DirectoryView(root)
        inner = "/" + real.name
        kind = classify("/" + path.name) or classify(inner)
        if kind is None:
            try:
                with real.open("rb") as handle:
                    head = handle.read(65536).decode("utf-8", errors="replace")
            except OSError as exc:
                raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
            if re.search(r"(?im)^\s*FROM\s+\S", head):
                kind = "dockerfile"
            else:
                raise UsageError(f"{path}: not a file chainwarden lints (Dockerfile, requirements, lockfile, …)")
        files = [(inner, path.name, kind)]
    else:
        raise UsageError(f"{path}: no such file or directory")
    result, linted = lint_files(view, files, config, is_image=False)
    if unreadable:
        result = dataclasses.replace(result, skipped=(*result.skipped, *unreadable))
    return result, linted, root


def lint_path(path: Path, config: Config) -> LintResult:
    """Lint a repository checkout (every lintable file below ``path``) or one file.

    Location paths are relative to ``path`` (to its directory for a file).
    """
    return collect_path(path, config)[0]


def lint_view(view: FileSystemView, config: Config) -> LintResult:
    """Lint the system configuration of an image or root filesystem (``/etc/apt``, pip.conf, npmrc).

    The view must have been opened with :func:`image_wants` as its wanted predicate.
    """
    files = []
    for entry in view.entries():
        if entry.type in (EntryType.FILE, EntryType.SYMLINK):
            kind = classify(entry.path, is_image=True)
            if kind is not None:
                files.append((entry.path, entry.path, kind))
    return lint_files(view, sorted(files), config, is_image=True)[0]
