"""A terminated ``db import`` leaves the database as it was and no temp or lock file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from chainwarden.vulndb import import_osv, open_database

_CLI = "import sys; from chainwarden.cli import main; sys.exit(main())"


def _record(vuln_id: str) -> dict[str, object]:
    return {
        "id": vuln_id,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": f"lib{vuln_id[-3:]}"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
            }
        ],
    }


def test_sigterm_during_import_leaves_no_temp_file_and_the_database_intact(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db_path = db_dir / "osv.sqlite3"
    first = tmp_path / "first.json"
    first.write_text(json.dumps(_record("FIRST-1")))
    import_osv([first], db_path)
    before = db_path.read_bytes()
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for n in range(60_000):
            zf.writestr(f"X-{n}.json", json.dumps(_record(f"X-{n:06d}")))
    process = subprocess.Popen(
        [sys.executable, "-c", _CLI, "db", "import", "--db", str(db_path), str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".tmp") for p in db_dir.iterdir()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, err
    assert err.strip() == "chainwarden: terminated"
    assert sorted(p.name for p in db_dir.iterdir()) == ["osv.sqlite3"]
    assert db_path.read_bytes() == before
    with open_database(db_path) as db:
        assert db.ids() == ["FIRST-1"]


def test_db_import_refuses_an_empty_replacement_in_one_line(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    first = tmp_path / "first.json"
    first.write_text(json.dumps(_record("FIRST-1")))
    import_osv([first], db_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "db", "import", "--replace", "--db", str(db_path), str(empty)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("chainwarden: error: no OSV record found in ")
    assert "--allow-empty" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    with open_database(db_path) as db:
        assert db.ids() == ["FIRST-1"]


def test_two_imports_at_once_both_land(tmp_path: Path) -> None:
    db_path = tmp_path / "osv.sqlite3"
    archives = []
    for prefix in ("A", "B"):
        archive = tmp_path / f"{prefix}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for n in range(3000):
                zf.writestr(f"{prefix}-{n}.json", json.dumps(_record(f"{prefix}-{n:06d}")))
        archives.append(archive)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CLI, "db", "import", "--db", str(db_path), str(archive)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for archive in archives
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    with open_database(db_path) as db:
        ids = db.ids()
    assert len(ids) == 6000  # neither import replaced the other's records
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("osv")) == ["osv.sqlite3"]
