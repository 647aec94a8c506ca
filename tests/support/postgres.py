"""A throwaway PostgreSQL cluster on 127.0.0.1 for the fleet store's tests.

Debian's ``postgresql`` (15) ships ``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/15/bin``; ``tasks/install-system-tools.sh`` installs it.
The cluster lives in a temp dir, listens on a free loopback port only (no
Unix socket), trusts local connections, and is stopped (``pg_ctl stop -m
immediate``) and deleted by the fixture. PostgreSQL refuses to run as root:
as root the binaries run as the ``postgres`` system user the Debian package
creates, and the temp dir is handed to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def postgres_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(candidate) / "initdb", os.X_OK) and os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class PostgresCluster:
    port: int
    datadir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_postgres() -> Iterator[PostgresCluster]:
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    top = Path(tempfile.mkdtemp(prefix="chainwarden-pg-"))
    if as_root:
        user = pwd.getpwnam("postgres")
        os.chown(top, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    datadir = top / "data"
    port = _free_port()
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = f"-h 127.0.0.1 -p {port} -k '' -c fsync=off -c full_page_writes=off -c max_connections=60"
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(top / "log"), "-o", options, "-w",
             "-t", "60", "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            import psycopg

            while True:
                try:
                    psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2).close()
                    break
                except psycopg.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            yield PostgresCluster(port, datadir)
        finally:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
    finally:
        shutil.rmtree(top, ignore_errors=True)
