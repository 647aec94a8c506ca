"""Importing OSV data: layouts, hostile input, atomic replacement, schema versions."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from chainwarden.errors import DatabaseError
from chainwarden.sources.interface import ProgressCallback
from chainwarden.vulndb import DatabaseMissingError, default_db_path, import_osv, open_database, osv_import, store
from chainwarden.vulndb.osv_import import RecordError, parse_document, record_from_osv

PYSEC_YAML = """\
id: PYSEC-2021-1
modified: 2021-05-01T00:00:00Z
aliases:
- CVE-2021-1000
summary: listed versions that YAML would turn into floats
affected:
- package:
    ecosystem: PyPI
    name: Demo_Pkg
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: 1.11
  - type: GIT
    repo: https://example.invalid/repo
    events:
    - introduced: abc123
  versions:
  - 1.10
  - 1.9
"""


def record(vuln_id: str, name: str = "lib", modified: str = "2024-01-01T00:00:00Z", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": vuln_id,
        "modified": modified,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            }
        ],
    }
    doc.update(extra)
    return doc


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def test_pypa_layout_yaml_keeps_versions_as_strings(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "db", {"vulns/demo-pkg/PYSEC-2021-1.yaml": PYSEC_YAML})
    report = import_osv([tree], tmp_path / "osv.sqlite3")
    assert report.problems == ()
    assert report.records_written == 1
    with open_database(tmp_path / "osv.sqlite3") as db:
        (row,) = db.affected_rows(["PyPI"], ["demo-pkg"])
        data = json.loads(row.data)
        assert data["v"] == ["1.10", "1.9"]  # not 1.1
        assert data["r"] == [["ECOSYSTEM", [["introduced", "0"], ["fixed", "1.11"]]]]  # GIT range dropped
        raw = db.raw_record("PYSEC-2021-1")
        assert raw is not None
        assert raw["affected"][0]["versions"] == ["1.10", "1.9"]


def test_malformed_files_are_skipped_and_reported(tmp_path: Path) -> None:
    tree = write_tree(
        tmp_path / "db",
        {
            "good.json": json.dumps(record("GHSA-good")),
            "broken.json": "{not json",
            "broken.yaml": "id: [unclosed\n",
            "list-top.yaml": "- just\n- a list\n",
            "no-id.json": json.dumps({"affected": []}),
            "bad-event.json": json.dumps(
                record(
                    "GHSA-bad",
                    affected=[
                        {
                            "package": {"ecosystem": "PyPI", "name": "x"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 2}]}],
                        }
                    ],
                )
            ),
            "deep.json": "[" * 100_000 + "]" * 100_000,
            "ignored.txt": "not a record",
            ".hidden/evil.json": "{",
        },
    )
    report = import_osv([tree], tmp_path / "osv.sqlite3")
    assert report.records_written == 1
    problems = {Path(p.location).name: p.reason for p in report.problems}
    assert set(problems) == {"broken.json", "broken.yaml", "list-top.yaml", "no-id.json", "bad-event.json", "deep.json"}
    assert problems["broken.json"].startswith("not valid JSON")
    assert problems["broken.yaml"].startswith("not valid YAML")
    assert "events[0] is not one OSV event" in problems["bad-event.json"]


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(osv_import, "MAX_RECORD_NODES", 10_000)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    with pytest.raises(RecordError, match="alias bomb"):
        parse_document("\n".join(lines).encode(), "bomb.yaml")
    # aliases within the budget are expanded like any YAML loader would
    assert parse_document(b"a: &x [1, 2]\nb: *x\n", "ok.yaml") == {"a": ["1", "2"], "b": ["1", "2"]}


def test_oversized_record_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(osv_import, "MAX_RECORD_BYTES", 1000)
    tree = write_tree(
        tmp_path / "db",
        {"big.json": json.dumps(record("GHSA-big", details="x" * 2000)), "ok.json": json.dumps(record("GHSA-ok"))},
    )
    report = import_osv([tree], tmp_path / "osv.sqlite3")
    assert [Path(p.location).name for p in report.problems] == ["big.json"]
    assert "larger than" in report.problems[0].reason


def test_record_validation() -> None:
    with pytest.raises(RecordError, match="no usable 'id'"):
        record_from_osv({"id": "bad\nid"})
    with pytest.raises(RecordError, match="'affected' is not a list"):
        record_from_osv({"id": "X-1", "affected": {"package": {}}})
    parsed = record_from_osv(
        {
            "id": "X-1",
            "aliases": ["CVE-1", "X-1", 7, "CVE-1"],
            "affected": [
                {"package": {"ecosystem": "Go", "name": "golang.org/x/net"}, "ranges": []},
                {"package": {"ecosystem": "npm", "name": "@scope/Pkg"}, "versions": ["1.0.0"]},
                {
                    "package": {"ecosystem": "Debian:12", "name": "openssl"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                },
            ],
        }
    )
    assert parsed.aliases == ("CVE-1",)
    assert [(a.ecosystem, a.name) for a in parsed.affected] == [("npm", "@scope/Pkg"), ("Debian:12", "openssl")]


def test_zip_export_and_single_files(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("GHSA-1.json", json.dumps(record("GHSA-1", name="a")))
        zf.writestr("GHSA-2.json", json.dumps(record("GHSA-2", name="b")))
        zf.writestr("bad.json", "{")
        zf.writestr("README.txt", "ignored")
    listing = tmp_path / "vulns.json"
    listing.write_text(json.dumps({"vulns": [record("OSV-3", name="c"), record("OSV-4", name="d")]}))
    single = tmp_path / "one.yaml"
    single.write_text("id: OSV-5\naffected: []\n")
    report = import_osv([archive, listing, single], tmp_path / "osv.sqlite3")
    assert [(s.kind, s.records_written) for s in report.sources] == [("zip", 2), ("file", 2), ("file", 1)]
    assert [p.location for p in report.problems] == [f"{archive.resolve()}:bad.json"]
    with open_database(tmp_path / "osv.sqlite3") as db:
        assert db.ids() == ["GHSA-1", "GHSA-2", "OSV-3", "OSV-4", "OSV-5"]
        status = db.status()
        assert [(e.ecosystem, e.records, e.packages) for e in status.ecosystems] == [("PyPI", 4, 4)]
        assert len(status.sources) == 3


def test_reimporting_a_source_replaces_its_records_only(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    first = write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1")), "A-2.json": json.dumps(record("A-2"))})
    second = write_tree(tmp_path / "two", {"B-1.json": json.dumps(record("B-1"))})
    import_osv([first, second], db_path)
    (first / "A-2.json").unlink()
    import_osv([first], db_path)
    with open_database(db_path) as db:
        assert db.ids() == ["A-1", "B-1"]
        assert db.affected_rows(["PyPI"], ["lib"]) != []
    import_osv([second], db_path, replace=True)
    with open_database(db_path) as db:
        assert db.ids() == ["B-1"]


def test_newer_copy_of_a_record_wins_across_sources(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    new = write_tree(
        tmp_path / "new", {"X.json": json.dumps(record("X-1", summary="new", modified="2024-05-01T00:00:00Z"))}
    )
    old = write_tree(
        tmp_path / "old", {"X.json": json.dumps(record("X-1", summary="old", modified="2023-01-01T00:00:00Z"))}
    )
    import_osv([new], db_path)
    report = import_osv([old], db_path)
    assert report.sources[0].records_written == 0
    with open_database(db_path) as db:
        assert db.vulns(["X-1"])["X-1"].summary == "new"
        assert len(db.affected_rows(["PyPI"], ["lib"])) == 1


def test_failed_import_leaves_the_database_untouched(tmp_path: Path) -> None:
    db_path = tmp_path / "cache" / "osv.sqlite3"
    good = write_tree(tmp_path / "good", {"A-1.json": json.dumps(record("A-1"))})
    import_osv([good], db_path)
    before = db_path.read_bytes()
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip")
    extra = write_tree(tmp_path / "extra", {"B-1.json": json.dumps(record("B-1"))})
    with pytest.raises(DatabaseError, match="not a readable zip"):
        import_osv([extra, corrupt], db_path)
    assert db_path.read_bytes() == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["osv.sqlite3"]  # no temp file left behind


def test_all_garbage_is_an_error(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "db", {"a.json": "{", "b.yaml": "::"})
    with pytest.raises(DatabaseError, match="no OSV record could be read"):
        import_osv([tree], tmp_path / "osv.sqlite3")
    assert not (tmp_path / "osv.sqlite3").exists()


def test_missing_inputs_and_databases(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no such file"):
        import_osv([tmp_path / "nope"], tmp_path / "osv.sqlite3")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatabaseError, match=r"not a directory, a \.zip export"):
        import_osv([tmp_path / "notes.txt"], tmp_path / "osv.sqlite3")
    with pytest.raises(DatabaseMissingError, match=r"run `chainwarden db update` or `chainwarden db import PATH`"):
        open_database(tmp_path / "absent.sqlite3")


def test_unusable_database_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(DatabaseError, match="not a chainwarden vulnerability database"):
        open_database(garbage)
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    with pytest.raises(DatabaseError, match="empty file"):
        open_database(empty)
    future = tmp_path / "future.sqlite3"
    with sqlite3.connect(future) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(DatabaseError, match="schema 99 is newer"):
        open_database(future)
    # an unreadable existing database is not silently replaced by an import
    tree = write_tree(tmp_path / "db", {"A-1.json": json.dumps(record("A-1"))})
    with pytest.raises(DatabaseError, match="--replace"):
        import_osv([tree], garbage)
    import_osv([tree], garbage, replace=True)
    with open_database(garbage) as db:
        assert db.ids() == ["A-1"]


def test_older_schema_is_migrated_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_path = tmp_path / "osv.sqlite3"
    import_osv([write_tree(tmp_path / "db", {"A-1.json": json.dumps(record("A-1"))})], db_path)

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE notes (text TEXT)")

    later = store.SCHEMA_VERSION + 1
    monkeypatch.setattr(store, "SCHEMA_VERSION", later)
    monkeypatch.setattr(store, "_MIGRATIONS", [*store._MIGRATIONS, add_notes])
    with open_database(db_path) as db:
        assert db.status().schema_version == later
        assert db.ids() == ["A-1"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchone() == ("notes",)
    conn.close()


def test_default_path_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINWARDEN_DB", str(tmp_path / "custom.sqlite3"))
    assert default_db_path() == tmp_path / "custom.sqlite3"
    monkeypatch.delenv("CHAINWARDEN_DB")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "chainwarden" / "osv.sqlite3"


def test_concurrent_imports_both_land(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    first = write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1"))})
    second = write_tree(tmp_path / "two", {"B-1.json": json.dumps(record("B-1"))})
    import_osv([first], db_path)
    waiting: list[str] = []
    outcome: list[BaseException | None] = []

    def other_import() -> None:
        try:
            import_osv([second], db_path, lock_wait=30, on_wait=waiting.append)
            outcome.append(None)
        except BaseException as exc:  # re-raised in the test thread
            outcome.append(exc)

    # a first writer holds the database while a second import starts
    with store.DatabaseWriter(db_path) as writer:
        thread = threading.Thread(target=other_import)
        thread.start()
        deadline = time.monotonic() + 10
        while not waiting and time.monotonic() < deadline:
            time.sleep(0.02)
        source = writer.begin_source("elsewhere", "directory")
        writer.add_records(source, [osv_import.record_from_osv(record("C-1"))])
        writer.finish_source(source)
    thread.join(30)
    assert outcome == [None]
    assert waiting and "another import" in waiting[0]
    with open_database(db_path) as db:
        assert db.ids() == ["A-1", "B-1", "C-1"]  # neither import lost the other's records
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["osv.sqlite3"]


def test_import_while_another_runs_fails_with_a_clear_message(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    tree = write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1"))})
    with (
        store.DatabaseWriter(db_path),
        pytest.raises(store.DatabaseLockedError, match=r"another import is running \(pid \d+\)"),
    ):
        import_osv([tree], db_path, lock_wait=0)


def test_import_through_a_symlink_keeps_the_link_and_the_mode(tmp_path: Path) -> None:
    real = tmp_path / "data" / "osv.sqlite3"
    real.parent.mkdir()
    link = tmp_path / "osv.sqlite3"
    link.symlink_to(real)
    tree = write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1"))})
    import_osv([tree], link)
    os.chmod(real, 0o640)
    import_osv([tree], link)
    assert link.is_symlink() and link.resolve() == real
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    with open_database(link) as db:
        assert db.ids() == ["A-1"]


def test_new_database_follows_the_umask(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1"))})
    old = os.umask(0o022)
    try:
        import_osv([tree], tmp_path / "osv.sqlite3")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "osv.sqlite3").stat().st_mode) == 0o644


def test_import_that_found_no_record_is_refused_unless_allowed(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    import_osv([write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1"))})], db_path)
    before = db_path.read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(osv_import.EmptyImportError, match=r"no OSV record found in .*would empty the database"):
        import_osv([empty], db_path, replace=True)
    assert db_path.read_bytes() == before
    import_osv([empty], db_path, replace=True, allow_empty=True)
    with open_database(db_path) as db:
        assert db.ids() == []


def test_import_progress_counts_records(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "db", {f"A-{n}.json": json.dumps(record(f"A-{n}")) for n in range(5)})

    class Recorder(ProgressCallback):
        def __init__(self) -> None:
            self.units: list[str] = []
            self.done = 0

        def start(self, total: int | None, description: str, *, unit: str = "bytes") -> None:
            self.units.append(unit)

        def advance(self, amount: int) -> None:
            self.done += amount

    recorder = Recorder()
    import_osv([tree], tmp_path / "osv.sqlite3", progress=recorder)
    assert recorder.units == ["records"] and recorder.done == 5


def test_a_directory_as_database_is_refused_before_importing(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "one", {"A-1.json": json.dumps(record("A-1"))})
    (tmp_path / "db").mkdir()
    with pytest.raises(DatabaseError, match="not a file"):
        import_osv([tree], tmp_path / "db")
    assert list((tmp_path / "db").iterdir()) == []


def _zip(path: Path, records: dict[str, dict[str, Any]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, doc in records.items():
            archive.writestr(name, json.dumps(doc))
    return path


def test_reimport_reads_only_the_members_that_changed(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    day1 = {f"A-{n}.json": record(f"A-{n}", name=f"lib{n}") for n in range(1, 6)}
    export = _zip(tmp_path / "all.zip", day1)
    first = import_osv([export], db_path)
    assert (first.sources[0].records_read, first.sources[0].records_unchanged) == (5, 0)

    # next day: A-2 modified, A-3 gone, A-9 new; the zip is rewritten at the same path
    day2 = dict(day1)
    day2["A-2.json"] = record("A-2", name="lib2", modified="2024-06-01T00:00:00Z", summary="now with a summary")
    del day2["A-3.json"]
    day2["A-9.json"] = record("A-9", name="lib9")
    export.unlink()
    _zip(export, day2)
    second = import_osv([export], db_path)
    source = second.sources[0]
    assert (source.records_read, source.records_written, source.records_unchanged) == (2, 2, 3)
    with open_database(db_path) as db:
        assert db.ids() == ["A-1", "A-2", "A-4", "A-5", "A-9"]
        assert db.vulns(["A-2"])["A-2"].summary == "now with a summary"
        assert {row.vuln_id for row in db.affected_rows(["PyPI"], ["lib3"])} == set()
        assert db.status().sources[0].records == 5

    # an unchanged export reads nothing and keeps everything
    third = import_osv([export], db_path)
    assert (third.sources[0].records_read, third.sources[0].records_unchanged) == (0, 5)
    with open_database(db_path) as db:
        assert len(db.ids()) == 5


def test_reimported_directory_follows_changed_and_removed_files(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    tree = write_tree(tmp_path / "db", {"A-1.json": json.dumps(record("A-1")), "A-2.json": json.dumps(record("A-2"))})
    import_osv([tree], db_path)
    (tree / "A-2.json").unlink()
    # a file that now holds another record: the old one goes with it
    (tree / "A-1.json").write_text(json.dumps(record("A-7", modified="2024-02-02T00:00:00Z")))
    report = import_osv([tree], db_path)
    assert report.sources[0].records_read == 1
    with open_database(db_path) as db:
        assert db.ids() == ["A-7"]


def test_a_version_1_database_is_migrated_and_reads_details_from_the_raw_record(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    doc = record("A-1", summary="s", details="  the details  ", references=[{"type": "WEB", "url": "https://x.test/1"}])
    with sqlite3.connect(db_path) as conn:
        store._create_v1(conn)
        conn.execute("INSERT INTO sources VALUES (1, '/old', 'directory', '2024-01-01T00:00:00+00:00', 1)")
        conn.execute(
            "INSERT INTO vulns VALUES ('A-1', 1, ?, NULL, NULL, 's', 'the details', '[]', 'unknown', NULL, NULL,"
            " 'none', '[\"https://x.test/1\"]', ?)",
            (doc["modified"], zlib.compress(json.dumps(doc).encode())),
        )
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    with open_database(db_path) as db:
        assert db.status().schema_version == store.SCHEMA_VERSION
        info = db.vulns(["A-1"])["A-1"]
        assert (info.details, info.references) == ("the details", ("https://x.test/1",))
    with sqlite3.connect(db_path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(vulns)")}
    conn.close()
    assert not columns & {"details", "refs"}


def test_export_members_are_stored_as_they_come_and_checked(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    doc = record("A-1", details="long " * 200)
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("A-1.json", json.dumps(doc, indent=2))
        archive.writestr("A-2.json", json.dumps(record("A-2")))
    import_osv([export], db_path)
    with open_database(db_path) as db:
        assert db.raw_record("A-1") == doc
        assert db.vulns(["A-1"])["A-1"].details == doc["details"].strip()
    with sqlite3.connect(db_path) as conn:
        (blob,) = conn.execute("SELECT raw FROM vulns WHERE id = 'A-1'").fetchone()
    conn.close()
    assert blob[:1] == b"\x00"  # the member's own DEFLATE stream, not compressed again

    # a member whose bytes do not match the central directory's CRC is a problem, not a record
    data = bytearray(export.read_bytes())
    start = data.index(b"A-2.json") + len(b"A-2.json")
    data[start + 8] ^= 0xFF
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    report = import_osv([broken], tmp_path / "other.sqlite3")
    assert [problem.location.rsplit(":", 1)[-1] for problem in report.problems] == ["A-2.json"]
    assert report.sources[0].records_read == 1
