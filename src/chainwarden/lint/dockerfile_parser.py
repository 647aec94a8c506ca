"""A Dockerfile parser that keeps positions: every character of an instruction
knows the line and column it came from, so a finding can point at the
offending word inside a fifteen-line ``RUN`` with continuations.

It follows the BuildKit frontend (``dockerfile/parser``): parser directives at
the top (``# syntax=``, ``# escape=``, ``# check=``), the escape character
(``\\`` or a backtick) joining lines, comments and blank lines dropped inside
continuations, heredocs (``<<EOF``, ``<<-EOF``, quoted delimiters, several per
instruction), JSON (exec) and shell forms, ``--flag=value`` options,
multi-stage builds with ``AS`` and ARG substitution in ``FROM``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

#: Instructions whose arguments may open heredocs (BuildKit 1.4+).
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
#: Instructions whose leading ``--name[=value]`` words are options.
FLAG_INSTRUCTIONS = frozenset({"FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"})

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.\-/]*)\2")
_KEYWORD = re.compile(r"^\s*([A-Za-z]+)(\s|$)")


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class Heredoc:
    """One heredoc body; ``origin[i]`` is where ``body[i]`` sits in the file."""

    name: str
    body: str
    strip_tabs: bool
    quoted: bool  # a quoted delimiter disables expansion in the body
    origin: tuple[Position, ...]
    line: int  # first body line
    terminated: bool = True  # False: the file ended before the delimiter line


@dataclass(frozen=True, slots=True)
class Flag:
    name: str  # without dashes: "platform", "from", "checksum"
    value: str | None
    position: Position


@dataclass(frozen=True, slots=True)
class Instruction:
    """One logical instruction, continuations joined.

    ``arguments`` is the text after the keyword and options, as the shell or
    JSON decoder sees it; ``origin[i]`` is the file position of
    ``arguments[i]``.
    """

    keyword: str  # upper-case
    arguments: str
    origin: tuple[Position, ...]
    flags: tuple[Flag, ...]
    heredocs: tuple[Heredoc, ...]
    line: int
    end_line: int
    column: int
    exec_form: tuple[str, ...] | None  # decoded JSON array, for the exec form

    def position(self, offset: int) -> Position:
        """File position of ``arguments[offset]`` (clamped to the instruction)."""
        if not self.origin:
            return Position(self.line, self.column)
        return self.origin[max(0, min(offset, len(self.origin) - 1))]

    def flag(self, name: str) -> Flag | None:
        for flag in self.flags:
            if flag.name == name:
                return flag
        return None


@dataclass(slots=True)
class Stage:
    """One ``FROM`` and the instructions that follow it."""

    index: int
    from_instruction: Instruction
    image: str  # as written
    resolved_image: str | None  # after ARG substitution; None when an ARG has no known value
    name: str | None  # the ``AS`` name, lower-case
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something BuildKit would reject or read differently; the rest of the file is still parsed."""

    line: int
    message: str
    serious: bool = False  # part of the file could not be read as instructions at all


@dataclass(slots=True)
class Dockerfile:
    directives: dict[str, str]
    escape: str
    instructions: list[Instruction]
    global_args: dict[str, str | None]
    stages: list[Stage]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def stage_names(self) -> set[str]:
        return {stage.name for stage in self.stages if stage.name}


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.index = 0

    def done(self) -> bool:
        return self.index >= len(self.lines)

    def next(self) -> tuple[int, str]:
        line = self.lines[self.index]
        self.index += 1
        return self.index, line


def _parse_directives(lines: list[str]) -> tuple[dict[str, str], int]:
    directives: dict[str, str] = {}
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line.strip()) if line.strip().startswith("#") else None
        if match is None:
            return directives, number
        key = match.group(1).lower()
        if key in directives:  # a repeated directive is an ordinary comment; BuildKit stops here
            return directives, number
        directives[key] = match.group(2)
    return directives, len(lines)


def _ends_with_escape(line: str, escape: str) -> bool:
    stripped = line.rstrip()
    return stripped.endswith(escape)


def parse_dockerfile(text: str) -> Dockerfile:
    """Parse ``text``; never raises on malformed input (garbage lines are skipped)."""
    text = text.removeprefix("\ufeff")
    reader = _Lines(text)
    directives, _ = _parse_directives(reader.lines)
    diagnostics: list[Diagnostic] = []
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        directive = next((n for n, t in enumerate(reader.lines, 1) if re.match(r"^#\s*escape\s*=", t, re.I)), 1)
        diagnostics.append(Diagnostic(directive, f"invalid escape directive {escape!r} (only \\ and ` are allowed)"))
        escape = "\\"
    instructions: list[Instruction] = []
    while not reader.done():
        number, line = reader.next()
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword_match = _KEYWORD.match(line)
        if keyword_match is None:
            continue
        chars: list[str] = []
        origin: list[Position] = []
        start_line = number
        column = keyword_match.start(1) + 1
        rest_start = keyword_match.end(1)
        current, current_number, offset = line, number, rest_start
        end_line = number
        while True:
            continued = _ends_with_escape(current, escape)
            body = current.rstrip()[:-1] if continued else current
            for index in range(offset, len(body)):
                chars.append(body[index])
                origin.append(Position(current_number, index + 1))
            end_line = current_number
            if not continued:
                break
            # comment lines and blank lines inside a continuation are dropped (BuildKit)
            next_line = None
            while not reader.done():
                candidate_number, candidate = reader.next()
                if not candidate.strip() or candidate.strip().startswith("#"):
                    continue
                next_line = (candidate_number, candidate)
                break
            if next_line is None:
                diagnostics.append(
                    Diagnostic(current_number, f"the file ends in a line continuation ({escape} on the last line)")
                )
                break
            current_number, current = next_line
            offset = 0
        keyword = keyword_match.group(1).upper()
        joined = "".join(chars)
        # leading whitespace after the keyword is not part of the arguments
        lead = len(joined) - len(joined.lstrip())
        joined, positions = joined[lead:], origin[lead:]
        flags: list[Flag] = []
        if keyword in FLAG_INSTRUCTIONS:
            joined, positions, flags = _take_flags(joined, positions)
        trail = len(joined.rstrip())
        joined, positions = joined[:trail], positions[:trail]
        heredocs: list[Heredoc] = []
        if keyword in HEREDOC_INSTRUCTIONS:
            for match in _HEREDOC.finditer(joined):
                if _inside_quotes(joined, match.start()):
                    continue
                heredoc = _read_heredoc(reader, match.group(3), match.group(1) == "-", bool(match.group(2)))
                if not heredoc.terminated:
                    diagnostics.append(
                        Diagnostic(
                            start_line,
                            f"heredoc <<{match.group(3)} is never terminated: the rest of the file is its body",
                            serious=True,
                        )
                    )
                heredocs.append(heredoc)
                if heredoc.origin:
                    end_line = max(end_line, heredoc.origin[-1].line + 1)
        exec_form = _decode_exec_form(joined)
        instructions.append(
            Instruction(
                keyword=keyword,
                arguments=joined,
                origin=tuple(positions),
                flags=tuple(flags),
                heredocs=tuple(heredocs),
                line=start_line,
                end_line=end_line,
                column=column,
                exec_form=exec_form,
            )
        )
    global_args, stages = _build_stages(instructions)
    return Dockerfile(directives, escape, instructions, global_args, stages, diagnostics)


def _take_flags(text: str, positions: list[Position]) -> tuple[str, list[Position], list[Flag]]:
    flags: list[Flag] = []
    index = 0
    while text.startswith("--", index):
        end = index
        while end < len(text) and not text[end].isspace():
            end += 1
        word = text[index + 2 : end]
        name, sep, value = word.partition("=")
        flags.append(Flag(name.lower(), value if sep else None, positions[index]))
        while end < len(text) and text[end].isspace():
            end += 1
        index = end
    return text[index:], positions[index:], flags


def _inside_quotes(text: str, offset: int) -> bool:
    quote: str | None = None
    index = 0
    while index < offset:
        char = text[index]
        if quote is None and char in "'\"":
            quote = char
        elif quote == char:
            quote = None
        elif char == "\\" and quote != "'":
            index += 1
        index += 1
    return quote is not None


def _read_heredoc(reader: _Lines, name: str, strip_tabs: bool, quoted: bool) -> Heredoc:
    chars: list[str] = []
    origin: list[Position] = []
    first_line = reader.index + 1
    terminated = False
    while not reader.done():
        number, line = reader.next()
        candidate = line.lstrip("\t") if strip_tabs else line
        if candidate.rstrip("\r") == name:
            terminated = True
            break
        skipped = len(line) - len(candidate)
        for index, char in enumerate(candidate):
            chars.append(char)
            origin.append(Position(number, skipped + index + 1))
        chars.append("\n")
        origin.append(Position(number, len(line) + 1))
    return Heredoc(name, "".join(chars), strip_tabs, quoted, tuple(origin), first_line, terminated)


def _decode_exec_form(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def substitute(text: str, variables: dict[str, str | None]) -> str | None:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}`` (and the
    forms without colon) as BuildKit does; None when a variable has no known value."""
    unresolved = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = variables.get(name)
        if operator in (":-", "-"):
            if value is None or (operator == ":-" and value == ""):
                return word
            return value
        if operator in (":+", "+"):
            is_set = value is not None and (operator == "+" or value != "")
            return word if is_set else ""
        if value is None:
            unresolved = True
            return ""
        return value

    result = _VARIABLE.sub(replace, text)
    return None if unresolved else result


def _arg_definitions(instruction: Instruction) -> list[tuple[str, str | None]]:
    """``ARG A=1 B`` → [("A", "1"), ("B", None)] (quotes removed from values)."""
    import shlex

    try:
        words = shlex.split(instruction.arguments, posix=True)
    except ValueError:
        words = instruction.arguments.split()
    result: list[tuple[str, str | None]] = []
    for word in words:
        name, sep, value = word.partition("=")
        if name:
            result.append((name, value if sep else None))
    return result


def _build_stages(instructions: list[Instruction]) -> tuple[dict[str, str | None], list[Stage]]:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "ARG" and not stages:
            for name, value in _arg_definitions(instruction):
                expanded = substitute(value, global_args) if value is not None else None
                global_args[name] = expanded
            continue
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            image = words[0] if words else ""
            stage_name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            platform_flag = instruction.flag("platform")
            stages.append(
                Stage(
                    index=len(stages),
                    from_instruction=instruction,
                    image=image,
                    resolved_image=substitute(image, global_args) if image else None,
                    name=stage_name,
                    platform=platform_flag.value if platform_flag else None,
                )
            )
            continue
        if stages:
            stages[-1].instructions.append(instruction)
    return global_args, stages
