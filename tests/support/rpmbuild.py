"""Real rpm databases for tests: packages built by Debian's ``rpmbuild`` and installed by ``rpm``.

No RPM distribution mirror is reachable from CI, so the packages are built here
from spec files and installed with ``rpm --root … --nodeps``, which writes a
genuine SQLite rpmdb. Debian's rpm can read Berkeley DB (``bdb_ro``) but not
write it: the same header blobs are loaded into a Berkeley DB hash database by
libdb itself (``db5.3_load``), and the result is checked by ``rpm -qa`` with the
``bdb_ro`` backend. Debian's rpm has no NDB backend at all: :func:`write_ndb`
lays the blobs out as rpm's ``lib/backend/ndb/rpmpkg.c`` does.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RPM_TOOLS = ("rpm", "rpmbuild")


def require_rpm_tools(*extra: str) -> None:
    """Skip when rpm/rpmbuild is missing (``make test`` installs them: tasks/install-system-tools.sh)."""
    for tool in (*RPM_TOOLS, *extra):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (tasks/install-system-tools.sh installs it)")


@dataclass(frozen=True)
class RpmFile:
    path: str  # absolute path in the package
    content: str = ""
    symlink_to: str | None = None
    mode: str = "0644"


@dataclass(frozen=True)
class RpmSpec:
    name: str
    version: str
    release: str
    epoch: int | None = None
    license: str = "MIT"
    vendor: str | None = None
    #: subpackage names (full names, ``%package -n``), each with its files
    subpackages: dict[str, tuple[RpmFile, ...]] = field(default_factory=dict)
    files: tuple[RpmFile, ...] = ()
    arch: str = "x86_64"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _install_lines(files: Sequence[RpmFile]) -> list[str]:
    lines = []
    for item in files:
        target = f"%{{buildroot}}{item.path}"
        parent = target.rsplit("/", 1)[0]
        lines.append(f"mkdir -p {parent}")
        if item.symlink_to is not None:
            lines.append(f"ln -s {_quote(item.symlink_to)} {target}")
        else:
            lines.append(f"printf '%s' {_quote(item.content)} > {target}")
            lines.append(f"chmod {item.mode} {target}")
    return lines


def spec_text(spec: RpmSpec) -> str:
    lines = [
        f"Name: {spec.name}",
        f"Version: {spec.version}",
        f"Release: {spec.release}",
        f"Summary: {spec.name} test package",
        f"License: {spec.license}",
        f"BuildArch: {spec.arch}",
    ]
    if spec.epoch is not None:
        lines.append(f"Epoch: {spec.epoch}")
    if spec.vendor:
        lines.append(f"Vendor: {spec.vendor}")
    lines += ["%description", f"{spec.name} built by chainwarden's tests"]
    for sub in spec.subpackages:
        lines += [f"%package -n {sub}", f"Summary: {sub}", f"%description -n {sub}", sub]
    all_files = list(spec.files) + [f for files in spec.subpackages.values() for f in files]
    lines += ["%install", *_install_lines(all_files)]
    if spec.files or not spec.subpackages:
        lines += ["%files", *(f.path for f in spec.files)]
    for sub, files in spec.subpackages.items():
        lines += [f"%files -n {sub}", *(f.path for f in files)]
    return "\n".join(lines) + "\n"


def build_rpms(workdir: Path, specs: Sequence[RpmSpec]) -> list[Path]:
    """Build every spec with rpmbuild (offline, no scriptlets), return the binary rpms."""
    top = workdir / "rpmbuild"
    for spec in specs:
        spec_path = workdir / f"{spec.name}.spec"
        spec_path.write_text(spec_text(spec))
        subprocess.run(
            [
                "rpmbuild",
                "-bb",
                "--quiet",
                "--define",
                f"_topdir {top}",
                "--define",
                "_build_id_links none",
                "--define",
                "__strip /bin/true",
                "--define",
                "__brp_strip /bin/true",
                "--define",
                "_binary_payload w.ufdio",  # no compression: faster builds
                str(spec_path),
            ],
            check=True,
            capture_output=True,
        )
    return sorted((top / "RPMS").rglob("*.rpm"))


def install_rpms(root: Path, rpms: Sequence[Path], dbpath: str = "/var/lib/rpm") -> Path:
    """``rpm --root`` install into ``root`` with the SQLite backend; returns the database file."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            dbpath,
            "--define",
            "_db_backend sqlite",
            "--nodeps",
            "--noscripts",
            "--nosignature",
            "--nodigest",
            "--ignorearch",
            "--noplugins",
            "-i",
            *map(str, rpms),
        ],
        check=True,
        capture_output=True,
    )
    db = root / dbpath.lstrip("/") / "rpmdb.sqlite"
    for leftover in (".rpm.lock", "rpmdb.sqlite-shm"):
        (db.parent / leftover).unlink(missing_ok=True)
    wal = db.parent / "rpmdb.sqlite-wal"
    if wal.exists() and wal.stat().st_size == 0:
        wal.unlink()
    return db


def header_blobs(sqlite_db: Path) -> list[tuple[int, bytes]]:
    connection = sqlite3.connect(f"file:{sqlite_db}?mode=ro", uri=True)
    try:
        return [(int(h), bytes(b)) for h, b in connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")]
    finally:
        connection.close()


def write_bdb(sqlite_db: Path, dest: Path) -> Path:
    """The SQLite rpmdb's headers as a Berkeley DB ``Packages`` written by libdb (db5.3_load)."""
    blobs = header_blobs(sqlite_db)
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    # rpm keeps the next free record number under key 0
    next_free = max((h for h, _ in blobs), default=0) + 1
    for key, value in [(0, struct.pack("<I", next_free)), *blobs]:
        lines += [" " + struct.pack("<I", key).hex(), " " + value.hex()]
    lines.append("DATA=END")
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["db5.3_load", str(dest)], input="\n".join(lines) + "\n", text=True, check=True)
    return dest


def rpm_query_all(root: Path, backend: str, dbpath: str = "/var/lib/rpm") -> list[str]:
    """``rpm -qa`` over ``root`` with ``backend``: what rpm itself reads from the database."""
    done = subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", dbpath, "--define", f"_db_backend {backend}", "-qa"],
        check=True,
        capture_output=True,
        text=True,
    )
    return sorted(done.stdout.split())


def write_ndb(sqlite_db: Path, dest: Path) -> Path:
    """The headers as an NDB ``Packages.db`` (layout of rpm's lib/backend/ndb/rpmpkg.c)."""
    blobs = header_blobs(sqlite_db)
    page, slot, block = 4096, 16, 16
    slot_pages = 1
    header = struct.pack("<IIII", int.from_bytes(b"RpmP", "little"), 0, 1, slot_pages) + b"\0" * 16
    slots = bytearray()
    data = bytearray()
    offset_blocks = slot_pages * page // block
    for hnum, blob in blobs:
        body = struct.pack("<IIII", int.from_bytes(b"BlbS", "little"), hnum, 1, len(blob)) + blob
        # tail: adler32 (unchecked by chainwarden), length, magic — as rpmpkg.c writes
        body += struct.pack("<III", 0, len(blob), int.from_bytes(b"BlbE", "little"))
        body += b"\0" * (-len(body) % block)
        count = len(body) // block
        slots += struct.pack("<IIII", int.from_bytes(b"Slot", "little"), hnum, offset_blocks, count)
        data += body
        offset_blocks += count
    free_slots = (slot_pages * page - len(header) - len(slots)) // slot
    slots += struct.pack("<IIII", int.from_bytes(b"Slot", "little"), 0, 0, 0) * free_slots
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(header + bytes(slots) + bytes(data))
    return dest
