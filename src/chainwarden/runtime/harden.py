"""Harden an image from its profile: drop what never ran, write a new image, verify it.

Package granularity (the default) removes every package none of whose files
was executed, loaded, read or written — files *and* its entries in the
package databases (dpkg status stanza and ``info/*`` files, ``*.dist-info``,
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
import os
import posixpath
import re
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chainwarden.errors import UsageError
from chainwarden.models import Ecosystem, Inventory, Package
from chainwarden.runtime.interface import ProfileError, VerificationError
from chainwarden.runtime.profile import (
    Profile,
    ProfileOptions,
    profile_rootfs,
    remove_tree,
)
from chainwarden.runtime.sandbox import Engine, NetMode
from chainwarden.sources.interface import ProgressCallback
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
        "distribution identity (scanners read it)", re.compile(r"^/(etc|usr/lib)/os-release$|^/etc/debian_version$")
    ),
    KeepRule(
        "package database",
        re.compile(r"^/var/lib/dpkg/|\.dist-info/|\.egg-info(/|$)|/node_modules/(@[^/]+/)?[^/]+/package\.json$"),
    ),
)


def keep_reason(path: str, used_paths: Iterable[str]) -> str | None:
    """Why ``path`` is always kept, or None."""
    used = list(used_paths)
    for rule in KEEP_RULES:
        if rule.pattern.search(path) and (rule.only_if_used is None or any(rule.only_if_used.search(u) for u in used)):
            return rule.reason
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


@dataclass(slots=True)
class Counts:
    packages: dict[str, int] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"packages": dict(sorted(self.packages.items())), "files": self.files, "bytes": self.bytes}


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
            "sbom": self.sbom,
            "notes": self.notes,
        }

    def render(self) -> str:
        lines = [f"hardened image  {self.output}  {self.digest or ''}".rstrip(), ""]
        lines.append(f"{'':<12} {'before':>10} {'after':>10}")
        ecosystems = sorted(set(self.before.packages) | set(self.after.packages))
        for ecosystem in ecosystems:
            lines.append(
                f"{ecosystem + ' pkgs':<12} {self.before.packages.get(ecosystem, 0):>10} "
                f"{self.after.packages.get(ecosystem, 0):>10}"
            )
        lines.append(f"{'files':<12} {self.before.files:>10} {self.after.files:>10}")
        lines.append(f"{'MB':<12} {self.before.bytes / 1e6:>10.1f} {self.after.bytes / 1e6:>10.1f}")
        lines.append("")
        lines.append(
            f"removed {len(self.removed_packages)} packages; verified probes: {', '.join(self.verified) or 'none'}"
        )
        for purl, reason in sorted(self.kept_by_rule.items()):
            lines.append(f"kept {purl}: {reason}")
        if self.sbom:
            lines.append(f"SBOM: {self.sbom}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


# -- the plan ----------------------------------------------------------------------


@dataclass(slots=True)
class HardenPlan:
    delete: set[str]  # real paths of files and symlinks to remove
    removed: list[Package]
    kept_by_rule: dict[str, str]


def plan_hardening(rootfs: Path, inventory: Inventory, profile: Profile, options: HardenOptions) -> HardenPlan:
    """Decide what goes. Pure with respect to ``rootfs`` (only reads it)."""
    view = DirectoryView(rootfs)
    accessed = profile.accessed()
    # every name the probes used: the symlinks on the way must stay
    keep_paths: set[str] = set()
    for path in accessed:
        keep_paths |= _chain(view, path)
        for alias in profile.files[path].aliases:
            keep_paths |= _chain(view, alias)
    all_files = _all_files(rootfs)

    def forced_keep(path: str) -> str | None:
        if any(fnmatch.fnmatchcase(path, glob) for glob in options.keep):
            return "--keep"
        return keep_reason(path, accessed)

    def dropped(path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, glob) for glob in options.drop) and not path.startswith("/var/lib/dpkg/")

    delete: set[str] = set()
    kept_by_rule: dict[str, str] = {}
    removed: list[Package] = []
    if options.granularity == "package":
        owned_real: dict[str, set[str]] = {}
        for package in inventory.packages:
            owned_real[package.id] = {_real(view, f) for f in package.files} | set(package.files)
        kept_ids: set[str] = set()
        for package in inventory.packages:
            files = owned_real[package.id]
            if files & accessed or files & keep_paths:
                kept_ids.add(package.id)
                continue
            reason = next((r for r in (forced_keep(f) for f in sorted(files)) if r and r != "package database"), None)
            if reason:
                kept_ids.add(package.id)
                kept_by_rule[package.purl] = reason
        still_needed = set().union(*(owned_real[p.id] for p in inventory.packages if p.id in kept_ids))
        for package in inventory.packages:
            if package.id in kept_ids:
                continue
            removed.append(package)
            for path in owned_real[package.id]:
                if path not in still_needed and path not in keep_paths and path in all_files:
                    delete.add(path)
        delete |= {p for p in all_files if dropped(p)}
    else:
        for path in all_files:
            if dropped(path) or (path not in keep_paths and not forced_keep(path)):
                delete.add(path)
        for package in inventory.packages:
            remaining = {_real(view, f) for f in package.files} - delete
            if package.files and not (remaining & all_files):
                removed.append(package)
    return HardenPlan(delete, removed, kept_by_rule)


def _real(view: DirectoryView, path: str) -> str:
    try:
        return view.resolve(path)
    except Exception:  # a symlink loop in a package's files: treat the name itself
        return posixpath.normpath(path)


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


def _all_files(rootfs: Path) -> set[str]:
    """Every non-directory path of the rootfs (files and symlinks)."""
    paths: set[str] = set()
    for current, dirs, files in os.walk(rootfs):
        rel = os.path.relpath(current, rootfs)
        base = "/" if rel == "." else "/" + rel
        for name in files:
            paths.add(posixpath.join(base, name))
        for name in dirs:
            if os.path.islink(os.path.join(current, name)):
                paths.add(posixpath.join(base, name))
    return paths


# -- applying it --------------------------------------------------------------------


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
    """Remove a file or symlink; returns the bytes freed."""
    with _parent_fd(root_fd, path) as dir_fd:
        if dir_fd is None:
            return 0
        name = posixpath.basename(path)
        try:
            st = os.lstat(name, dir_fd=dir_fd)
        except FileNotFoundError:
            return 0
        if stat.S_ISDIR(st.st_mode):
            return 0
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


def apply_plan(rootfs: Path, plan: HardenPlan) -> None:
    """Delete planned files and the removed packages' metadata entries."""
    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for path in sorted(plan.delete):
            _unlink(root_fd, path)
        _remove_metadata(rootfs, root_fd, plan.removed)
    finally:
        os.close(root_fd)


def _remove_metadata(rootfs: Path, root_fd: int, removed: Sequence[Package]) -> None:
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


def tar_rootfs(rootfs: Path, dest: Path) -> None:
    """One layer from a directory tree: sorted, fixed mtimes, links kept as links."""
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
                info.mtime = 0
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
    from chainwarden.sources.oci_writer import ImageSpec, write_docker_archive, write_oci_layout
    from chainwarden.sources.rootfs import DirectorySource

    options = options or HardenOptions()
    if options.granularity not in ("package", "file"):
        raise UsageError(f"--granularity {options.granularity!r}: expected package or file")
    scheme, out_path = parse_output(output)
    inventory = build_inventory(target, progress=progress)
    workdir = Path(tempfile.mkdtemp(prefix="chainwarden-harden-"))
    try:
        rootfs = workdir / "rootfs"
        with open_target(target) as source:
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
        apply_plan(rootfs, plan)
        layer = workdir / "layer.tar"
        tar_rootfs(rootfs, layer)
        config = full_config.get("config") if isinstance(full_config.get("config"), dict) else {}
        history = (
            f"chainwarden harden --granularity {options.granularity} (from {info.digest or info.reference}): "
            f"removed {len(plan.removed)} packages, {len(plan.delete)} files"
        )
        spec = ImageSpec(
            [layer],
            dict(config or {}),
            architecture=str(full_config.get("architecture") or "amd64"),
            os=str(full_config.get("os") or "linux"),
            history=[history],
        )
        digest = write_oci_layout(out_path, spec) if scheme == "oci" else write_docker_archive(out_path, spec)
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
        )
        report.notes.append("setuid/setgid bits were stripped from every file")
        if options.verify:
            report.verified = verify_hardened(new_target, profile, new_inventory, options)
        else:
            report.notes.append("verification skipped (--no-verify)")
        if options.write_sbom:
            report.sbom = _write_sbom(new_inventory, out_path, report)
        return report
    finally:
        remove_tree(workdir)


def _write_sbom(inventory: Inventory, out_path: Path, report: HardenReport) -> str | None:
    try:
        from chainwarden.report.cyclonedx import render_cyclonedx
    except ImportError:
        report.notes.append("SBOM not written: the CycloneDX reporter is unavailable")
        return None
    sbom_path = out_path.with_name(out_path.name.removesuffix(".tar") + ".cdx.json")
    sbom_path.write_text(render_cyclonedx(inventory), encoding="utf-8")
    return str(sbom_path)


def verify_hardened(target: str, profile: Profile, inventory: Inventory | None, options: HardenOptions) -> list[str]:
    """Re-run every probe of ``profile`` in ``target``; raise VerificationError on a difference."""
    from chainwarden.runtime.profile import prepared_rootfs

    probes = [p.spec for p in profile.probes]
    net = NetMode(profile.net) if profile.net in {m.value for m in NetMode} else NetMode.NONE
    profile_options = ProfileOptions(net=net, engine=options.engine, timeout=options.timeout)
    with prepared_rootfs(target) as (info, config, rootfs):
        again = profile_rootfs(rootfs, info, config, probes, profile_options, inventory)
    verified = []
    for old, new in zip(profile.probes, again.probes, strict=True):
        if old.outcome() != new.outcome():
            missing = next(
                (
                    path
                    for path, use in again.files.items()
                    if use.missing and (path in profile.image_files or path in profile.files)
                ),
                None,
            )
            raise VerificationError(
                f"{target}: {old.name} ({' '.join(old.argv)[:60]}) behaves differently: {_difference(old, new)}"
                + (f"; first missing file: {missing}" if missing else "; no missing file seen in the trace")
            )
        verified.append(old.name)
    return verified


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
