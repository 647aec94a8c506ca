"""Review an update pull request as a whole: every locked version that changed between two revisions.

A Renovate or Dependabot pull request bumps many packages at once, across
``requirements.txt``, ``poetry.lock``, ``uv.lock``, ``package-lock.json``,
``yarn.lock``, ``pnpm-lock.yaml`` …. :func:`review_lockfiles` reads every
lockfile the project catalogers support at two revisions (two git refs, or
two directories), pairs the locked versions of each package, and reviews each
change the way ``chainwarden diff`` reviews one update (install hooks, new
capabilities, new dependencies and typosquats among them, maintainer
changes). A package that appears only at the head is vetted as a new
dependency (typosquat, brand-new on the registry, malicious code). One
verdict covers the whole pull request.

Git revisions are read with ``git ls-tree``/``git cat-file``: only the
lockfiles and their manifests are written to a temporary directory; the
working tree is never touched.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Final

from packaging.version import InvalidVersion, Version

from chainwarden.analyzers.diff import BRAND_NEW, RULE_NEW_DEPENDENCY, RULE_VERDICT, package_age
from chainwarden.analyzers.typosquat import RULE_ID as TYPOSQUAT_RULE
from chainwarden.analyzers.typosquat import bare_package
from chainwarden.config import Config
from chainwarden.errors import Error, UsageError
from chainwarden.inventory.interface import Cataloger
from chainwarden.models import Ecosystem, Finding, Location, Package, Severity, Skipped, max_severity
from chainwarden.sources.interface import ProgressCallback

if TYPE_CHECKING:
    from chainwarden.analyzers import VetOptions
    from chainwarden.analyzers.registry_client import RegistryClient

#: a lockfile bigger than this at a git revision is reported as skipped, not read
MAX_LOCKFILE_BYTES: Final = 128 * 1024 * 1024
GIT_TIMEOUT: Final = 120.0
_SEMVERISH: Final = re.compile(r"^v?\d+(\.\d+)*([-+.][0-9A-Za-z.+-]*)?$")


class LockfileDiffError(Error):
    """A revision could not be read (not a git repository, unknown ref, git missing)."""


@dataclass(frozen=True, slots=True)
class LockChange:
    """One package whose locked version changed. ``old_version`` None: added; ``new_version`` None: removed."""

    ecosystem: Ecosystem
    name: str
    old_version: str | None
    new_version: str | None
    lockfiles: tuple[str, ...]  # project-relative paths declaring the package (head side, else base side)
    line: int | None = None  # the declaring line in the first lockfile, for annotations

    @property
    def kind(self) -> str:
        if self.old_version is None:
            return "added"
        if self.new_version is None:
            return "removed"
        return "updated"

    @property
    def label(self) -> str:
        if self.old_version is None:
            return f"{self.name} {self.new_version} (new)"
        if self.new_version is None:
            return f"{self.name} {self.old_version} (removed)"
        return f"{self.name} {self.old_version} → {self.new_version}"


@dataclass(frozen=True, slots=True)
class ChangeReview:
    """The review of one change: its verdict and findings (``reason`` says why it could not be reviewed)."""

    change: LockChange
    verdict: str  # "ok", "review", "block", or "unreviewed"
    bump: str  # as diff's bump_kind, or "new"
    findings: tuple[Finding, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LockfileReview:
    """Every change between two revisions, each reviewed, and the verdict for the pull request."""

    base: str
    head: str
    lockfiles: tuple[str, ...]
    reviews: tuple[ChangeReview, ...]
    removed: tuple[LockChange, ...]
    skipped: tuple[Skipped, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for review in self.reviews for f in review.findings)

    @property
    def unreviewed(self) -> tuple[ChangeReview, ...]:
        return tuple(r for r in self.reviews if r.verdict == "unreviewed")

    @property
    def verdict(self) -> str:
        """block > unreviewed > review > ok: a change nobody could read never passes as ok."""
        verdicts = {r.verdict for r in self.reviews}
        for verdict in ("block", "unreviewed", "review"):
            if verdict in verdicts:
                return verdict
        return "ok"


# -- reading a revision -----------------------------------------------------------------------------


def split_range(text: str) -> tuple[str, str]:
    """``BASE..HEAD`` → (BASE, HEAD); ``BASE..`` → (BASE, "") meaning the working tree."""
    if "..." in text:
        raise UsageError(f"{text}: give BASE..HEAD (two dots); the merge-base form A...B is not supported")
    base, sep, head = text.partition("..")
    if not sep or not base:
        raise UsageError(f"{text}: give BASE..HEAD (git refs), BASE.. (against the working tree) or two directories")
    return base, head


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except FileNotFoundError as exc:
        raise LockfileDiffError("git is not installed (apt-get install git)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LockfileDiffError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LockfileDiffError(f"git {args[0]} in {repo}: {message[-1] if message else f'exit {done.returncode}'}")
    return done.stdout


def _resolve_commit(repo: Path, ref: str) -> str:
    if ref.startswith("-") or any(c in ref for c in "\0\n"):
        raise UsageError(f"{ref!r}: not a git revision")
    try:
        out = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except LockfileDiffError as exc:
        detail = exc.diagnostics()
        why = "" if detail.endswith("exit 1") else f" ({detail})"  # --quiet: an unknown ref says nothing
        raise LockfileDiffError(f"{ref}: not a commit in {repo}{why}") from exc
    return out.decode().strip()


def _export_revision(repo: Path, commit: str, dest: Path, catalogers: Sequence[Cataloger]) -> list[Skipped]:
    """Write the lockfiles (and manifests) of ``commit`` under ``dest``; oversized ones become Skipped."""
    predicates = [c.wants for c in catalogers]
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", "-l", commit)
    blobs: list[tuple[str, str]] = []
    skipped: list[Skipped] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) < 4 or fields[1] != b"blob" or fields[0] in (b"120000", b"160000"):
            continue  # symlinks and submodules: a lockfile is a regular file
        path = raw_path.decode("utf-8", "surrogateescape")
        parts = PurePosixPath(path).parts
        if not parts or path.startswith("/") or ".." in parts:
            continue
        if not any(wants("/" + path) for wants in predicates):
            continue
        size = int(fields[3]) if fields[3].isdigit() else 0
        if size > MAX_LOCKFILE_BYTES:
            skipped.append(Skipped(path, Location(path), f"larger than {MAX_LOCKFILE_BYTES} bytes at {commit[:12]}"))
            continue
        blobs.append((fields[2].decode(), path))
    if not blobs:
        return skipped
    batch = _git(repo, "cat-file", "--batch", stdin="".join(f"{sha}\n" for sha, _ in blobs).encode())
    offset = 0
    for sha, path in blobs:
        end = batch.index(b"\n", offset)
        header = batch[offset:end].split()
        if len(header) != 3 or header[0].decode() != sha:
            raise LockfileDiffError(f"git cat-file: unexpected answer for {path}")
        size = int(header[2])
        body = batch[end + 1 : end + 1 + size]
        offset = end + 1 + size + 1
        target = dest.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return skipped


@contextmanager
def _revision_dir(spec: str, repo: Path, catalogers: Sequence[Cataloger]) -> Iterator[tuple[Path, str, list[Skipped]]]:
    """A directory holding ``spec``'s lockfiles: an existing directory itself, else a temporary export of a git ref."""
    path = Path(spec) if spec else repo
    if path.is_dir():
        yield path, spec or f"working tree of {repo}", []
        return
    commit = _resolve_commit(repo, spec)
    workdir = Path(tempfile.mkdtemp(prefix="chainwarden-lockdiff-"))
    try:
        skipped = _export_revision(repo, commit, workdir, catalogers)
        yield workdir, f"{spec} ({commit[:12]})", skipped
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _locked(directory: Path) -> tuple[list[Package], list[Skipped]]:
    from chainwarden.inventory import catalog_source
    from chainwarden.inventory.lockfiles import lockfile_catalogers
    from chainwarden.sources import open_source

    with open_source(f"dir:{directory}") as source:
        inventory = catalog_source(source, catalogers=lockfile_catalogers())
    return list(inventory.packages), list(inventory.skipped)


# -- pairing ---------------------------------------------------------------------------------------


def _from_registry(package: Package) -> bool:
    """A version a registry can serve: not a path, URL, git or workspace reference."""
    if not package.pinned or not package.version or package.ecosystem not in (Ecosystem.PYPI, Ecosystem.NPM):
        return False
    if package.ecosystem is Ecosystem.PYPI:
        try:
            Version(package.version)
        except InvalidVersion:
            return False
        return True
    return bool(_SEMVERISH.match(package.version))


def _sort_key(version: str, ecosystem: Ecosystem) -> tuple[int, Version | str]:
    if ecosystem is Ecosystem.PYPI:
        try:
            return (1, Version(version))
        except InvalidVersion:
            return (0, version)
    numbers = re.findall(r"\d+", version.split("-", 1)[0])
    return (1, Version(".".join(numbers[:3]) or "0")) if numbers else (0, version)


def _by_name(packages: Iterable[Package]) -> dict[tuple[Ecosystem, str], dict[str, list[Package]]]:
    table: dict[tuple[Ecosystem, str], dict[str, list[Package]]] = {}
    for package in packages:
        if _from_registry(package):
            table.setdefault((package.ecosystem, package.name), {}).setdefault(package.version, []).append(package)
    return table


def _where(packages: Sequence[Package]) -> tuple[tuple[str, ...], int | None]:
    paths: list[str] = []
    line: int | None = None
    for package in packages:
        for location in package.locations:
            path = location.path.lstrip("/")
            if path not in paths:
                paths.append(path)
            if line is None and location.line is not None:
                line = location.line
    return tuple(sorted(paths)), line


def pair_changes(base: Iterable[Package], head: Iterable[Package]) -> list[LockChange]:
    """Every (package, old → new) whose locked version set differs between ``base`` and ``head``.

    A package locked at several versions (npm nests copies) pairs each new
    version with the nearest old version that disappeared (else the nearest
    one kept), so ``1.0.0, 2.0.0 → 1.0.1, 2.0.1`` reviews two patch releases,
    not a major jump.
    """
    before, after = _by_name(base), _by_name(head)
    changes: list[LockChange] = []
    for key in sorted(set(before) | set(after), key=lambda k: (k[0].value, k[1])):
        ecosystem, name = key
        old_versions, new_versions = before.get(key, {}), after.get(key, {})
        gone = sorted(set(old_versions) - set(new_versions), key=lambda v: _sort_key(v, ecosystem))
        came = sorted(set(new_versions) - set(old_versions), key=lambda v: _sort_key(v, ecosystem))
        kept = sorted(set(old_versions) & set(new_versions), key=lambda v: _sort_key(v, ecosystem))
        unmatched_gone = list(gone)
        for version in came:
            paths, line = _where(new_versions[version])
            candidates = unmatched_gone or kept
            if not candidates:
                changes.append(LockChange(ecosystem, name, None, version, paths, line))
                continue
            wanted = _sort_key(version, ecosystem)
            below = [c for c in candidates if _sort_key(c, ecosystem) <= wanted]
            previous = below[-1] if below else candidates[0]
            if previous in unmatched_gone:
                unmatched_gone.remove(previous)
            changes.append(LockChange(ecosystem, name, previous, version, paths, line))
        for version in unmatched_gone:
            paths, line = _where(old_versions[version])
            changes.append(LockChange(ecosystem, name, version, None, paths, line))
    return changes


# -- review ----------------------------------------------------------------------------------------


def _spec(ecosystem: Ecosystem, name: str, version: str) -> str:
    return f"pypi:{name}=={version}" if ecosystem is Ecosystem.PYPI else f"npm:{name}@{version}"


def _at_lockfile(finding: Finding, change: LockChange) -> Finding:
    """Point a finding at the lockfile line (what a pull-request annotation can show); keep where in the package."""
    evidence = finding.evidence
    if finding.location is not None and finding.location.path not in change.lockfiles:
        where = finding.location.path + (f":{finding.location.line}" if finding.location.line else "")
        evidence = (*evidence, f"in {change.name} {change.new_version}: {where}")
    location = Location(change.lockfiles[0], line=change.line) if change.lockfiles else None
    return dataclasses.replace(finding, location=location, evidence=evidence)


def _verdict_of(findings: Sequence[Finding]) -> str:
    worst = max_severity([f for f in findings if f.rule_id != RULE_VERDICT])
    if worst is not None and worst.at_least(Severity.HIGH):
        return "block"
    if worst is not None and worst.at_least(Severity.MEDIUM):
        return "review"
    return "ok"


def _unreviewed(change: LockChange, reason: str) -> ChangeReview:
    package = bare_package(change.ecosystem, change.name, change.new_version or "")
    finding = Finding(
        rule_id=RULE_VERDICT,
        severity=Severity.UNKNOWN,
        title=f"{change.label}: not reviewed",
        package=package,
        location=None,
        evidence=(reason,),
        remediation="Review this change by hand, or rerun when the registry can be reached.",
        description="A change that could not be read is never reported as safe.",
    )
    return ChangeReview(change, "unreviewed", "unknown", (_at_lockfile(finding, change),), reason)


def _review_update(
    change: LockChange, config: Config, options: VetOptions, client: RegistryClient | None
) -> ChangeReview:
    from chainwarden.analyzers import review_update

    assert change.old_version is not None
    assert change.new_version is not None
    old = _spec(change.ecosystem, change.name, change.old_version)
    new = _spec(change.ecosystem, change.name, change.new_version)
    try:
        report = review_update(old, new, config=config, options=options, client=client)
    except Error as exc:
        return _unreviewed(change, exc.diagnostics())
    findings = tuple(_at_lockfile(f, change) for f in report.findings)
    return ChangeReview(change, report.verdict, report.bump, findings)


def _review_added(
    change: LockChange, config: Config, options: VetOptions, client: RegistryClient | None
) -> ChangeReview:
    """A package new to the lockfiles: vet its name and its code, and ask the registry how old it is."""
    from chainwarden.analyzers import apply_suppressions, vet

    assert change.new_version is not None
    package = bare_package(change.ecosystem, change.name, change.new_version)
    try:
        result = vet(
            [_spec(change.ecosystem, change.name, change.new_version)],
            config=config,
            options=options,
            client=client,
        )
    except Error as exc:
        return _unreviewed(change, exc.diagnostics())
    severity = Severity.LOW
    evidence = [f"{change.name} {change.new_version} in {', '.join(change.lockfiles) or 'the lockfiles'}"]
    kept: list[Finding] = []
    for finding in result.findings:
        if finding.rule_id == TYPOSQUAT_RULE:
            severity = Severity.HIGH
            evidence.extend((f"typosquat: {finding.title}", *finding.evidence))
        elif finding.severity.at_least(Severity.MEDIUM):
            kept.append(finding)
    age = package_age(client, change.ecosystem, change.name) if client is not None else None
    if age is not None and age < BRAND_NEW:
        severity = max(severity, Severity.MEDIUM, key=lambda s: s.rank)
        evidence.append(f"first published {age.days} days ago")
    dependency = Finding(
        rule_id=RULE_NEW_DEPENDENCY,
        severity=severity,
        title=f"new dependency {change.name} {change.new_version}",
        package=package,
        location=None,
        evidence=tuple(evidence),
        remediation="Check that this dependency is wanted and is the package you meant.",
        description="A pull request that brings in a new package brings in its authors too.",
    )
    findings = [*apply_suppressions([dependency], config, options.ignore), *kept]
    verdict = _verdict_of(findings)
    summary = Finding(
        rule_id=RULE_VERDICT,
        severity=(max_severity(findings) or Severity.INFO) if verdict != "ok" else Severity.INFO,
        title=f"{change.label}: {verdict}",
        package=package,
        location=None,
        evidence=(f"{len(findings)} finding(s)", f"{result.artifacts_scanned} package(s) scanned"),
        remediation="Add it." if verdict == "ok" else "Read the flagged findings before merging.",
    )
    return ChangeReview(change, verdict, "new", tuple(_at_lockfile(f, change) for f in (*findings, summary)))


def _public(client: RegistryClient, change: LockChange) -> bool:
    """Whether ``client`` would fetch ``change`` from the public registry rather than a configured one."""
    from chainwarden.analyzers.registry_client import DEFAULT_NPM, DEFAULT_PYPI

    if change.ecosystem is Ecosystem.PYPI:
        return client.pypi_url == DEFAULT_PYPI.rstrip("/")
    return client.npm_url == DEFAULT_NPM.rstrip("/")


def review_lockfiles(
    base: str,
    head: str,
    *,
    repo: Path | None = None,
    config: Config | None = None,
    options: VetOptions | None = None,
    client: RegistryClient | None = None,
    progress: ProgressCallback | None = None,
) -> LockfileReview:
    """Review every locked-version change between ``base`` and ``head``.

    Each is a git revision of ``repo`` (default: the current directory), a
    directory, or ``""`` for ``repo``'s working tree. Downloads go through
    ``client`` (else one made from ``options``); with ``options.offline`` only
    the pairing is done and every change is reported unreviewed.
    """
    from chainwarden.analyzers import VetOptions, make_client
    from chainwarden.inventory.lockfiles import lockfile_catalogers

    config = config or Config()
    options = options or VetOptions()
    progress = progress or ProgressCallback()
    repo = repo or Path.cwd()
    catalogers = lockfile_catalogers()
    skipped: list[Skipped] = []
    with _revision_dir(base, repo, catalogers) as (base_dir, base_label, base_skipped):
        before, before_skipped = _locked(base_dir)
    with _revision_dir(head, repo, catalogers) as (head_dir, head_label, head_skipped):
        after, after_skipped = _locked(head_dir)
    skipped.extend([*base_skipped, *before_skipped, *head_skipped, *after_skipped])
    lockfiles = sorted({loc.path.lstrip("/") for p in (*before, *after) for loc in p.locations})
    changes = pair_changes(before, after)
    removed = tuple(c for c in changes if c.kind == "removed")
    todo = [c for c in changes if c.kind != "removed"]

    own_client = client is None and not options.offline
    client = client or (None if options.offline else make_client(options, config))
    reviews: list[ChangeReview] = []
    try:
        if todo:
            progress.start(len(todo), "reviewing changed packages")
        for change in todo:
            progress.note(f"reviewing {change.ecosystem.value}:{change.label}")
            if client is None:
                reviews.append(_unreviewed(change, "offline: the two versions cannot be downloaded"))
            elif config.internal.is_internal(change.name, change.ecosystem.value) and _public(client, change):
                # the public copy of an internal name is exactly what a dependency-confusion attacker publishes
                reason = (
                    "internal package ([internal] in chainwarden.toml): give its registry with --pypi-url/--npm-url"
                )
                reviews.append(_unreviewed(change, reason))
            elif change.kind == "added":
                reviews.append(_review_added(change, config, options, client))
            else:
                reviews.append(_review_update(change, config, options, client))
            progress.advance(1)
        if todo:
            progress.finish()
    finally:
        if own_client and client is not None:
            client.close()
    return LockfileReview(base_label, head_label, tuple(lockfiles), tuple(reviews), removed, tuple(skipped))


__all__ = [
    "ChangeReview",
    "LockChange",
    "LockfileDiffError",
    "LockfileReview",
    "pair_changes",
    "review_lockfiles",
    "split_range",
]
