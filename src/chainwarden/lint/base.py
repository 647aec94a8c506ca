"""What every lint module shares: the file being linted, its context, and a hit.

A *hit* is a rule violation as a linter sees it (rule id, line, column,
evidence, maybe a safe mechanical edit). :mod:`chainwarden.lint` turns hits
into :class:`~chainwarden.models.Finding` records once, applying rule
metadata, configuration and inline suppressions, so no linter formats
findings itself.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit

from chainwarden.config import Config
from chainwarden.errors import Error, SourceError
from chainwarden.models import Severity
from chainwarden.sources.interface import MAX_FILE_BODY, FileSystemView


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace ``old`` found at ``line``:``column`` (1-based) with ``new``.

    ``old == ""`` inserts. Edits are applied only when ``old`` is still there.
    """

    line: int
    column: int
    old: str
    new: str
    description: str


@dataclass(frozen=True, slots=True)
class Hit:
    rule_id: str
    line: int | None
    column: int | None
    evidence: str
    detail: str = ""  # appended to the rule title: what exactly
    severity: Severity | None = None  # None: the rule's default
    anchor_lines: tuple[int, ...] = ()  # further lines where an ignore comment applies
    edit: Edit | None = None
    remediation: str | None = None  # None: the rule's generic fix


@dataclass(frozen=True, slots=True)
class LintFile:
    path: str  # absolute inside the view
    display: str  # for Location.path: relative for repositories, absolute in images
    text: str
    kind: str


@dataclass(frozen=True, slots=True)
class LintContext:
    view: FileSystemView
    config: Config
    is_image: bool

    def read_text(self, path: str) -> str | None:
        """Body of an optional neighbour file, or None when absent, unreadable or huge."""
        entry = self.view.entry(path)
        if entry is None or entry.size > MAX_FILE_BODY:
            return None
        try:
            return self.view.read_text(path)
        except SourceError:
            return None

    def exists(self, path: str) -> bool:
        try:
            return self.view.exists(path)
        except SourceError:
            return False

    def sibling(self, path: str, name: str) -> str:
        return posixpath.join(posixpath.dirname(path), name)


def mask_secret(value: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    if len(value) <= 8:
        return "****"
    return value[:4] + "…" + f"({len(value)} chars)"


def url_host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def is_http(url: str) -> bool:
    return url.lower().startswith("http://")


def url_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``url`` lies under one of the ``allowed`` base URLs (scheme, host, path prefix)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    for base in allowed:
        try:
            base_parts = urlsplit(base)
        except ValueError:
            continue
        if (parts.hostname or "").lower() != (base_parts.hostname or "").lower():
            continue
        if base_parts.port != parts.port:
            continue
        prefix = base_parts.path.rstrip("/")
        if parts.path == prefix or parts.path.startswith(prefix + "/") or not prefix:
            return True
    return False


def line_of(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def find_line(text: str, needle: str, start_line: int = 1) -> tuple[int, int] | None:
    """First (line, column) of ``needle`` at or after ``start_line``."""
    offset = 0
    for _ in range(start_line - 1):
        newline = text.find("\n", offset)
        if newline < 0:
            return None
        offset = newline + 1
    found = text.find(needle, offset)
    return None if found < 0 else line_of(text, found)


class LintInputError(Error):
    """One file cannot be parsed at all; it becomes a ``Skipped`` record, the others are still linted."""
