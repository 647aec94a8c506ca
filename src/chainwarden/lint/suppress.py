"""Inline suppressions: ``# chainwarden: ignore[rule-id, other-id] reason``.

A trailing comment applies to findings on its own line; a comment on a line
of its own applies to the line after it too (so it can sit above a ``RUN``
or a requirement). In a Dockerfile it may
also sit inside a multi-line instruction (BuildKit drops comment lines in
continuations) or on the line before the instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IGNORE = re.compile(r"chainwarden:\s*ignore\[([^\]]*)\]\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Suppression:
    line: int
    rule_ids: frozenset[str]
    reason: str
    standalone: bool  # the comment is the whole line


def parse_suppressions(text: str) -> dict[int, Suppression]:
    """Line number → suppression comment found on that line."""
    found: dict[int, Suppression] = {}
    if "chainwarden:" not in text:
        return found
    for number, raw in enumerate(text.splitlines(), start=1):
        match = _IGNORE.search(raw)
        if match is None:
            continue
        ids = frozenset(part.strip() for part in match.group(1).split(",") if part.strip())
        standalone = raw.strip().startswith(("#", ";", "//"))
        found[number] = Suppression(number, ids, match.group(2).strip(), standalone)
    return found


def suppression_for(
    suppressions: dict[int, Suppression], rule_id: str, line: int | None, anchors: tuple[int, ...] = ()
) -> Suppression | None:
    """The suppression that silences ``rule_id`` at ``line`` (or an anchor line), if any."""
    if not suppressions:
        return None
    for anchor in (line, *anchors):
        if anchor is None:
            continue
        for candidate, needs_standalone in ((anchor, False), (anchor - 1, True)):
            suppression = suppressions.get(candidate)
            if suppression is None or rule_id not in suppression.rule_ids:
                continue
            if suppression.standalone or not needs_standalone:
                return suppression
    return None
