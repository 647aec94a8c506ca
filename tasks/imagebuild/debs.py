"""Install real ``.deb`` files into a rootfs the way dpkg records them, without dpkg.

``apt-get download`` fetches the archive's own packages; ``dpkg-deb`` unpacks
data and control. We then write what ``dpkg --unpack && --configure`` would
leave in ``/var/lib/dpkg``: a ``status`` stanza per package (its control fields
plus ``Status: install ok installed`` and ``Conffiles``), and ``info/<pkg>.list``
/ ``.md5sums`` / maintainer scripts, named ``<pkg>:<arch>.*`` for
``Multi-Arch: same`` packages as dpkg does. Maintainer scripts are not run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Top-level directories that bookworm's merged /usr turns into symlinks.
MERGED_USR_DIRS = ("bin", "sbin", "lib", "lib64")

#: Control-archive members dpkg keeps under /var/lib/dpkg/info.
INFO_MEMBERS = ("conffiles", "md5sums", "preinst", "postinst", "prerm", "postrm", "shlibs", "symbols", "triggers")


class DebError(RuntimeError):
    """A package could not be fetched or unpacked."""


@dataclass(frozen=True, slots=True)
class InstalledDeb:
    name: str
    version: str
    architecture: str
    status_stanza: str


def _run(args: list[str], *, cwd: Path | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DebError(f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


def fetch_debs(names: list[str], cache: Path) -> list[Path]:
    """The newest archive version of each package, downloaded once into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)

    def cached(name: str) -> Path | None:
        matches = sorted(cache.glob(f"{name}_*.deb"))
        return matches[-1] if matches else None

    missing = [name for name in names if cached(name) is None]
    if missing:
        # As root, apt drops to _apt for downloads, which cannot write the cache dir.
        command = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", *missing]
        try:
            _run(command, cwd=cache)
        except DebError:
            # A fresh machine may have no package lists yet.
            _run(["apt-get", "-q", "update"])
            _run(command, cwd=cache)
    paths = []
    for name in names:
        path = cached(name)
        if path is None:
            raise DebError(f"apt-get download {name}: no .deb appeared in {cache}")
        paths.append(path)
    return paths


def _merged_target(relative: Path) -> Path:
    if relative.parts and relative.parts[0] in MERGED_USR_DIRS:
        return Path("usr", *relative.parts)
    return relative


def prepare_merged_usr(root: Path) -> None:
    """The symlinks debootstrap creates on bookworm: /bin → usr/bin, …"""
    for name in MERGED_USR_DIRS:
        (root / "usr" / name).mkdir(parents=True, exist_ok=True)
        link = root / name
        if not link.is_symlink():
            link.symlink_to(f"usr/{name}")


def _merge_tree(source: Path, root: Path) -> list[str]:
    """Copy an unpacked package into ``root``; returns its paths as dpkg lists them."""
    listed = ["/."]
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            src = here / name
            relative = src.relative_to(source)
            listed.append("/" + relative.as_posix())
            dest = root / _merged_target(relative)
            info = src.lstat()
            if src.is_dir() and not src.is_symlink():
                if dest.is_symlink() and relative.as_posix() in MERGED_USR_DIRS:
                    continue
                dest.mkdir(exist_ok=True)
                dest.chmod(info.st_mode & 0o7777)
            else:
                if dest.is_symlink() or dest.exists():
                    dest.unlink()
                if src.is_symlink():
                    dest.symlink_to(os.readlink(src))
                else:
                    shutil.copy2(src, dest)
            if os.geteuid() == 0:
                os.lchown(dest, info.st_uid, info.st_gid)
    return listed


def _status_stanza(control: str, conffiles: list[tuple[str, str]]) -> str:
    lines = control.rstrip("\n").split("\n")
    # dpkg writes Status right after Package, and Conffiles before Description.
    out = [lines[0], "Status: install ok installed"]
    for line in lines[1:]:
        if line.startswith("Description:") and conffiles:
            out.append("Conffiles:")
            out.extend(f" {path} {digest}" for path, digest in conffiles)
        out.append(line)
    return "\n".join(out) + "\n"


def install_deb(deb: Path, root: Path, work: Path) -> InstalledDeb:
    """Unpack ``deb`` into ``root`` and write its dpkg database records."""
    fields = dict(
        line.split(": ", 1)
        for line in _run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture", "Multi-Arch"]).splitlines()
        if ": " in line
    )
    name, version, arch = fields["Package"], fields["Version"], fields["Architecture"]
    control_dir, data_dir = work / f"{name}.control", work / f"{name}.data"
    for directory in (control_dir, data_dir):
        shutil.rmtree(directory, ignore_errors=True)
    _run(["dpkg-deb", "-e", str(deb), str(control_dir)])
    _run(["dpkg-deb", "-x", str(deb), str(data_dir)])
    listed = _merge_tree(data_dir, root)

    info_dir = root / "var/lib/dpkg/info"
    info_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{name}:{arch}" if fields.get("Multi-Arch") == "same" else name
    (info_dir / f"{stem}.list").write_text("\n".join(listed) + "\n")
    for member in INFO_MEMBERS:
        if (control_dir / member).is_file():
            shutil.copy2(control_dir / member, info_dir / f"{stem}.{member}")
    conffiles = []
    if (control_dir / "conffiles").is_file():
        for line in (control_dir / "conffiles").read_text().split():
            if line.startswith("/"):
                body = (root / _merged_target(Path(line.lstrip("/")))).read_bytes()
                conffiles.append((line, hashlib.md5(body, usedforsecurity=False).hexdigest()))
    stanza = _status_stanza((control_dir / "control").read_text(), conffiles)
    shutil.rmtree(control_dir)
    shutil.rmtree(data_dir)
    return InstalledDeb(name=name, version=version, architecture=arch, status_stanza=stanza)


def write_dpkg_status(root: Path, installed: list[InstalledDeb]) -> None:
    """``/var/lib/dpkg/status`` with every stanza, sorted by name as dpkg keeps it."""
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True, exist_ok=True)
    stanzas = sorted(installed, key=lambda deb: deb.name)
    status.write_text("\n".join(deb.status_stanza for deb in stanzas))
    (root / "var/lib/dpkg/available").touch()
