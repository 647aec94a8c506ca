"""Just enough POSIX shell to lint ``RUN``: words, pipelines and nesting.

Not an interpreter: nothing is expanded or executed. The script is cut into
pipelines of simple commands (on ``&&``, ``||``, ``;``, ``&``, ``|``,
newlines and subshell parentheses); words are unquoted like ``shlex`` does;
``$(…)``, backticks, ``<(…)`` and the string of ``sh -c '…'`` are parsed as
nested scripts, so ``bash -c "$(curl -fsSL https://x/install.sh)"`` is seen
for what it is. Every character of a word keeps the offset it had in the
original text, for column-exact findings.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"})
#: Words that run the command after them (after their own options).
WRAPPERS = frozenset({"sudo", "env", "nice", "nohup", "exec", "time", "command", "doas", "su-exec", "gosu", "xargs"})
#: Words of shell grammar that precede a command.
KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "fi", "done"})

_OPERATOR_CHARS = "&|;()"
_WORD_BEFORE = " \t\n;(|&"
_CASE_WORD = re.compile(r"(case|esac)(?=[\s;)]|$)")


@dataclass(slots=True)
class Word:
    text: str  # unquoted
    origin: list[int]  # offset in the root text of each character of ``text``
    start: int  # offset of the first raw character (quotes included)
    substitutions: list[Script] = field(default_factory=list)
    process_substitution: bool = False  # the whole word is ``<(…)``
    quoted: bool = False

    @property
    def offset(self) -> int:
        return self.origin[0] if self.origin else self.start


@dataclass(slots=True)
class Redirect:
    operator: str  # ">", ">>", "<", "<<", "<<<", ">&"…
    target: Word | None


@dataclass(slots=True)
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    nested: list[Script] = field(default_factory=list)  # the script of ``sh -c '…'``

    def argv(self) -> list[Word]:
        """Words from the command name on: assignments, wrappers and grammar skipped."""
        words = self.words
        index = 0
        while index < len(words):
            text = words[index].text
            if text in KEYWORDS or _is_assignment(text):
                index += 1
                continue
            name = posixpath.basename(text)
            if name in WRAPPERS:
                index += 1
                # options of the wrapper (``sudo -E -u app``, ``env -i``)
                while index < len(words) and words[index].text.startswith("-"):
                    takes_value = name == "sudo" and words[index].text in ("-u", "-g", "-C", "-h", "-p")
                    index += 2 if takes_value else 1
                while index < len(words) and name == "env" and _is_assignment(words[index].text):
                    index += 1
                continue
            break
        return words[index:]

    @property
    def name(self) -> str:
        argv = self.argv()
        return posixpath.basename(argv[0].text) if argv else ""

    def args(self) -> list[str]:
        return [word.text for word in self.argv()[1:]]


@dataclass(slots=True)
class Pipeline:
    commands: list[Command] = field(default_factory=list)
    #: what ended it: "&&", "||", ";", "&", "\n", a parenthesis, or None at the end of the script
    next_operator: str | None = None

    def walk(self) -> Iterator[Pipeline]:
        """This pipeline, then the pipelines nested in it (substitutions, ``sh -c``)."""
        yield self
        for command in self.commands:
            for nested in command.nested:
                yield from nested.walk()
            for word in [*command.words, *(r.target for r in command.redirects if r.target)]:
                for substitution in word.substitutions:
                    yield from substitution.walk()


@dataclass(slots=True)
class Script:
    pipelines: list[Pipeline] = field(default_factory=list)

    def walk(self) -> Iterator[Pipeline]:
        """Every pipeline, nested ones (substitutions, ``sh -c``) included."""
        for pipeline in self.pipelines:
            yield from pipeline.walk()

    def commands(self) -> Iterator[Command]:
        for pipeline in self.walk():
            yield from pipeline.commands


def _is_assignment(text: str) -> bool:
    name, sep, _ = text.partition("=")
    return bool(sep) and name.replace("_", "a").isalnum() and not name[0].isdigit()


class _Tokenizer:
    def __init__(self, text: str, origin: Sequence[int], depth: int) -> None:
        self.text = text
        self.origin = origin
        self.depth = depth
        self.index = 0

    def _matching(self, start: int, opener: str, closer: str) -> int:
        """Index of the ``closer`` matching an opener just before ``start``, quotes respected."""
        depth = 1
        index = start
        quote: str | None = None
        # ``$(case $x in a|b) echo 1 ;; esac)``: a case pattern's ``)`` does not close the substitution
        cases: list[int] = []  # parenthesis depth at which each open ``case`` sits
        text = self.text
        while index < len(text):
            char = text[index]
            if quote:
                if char == "\\" and quote == '"':
                    index += 1
                elif char == quote:
                    quote = None
            elif char in "'\"`":
                quote = char
            elif char == "\\":
                index += 1
            elif opener == "(" and char in "ce" and (index == 0 or text[index - 1] in _WORD_BEFORE):
                keyword = _CASE_WORD.match(text, index)
                if keyword is not None:
                    if keyword.group(1) == "case":
                        cases.append(depth)
                    elif cases:
                        cases.pop()
                    index = keyword.end(1)
                    continue
            elif char == opener:
                depth += 1
            elif char == closer:
                if cases and cases[-1] == depth:
                    index += 1  # the end of a case pattern
                    continue
                depth -= 1
                if depth == 0:
                    return index
            index += 1
        return len(text)

    def _nested(self, start: int, end: int) -> Script:
        return parse_script(self.text[start:end], self.origin[start:end], self.depth + 1)

    def parse(self) -> Script:
        script = Script()
        pipeline = Pipeline()
        command = Command()
        word: Word | None = None
        pending_redirect: str | None = None
        text = self.text
        case_depth = 0  # open ``case … esac`` statements
        expect_pattern = False  # the next thing is a case pattern (``amd64|arm64)``), not a command

        def finish_word() -> None:
            nonlocal word, pending_redirect, case_depth, expect_pattern
            if word is None:
                return
            if pending_redirect is not None:
                command.redirects.append(Redirect(pending_redirect, word))
                pending_redirect = None
                word = None
                return
            command.words.append(word)
            word = None
            head = [w for w in command.words if w.text not in KEYWORDS or w.quoted]
            if len(head) == 1 and head[0].text == "esac" and not head[0].quoted and case_depth:
                case_depth -= 1
                expect_pattern = False
            elif len(head) == 3 and head[0].text == "case" and head[2].text == "in" and not head[0].quoted:
                # ``case WORD in`` is a pipeline of its own; what follows are patterns and their commands
                finish_pipeline(";")
                case_depth += 1
                expect_pattern = True

        def finish_command() -> None:
            nonlocal command, pending_redirect
            finish_word()
            if pending_redirect is not None:
                command.redirects.append(Redirect(pending_redirect, None))
                pending_redirect = None
            if command.words or command.redirects:
                _attach_shell_c(command, self.depth)
                pipeline.commands.append(command)
            command = Command()

        def finish_pipeline(operator: str | None) -> None:
            nonlocal pipeline
            finish_command()
            pipeline.next_operator = operator
            if pipeline.commands:
                script.pipelines.append(pipeline)
            pipeline = Pipeline()

        def start_word(at: int) -> Word:
            nonlocal word
            if word is None:
                word = Word("", [], self.origin[at] if at < len(self.origin) else 0)
            return word

        def append(char: str, at: int) -> None:
            current = start_word(at)
            current.text += char
            current.origin.append(self.origin[at] if at < len(self.origin) else (self.origin[-1] if self.origin else 0))

        while self.index < len(text):
            char = text[self.index]
            at = self.index
            if expect_pattern and word is None and not command.words:
                if char in " \t\r\n;":
                    self.index += 1
                    continue
                if char == "\\" and text.startswith("\\\n", self.index):
                    self.index += 2
                    continue
                if char == "#":
                    end = text.find("\n", self.index)
                    self.index = len(text) if end < 0 else end
                    continue
                if _CASE_WORD.match(text, self.index) is None or not text.startswith("esac", self.index):
                    self.index = self._pattern_end(self.index)
                    expect_pattern = False
                    continue
            if char == "\\":
                if self.index + 1 < len(text):
                    if text[self.index + 1] == "\n":
                        self.index += 2
                        continue
                    append(text[self.index + 1], self.index + 1)
                self.index += 2
                continue
            if char == "'":
                end = text.find("'", self.index + 1)
                end = len(text) if end < 0 else end
                start_word(at).quoted = True
                for position in range(self.index + 1, end):
                    append(text[position], position)
                self.index = end + 1
                continue
            if char == '"':
                start_word(at).quoted = True
                self.index += 1
                while self.index < len(text) and text[self.index] != '"':
                    inner = text[self.index]
                    if inner == "\\" and self.index + 1 < len(text) and text[self.index + 1] in '"\\$`\n':
                        if text[self.index + 1] != "\n":
                            append(text[self.index + 1], self.index + 1)
                        self.index += 2
                        continue
                    if inner == "$" and text.startswith("$(", self.index):
                        self._substitution(start_word(at), append)
                        continue
                    if inner == "`":
                        self._backtick(start_word(at), append)
                        continue
                    append(inner, self.index)
                    self.index += 1
                self.index += 1
                continue
            if char == "$" and text.startswith("$(", self.index):
                self._substitution(start_word(at), append)
                continue
            if char == "$" and text.startswith("${", self.index):
                end = self._matching(self.index + 2, "{", "}")
                for position in range(self.index, min(end + 1, len(text))):
                    append(text[position], position)
                self.index = end + 1
                continue
            if char == "`":
                self._backtick(start_word(at), append)
                continue
            if char in "<>" and text.startswith("(", self.index + 1) and word is None:
                end = self._matching(self.index + 2, "(", ")")
                current = start_word(at)
                current.process_substitution = True
                current.substitutions.append(self._nested(self.index + 2, end))
                for position in range(self.index, min(end + 1, len(text))):
                    append(text[position], position)
                self.index = end + 1
                continue
            if char == "#" and word is None:
                end = text.find("\n", self.index)
                self.index = len(text) if end < 0 else end
                continue
            if char in " \t\r":
                finish_word()
                self.index += 1
                continue
            if char == "\n":
                finish_pipeline("\n")
                self.index += 1
                continue
            if char in "<>":
                operator = char
                if word is not None and word.text.isdigit() and not word.quoted:
                    operator = word.text + operator
                    word = None
                else:
                    finish_word()
                self.index += 1
                while self.index < len(text) and text[self.index] in "<>&|-":
                    operator += text[self.index]
                    self.index += 1
                    if operator.endswith("&") and self.index < len(text) and text[self.index].isdigit():
                        # ``2>&1``: the fd is part of the operator, not a word
                        while self.index < len(text) and text[self.index].isdigit():
                            operator += text[self.index]
                            self.index += 1
                        break
                if operator.endswith(("&1", "&2", "-")) and ">&" in operator:
                    command.redirects.append(Redirect(operator, None))
                else:
                    pending_redirect = operator
                continue
            if char == "&" and text.startswith("&>", self.index):
                finish_word()
                self.index += 2
                if self.index < len(text) and text[self.index] == ">":
                    self.index += 1
                pending_redirect = "&>"
                continue
            if char in _OPERATOR_CHARS:
                two = text[self.index : self.index + 2]
                if two in ("&&", "||", ";;"):
                    finish_pipeline(two)
                    self.index += 2
                    if two == ";;" and case_depth:
                        if self.index < len(text) and text[self.index] == "&":
                            self.index += 1  # ``;;&`` (bash)
                        expect_pattern = True
                    continue
                if two == ";&" and case_depth:  # fall through (bash)
                    finish_pipeline(";;")
                    self.index += 2
                    expect_pattern = True
                    continue
                if char == "|":
                    finish_command()
                    self.index += 2 if two == "|&" else 1
                    continue
                finish_pipeline(char)
                self.index += 1
                continue
            append(char, at)
            self.index += 1
        finish_pipeline(None)
        return script

    def _pattern_end(self, start: int) -> int:
        """Index just after the ``)`` that ends the case pattern starting at ``start``."""
        index = start
        text = self.text
        if index < len(text) and text[index] == "(":
            index += 1
        quote: str | None = None
        while index < len(text):
            char = text[index]
            if quote:
                if char == quote:
                    quote = None
                elif char == "\\" and quote == '"':
                    index += 1
            elif char in "'\"":
                quote = char
            elif char == "\\":
                index += 1
            elif char == "$" and text.startswith("$(", index):
                index = self._matching(index + 2, "(", ")")
            elif char == ")":
                return index + 1
            elif char == "\n":
                return index  # not a pattern after all; let the command parse
            index += 1
        return len(text)

    def _substitution(self, word: Word, append: object) -> None:
        assert callable(append)
        start = self.index
        if self.text.startswith("$((", start):
            end = self._matching(start + 3, "(", ")")
            end = self._matching(end + 1, "(", ")") if end < len(self.text) else end
        else:
            end = self._matching(start + 2, "(", ")")
            word.substitutions.append(self._nested(start + 2, end))
        for position in range(start, min(end + 1, len(self.text))):
            append(self.text[position], position)
        self.index = end + 1

    def _backtick(self, word: Word, append: object) -> None:
        assert callable(append)
        start = self.index
        end = self.text.find("`", start + 1)
        end = len(self.text) if end < 0 else end
        word.substitutions.append(self._nested(start + 1, end))
        for position in range(start, min(end + 1, len(self.text))):
            append(self.text[position], position)
        self.index = end + 1


#: Nesting deeper than this is hostile (or generated); stop descending.
MAX_DEPTH = 8


def _attach_shell_c(command: Command, depth: int) -> None:
    """Parse the script of ``sh -c '…'`` / ``bash -lc "…"`` as a nested script."""
    if depth >= MAX_DEPTH:
        return
    argv = command.argv()
    if not argv or posixpath.basename(argv[0].text) not in SHELLS:
        return
    for index, word in enumerate(argv[1:], start=1):
        text = word.text
        if text.startswith("-") and not text.startswith("--") and "c" in text[1:]:
            if index + 1 < len(argv):
                target = argv[index + 1]
                command.nested.append(parse_script(target.text, target.origin, depth + 1))
            return
        if not text.startswith("-"):
            return


def parse_script(text: str, origin: Sequence[int] | None = None, depth: int = 0) -> Script:
    """Parse a shell script; ``origin[i]`` is the root offset of ``text[i]`` (identity by default)."""
    if origin is None:
        origin = range(len(text))
    if depth > MAX_DEPTH:
        return Script()
    return _Tokenizer(text, origin, depth).parse()
