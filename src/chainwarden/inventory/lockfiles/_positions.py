"""Line numbers of entries in parsed documents.

``json``, ``tomllib`` and ``yaml.safe_load`` drop positions, yet SARIF results
must point at the line that declares a dependency. These helpers recover them
after a successful parse, without a second full parser.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from collections.abc import Callable
from typing import Any

import yaml

from chainwarden.inventory.lockfiles._common import LockfileFormatError, type_name

JsonPath = tuple[str | int, ...]

# Strings (unrolled loop: fast on multi-MB files) and the structural characters;
# numbers and literals are skipped, they never open or close anything.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]')


def load_json(text: str) -> Any:
    """``json.loads`` with every failure turned into a format error."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise LockfileFormatError("invalid JSON: nested too deeply") from exc
    except ValueError as exc:
        raise LockfileFormatError(f"invalid JSON: {exc}") from exc


def load_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with every failure turned into a format error."""
    try:
        return tomllib.loads(text)
    except RecursionError as exc:
        raise LockfileFormatError("invalid TOML: nested too deeply") from exc
    except tomllib.TOMLDecodeError as exc:
        raise LockfileFormatError(f"invalid TOML: {exc}") from exc


def json_key_lines(text: str, want: Callable[[JsonPath], bool], max_depth: int = 64) -> dict[JsonPath, int]:
    """1-based line of every object key whose path ``want`` accepts.

    ``text`` must already have parsed as JSON. Paths are the keys and array
    indexes leading to the key, the key included: ``("packages", "node_modules/a")``.
    """
    lines: dict[JsonPath, int] = {}
    frames: list[bool] = []  # True: object, False: array
    path: list[str | int] = []
    expect_key = False
    line = 1
    counted_to = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == '"':
            if frames and frames[-1] and expect_key:
                key = token[1:-1] if "\\" not in token else json.loads(token)
                path[-1] = key
                expect_key = False
                if len(path) <= max_depth:
                    candidate = tuple(path)
                    if want(candidate):
                        line += text.count("\n", counted_to, match.start())
                        counted_to = match.start()
                        lines.setdefault(candidate, line)
        elif first == "{":
            frames.append(True)
            path.append("")
            expect_key = True
        elif first == "[":
            frames.append(False)
            path.append(0)
        elif first in "}]":
            if frames:
                frames.pop()
                path.pop()
            expect_key = False
        elif first == ",":
            if frames and frames[-1]:
                expect_key = True
            elif frames:
                index = path[-1]
                path[-1] = index + 1 if isinstance(index, int) else 0
    return lines


class LineIndex:
    """Offset → 1-based line, by bisection over line starts."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        self._starts.extend(m.end() for m in re.finditer("\n", text))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def toml_table_array_lines(text: str, table: str) -> list[int]:
    """For every ``[[table]]`` header in order, the line of its ``name = …`` key (else of the header)."""
    header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]\s*(?:#.*)?$")
    any_header = re.compile(r"^\s*\[")
    name_key = re.compile(r"^\s*name\s*=")
    result: list[int] = []
    searching = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if header.match(raw):
            result.append(number)
            searching = True
        elif searching and any_header.match(raw):
            searching = False
        elif searching and name_key.match(raw):
            result[-1] = number
            searching = False
    return result


def toml_package_tables(document: dict[str, Any], text: str) -> list[tuple[int, Any, int | None]]:
    """``(position, entry, line)`` of every ``[[package]]`` of a TOML lock (poetry, uv, pdm).

    The line is that of the entry's ``name = …`` key: found by header when the
    text's headers line up with the parsed array, else by the entry's name
    (inline tables, say); None when neither finds it.

    Raises:
        LockfileFormatError: ``package`` is not an array of tables.
    """
    raw_packages = document.get("package", [])
    if not isinstance(raw_packages, list):
        raise LockfileFormatError(f"'package' is {type_name(raw_packages)}, expected an array of tables")
    lines = toml_table_array_lines(text, "package")
    if len(lines) == len(raw_packages):
        return [(position, entry, lines[position]) for position, entry in enumerate(raw_packages)]
    index = LineIndex(text)
    found: list[tuple[int, Any, int | None]] = []
    for position, entry in enumerate(raw_packages):
        name = entry.get("name") if isinstance(entry, dict) else None
        line = None
        if isinstance(name, str):
            pattern = re.compile(rf"^\s*name\s*=\s*[\"']{re.escape(name)}[\"']", re.MULTILINE)
            line = find_line(text, index, pattern, None, None)
        found.append((position, entry, line))
    return found


def toml_header_offset(text: str, dotted: str) -> int | None:
    """Offset of the ``[a.b.c]`` table header (keys possibly quoted), or None."""
    parts = [rf"(?:{re.escape(p)}|\"{re.escape(p)}\"|'{re.escape(p)}')" for p in dotted.split(".")]
    pattern = re.compile(r"^[ \t]*\[[ \t]*" + r"[ \t]*\.[ \t]*".join(parts) + r"[ \t]*\]", re.MULTILINE)
    match = pattern.search(text)
    return match.start() if match else None


def find_line(
    text: str, index: LineIndex, pattern: re.Pattern[str], start: int | None, fallback: int | None
) -> int | None:
    """Line of the first ``pattern`` match at or after ``start`` (then anywhere), else ``fallback``."""
    if start is not None:
        match = pattern.search(text, start)
        if match:
            return index.line_of(match.start())
    match = pattern.search(text)
    if match:
        return index.line_of(match.start())
    return fallback


def toml_string_pattern(value: str) -> re.Pattern[str]:
    """A TOML basic or literal string spelling ``value`` (escape-free spellings only)."""
    escaped = re.escape(value)
    return re.compile(rf"\"{escaped}\"|'{escaped}'")


def toml_key_pattern(key: str) -> re.Pattern[str]:
    """A line assigning ``key`` (bare or quoted) in a TOML table."""
    escaped = re.escape(key)
    return re.compile(rf"^[ \t]*(?:{escaped}|\"{escaped}\"|'{escaped}')[ \t]*[=.]", re.MULTILINE | re.IGNORECASE)


#: Deepest YAML nesting accepted. libyaml's composer recurses in C once per
#: level, so a few hundred thousand "[" crash the interpreter instead of raising;
#: real lockfiles nest fewer than ten levels.
MAX_YAML_DEPTH = 256
_YAML_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')
_YAML_FLOW = re.compile(r"[\[\]{}]")
_YAML_BLOCK_PREFIX = re.compile(r"^[ \t?:-]*", re.MULTILINE)


def check_yaml_depth(text: str, limit: int = MAX_YAML_DEPTH) -> None:
    """Refuse YAML nested deeper than ``limit`` before libyaml sees it.

    Counts flow brackets outside quoted scalars, and the width of each line's
    leading indentation and block indicators (``- - - x`` nests on one line).
    Conservative: it may overcount, never undercount.
    """
    depth = 0
    for match in _YAML_FLOW.finditer(_YAML_QUOTED.sub("", text)):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > limit:
            raise LockfileFormatError(f"invalid YAML: nested deeper than {limit} levels")
    if any(len(m.group()) > 2 * limit for m in _YAML_BLOCK_PREFIX.finditer(text)):
        raise LockfileFormatError(f"invalid YAML: indented deeper than {limit} levels")


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """Safely parse YAML, keeping the node tree for key positions.

    Only the safe constructor is used: tags that would build Python objects are errors.
    """
    check_yaml_depth(text)
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except RecursionError as exc:
        raise LockfileFormatError("invalid YAML: nested too deeply") from exc
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()
        raise LockfileFormatError(f"invalid YAML: {' '.join(first_line[:3])}") from exc
    finally:
        loader.dispose()
    return data, node


def yaml_key_lines(node: yaml.Node | None, *path: str) -> dict[str, int]:
    """1-based lines of the scalar keys of the mapping at ``path`` below ``node``."""
    current = node
    for key in path:
        current = _yaml_child(current, key)
    if not isinstance(current, yaml.MappingNode):
        return {}
    lines: dict[str, int] = {}
    for key_node, _value in current.value:
        if isinstance(key_node, yaml.ScalarNode):
            lines.setdefault(str(key_node.value), key_node.start_mark.line + 1)
    return lines


def _yaml_child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None
