"""Parse ``strace -f -q -y --pidns-translation`` output into runtime events.

Two layers: :class:`StraceParser` turns lines into :class:`Syscall` records
(merging ``<unfinished ...>`` with ``<... resumed>``, decoding quoted strings,
keeping ``-y`` fd annotations), and :class:`TraceInterpreter` turns syscalls
into what a profile needs: programs executed, files read/written/probed,
network endpoints and the process tree, with relative paths resolved against
the directory fd or the tracked working directory.

Only processes of the sandboxed program count: the sandbox launcher's own
setup (bwrap mounting ``/newroot/...``) is ignored until a process executes
the entry program; children of counted processes count.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

#: Syscalls traced. "?" lets strace skip names the architecture lacks (open, stat on arm64).
TRACED_SYSCALLS = (
    "execve",
    "execveat",
    "open",
    "openat",
    "openat2",
    "creat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "connect",
    "bind",
    "sendto",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "chmod",
    "fchmodat",
    "mkdir",
    "mkdirat",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "truncate",
    "chdir",
    "fchdir",
    "clone",
    "clone3",
    "fork",
    "vfork",
)


def strace_argv(output: str, *, string_limit: int = 4096) -> list[str]:
    """The strace command prefix whose output this module parses."""
    return [
        "strace",
        "-f",
        # stop the tracee only on the traced syscalls (a seccomp filter), not on every
        # read/write/mmap: the difference between ~2.5x and ~1.5x slower runs
        "--seccomp-bpf",
        "-q",
        "-y",
        "-ttt",
        "--pidns-translation",
        "-s",
        str(string_limit),
        "-e",
        "trace=" + ",".join("?" + name for name in TRACED_SYSCALLS),
        "-o",
        output,
    ]


# -- records ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Syscall:
    pid: int
    name: str
    args: tuple[str, ...]  # raw top-level argument tokens
    result: str  # "0", "3</tmp/x>", "?", "2 /* 7327 in strace's PID NS */" is split off
    errno: str | None = None  # "ENOENT"
    timestamp: float | None = None
    comment: str | None = None  # "7327 in strace's PID NS"


@dataclass(frozen=True, slots=True)
class ProcessExit:
    pid: int
    code: int | None  # None when killed by a signal
    signal: str | None = None
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class SignalDelivery:
    pid: int
    signal: str
    timestamp: float | None = None


Record = Syscall | ProcessExit | SignalDelivery

_PREFIX_RE = re.compile(r"^(?:\[pid\s+)?(?P<pid>\d+)\]?\s+(?:(?P<ts>\d+(?:\.\d+)?)\s+)?(?P<rest>.*)$")
_TS_ONLY_RE = re.compile(r"^(?P<ts>\d+\.\d+)\s+(?P<rest>.*)$")
_RESUMED_RE = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>\s?(?P<rest>.*)$")
_CALL_RE = re.compile(r"^(?P<name>\w+)\((?P<rest>.*)$")
_RESULT_RE = re.compile(
    r"^\s*=\s*(?P<result>\?|-?\d+|0x[0-9a-f]+)(?P<annotation><.*>)?"
    r"(?:\s+(?P<errno>E[A-Z0-9]+)\s*(?:\([^)]*\))?)?(?:\s+\([^)]*\))?(?:\s*/\*\s*(?P<comment>.*?)\s*\*/)?\s*$"
)
_EXIT_RE = re.compile(r"^\+\+\+ (?:exited with (?P<code>\d+)|killed by (?P<signal>\w+)(?: \(core dumped\))?) \+\+\+$")
_SIGNAL_RE = re.compile(r"^--- (?P<signal>\w+) .*---$")
UNFINISHED = "<unfinished ...>"


class StraceParser:
    """Incremental line parser; feed lines, get complete records.

    Malformed lines are counted in :attr:`malformed` and skipped: a trace of a
    hostile program may contain anything in its strings, but strace's own
    framing is regular.
    """

    def __init__(self) -> None:
        self._pending: dict[int, tuple[str, str, float | None]] = {}
        self.malformed = 0

    def feed(self, line: str) -> Iterator[Record]:
        line = line.rstrip("\n")
        if not line.strip():
            return
        match = _PREFIX_RE.match(line)
        if match:
            pid = int(match["pid"])
            timestamp = float(match["ts"]) if match["ts"] else None
            rest = match["rest"]
        else:
            pid, timestamp, rest = 0, None, line
            ts_only = _TS_ONLY_RE.match(line)
            if ts_only:
                timestamp, rest = float(ts_only["ts"]), ts_only["rest"]
        if rest.startswith("+++"):
            exit_match = _EXIT_RE.match(rest)
            if exit_match:
                code = exit_match["code"]
                yield ProcessExit(pid, int(code) if code is not None else None, exit_match["signal"], timestamp)
            else:
                self.malformed += 1
            return
        if rest.startswith("---"):
            signal_match = _SIGNAL_RE.match(rest)
            if signal_match:
                yield SignalDelivery(pid, signal_match["signal"], timestamp)
            return
        resumed = _RESUMED_RE.match(rest)
        if resumed:
            pending = self._pending.pop(pid, None)
            if pending is None or pending[0] != resumed["name"]:
                self.malformed += 1
                return
            name, head, started = pending
            record = self._complete(pid, name, head + resumed["rest"], started)
        else:
            call = _CALL_RE.match(rest)
            if not call:
                self.malformed += 1
                return
            name, body = call["name"], call["rest"]
            if body.endswith(UNFINISHED):
                self._pending[pid] = (name, body[: -len(UNFINISHED)].rstrip(" "), timestamp)
                return
            record = self._complete(pid, name, body, timestamp)
        if record is None:
            self.malformed += 1
        else:
            yield record

    def feed_all(self, lines: Iterable[str]) -> Iterator[Record]:
        for line in lines:
            yield from self.feed(line)

    @staticmethod
    def _complete(pid: int, name: str, body: str, timestamp: float | None) -> Syscall | None:
        """``body`` is everything after ``name(``: args, ``)``, `` = result``."""
        try:
            args, end = split_args(body)
        except ValueError:
            return None
        result = _RESULT_RE.match(body[end:])
        if not result:
            return None
        value = result["result"] + (result["annotation"] or "")
        return Syscall(pid, name, tuple(args), value, result["errno"], timestamp, result["comment"])


_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def split_args(body: str) -> tuple[list[str], int]:
    """Split the argument list of ``name(...)``; returns tokens and the index after ``)``.

    Respects quoted strings (with escapes), nested brackets and fd annotations
    (``3</path/with, commas>``). Raises ValueError on unbalanced input.
    """
    args: list[str] = []
    stack: list[str] = []
    start = 0
    index = 0
    length = len(body)
    while index < length:
        char = body[index]
        if char == '"':
            index = _skip_string(body, index)
            continue
        if char == "<" and index > 0 and (body[index - 1].isdigit() or body[index - 1 : index].isalpha()):
            # an fd annotation: "3</etc/passwd>" or "AT_FDCWD</tmp>"; paths may hold anything but '>'
            close = _annotation_end(body, index)
            if close > 0:
                index = close + 1
                continue
        if char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif char in ")]}":
            if not stack:
                if char != ")":
                    raise ValueError("unbalanced bracket")
                token = body[start:index].strip()
                if token or args:
                    args.append(token)
                return args, index + 1
            if stack.pop() != char:
                raise ValueError("mismatched bracket")
        elif char == "," and not stack:
            args.append(body[start:index].strip())
            start = index + 1
        index += 1
    raise ValueError("unterminated argument list")


def _skip_string(body: str, index: int) -> int:
    """Index after the closing quote (and a ``...`` truncation marker)."""
    index += 1
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            index += 1
            if body.startswith("...", index):
                index += 3
            return index
        index += 1
    raise ValueError("unterminated string")


def _annotation_end(body: str, index: int) -> int:
    """Closing ``>`` of an fd annotation; -y escapes '>' in paths as \\x3e? No: strace quotes odd paths."""
    depth = 0
    for position in range(index, len(body)):
        if body[position] == "<":
            depth += 1
        elif body[position] == ">":
            depth -= 1
            if depth == 0:
                return position
        elif body[position] in "\n":
            return -1
    return -1


_ESCAPES = {"n": 0x0A, "t": 0x09, "r": 0x0D, "v": 0x0B, "f": 0x0C, "a": 0x07, "b": 0x08, "\\": 0x5C, '"': 0x22}


def decode_string(token: str) -> tuple[str, bool] | None:
    """Decode a strace string token; returns (text, truncated) or None when not a string.

    strace prints non-printable bytes as ``\\ooo`` or ``\\xhh``; bytes that are
    not UTF-8 come back as surrogate escapes so paths round-trip.
    """
    token = token.strip()
    truncated = token.endswith("...")
    if truncated:
        token = token[:-3]
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        return None
    inner = token[1:-1]
    out = bytearray()
    index = 0
    while index < len(inner):
        char = inner[index]
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            index += 1
            continue
        nxt = inner[index + 1 : index + 2]
        if nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", inner[index + 2 : index + 4]):
            out.append(int(inner[index + 2 : index + 4], 16))
            index += 4
        elif nxt.isdigit() and nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", inner[index + 1 :])
            assert digits is not None
            out.append(int(digits.group(), 8) & 0xFF)
            index += 1 + len(digits.group())
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            index += 2
        else:
            out += b"\\"
            index += 1
    return out.decode("utf-8", "surrogateescape"), truncated


def decode_string_array(token: str) -> list[str]:
    """``["sh", "-c", "x"]`` → list; a trailing ``...`` element (strace -s/-v cut) is dropped."""
    token = token.strip()
    if not token.startswith("["):
        return []
    try:
        items, _ = split_args(token[1:-1] + ")")
    except ValueError:
        return []
    values = []
    for item in items:
        decoded = decode_string(item)
        if decoded is not None:
            values.append(decoded[0])
    return values


def fd_annotation(token: str) -> str | None:
    """``3</etc/passwd>`` or ``AT_FDCWD</tmp>`` → ``/etc/passwd``; None without one."""
    match = re.match(r"^[\w-]+<(?P<path>.*)>$", token.strip(), re.DOTALL)
    if not match:
        return None
    value = match["path"]
    if value.startswith(("socket:", "pipe:", "anon_inode:", "TCP:", "UDP:", "UNIX")):
        return None
    return value.removesuffix(" (deleted)")


def fd_number(token: str) -> int | None:
    match = re.match(r"^(-?\d+)", token.strip())
    return int(match.group(1)) if match else None


# -- interpretation ---------------------------------------------------------


class Access(enum.StrEnum):
    """How a file was touched, strongest first."""

    EXECUTED = "executed"
    LOADED = "loaded"  # shared library mapped, Python module imported, JS required
    READ = "read"
    WRITTEN = "written"
    PROBED = "probed"  # stat/access or a failed open: existence only


@dataclass(frozen=True, slots=True)
class FileEvent:
    pid: int
    path: str  # as the program named it, made absolute
    access: Access
    resolved: str | None = None  # what the kernel opened (-y annotation), symlinks resolved
    ok: bool = True
    errno: str | None = None
    syscall: str = ""
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class ExecEvent:
    pid: int
    path: str
    argv: tuple[str, ...]
    ok: bool
    errno: str | None = None
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class NetworkEvent:
    pid: int
    operation: str  # connect, bind, sendto
    family: str  # inet, inet6, unix, netlink
    address: str
    port: int | None
    ok: bool
    errno: str | None = None
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class SpawnEvent:
    parent: int
    child: int
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class ExitEvent:
    pid: int
    code: int | None
    signal: str | None
    timestamp: float | None = None


Event = FileEvent | ExecEvent | NetworkEvent | SpawnEvent | ExitEvent

MAX_HELD_RECORDS = 10_000
LIBRARY_RE = re.compile(r"\.so(\.\d+)*$")
MODULE_SUFFIXES = (".py", ".pyc", ".pyo", ".js", ".mjs", ".cjs", ".node")
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
_PATH_WRITERS = {
    "unlink": (None, 0),
    "unlinkat": (0, 1),
    "rmdir": (None, 0),
    "chmod": (None, 0),
    "fchmodat": (0, 1),
    "mkdir": (None, 0),
    "mkdirat": (0, 1),
    "truncate": (None, 0),
    "symlink": (None, 1),
    "symlinkat": (1, 2),
    "link": (None, 1),
    "linkat": (2, 3),
}
_PROBES = {
    "stat": (None, 0),
    "lstat": (None, 0),
    "newfstatat": (0, 1),
    "statx": (0, 1),
    "access": (None, 0),
    "faccessat": (0, 1),
    "faccessat2": (0, 1),
    "readlink": (None, 0),
    "readlinkat": (0, 1),
}


def classify_read(path: str) -> Access:
    """A successful read-only open of ``path``: loaded code, or data."""
    name = posixpath.basename(path)
    if LIBRARY_RE.search(name) or name.endswith(MODULE_SUFFIXES):
        return Access.LOADED
    return Access.READ


@dataclass(slots=True)
class _Process:
    cwd: str = "/"
    fds: dict[int, str] = field(default_factory=dict)
    exe: str | None = None


class TraceInterpreter:
    """Turns :class:`Syscall` records into :class:`Event` objects.

    ``entry`` is the absolute path of the program the sandbox runs: processes
    count from their execve of it on (and all their descendants). With
    ``entry=None`` every process counts from its first record.
    ``strip_prefix`` removes a host path prefix from ``-y`` annotations, for
    engines whose paths appear as seen from the host.
    """

    def __init__(self, entry: str | None = None, strip_prefix: str | None = None) -> None:
        self._entry = entry
        self._strip = strip_prefix.rstrip("/") if strip_prefix else None
        self._processes: dict[int, _Process] = {}
        self._counted: set[int] = set()
        self._adopted: set[int] = set()  # children of uncounted (launcher) processes
        self._orphans: dict[int, list[Syscall]] = {}

    def process(self, records: Iterable[Record]) -> Iterator[Event]:
        for record in records:
            yield from self.handle(record)

    def handle(self, record: Record) -> Iterator[Event]:
        if isinstance(record, ProcessExit):
            if record.pid in self._counted:
                yield ExitEvent(record.pid, record.code, record.signal, record.timestamp)
            return
        if isinstance(record, SignalDelivery):
            return
        proc = self._processes.setdefault(record.pid, _Process())
        if record.name in ("execve", "execveat"):
            was_counted = record.pid in self._counted
            yield from self._exec(record, proc)
            if not was_counted and record.pid in self._counted:
                self._orphans.pop(record.pid, None)  # what it did before was the launcher's
            return
        if record.pid not in self._counted:
            if self._entry is None:
                self._counted.add(record.pid)
            else:
                if record.name in ("clone", "clone3", "fork", "vfork"):
                    child = _child_pid(record)
                    if child is not None:
                        self._processes[child] = _Process(proc.cwd, dict(proc.fds), proc.exe)
                        self._adopted.add(child)
                        self._orphans.pop(child, None)
                elif record.pid not in self._adopted:
                    # strace may print a child's first syscalls before its parent's clone
                    # returns: hold them until we learn whose child it is
                    held = self._orphans.setdefault(record.pid, [])
                    if len(held) < MAX_HELD_RECORDS:
                        held.append(record)
                return
        name = record.name
        if name in ("clone", "clone3", "fork", "vfork"):
            child = _child_pid(record)
            if child is not None:
                self._processes.setdefault(child, _Process(proc.cwd, dict(proc.fds), proc.exe))
                self._counted.add(child)
                yield SpawnEvent(record.pid, child, record.timestamp)
                for held_record in self._orphans.pop(child, []):
                    yield from self.handle(held_record)
        elif name in ("open", "openat", "openat2", "creat"):
            yield from self._open(record, proc)
        elif name in ("chdir", "fchdir"):
            if record.errno is None:
                target = (
                    self._path(record, proc, None, 0)
                    if name == "chdir"
                    else self._fd_path(record.args[0] if record.args else "", proc)
                )
                if target:
                    proc.cwd = target
        elif name in _PROBES:
            dirfd, index = _PROBES[name]
            path = self._path(record, proc, dirfd, index)
            if path:
                yield FileEvent(
                    record.pid, path, Access.PROBED, None, record.errno is None, record.errno, name, record.timestamp
                )
        elif name in _PATH_WRITERS or name in ("rename", "renameat", "renameat2"):
            yield from self._write_path(record, proc)
        elif name in ("connect", "bind", "sendto"):
            event = self._network(record)
            if event is not None:
                yield event

    # -- handlers ---------------------------------------------------------

    def _exec(self, record: Syscall, proc: _Process) -> Iterator[Event]:
        if record.name == "execve":
            path = self._path(record, proc, None, 0)
            argv_token = record.args[1] if len(record.args) > 1 else ""
        else:
            path = self._path(record, proc, 0, 1)
            argv_token = record.args[2] if len(record.args) > 2 else ""
        if not path:
            return
        ok = record.errno is None and record.result != "-1"
        if record.pid not in self._counted:
            if not ok or (self._entry is not None and path != self._entry):
                return
            self._counted.add(record.pid)
        if path in ("/proc/self/exe", f"/proc/{record.pid}/exe") and proc.exe:
            path = proc.exe  # busybox and friends re-execute themselves
        if ok:
            proc.exe = path
            proc.fds = {fd: p for fd, p in proc.fds.items() if fd <= 2}
        argv = tuple(decode_string_array(argv_token))
        yield ExecEvent(record.pid, path, argv, ok, record.errno, record.timestamp)
        yield FileEvent(
            record.pid,
            path,
            Access.EXECUTED if ok else Access.PROBED,
            None,
            ok,
            record.errno,
            record.name,
            record.timestamp,
        )

    def _open(self, record: Syscall, proc: _Process) -> Iterator[Event]:
        if record.name in {"open", "creat"}:
            path = self._path(record, proc, None, 0)
            flags = record.args[1] if len(record.args) > 1 and record.name == "open" else "O_WRONLY|O_CREAT"
        else:
            path = self._path(record, proc, 0, 1)
            flags = record.args[2] if len(record.args) > 2 else ""
        if not path:
            return
        resolved = self._fd_path(record.result, proc)
        ok = record.errno is None and not record.result.startswith("-")
        if ok:
            number = fd_number(record.result)
            if number is not None:
                proc.fds[number] = resolved or path
        writes = any(flag in flags for flag in _WRITE_FLAGS)
        if "O_DIRECTORY" in flags or "O_PATH" in flags:
            access = Access.PROBED
        elif writes:
            access = Access.WRITTEN
        else:
            access = classify_read(resolved or path)
        if not ok:
            access = Access.WRITTEN if writes and record.errno not in ("ENOENT", "ENOTDIR") else Access.PROBED
        yield FileEvent(record.pid, path, access, resolved, ok, record.errno, record.name, record.timestamp)

    def _write_path(self, record: Syscall, proc: _Process) -> Iterator[Event]:
        ok = record.errno is None
        if record.name in ("rename", "renameat", "renameat2"):
            positions: list[tuple[int | None, int]] = (
                [(None, 0), (None, 1)] if record.name == "rename" else [(0, 1), (2, 3)]
            )
        else:
            positions = [_PATH_WRITERS[record.name]]
        for dirfd, index in positions:
            path = self._path(record, proc, dirfd, index)
            if path:
                yield FileEvent(record.pid, path, Access.WRITTEN, None, ok, record.errno, record.name, record.timestamp)

    def _network(self, record: Syscall) -> NetworkEvent | None:
        index = 4 if record.name == "sendto" else 1
        if len(record.args) <= index:
            return None
        parsed = parse_sockaddr(record.args[index])
        if parsed is None:
            return None
        family, address, port = parsed
        ok = record.errno is None or record.errno == "EINPROGRESS"
        return NetworkEvent(record.pid, record.name, family, address, port, ok, record.errno, record.timestamp)

    # -- paths ------------------------------------------------------------

    def _clean(self, path: str) -> str:
        if self._strip and (path == self._strip or path.startswith(self._strip + "/")):
            path = path[len(self._strip) :] or "/"
        return path

    def _fd_path(self, token: str, proc: _Process) -> str | None:
        annotated = fd_annotation(token)
        if annotated is not None and annotated.startswith("/"):
            return self._clean(annotated)
        number = fd_number(token)
        return proc.fds.get(number) if number is not None else None

    def _path(self, record: Syscall, proc: _Process, dirfd_index: int | None, path_index: int) -> str | None:
        if len(record.args) <= path_index:
            return None
        decoded = decode_string(record.args[path_index])
        if decoded is None:
            return None
        path = decoded[0]
        if not path:
            if dirfd_index is not None and len(record.args) > dirfd_index:
                return self._fd_path(record.args[dirfd_index], proc)  # AT_EMPTY_PATH
            return None
        if path.startswith("/"):
            return posixpath.normpath(path).replace("//", "/")
        base: str | None = None
        if dirfd_index is not None and len(record.args) > dirfd_index:
            token = record.args[dirfd_index]
            base = self._fd_path(token, proc)
            if base is None and token.strip().startswith("AT_FDCWD"):
                base = proc.cwd
        if base is None:
            base = proc.cwd
        return posixpath.normpath(posixpath.join(base, path))


def _child_pid(record: Syscall) -> int | None:
    if record.errno is not None or record.result.startswith("-"):
        return None
    if record.comment:
        match = re.match(r"(\d+) in strace's PID NS", record.comment)
        if match:
            return int(match.group(1))
    number = fd_number(record.result)
    return number if number and number > 0 else None


_INET_RE = re.compile(r'sin_port=htons\((?P<port>\d+)\).*?sin_addr=inet_addr\("(?P<addr>[^"]*)"\)')
_INET6_RE = re.compile(r'sin6_port=htons\((?P<port>\d+)\).*?inet_pton\(AF_INET6, "(?P<addr>[^"]*)"')
_UNIX_RE = re.compile(r"sun_path=(?P<path>@?\"(?:[^\"\\]|\\.)*\")")


def parse_sockaddr(token: str) -> tuple[str, str, int | None] | None:
    """``{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("1.2.3.4")}`` → ("inet", "1.2.3.4", 80)."""
    token = token.strip()
    if not token.startswith("{sa_family="):
        return None
    family = token[len("{sa_family=") :].split(",", 1)[0].rstrip("}")
    if family == "AF_INET":
        match = _INET_RE.search(token)
        return ("inet", match["addr"], int(match["port"])) if match else None
    if family == "AF_INET6":
        match6 = _INET6_RE.search(token)
        return ("inet6", match6["addr"], int(match6["port"])) if match6 else None
    if family in ("AF_UNIX", "AF_LOCAL"):
        unix = _UNIX_RE.search(token)
        if not unix:
            return ("unix", "", None)
        raw = unix["path"]
        abstract = raw.startswith("@")
        decoded = decode_string(raw.lstrip("@"))
        path = decoded[0] if decoded else ""
        return ("unix", ("@" if abstract else "") + path, None)
    if family == "AF_NETLINK":
        return None  # kernel chatter (interface lookups), not an endpoint
    return (family.removeprefix("AF_").lower(), "", None)


def parse_trace(lines: Iterable[str], entry: str | None = None, strip_prefix: str | None = None) -> list[Event]:
    """Parse a whole strace output file's lines into events."""
    parser = StraceParser()
    interpreter = TraceInterpreter(entry, strip_prefix)
    return list(interpreter.process(parser.feed_all(lines)))
