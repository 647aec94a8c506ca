"""Drift: what a running container (or a later run) does that its baseline did not.

Two sources of drift, ranked so that the Falco "drop and execute a new
binary" case comes first:

* files added or modified relative to the image — by digest, against the
  file manifest the baseline profile recorded from the image layers;
  executables, libraries and scripts before anything else;
* behaviour: programs executed that are not in the image or not in the
  baseline, libraries loaded that the baseline never loaded, new network
  destinations, writes to system paths.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainwarden.models import Coverage, Finding, Location, RuleId, Severity
from chainwarden.runtime.profile import (
    ProbeSpec,
    Profile,
    ProfileOptions,
    file_manifest,
    load_profile,
    prepared_rootfs,
    profile_rootfs,
)
from chainwarden.runtime.trace import LIBRARY_RE, MODULE_SUFFIXES, Access

#: Writable scratch space of a normal container: changes here are expected.
#: (paths inside the image, not on the host)
SCRATCH_PREFIXES = ("/tmp/", "/var/tmp/", "/run/", "/var/run/", "/var/log/", "/var/cache/", "/root/.cache/")  # noqa: S108
SYSTEM_PREFIXES = ("/bin/", "/sbin/", "/usr/", "/lib/", "/lib64/", "/lib32/", "/etc/", "/boot/", "/opt/")


@dataclass(frozen=True, slots=True)
class Deviation:
    """One difference from the baseline. Lower ``rank`` is more urgent."""

    kind: str  # stable kebab-case id: "new-executable", "program-not-in-image", …
    severity: Severity
    subject: str  # a path, a program or an endpoint
    detail: str
    rank: int

    def line(self) -> str:
        return f"{self.severity.value.upper():<8} {self.kind:<22} {self.subject}  {self.detail}".rstrip()

    def to_finding(self) -> Finding:
        """The deviation as a chainwarden Finding (rule id ``drift-<kind>``), for SARIF."""
        return Finding(
            rule_id=RuleId(f"drift-{self.kind}"),
            severity=self.severity,
            title=f"{self.kind.replace('-', ' ')}: {self.subject}",
            location=Location(self.subject) if self.subject.startswith("/") else None,
            evidence=(self.detail,) if self.detail else (),
            description="Behaviour or content that differs from the runtime baseline profile.",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity.value,
            "subject": self.subject,
            "detail": self.detail,
            "rank": self.rank,
        }


@dataclass(slots=True)
class DriftReport:
    baseline: str
    current: str
    deviations: list[Deviation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_compared: int = 0  # entries of the current file manifest compared with the baseline's
    observations: int = 0  # programs, files and endpoints of the current behaviour compared

    @property
    def coverage(self) -> Coverage:
        """How much was compared: a drift check that compared nothing must not pass."""
        return Coverage((("file", self.files_compared), ("observation", self.observations)))

    def sort(self) -> None:
        self.deviations.sort(key=lambda d: (d.rank, -d.severity.rank, d.subject))

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "current": self.current,
            "deviations": [d.to_json() for d in self.deviations],
            "notes": self.notes,
            "checked": {"files": self.files_compared, "observations": self.observations},
        }

    def render(self) -> str:
        lines = [f"drift of {self.current} against {self.baseline}: {len(self.deviations)} deviation(s)"]
        lines += [d.line() for d in self.deviations]
        lines += [f"note: {n}" for n in self.notes]
        lines.append(("nothing compared: " if self.coverage.empty else "") + self.coverage.describe())
        return "\n".join(lines)


# -- files ------------------------------------------------------------------------


def file_kind(rootfs: Path, path: str) -> tuple[str, int]:
    """("executable"|"library"|"script"|"file", rank) of a file in ``rootfs``."""
    name = posixpath.basename(path)
    if LIBRARY_RE.search(name):
        return "library", 1
    host = rootfs / path.lstrip("/")
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "file", 3
    try:
        st = os.fstat(fd)
        head = os.pread(fd, 4, 0) if stat.S_ISREG(st.st_mode) else b""
    finally:
        os.close(fd)
    if head.startswith(b"\x7fELF"):
        return ("library", 1) if ".so" in name else ("executable", 0)
    if head.startswith(b"#!") or name.endswith(MODULE_SUFFIXES):
        return "script", 2
    if st.st_mode & 0o111:
        return "executable", 0
    return "file", 3


def file_drift(baseline: Profile, rootfs: Path, current: dict[str, str] | None = None) -> list[Deviation]:
    """Files added or modified in ``rootfs`` (its manifest ``current``, when already made) relative to the
    baseline's image manifest."""
    current = file_manifest(rootfs) if current is None else current
    deviations: list[Deviation] = []
    for path, digest in sorted(current.items()):
        before = baseline.image_files.get(path)
        if before == digest:
            continue
        change = "added" if before is None else "modified"
        if digest.startswith("symlink:"):
            kind, rank = "symlink", 3
        else:
            kind, rank = file_kind(rootfs, path)
        if path.startswith(SCRATCH_PREFIXES):
            severity, rank = Severity.INFO, rank + 10
        elif kind != "file":
            severity = Severity.HIGH
        elif path.startswith(SYSTEM_PREFIXES):
            severity = Severity.MEDIUM
        else:
            severity = Severity.LOW
        label = f"{change}-{kind}" if kind != "file" else f"{change}-file"
        detail = f"{change} since the image" + (f" (was {before[:19]}…)" if before else "")
        deviations.append(Deviation(label, severity, path, detail, rank))
    return deviations


# -- behaviour --------------------------------------------------------------------


class BehaviourChecker:
    """Compares observed behaviour with a baseline profile, one observation at a time."""

    def __init__(self, baseline: Profile) -> None:
        self.baseline = baseline
        self.programs = {run.resolved for run in baseline.programs} | {run.path for run in baseline.programs}
        self.loaded = baseline.accessed([Access.LOADED, Access.EXECUTED])
        self.written = baseline.accessed([Access.WRITTEN])
        self.endpoints = {(e.operation, e.family, e.address, e.port) for e in baseline.network}
        self._reported: set[tuple[str, str]] = set()

    def _new(self, deviation: Deviation) -> Deviation | None:
        key = (deviation.kind, deviation.subject)
        if key in self._reported:
            return None
        self._reported.add(key)
        return deviation

    def program(self, path: str, resolved: str, argv: Sequence[str]) -> Deviation | None:
        if resolved in self.programs or path in self.programs:
            return None
        command = " ".join(argv)[:120]
        if self.baseline.image_files and resolved not in self.baseline.image_files:
            return self._new(Deviation("program-not-in-image", Severity.CRITICAL, resolved, f"executed: {command}", 0))
        return self._new(Deviation("new-program", Severity.HIGH, resolved, f"executed: {command}", 1))

    def loaded_file(self, path: str) -> Deviation | None:
        if path in self.loaded:
            return None
        in_image = not self.baseline.image_files or path in self.baseline.image_files
        severity = Severity.MEDIUM if in_image else Severity.HIGH
        detail = "loaded, not loaded in the baseline" + ("" if in_image else "; not in the image")
        return self._new(Deviation("new-loaded-code", severity, path, detail, 2))

    def written_file(self, path: str) -> Deviation | None:
        if path in self.written or not path.startswith(SYSTEM_PREFIXES):
            return None
        return self._new(Deviation("system-write", Severity.MEDIUM, path, "written; the baseline never wrote it", 3))

    def endpoint(self, operation: str, family: str, address: str, port: int | None) -> Deviation | None:
        if (operation, family, address, port) in self.endpoints:
            return None
        where = f"{address}:{port}" if port is not None else address
        return self._new(
            Deviation("new-network", Severity.MEDIUM, f"{operation} {family} {where}", "not in the baseline", 2)
        )


def observation_count(profile: Profile) -> int:
    """How many observations of ``profile`` :func:`behaviour_drift` compares."""
    return len(profile.programs) + len(profile.files) + len(profile.network)


def behaviour_drift(baseline: Profile, current: Profile) -> list[Deviation]:
    """Deviations of a second profile from the baseline."""
    checker = BehaviourChecker(baseline)
    found: list[Deviation | None] = []
    for run in current.programs:
        found.append(checker.program(run.path, run.resolved, run.argv))
    for path, use in current.files.items():
        if use.accesses & {Access.LOADED}:
            found.append(checker.loaded_file(path))
        if Access.WRITTEN in use.accesses and not use.missing:
            found.append(checker.written_file(path))
    for endpoint in current.network:
        found.append(checker.endpoint(endpoint.operation, endpoint.family, endpoint.address, endpoint.port))
    return [d for d in found if d is not None]


def drift_against(
    baseline: Profile,
    current: str,
    *,
    probes: Sequence[ProbeSpec] | None = None,
    options: ProfileOptions | None = None,
) -> DriftReport:
    """Drift of ``current`` (a profile JSON file, an image, or ``dir:ROOTFS``) from ``baseline``.

    Images are run with the baseline's probes (or ``probes``) and compared in
    behaviour as well as files; a ``dir:`` rootfs of a running container is
    compared by files, and by behaviour only when ``probes`` are given.
    """
    options = options or ProfileOptions()
    report = DriftReport(str(baseline.target.get("reference", "baseline")), current)
    candidate = Path(current)
    if current.endswith(".json") and candidate.is_file():
        other = load_profile(candidate)
        report.deviations = behaviour_drift(baseline, other)
        report.observations = observation_count(other)
        if other.image_files and baseline.image_files:
            report.deviations += _manifest_drift(baseline.image_files, other.image_files)
            report.files_compared = len(other.image_files)
        report.sort()
        return report
    if not baseline.image_files:
        report.notes.append("the baseline has no image file manifest: file drift not checked")
    with prepared_rootfs(current, source_options=options.source) as (info, config, rootfs):
        if baseline.image_files:
            manifest = file_manifest(rootfs)
            report.deviations += file_drift(baseline, rootfs, manifest)
            report.files_compared = len(manifest)
        is_image = info.kind != "dir"
        run_probes = probes if probes is not None else ([p.spec for p in baseline.probes] if is_image else None)
        if run_probes:
            observed = profile_rootfs(rootfs, info, config, run_probes, options, None)
            report.deviations += behaviour_drift(baseline, observed)
            report.observations = observation_count(observed)
    report.sort()
    return report


def _manifest_drift(before: dict[str, str], after: dict[str, str]) -> list[Deviation]:
    deviations = []
    for path, digest in sorted(after.items()):
        if before.get(path) != digest:
            change = "added" if path not in before else "modified"
            deviations.append(
                Deviation(f"{change}-file", Severity.LOW, path, f"{change} between the two profiles' images", 3)
            )
    return deviations


def deviations_json_lines(deviations: Iterable[Deviation]) -> str:
    return "".join(json.dumps(d.to_json()) + "\n" for d in deviations)
