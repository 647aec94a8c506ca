"""Input bounds for manifests and lockfiles: file sizes, line lengths, package names.

Every format chainwarden reads declares packages in files an attacker may
write. These limits (like the Dockerfile's) keep a hostile file from turning
into a 5 MB "package name" or an 80,000-line table: a name that breaks its
ecosystem's rules (PEP 508, npm's) or a line over the limit is not a package;
callers turn it into a skipped record with the reason these functions give.
"""

from __future__ import annotations

import re

#: Largest hand-written manifest (requirements*.txt, Pipfile, pyproject.toml,
#: package.json, .npmrc, pip.conf, APT sources): the biggest real ones, hashes
#: included, are a few hundred KB. (Generated lockfiles may reach tens of MB.)
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
#: Longest physical line of a line-oriented format (requirements, yarn.lock,
#: .npmrc, APT lists). A requirement with fifty ``--hash`` options is ~5 KB; a
#: minified JSON lockfile is one line, so JSON formats are bounded by file size
#: and name checks instead.
MAX_LINE_CHARS = 64 * 1024
#: Longest package name: npm's rule, and far above any real PyPI project name.
MAX_NAME_CHARS = 214


def first_overlong_line(text: str, limit: int = MAX_LINE_CHARS) -> tuple[int, int] | None:
    """(1-based line number, length) of the first line longer than ``limit``, or None."""
    if len(text) <= limit:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > limit:
            return number, len(line)
    return None


#: PEP 508 / the core metadata spec: ASCII letters and digits, with ``.``, ``_``
#: and ``-`` inside (https://packaging.python.org/en/latest/specifications/name-normalization/).
_PEP508_NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]")

#: validate-npm-package-name's rules for existing packages: URL-safe characters
#: (what encodeURIComponent keeps), no leading dot or underscore, a scope as
#: ``@scope/``. Upper case is allowed: old packages (JSONStream) have it.
_NPM_PART = r"[A-Za-z0-9\-~!*'()][A-Za-z0-9\-_.~!*'()]*"
_NPM_NAME = re.compile(rf"(?:@{_NPM_PART}/)?{_NPM_PART}")


def clip(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters for a record or a message, saying how long it was."""
    return text if len(text) <= limit else f"{text[: limit - 30]}… ({len(text)} characters)"


def shown(raw: str) -> str:
    """``raw`` quoted for a message, shortened when long."""
    return repr(raw) if len(raw) <= 80 else f"{raw[:60]!r}… ({len(raw)} characters)"


def pypi_name_problem(raw: str) -> str | None:
    """Why ``raw`` is no valid Python project name, or None when it is one."""
    if len(raw) > MAX_NAME_CHARS:
        return f"invalid Python package name {shown(raw)}: over {MAX_NAME_CHARS} characters"
    if not _PEP508_NAME.fullmatch(raw):
        return f"invalid Python package name {shown(raw)}"
    return None


def npm_name_problem(name: str) -> str | None:
    """Why ``name`` is no valid npm package name, or None when it is one."""
    if len(name) > MAX_NAME_CHARS:
        return f"invalid npm package name {shown(name)}: over {MAX_NAME_CHARS} characters"
    if not _NPM_NAME.fullmatch(name):
        return f"invalid npm package name {shown(name)}"
    return None


#: Debian Policy 5.6.1: lower case letters, digits, ``+ - .``; at least two
#: characters, starting with a letter or digit.
_DEBIAN_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def debian_name_problem(name: str) -> str | None:
    """Why ``name`` is no valid Debian package name (Policy 5.6.1), or None when it is one."""
    if len(name) > MAX_NAME_CHARS:
        return f"invalid Debian package name {shown(name)}: over {MAX_NAME_CHARS} characters"
    if not _DEBIAN_NAME.fullmatch(name):
        return f"invalid Debian package name {shown(name)}"
    return None


#: what no package name holds, whatever its format: a "/" (in a purl it separates
#: the namespace from the name, so the purl would name another package), white
#: space or a control character
_UNSAFE_NAME = re.compile(r"[/\s\x00-\x1f\x7f]")


def package_name_problem(name: str, kind: str) -> str | None:
    """Why ``name`` is no ``kind`` package name ("apk", "rpm", "Rust crate"), for
    formats whose naming rules chainwarden does not check one by one: over the
    length limit, or holding what :data:`_UNSAFE_NAME` refuses. None when it is one."""
    if len(name) > MAX_NAME_CHARS:
        return f"invalid {kind} package name {shown(name)}: over {MAX_NAME_CHARS} characters"
    if _UNSAFE_NAME.search(name):
        return f"invalid {kind} package name {shown(name)}"
    return None


def go_module_path_problem(path: str) -> str | None:
    """Why ``path`` is no Go module path, or None: over the length limit, an
    empty element (a leading, trailing or doubled ``/``), or white space or a
    control character in one (Go's own rules, module.CheckPath, are stricter)."""
    if len(path) > MAX_LINE_CHARS:
        return f"invalid Go module path {shown(path)}: over {MAX_LINE_CHARS} characters"
    if not all(element and not _UNSAFE_NAME.search(element) for element in path.split("/")):
        return f"invalid Go module path {shown(path)}"
    return None


def is_npm_name(name: str) -> bool:
    return npm_name_problem(name) is None
