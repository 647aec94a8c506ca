"""requirements*.txt / constraints*.txt and pip.conf / pip.ini.

pip's own line format: ``\\`` continuations, `` #`` comments, global options
(``--index-url``, ``--extra-index-url``, ``--trusted-host``,
``--find-links``, ``--require-hashes``) and per-requirement ``--hash``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement

from chainwarden.lint.base import Edit, Hit, LintContext, LintFile, is_http, url_allowed, url_host

_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
_COMMIT = re.compile(r"@[0-9a-f]{40}(#|$)")
_URL_HASH = re.compile(r"#(sha256|sha384|sha512)=[0-9a-f]+", re.IGNORECASE)
#: Official hosts that serve the same content over https (``--fix``).
HTTPS_CAPABLE = frozenset({"pypi.org", "files.pythonhosted.org", "pypi.python.org"})
_SHORT_VALUE_OPTIONS = ("-r", "-c", "-i", "-f", "-e")
_FLAGS_WITHOUT_VALUE = frozenset({"--require-hashes", "--pre", "--no-index", "--prefer-binary"})


@dataclass(slots=True)
class RequirementLine:
    line: int  # first physical line
    text: str  # logical line, continuations joined, comment removed
    raw_first: str  # first physical line as written
    options: list[tuple[str, str]] = field(default_factory=list)  # (option, value)
    hashes: list[str] = field(default_factory=list)
    spec: str = ""  # the requirement itself ("" for option-only lines)


def parse_requirements(text: str) -> list[RequirementLine]:
    lines = text.splitlines()
    result: list[RequirementLine] = []
    index = 0
    while index < len(lines):
        start = index
        logical = lines[index]
        while logical.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            logical = logical.rstrip()[:-1] + " " + lines[index]
        index += 1
        content = re.split(r"(^|\s)#", logical, maxsplit=1)[0].strip()
        if not content:
            continue
        entry = RequirementLine(start + 1, content, lines[start])
        words = content.split()
        position = 0
        spec_words: list[str] = []
        while position < len(words):
            word = words[position]
            if word.startswith("-"):
                option, sep, value = word.partition("=")
                takes_value = (option in _SHORT_VALUE_OPTIONS and len(word) == 2) or (
                    option.startswith("--") and option not in _FLAGS_WITHOUT_VALUE and position + 1 < len(words)
                )
                if not sep and takes_value:
                    value = words[position + 1] if position + 1 < len(words) else ""
                    position += 1
                elif not sep and len(option) > 2 and option[:2] in _SHORT_VALUE_OPTIONS:
                    option, value = option[:2], option[2:]
                if option == "--hash":
                    entry.hashes.append(value)
                elif option in ("-e", "--editable"):
                    entry.spec = value
                    entry.options.append((option, value))
                else:
                    entry.options.append((option, value))
            else:
                spec_words.append(word)
            position += 1
        if spec_words:
            entry.spec = " ".join(spec_words)
        result.append(entry)
    return result


def _is_url(spec: str) -> bool:
    return "://" in spec or bool(_VCS.match(spec)) or " @ " in spec or spec.startswith("@")


def lint_requirements(file: LintFile, ctx: LintContext) -> list[Hit]:
    hits: list[Hit] = []
    entries = parse_requirements(file.text)
    requirements = [e for e in entries if e.spec and not e.spec.startswith((".", "/"))]
    any_hashed = any(e.hashes for e in requirements)
    for entry in entries:
        hits.extend(index_option_hits(entry.options, entry.line, entry.raw_first, ctx))
    for entry in requirements:
        spec = entry.spec
        column = max(entry.raw_first.find(spec.split()[0]) + 1, 1)
        if _is_url(spec):
            target = spec.split(" @ ", 1)[-1].strip()
            if _VCS.match(target) or _VCS.match(spec):
                if not _COMMIT.search(target):
                    hits.append(
                        Hit(
                            "requirements-url-without-hash",
                            entry.line,
                            column,
                            entry.raw_first.strip(),
                            detail=f"{target} (VCS reference not pinned to a commit)",
                        )
                    )
            elif not entry.hashes and not _URL_HASH.search(target):
                hits.append(
                    Hit("requirements-url-without-hash", entry.line, column, entry.raw_first.strip(), detail=target)
                )
            if is_http(target):
                hits.append(Hit("pip-insecure-index", entry.line, column, entry.raw_first.strip(), detail=target))
            continue
        try:
            requirement = Requirement(spec)
        except InvalidRequirement:
            continue
        specifiers = list(requirement.specifier)
        exact = len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version
        if not exact:
            what = str(requirement.specifier) or "any version"
            hits.append(
                Hit(
                    "requirements-unpinned",
                    entry.line,
                    column,
                    entry.raw_first.strip(),
                    detail=f"{requirement.name} {what}",
                )
            )
        if any_hashed and not entry.hashes:
            hits.append(
                Hit("requirements-mixed-hashes", entry.line, column, entry.raw_first.strip(), detail=requirement.name)
            )
    return hits


def index_option_hits(options: list[tuple[str, str]], line: int, raw: str, ctx: LintContext) -> list[Hit]:
    """Findings about index options, shared by requirements files and pip.conf."""
    hits: list[Hit] = []
    allowed = ctx.config.registries.pypi + tuple(filter(None, [ctx.config.internal.pypi_index]))
    for option, value in options:
        column = max(raw.find(option) + 1, 1) if option in raw else 1
        evidence = raw.strip()
        edit = None
        if is_http(value) and url_host(value) in HTTPS_CAPABLE:
            at = raw.find(value)
            if at >= 0:
                edit = Edit(line, at + 1, "http://", "https://", f"{value}: http → https")
        if option in ("--extra-index-url", "extra-index-url"):
            hits.append(Hit("pip-extra-index-url", line, column, evidence, detail=value))
            if is_http(value):
                hits.append(Hit("pip-insecure-index", line, column, evidence, detail=value, edit=edit))
        elif option in ("-i", "--index-url", "index-url", "index"):
            if is_http(value):
                hits.append(Hit("pip-insecure-index", line, column, evidence, detail=value, edit=edit))
            if value.startswith(("http://", "https://")) and not url_allowed(value, allowed):
                hits.append(Hit("pip-index-not-allowed", line, column, evidence, detail=value))
        elif option in ("-f", "--find-links", "find-links") and is_http(value):
            hits.append(Hit("pip-insecure-index", line, column, evidence, detail=value, edit=edit))
        elif option in ("--trusted-host", "trusted-host"):
            hits.append(Hit("pip-trusted-host", line, column, evidence, detail=value))
    return hits


def require_hashes_edit(text: str) -> Edit | None:
    """Insert ``--require-hashes`` when every requirement is hashed and the option is absent."""
    entries = parse_requirements(text)
    requirements = [e for e in entries if e.spec]
    if not requirements or not all(e.hashes for e in requirements):
        return None
    if any(option == "--require-hashes" for e in entries for option, _ in e.options):
        return None
    return Edit(1, 1, "", "--require-hashes\n", "added --require-hashes (every requirement is hashed)")


def lint_pip_conf(file: LintFile, ctx: LintContext) -> list[Hit]:
    """pip.conf / pip.ini: INI with multi-line values (extra-index-url, trusted-host)."""
    hits: list[Hit] = []
    key: str | None = None
    for number, raw in enumerate(file.text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("["):
            key = None
            continue
        if raw[0] in " \t" and key is not None:
            values = [stripped]
        else:
            name, sep, value = stripped.partition("=")
            if not sep:
                name, sep, value = stripped.partition(":")
            if not sep:
                continue
            key = name.strip().lower()
            values = value.split()
        for value in values:
            hits.extend(index_option_hits([(key, value)], number, raw, ctx))
    return hits
