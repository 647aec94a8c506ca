"""``chainwarden lint --fix``: rewrite what is mechanically safe, and say what changed.

Only edits that cannot change what gets installed are made:

- ``npm install`` → ``npm ci`` in a Dockerfile stage that copied a lockfile;
- ``yarn install`` → ``yarn install --frozen-lockfile``;
- ``--require-hashes`` added to a requirements file whose every requirement is hashed
  (pip already enforces the hashes; the option makes removing one fail loudly);
- ``http://`` → ``https://`` for official hosts that serve the same content over TLS
  (deb.debian.org, pypi.org, files.pythonhosted.org, registry.npmjs.org, registry.yarnpkg.com).

- ``FROM`` images (and ``ARG`` defaults feeding ``FROM`` alone) pinned to their current digest by
  :mod:`chainwarden.policy.pin`, when given pin options (the registry is asked; ``--offline`` skips it).

Outside the edited spans a file stays byte for byte what it was: line endings
(CRLF files get CRLF in inserted lines), a UTF-8 byte-order mark, the final
newline or its absence, the permission bits; a symlinked file is written
through to its target. A file that is not valid UTF-8 is not touched and is
reported as skipped; the other files are still fixed.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainwarden._internal.files import write_atomically
from chainwarden.config import Config
from chainwarden.lint import LintResult, classify, collect_path
from chainwarden.lint.base import Edit
from chainwarden.lint.requirements import require_hashes_edit
from chainwarden.models import Location, Skipped

if TYPE_CHECKING:
    from chainwarden.policy.pin import PinOptions


@dataclass(frozen=True, slots=True)
class FixChange:
    path: str  # as in finding locations
    line: int
    description: str
    rule_id: str | None  # the finding it resolves, if any


@dataclass(frozen=True, slots=True)
class FixResult:
    changes: tuple[FixChange, ...]
    result: LintResult  # lint result after the changes (its ``skipped`` includes ``skipped`` below)
    skipped: tuple[Skipped, ...] = ()  # files --fix could not rewrite (not UTF-8, unreadable, unwritable)
    not_pinned: tuple[str, ...] = ()  # "Dockerfile:3: base:1: <why>" for bases pin could not resolve


def _newline_of(text: str) -> str:
    """The file's line ending: CRLF when most lines end so, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf >= text.count("\n") - crlf else "\n"


def apply_edits(text: str, edits: list[Edit]) -> tuple[str, list[Edit]]:
    """Apply edits whose ``old`` text is still in place; returns the new text and the applied edits."""
    lines = text.splitlines(keepends=True)
    newline = _newline_of(text)
    if newline != "\n":
        # inserted lines take the file's own line ending, not a mixed one
        edits = [
            dataclasses.replace(e, new=e.new.replace("\r\n", "\n").replace("\n", newline)) if "\n" in e.new else e
            for e in edits
        ]
    applied: list[Edit] = []
    seen: set[tuple[int, int]] = set()
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        if (edit.line, edit.column) in seen:
            continue
        seen.add((edit.line, edit.column))
        if edit.old == "" and edit.line == 1 and edit.column == 1:
            lines.insert(0, edit.new)
            applied.append(edit)
            continue
        if not 1 <= edit.line <= len(lines):
            continue
        line = lines[edit.line - 1]
        start = edit.column - 1
        if line[start : start + len(edit.old)] != edit.old:
            continue
        lines[edit.line - 1] = line[:start] + edit.new + line[start + len(edit.old) :]
        applied.append(edit)
    return "".join(lines), sorted(applied, key=lambda e: (e.line, e.column))


def _read_exact(host: Path) -> str:
    """The file's text, decoded so that encoding it again gives the same bytes (UTF-8, BOM and CR kept)."""
    return host.read_bytes().decode("utf-8")


def fix_path(path: Path, config: Config, *, pin: PinOptions | None = None) -> FixResult:
    """Apply every safe fix under ``path`` (a repository or one file), then lint again.

    A file that cannot be read as UTF-8 or written back is left as it is and
    listed in :attr:`FixResult.skipped`; the other files are still fixed. With ``pin``,
    Dockerfiles with ``dockerfile-unpinned-base`` findings get their bases pinned.
    """
    result, linted, root = collect_path(path, config)
    per_file: dict[str, list[tuple[Edit, str | None]]] = {}
    for item in linted:
        if item.hit.edit is not None:
            per_file.setdefault(item.file.display, []).append((item.hit.edit, item.hit.rule_id))
    skipped: dict[str, Skipped] = {}

    def skip(display: str, reason: str) -> None:
        skipped.setdefault(display, Skipped(display, Location(display), f"not fixed: {reason}"))

    def read(display: str) -> str | None:
        """The file's exact text, or None (and a skip reason) when it cannot be fixed safely."""
        try:
            return _read_exact(root / display)
        except UnicodeDecodeError as exc:
            skip(display, f"not valid UTF-8 (byte {exc.start}); left as it is")
        except OSError as exc:
            skip(display, f"cannot read ({exc.strerror})")
        return None

    for display in result.files:
        if classify("/" + display) == "requirements":
            text = read(display)
            if text is None:
                continue
            edit = require_hashes_edit(text)
            if edit is not None:
                per_file.setdefault(display, []).append((edit, None))
    changes: list[FixChange] = []
    for display, edits in sorted(per_file.items()):
        if display in skipped:
            continue
        original = read(display)
        if original is None:
            continue
        rule_of = {(e.line, e.column): rule_id for e, rule_id in edits}
        updated, applied = apply_edits(original, [e for e, _ in edits])
        if not applied:
            continue
        try:
            write_atomically(root / display, updated.encode("utf-8"))
        except OSError as exc:
            skip(display, f"cannot write ({exc.strerror})")
            continue
        changes += [FixChange(display, e.line, e.description, rule_of.get((e.line, e.column))) for e in applied]
    not_pinned: list[str] = []
    if pin is not None:
        unpinned = sorted({item.file.display for item in linted if item.hit.rule_id == "dockerfile-unpinned-base"})
        if unpinned:
            from chainwarden.policy.pin import Status, pin_paths

            report = pin_paths(
                [root / display for display in unpinned],
                pin,
                select=lambda o: o.context == "FROM" or o.context.startswith("ARG "),
            )
            for pinned in report.results:
                where = pinned.occurrence
                shown = Path(os.path.relpath(where.path, root)).as_posix()
                if pinned.status is Status.PINNED:
                    description = f"{where.text} pinned to {pinned.digest}"
                    changes.append(FixChange(shown, where.line, description, "dockerfile-unpinned-base"))
                elif pinned.status in (Status.ERROR, Status.SKIPPED):
                    not_pinned.append(f"{shown}:{where.line}: {where.text}: {pinned.note}")
    after = collect_path(path, config)[0] if changes else result
    fix_skipped = tuple(skipped.values())
    if fix_skipped:
        after = dataclasses.replace(after, skipped=after.skipped + fix_skipped)
    return FixResult(tuple(changes), after, fix_skipped, tuple(not_pinned))
