"""Reading OSV records from directories, ``all.zip`` exports, single files and OSV's bucket.

Inputs are untrusted files: every one has a size limit, YAML is read with the
base loader (every scalar a string, so ``1.10`` stays ``"1.10"``) and checked
for alias bombs, and a malformed record is skipped and reported with its
location rather than aborting the import. Only a source that cannot be read
at all (a corrupt zip, a failed download) fails the import — and then the
database is left exactly as it was (see :class:`~chainwarden.vulndb.store.DatabaseWriter`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

import yaml
from packaging.utils import canonicalize_name

from chainwarden._internal import zipdir
from chainwarden.errors import DatabaseError, NetworkError
from chainwarden.sources.interface import ProgressCallback
from chainwarden.vulndb.severity import severity_from_osv
from chainwarden.vulndb.store import (
    DEFAULT_LOCK_WAIT,
    AffectedPackage,
    DatabaseWriter,
    Member,
    OSVRecord,
    default_db_path,
    record_text,
)
from chainwarden.vulndb.versions import scheme_for

if TYPE_CHECKING:
    from chainwarden._internal.http import RetryPolicy

#: OSV's public export bucket: ``<base>/<Ecosystem>/all.zip``.
DEFAULT_URL_BASE = "https://osv-vulnerabilities.storage.googleapis.com"
#: What ``db update`` fetches by default, spelled as OSV's bucket spells them.
SUPPORTED_ECOSYSTEMS = ("PyPI", "npm", "Debian")
#: One OSV record is a few KB; the largest real ones (long version lists) ~1 MB.
MAX_RECORD_BYTES = 16 * 1024 * 1024
#: Debian's all.zip is the largest export we fetch (~100 MB today).
MAX_DOWNLOAD_BYTES = 2 * 1024**3
MAX_ZIP_MEMBERS = 2_000_000
#: Nodes visited in one parsed record (aliases counted each time they are reached).
MAX_RECORD_NODES = 2_000_000
_BATCH = 2_000
_RECORD_SUFFIXES = (".json", ".yaml", ".yml")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class RecordError(ValueError):
    """One OSV record is malformed; the import skips it and says where."""


class EmptyImportError(DatabaseError):
    """The inputs held no OSV record; importing them would empty sources (or the database)."""


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A record or file that was skipped, and why."""

    location: str  # "/path/vulns/x/PYSEC-1.yaml" or "/path/all.zip:GHSA-x.json"
    reason: str


@dataclass(frozen=True, slots=True)
class SourceReport:
    location: str
    kind: str  # "directory", "zip", "file", "download"
    records_read: int
    records_written: int  # not written: older duplicates of records already present
    withdrawn: int
    unsupported_entries: int  # affected[] entries for ecosystems chainwarden does not match
    #: records of files unchanged since the last import of this source, kept without reading them
    records_unchanged: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did; ``problems`` lists every skipped file or record."""

    db_path: Path
    sources: tuple[SourceReport, ...]
    problems: tuple[ImportProblem, ...]
    seconds: float

    @property
    def records_written(self) -> int:
        return sum(source.records_written for source in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "db_path": str(self.db_path),
            "seconds": round(self.seconds, 3),
            "sources": [
                {
                    "location": s.location,
                    "kind": s.kind,
                    "records_read": s.records_read,
                    "records_written": s.records_written,
                    "withdrawn": s.withdrawn,
                    "unsupported_entries": s.unsupported_entries,
                    "records_unchanged": s.records_unchanged,
                }
                for s in self.sources
            ],
            "problems": [{"location": p.location, "reason": p.reason} for p in self.problems],
        }


# -- parsing one record ------------------------------------------------------------


_YAML_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def parse_document(data: bytes, name: str) -> Any:
    """JSON or YAML (by file name) to Python objects; raises :class:`RecordError`.

    YAML is composed by libyaml (when present) with the base resolver, so every
    scalar stays a string: OSV versions like ``1.10`` must not become floats.
    Nodes are turned into dicts/lists here rather than by PyYAML's constructor,
    which is several times slower and has no budget against alias bombs.
    """
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(f"larger than {MAX_RECORD_BYTES // 1024**2} MiB")
    is_json = name.endswith(".json")
    try:
        if is_json:
            doc = json.loads(data)
            # Every JSON value after the first takes at least two bytes ("0,"), so
            # a text this short cannot exceed the budget: no walk for real records.
            if len(data) >= 2 * MAX_RECORD_NODES - 1:
                _check_node_budget(doc)
            return doc
        return _yaml_to_python(data)
    except (ValueError, yaml.YAMLError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecordError(f"not valid {'JSON' if is_json else 'YAML'}: {first_line}") from exc
    except RecursionError as exc:
        raise RecordError("nested too deeply") from exc


def _yaml_to_python(data: bytes) -> Any:
    # Built from parser events: no resolver, no constructor, and aliases are
    # expanded here under a budget (a "billion laughs" document is small until
    # expanded). Every scalar stays a string.
    loader = _YAML_LOADER(data)
    try:
        budget = 0
        anchors: dict[str, Any] = {}
        stack: list[tuple[Any, str | None]] = []  # (container, anchor); dicts track a pending key
        pending_keys: list[Any] = []
        result: Any = None
        documents = 0
        while loader.check_event():
            event = loader.get_event()
            value: Any
            if isinstance(event, yaml.ScalarEvent):
                value = event.value
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise RecordError(f"unknown alias *{event.anchor}")
                value = anchors[event.anchor]
                budget += _size(value)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                container: Any = [] if isinstance(event, yaml.SequenceStartEvent) else {}
                stack.append((container, event.anchor))
                pending_keys.append(_NO_KEY)
                continue
            elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                value, anchor = stack.pop()
                pending_keys.pop()
                if anchor:
                    anchors[anchor] = value
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise RecordError("more than one YAML document")
                continue
            else:
                continue
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchors[event.anchor] = value
            budget += 1
            if budget > MAX_RECORD_NODES:
                raise RecordError(f"more than {MAX_RECORD_NODES} values (alias bomb?)")
            if not stack:
                result = value
                continue
            parent = stack[-1][0]
            if isinstance(parent, list):
                parent.append(value)
            elif pending_keys[-1] is _NO_KEY:
                if not isinstance(value, str):
                    raise RecordError("a mapping key is not a string")
                pending_keys[-1] = value
            else:
                parent[pending_keys[-1]] = value
                pending_keys[-1] = _NO_KEY
        return result
    finally:
        loader.dispose()


_NO_KEY = object()


def _size(value: Any) -> int:
    """Values reached through an alias, counted as if copied."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_RECORD_NODES:
            break
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _check_node_budget(doc: Any) -> None:
    stack = [doc]
    visited = 0
    while stack:
        item = stack.pop()
        visited += 1
        if visited > MAX_RECORD_NODES:
            raise RecordError(f"more than {MAX_RECORD_NODES} values")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(f"{where} is not a list")
    return [item for item in value if isinstance(item, str)]


#: Also matched, fetched by ``db update -e`` on request: images' OS packages (Alpine, the
#: Red Hat family, SUSE) and what static binaries compile in (Go modules, Rust crates).
OPTIONAL_ECOSYSTEMS = (
    "Alpine",
    "Wolfi",
    "Chainguard",
    "AlmaLinux",
    "Rocky Linux",
    "Red Hat",
    "SUSE",
    "openSUSE",
    "Go",
    "crates.io",
)
_RELEASED_ECOSYSTEMS = ("Debian", "Alpine", "AlmaLinux", "Rocky Linux", "Red Hat", "SUSE", "openSUSE")


def is_supported_ecosystem(ecosystem: str) -> bool:
    """PyPI, npm, Go, crates.io, Wolfi, Chainguard, and Debian, Alpine, the Red Hat family and SUSE (any release)."""
    if ecosystem in ("PyPI", "npm", "Go", "crates.io", "Wolfi", "Chainguard") or ecosystem in _RELEASED_ECOSYSTEMS:
        return True
    base, sep, release = ecosystem.partition(":")
    return bool(sep and release) and base in _RELEASED_ECOSYSTEMS


def normalize_name(ecosystem: str, name: str) -> str:
    """The form names are indexed and looked up in: PEP 503 for PyPI, verbatim otherwise."""
    return canonicalize_name(name) if ecosystem == "PyPI" else name.strip()


@dataclass(slots=True)
class _Counts:
    unsupported: int = 0


def record_from_osv(doc: Any, counts: _Counts | None = None) -> OSVRecord:
    """Validate and normalise one OSV document; raises :class:`RecordError`."""
    if not isinstance(doc, dict):
        raise RecordError("not an OSV record (top level is not a mapping)")
    vuln_id = doc.get("id")
    if not isinstance(vuln_id, str) or not vuln_id.strip() or len(vuln_id) > 256 or not vuln_id.isprintable():
        raise RecordError("no usable 'id'")
    vuln_id = vuln_id.strip()
    affected_raw = doc.get("affected", [])
    if not isinstance(affected_raw, list):
        raise RecordError(f"{vuln_id}: 'affected' is not a list")
    affected: list[AffectedPackage] = []
    for index, entry in enumerate(affected_raw):
        package = _affected_entry(vuln_id, index, entry)
        if package is None:
            if counts is not None:
                counts.unsupported += 1
            continue
        affected.append(package)
    details, references = record_text(doc)
    aliases = [alias.strip() for alias in _str_list(doc.get("aliases"), f"{vuln_id}: 'aliases'") if alias.strip()]
    return OSVRecord(
        id=vuln_id,
        modified=_str(doc.get("modified")),
        published=_str(doc.get("published")),
        withdrawn=_str(doc.get("withdrawn")) or None,
        summary=(_str(doc.get("summary")) or "").strip(),
        details=details,
        aliases=tuple(dict.fromkeys(a for a in aliases if a != vuln_id)),
        severity=severity_from_osv(doc.get("severity"), doc.get("database_specific")),
        references=references,
        affected=tuple(affected),
        raw=doc,
    )


def _affected_entry(vuln_id: str, index: int, entry: Any) -> AffectedPackage | None:
    where = f"{vuln_id}: affected[{index}]"
    if not isinstance(entry, dict):
        raise RecordError(f"{where} is not a mapping")
    package = entry.get("package")
    if not isinstance(package, dict):
        return None  # OSV allows entries without a package (e.g. GIT-only); nothing to match
    ecosystem, name = _str(package.get("ecosystem")), _str(package.get("name"))
    if not ecosystem or not name or not is_supported_ecosystem(ecosystem):
        return None
    ranges: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    ranges_raw = entry.get("ranges", [])
    if not isinstance(ranges_raw, list):
        raise RecordError(f"{where}.ranges is not a list")
    for range_index, range_raw in enumerate(ranges_raw):
        if not isinstance(range_raw, dict):
            raise RecordError(f"{where}.ranges[{range_index}] is not a mapping")
        range_type = range_raw.get("type")
        if range_type not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, not versions
        events_raw = range_raw.get("events")
        if not isinstance(events_raw, list) or not events_raw:
            raise RecordError(f"{where}.ranges[{range_index}] has no events")
        events: list[tuple[str, str]] = []
        for event_index, event in enumerate(events_raw):
            if type(event) is dict and len(event) == 1:  # nearly every event: one known kind
                ((kind, version),) = event.items()
                pairs = [(kind, version)] if kind in _EVENT_KINDS else []
            else:
                pairs = [(k, v) for k, v in event.items() if k in _EVENT_KINDS] if isinstance(event, dict) else []
            if len(pairs) != 1 or not isinstance(pairs[0][1], str) or not pairs[0][1].strip():
                raise RecordError(f"{where}.ranges[{range_index}].events[{event_index}] is not one OSV event")
            events.append((pairs[0][0], pairs[0][1].strip()))
        ranges.append((range_type, tuple(events)))
    scheme = scheme_for(ecosystem)
    versions = _str_list(entry.get("versions"), f"{where}.versions")
    exact_form = scheme.exact if scheme else str.strip
    exact = tuple(dict.fromkeys(map(exact_form, versions)))
    severity = severity_from_osv(entry["severity"], None) if "severity" in entry else None
    if not ranges and not exact:
        return None  # nothing that could ever match
    return AffectedPackage(
        ecosystem=ecosystem,
        name=normalize_name(ecosystem, name),
        ranges=tuple(ranges),
        versions=exact,
        severity=severity,
    )


# -- sources -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Input:
    location: str  # what the sources table records: absolute path or URL
    kind: str
    path: Path


def _classify(path: Path) -> _Input:
    if not path.exists():
        raise DatabaseError(f"{path}: no such file or directory")
    location = str(path.resolve())
    if path.is_dir():
        return _Input(location, "directory", path)
    if path.suffix == ".zip" or zipfile.is_zipfile(path):
        return _Input(location, "zip", path)
    if path.suffix in _RECORD_SUFFIXES:
        return _Input(location, "file", path)
    raise DatabaseError(f"{path}: not a directory, a .zip export or an OSV .json/.yaml file")


@dataclass(frozen=True, slots=True)
class _Entry:
    """One file of a source: its name within the source, a fingerprint of its
    content that is known without reading it, and how to read it."""

    name: str
    where: str  # for messages
    fingerprint: str
    read: Callable[[], bytes | ImportProblem]


def _iter_directory(root: Path) -> Iterator[_Entry]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if not filename.endswith(_RECORD_SUFFIXES) or filename.startswith("."):
                continue
            path = Path(dirpath, filename)
            try:
                stat = path.stat()
            except OSError as exc:
                problem = ImportProblem(str(path), f"cannot read: {exc.strerror}")
                yield _Entry(str(path), str(path), "", functools.partial(_as_is, problem))
                continue
            name = str(path.relative_to(root))
            yield _Entry(name, str(path), f"{stat.st_size}:{stat.st_mtime_ns}", functools.partial(_read_file, path))


def _as_is(problem: ImportProblem) -> ImportProblem:
    return problem


def _read_file(path: Path) -> bytes | ImportProblem:
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            return ImportProblem(str(path), f"larger than {MAX_RECORD_BYTES // 1024**2} MiB")
        return path.read_bytes()
    except OSError as exc:
        return ImportProblem(str(path), f"cannot read: {exc.strerror}")


def _iter_zip(path: Path, label: str) -> Iterator[_Entry]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DatabaseError(f"{label}: not a readable zip archive ({exc.strerror})") from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            members = zipdir.read_directory(handle, size, max_members=MAX_ZIP_MEMBERS)
        except (zipdir.ZipFormatError, OSError) as exc:
            raise DatabaseError(f"{label}: not a readable zip archive ({exc})") from exc
        fallback: list[zipfile.ZipFile] = []
        try:
            for member in members:
                if member.is_dir or not member.name.endswith(_RECORD_SUFFIXES):
                    continue
                where = f"{label}:{member.name}"
                # the central directory's CRC and size: a member whose pair is unchanged since the
                # last import of this source is not read again (OSV's exports change ~1 % a day)
                fingerprint = f"{member.crc:08x}:{member.size}"
                read = functools.partial(_read_member, path, handle, size, member, where, fallback)
                yield _Entry(member.name, where, fingerprint, read)
        finally:
            for archive in fallback:
                archive.close()


def _read_member(
    path: Path, handle: BinaryIO, size: int, member: zipdir.ZipMember, where: str, fallback: list[zipfile.ZipFile]
) -> bytes | ImportProblem:
    if member.size > MAX_RECORD_BYTES:
        return ImportProblem(where, f"larger than {MAX_RECORD_BYTES // 1024**2} MiB")
    if member.method in (zipdir.STORED, zipdir.DEFLATED) and not member.encrypted:
        try:
            data, deflated = zipdir.read_member(handle, member, size, limit=MAX_RECORD_BYTES)
        except (zipdir.ZipFormatError, OSError) as exc:
            return ImportProblem(where, f"cannot read member: {exc}")
        return data if deflated is None else _Deflated(data, deflated)
    try:  # other methods (bzip2, lzma) and encryption: the standard library's reader
        if not fallback:
            fallback.append(zipfile.ZipFile(path))
        with fallback[0].open(member.name) as stream:
            # the header's size may lie: never read past the limit
            return stream.read(MAX_RECORD_BYTES + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, KeyError) as exc:
        return ImportProblem(where, f"cannot read member: {exc}")


class _Deflated(bytes):
    """A member's content that also carries its stored DEFLATE stream (``deflated``)."""

    deflated: bytes

    def __new__(cls, data: bytes, deflated: bytes) -> _Deflated:
        self = super().__new__(cls, data)
        self.deflated = deflated
        return self


def _records_in_document(doc: Any) -> list[Any]:
    # the OSV API's {"vulns": [...]} and plain lists are accepted for single files
    if isinstance(doc, dict) and "id" not in doc and isinstance(doc.get("vulns"), list):
        return list(doc["vulns"])
    if isinstance(doc, list):
        return doc
    return [doc]


def _import_input(
    writer: DatabaseWriter, item: _Input, problems: list[ImportProblem], progress: ProgressCallback | None
) -> SourceReport:
    if item.kind == "directory":
        entries: Iterable[_Entry] = _iter_directory(item.path)
    elif item.kind in ("zip", "download"):
        entries = _iter_zip(item.path, item.location)
    else:
        try:
            if item.path.stat().st_size > MAX_RECORD_BYTES:
                raise DatabaseError(f"{item.location}: larger than {MAX_RECORD_BYTES // 1024**2} MiB")
            data = item.path.read_bytes()
        except OSError as exc:
            raise DatabaseError(f"{item.location}: cannot read ({exc.strerror})") from exc
        entries = [_Entry(item.path.name, item.location, hashlib.sha256(data).hexdigest(), lambda: data)]
    source_id = writer.begin_source(item.location, item.kind)
    previous = writer.members(source_id)
    counts = _Counts()
    read = written = withdrawn = unchanged = 0
    batch: list[OSVRecord] = []
    if progress is not None:
        progress.start(None, f"importing {item.location}", unit="records")
    for entry in entries:
        before = previous.pop(entry.name, None)
        if before is not None and before.fingerprint == entry.fingerprint:
            unchanged += len(before.ids)
            continue
        payload = entry.read()
        if isinstance(payload, ImportProblem):
            problems.append(payload)
            continue
        try:
            docs = _records_in_document(parse_document(payload, entry.where))
        except RecordError as exc:
            problems.append(ImportProblem(entry.where, str(exc)))
            continue
        ids: list[str] = []
        for doc in docs:
            try:
                record = record_from_osv(doc, counts)
            except RecordError as exc:
                problems.append(ImportProblem(entry.where, str(exc)))
                continue
            if isinstance(payload, _Deflated) and len(docs) == 1:
                record = dataclasses.replace(record, deflated=payload.deflated)
            read += 1
            withdrawn += record.withdrawn is not None
            batch.append(record)
            ids.append(record.id)
        if before is not None:
            # a record this file no longer holds goes with the old version of the file
            writer.forget_records(source_id, set(before.ids) - set(ids))
        writer.set_member(source_id, entry.name, Member(entry.fingerprint, tuple(ids)))
        if len(batch) >= _BATCH:
            written += writer.add_records(source_id, batch)
            if progress is not None:
                progress.advance(len(batch))
            batch = []
    if batch:
        written += writer.add_records(source_id, batch)
        if progress is not None:
            progress.advance(len(batch))
    for name, gone in previous.items():  # files the source no longer has
        writer.forget_records(source_id, gone.ids)
        writer.forget_member(source_id, name)
    writer.finish_source(source_id)
    if progress is not None:
        progress.finish()
    return SourceReport(item.location, item.kind, read, written, withdrawn, counts.unsupported, unchanged)


def import_osv(
    paths: Sequence[Path | str],
    db_path: Path | None = None,
    *,
    replace: bool = False,
    allow_empty: bool = False,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    on_wait: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import OSV data from directories, ``all.zip`` files and single records.

    Re-importing a source (same absolute path) replaces what it imported
    before; records from other sources stay. ``replace`` starts from an empty
    database. The whole call is one atomic replacement of the database file.
    Inputs that hold no record at all are refused (:class:`EmptyImportError`:
    they would empty their sources, or with ``replace`` the whole database)
    unless ``allow_empty``. A concurrent import of the same database is waited
    for up to ``lock_wait`` seconds (:class:`~chainwarden.vulndb.store.DatabaseLockedError`);
    ``on_wait`` is told once when that happens.
    """
    inputs = [_classify(Path(p)) for p in paths]
    if not inputs:
        raise DatabaseError("nothing to import: give a directory, an all.zip or an OSV file")
    return _import_inputs(
        inputs,
        db_path or default_db_path(),
        replace=replace,
        allow_empty=allow_empty,
        lock_wait=lock_wait,
        on_wait=on_wait,
        progress=progress,
    )


def _import_inputs(
    inputs: Sequence[_Input],
    db_path: Path,
    *,
    replace: bool,
    progress: ProgressCallback | None,
    allow_empty: bool = False,
    lock_wait: float = DEFAULT_LOCK_WAIT,
    on_wait: Callable[[str], None] | None = None,
) -> ImportReport:
    started = time.monotonic()
    problems: list[ImportProblem] = []
    reports: list[SourceReport] = []
    with DatabaseWriter(db_path, replace=replace, lock_wait=lock_wait, on_wait=on_wait) as writer:
        for item in inputs:
            reports.append(_import_input(writer, item, problems, progress))
        if all(report.records_read == 0 and report.records_unchanged == 0 for report in reports):
            if problems:
                # every input was garbage: say so instead of recording empty sources
                first = problems[0]
                raise DatabaseError(f"no OSV record could be read; first problem: {first.location}: {first.reason}")
            if not allow_empty:
                where = ", ".join(item.location for item in inputs)
                emptied = "the database" if replace else "what these sources imported before"
                raise EmptyImportError(
                    f"no OSV record found in {where}; importing it would empty {emptied} "
                    "(--allow-empty to do so anyway)"
                )
    return ImportReport(db_path, tuple(reports), tuple(problems), time.monotonic() - started)


# -- download ---------------------------------------------------------------------------


def export_url(ecosystem: str, url_base: str = DEFAULT_URL_BASE) -> str:
    """URL of OSV's ``all.zip`` export for ``ecosystem``."""
    return f"{url_base.rstrip('/')}/{quote(ecosystem, safe=':')}/all.zip"


def download_export(
    url: str,
    dest: Path,
    *,
    timeout: float = 60.0,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    progress: ProgressCallback | None = None,
    retry: RetryPolicy | None = None,
) -> int:
    """Stream ``url`` to ``dest``; returns the byte count. Raises :class:`NetworkError`.

    A connection error, a 429/5xx answer or a connection dropped mid-body starts
    the download over, as ``retry`` says (the shared policy by default).
    """
    import httpx

    from chainwarden._internal.http import RetryPolicy, read_with_retries

    def read(response: httpx.Response) -> int:
        if response.status_code != 200:
            raise NetworkError(f"{url}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
        declared = response.headers.get("content-length")
        total = int(declared) if declared and declared.isdigit() else None
        if total is not None and total > max_bytes:
            raise NetworkError(f"{url}: {total} bytes is more than the {max_bytes}-byte limit")
        if progress is not None:
            progress.start(total, f"downloading {url}")  # again on a retry: the bar starts over
        written = 0
        with dest.open("wb") as handle:
            for chunk in response.iter_bytes(chunk_size=1 << 16):
                written += len(chunk)
                if written > max_bytes:
                    raise NetworkError(f"{url}: more than the {max_bytes}-byte limit")
                handle.write(chunk)
                if progress is not None:
                    progress.advance(len(chunk))
        return written

    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True) as client:

            def send() -> httpx.Response:
                return client.send(client.build_request("GET", url, headers={"Accept": "application/zip"}), stream=True)

            return read_with_retries(send, read, retry or RetryPolicy())
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise NetworkError(f"{url}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
    except OSError as exc:
        raise DatabaseError(f"{dest}: cannot write the download ({exc.strerror})") from exc
    finally:
        if progress is not None:
            progress.finish()


def update_database(
    ecosystems: Sequence[str] = SUPPORTED_ECOSYSTEMS,
    db_path: Path | None = None,
    *,
    url_base: str = DEFAULT_URL_BASE,
    timeout: float = 60.0,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    progress: ProgressCallback | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> ImportReport:
    """Download each ecosystem's ``all.zip`` from ``url_base`` and import them in one go.

    Every download completes before the database is touched; any failure
    leaves the existing database as it was.
    """
    canonical = {eco.lower(): eco for eco in (*SUPPORTED_ECOSYSTEMS, *OPTIONAL_ECOSYSTEMS)}
    chosen: list[str] = []
    for ecosystem in ecosystems:
        name = canonical.get(ecosystem.lower())
        if name is None:
            choices = ", ".join((*SUPPORTED_ECOSYSTEMS, *OPTIONAL_ECOSYSTEMS))
            raise DatabaseError(f"unsupported ecosystem '{ecosystem}' (choose from {choices})")
        if name not in chosen:
            chosen.append(name)
    with tempfile.TemporaryDirectory(prefix="chainwarden-osv-") as tmp:
        inputs: list[_Input] = []
        for ecosystem in chosen:
            url = export_url(ecosystem, url_base)
            dest = Path(tmp, f"{ecosystem}.zip")
            download_export(url, dest, timeout=timeout, max_bytes=max_bytes, progress=progress)
            if not zipfile.is_zipfile(dest):
                raise DatabaseError(f"{url}: the download is not a zip archive")
            inputs.append(_Input(url, "download", dest))
        return _import_inputs(inputs, db_path or default_db_path(), replace=False, progress=progress, on_wait=on_wait)


def summarize_problems(problems: Sequence[ImportProblem], limit: int = 5) -> list[str]:
    """At most ``limit`` problem lines plus a count of the rest."""
    lines = [f"{p.location}: {p.reason}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"… and {len(problems) - limit} more")
    return lines


__all__ = [
    "DEFAULT_URL_BASE",
    "MAX_DOWNLOAD_BYTES",
    "OPTIONAL_ECOSYSTEMS",
    "SUPPORTED_ECOSYSTEMS",
    "EmptyImportError",
    "ImportProblem",
    "ImportReport",
    "RecordError",
    "SourceReport",
    "download_export",
    "export_url",
    "import_osv",
    "is_supported_ecosystem",
    "normalize_name",
    "parse_document",
    "record_from_osv",
    "summarize_problems",
    "update_database",
]
