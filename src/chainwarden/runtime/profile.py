"""Execution profiles: run probes in the sandbox, trace them, map files to packages.

A profile answers "what did this image actually do": which programs ran (with
argv), which files were executed, loaded (shared objects mapped, Python
modules imported, JavaScript required), read, written or only probed for
existence, which network endpoints were used, the process tree, and — for
every package of the inventory — whether any of its files was used, and which.

The JSON form is documented in ``docs/profile-schema.md`` and validated by
:data:`PROFILE_SCHEMA` on load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import stat
import struct
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainwarden.errors import Error, UsageError
from chainwarden.models import Ecosystem, Inventory, Package, TargetInfo
from chainwarden.runtime.interface import ProfileError, SandboxError
from chainwarden.runtime.sandbox import (
    Engine,
    HttpResult,
    NetMode,
    ProcessSpec,
    RunResult,
    Sandbox,
    http_requests_in_namespace,
)
from chainwarden.runtime.trace import (
    Access,
    Event,
    ExecEvent,
    ExitEvent,
    FileEvent,
    NetworkEvent,
    SpawnEvent,
    StraceParser,
    TraceInterpreter,
)
from chainwarden.sources import SourceOptions
from chainwarden.sources.interface import ProgressCallback, Source
from chainwarden.sources.rootfs import DirectoryView

SCHEMA_ID = "https://chainwarden.dev/schemas/profile-1.json"
FORMAT = "chainwarden-profile/1"
#: Paths that are not part of the image: kernel and sandbox file systems.
VIRTUAL_PREFIXES = ("/proc/", "/sys/", "/dev/")
VIRTUAL_ROOTS = ("/proc", "/sys", "/dev")
#: Strongest first: a package's status is its strongest file access.
ACCESS_ORDER = (Access.EXECUTED, Access.LOADED, Access.READ, Access.WRITTEN, Access.PROBED)
#: Accesses that make a package "used" (stat-only existence checks do not).
USE_ACCESSES = frozenset({Access.EXECUTED, Access.LOADED, Access.READ, Access.WRITTEN})
EXCERPT = 4096


# -- probes ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One thing to run. ``command`` None means the image's own Entrypoint/Cmd.

    ``kind`` "http": the command is started as a server, ``requests`` are sent
    to ``port`` from inside its network namespace, then it is stopped.
    """

    kind: str  # "command" | "http"
    command: tuple[str, ...] | None = None
    requests: tuple[tuple[str, str], ...] = ()
    port: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "command": list(self.command) if self.command is not None else None,
            "requests": [f"{method}:{path}" for method, path in self.requests],
            "port": self.port,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeSpec:
        requests = tuple(parse_http_request(r) for r in data.get("requests") or ())
        command = data.get("command")
        return cls(str(data["kind"]), tuple(command) if command is not None else None, requests, data.get("port"))


def parse_http_request(text: str) -> tuple[str, str]:
    """``GET:/health`` → ("GET", "/health")."""
    method, sep, path = text.partition(":")
    method = method.strip().upper()
    if not sep or not method.isalpha() or not path.startswith("/"):
        raise UsageError(f"--http {text!r}: expected METHOD:/path, e.g. GET:/health")
    return method, path


@dataclass(frozen=True, slots=True)
class ProbeResult:
    name: str
    spec: ProbeSpec
    argv: tuple[str, ...]
    exit_code: int | None
    signal: str | None
    timed_out: bool
    duration: float
    stdout_sha256: str
    stderr_sha256: str
    stdout: str  # first EXCERPT characters, for humans
    stderr: str
    http: tuple[HttpResult, ...] = ()

    def outcome(self) -> tuple[object, ...]:
        """What must not change when the image is hardened."""
        if self.spec.kind == "http":
            return tuple((r.method, r.path, r.status, r.body_sha256) for r in self.http)
        return (self.exit_code, self.signal, self.timed_out, self.stdout_sha256, self.stderr_sha256)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec.to_json(),
            "argv": list(self.argv),
            "exit_code": self.exit_code,
            "signal": self.signal,
            "timed_out": self.timed_out,
            "duration": round(self.duration, 3),
            "stdout_sha256": self.stdout_sha256,
            "stderr_sha256": self.stderr_sha256,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "http": [
                {"method": r.method, "path": r.path, "status": r.status, "body_sha256": r.body_sha256}
                for r in self.http
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProbeResult:
        return cls(
            data["name"],
            ProbeSpec.from_json(data["spec"]),
            tuple(data["argv"]),
            data["exit_code"],
            data.get("signal"),
            bool(data["timed_out"]),
            float(data.get("duration", 0.0)),
            data["stdout_sha256"],
            data["stderr_sha256"],
            data.get("stdout", ""),
            data.get("stderr", ""),
            tuple(
                HttpResult(h["method"], h["path"], h["status"], h["body_sha256"], "") for h in data.get("http") or ()
            ),
        )


# -- the profile ---------------------------------------------------------------


@dataclass(slots=True)
class FileUse:
    path: str  # real path inside the rootfs (symlinks resolved)
    accesses: set[Access] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)  # other names it was reached by
    missing: bool = False  # only ever seen as ENOENT

    def strongest(self) -> Access:
        return next(a for a in ACCESS_ORDER if a in self.accesses)


@dataclass(frozen=True, slots=True)
class ProgramRun:
    pid: int
    path: str  # as executed
    resolved: str  # real path in the rootfs
    argv: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    operation: str
    family: str
    address: str
    port: int | None
    ok: bool

    def label(self) -> str:
        where = f"{self.address}:{self.port}" if self.port is not None else self.address
        return f"{self.operation} {self.family} {where}"


@dataclass(slots=True)
class ProcessNode:
    pid: int
    parent: int | None
    probe: str
    exe: str | None = None
    argv: tuple[str, ...] = ()
    exit_code: int | None = None
    signal: str | None = None


@dataclass(frozen=True, slots=True)
class PackageUse:
    purl: str
    name: str
    version: str
    ecosystem: str
    status: str  # executed | loaded | read | written | unused
    files: dict[str, tuple[str, ...]]  # access → real paths

    @property
    def used(self) -> bool:
        return self.status != "unused"


@dataclass(slots=True)
class Profile:
    """Everything one or more probes did, aggregated."""

    target: dict[str, Any]
    net: str
    probes: list[ProbeResult] = field(default_factory=list)
    programs: list[ProgramRun] = field(default_factory=list)
    files: dict[str, FileUse] = field(default_factory=dict)
    network: list[Endpoint] = field(default_factory=list)
    processes: dict[int, ProcessNode] = field(default_factory=dict)
    packages: list[PackageUse] = field(default_factory=list)
    image_files: dict[str, str] = field(default_factory=dict)  # path → "sha256:…" or "symlink:target"
    notes: list[str] = field(default_factory=list)

    # queries ------------------------------------------------------------------
    def accessed(self, accesses: Iterable[Access] = USE_ACCESSES) -> set[str]:
        wanted = set(accesses)
        return {path for path, use in self.files.items() if use.accesses & wanted}

    def summary(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for package in self.packages:
            counts = result.setdefault(package.ecosystem, {"total": 0, "used": 0})
            counts["total"] += 1
            counts["used"] += int(package.used)
        return result

    # JSON ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "$schema": SCHEMA_ID,
            "format": FORMAT,
            "target": self.target,
            "net": self.net,
            "probes": [p.to_json() for p in self.probes],
            "programs": [
                {"pid": r.pid, "path": r.path, "resolved": r.resolved, "argv": list(r.argv)} for r in self.programs
            ],
            "files": [
                {
                    "path": use.path,
                    "access": sorted(a.value for a in use.accesses),
                    "aliases": sorted(use.aliases),
                    "missing": use.missing,
                }
                for use in sorted(self.files.values(), key=lambda u: u.path)
            ],
            "network": [
                {"operation": e.operation, "family": e.family, "address": e.address, "port": e.port, "ok": e.ok}
                for e in self.network
            ],
            "processes": [
                {
                    "pid": n.pid,
                    "parent": n.parent,
                    "probe": n.probe,
                    "exe": n.exe,
                    "argv": list(n.argv),
                    "exit_code": n.exit_code,
                    "signal": n.signal,
                }
                for n in sorted(self.processes.values(), key=lambda n: n.pid)
            ],
            "packages": [
                {
                    "purl": p.purl,
                    "name": p.name,
                    "version": p.version,
                    "ecosystem": p.ecosystem,
                    "status": p.status,
                    "files": {k: list(v) for k, v in p.files.items()},
                }
                for p in self.packages
            ],
            "summary": self.summary(),
            "image_files": dict(sorted(self.image_files.items())),
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: Any, where: str = "profile") -> Profile:
        validate_profile(data, where)
        profile = cls(dict(data["target"]), str(data["net"]))
        profile.probes = [ProbeResult.from_json(p) for p in data["probes"]]
        profile.programs = [ProgramRun(r["pid"], r["path"], r["resolved"], tuple(r["argv"])) for r in data["programs"]]
        for item in data["files"]:
            profile.files[item["path"]] = FileUse(
                item["path"], {Access(a) for a in item["access"]}, set(item.get("aliases", ())), item["missing"]
            )
        profile.network = [
            Endpoint(e["operation"], e["family"], e["address"], e["port"], e["ok"]) for e in data["network"]
        ]
        for node in data["processes"]:
            profile.processes[node["pid"]] = ProcessNode(
                node["pid"],
                node["parent"],
                node["probe"],
                node["exe"],
                tuple(node["argv"]),
                node["exit_code"],
                node["signal"],
            )
        profile.packages = [
            PackageUse(
                p["purl"],
                p["name"],
                p["version"],
                p["ecosystem"],
                p["status"],
                {k: tuple(v) for k, v in p["files"].items()},
            )
            for p in data["packages"]
        ]
        profile.image_files = dict(data.get("image_files", {}))
        profile.notes = list(data.get("notes", []))
        return profile

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"


def load_profile(path: Path) -> Profile:
    """Read and validate a profile JSON file."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile ({exc.strerror})") from exc
    if len(text) > 512 * 1024 * 1024:
        raise ProfileError(f"{path}: profile is over 512 MiB")
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: not a JSON profile ({exc})") from exc
    return Profile.from_json(data, str(path))


_STR = {"type": "string"}
_INT_OR_NULL = {"type": ["integer", "null"]}
_STR_OR_NULL = {"type": ["string", "null"]}
_STR_LIST = {"type": "array", "items": _STR}
_ACCESS = {"enum": [a.value for a in Access]}

#: JSON Schema (draft 2020-12) of a profile; docs/profile-schema.md explains each field.
PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "type": "object",
    "required": ["format", "target", "net", "probes", "programs", "files", "network", "processes", "packages"],
    "properties": {
        "format": {"const": FORMAT},
        "target": {
            "type": "object",
            "required": ["reference", "kind"],
            "properties": {"reference": _STR, "kind": _STR, "digest": _STR_OR_NULL, "config_digest": _STR_OR_NULL},
        },
        "net": {"enum": [m.value for m in NetMode]},
        "probes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "spec", "argv", "exit_code", "timed_out", "stdout_sha256", "stderr_sha256"],
                "properties": {
                    "name": _STR,
                    "spec": {
                        "type": "object",
                        "required": ["kind"],
                        "properties": {
                            "kind": {"enum": ["command", "http"]},
                            "command": {"type": ["array", "null"], "items": _STR},
                            "requests": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z]+:/"}},
                            "port": _INT_OR_NULL,
                        },
                    },
                    "argv": _STR_LIST,
                    "exit_code": _INT_OR_NULL,
                    "signal": _STR_OR_NULL,
                    "timed_out": {"type": "boolean"},
                    "stdout_sha256": _STR,
                    "stderr_sha256": _STR,
                    "http": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["method", "path", "status", "body_sha256"],
                            "properties": {
                                "method": _STR,
                                "path": _STR,
                                "status": _INT_OR_NULL,
                                "body_sha256": _STR,
                            },
                        },
                    },
                },
            },
        },
        "programs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pid", "path", "resolved", "argv"],
                "properties": {"pid": {"type": "integer"}, "path": _STR, "resolved": _STR, "argv": _STR_LIST},
            },
        },
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "access", "missing"],
                "properties": {
                    "path": _STR,
                    "access": {"type": "array", "items": _ACCESS, "minItems": 1},
                    "aliases": _STR_LIST,
                    "missing": {"type": "boolean"},
                },
            },
        },
        "network": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["operation", "family", "address", "port", "ok"],
                "properties": {
                    "operation": {"enum": ["connect", "bind", "sendto"]},
                    "family": _STR,
                    "address": _STR,
                    "port": _INT_OR_NULL,
                    "ok": {"type": "boolean"},
                },
            },
        },
        "processes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pid", "parent", "probe", "exe", "argv", "exit_code", "signal"],
                "properties": {
                    "pid": {"type": "integer"},
                    "parent": _INT_OR_NULL,
                    "probe": _STR,
                    "exe": _STR_OR_NULL,
                    "argv": _STR_LIST,
                    "exit_code": _INT_OR_NULL,
                    "signal": _STR_OR_NULL,
                },
            },
        },
        "packages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["purl", "name", "version", "ecosystem", "status", "files"],
                "properties": {
                    "purl": _STR,
                    "name": _STR,
                    "version": _STR,
                    "ecosystem": {"enum": [e.value for e in Ecosystem]},
                    "status": {"enum": ["executed", "loaded", "read", "written", "unused"]},
                    "files": {"type": "object", "additionalProperties": _STR_LIST},
                },
            },
        },
        "summary": {"type": "object"},
        "image_files": {"type": "object", "additionalProperties": _STR},
        "notes": _STR_LIST,
    },
}


def validate_profile(data: Any, where: str = "profile") -> None:
    """Raise ProfileError with the first schema violation, in one line."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(PROFILE_SCHEMA)
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.path))), None)
    if error is not None:
        location = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ProfileError(f"{where}: invalid profile at {location}: {error.message[:200]}")


# -- building a profile ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileOptions:
    net: NetMode = NetMode.NONE
    engine: Engine = Engine.BWRAP
    timeout: float = 60.0  # per probe
    server_wait: float = 20.0  # how long an --http server may take to open its port
    keep_rootfs: Path | None = None  # for debugging: materialise here and keep it
    source: SourceOptions | None = None  # --platform, layer cache, --insecure-registry


@contextlib.contextmanager
def prepared_rootfs(
    target: str,
    *,
    progress: ProgressCallback | None = None,
    dest: Path | None = None,
    source_options: SourceOptions | None = None,
) -> Iterator[tuple[TargetInfo, dict[str, Any], Path]]:
    """Open ``target`` and write its filesystem to a temp dir: (info, image config, rootfs)."""
    from chainwarden.api import open_target
    from chainwarden.sources.image import ImageSource
    from chainwarden.sources.materialize import copy_rootfs
    from chainwarden.sources.rootfs import DirectorySource

    workdir = Path(tempfile.mkdtemp(prefix="chainwarden-rootfs-")) if dest is None else dest
    rootfs = workdir / "rootfs"
    try:
        with open_target(target, source_options) as source:
            info = source.info
            config: dict[str, Any] = {}
            if isinstance(source, DirectorySource):
                copy_rootfs(source.root, rootfs)
            elif isinstance(source, ImageSource):
                raw = source.image_config().get("config")
                config = raw if isinstance(raw, dict) else {}
                source.materialize(rootfs, progress)
            else:
                _materialize_generic(source, rootfs, progress)
        yield info, config, rootfs
    finally:
        if dest is None:
            remove_tree(workdir)


def _materialize_generic(source: Source, rootfs: Path, progress: ProgressCallback | None) -> None:
    source.materialize(rootfs, progress)


def remove_tree(path: Path) -> None:
    """Remove a temp tree even when it holds read-only directories."""

    def fix(function: Callable[..., object], failed: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            function(failed)

    if path.exists():
        shutil.rmtree(path, onerror=fix)


def default_probes(
    commands: Sequence[Sequence[str]], requests: Sequence[tuple[str, str]], port: int | None
) -> list[ProbeSpec]:
    """``--probe`` commands, plus one server probe for ``--http``; the image CMD when neither is given."""
    probes = [ProbeSpec("command", tuple(c)) for c in commands]
    if requests:
        if port is None:
            raise UsageError("--http needs --port (the port the image's server listens on)")
        probes.append(ProbeSpec("http", None, tuple(requests), port))
    if not probes:
        probes.append(ProbeSpec("command", None))
    return probes


def run_probes(
    rootfs: Path,
    config: dict[str, Any],
    probes: Sequence[ProbeSpec],
    options: ProfileOptions,
    trace_dir: Path,
    *,
    traced: bool = True,
) -> list[tuple[ProbeResult, Path | None, str]]:
    """Run every probe in order; returns (result, trace file, entry program path) for each."""
    results = []
    for number, probe in enumerate(probes, 1):
        name = f"probe-{number}"
        spec = ProcessSpec.from_image_config(config, probe.command)
        net = options.net
        if probe.kind == "http" and net is NetMode.NONE:
            net = NetMode.LOOPBACK
        sandbox = Sandbox(rootfs, net=net, engine=options.engine, timeout=options.timeout)
        trace = trace_dir / f"{name}.strace" if traced else None
        if probe.kind == "http":
            run, http = _run_http(sandbox, spec, probe, options, trace)
        else:
            run = sandbox.run(spec, trace=trace)
            http = ()
        results.append((_probe_result(name, probe, run, http), trace, run.argv[0]))
    return results


def _run_http(
    sandbox: Sandbox, spec: ProcessSpec, probe: ProbeSpec, options: ProfileOptions, trace: Path | None
) -> tuple[RunResult, tuple[HttpResult, ...]]:
    assert probe.port is not None
    if sandbox.net is NetMode.HOST:
        raise UsageError("--http probes run the server in its own network namespace; do not combine with --net host")
    with sandbox.start(spec, trace=trace) as process:
        try:
            ns_pid = process.namespace_pid()
            if ns_pid is None:
                raise SandboxError("the sandbox did not report its pid; cannot reach the server")
            http = http_requests_in_namespace(ns_pid, probe.port, probe.requests, wait=options.server_wait)
        except Error:
            result = process.stop()
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise SandboxError(
                f"server {' '.join(result.argv)[:80]}: HTTP probes failed"
                + (f"; it said: {detail[-1][:160]}" if detail else "")
            ) from None
        result = process.wait(1.0) if not process.running() else process.stop()
    return result, tuple(http)


def _probe_result(name: str, spec: ProbeSpec, run: RunResult, http: tuple[HttpResult, ...]) -> ProbeResult:
    # a server is stopped on purpose: its own exit code is not an outcome
    stopped = spec.kind == "http"
    return ProbeResult(
        name,
        spec,
        run.argv,
        None if stopped else run.exit_code,
        None if stopped else run.signal,
        False if stopped else run.timed_out,
        run.duration,
        _sha256(run.stdout) if not stopped else _sha256(b""),
        _sha256(run.stderr) if not stopped else _sha256(b""),
        run.stdout[:EXCERPT].decode("utf-8", "replace"),
        run.stderr[:EXCERPT].decode("utf-8", "replace"),
        http,
    )


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ProfileBuilder:
    """Aggregates trace events of several probes over one rootfs."""

    def __init__(self, rootfs: Path, profile: Profile) -> None:
        self.rootfs = rootfs
        self.view = DirectoryView(rootfs)
        self.profile = profile
        self._seen_endpoints: set[Endpoint] = set()

    def real_path(self, path: str) -> str:
        try:
            return self.view.resolve(path)
        except Error:
            return posixpath.normpath(path)

    def add_events(self, events: Iterable[Event], probe: str) -> None:
        for event in events:
            self.add_event(event, probe)

    def add_event(self, event: Event, probe: str) -> None:
        profile = self.profile
        if isinstance(event, SpawnEvent):
            node = profile.processes.setdefault(event.child, ProcessNode(event.child, event.parent, probe))
            node.parent = event.parent
            parent = profile.processes.get(event.parent)
            if parent is not None and node.exe is None:
                node.exe, node.argv = parent.exe, parent.argv
        elif isinstance(event, ExecEvent):
            if not event.ok:
                return
            node = profile.processes.setdefault(event.pid, ProcessNode(event.pid, None, probe))
            node.exe, node.argv = event.path, event.argv
            resolved = self.real_path(event.path)
            profile.programs.append(ProgramRun(event.pid, event.path, resolved, event.argv))
            for named, access in self.implied_by_exec(resolved):
                self._record(named, self.real_path(named), access, ok=True)
        elif isinstance(event, ExitEvent):
            node = profile.processes.setdefault(event.pid, ProcessNode(event.pid, None, probe))
            node.exit_code, node.signal = event.code, event.signal
        elif isinstance(event, NetworkEvent):
            endpoint = Endpoint(event.operation, event.family, event.address, event.port, event.ok)
            if endpoint not in self._seen_endpoints:
                self._seen_endpoints.add(endpoint)
                profile.network.append(endpoint)
        else:
            self.add_file_event(event)

    def add_file_event(self, event: FileEvent) -> None:
        path = event.path
        if path.startswith(VIRTUAL_PREFIXES) or path in VIRTUAL_ROOTS:
            return
        if event.resolved and event.resolved.startswith("/") and not event.resolved.startswith(VIRTUAL_PREFIXES):
            real = event.resolved
        else:
            real = self.real_path(path)
        if real.startswith(VIRTUAL_PREFIXES) or real in VIRTUAL_ROOTS:
            return
        self._record(path, real, event.access, ok=event.ok)

    def _record(self, path: str, real: str, access: Access, *, ok: bool) -> None:
        use = self.profile.files.get(real)
        if use is None:
            use = self.profile.files[real] = FileUse(real, missing=not ok)
        elif ok:
            use.missing = False
        use.accesses.add(access if ok or access is Access.WRITTEN else Access.PROBED)
        if path != real:
            use.aliases.add(path)

    def implied_by_exec(self, real: str) -> list[tuple[str, Access]]:
        """Files the kernel opens for an exec without a traced syscall, by the name it uses.

        The ELF interpreter (dynamic loader) and a script's ``#!`` interpreter
        are mapped by the kernel itself; strace never sees them opened. The
        name is kept as written (``/lib64/ld-linux-x86-64.so.2``,
        ``/usr/bin/env``): the symlinks crossed to reach it are needed too.
        """
        host = self.rootfs / real.lstrip("/")
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return []
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return []
            head = os.pread(fd, 4096, 0)
            implied: list[tuple[str, Access]] = []
            if head.startswith(b"#!"):
                line = head[2:].split(b"\n", 1)[0].strip().split()
                if line:
                    named = line[0].decode("utf-8", "surrogateescape")
                    interpreter = self.real_path(named)
                    implied.append((named, Access.EXECUTED))
                    implied += self.implied_by_exec(interpreter) if interpreter != real else []
            elif head.startswith(b"\x7fELF"):
                loader = elf_interpreter(fd)
                if loader:
                    implied.append((loader, Access.LOADED))
            return implied
        finally:
            os.close(fd)

    # package view ------------------------------------------------------------
    def package_view(self, inventory: Inventory) -> list[PackageUse]:
        uses: list[PackageUse] = []
        for package in inventory.packages:
            uses.append(self._package_use(package))
        uses.sort(key=lambda u: (u.ecosystem, u.name, u.version))
        return uses

    def _package_use(self, package: Package) -> PackageUse:
        found: dict[str, set[str]] = {}
        for owned in package.files:
            real = self.real_path(owned)
            use = self.profile.files.get(real)
            if use is None or use.missing:
                continue
            for access in use.accesses:
                if access in USE_ACCESSES:
                    found.setdefault(access.value, set()).add(real)
        status = next((a.value for a in ACCESS_ORDER if a.value in found), "unused")
        return PackageUse(
            package.purl,
            package.name,
            package.version,
            package.ecosystem.value,
            status,
            {k: tuple(sorted(v)) for k, v in sorted(found.items())},
        )


def elf_interpreter(fd: int) -> str | None:
    """PT_INTERP of an ELF file (64- or 32-bit, either endianness), or None."""
    try:
        ident = os.pread(fd, 64, 0)
        if len(ident) < 52 or ident[:4] != b"\x7fELF":
            return None
        is64 = ident[4] == 2
        order = "<" if ident[5] == 1 else ">"
        if is64:
            phoff, phentsize, phnum = (
                struct.unpack_from(order + "Q", ident, 32)[0],
                *struct.unpack_from(order + "HH", ident, 54),
            )
        else:
            phoff, phentsize, phnum = (
                struct.unpack_from(order + "I", ident, 28)[0],
                *struct.unpack_from(order + "HH", ident, 42),
            )
        if phnum > 256 or phentsize < 32:
            return None
        table = os.pread(fd, phentsize * phnum, phoff)
        for index in range(phnum):
            entry = table[index * phentsize : (index + 1) * phentsize]
            if len(entry) < phentsize or struct.unpack_from(order + "I", entry, 0)[0] != 3:  # PT_INTERP
                continue
            if is64:
                offset, size = (
                    struct.unpack_from(order + "Q", entry, 8)[0],
                    struct.unpack_from(order + "Q", entry, 32)[0],
                )
            else:
                offset, size = (
                    struct.unpack_from(order + "I", entry, 4)[0],
                    struct.unpack_from(order + "I", entry, 16)[0],
                )
            if size > 4096:
                return None
            return os.pread(fd, size, offset).rstrip(b"\x00").decode("utf-8", "replace")
    except (OSError, struct.error):
        return None
    return None


def file_manifest(rootfs: Path) -> dict[str, str]:
    """path → ``sha256:…`` (regular files) or ``symlink:TARGET``, for drift detection."""
    manifest: dict[str, str] = {}
    for current, dirs, files in os.walk(rootfs):
        rel = os.path.relpath(current, rootfs)
        base = "/" if rel == "." else "/" + rel
        if base == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in dirs + files:
            host = os.path.join(current, name)
            path = posixpath.join(base, name)
            st = os.lstat(host)
            if stat.S_ISLNK(st.st_mode):
                manifest[path] = "symlink:" + os.readlink(host)
            elif stat.S_ISREG(st.st_mode):
                manifest[path] = "sha256:" + _hash_file(host)
    return manifest


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def events_from_trace(trace: Path, entry: str) -> list[Event]:
    parser = StraceParser()
    interpreter = TraceInterpreter(entry)
    try:
        with trace.open(encoding="utf-8", errors="surrogateescape") as handle:
            return list(interpreter.process(parser.feed_all(handle)))
    except OSError as exc:
        raise SandboxError(f"cannot read the trace {trace} ({exc.strerror})") from exc


def target_json(info: TargetInfo) -> dict[str, Any]:
    return {
        "reference": info.reference,
        "kind": info.kind,
        "digest": info.digest,
        "config_digest": info.config_digest,
        "platform": info.platform,
    }


def profile_rootfs(
    rootfs: Path,
    info: TargetInfo,
    config: dict[str, Any],
    probes: Sequence[ProbeSpec],
    options: ProfileOptions,
    inventory: Inventory | None,
    *,
    manifest: bool = True,
) -> Profile:
    """Profile an already prepared rootfs (the building block of profile/harden/watch).

    ``manifest`` False skips hashing every file of the image (``image_files``),
    for callers that only compare probe outcomes.
    """
    profile = Profile(target_json(info), options.net.value)
    if manifest:
        profile.image_files = file_manifest(rootfs)
    builder = ProfileBuilder(rootfs, profile)
    with tempfile.TemporaryDirectory(prefix="chainwarden-trace-") as trace_dir:
        for result, trace, entry in run_probes(rootfs, config, probes, options, Path(trace_dir)):
            profile.probes.append(result)
            if trace is not None:
                builder.add_events(events_from_trace(trace, entry), result.name)
    if inventory is not None:
        profile.packages = builder.package_view(inventory)
    else:
        profile.notes.append("no inventory: package view left empty")
    return profile


def profile_target(
    target: str,
    probes: Sequence[ProbeSpec],
    options: ProfileOptions | None = None,
    *,
    inventory: Inventory | None = None,
    progress: ProgressCallback | None = None,
) -> Profile:
    """Materialise ``target``, run ``probes`` traced in the sandbox, and build its profile.

    The inventory (for the package view) is built from ``target`` unless given.
    """
    options = options or ProfileOptions()
    if inventory is None:
        from chainwarden.api import build_inventory

        inventory = build_inventory(target, options=options.source, progress=progress)
    with prepared_rootfs(target, progress=progress, dest=options.keep_rootfs, source_options=options.source) as (
        info,
        config,
        rootfs,
    ):
        if not config and any(p.command is None for p in probes):
            raise UsageError(f"{target}: no image config (Entrypoint/Cmd); give the command with --probe")
        return profile_rootfs(rootfs, info, config, probes, options, inventory)
