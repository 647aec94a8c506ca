"""Watch: run an image under the tracer and report deviations from a baseline live.

The strace output file is tailed while the sandbox runs; every complete line
goes through the same parser and interpreter as ``profile``, and each event
is checked against the baseline by :class:`BehaviourChecker` the moment it
is seen, so a deviation is reported while the program still runs.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from chainwarden.errors import Error
from chainwarden.runtime.drift import BehaviourChecker, Deviation
from chainwarden.runtime.profile import (
    VIRTUAL_PREFIXES,
    ProbeSpec,
    Profile,
    ProfileBuilder,
    ProfileOptions,
    prepared_rootfs,
)
from chainwarden.runtime.sandbox import (
    NetMode,
    ProcessSpec,
    Sandbox,
    SandboxedProcess,
    http_requests_in_namespace,
)
from chainwarden.runtime.trace import (
    Access,
    Event,
    ExecEvent,
    FileEvent,
    NetworkEvent,
    StraceParser,
    TraceInterpreter,
)

POLL_INTERVAL = 0.05


class _Tail:
    """Reads complete lines appended to a file that another process writes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._partial = ""

    def lines(self) -> list[str]:
        try:
            with self._path.open("r", encoding="utf-8", errors="surrogateescape") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
                self._offset = handle.tell()
        except FileNotFoundError:
            return []
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
        return complete

    def rest(self) -> list[str]:
        lines = self.lines()
        if self._partial:
            lines.append(self._partial)
            self._partial = ""
        return lines


def check_event(checker: BehaviourChecker, builder: ProfileBuilder, event: Event) -> Deviation | None:
    """The deviation ``event`` represents, if any."""
    if isinstance(event, ExecEvent) and event.ok:
        return checker.program(event.path, builder.real_path(event.path), event.argv)
    if isinstance(event, NetworkEvent):
        return checker.endpoint(event.operation, event.family, event.address, event.port)
    if isinstance(event, FileEvent) and event.ok and not event.path.startswith(VIRTUAL_PREFIXES):
        real = event.resolved if event.resolved and event.resolved.startswith("/") else builder.real_path(event.path)
        if event.access is Access.LOADED:
            return checker.loaded_file(real)
        if event.access is Access.WRITTEN:
            return checker.written_file(real)
    return None


def watch_target(
    target: str,
    baseline: Profile,
    report: Callable[[Deviation], None],
    *,
    probes: Sequence[ProbeSpec] | None = None,
    options: ProfileOptions | None = None,
) -> list[Deviation]:
    """Run ``target`` (with the baseline's probes unless given) and report deviations as they happen."""
    options = options or ProfileOptions()
    probe_specs = list(probes) if probes is not None else [p.spec for p in baseline.probes]
    if not probe_specs:
        probe_specs = [ProbeSpec("command", None)]
    checker = BehaviourChecker(baseline)
    found: list[Deviation] = []
    with (
        prepared_rootfs(target, source_options=options.source) as (_info, config, rootfs),
        tempfile.TemporaryDirectory(prefix="chainwarden-watch-") as trace_dir,
    ):
        builder = ProfileBuilder(rootfs, Profile({}, options.net.value))
        for number, probe in enumerate(probe_specs, 1):
            net = NetMode.LOOPBACK if probe.kind == "http" and options.net is NetMode.NONE else options.net
            sandbox = Sandbox(rootfs, net=net, engine=options.engine, timeout=options.timeout)
            trace = Path(trace_dir) / f"probe-{number}.strace"
            spec = ProcessSpec.from_image_config(config, probe.command)
            with sandbox.start(spec, trace=trace) as process:
                parser = StraceParser()
                interpreter = TraceInterpreter(process.argv[0])
                tail = _Tail(trace)
                client: threading.Thread | None = None
                if probe.kind == "http" and probe.port is not None:
                    client = threading.Thread(target=_http_then_stop, args=(process, probe, options), daemon=True)
                    client.start()
                deadline = time.monotonic() + options.timeout

                def drain(
                    lines: list[str], parser: StraceParser = parser, interpreter: TraceInterpreter = interpreter
                ) -> None:
                    for record in parser.feed_all(lines):
                        for event in interpreter.handle(record):
                            deviation = check_event(checker, builder, event)
                            if deviation is not None:
                                found.append(deviation)
                                report(deviation)

                while process.running() and time.monotonic() < deadline:
                    drain(tail.lines())
                    time.sleep(POLL_INTERVAL)
                if process.running():
                    process.stop()
                else:
                    process.wait(5.0)
                if client is not None:
                    client.join(timeout=5.0)
                drain(tail.rest())
    return found


def _http_then_stop(process: SandboxedProcess, probe: ProbeSpec, options: ProfileOptions) -> None:
    assert probe.port is not None
    try:
        ns_pid = process.namespace_pid()
        if ns_pid is not None:
            http_requests_in_namespace(ns_pid, probe.port, probe.requests, wait=options.server_wait)
    except Error:
        pass  # the server's own behaviour is what is watched; a failed request is not a deviation
    finally:
        process.stop()
