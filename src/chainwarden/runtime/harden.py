"""Harden an image from its profile: drop what never ran, write a new image, verify it.

Package granularity (the default) removes every package none of whose files
was executed, loaded, read or written — files *and* its entries in the
package databases (dpkg status stanza and ``info/*`` files, apk's ``installed``
stanza and world entry, rpm's SQLite rows — runtime.os_databases — ``*.dist-info``,
``node_modules/NAME``), so that later scanners see the truth. File granularity
keeps only accessed files (slim style).

Some files a short trace may miss are always kept, each with a reason derived
from its path — never from a list of package names: the dynamic loader and
its cache, user and name-service databases, CA certificates, timezone data,
locales when the probes used any, the distribution identity and the package
databases themselves. ``--keep`` and ``--drop`` globs override.

The result is verified by re-running every probe of the profile in the new
image: a different exit code or output is a :class:`VerificationError` naming
the probe and the first file the new run missed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chainwarden.errors import UsageError
from chainwarden.inventory.npm import is_manifest as is_npm_manifest
from chainwarden.models import Ecosystem, Inventory, Package
from chainwarden.runtime.interface import ProfileError, SandboxError, VerificationError
from chainwarden.runtime.os_databases import DATABASE_PATHS as OS_DATABASE_PATHS
from chainwarden.runtime.os_databases import remove_apk_packages, remove_rpm_packages, rpm_removal_refused
from chainwarden.runtime.profile import (
    USE_ACCESSES,
    Profile,
    ProfileOptions,
    profile_rootfs,
    remove_tree,
)
from chainwarden.runtime.sandbox import Engine, NetMode
from chainwarden.runtime.trace import Access
from chainwarden.sources import SourceOptions
from chainwarden.sources.interface import ProgressCallback, normalize_path
from chainwarden.sources.rootfs import DirectoryView

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d"
DPKG_INFO = "/var/lib/dpkg/info"


# -- always-keep rules ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeepRule:
    reason: str
    pattern: re.Pattern[str]
    only_if_used: re.Pattern[str] | None = None  # kept only when the profile touched a path like this


PACKAGE_DATABASE = "package database"

KEEP_RULES: tuple[KeepRule, ...] = (
    KeepRule(
        "dynamic loader and its cache (mapped by the kernel, never opened in a trace)",
        re.compile(
            r"^(/usr)?/lib(64|32|x32)?(/[^/]+)?/ld-(linux|musl)[^/]*\.so[^/]*$|^/etc/ld\.so\.(cache|conf)(\.d/.*)?$"
        ),
    ),
    KeepRule(
        "user, group and name-service databases (read on demand: logins, getpwnam, DNS)",
        re.compile(r"^/etc/(passwd|group|shadow|gshadow|nsswitch\.conf|hosts|host\.conf|resolv\.conf|services)$"),
    ),
    KeepRule(
        "CA certificates (TLS needs them only when it connects)",
        re.compile(r"^/etc/ssl/certs/|^/usr/share/ca-certificates/|^/etc/ca-certificates|^/etc/pki/|^/usr/lib/ssl/"),
    ),
    KeepRule(
        "timezone data (read when a program formats local time)",
        re.compile(r"^/usr/share/zoneinfo/|^/etc/localtime$|^/etc/timezone$"),
    ),
    KeepRule(
        "locale data (the probes used locales)",
        re.compile(r"^/usr/lib/locale/|^/usr/share/i18n/|^/etc/locale\.(gen|alias)$"),
        only_if_used=re.compile(r"^/usr/lib/locale/|^/usr/share/i18n/"),
    ),
    KeepRule(
        "merged-/usr compatibility link (ELF interpreter paths and #! lines go through it)",
        re.compile(r"^/(s?bin|lib(32|64|x32|o32)?)$"),
    ),
    KeepRule(
        "distribution identity (scanners read it)",
        re.compile(r"^/(etc|usr/lib)/os-release$|^/etc/debian_version$|^/etc/(alpine|redhat|system)-release$"),
    ),
    KeepRule(
        PACKAGE_DATABASE,
        re.compile(
            r"^/var/lib/dpkg/|\.dist-info/|\.egg-info(/|$)|/node_modules/(@[^/]+/)?[^/]+/package\.json$|"
            + OS_DATABASE_PATHS.pattern
        ),
    ),
)


def keep_reason(path: str, used_paths: Iterable[str]) -> str | None:
    """Why ``path`` is always kept, or None."""
    used = list(used_paths)
    for rule in KEEP_RULES:
        if rule.pattern.search(path) and (rule.only_if_used is None or any(rule.only_if_used.search(u) for u in used)):
            return rule.reason
    if is_npm_manifest(path):
        # Debian-shipped modules (/usr/share/nodejs/NAME/package.json) as the npm cataloger sees them
        return PACKAGE_DATABASE
    return None


# -- options and report -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HardenOptions:
    granularity: str = "package"  # "package" | "file"
    keep: Sequence[str] = ()
    drop: Sequence[str] = ()
    verify: bool = True
    engine: Engine = Engine.BWRAP
    timeout: float = 60.0
    write_sbom: bool = True
    #: vulnerability database to compare before/after with; None: the default
    #: one when it exists (``$CHAINWARDEN_DB`` or the user cache dir)
    vuln_db: Path | None = None
    compare_vulnerabilities: bool = True
    #: overwrite an output (and SBOM) that is not an earlier output of harden
    force: bool = False
    source: SourceOptions | None = None  # --platform, layer cache, --insecure-registry for the input image


@dataclass(slots=True)
class Counts:
    packages: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"packages": dict(sorted(self.packages.items())), "files": self.files, "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class VulnerabilityDelta:
    """Known vulnerabilities of the image before and after hardening (one per vulnerability and package)."""

    database: str
    before: dict[str, int]  # severity → count
    after: dict[str, int]
    removed: tuple[str, ...]  # "GHSA-… requests 2.32.3 (medium)", gone with their package

    @property
    def total_before(self) -> int:
        return sum(self.before.values())

    @property
    def total_after(self) -> int:
        return sum(self.after.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "before": self.before,
            "after": self.after,
            "total_before": self.total_before,
            "total_after": self.total_after,
            "removed": list(self.removed),
        }


@dataclass(slots=True)
class HardenReport:
    output: str
    granularity: str
    before: Counts
    after: Counts
    removed_packages: list[str] = field(default_factory=list)  # purls
    kept_by_rule: dict[str, str] = field(default_factory=dict)  # package purl → reason
    verified: list[str] = field(default_factory=list)  # probe names that matched
    sbom: str | None = None
    digest: str | None = None
    vulnerabilities: VulnerabilityDelta | None = None
    cleanup: dict[str, int] = field(default_factory=dict)  # broken links, empty directories removed
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "digest": self.digest,
            "granularity": self.granularity,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "removed_packages": self.removed_packages,
            "kept_by_rule": self.kept_by_rule,
            "verified_probes": self.verified,
            "vulnerabilities": self.vulnerabilities.to_json() if self.vulnerabilities else None,
            "cleanup": self.cleanup,
            "sbom": self.sbom,
            "notes": self.notes,
        }

    def render(self) -> str:
        lines = [f"hardened image  {self.output}  {self.digest or ''}".rstrip(), ""]
        lines.append(f"{'':<16} {'before':>10} {'after':>10}")
        ecosystems = sorted(set(self.before.packages) | set(self.after.packages))
        for ecosystem in ecosystems:
            lines.append(
                f"{ecosystem + ' packages':<16} {self.before.packages.get(ecosystem, 0):>10} "
                f"{self.after.packages.get(ecosystem, 0):>10}"
            )
        lines.append(f"{'files':<16} {self.before.files:>10} {self.after.files:>10}")
        lines.append(f"{'MB':<16} {self.before.bytes / 1e6:>10.1f} {self.after.bytes / 1e6:>10.1f}")
        if self.vulnerabilities is not None:
            vulns = self.vulnerabilities
            lines.append(f"{'vulnerabilities':<16} {vulns.total_before:>10} {vulns.total_after:>10}")
        lines.append("")
        lines.append(
            f"removed {len(self.removed_packages)} packages; verified probes: {', '.join(self.verified) or 'none'}"
        )
        for purl, reason in sorted(self.kept_by_rule.items()):
            lines.append(f"kept {purl}: {reason}")
        if self.vulnerabilities is not None:
            for item in self.vulnerabilities.removed[:20]:
                lines.append(f"vulnerability gone: {item}")
            if len(self.vulnerabilities.removed) > 20:
                lines.append(f"… and {len(self.vulnerabilities.removed) - 20} more vulnerabilities gone")
        if self.sbom:
            lines.append(f"SBOM: {self.sbom}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


# -- the plan ----------------------------------------------------------------------

#: Package managers of the operating system. Their packages may carry language
#: packages inside them (Debian's node-acorn ships the npm packages acorn,
#: acorn-walk, acorn-jsx…): for a file both claim, the inner package is the
#: finer unit and decides whether the file stays.
OS_ECOSYSTEMS = frozenset({Ecosystem.DEBIAN, Ecosystem.APK, Ecosystem.RPM})
#: Bytecode the interpreter compiled from a source file: ``DIR/__pycache__/STEM.TAG.pyc``.
_BYTECODE_RE = re.compile(r"^(?P<dir>.*)/__pycache__/(?P<stem>[^/.]+)\.[^/]*\.pyc$")


@dataclass(slots=True)
class HardenPlan:
    """What goes, and what :func:`apply_plan` needs to clean up after it."""

    delete: set[str]  # paths of files and symlinks to remove (parents resolved)
    removed: list[Package]
    kept_by_rule: dict[str, str]
    #: packages that stay; those that lose files anyway (a nested package
    #: removed inside them, ``--drop``) get their file lists trimmed to match
    kept: list[Package] = field(default_factory=list)
    #: every symlink of the rootfs, and those that already pointed nowhere
    #: (left alone: only links *we* break are removed)
    links: set[str] = field(default_factory=set)
    dangling_before: set[str] = field(default_factory=set)
    #: directories the probes touched: kept even when emptied
    protected_dirs: set[str] = field(default_factory=set)


class _Resolver:
    """Path resolution inside the rootfs with a cache of resolved directories."""

    def __init__(self, view: DirectoryView) -> None:
        self.view = view
        self._dirs: dict[str, str] = {}

    def real(self, path: str) -> str:
        try:
            return self.view.resolve(path)
        except Exception:  # a symlink loop: treat the name itself
            return normalize_path(path)

    def entry_path(self, path: str) -> str:
        """Where the entry ``path`` itself lives: parents resolved, the last component not.

        dpkg lists ``/bin/sh`` and ``/lib/x86_64-linux-gnu/libaudit.so.1``; on a
        merged-/usr image those entries are ``/usr/bin/sh`` and
        ``/usr/lib/x86_64-linux-gnu/libaudit.so.1`` — symlinks that must go
        with their package, not be mistaken for their targets.
        """
        path = normalize_path(path)
        parent, name = posixpath.split(path)
        if not name:
            return path
        directory = self._dirs.get(parent)
        if directory is None:
            directory = self._dirs[parent] = self.real(parent)
        return posixpath.join(directory, name)

    def exists(self, path: str) -> bool:
        try:
            return self.view.entry(self.view.resolve(path)) is not None
        except Exception:  # a loop never resolves
            return False


def used_names(view: DirectoryView, profile: Profile, all_files: set[str], *, existence: bool = False) -> set[str]:
    """Every path the probes used, the symlinks crossed to reach them, and what the importer needs.

    A module imported from bytecode (``__pycache__/m.cpython-311.pyc``) is
    found by its source file: the importer lists ``m.py``, then reads the
    cached bytecode without ever opening the source. The source must stay.
    With ``existence``, files only checked for existence (and found) count
    too: Python finds its prefix by the landmark ``lib/python3.X/os.py``,
    which it stats but never opens (``os`` itself is frozen).
    """
    keep: set[str] = set()
    for path, use in profile.files.items():
        observed = existence and Access.PROBED in use.accesses and not use.missing and path in all_files
        if not (use.accesses & USE_ACCESSES or observed):
            continue
        keep |= _chain(view, path)
        for alias in use.aliases:
            keep |= _chain(view, alias)
        bytecode = _BYTECODE_RE.match(path)
        if bytecode:
            source = f"{bytecode['dir']}/{bytecode['stem']}.py"
            if source in all_files:
                keep |= _chain(view, source)
    return keep


def plan_hardening(rootfs: Path, inventory: Inventory, profile: Profile, options: HardenOptions) -> HardenPlan:
    """Decide what goes. Pure with respect to ``rootfs`` (only reads it)."""
    view = DirectoryView(rootfs)
    paths = _Resolver(view)
    all_files, links = _all_files(rootfs)
    accessed = profile.accessed()
    # a package is not kept for an existence check (verification catches the
    # rare program that changes course on one); single files are
    keep_paths = used_names(view, profile, all_files, existence=options.granularity == "file")

    def forced_keep(path: str) -> str | None:
        if any(fnmatch.fnmatchcase(path, glob) for glob in options.keep):
            return "--keep"
        return keep_reason(path, accessed)

    def dropped(path: str) -> bool:
        return (
            any(fnmatch.fnmatchcase(path, glob) for glob in options.drop)
            and not path.startswith("/var/lib/dpkg/")
            and not OS_DATABASE_PATHS.match(path)
        )

    entries = {p.id: {paths.entry_path(f) for f in p.files} for p in inventory.packages}
    owners: dict[str, list[Package]] = {}
    for package in inventory.packages:
        for path in entries[package.id]:
            owners.setdefault(path, []).append(package)

    delete: set[str] = set()
    kept_by_rule: dict[str, str] = {}
    removed: list[Package] = []
    kept_ids: set[str] = set()
    rpm_refused = rpm_removal_refused(rootfs)
    if options.granularity == "package":
        for package in inventory.packages:
            files = entries[package.id]
            if files & accessed or files & keep_paths:
                kept_ids.add(package.id)
                continue
            if package.ecosystem is Ecosystem.RPM and rpm_refused:
                kept_ids.add(package.id)
                kept_by_rule[package.purl] = rpm_refused
                continue
            reason = next((r for r in (forced_keep(f) for f in sorted(files)) if r and r != PACKAGE_DATABASE), None)
            if reason:
                kept_ids.add(package.id)
                kept_by_rule[package.purl] = reason
        for package in inventory.packages:
            container = _described_container(package, entries, owners, kept_ids)
            if package.id not in kept_ids and container is not None:
                kept_ids.add(package.id)
                kept_by_rule[package.purl] = (
                    f"its code ships in the kept package {container.name}; only its metadata is listed"
                )
        for package in inventory.packages:
            if package.id in kept_ids:
                continue
            removed.append(package)
            for path in entries[package.id]:
                if path in all_files and path not in keep_paths and not _held(owners[path], kept_ids):
                    delete.add(path)
        delete |= {p for p in all_files if dropped(p)}
        delete |= _orphaned_bytecode(delete, all_files, keep_paths, owners, kept_ids)
    else:
        for path in all_files:
            if dropped(path) or (path not in keep_paths and not forced_keep(path)):
                delete.add(path)
        for package in inventory.packages:
            # the package database is always kept; a package whose every other
            # file went is removed, metadata included, so the SBOM tells the truth
            files = entries[package.id] & all_files
            code = {f for f in files if keep_reason(f, ()) != PACKAGE_DATABASE} or files
            if package.ecosystem is Ecosystem.RPM and rpm_refused:
                kept_ids.add(package.id)
            elif package.files and not (code - delete):
                removed.append(package)
            else:
                kept_ids.add(package.id)
    kept = [p for p in inventory.packages if p.id in kept_ids]
    protected = {p for p in keep_paths if p not in all_files}
    for path, use in profile.files.items():
        protected.add(path)
        protected |= use.aliases
    dangling = {link for link in links if not paths.exists(link)}
    return HardenPlan(delete, removed, kept_by_rule, kept, links, dangling, protected)


def _held(holders: Sequence[Package], kept_ids: set[str]) -> bool:
    """Whether a kept package holds a file; the innermost (language) packages decide."""
    finest = [h for h in holders if h.ecosystem not in OS_ECOSYSTEMS] or list(holders)
    return any(h.id in kept_ids for h in finest)


def _described_container(
    package: Package, entries: dict[str, set[str]], owners: dict[str, list[Package]], kept_ids: set[str]
) -> Package | None:
    """The kept OS package whose code this language package only describes, if any.

    Debian's python3-setuptools lists ``setuptools-66.1.1.egg-info/PKG-INFO``
    and the code; the PyPI record found from that egg-info lists nothing but
    its metadata. Its use cannot be seen in a trace: it follows its container.
    """
    if package.ecosystem in OS_ECOSYSTEMS or not package.locations:
        return None
    location = package.locations[0].path
    meta = location if location.endswith((".dist-info", ".egg-info")) else posixpath.dirname(location)
    if not meta.endswith((".dist-info", ".egg-info")):
        return None
    if any(f != meta and not f.startswith(meta + "/") for f in package.files):
        return None  # it lists code of its own: its own use decides
    for path in entries[package.id]:
        for holder in owners.get(path, ()):
            if holder.ecosystem in OS_ECOSYSTEMS and holder.id in kept_ids:
                return holder
    return None


def _orphaned_bytecode(
    delete: set[str],
    all_files: set[str],
    keep_paths: set[str],
    owners: dict[str, list[Package]],
    kept_ids: set[str],
) -> set[str]:
    """``__pycache__/*.pyc`` of removed ``.py`` files.

    Debian compiles bytecode at install time (py3compile) and lists none of
    it: without this, every removed Python package leaves its bytecode behind.
    """
    by_source: dict[str, list[str]] = {}
    for path in all_files:
        match = _BYTECODE_RE.match(path)
        if match:
            by_source.setdefault(f"{match['dir']}/{match['stem']}.py", []).append(path)
    orphaned: set[str] = set()
    for path in delete:
        for bytecode in by_source.get(path, ()):
            if bytecode not in keep_paths and not _held(owners.get(bytecode, ()), kept_ids):
                orphaned.add(bytecode)
    return orphaned


def _chain(view: DirectoryView, path: str) -> set[str]:
    """``path`` plus every symlink crossed (and its target) on the way to it."""
    found = {path}
    parts = [p for p in path.split("/") if p]
    current = ""
    for part in parts:
        current = f"{current}/{part}"
        entry = view.entry(current)
        if entry is not None and entry.link_target is not None:
            found.add(current)
            target = _real(view, current)
            found |= _chain(view, target) if target != path else set()
            rest = path[len(current) :]
            found |= _chain(view, target + rest) if rest else set()
            break
    found.add(_real(view, path))
    return found


def _real(view: DirectoryView, path: str) -> str:
    try:
        return view.resolve(path)
    except Exception:  # a symlink loop in a package's files: treat the name itself
        return normalize_path(path)


def _all_files(rootfs: Path) -> tuple[set[str], set[str]]:
    """Every non-directory path of the rootfs (files and symlinks), and the symlinks among them."""
    paths: set[str] = set()
    links: set[str] = set()
    for current, dirs, files in os.walk(rootfs):
        rel = os.path.relpath(current, rootfs)
        base = "/" if rel == "." else "/" + rel
        for name in files:
            path = posixpath.join(base, name)
            paths.add(path)
            if os.path.islink(os.path.join(current, name)):
                links.add(path)
        for name in dirs:
            if os.path.islink(os.path.join(current, name)):
                path = posixpath.join(base, name)
                paths.add(path)
                links.add(path)
    return paths, links


# -- applying it --------------------------------------------------------------------


@dataclass(slots=True)
class AppliedChanges:
    """What :func:`apply_plan` removed beyond the planned files."""

    files: int = 0
    bytes: int = 0
    broken_links: list[str] = field(default_factory=list)  # symlinks whose target went
    directories: int = 0  # directories left empty


@contextlib.contextmanager
def _parent_fd(root_fd: int, path: str) -> Iterator[int | None]:
    """A fd of ``path``'s parent, reached without following any symlink."""
    fd = os.dup(root_fd)
    try:
        for part in [p for p in posixpath.dirname(path).split("/") if p]:
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                yield None
                return
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _unlink(root_fd: int, path: str) -> int:
    """Remove a file or symlink; returns the bytes freed, -1 when nothing was there."""
    with _parent_fd(root_fd, path) as dir_fd:
        if dir_fd is None:
            return -1
        name = posixpath.basename(path)
        try:
            st = os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return -1
        if stat.S_ISDIR(st.st_mode):
            return -1
        os.unlink(name, dir_fd=dir_fd)
        return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _remove_dir(root_fd: int, path: str) -> None:
    import shutil

    with _parent_fd(root_fd, path) as dir_fd:
        if dir_fd is None:
            return
        name = posixpath.basename(path)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            st = os.lstat(name, dir_fd=dir_fd)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dir_fd)


def _rmdir_if_empty(root_fd: int, path: str) -> bool:
    with _parent_fd(root_fd, path) as dir_fd:
        if dir_fd is None:
            return False
        try:
            os.rmdir(posixpath.basename(path), dir_fd=dir_fd)
        except OSError:  # not empty, gone, or not a directory
            return False
        return True


def apply_plan(rootfs: Path, plan: HardenPlan) -> AppliedChanges:
    """Delete planned files and the removed packages' metadata, then what that left broken.

    After the files go: the package-database entries of removed packages,
    the file lists of kept packages that lost files, symlinks that pointed
    at removed files (``/etc/alternatives`` chains, ``update-rc.d`` links,
    ``node_modules/.bin`` links, ldconfig's soname links), and directories
    left empty — repeated until nothing more changes.
    """
    changes = AppliedChanges()
    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        touched_dirs: set[str] = set()
        for path in sorted(plan.delete):
            freed = _unlink(root_fd, path)
            if freed >= 0:
                changes.files += 1
                changes.bytes += freed
                touched_dirs.add(posixpath.dirname(path))
        metadata = _remove_metadata(rootfs, root_fd, plan.removed)
        touched_dirs |= {posixpath.dirname(path) for path in metadata}
        resolver = _Resolver(DirectoryView(rootfs))
        pending_links = plan.links - plan.dangling_before - plan.delete
        pruned: set[str] = set()
        while True:
            broken = sorted(link for link in pending_links if not resolver.exists(link))
            pending_links -= set(broken)
            for link in broken:
                if _unlink(root_fd, link) >= 0:
                    changes.broken_links.append(link)
                    touched_dirs.add(posixpath.dirname(link))
            emptied = _prune_directories(root_fd, touched_dirs, plan.protected_dirs)
            pruned.update(emptied)
            touched_dirs = set()
            if not broken and not emptied:
                break
            resolver = _Resolver(DirectoryView(rootfs))  # cached directories may be gone
        changes.directories = len(pruned)
        gone = plan.delete | metadata | set(changes.broken_links) | pruned
        _trim_file_lists(rootfs, resolver, [p for p in plan.kept if p.ecosystem is Ecosystem.DEBIAN], gone)
    finally:
        os.close(root_fd)
    return changes


def _prune_directories(root_fd: int, candidates: set[str], protected: set[str]) -> list[str]:
    """Remove directories we emptied, deepest first, walking up; never a top-level one."""
    removed: list[str] = []
    queue = set(candidates)
    while queue:
        path = max(queue, key=lambda p: p.count("/"))
        queue.discard(path)
        if path.count("/") < 2 or path in protected:
            continue
        if _rmdir_if_empty(root_fd, path):
            removed.append(path)
            queue.add(posixpath.dirname(path))
    return removed


def _trim_file_lists(rootfs: Path, resolver: _Resolver, kept: Sequence[Package], removed: set[str]) -> None:
    """Drop removed paths from kept Debian packages' ``.list`` and ``.md5sums``.

    A kept package loses files when a package nested in it goes (Debian's
    node-acorn keeps acorn but not acorn-jsx) or by ``--drop``; its lists
    then name only what is there, so ``dpkg -L`` and scanners tell the truth.
    """
    info = rootfs / DPKG_INFO.lstrip("/")
    if not info.is_dir() or info.is_symlink():
        return
    for package in kept:
        gone = {f for f in package.files if resolver.entry_path(f) in removed}
        if not gone:
            continue
        for base in (package.name, f"{package.name}:{package.arch}" if package.arch else None):
            if base is None:
                continue
            listing = info / f"{base}.list"
            if listing.is_file() and not listing.is_symlink():
                lines = listing.read_text(errors="surrogateescape").splitlines(keepends=True)
                listing.write_text(
                    "".join(line for line in lines if line.rstrip("\n") not in gone), errors="surrogateescape"
                )
            sums = info / f"{base}.md5sums"
            if sums.is_file() and not sums.is_symlink():
                lines = sums.read_text(errors="surrogateescape").splitlines(keepends=True)
                sums.write_text(
                    "".join(line for line in lines if "/" + line.rstrip("\n").split("  ", 1)[-1] not in gone),
                    errors="surrogateescape",
                )


def _remove_metadata(rootfs: Path, root_fd: int, removed: Sequence[Package]) -> set[str]:
    """Remove the package-database entries of ``removed``; returns single files unlinked outside dpkg's."""
    unlinked: set[str] = set()
    debs = {(p.name, p.arch or "") for p in removed if p.ecosystem is Ecosystem.DEBIAN}
    deb_names = {name for name, _ in debs}
    if debs:
        status = rootfs / DPKG_STATUS.lstrip("/")
        if status.is_file() and not status.is_symlink():
            status.write_text(
                _filter_status(status.read_text(errors="surrogateescape"), debs), errors="surrogateescape"
            )
        info = rootfs / DPKG_INFO.lstrip("/")
        if info.is_dir() and not info.is_symlink():
            for entry in os.listdir(info):
                if _is_info_file_of(entry, debs):
                    _unlink(root_fd, f"{DPKG_INFO}/{entry}")
        for name in deb_names:
            _unlink(root_fd, f"{DPKG_STATUS_D}/{name}")
    apks = [p for p in removed if p.ecosystem is Ecosystem.APK]
    if apks:
        remove_apk_packages(rootfs, apks)
    remove_rpm_packages(rootfs, [p for p in removed if p.ecosystem is Ecosystem.RPM])
    for package in removed:
        for location in package.locations:
            path = location.path
            if package.ecosystem is Ecosystem.PYPI:
                directory = path if path.endswith((".dist-info", ".egg-info")) else posixpath.dirname(path)
                if directory.endswith((".dist-info", ".egg-info")):
                    _remove_dir(root_fd, directory)
                elif path.endswith(".egg-info"):
                    _unlink(root_fd, path)
            elif package.ecosystem is Ecosystem.NPM and path.endswith("/package.json"):
                directory = posixpath.dirname(path)
                if "/node_modules/" in directory:
                    _remove_dir(root_fd, directory)
                elif _unlink(root_fd, path) >= 0:  # a Debian-shipped module: the rest belongs to its .deb
                    unlinked.add(path)
    return unlinked


def _is_info_file_of(entry: str, debs: set[tuple[str, str]]) -> bool:
    """``NAME.list`` / ``NAME:ARCH.md5sums``…; ``libgtk2.0-0.list`` is not ``libgtk2``'s."""
    for name, arch in debs:
        for prefix in (f"{name}.", f"{name}:{arch}." if arch else None):
            if prefix and entry.startswith(prefix) and "." not in entry[len(prefix) :]:
                return True
    return False


def _filter_status(text: str, removed: set[tuple[str, str]]) -> str:
    """Drop the stanzas of removed packages, keeping every other byte as it was."""
    kept: list[str] = []
    for stanza in re.split(r"\n\s*\n", text):
        if not stanza.strip():
            continue
        fields = dict(
            (line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
            for line in stanza.splitlines()
            if ":" in line and not line.startswith((" ", "\t"))
        )
        name, arch = fields.get("Package", ""), fields.get("Architecture", "")
        if (name, arch) in removed or (name, "") in removed:
            continue
        kept.append(stanza.strip("\n"))
    return "\n\n".join(kept) + "\n" if kept else ""


def tar_rootfs(rootfs: Path, dest: Path, *, changed_since: float | None = None, stamp: int = 0) -> None:
    """One layer from a directory tree: sorted, links kept as links, mtimes as they were.

    Modification times are kept (Python checks its bytecode against them);
    entries changed at or after ``changed_since`` (the package database we
    rewrote, directories we removed files from) get ``stamp``, so the same
    input always gives the same layer.
    """
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as archive:
        for current, dirs, files in os.walk(rootfs):
            dirs.sort()
            rel_dir = os.path.relpath(current, rootfs)
            for name in sorted(dirs + files):
                host = os.path.join(current, name)
                arcname = name if rel_dir == "." else f"{rel_dir}/{name}"
                info = archive.gettarinfo(host, arcname)
                if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
                    continue
                if changed_since is not None and info.mtime >= int(changed_since):
                    info.mtime = stamp
                info.uname = info.gname = ""
                if info.isreg():
                    with open(host, "rb") as handle:
                        archive.addfile(info, handle)
                else:
                    archive.addfile(info)


def _counts(inventory: Inventory, rootfs: Path) -> Counts:
    counts = Counts()
    for ecosystem, packages in inventory.by_ecosystem().items():
        counts.packages[ecosystem.value] = len(packages)
    for current, _dirs, files in os.walk(rootfs):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(current, name))
                counts.files += 1
                counts.bytes += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return counts


def parse_output(output: str) -> tuple[str, Path]:
    scheme, sep, rest = output.partition(":")
    if not sep or scheme not in ("oci", "docker-archive") or not rest:
        raise UsageError(f"-o {output!r}: expected oci:DIR or docker-archive:FILE.tar")
    return scheme, Path(rest)


#: ``created_by`` of the history entry every hardened image ends with.
HISTORY_MARK = "chainwarden harden "
#: Largest index/manifest/config JSON read when telling our earlier outputs apart.
_MAX_META = 4 * 1024 * 1024


def sbom_path_for(out_path: Path) -> Path:
    """Where the SBOM of a hardened image goes: ``NAME.cdx.json`` beside it (``.tar`` dropped)."""
    return out_path.with_name(out_path.name.removesuffix(".tar") + ".cdx.json")


def check_output(target: str, output: str, *, force: bool = False, write_sbom: bool = True) -> tuple[str, Path]:
    """Refuse, before any work, an output that cannot be written or would destroy something.

    Never the source image itself; never into a missing directory; an existing
    file or non-empty directory only when it is an earlier output of ``harden``
    (an image whose last history entry is ours) or with ``force``. The same for
    the SBOM beside it (an earlier chainwarden CycloneDX document, else ``force``).
    """
    from chainwarden.sources import split_scheme

    scheme, out_path = parse_output(output)
    where = f"-o {output}"
    _, source_rest = split_scheme(target)
    # the source path as given, without a trailing :TAG (oci:DIR:TAG, FILE.tar:REPO:TAG)
    candidates = {source_rest, source_rest.split(":", 1)[0], source_rest.split(".tar:", 1)[0] + ".tar"}
    with contextlib.suppress(OSError):
        resolved = out_path.resolve()
        for source in (Path(c).resolve() for c in candidates if c and Path(c).exists()):
            if resolved == source or resolved.is_relative_to(source):
                raise UsageError(f"{where}: that is the image being hardened; write the hardened image elsewhere")
    parent = out_path.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{where}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{where}: directory {parent} is not writable")
    hint = "; pass --force to overwrite it, or choose another output"
    if scheme == "docker-archive":
        if out_path.is_dir():
            raise UsageError(f"{where}: is a directory, expected a FILE.tar")
        if (out_path.exists() or out_path.is_symlink()) and not force and not _is_hardened_archive(out_path):
            raise UsageError(f"{where}: {out_path} exists and is not an image written by chainwarden harden{hint}")
    else:
        if out_path.exists() and not out_path.is_dir():
            raise UsageError(f"{where}: {out_path} exists and is not a directory")
        if out_path.is_dir() and any(out_path.iterdir()) and not force and not _is_hardened_layout(out_path):
            raise UsageError(
                f"{where}: {out_path} is not empty and is not an image written by chainwarden harden{hint}"
            )
    if write_sbom:
        sbom = sbom_path_for(out_path)
        if (sbom.exists() or sbom.is_symlink()) and not force and not _is_our_sbom(sbom):
            raise UsageError(
                f"{where}: the SBOM would be written to {sbom}, which exists and is not a chainwarden SBOM{hint}"
            )
    return scheme, out_path


def _read_json(read: Any, name: str) -> Any:
    data = read(name)
    if data is None or len(data) > _MAX_META:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _config_is_ours(config: Any) -> bool:
    history = config.get("history") if isinstance(config, dict) else None
    if not isinstance(history, list) or not history or not isinstance(history[-1], dict):
        return False
    return str(history[-1].get("created_by", "")).startswith(HISTORY_MARK)


def _is_hardened_layout(root: Path) -> bool:
    def read(name: str) -> bytes | None:
        path = root / name
        try:
            if path.is_symlink() or path.stat().st_size > _MAX_META:
                return None
            return path.read_bytes()
        except OSError:
            return None

    def blob(digest: Any) -> str:
        return f"blobs/sha256/{str(digest).removeprefix('sha256:')}" if str(digest).startswith("sha256:") else ""

    index = _read_json(read, "index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        return False
    for descriptor in manifests:
        manifest = _read_json(read, blob(descriptor.get("digest"))) if isinstance(descriptor, dict) else None
        config_desc = manifest.get("config") if isinstance(manifest, dict) else None
        config = _read_json(read, blob(config_desc.get("digest"))) if isinstance(config_desc, dict) else None
        if not _config_is_ours(config):
            return False
    return True


def _is_hardened_archive(path: Path) -> bool:
    try:
        with tarfile.open(path, mode="r:") as archive:

            def read(name: str) -> bytes | None:
                try:
                    member = archive.getmember(name)
                except KeyError:
                    return None
                handle = archive.extractfile(member) if member.isfile() and member.size <= _MAX_META else None
                return handle.read() if handle is not None else None

            manifest = _read_json(read, "manifest.json")
            if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
                return False
            return _config_is_ours(_read_json(read, str(manifest[0].get("Config", ""))))
    except (OSError, tarfile.TarError):
        return False


def _is_our_sbom(path: Path) -> bool:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 512 * 1024 * 1024:
            return False
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    tools = (
        doc.get("metadata", {}).get("tools")
        if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict)
        else None
    )
    components = tools.get("components") if isinstance(tools, dict) else tools
    return (
        doc.get("bomFormat") == "CycloneDX"
        and isinstance(components, list)
        and any(isinstance(c, dict) and c.get("name") == "chainwarden" for c in components)
    )


def write_image(scheme: str, out_path: Path, spec: Any) -> str:
    """Write the hardened image so that a failure leaves what was at ``out_path`` as it was.

    A docker archive is written beside its place and renamed over it; an OCI
    layout is built in a sibling directory and swapped in (an earlier output is
    replaced whole). A non-empty directory that is not ours (allowed by
    ``--force``) is added to as an OCI layout, never emptied.
    """
    from chainwarden.sources.oci_writer import write_docker_archive, write_oci_layout

    parent = out_path.absolute().parent
    if scheme == "docker-archive":
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        try:
            digest = write_docker_archive(Path(tmp_name), spec)
            os.chmod(tmp_name, 0o666 & ~_umask())
            os.replace(tmp_name, out_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return str(digest)
    if out_path.is_dir() and any(out_path.iterdir()) and not _is_hardened_layout(out_path):
        return str(write_oci_layout(out_path, spec))  # --force into someone's layout: add, do not delete
    new = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=parent))
    old: Path | None = None
    try:
        digest = write_oci_layout(new, spec)
        os.chmod(new, 0o777 & ~_umask())
        if out_path.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".old", dir=parent))
            os.rename(out_path, old / "previous")
        os.rename(new, out_path)
    except BaseException:
        if old is not None and (old / "previous").exists() and not out_path.exists():
            os.rename(old / "previous", out_path)
        remove_tree(new)
        raise
    finally:
        if old is not None:
            remove_tree(old)
    return str(digest)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_profile_fits(profile: Profile, digest: str | None, reference: str) -> None:
    recorded = profile.target.get("digest")
    if recorded and digest and recorded != digest:
        raise ProfileError(
            f"{reference}: the profile was recorded for {recorded[:19]}…, "
            f"this image is {digest[:19]}…; profile it again"
        )


def harden_target(
    target: str,
    profile: Profile,
    output: str,
    options: HardenOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> HardenReport:
    """Write a hardened copy of ``target`` to ``output`` and verify it against ``profile``."""
    from chainwarden.api import build_inventory, open_target
    from chainwarden.sources.image import ImageSource
    from chainwarden.sources.materialize import copy_rootfs, materialize_layers
    from chainwarden.sources.oci_writer import ImageSpec
    from chainwarden.sources.rootfs import DirectorySource

    options = options or HardenOptions()
    if options.granularity not in ("package", "file"):
        raise UsageError(f"--granularity {options.granularity!r}: expected package or file")
    # every output is checked before the (slow) work, and nothing is clobbered unasked
    scheme, out_path = check_output(target, output, force=options.force, write_sbom=options.write_sbom)
    inventory = build_inventory(target, options=options.source, progress=progress)
    workdir = Path(tempfile.mkdtemp(prefix="chainwarden-harden-"))
    try:
        rootfs = workdir / "rootfs"
        with open_target(target, options.source) as source:
            info = source.info
            check_profile_fits(profile, info.digest, target)
            full_config: dict[str, Any] = {}
            if isinstance(source, ImageSource):
                full_config = source.image_config()
                materialize_layers(source, rootfs, progress, preserve_ownership=True)
            elif isinstance(source, DirectorySource):
                copy_rootfs(source.root, rootfs)
            else:
                source.materialize(rootfs, progress)
        before = _counts(inventory, rootfs)
        plan = plan_hardening(rootfs, inventory, profile, options)
        changed_since = time.time() - 1
        changes = apply_plan(rootfs, plan)
        layer = workdir / "layer.tar"
        tar_rootfs(rootfs, layer, changed_since=changed_since, stamp=_created_epoch(full_config))
        config = full_config.get("config") if isinstance(full_config.get("config"), dict) else {}
        entry = (
            f"{HISTORY_MARK}--granularity {options.granularity} (from {info.digest or info.reference}): "
            f"removed {len(plan.removed)} packages, {changes.files + len(changes.broken_links)} files; "
            f"earlier layers squashed into this one"
        )
        spec = ImageSpec(
            [layer],
            dict(config or {}),
            architecture=str(full_config.get("architecture") or "amd64"),
            os=str(full_config.get("os") or "linux"),
            history=hardened_history(full_config, entry),
        )
        digest = write_image(scheme, out_path, spec)
        new_target = f"{scheme}:{out_path}"
        new_inventory = build_inventory(new_target)
        after = _counts(new_inventory, rootfs)
        report = HardenReport(
            new_target,
            options.granularity,
            before,
            after,
            sorted(p.purl for p in plan.removed),
            plan.kept_by_rule,
            digest=digest,
            cleanup={"broken_links": len(changes.broken_links), "empty_directories": changes.directories},
        )
        report.notes.append("setuid/setgid bits were stripped from every file")
        if options.compare_vulnerabilities:
            report.vulnerabilities = compare_vulnerabilities(inventory, new_inventory, options.vuln_db, report.notes)
        if options.verify:
            report.verified = verify_hardened(new_target, profile, new_inventory, options)
        else:
            report.notes.append("verification skipped (--no-verify)")
        if options.write_sbom:
            report.sbom = _write_sbom(new_inventory, out_path, report)
        return report
    finally:
        remove_tree(workdir)


def _created_epoch(image_config: dict[str, Any]) -> int:
    """The original image's ``created`` time in seconds, or 0."""
    created = image_config.get("created")
    if isinstance(created, str):
        with contextlib.suppress(ValueError):
            return max(0, int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()))
    return 0


def hardened_history(image_config: dict[str, Any], entry: str) -> list[dict[str, Any]]:
    """The original image's history entries, kept whole but marked ``empty_layer``
    (their layers are squashed into the one hardened layer), plus ``entry``
    describing that layer — so each non-empty entry still pairs with a layer."""
    history = image_config.get("history")
    kept = (
        [dict(item, empty_layer=True) for item in history if isinstance(item, dict)]
        if isinstance(history, list)
        else []
    )
    return [*kept, {"created_by": entry}]


def compare_vulnerabilities(
    before: Inventory, after: Inventory, db_path: Path | None, notes: list[str]
) -> VulnerabilityDelta | None:
    """Match both inventories against the vulnerability database; None (with a note) when there is none."""
    from chainwarden.errors import DatabaseError
    from chainwarden.vulndb import DatabaseMissingError, default_db_path, match_inventory, open_database

    path = db_path or default_db_path()
    try:
        with open_database(path) as db:
            old, new = match_inventory(before, db), match_inventory(after, db)
    except DatabaseMissingError:
        notes.append(f"vulnerabilities not compared: no database at {path} (chainwarden db update)")
        return None
    except DatabaseError as exc:
        notes.append(f"vulnerabilities not compared: {exc}")
        return None

    def keyed(result: Any) -> dict[tuple[str, str], Any]:
        return {(m.vuln_id, m.package.purl): m for m in result.matches}

    def by_severity(matches: Iterable[Any]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for match in matches:
            severity = match.finding.severity.value
            counts[severity] = counts.get(severity, 0) + 1
        return dict(sorted(counts.items()))

    old_keyed, new_keyed = keyed(old), keyed(new)
    gone = [old_keyed[k] for k in sorted(old_keyed.keys() - new_keyed.keys())]
    return VulnerabilityDelta(
        str(path),
        by_severity(old_keyed.values()),
        by_severity(new_keyed.values()),
        tuple(
            f"{m.vuln_id} {m.package.name} {m.package.version} ({m.finding.severity.value})"
            for m in sorted(gone, key=lambda m: (-m.finding.severity.rank, m.package.name, m.vuln_id))
        ),
    )


def _write_sbom(inventory: Inventory, out_path: Path, report: HardenReport) -> str | None:
    try:
        from chainwarden.report.cyclonedx import render_cyclonedx
    except ImportError:
        report.notes.append("SBOM not written: the CycloneDX reporter is unavailable")
        return None
    from chainwarden._internal.files import write_text_atomically

    sbom_path = sbom_path_for(out_path)
    write_text_atomically(sbom_path, render_cyclonedx(inventory))
    return str(sbom_path)


def verify_hardened(target: str, profile: Profile, inventory: Inventory | None, options: HardenOptions) -> list[str]:
    """Re-run every probe of ``profile`` in ``target``, in order; raise VerificationError on a difference.

    The error names the probe and the first file it needed that is gone: the
    first file the new trace saw missing, or — when the program could not
    even start (its loader or interpreter is gone) — the first executed or
    loaded name of the original run that no longer resolves.
    """
    from chainwarden.runtime.profile import prepared_rootfs

    del inventory  # the package view is not compared
    net = NetMode(profile.net) if profile.net in {m.value for m in NetMode} else NetMode.NONE
    profile_options = ProfileOptions(net=net, engine=options.engine, timeout=options.timeout)
    verified = []
    with prepared_rootfs(target) as (info, config, rootfs):
        for old in profile.probes:
            where = f"{target}: {old.name} ({' '.join(old.argv)[:60]})"
            try:
                again = profile_rootfs(rootfs, info, config, [old.spec], profile_options, None, manifest=False)
            except SandboxError as exc:
                gone = _first_gone(rootfs, profile, old.argv[:1])
                raise VerificationError(
                    f"{where} does not run: {exc}" + (f"; first missing file: {gone}" if gone else "")
                ) from None
            new = again.probes[0]
            if old.outcome() != new.outcome():
                missing = next(
                    (path for path, use in sorted(again.files.items()) if use.missing and _was_there(profile, path)),
                    None,
                ) or _first_gone(rootfs, profile, old.argv[:1])
                raise VerificationError(
                    f"{where} behaves differently: {_difference(old, new)}"
                    + (f"; first missing file: {missing}" if missing else "; no missing file seen in the trace")
                )
            verified.append(old.name)
    return verified


def _was_there(profile: Profile, path: str) -> bool:
    """Whether the original image had ``path`` (not a file every run looks for in vain)."""
    if profile.image_files:
        return path in profile.image_files
    use = profile.files.get(path)
    return use is not None and not use.missing


def _first_gone(rootfs: Path, profile: Profile, first: Sequence[str]) -> str | None:
    """The first name the original run executed or loaded that no longer resolves in ``rootfs``."""
    resolver = _Resolver(DirectoryView(rootfs))
    names = list(first)
    for access in (Access.EXECUTED, Access.LOADED, Access.READ):
        for path, use in sorted(profile.files.items()):
            if access in use.accesses and not use.missing:
                names += [path, *sorted(use.aliases)]
    return next((name for name in names if name.startswith("/") and not resolver.exists(name)), None)


def _difference(old: Any, new: Any) -> str:
    if old.spec.kind == "http":
        for a, b in zip(old.http, new.http, strict=False):
            if (a.status, a.body_sha256) != (b.status, b.body_sha256):
                return f"{a.method} {a.path} answered {b.status} (was {a.status})" + (
                    ", different body" if a.status == b.status else ""
                )
        return "HTTP answers differ"
    if old.exit_code != new.exit_code or old.signal != new.signal or old.timed_out != new.timed_out:
        was = "timeout" if old.timed_out else old.signal or old.exit_code
        now = "timeout" if new.timed_out else new.signal or new.exit_code
        return f"exit {now} (was {was})"
    return "stdout differs" if old.stdout_sha256 != new.stdout_sha256 else "stderr differs"
