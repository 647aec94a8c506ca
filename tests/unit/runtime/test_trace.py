"""The strace parser: framing, merging, strings, paths, and the semantic layer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chainwarden.runtime.trace import (
    Access,
    ExecEvent,
    ExitEvent,
    FileEvent,
    NetworkEvent,
    ProcessExit,
    SpawnEvent,
    StraceParser,
    Syscall,
    decode_string,
    parse_sockaddr,
    parse_trace,
    split_args,
)

SAMPLE = r"""
7325  1795442086.500000 execve("/usr/bin/bwrap", ["bwrap", "--bind", "/tmp/r", "/"], 0x7ffd /* 35 vars */) = 0
7326  1795442086.510000 openat(AT_FDCWD</>, "/newroot/dev/null", O_RDONLY|O_CLOEXEC|O_PATH) = 5</newroot/dev/null>
7326  1795442086.520000 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 2 /* 7327 in strace's PID NS */
7327  1795442086.530000 execve("/bin/sh", ["/bin/sh", "-c", "cd /etc; cat passwd"], 0x7fff /* 3 vars */) = 0
7327  1795442086.531000 openat(AT_FDCWD</>, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3</usr/lib/x86_64-linux-gnu/libc.so.6>
7327  1795442086.532000 chdir("/etc") = 0
7327  1795442086.533000 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>
7328  1795442086.534000 execve("/bin/cat", ["cat", "passwd"], 0x1 /* 3 vars */ <unfinished ...>
7327  1795442086.535000 <... clone resumed>) = 3 /* 7328 in strace's PID NS */
7328  1795442086.536000 <... execve resumed>) = 0
7328  1795442086.537000 openat(AT_FDCWD, "passwd", O_RDONLY) = 3
7328  1795442086.538000 openat(AT_FDCWD</etc>, "shadow", O_RDONLY) = -1 ENOENT (No such file or directory)
7328  1795442086.539000 newfstatat(AT_FDCWD</etc>, "group", {st_mode=S_IFREG|0644, st_size=10, ...}, 0) = 0
7328  1795442086.540000 openat(AT_FDCWD</etc>, "out, with comma>", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4</etc/out, with comma>>
7328  1795442086.541000 connect(5<socket:[1]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("93.184.216.34")}, 16) = -1 ENETUNREACH (Network is unreachable)
7328  1795442086.542000 connect(5<socket:[2]>, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
7328  1795442086.543000 openat(AT_FDCWD</etc>, "/usr/lib/python3.11/os.py", O_RDONLY|O_CLOEXEC) = 3</usr/lib/python3.11/os.py>
7328  1795442086.544000 unlinkat(AT_FDCWD</etc>, "stale", 0) = 0
7328  1795442086.545000 renameat2(AT_FDCWD</etc>, "a.tmp", AT_FDCWD</etc>, "a", RENAME_NOREPLACE) = 0
7328  1795442086.546000 execve("/proc/self/exe", ["cat", "x"], 0x1 /* 3 vars */) = 0
7328  1795442086.547000 +++ exited with 1 +++
7327  1795442086.548000 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=3, si_status=1} ---
7327  1795442086.549000 +++ killed by SIGKILL +++
garbage line that strace never writes
"""


def _events() -> list[object]:
    return list(parse_trace(SAMPLE.splitlines(), entry="/bin/sh"))


def test_launcher_setup_is_ignored() -> None:
    events = _events()
    assert not any(isinstance(e, FileEvent) and e.path.startswith("/newroot") for e in events)
    assert not any(isinstance(e, ExecEvent) and e.path == "/usr/bin/bwrap" for e in events)


def test_unfinished_and_resumed_are_merged_and_pids_translated() -> None:
    events = _events()
    assert SpawnEvent(7327, 7328, 1795442086.533) in events
    execs = [e for e in events if isinstance(e, ExecEvent)]
    assert [(e.path, e.argv) for e in execs][:2] == [
        ("/bin/sh", ("/bin/sh", "-c", "cd /etc; cat passwd")),
        ("/bin/cat", ("cat", "passwd")),
    ]


def test_paths_resolve_against_cwd_and_fd_annotations() -> None:
    files = {(e.path, e.access, e.ok) for e in _events() if isinstance(e, FileEvent)}
    assert ("/etc/passwd", Access.READ, True) in files  # relative to the cwd inherited after chdir
    assert ("/etc/shadow", Access.PROBED, False) in files  # ENOENT: existence, not access
    assert ("/etc/group", Access.PROBED, True) in files
    assert ("/etc/out, with comma>", Access.WRITTEN, True) in files
    assert ("/etc/stale", Access.WRITTEN, True) in files
    assert ("/etc/a", Access.WRITTEN, True) in files and ("/etc/a.tmp", Access.WRITTEN, True) in files


def test_libraries_and_modules_count_as_loaded_with_the_real_path() -> None:
    loaded = [e for e in _events() if isinstance(e, FileEvent) and e.access is Access.LOADED]
    assert {(e.path, e.resolved) for e in loaded} == {
        ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ("/usr/lib/python3.11/os.py", "/usr/lib/python3.11/os.py"),
    }


def test_network_exits_and_self_exec() -> None:
    events = _events()
    network = [(e.family, e.address, e.port, e.ok) for e in events if isinstance(e, NetworkEvent)]
    assert network == [("inet", "93.184.216.34", 443, False), ("inet6", "::1", 80, True)]
    exits = [(e.pid, e.code, e.signal) for e in events if isinstance(e, ExitEvent)]
    assert exits == [(7328, 1, None), (7327, None, "SIGKILL")]
    self_exec = [e for e in events if isinstance(e, ExecEvent) and e.argv == ("cat", "x")]
    assert self_exec[0].path == "/bin/cat"  # /proc/self/exe is the program already running


def test_malformed_lines_are_counted_not_fatal() -> None:
    parser = StraceParser()
    records = list(parser.feed_all(['12 open("/x", O_RDONLY', "12 <... read resumed>) = 0", "nonsense"]))
    assert records == []
    assert parser.malformed == 3


def test_lines_without_pid_prefix() -> None:
    records = list(StraceParser().feed('openat(AT_FDCWD, "/etc/hosts", O_RDONLY) = 3'))
    assert isinstance(records[0], Syscall)
    assert records[0].args[1] == '"/etc/hosts"'
    exit_records = list(StraceParser().feed("+++ exited with 0 +++"))
    assert exit_records == [ProcessExit(0, 0, None, None)]


def test_decode_string_escapes_and_truncation() -> None:
    assert decode_string(r'"a\nb\t\"q\"\\"') == ('a\nb\t"q"\\', False)
    assert decode_string(r'"\x41\101\0"') == ("AA\x00", False)
    assert decode_string('"long"...') == ("long", True)
    assert decode_string("NULL") is None
    text, _ = decode_string(r'"\377"') or ("", False)
    assert text.encode("utf-8", "surrogateescape") == b"\xff"


def test_unix_and_unknown_sockaddrs() -> None:
    assert parse_sockaddr('{sa_family=AF_UNIX, sun_path="/run/nscd/socket"}') == ("unix", "/run/nscd/socket", None)
    assert parse_sockaddr('{sa_family=AF_UNIX, sun_path=@"abstract"}') == ("unix", "@abstract", None)
    assert parse_sockaddr("{sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}") is None
    assert parse_sockaddr("NULL") is None


_PRINTABLE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.lists(_PRINTABLE, min_size=1, max_size=6))
def test_split_args_round_trips_any_quoted_strings(values: list[str]) -> None:
    body = ", ".join(_quote(v) for v in values) + ") = 0"
    args, end = split_args(body)
    assert [decode_string(a) for a in args] == [(v, False) for v in values]
    assert body[end:] == " = 0"


@given(st.text(max_size=200))
def test_parser_never_raises_on_arbitrary_lines(line: str) -> None:
    parser = StraceParser()
    list(parser.feed(line))
    list(parser.feed("1 " + line))
    list(parser.feed("1 openat(" + line))


@given(st.binary(max_size=30))
def test_octal_escapes_decode_any_bytes(data: bytes) -> None:
    token = '"' + "".join(f"\\{b:03o}" for b in data) + '"'
    decoded = decode_string(token)
    assert decoded is not None
    assert decoded[0].encode("utf-8", "surrogateescape") == data
