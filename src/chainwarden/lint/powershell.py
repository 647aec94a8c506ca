"""Just enough PowerShell to follow downloads in Windows images' ``RUN`` steps.

Windows images run ``RUN`` through ``SHELL ["powershell", "-Command", …]``:
``Invoke-WebRequest -Uri $url -OutFile go.zip``, then ``if ((Get-FileHash
go.zip -Algorithm sha256).Hash -ne $sha256) { exit 1 }``, then
``Expand-Archive go.zip``. The script is cut into statements (on ``;`` and new
lines outside quotes, parentheses and braces); an ``if`` keeps its condition
and its bodies, so a hash comparison whose failing branch exits is a check
that stops the build, exactly as ``sha256sum -c`` under ``set -e`` is in the
POSIX model. Not an interpreter: nothing is expanded or run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Cmdlets and programs that download to a file (``-OutFile``/``-Destination``) or a string.
_DOWNLOAD = re.compile(
    r"(?i)(?<![\w-])(Invoke-WebRequest|iwr|Invoke-RestMethod|irm|Start-BitsTransfer|curl(\.exe)?|wget)\b"
)
_OUTFILE = re.compile(r"(?i)-(?:OutFile|Destination)\s+('[^']*'|\"[^\"]*\"|\([^)]*\)|\S+)")
_DOWNLOAD_FILE = re.compile(r"(?i)\.DownloadFile\(\s*([^,]+),\s*('[^']*'|\"[^\"]*\"|[^)]+)\)")
_CURL_OUTPUT = re.compile(r"(?i)\s-o\s+('[^']*'|\"[^\"]*\"|\S+)")
_STRING_DOWNLOAD = re.compile(r"(?i)\.DownloadString\(|(?<![\w-])(Invoke-WebRequest|iwr|Invoke-RestMethod|irm)\b")
_RUN_STRING = re.compile(r"(?i)(?<![\w-])(iex|Invoke-Expression)\b|\[scriptblock\]::Create")
_HASH = re.compile(
    r"(?i)(Get-FileHash|certutil(\.exe)?\s+-hashfile|Get-AuthenticodeSignature)\s+"
    r"(?:-(?:Path|LiteralPath|FilePath)\s+)?('[^']*'|\"[^\"]*\"|[^\s();,]+)"
)
#: Signature verifiers run as native programs (``& 'C:/…/gpgv.exe' --keyring k x.asc x``).
_VERIFIER = re.compile(
    r"(?i)(?<![\w-])(gpgv2?(\.exe)?|gpg2?(\.exe)?['\"]?\s.*--verify|minisign(\.exe)?['\"]?\s.*-V"
    r"|signify(\.exe)?['\"]?\s.*-V|cosign(\.exe)?['\"]?\s+verify-blob)"
)
_MISMATCH = re.compile(r"(?i)\s-(c|i)?(ne|notlike|notmatch)\s|!=")
_EXITS = re.compile(r"(?i)(?<![\w-])(exit\s*(?!0\b)[\d$(]|exit\s*$|throw\b)")
#: Commands that unpack, install or run the file they are given.
_USES = re.compile(
    r"(?i)(?<![\w-])(Expand-Archive|Start-Process|msiexec(\.exe)?|tar(\.exe)?|7z(\.exe)?|Copy-Item|Move-Item"
    r"|Invoke-Item|Import-Module|Add-AppxPackage|Install-Package|dism(\.exe)?|Add-WindowsPackage)\b|(^|\s)&\s"
)
_URL = re.compile(r"(?i)(https?://\S+|\$env:\w+|\$\w+)")


@dataclass(slots=True)
class Statement:
    text: str
    offset: int  # of ``text[0]`` in the analysed script
    condition: str | None = None  # ``if (…)``
    condition_offset: int = 0
    body: list[Statement] = field(default_factory=list)
    otherwise: list[Statement] = field(default_factory=list)  # ``else {…}`` (``elseif`` folded in)


def _skip_quoted(text: str, index: int) -> int:
    quote = text[index]
    index += 1
    while index < len(text):
        char = text[index]
        if char == "`" and quote == '"':
            index += 2
            continue
        if char == quote:
            if text.startswith(quote * 2, index):  # '' inside '…'
                index += 2
                continue
            return index + 1
        index += 1
    return len(text)


def _matching(text: str, index: int, opener: str, closer: str) -> int:
    """Index just after the ``closer`` matching the ``opener`` at ``index``."""
    depth = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            index = _skip_quoted(text, index)
            continue
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def parse(text: str, base: int = 0) -> list[Statement]:
    """Statements of ``text``; ``base`` is the offset of ``text`` in the analysed script."""
    statements: list[Statement] = []
    index = 0
    while index < len(text):
        while index < len(text) and text[index] in " \t\r\n;":
            index += 1
        if index >= len(text):
            break
        if text[index] == "#":
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        match = re.match(r"(?i)if\s*\(", text[index:])
        if match:
            statement, index = _parse_if(text, index, base)
            statements.append(statement)
            continue
        start = index
        while index < len(text) and text[index] not in ";\n":
            char = text[index]
            if char in "'\"":
                index = _skip_quoted(text, index)
            elif char == "(":
                index = _matching(text, index, "(", ")")
            elif char == "{":
                index = _matching(text, index, "{", "}")
            else:
                index += 1
        chunk = text[start:index].rstrip()
        if chunk:
            statements.append(Statement(chunk, base + start))
    return statements


def _parse_if(text: str, index: int, base: int) -> tuple[Statement, int]:
    open_paren = text.index("(", index)
    close = _matching(text, open_paren, "(", ")")
    condition = text[open_paren + 1 : close - 1]
    statement = Statement(text[index:close], base + index, condition, base + open_paren + 1)
    cursor = close
    brace = _next_brace(text, cursor)
    if brace is None:
        return statement, cursor
    end = _matching(text, brace, "{", "}")
    statement.body = parse(text[brace + 1 : end - 1], base + brace + 1)
    cursor = end
    while True:
        rest = re.match(r"(?is)\s*(elseif\s*\(|else\s*\{)", text[cursor:])
        if rest is None:
            break
        if rest.group(1).lower().startswith("elseif"):
            nested, cursor = _parse_if(text, cursor + rest.start(1) + 4, base)
            statement.otherwise.append(nested)
            break
        brace = cursor + rest.end(1) - 1
        end = _matching(text, brace, "{", "}")
        statement.otherwise = parse(text[brace + 1 : end - 1], base + brace + 1)
        cursor = end
        break
    statement.text = text[index:cursor]
    return statement, cursor


def _next_brace(text: str, index: int) -> int | None:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index if index < len(text) and text[index] == "{" else None


def name_of(token: str) -> str:
    """``'C:\\tmp\\go.zip'``, ``"go.zip"``, ``$plugin`` → ``go.zip`` / ``$plugin`` (case-folded)."""
    token = token.strip().strip("()").strip().strip("'\"")
    token = re.split(r"[\\/]", token)[-1]
    return token.lower()


def exits(statements: list[Statement]) -> bool:
    return any(_EXITS.search(s.text) or exits(s.body) or exits(s.otherwise) for s in statements)


@dataclass(frozen=True, slots=True)
class Download:
    name: str
    offset: int  # of the URL (or the cmdlet) in the script
    command: str


@dataclass(frozen=True, slots=True)
class Event:
    """What the flow found: an unverified use, or a download run as code."""

    kind: str  # "unverified", "runs-download"
    offset: int
    detail: str
    checked: bool = False


@dataclass(slots=True)
class PowerShellFlow:
    """Download → verify → use over the statements of a stage's PowerShell RUN steps."""

    pending: dict[str, Download] = field(default_factory=dict)  # downloaded, unchecked (name → download)
    verified: set[str] = field(default_factory=set)
    weakly_checked: set[str] = field(default_factory=set)

    def run(self, text: str) -> list[Event]:
        events: list[Event] = []
        statements = parse(text)
        self._walk(statements, set(), events, last=statements[-1] if statements else None)
        return events

    def _walk(
        self, statements: list[Statement], guarded: set[str], events: list[Event], last: Statement | None = None
    ) -> None:
        for statement in statements:
            if statement.condition is not None:
                self._if(statement, guarded, events)
                continue
            if _VERIFIER.search(statement.text):
                self._verifier(statement, final=statement is last)
                continue
            self._statement(statement.text, statement.offset, guarded, events)

    def _verifier(self, statement: Statement, *, final: bool) -> None:
        """A native verifier fails the RUN only as its last statement: PowerShell 5 does not stop on a
        failing native command even with ``$ErrorActionPreference = 'Stop'``, but ``-Command`` exits
        with the status of the last one."""
        tokens = {name_of(t) for t in re.findall(r"[^\s,;()@'\"]+", statement.text)}
        named = [name for name in self.pending if name in tokens] or list(self.pending)
        (self.verified if final else self.weakly_checked).update(named)

    def _if(self, statement: Statement, guarded: set[str], events: list[Event]) -> None:
        condition = statement.condition or ""
        checked = [name_of(m.group(3)) for m in _HASH.finditer(condition)]
        checked = [name for name in checked if name in self.pending] or (list(self.pending) if checked else [])
        if checked:
            mismatch = bool(_MISMATCH.search(f" {condition} "))
            failing, passing = (
                (statement.body, statement.otherwise) if mismatch else (statement.otherwise, statement.body)
            )
            if exits(failing):
                self.verified.update(checked)
            else:
                self.weakly_checked.update(checked)
            self._walk(passing, guarded | set(checked), events)
            self._walk(failing, guarded, events)
            return
        self._statement(condition, statement.condition_offset, guarded, events)
        self._walk(statement.body, guarded, events)
        self._walk(statement.otherwise, guarded, events)

    def _statement(self, text: str, offset: int, guarded: set[str], events: list[Event]) -> None:
        fetched = _STRING_DOWNLOAD.search(text)
        if fetched is not None and _RUN_STRING.search(text) and _OUTFILE.search(text) is None:
            url = _URL.search(text, fetched.end())
            where = offset + (url.start() if url is not None else fetched.start())
            events.append(Event("runs-download", where, "downloaded script run by Invoke-Expression"))
            return
        download = _DOWNLOAD.search(text)
        target = _OUTFILE.search(text) or _DOWNLOAD_FILE.search(text)
        if download is not None and target is None and download.group(1).lower().startswith("curl"):
            target = _CURL_OUTPUT.search(text)
        if target is not None and (download is not None or target.re is _DOWNLOAD_FILE):
            path = target.group(target.lastindex or 1)
            url = _URL.search(text, (download.end() if download is not None else target.start()))
            where = offset + (url.start() if url is not None else 0)
            name = name_of(path)
            self.pending[name] = Download(name, where, download.group(1) if download else "DownloadFile")
            self.verified.discard(name)
            return
        for match in _HASH.finditer(text):  # a hash computed outside an ``if``: not a check that stops
            self.weakly_checked.add(name_of(match.group(3)))
        use = _USES.search(text)
        tokens = [name_of(t) for t in re.findall(r"[^\s,;()@'\"]+", text)]
        first = tokens[0] if tokens else ""
        runs = first.startswith(".") or first in self.pending
        if use is None and not runs:
            return
        for name in list(self.pending):
            if name not in tokens or name in self.verified or name in guarded:
                continue
            record = self.pending.pop(name)
            command = use.group(0).strip() if use is not None else name
            events.append(
                Event(
                    "unverified",
                    record.offset,
                    f"{name} is used by {command} without a checksum or signature check",
                    checked=name in self.weakly_checked,
                )
            )
