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
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chainwarden.config import Config
from chainwarden.errors import UsageError
from chainwarden.lint import LintResult, classify, collect_path
from chainwarden.lint.base import Edit
from chainwarden.lint.requirements import require_hashes_edit

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
    result: LintResult  # lint result after the changes
    not_pinned: tuple[str, ...] = ()  # "Dockerfile:3: base:1: <why>" for bases pin could not resolve


def apply_edits(text: str, edits: list[Edit]) -> tuple[str, list[Edit]]:
    """Apply edits whose ``old`` text is still in place; returns the new text and the applied edits."""
    lines = text.splitlines(keepends=True)
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


def _write_atomically(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fix_path(path: Path, config: Config, *, pin: PinOptions | None = None) -> FixResult:
    """Apply every safe fix under ``path`` (a repository or one file), then lint again.

    With ``pin``, Dockerfiles with ``dockerfile-unpinned-base`` findings get their bases pinned.
    """
    result, linted, root = collect_path(path, config)
    per_file: dict[str, list[tuple[Edit, str | None]]] = {}
    for item in linted:
        if item.hit.edit is not None:
            per_file.setdefault(item.file.display, []).append((item.hit.edit, item.hit.rule_id))
    for display in result.files:
        if classify("/" + display) == "requirements":
            host = root / display
            try:
                text = host.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            edit = require_hashes_edit(text)
            if edit is not None:
                per_file.setdefault(display, []).append((edit, None))
    changes: list[FixChange] = []
    for display, edits in sorted(per_file.items()):
        host = root / display
        try:
            original = host.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{host}: cannot read for --fix ({exc})") from exc
        rule_of = {(e.line, e.column): rule_id for e, rule_id in edits}
        updated, applied = apply_edits(original, [e for e, _ in edits])
        if not applied:
            continue
        try:
            _write_atomically(host, updated)
        except OSError as exc:
            raise UsageError(f"{host}: cannot write the fix ({exc.strerror})") from exc
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
    return FixResult(tuple(changes), after, tuple(not_pinned))
