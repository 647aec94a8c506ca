"""Run a program from an image rootfs in a bubblewrap (or podman) sandbox.

The rootfs directory is bound as ``/`` inside fresh mount, pid, ipc and uts
namespaces, with a new ``/proc``, a minimal ``/dev`` and a tmpfs ``/tmp``.
The network namespace is new too unless ``--net host`` is asked: inside it
only a loopback interface exists, so nothing outside is reachable.

Tracing wraps the launcher from the host (``strace -f … bwrap …``): bwrap is
not setuid when we run as root, so ptrace follows it into the namespaces,
and ``--pidns-translation`` reports every pid as the host sees it.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainwarden.errors import UsageError
from chainwarden.runtime.interface import SandboxError
from chainwarden.runtime.trace import strace_argv
from chainwarden.sources.interface import EntryType
from chainwarden.sources.rootfs import DirectoryView

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: What the sandbox shows a probe of stdout/stderr at most; the rest is cut.
MAX_CAPTURE = 4 * 1024 * 1024


class NetMode(enum.StrEnum):
    NONE = "none"  # a fresh network namespace: loopback only, nobody can reach in
    LOOPBACK = "loopback"  # the same namespace, entered from the host for --http probes
    HOST = "host"  # the host's network: dangerous by name, opt-in only


class Engine(enum.StrEnum):
    BWRAP = "bwrap"
    PODMAN = "podman"


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """What to run: argv (argv[0] absolute after :meth:`Sandbox.resolve`), Env, WorkingDir, User."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = "/"
    user: str = ""

    @classmethod
    def from_image_config(cls, config: Mapping[str, Any], override: Sequence[str] | None = None) -> ProcessSpec:
        """The image's Entrypoint+Cmd (or ``override``), Env, WorkingDir and User.

        ``override`` replaces Cmd *and* Entrypoint, like ``docker run --entrypoint``:
        a probe names the whole command.
        """
        entrypoint = _string_list(config.get("Entrypoint"))
        cmd = _string_list(config.get("Cmd"))
        argv = tuple(override) if override else tuple(entrypoint + cmd)
        env: list[tuple[str, str]] = []
        for item in _string_list(config.get("Env")):
            name, sep, value = item.partition("=")
            if sep and name:
                env.append((name, value))
        if not any(name == "PATH" for name, _ in env):
            env.insert(0, ("PATH", DEFAULT_PATH))
        workdir = config.get("WorkingDir") or "/"
        user = config.get("User") or ""
        return cls(argv, tuple(env), str(workdir), str(user))

    def environment(self) -> dict[str, str]:
        return dict(self.env)


def parse_probe(command: str) -> tuple[str, ...]:
    """``--probe "python3 -c 'print(1)'"`` → argv, shell-split like a Dockerfile CMD."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise UsageError(f"--probe {command!r}: {exc}") from exc
    if not argv:
        raise UsageError("--probe: empty command")
    return argv


def _string_list(value: object) -> list[str]:
    if isinstance(value, str):
        return ["/bin/sh", "-c", value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


@dataclass(frozen=True, slots=True)
class RunResult:
    argv: tuple[str, ...]
    exit_code: int | None  # None: killed by the wall-clock limit or stopped
    timed_out: bool
    stdout: bytes
    stderr: bytes
    duration: float
    trace: Path | None = None
    signal: str | None = None


def require_tool(name: str, package: str) -> str:
    """Absolute path of a host tool, or a SandboxError saying how to get it."""
    path = shutil.which(name)
    if path is None:
        raise SandboxError(f"{name} is not installed; install the Debian package {package} (apt-get install {package})")
    return path


@dataclass(slots=True)
class Sandbox:
    """A rootfs and how to run programs from it."""

    rootfs: Path
    net: NetMode = NetMode.NONE
    engine: Engine = Engine.BWRAP
    timeout: float = 60.0
    extra_binds: Sequence[tuple[Path, str]] = field(default_factory=tuple)

    # -- preparing a command ------------------------------------------------

    def resolve(self, spec: ProcessSpec) -> ProcessSpec:
        """Make argv[0] absolute by searching PATH inside the rootfs, like execvp would."""
        if not spec.argv:
            raise UsageError("the image has neither Entrypoint nor Cmd; give a command with --probe")
        program = spec.argv[0]
        view = DirectoryView(self.rootfs)
        if "/" in program:
            candidate = program if program.startswith("/") else f"{spec.workdir.rstrip('/')}/{program}"
            if not _is_executable(view, candidate):
                raise SandboxError(f"{program}: not an executable file in the image")
            return ProcessSpec((candidate, *spec.argv[1:]), spec.env, spec.workdir, spec.user)
        for directory in spec.environment().get("PATH", DEFAULT_PATH).split(":"):
            candidate = f"{directory.rstrip('/') or ''}/{program}"
            if directory and _is_executable(view, candidate):
                return ProcessSpec((candidate, *spec.argv[1:]), spec.env, spec.workdir, spec.user)
        raise SandboxError(f"{program}: not found in the image's PATH")

    def _ids(self, user: str) -> tuple[int, int] | None:
        if not user or user in ("root", "0", "0:0"):
            return None
        name, _, group = user.partition(":")
        uid = _lookup_id(self.rootfs / "etc/passwd", name)
        gid_from_passwd = _passwd_gid(self.rootfs / "etc/passwd", name)
        gid = _lookup_id(self.rootfs / "etc/group", group) if group else gid_from_passwd
        if uid is None:
            raise SandboxError(f"image User {user!r}: no such user in /etc/passwd")
        return uid, gid if gid is not None else uid

    def command(self, spec: ProcessSpec, *, info_fd: int | None = None, container: str | None = None) -> list[str]:
        """The launcher argv (bwrap or podman) for an already resolved ``spec``.

        ``container`` names the podman container, so that it can be removed by
        name: killing the podman client does not stop a container.
        """
        if self.engine is Engine.PODMAN:
            return self._podman_command(spec, container)
        bwrap = require_tool("bwrap", "bubblewrap")
        argv = [bwrap, "--die-with-parent", "--unshare-ipc", "--unshare-pid", "--unshare-uts"]
        argv += ["--unshare-cgroup-try", "--hostname", "chainwarden"]
        if self.net is not NetMode.HOST:
            argv.append("--unshare-net")  # bwrap brings up "lo" in the new namespace
        ids = self._ids(spec.user)
        if ids is not None:
            argv += ["--unshare-user", "--uid", str(ids[0]), "--gid", str(ids[1])]
        argv += ["--bind", str(self.rootfs), "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108 - a sandbox mount point
        for host_path, inside in self.extra_binds:
            argv += ["--ro-bind", str(host_path), inside]
        argv.append("--clearenv")
        for name, value in spec.env:
            argv += ["--setenv", name, value]
        argv += ["--chdir", spec.workdir or "/"]
        if info_fd is not None:
            argv += ["--info-fd", str(info_fd)]
        argv += ["--", *spec.argv]
        return argv

    def _podman_command(self, spec: ProcessSpec, container: str | None = None) -> list[str]:
        podman = require_tool("podman", "podman")
        network = {NetMode.NONE: "none", NetMode.LOOPBACK: "none", NetMode.HOST: "host"}[self.net]
        # podman here needs an explicit runtime and ulimits: the defaults it
        # derives from a container host do not exist in a nested sandbox
        argv = [podman, "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024"]
        if container is not None:
            argv += ["--name", container]
        argv += ["--ulimit", "nproc=4096:4096", "--network", network, "--workdir", spec.workdir or "/"]
        if spec.user:
            argv += ["--user", spec.user]
        for name, value in spec.env:
            argv += ["--env", f"{name}={value}"]
        argv += ["--entrypoint", spec.argv[0], "--rootfs", str(self.rootfs), *spec.argv[1:]]
        return argv

    def prepare(self, spec: ProcessSpec) -> ProcessSpec:
        """Resolve argv[0] and create WorkingDir (as ``docker run`` does)."""
        resolved = self.resolve(spec)
        workdir = resolved.workdir or "/"
        host = self.rootfs / workdir.lstrip("/")
        if not _inside_without_links(self.rootfs, workdir):
            raise SandboxError(f"WorkingDir {workdir}: reached through a symlink or not a directory")
        host.mkdir(parents=True, exist_ok=True)
        return resolved

    # -- running ------------------------------------------------------------

    def run(self, spec: ProcessSpec, *, trace: Path | None = None, stdin: bytes = b"") -> RunResult:
        """Run ``spec`` to completion (or the wall-clock limit); capture output."""
        with self.start(spec, trace=trace) as process:
            return process.wait(self.timeout, stdin)

    def start(self, spec: ProcessSpec, *, trace: Path | None = None) -> SandboxedProcess:
        """Start ``spec`` in the background (for servers); stop it with :meth:`SandboxedProcess.stop`."""
        prepared = self.prepare(spec)
        read_end, write_end = os.pipe()
        container = f"chainwarden-{uuid.uuid4().hex[:16]}" if self.engine is Engine.PODMAN else None
        argv = self.command(prepared, info_fd=write_end if self.engine is Engine.BWRAP else None, container=container)
        if trace is not None:
            require_tool("strace", "strace")
            argv = strace_argv(str(trace)) + argv
        argv = _die_with_us(argv)
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_end,),
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", DEFAULT_PATH), "LANG": "C.UTF-8"},
            )
        except OSError as exc:
            os.close(read_end)
            raise SandboxError(f"cannot start the sandbox ({exc.strerror or exc})") from exc
        finally:
            os.close(write_end)
        return SandboxedProcess(prepared.argv, popen, read_end, trace, container=container)


def _die_with_us(argv: list[str]) -> list[str]:
    """Prefix ``argv`` so that its first process gets SIGKILL when chainwarden dies.

    strace (or bwrap, when untraced) runs in its own session, so Ctrl-C never
    reaches it; if chainwarden itself is killed (SIGKILL, OOM) nothing else
    would stop it. ``setpriv --pdeathsig`` asks the kernel to kill it then;
    bwrap's ``--die-with-parent`` carries that on into the sandbox, whose pid
    namespace dies with its init.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *argv] if setpriv else argv


class SandboxedProcess:
    """A running sandbox; knows the host pid of the sandbox's pid-namespace init.

    Used as a context manager, leaving the block (normally, on an error, or on
    Ctrl-C/SIGTERM) kills whatever still runs: strace, bwrap and every process
    of the sandbox, before the caller removes the rootfs under them.
    """

    def __init__(
        self,
        argv: tuple[str, ...],
        popen: subprocess.Popen[bytes],
        info_read: int,
        trace: Path | None,
        *,
        container: str | None = None,
    ):
        self.argv = argv
        self.container = container  # podman: the container's name, removed by name when killed
        self._popen = popen
        self._trace = trace
        self._started = time.monotonic()
        self._info: dict[str, Any] = {}
        self._info_ready = threading.Event()
        self._info_thread = threading.Thread(target=self._read_info, args=(info_read,), daemon=True)
        self._info_thread.start()

    def _read_info(self, fd: int) -> None:
        buffer = b""
        try:
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return
                buffer += chunk
                with contextlib.suppress(ValueError):
                    value = json.loads(buffer)
                    if isinstance(value, dict):
                        self._info = value
                        return
        finally:
            self._info_ready.set()
            os.close(fd)

    def namespace_pid(self, timeout: float = 10.0) -> int | None:
        """Host pid of the sandbox's pid 1 (its namespaces are the sandbox's)."""
        self._info_ready.wait(timeout)
        pid = self._info.get("child-pid")
        return pid if isinstance(pid, int) else None

    def __enter__(self) -> SandboxedProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.terminate()

    def running(self) -> bool:
        return self._popen.poll() is None

    def terminate(self) -> None:
        """Kill the sandbox if it still runs and reap it; never raises."""
        if self._popen.returncode is None:
            self._kill()
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._popen.wait(timeout=10)
        for stream in (self._popen.stdin, self._popen.stdout, self._popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def wait(self, timeout: float, stdin: bytes = b"") -> RunResult:
        timed_out = False
        try:
            stdout, stderr = self._popen.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill()
            stdout, stderr = self._popen.communicate()
        except BaseException:
            # Ctrl-C or SIGTERM while the probe runs: the sandbox must not outlive us
            self.terminate()
            raise
        return self._result(stdout, stderr, timed_out)

    def stop(self) -> RunResult:
        """Kill the whole sandbox (pid-namespace init first) and collect output."""
        self._kill()
        try:
            stdout, stderr = self._popen.communicate()
        except BaseException:
            self.terminate()
            raise
        return self._result(stdout, stderr, False)

    def _kill(self) -> None:
        if self.container is not None:
            _remove_container(self.container)
        init = self.namespace_pid(timeout=0.5)
        if init is not None:
            # killing a pid namespace's init kills every process in it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(init, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)

    def _result(self, stdout: bytes, stderr: bytes, timed_out: bool) -> RunResult:
        code = self._popen.returncode
        sig: str | None = None
        if code is not None and code < 0:
            sig = signal.Signals(-code).name if -code in {s.value for s in signal.Signals} else str(-code)
            code = None
        if timed_out:
            code = None
        return RunResult(
            self.argv,
            code,
            timed_out,
            stdout[:MAX_CAPTURE],
            stderr[:MAX_CAPTURE],
            time.monotonic() - self._started,
            self._trace,
            sig,
        )


def _remove_container(name: str) -> None:
    """Kill and remove a podman container at once; podman's client dying would leave it running."""
    podman = shutil.which("podman")
    if podman is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [podman, "rm", "--force", "--time", "0", "--ignore", name],
            capture_output=True,
            timeout=30,
            check=False,
            env={"PATH": os.environ.get("PATH", DEFAULT_PATH), "LANG": "C.UTF-8"},
        )


# -- HTTP probes -------------------------------------------------------------

_CLIENT = r"""
import json, socket, sys, time, urllib.request, urllib.error, hashlib
spec = json.loads(sys.argv[1])
deadline = time.monotonic() + spec["wait"]
while True:
    try:
        socket.create_connection(("127.0.0.1", spec["port"]), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            print(json.dumps({"error": "port %d did not open within %ss" % (spec["port"], spec["wait"])}))
            sys.exit(0)
        time.sleep(0.05)
results = []
for method, path in spec["requests"]:
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (spec["port"], path), method=method)
    try:
        with urllib.request.urlopen(request, timeout=spec["timeout"]) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except OSError as exc:
        body, status = str(exc).encode(), None
    results.append({"status": status, "body": body[:65536].decode("utf-8", "replace"),
                    "sha256": hashlib.sha256(body).hexdigest()})
print(json.dumps({"results": results}))
"""


@dataclass(frozen=True, slots=True)
class HttpResult:
    method: str
    path: str
    status: int | None
    body_sha256: str
    body: str


def http_requests_in_namespace(
    ns_pid: int, port: int, requests: Sequence[tuple[str, str]], *, wait: float, timeout: float = 10.0
) -> list[HttpResult]:
    """Perform HTTP requests from the host *inside* the sandbox's network namespace.

    ``nsenter --net`` joins only the network namespace: the client is the
    host's Python, so nothing from the image runs for it and the image's
    trace stays the server's own. Non-root hosts also join the user namespace
    that owns it.
    """
    nsenter = require_tool("nsenter", "util-linux")
    argv = [nsenter, "--target", str(ns_pid), "--net"]
    if os.geteuid() != 0:
        argv += ["--user", "--preserve-credentials"]
    payload = json.dumps({"port": port, "requests": list(requests), "wait": wait, "timeout": timeout})
    argv += ["--", sys.executable, "-I", "-c", _CLIENT, payload]
    argv = _die_with_us(argv)  # run from a watcher thread, it must not outlive an interrupted chainwarden
    try:
        done = subprocess.run(argv, capture_output=True, timeout=wait + timeout * len(requests) + 5, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"HTTP probes against port {port} did not finish") from exc
    try:
        answer = json.loads(done.stdout or b"{}")
    except ValueError as exc:
        raise SandboxError(f"HTTP client failed: {done.stderr.decode(errors='replace').strip()[:200]}") from exc
    if "error" in answer:
        raise SandboxError(f"HTTP probes: {answer['error']}")
    if "results" not in answer:
        raise SandboxError(f"HTTP client failed: {done.stderr.decode(errors='replace').strip()[:200]}")
    return [
        HttpResult(method, path, item["status"], item["sha256"], item["body"])
        for (method, path), item in zip(requests, answer["results"], strict=True)
    ]


def port_open_on_host(port: int) -> bool:
    """For ``--net host`` servers: whether 127.0.0.1:port accepts connections."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


# -- helpers -----------------------------------------------------------------


def _is_executable(view: DirectoryView, path: str) -> bool:
    try:
        entry = view.entry(view.resolve(path))
    except Exception:  # a symlink loop is simply "not executable"
        return False
    return entry is not None and entry.type is EntryType.FILE and bool(entry.mode & 0o111)


def _inside_without_links(root: Path, path: str) -> bool:
    current = root
    for part in [p for p in path.split("/") if p]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return True  # the rest is created by us
        if not stat.S_ISDIR(st.st_mode):
            return False
    return True


def _lookup_id(table: Path, name: str) -> int | None:
    if name.isdigit():
        return int(name)
    try:
        lines = table.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return None


def _passwd_gid(table: Path, name: str) -> int | None:
    try:
        lines = table.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and (fields[0] == name or fields[2] == name) and fields[3].isdigit():
            return int(fields[3])
    return None
