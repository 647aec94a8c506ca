"""Removing packages from apk's and rpm's databases, so that scanners of a hardened image see the truth.

* apk: the package's stanza leaves ``/lib/apk/db/installed`` (every other byte stays)
  and its name leaves ``/etc/apk/world`` (else ``apk fix`` would bring it back).
* rpm: the package's row leaves the SQLite ``Packages`` table, with its rows in every
  index table (``Name``, ``Basenames``, ``Providename`` …), as ``rpm -e`` would leave them.
  Berkeley DB and NDB databases are not rewritten: hardening keeps rpm packages of
  such images (the plan says why) rather than leave a database that lies.

The rootfs is a materialised, untrusted image: database paths are resolved inside
it and a database that is a symlink, or resolves outside it, is never opened.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Collection
from pathlib import Path

from chainwarden.inventory.apk import INSTALLED_PATHS as APK_INSTALLED_PATHS
from chainwarden.inventory.rpm import BDB_NAME, DB_DIRS, NDB_NAME, SQLITE_NAME, HeaderError, read_header
from chainwarden.models import Package
from chainwarden.runtime.interface import HardenDatabaseError

APK_WORLD = "/etc/apk/world"
#: a kept regular-expression of the package databases (harden's always-keep rule)
DATABASE_PATHS = re.compile(r"^/(usr/)?lib/apk/db/|^/etc/apk/|^/var/lib/rpm/|^/usr/lib/sysimage/rpm/")
_WORLD_NAME = re.compile(r"^([^<>=~]+)")


def _inside(rootfs: Path, path: str) -> Path | None:
    """The host path of ``path`` when it is a regular file inside ``rootfs`` reached without symlinks."""
    host = rootfs / path.lstrip("/")
    try:
        real = host.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    root = rootfs.resolve()
    if real != host.absolute() or root not in real.parents or host.is_symlink() or not host.is_file():
        return None
    return real


def filter_apk_installed(text: str, names: Collection[str]) -> str:
    """The ``installed`` database without the stanzas of ``names``, every other byte as it was."""
    kept: list[str] = []
    for stanza in re.split(r"\n[ \t]*\n", text):
        if not stanza.strip():
            continue
        name = next((line[2:] for line in stanza.splitlines() if line.startswith("P:")), None)
        if name is not None and name.strip() in names:
            continue
        kept.append(stanza.strip("\n"))
    return "\n\n".join(kept) + "\n\n" if kept else ""


def filter_apk_world(text: str, names: Collection[str]) -> str:
    """``/etc/apk/world`` without the constraints naming ``names`` (``curl``, ``curl=8.5.0-r0``, ``curl>8``)."""
    kept = []
    for token in text.split():
        match = _WORLD_NAME.match(token)
        if match is None or match.group(1) not in names:
            kept.append(token)
    return "\n".join(kept) + "\n" if kept else ""


def remove_apk_packages(rootfs: Path, packages: Collection[Package]) -> list[str]:
    """Drop ``packages`` from apk's database and world file; returns the files rewritten."""
    names = {p.name for p in packages}
    rewritten = []
    for path in (*APK_INSTALLED_PATHS, APK_WORLD):
        host = _inside(rootfs, path)
        if host is None:
            continue
        text = host.read_text(errors="surrogateescape")
        new = filter_apk_world(text, names) if path == APK_WORLD else filter_apk_installed(text, names)
        if new != text:
            host.write_text(new, errors="surrogateescape")
            rewritten.append(path)
    return rewritten


def rpm_database(rootfs: Path) -> tuple[str, str] | None:
    """The rpm database file (path inside the rootfs) and its backend name, if there is one."""
    for directory in DB_DIRS:
        for name, backend in ((SQLITE_NAME, "sqlite"), (NDB_NAME, "ndb"), (BDB_NAME, "bdb")):
            path = f"{directory}/{name}"
            host = rootfs / path.lstrip("/")
            if host.is_file():
                return path, backend
    return None


def rpm_removal_refused(rootfs: Path) -> str | None:
    """Why rpm packages of this rootfs must stay, or None when their database can be rewritten."""
    found = rpm_database(rootfs)
    if found is None or found[1] == "sqlite":
        return None
    return f"its rpm database ({found[0]}, {found[1]}) is not rewritten by chainwarden; kept so it stays true"


def remove_rpm_packages(rootfs: Path, packages: Collection[Package]) -> int:
    """Delete the rows of ``packages`` from the SQLite rpmdb (Packages and index tables); returns rows removed."""
    if not packages:
        return 0
    found = rpm_database(rootfs)
    if found is None:
        return 0
    path, backend = found
    if backend != "sqlite":
        raise HardenDatabaseError(f"{path}: {backend} rpm databases are not rewritten")
    host = _inside(rootfs, path)
    if host is None:
        raise HardenDatabaseError(f"{path}: not a regular file inside the image")
    wanted = {(p.name, p.version, p.arch or "") for p in packages}
    connection = sqlite3.connect(host)
    try:
        with connection:
            doomed = []
            for hnum, blob in connection.execute("SELECT hnum, blob FROM Packages"):
                try:
                    header = read_header(bytes(blob))
                except HeaderError:
                    continue
                if (header.name, header.evr, header.arch or "") in wanted:
                    doomed.append(int(hnum))
            if not doomed:
                return 0
            tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            marks = ",".join("?" * len(doomed))
            for table in tables:
                columns = {row[1] for row in connection.execute(f'PRAGMA table_info("{_quoted(table)}")')}
                if "hnum" in columns:
                    connection.execute(f'DELETE FROM "{_quoted(table)}" WHERE hnum IN ({marks})', doomed)  # noqa: S608
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise HardenDatabaseError(f"{path}: cannot rewrite the rpm database ({exc})") from exc
    finally:
        connection.close()
    for leftover in (f"{host}-wal", f"{host}-shm"):
        if os.path.isfile(leftover) and os.path.getsize(leftover) == 0:
            os.unlink(leftover)
    return len(doomed)


def _quoted(identifier: str) -> str:
    return identifier.replace('"', '""')
