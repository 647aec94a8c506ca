"""Download → verify → use: how a fetched file travels through a stage's ``RUN`` steps.

A download is only a weakness when its bytes reach something that unpacks,
installs or runs them before anything checked them. So each ``RUN`` script is
read as a sequence of top-level pipelines with their control structure
(``&&`` chains, ``;`` under ``set -e``, ``if … then … else exit 1; fi``,
``|| exit 1``) and every check (``sha256sum -c``, a hash compared as a string,
``gpg --verify``, ``minisign -V``, ``cosign verify-blob``, ``rpm -K`` …) is
given the set of later pipelines that only run when it passed. A use of a
downloaded file is judged by whether one of the checks of *that file* guards
it, not by whether a check happens to sit next to it. A check whose failure
fails the whole ``RUN`` also covers the stage's later ``RUN`` steps, so
"download in one RUN, verify in the next, use in a third" is followed too.

This module only models the flow; :mod:`chainwarden.lint.dockerfile` turns an
unverified use into a finding.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from chainwarden.lint.dockerfile_parser import Instruction, Position
from chainwarden.lint.shell import Command, Pipeline, Script, Word

DOWNLOADERS = frozenset({"curl", "wget", "aria2c", "fetch"})
HASH_TOOLS = re.compile(r"^(sha(1|224|256|384|512)sum|shasum|md5sum|b2sum|b3sum|cksum|sha\d+)$")
_OPENSSL_DIGESTS = frozenset({"dgst", "sha1", "sha224", "sha256", "sha384", "sha512", "md5", "sha3-256", "sha3-512"})
#: Compound-statement openers and the keyword that closes each.
_CLOSERS = {"if": "fi", "case": "esac", "for": "done", "while": "done", "until": "done", "select": "done", "{": "}"}
_STRUCTURE = frozenset({"if", "then", "elif", "else", "fi", "case", "esac", "for", "while", "until", "do", "done"})
_STRUCTURE |= {"{", "}", "select"}
_SIGNATURE_SUFFIXES = (".asc", ".sig", ".sign", ".gpg", ".minisig", ".sha256", ".sha512", ".sha256sum", ".sha512sum")
#: A URL that names an immutable git commit: the bytes are pinned by the commit hash.
_COMMIT_URL = re.compile(
    r"^https://(raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/"
    r"|github\.com/[^/]+/[^/]+/raw/[0-9a-f]{40}/"
    r"|gitlab\.com/.+/-/raw/[0-9a-f]{40}/)",
    re.IGNORECASE,
)


def commit_pinned(url: str) -> bool:
    """Whether ``url`` fetches a file at a fixed git commit (its content is pinned, though not checksummed)."""
    return bool(_COMMIT_URL.match(url))


@dataclass(slots=True)
class Artifact:
    """A file a ``RUN`` downloaded, followed until something uses it."""

    name: str  # basename as written: "go.tgz", "$tarball"
    instruction: Instruction  # the RUN that downloaded it
    where: Position  # the URL (or the downloader) in that RUN
    url: str
    verified: bool = False  # a check of it fails the build if it fails, and it ran before the current RUN
    checked_weakly: bool = False  # a check of it exists whose failure does not stop the build


@dataclass(frozen=True, slots=True)
class Check:
    """A verification at top-level pipeline ``at`` of the files ``names`` (None: of whatever was downloaded)."""

    at: int
    names: tuple[str, ...] | None
    guarded: range  # top-level pipelines that run only when the check passed
    to_end: bool  # a failed check fails the RUN


def normalise(text: str) -> str:
    """``"./go.tgz"``, ``*go.tgz``, ``/tmp/go.tgz`` → ``go.tgz`` (grep anchors and checksum markers dropped)."""
    text = text.strip().strip("\"'").lstrip("*^").removesuffix("$").removesuffix("\\")
    return posixpath.basename(text.rstrip("/")) if text else ""


def mentioned(text: str) -> list[str]:
    """Candidate file names in a checksum line, a grep pattern or an argument list."""
    return [name for name in (normalise(token) for token in re.split(r"[\s,]+", text)) if name]


def _keyword(pipeline: Pipeline) -> str:
    if not pipeline.commands or not pipeline.commands[0].words:
        return ""
    word = pipeline.commands[0].words[0]
    return word.text if word.text in _STRUCTURE and not word.quoted else ""


def _exits(command: Command) -> bool:
    argv = command.argv()
    if not argv:
        return False
    name = argv[0].text
    if name in ("exit", "return"):
        return len(argv) < 2 or argv[1].text != "0"
    return name in ("false", "throw")


@dataclass(slots=True)
class _If:
    start: int
    then_at: int | None = None
    else_at: int | None = None
    end: int | None = None


@dataclass(slots=True)
class Shape:
    """The control structure of a script's top-level pipelines."""

    pipelines: list[Pipeline]
    errexit_from_shell: bool
    closes: dict[int, int] = field(default_factory=dict)  # opener index → closer index
    ifs: list[_If] = field(default_factory=list)
    errexit: list[bool] = field(default_factory=list)  # per top-level pipeline: is ``set -e`` in force
    top: dict[int, int] = field(default_factory=dict)  # id(command) → top-level pipeline index

    @classmethod
    def of(cls, script: Script, *, errexit: bool) -> Shape:
        shape = cls(list(script.pipelines), errexit)
        shape._build()
        return shape

    def _build(self) -> None:
        stack: list[tuple[str, int, _If | None]] = []
        errexit = self.errexit_from_shell
        for index, pipeline in enumerate(self.pipelines):
            self.errexit.append(errexit)
            for command in _commands(pipeline):
                self.top[id(command)] = index
            for command in pipeline.commands:
                if command.name == "set":
                    errexit = _set_errexit(command.args(), errexit)
            keyword = _keyword(pipeline)
            current = stack[-1][2] if stack else None
            if keyword == "if":
                opened = _If(index)
                self.ifs.append(opened)
                stack.append(("if", index, opened))
            elif keyword in ("case", "for", "while", "until", "select", "{"):
                stack.append((keyword, index, None))
            elif keyword == "then" and current is not None and current.then_at is None:
                current.then_at = index
            elif keyword in ("else", "elif") and current is not None and current.else_at is None:
                current.else_at = index
            elif keyword in ("fi", "esac", "done", "}") and stack:
                _, start, closed = stack.pop()
                self.closes[start] = index
                if closed is not None:
                    closed.end = index
        for _, start, unclosed in stack:
            self.closes[start] = len(self.pipelines) - 1
            if unclosed is not None:
                unclosed.end = len(self.pipelines)

    def _condition_of(self, index: int) -> _If | None:
        inner: _If | None = None
        for block in self.ifs:
            then_at = block.then_at if block.then_at is not None else len(self.pipelines)
            if block.start <= index < then_at:
                inner = block
        return inner

    def _exits_in(self, indices: range) -> bool:
        return any(_exits(c) for i in indices for c in self.pipelines[i].commands)

    def _exits_at(self, index: int) -> bool:
        """Whether the pipeline at ``index`` (or the ``{ …; }`` group it opens) exits with a failure."""
        if index >= len(self.pipelines):
            return False
        if _keyword(self.pipelines[index]) == "{":
            return self._exits_in(range(index, self.closes.get(index, index) + 1))
        return any(_exits(c) for c in self.pipelines[index].commands)

    def guard(self, index: int, *, passes_when_true: bool = True) -> tuple[range, bool]:
        """Pipelines that run only if the check at ``index`` passed, and whether a failure fails the RUN.

        ``passes_when_true`` is False for a check that is *true on a mismatch*
        (``[ "$(sha256sum f)" != "$SHA" ]``).
        """
        count = len(self.pipelines)
        block = self._condition_of(index)
        if block is not None and block.then_at is not None:
            end = block.end if block.end is not None else count
            then_range = range(block.then_at, block.else_at if block.else_at is not None else end)
            else_range = range(block.else_at, end) if block.else_at is not None else range(0)
            negated = _negated(self.pipelines[block.start]) if index == block.start else False
            passing, failing = (then_range, else_range)
            if negated != (not passes_when_true):
                passing, failing = failing, passing
            if self._exits_in(failing):
                return range(index + 1, count), True
            return passing, False
        operator = self.pipelines[index].next_operator
        if not passes_when_true:
            if operator == "&&" and self._exits_at(index + 1):
                return range(index + 1, count), True
            return range(0), False
        position = index
        while True:
            operator = self.pipelines[position].next_operator
            following = position + 1
            if operator == "&&":
                if following >= count:
                    return range(index + 1, count), True
                position = self.closes.get(following, following) if _keyword(self.pipelines[following]) else following
                continue
            if operator == "||":
                if self._exits_at(following):
                    return range(index + 1, count), True
                return range(index + 1, following), False
            if following >= count:
                return range(index + 1, count), True
            if self.errexit[index] and position == index:
                return range(index + 1, count), True
            return range(index + 1, following), False


def _negated(pipeline: Pipeline) -> bool:
    words = pipeline.commands[0].words if pipeline.commands else []
    return len(words) > 1 and words[0].text == "if" and words[1].text == "!"


def _set_errexit(args: list[str], current: bool) -> bool:
    result = current
    for index, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and "e" in arg[1:]:
            result = True
        elif arg.startswith("+") and "e" in arg[1:]:
            result = False
        elif arg in ("-o", "+o") and index + 1 < len(args) and args[index + 1] == "errexit":
            result = arg == "-o"
    return result


def shell_errexit(words: tuple[str, ...]) -> bool:
    """Whether a ``SHELL ["/bin/bash", "-exo", "pipefail", "-c"]`` turns ``set -e`` on for every RUN."""
    options = [w for w in words[1:] if w != "-c" and not w.startswith("--")]
    return _set_errexit(options, False)


def _commands(pipeline: Pipeline) -> Iterator[Command]:
    for command in pipeline.commands:
        yield command
        for nested in command.nested:
            yield from nested.commands()
        for word in [*command.words, *(r.target for r in command.redirects if r.target)]:
            for substitution in word.substitutions:
                yield from substitution.commands()


def operands(words: list[Word]) -> list[str]:
    """Non-option words; ``--opt=value`` contributes its value."""
    result: list[str] = []
    for word in words:
        text = word.text
        if text.startswith("-"):
            if "=" in text:
                result.append(text.split("=", 1)[1])
            continue
        result.append(text)
    return result


def _hash_files(command: Command, pipeline: Pipeline, written: dict[str, str]) -> list[str] | None:
    """The files a hash command reads: its operands, or what is piped into it (``cat f | openssl sha512``)."""
    argv = command.argv()
    skip = 1
    if command.name == "openssl":
        skip = 2
    files = [o for o in operands(argv[skip:]) if o != "-"]
    if command.name == "shasum":
        files = [o for o in files if not o.isdigit()]  # ``-a 256``
    if files:
        return files
    index = pipeline.commands.index(command) if command in pipeline.commands else 0
    if index > 0:
        producer = pipeline.commands[index - 1]
        if producer.name in ("cat", "pv", "dd"):
            return operands(producer.argv()[1:])
    for redirect in command.redirects:
        if redirect.operator == "<" and redirect.target is not None:
            return [redirect.target.text]
    return None


def _checked_lines(command: Command, pipeline: Pipeline, written: dict[str, str]) -> list[str] | None:
    """File names listed in what ``sha256sum -c`` reads (a literal line, a grep of a sums file…), None if unknown."""
    names: list[str] = []
    for operand in operands(command.argv()[1:]):
        if operand == "-":
            continue
        if operand in written:
            names += mentioned(written[operand])
        else:
            base = normalise(operand)
            for suffix in _SIGNATURE_SUFFIXES:
                if base.endswith(suffix) and len(base) > len(suffix):
                    names.append(base[: -len(suffix)])
    for redirect in command.redirects:
        if redirect.target is None:
            continue
        if redirect.operator == "<<<":
            names += mentioned(redirect.target.text)
        elif redirect.operator == "<" and redirect.target.text in written:
            names += mentioned(written[redirect.target.text])
        for substitution in redirect.target.substitutions:
            for inner in substitution.commands():
                names += mentioned(" ".join(inner.args()))
    index = pipeline.commands.index(command) if command in pipeline.commands else 0
    if index > 0:
        producer = pipeline.commands[index - 1]
        if producer.name in ("echo", "printf", "grep", "awk", "sed", "cat", "head", "tail"):
            arguments = [w.text for w in producer.argv()[1:] if not w.text.startswith("-")]
            if producer.name == "cat":
                arguments = [written.get(a, a) for a in arguments]
            names += mentioned(" ".join(arguments).replace("\\n", "\n"))
    for word in command.argv()[1:]:
        if word.process_substitution:
            for inner in word.substitutions[0].commands() if word.substitutions else ():
                names += mentioned(" ".join(inner.args()))
    return names or None


def _hash_compared(command: Command, pipeline: Pipeline) -> bool:
    """``sha256sum f | grep -q "$SHA"``, ``… | cmp``: the hash is compared by what follows in the pipe."""
    index = pipeline.commands.index(command) if command in pipeline.commands else -1
    if index < 0:
        return False
    return any(c.name in ("grep", "cmp", "diff", "test", "[") for c in pipeline.commands[index + 1 :])


def find_checks(pipeline: Pipeline, written: dict[str, str]) -> list[tuple[tuple[str, ...] | None, bool]]:
    """The verifications in one top-level pipeline: (file names or None, passes_when_true)."""
    found: list[tuple[tuple[str, ...] | None, bool]] = []
    for sub in pipeline.walk():
        for command in sub.commands:
            result = _check(command, sub, written)
            if result is not None:
                found.append(result)
    return found


def _is_hash_command(command: Command) -> bool:
    args = command.args()
    if HASH_TOOLS.match(command.name):
        return True
    return command.name == "openssl" and bool(args) and args[0] in _OPENSSL_DIGESTS and "-verify" not in args


def _check(command: Command, pipeline: Pipeline, written: dict[str, str]) -> tuple[tuple[str, ...] | None, bool] | None:
    name = command.name
    argv = command.argv()
    args = [w.text for w in argv[1:]]
    names: list[str] | None
    if HASH_TOOLS.match(name) and any(
        a in ("-c", "--check") or (a.startswith("-") and not a.startswith("--") and "c" in a[1:]) for a in args
    ):
        names = _checked_lines(command, pipeline, written)
        return (tuple(names) if names else None), True
    if _is_hash_command(command):
        if _hash_compared(command, pipeline):
            files = _hash_files(command, pipeline, written)
            return (tuple(normalise(f) for f in files) if files else None), True
        return None
    if name in ("[", "[[", "test"):
        files_found: list[str] = []
        hashed = False
        for word in argv[1:]:
            for substitution in word.substitutions:
                for sub in substitution.walk():
                    for inner in sub.commands:
                        if _is_hash_command(inner):
                            hashed = True
                            files_found += _hash_files(inner, sub, written) or []
            # ``actual="$(sha256sum f | cut -c1-64)"; [ "$actual" = "$SHA" ]``
            for variable in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", word.text):
                if "$" + variable in written:
                    hashed = True
                    files_found += written["$" + variable].split()
        if not hashed:
            return None
        passes_when_true = "!=" not in args and "-ne" not in args
        return (tuple(normalise(f) for f in files_found) or None), passes_when_true
    named = [normalise(o) for o in operands(argv[1:])]
    if name in ("gpg", "gpg2") and "--verify" in args:
        after = [normalise(o) for o in operands(argv[args.index("--verify") + 2 :])]
        implied = [_strip_signature(o) for o in after[:1]]
        return tuple(after + implied) or None, True
    if name in ("gpgv", "gpgv2", "in-toto-verify", "slsa-verifier", "sigstore", "notation"):
        return tuple(named + [_strip_signature(o) for o in named]) or None, True
    if name == "cosign" and args and args[0].startswith("verify-blob"):
        return tuple(named[1:]) or None, True
    if name in ("minisign", "signify") and any(a.startswith("-V") for a in args):
        return tuple(named + [_strip_signature(o) for o in named]) or None, True
    if name in ("rpm", "rpmkeys") and any(a in ("-K", "--checksig") or a.startswith("-K") for a in args):
        return tuple(named) or None, True
    if name == "openssl" and ("-verify" in args or "-signature" in args):
        return tuple(named[1:]) or None, True
    if name == "gh" and args[:2] == ["attestation", "verify"]:
        return tuple(named[2:]) or None, True
    if name == "jarsigner" and "-verify" in args:
        return tuple(named) or None, True
    return None


def _strip_signature(name: str) -> str:
    for suffix in _SIGNATURE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def literal_writes(script: Script) -> dict[str, str]:
    """Files the script writes from literal text: ``echo "$SHA  f.tgz" > f.sha256`` → {"f.sha256": "…"};
    and variables holding a hash: ``actual=$(sha256sum f)`` → {"$actual": "f"}."""
    written: dict[str, str] = {}
    for command in script.commands():
        if not command.argv():
            for word in command.words:
                variable, sep, _ = word.text.partition("=")
                if not sep or not word.substitutions:
                    continue
                files = [
                    normalise(f)
                    for substitution in word.substitutions
                    for sub in substitution.walk()
                    for inner in sub.commands
                    if _is_hash_command(inner)
                    for f in _hash_files(inner, sub, written) or []
                ]
                if files:
                    written["$" + variable] = " ".join(files)
        if command.name not in ("echo", "printf"):
            continue
        text = " ".join(w.text for w in command.argv()[1:] if not w.text.startswith("-")).replace("\\n", "\n")
        for redirect in command.redirects:
            if redirect.operator in (">", ">>") and redirect.target is not None:
                written[redirect.target.text] = written.get(redirect.target.text, "") + text + "\n"
    return written
