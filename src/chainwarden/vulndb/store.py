"""The offline vulnerability database: one SQLite file, replaced atomically.

Layout (schema version in ``PRAGMA user_version``)::

    meta(key, value)                 updated_at: ISO time of the last import
    sources(id, location, kind, imported_at, records)
    vulns(id, source_id, modified, published, withdrawn, summary, details,
          aliases JSON, severity…, refs JSON, raw zlib(JSON))
    affected(vuln_id, ecosystem, name, severity JSON, data JSON)
        index (ecosystem, name): the only lookup a scan makes

``affected.data`` holds just what matching needs, already normalised at import
(PEP 503 names, exact-match forms of listed versions). ``raw`` keeps the whole
record so that a later schema can re-derive everything without a download.

Writers never touch the live file: :class:`DatabaseWriter` copies it to a
temporary file in the same directory, applies the import there, and renames it
over the old one (``os.replace``), so a failed or interrupted import leaves the
previous database intact and readers never see half an import.

Writers are serialised by an exclusive lock on ``<database>.lock`` beside the
database (taken before the copy, removed when the import ends): a second import
waits for the first and then builds on its result instead of overwriting it. A symlinked database is
written through to its target, which keeps the file's permission bits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from chainwarden.errors import DatabaseError
from chainwarden.models import Severity
from chainwarden.vulndb.severity import UNKNOWN, SeverityInfo

#: Bump together with a new entry in ``_MIGRATIONS``.
SCHEMA_VERSION = 2
DB_FILENAME = "osv.sqlite3"
ENV_DB = "CHAINWARDEN_DB"
#: SQLite's default limit on host parameters is 999 on old builds.
_CHUNK = 900


class DatabaseMissingError(DatabaseError):
    """No database file where one was expected."""


class DatabaseLockedError(DatabaseError):
    """Another import holds the database's lock for longer than we may wait."""


#: How long an import waits for another one on the same database, by default.
DEFAULT_LOCK_WAIT = 600.0


def default_db_path() -> Path:
    """``$CHAINWARDEN_DB``, else ``osv.sqlite3`` in the user cache directory."""
    configured = os.environ.get(ENV_DB)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("chainwarden")) / DB_FILENAME


# -- records ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AffectedPackage:
    """One ``affected[]`` entry, normalised for matching."""

    ecosystem: str  # as OSV spells it: "PyPI", "npm", "Debian:12"
    name: str  # PEP 503 for PyPI, verbatim otherwise
    #: (range type, ((event kind, version), …)); kinds: introduced, fixed,
    #: last_affected, limit — in the record's order (matching sorts them)
    ranges: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    versions: tuple[str, ...]  # exact-match forms (see VersionScheme.exact)
    severity: SeverityInfo | None = None  # per-package severity, when the record has one

    def data_json(self) -> str:
        return json.dumps(
            {"r": [[kind, [list(event) for event in events]] for kind, events in self.ranges], "v": self.versions},
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class OSVRecord:
    """An OSV record as stored: the fields reports need, plus the raw document."""

    id: str
    modified: str | None
    published: str | None
    withdrawn: str | None
    summary: str
    details: str
    aliases: tuple[str, ...]
    severity: SeverityInfo
    references: tuple[str, ...]
    affected: tuple[AffectedPackage, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: the raw document already compressed as a raw DEFLATE stream (the member of an
    #: export zip holding just this record, taken as it is rather than compressed again)
    deflated: bytes | None = field(default=None, compare=False, repr=False)


#: Marks a stored raw record kept as a raw DEFLATE stream. A zlib stream never
#: starts with it: its first byte names the method, 8 (deflate), in the low bits.
_RAW_DEFLATE = b"\x00"


def inflate_raw(blob: bytes) -> bytes:
    """The JSON text of a stored raw record (zlib, or raw DEFLATE after the marker byte)."""
    if blob[:1] == _RAW_DEFLATE:
        return zlib.decompress(blob[1:], wbits=-zlib.MAX_WBITS)
    return zlib.decompress(blob)


def record_text(doc: Any) -> tuple[str, tuple[str, ...]]:
    """The details text and the reference URLs (deduplicated, in order) of an OSV document."""
    details = doc.get("details") if isinstance(doc, dict) else None
    references: dict[str, None] = {}
    refs_raw = doc.get("references") if isinstance(doc, dict) else None
    if isinstance(refs_raw, list):
        for ref in refs_raw:
            url = ref.get("url") if isinstance(ref, dict) else None
            if isinstance(url, str) and url:
                references.setdefault(url)
    return (details.strip() if isinstance(details, str) else ""), tuple(references)


@dataclass(frozen=True, slots=True)
class Member:
    """What one file of a source (a zip member, a file of a directory) gave the
    database last time: its content fingerprint and the record ids read from it."""

    fingerprint: str
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AffectedRow:
    """An index row fetched for matching; ``data`` is decoded by the matcher."""

    rowid: int
    vuln_id: str
    ecosystem: str
    name: str
    data: str
    severity: SeverityInfo | None


@dataclass(frozen=True, slots=True)
class VulnInfo:
    """What a finding shows about a vulnerability."""

    id: str
    summary: str
    details: str
    aliases: tuple[str, ...]
    severity: SeverityInfo
    references: tuple[str, ...]
    modified: str | None
    published: str | None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    location: str  # absolute path or URL
    kind: str  # "directory", "zip", "file", "download"
    imported_at: datetime
    records: int


@dataclass(frozen=True, slots=True)
class EcosystemCount:
    ecosystem: str
    records: int  # distinct vulnerabilities
    packages: int  # distinct package names


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    """What ``chainwarden db status`` shows."""

    path: Path
    schema_version: int
    size_bytes: int
    updated_at: datetime | None
    records: int
    withdrawn: int
    newest_modified: str | None
    sources: tuple[SourceInfo, ...]
    ecosystems: tuple[EcosystemCount, ...]

    def age(self, now: datetime | None = None) -> timedelta | None:
        """Time since the last import, or None when unknown."""
        if self.updated_at is None:
            return None
        return (now or datetime.now(UTC)) - self.updated_at

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        age = self.age(now)
        return {
            "path": str(self.path),
            "schema_version": self.schema_version,
            "size_bytes": self.size_bytes,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "age_seconds": int(age.total_seconds()) if age is not None else None,
            "records": self.records,
            "withdrawn": self.withdrawn,
            "newest_modified": self.newest_modified,
            "sources": [
                {
                    "location": s.location,
                    "kind": s.kind,
                    "imported_at": s.imported_at.isoformat(),
                    "records": s.records,
                }
                for s in self.sources
            ],
            "ecosystems": [
                {"ecosystem": e.ecosystem, "records": e.records, "packages": e.packages} for e in self.ecosystems
            ],
        }


# -- schema ----------------------------------------------------------------------


def _create_v1(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            location TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            records INTEGER NOT NULL
        );
        CREATE TABLE vulns (
            id TEXT PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            modified TEXT,
            published TEXT,
            withdrawn TEXT,
            summary TEXT NOT NULL,
            details TEXT NOT NULL,
            aliases TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_score REAL,
            severity_vector TEXT,
            severity_source TEXT NOT NULL,
            refs TEXT NOT NULL,
            raw BLOB NOT NULL
        );
        CREATE INDEX vulns_by_source ON vulns(source_id);
        CREATE TABLE affected (
            vuln_id TEXT NOT NULL,
            ecosystem TEXT NOT NULL,
            name TEXT NOT NULL,
            severity TEXT,
            data TEXT NOT NULL
        );
        CREATE INDEX affected_by_package ON affected(ecosystem, name);
        CREATE INDEX affected_by_vuln ON affected(vuln_id);
        """
    )


def _to_v2(conn: sqlite3.Connection) -> None:
    """Details and references are read from the raw record, not stored twice (a
    third of a full-size database); each source remembers its members' content
    fingerprints, so that the next import of it reads only what changed."""
    conn.executescript(
        """
        ALTER TABLE vulns DROP COLUMN details;
        ALTER TABLE vulns DROP COLUMN refs;
        CREATE TABLE members (
            source_id INTEGER NOT NULL REFERENCES sources(id),
            name TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            ids TEXT NOT NULL,
            PRIMARY KEY (source_id, name)
        ) WITHOUT ROWID;
        """
    )


#: ``_MIGRATIONS[n]`` takes a database from schema ``n`` to ``n + 1``.
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_create_v1, _to_v2]


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring ``conn`` to :data:`SCHEMA_VERSION`; refuse databases from the future."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"{path}: database schema {version} is newer than this chainwarden understands "
            f"({SCHEMA_VERSION}); upgrade chainwarden or delete the file"
        )
    for step in range(version, SCHEMA_VERSION):
        _MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {step + 1}")


def _is_empty(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0)


# -- serialisation helpers ---------------------------------------------------------


def _severity_to_json(info: SeverityInfo | None) -> str | None:
    if info is None:
        return None
    return json.dumps([info.severity.value, info.score, info.vector, info.source])


def _severity_from_json(text: str | None) -> SeverityInfo | None:
    if not text:
        return None
    label, score, vector, source = json.loads(text)
    return SeverityInfo(Severity(label), score, vector, source)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- reading -----------------------------------------------------------------------


class VulnDatabase:
    """A read-only handle on the database; see :func:`open_database`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, path: Path) -> VulnDatabase:
        """Open ``path`` read-only, upgrading an older schema first (atomically)."""
        if not path.is_file():
            raise DatabaseMissingError(
                f"no vulnerability database at {path}: run `chainwarden db update` or `chainwarden db import PATH`"
            )
        conn = _connect_readonly(path)
        try:
            version = schema_version(conn)
            if version == 0 and _is_empty(conn):
                raise DatabaseError(f"{path}: empty file, not a chainwarden vulnerability database")
            if version != SCHEMA_VERSION:
                conn.close()
                if version > SCHEMA_VERSION:
                    raise DatabaseError(
                        f"{path}: database schema {version} is newer than this chainwarden understands "
                        f"({SCHEMA_VERSION}); upgrade chainwarden or delete the file"
                    )
                with DatabaseWriter(path):
                    pass  # copying through a writer runs the migrations, then renames
                conn = _connect_readonly(path)
            conn.execute("SELECT 1 FROM affected LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise DatabaseError(f"{path}: not a chainwarden vulnerability database ({exc})") from exc
        except BaseException:
            conn.close()
            raise
        return cls(path, conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> VulnDatabase:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def affected_rows(self, ecosystems: Sequence[str], names: Collection[str]) -> list[AffectedRow]:
        """Index rows for any of ``names`` in any of ``ecosystems`` (one query per 900 names)."""
        rows: list[AffectedRow] = []
        unique = sorted(set(names))
        eco_marks = ",".join("?" * len(ecosystems))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            name_marks = ",".join("?" * len(chunk))
            # only "?" placeholders are interpolated; values are bound parameters
            where = f"ecosystem IN ({eco_marks}) AND name IN ({name_marks})"
            sql = f"SELECT rowid, vuln_id, ecosystem, name, data, severity FROM affected WHERE {where}"  # noqa: S608
            try:
                cursor = self._conn.execute(sql, [*ecosystems, *chunk])
                rows.extend(
                    AffectedRow(rowid, vuln_id, eco, name, data, _severity_from_json(severity))
                    for rowid, vuln_id, eco, name, data, severity in cursor
                )
            except sqlite3.DatabaseError as exc:
                raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc
        return rows

    def ecosystem_names(self) -> frozenset[str]:
        """Every ecosystem with at least one affected package (``Alpine:v3.19``, ``Rocky Linux:9`` …)."""
        try:
            return frozenset(row[0] for row in self._conn.execute("SELECT DISTINCT ecosystem FROM affected"))
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc

    def vulns(self, ids: Collection[str]) -> dict[str, VulnInfo]:
        """Report fields of the records ``ids`` (missing ids are left out)."""
        found: dict[str, VulnInfo] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            id_marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_VULN_COLUMNS} FROM vulns WHERE id IN ({id_marks})"  # noqa: S608
            try:
                for row in self._conn.execute(sql, chunk):
                    vuln_id, summary, aliases, label, score, vector, source, modified, published, raw = row
                    details, references = record_text(json.loads(inflate_raw(raw)))
                    found[vuln_id] = VulnInfo(
                        id=vuln_id,
                        summary=summary,
                        details=details,
                        aliases=tuple(json.loads(aliases)),
                        severity=SeverityInfo(Severity(label), score, vector, source),
                        references=references,
                        modified=modified,
                        published=published,
                    )
            except sqlite3.DatabaseError as exc:
                raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc
        return found

    def version(self) -> str:
        """An opaque label of this database's content: the time of its last import."""
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'updated_at'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc
        return str(row[0]) if row else "unknown"

    def record_states(self) -> dict[str, str]:
        """id → ``modified|withdrawn`` of every record: what changed between two imports."""
        try:
            return {
                vuln_id: f"{modified or ''}|{withdrawn or ''}"
                for vuln_id, modified, withdrawn in self._conn.execute("SELECT id, modified, withdrawn FROM vulns")
            }
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc

    def affected_names(self, ids: Collection[str]) -> set[tuple[str, str]]:
        """(OSV ecosystem, name) of every package the records ``ids`` name."""
        found: set[tuple[str, str]] = set()
        unique = sorted(set(ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT DISTINCT ecosystem, name FROM affected WHERE vuln_id IN ({marks})"  # noqa: S608
            try:
                found.update((eco, name) for eco, name in self._conn.execute(sql, chunk))
            except sqlite3.DatabaseError as exc:
                raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc
        return found

    def ids(self) -> list[str]:
        """Every record id in the database, sorted."""
        return [vuln_id for (vuln_id,) in self._conn.execute("SELECT id FROM vulns ORDER BY id")]

    def raw_record(self, vuln_id: str) -> dict[str, Any] | None:
        """The record exactly as imported (for ``db show``-like uses and re-derivation)."""
        row = self._conn.execute("SELECT raw FROM vulns WHERE id = ?", (vuln_id,)).fetchone()
        if row is None:
            return None
        data: dict[str, Any] = json.loads(inflate_raw(row[0]))
        return data

    def status(self) -> DatabaseStatus:
        """Sources, counts per ecosystem and age."""
        conn = self._conn
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            sources = tuple(
                SourceInfo(location, kind, _parse_time(imported) or _now(), records)
                for location, kind, imported, records in conn.execute(
                    "SELECT location, kind, imported_at, records FROM sources ORDER BY imported_at, location"
                )
            )
            ecosystems = tuple(
                EcosystemCount(eco, records, packages)
                for eco, records, packages in conn.execute(
                    "SELECT ecosystem, count(DISTINCT vuln_id), count(DISTINCT name) FROM affected "
                    "GROUP BY ecosystem ORDER BY ecosystem"
                )
            )
            records, withdrawn, newest = conn.execute(
                "SELECT count(*), count(withdrawn), max(modified) FROM vulns"
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: cannot read the database ({exc})") from exc
        return DatabaseStatus(
            path=self.path,
            schema_version=schema_version(conn),
            size_bytes=self.path.stat().st_size,
            updated_at=_parse_time(meta.get("updated_at")),
            records=records,
            withdrawn=withdrawn,
            newest_modified=newest,
            sources=sources,
            ecosystems=ecosystems,
        )


_VULN_COLUMNS = ", ".join(
    [
        "id",
        "summary",
        "aliases",
        "severity",
        "severity_score",
        "severity_vector",
        "severity_source",
        "modified",
        "published",
        "raw",
    ]
)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: cannot open the database ({exc})") from exc


def open_database(path: Path | None = None) -> VulnDatabase:
    """Open the database at ``path`` (default: :func:`default_db_path`) for matching.

    Raises :class:`DatabaseMissingError` with the command to run when it does
    not exist, :class:`~chainwarden.errors.DatabaseError` when it is not ours.
    """
    return VulnDatabase.open(path or default_db_path())


# -- writing -----------------------------------------------------------------------


class DatabaseWriter:
    """Builds the next database in a temporary file; renames it into place on success.

    Use as a context manager. Leaving the block with an exception discards the
    temporary file; the database at ``path`` is then exactly as it was.
    """

    def __init__(
        self,
        path: Path,
        *,
        replace: bool = False,
        lock_wait: float = DEFAULT_LOCK_WAIT,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        #: where the bytes go: through a symlink to its target, never replacing the link
        self.target = Path(os.path.realpath(path))
        self.replace = replace
        self.lock_wait = lock_wait
        self.on_wait = on_wait
        self._tmp: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self.records_written = 0
        self._imported = False

    @property
    def lock_path(self) -> Path:
        return self.target.with_name(self.target.name + ".lock")

    def __enter__(self) -> DatabaseWriter:
        if self.target.exists() and not self.target.is_file():
            raise DatabaseError(f"{self.path}: not a file; give the database file's path with --db")
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot create the database ({exc.strerror})") from exc
        self._lock()
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
            self._tmp = Path(name)
            try:
                os.fchmod(fd, _mode_for(self.target))
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(self.target)
                    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
                        os.fchown(fd, st.st_uid, st.st_gid)  # root updating someone's database keeps it theirs
            finally:
                os.close(fd)
        except OSError as exc:
            self._discard()
            raise DatabaseError(f"{self.path}: cannot create the database ({exc.strerror})") from exc
        except BaseException:
            self._discard()
            raise
        try:
            if self.target.is_file() and not self.replace:
                self._copy_existing(self._tmp)
            conn = sqlite3.connect(self._tmp)
            self._conn = conn
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            migrate(conn, self.path)
            conn.execute("BEGIN")
        except BaseException:
            self._discard()
            raise
        return self

    def _lock(self) -> None:
        deadline = time.monotonic() + self.lock_wait
        told = False
        while True:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise DatabaseError(f"{self.lock_path}: cannot create the lock file ({exc.strerror})") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _lock_holder(fd)
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise DatabaseLockedError(
                        f"{self.path}: another import is running{holder} and holds {self.lock_path}; "
                        "try again when it has finished"
                    ) from None
                if not told and self.on_wait is not None:
                    self.on_wait(f"another import of {self.path} is running{holder}; waiting for it to finish")
                    told = True
                time.sleep(0.1)
                continue
            except BaseException:
                os.close(fd)
                raise
            # the holder before us removes the lock file when done: a lock on that
            # unlinked file would not exclude the next importer, so take the new one
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                self.lock_path.unlink()  # still ours: nobody else holds it while we do
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _copy_existing(self, tmp: Path) -> None:
        try:
            current = _connect_readonly(self.target)
            try:
                if schema_version(current) == 0 and _is_empty(current):
                    return  # an empty file (e.g. a crashed first import): start fresh
                if Path(f"{self.target}-wal").exists():
                    # written in WAL mode by another program: only SQLite can copy it whole
                    with sqlite3.connect(tmp) as copy:
                        current.backup(copy)
                    copy.close()
                    return
            finally:
                current.close()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"{self.path}: existing database is unreadable ({exc}); import with --replace to rebuild it"
            ) from exc
        # Writers never change the live file (they rename a new one over it) and we
        # hold the writers' lock: its bytes are a consistent database, copied by the
        # kernel rather than page by page (a full-size database is 500 MB).
        try:
            shutil.copyfile(self.target, tmp)
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot copy the database ({exc.strerror})") from exc

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "DatabaseWriter used outside its with-block"
        return self._conn

    def begin_source(self, location: str, kind: str) -> int:
        """Register a source. A source imported before keeps its records: the
        importer replaces those of the members that changed (see :meth:`members`)."""
        conn = self.conn
        self._imported = True
        row = conn.execute("SELECT id FROM sources WHERE location = ?", (location,)).fetchone()
        if row is not None:
            source_id = int(row[0])
            if conn.execute("SELECT 1 FROM members WHERE source_id = ? LIMIT 1", (source_id,)).fetchone() is None:
                # imported before members were remembered: what it gave cannot be told apart, so it goes
                conn.execute(
                    "DELETE FROM affected WHERE vuln_id IN (SELECT id FROM vulns WHERE source_id = ?)", (source_id,)
                )
                conn.execute("DELETE FROM vulns WHERE source_id = ?", (source_id,))
            conn.execute(
                "UPDATE sources SET kind = ?, imported_at = ? WHERE id = ?", (kind, _now().isoformat(), source_id)
            )
            return source_id
        cursor = conn.execute(
            "INSERT INTO sources (location, kind, imported_at, records) VALUES (?, ?, ?, 0)",
            (location, kind, _now().isoformat()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_records(self, source_id: int, records: Sequence[OSVRecord]) -> int:
        """Insert or update ``records``; a record already present wins if it is newer.

        Returns how many were written.
        """
        conn = self.conn
        chosen: dict[str, OSVRecord] = {}
        for record in records:
            previous = chosen.get(record.id)
            if previous is None or (record.modified or "") >= (previous.modified or ""):
                chosen[record.id] = record
        ids = list(chosen)
        existing: dict[str, str | None] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            existing.update(
                conn.execute(
                    f"SELECT id, modified FROM vulns WHERE id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                    chunk,
                )
            )
        vuln_rows: list[tuple[Any, ...]] = []
        affected_rows: list[tuple[Any, ...]] = []
        replaced: list[tuple[str]] = []
        for record in chosen.values():
            if record.id in existing:
                if (existing[record.id] or "") > (record.modified or ""):
                    continue  # an older copy of a record we already have
                replaced.append((record.id,))
            vuln_rows.append(
                (
                    record.id,
                    source_id,
                    record.modified,
                    record.published,
                    record.withdrawn,
                    record.summary,
                    json.dumps(record.aliases),
                    record.severity.severity.value,
                    record.severity.score,
                    record.severity.vector,
                    record.severity.source,
                    _RAW_DEFLATE + record.deflated
                    if record.deflated is not None
                    else zlib.compress(json.dumps(record.raw, separators=(",", ":")).encode(), 1),
                )
            )
            if record.withdrawn:
                continue  # kept for the record, never matched
            affected_rows.extend(
                (record.id, pkg.ecosystem, pkg.name, _severity_to_json(pkg.severity), pkg.data_json())
                for pkg in record.affected
            )
        conn.executemany("DELETE FROM vulns WHERE id = ?", replaced)
        conn.executemany("DELETE FROM affected WHERE vuln_id = ?", replaced)
        conn.executemany(
            "INSERT INTO vulns (id, source_id, modified, published, withdrawn, summary, aliases, severity,"
            " severity_score, severity_vector, severity_source, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vuln_rows,
        )
        conn.executemany("INSERT INTO affected VALUES (?, ?, ?, ?, ?)", affected_rows)
        self.records_written += len(vuln_rows)
        return len(vuln_rows)

    def members(self, source_id: int) -> dict[str, Member]:
        """What each member of the source gave at its last import, by member name."""
        rows = self.conn.execute("SELECT name, fingerprint, ids FROM members WHERE source_id = ?", (source_id,))
        return {name: Member(fingerprint, tuple(ids.split("\n")) if ids else ()) for name, fingerprint, ids in rows}

    def set_member(self, source_id: int, name: str, member: Member) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO members (source_id, name, fingerprint, ids) VALUES (?, ?, ?, ?)",
            # record ids are printable (checked at import): one per line
            (source_id, name, member.fingerprint, "\n".join(member.ids)),
        )

    def forget_member(self, source_id: int, name: str) -> None:
        self.conn.execute("DELETE FROM members WHERE source_id = ? AND name = ?", (source_id, name))

    def forget_records(self, source_id: int, ids: Collection[str]) -> None:
        """Remove the records ``ids`` where this source wrote them (another source's copy stays)."""
        rows = [(vuln_id, source_id) for vuln_id in ids]
        conn = self.conn
        conn.executemany(
            "DELETE FROM affected WHERE vuln_id = ? AND EXISTS"
            " (SELECT 1 FROM vulns WHERE vulns.id = affected.vuln_id AND vulns.source_id = ?)",
            rows,
        )
        conn.executemany("DELETE FROM vulns WHERE id = ? AND source_id = ?", rows)

    def finish_source(self, source_id: int) -> int:
        """Record the source's current record count; returns it."""
        conn = self.conn
        count = int(conn.execute("SELECT count(*) FROM vulns WHERE source_id = ?", (source_id,)).fetchone()[0])
        conn.execute("UPDATE sources SET records = ? WHERE id = ?", (count, source_id))
        return count

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            conn = self.conn
            if self._imported:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('updated_at', ?)", (_now().isoformat(),))
            conn.commit()
            conn.close()
            self._conn = None
            assert self._tmp is not None
            # journal and sync were off while building: make the bytes durable before
            # the rename makes them the database
            with open(self._tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(self._tmp, self.target)
            self._tmp = None
            self._unlock()
        except sqlite3.DatabaseError as exc:
            self._discard()
            raise DatabaseError(f"{self.path}: cannot write the database ({exc})") from exc
        except OSError as exc:
            self._discard()
            raise DatabaseError(f"{self.path}: cannot replace the database ({exc.strerror})") from exc

    def _discard(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.unlink()
            self._tmp = None
        self._unlock()


def _mode_for(target: Path) -> int:
    """The permission bits the new database gets: the old file's, else what umask allows."""
    with contextlib.suppress(OSError):
        return os.stat(target).st_mode & 0o7777
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _lock_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" (pid {pid})"
    return ""


__all__ = [
    "DB_FILENAME",
    "ENV_DB",
    "SCHEMA_VERSION",
    "UNKNOWN",
    "AffectedPackage",
    "AffectedRow",
    "DatabaseLockedError",
    "DatabaseMissingError",
    "DatabaseStatus",
    "DatabaseWriter",
    "EcosystemCount",
    "Member",
    "OSVRecord",
    "SourceInfo",
    "VulnDatabase",
    "VulnInfo",
    "default_db_path",
    "open_database",
]
