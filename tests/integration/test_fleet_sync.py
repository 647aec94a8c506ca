"""``chainwarden fleet sync|add|images|packages|affected|worker`` against Debian's real docker-registry.

Images are built in code and pushed with skopeo; the store is SQLite (in-process
scans) or a throwaway PostgreSQL cluster on 127.0.0.1 with procrastinate worker
processes. Failures are injected at the protocol level (a proxy answering 503 on
blobs, a blob deleted from the registry's storage, a worker killed mid-job).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from chainwarden.cli import main
from chainwarden.fleet import open_store
from chainwarden.fleet.store import image_packages, images, tag_events
from integration.registry_server import AuthProxy, RunningRegistry, missing_tools, skopeo_push, start_registry
from support.fleet import make_db, make_image
from support.postgres import PostgresCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (apt-get install docker-registry skopeo)")
    running = start_registry(tmp_path_factory.mktemp("fleet-registry"))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAINWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.delenv("CHAINWARDEN_FLEET_STORE", raising=False)


def push(registry: RunningRegistry, layout: Path, name: str) -> None:
    skopeo_push(layout, "latest", f"{registry.address}/{name}")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sync_scans_only_new_digests_and_answers_who_is_affected(
    registry: RunningRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    old = make_image(tmp_path / "old", requests="2.31.0")
    new = make_image(tmp_path / "new", requests="2.32.3", openssl="3.0.11-1~deb12u2")
    push(registry, old, f"{prefix}/api:v1")
    push(registry, old, f"{prefix}/api:latest")  # one digest, two tags
    push(registry, new, f"{prefix}/web:v1")
    push(registry, new, f"{prefix}x/other:1")  # outside the glob
    store = str(tmp_path / "fleet.sqlite3")
    db = str(make_db(tmp_path))
    target = f"{registry.address}/{prefix}/*"

    code, out, _ = run(capsys, "fleet", "sync", target, "--store", store, "--db", db, "--format", "json")
    assert code == 0, out
    summary = json.loads(out)
    assert len(summary["new"]) == 2 and summary["unchanged"] == 0 and summary["failed"] == []
    assert summary["findings_new"] == 3

    code, out, _ = run(capsys, "fleet", "sync", target, "--store", store, "--db", db, "--format", "json")
    again = json.loads(out)
    assert code == 0 and again["new"] == [] and again["unchanged"] == 2 and again["findings_new"] == 0

    code, out, _ = run(capsys, "fleet", "affected", "CVE-2024-35195", "--store", store, "--format", "json")
    rows = json.loads(out)["affected"]
    assert code == 0 and len(rows) == 1
    row = rows[0]
    assert row["tags"] == [f"{registry.address}/{prefix}/api:latest", f"{registry.address}/{prefix}/api:v1"]
    assert (row["name"], row["version"], row["fixed"]) == ("requests", "2.31.0", ["2.32.0"])
    assert row["layer"].startswith("sha256:") and row["path"].endswith("requests-2.31.0.dist-info/METADATA")

    # malicious packages are listed first, before the worst vulnerability
    code, out, _ = run(capsys, "fleet", "affected", "MAL-2024-7000", "--store", store, "--fail-on-any")
    assert code == 1 and out.splitlines()[1].startswith("MAL-2024-7000  critical")

    code, out, _ = run(capsys, "fleet", "images", "--store", store, "--format", "json")
    listed = json.loads(out)["images"]
    assert len(listed) == 2 and all(i["worst"] == "critical" for i in listed)
    code, out, _ = run(capsys, "fleet", "packages", "Requests", "--ecosystem", "pypi", "--store", store)
    assert code == 0 and "2.31.0" in out and "2.32.3" in out and f"{prefix}/web:v1" in out

    # the first rematch reports every finding, malicious first, as SARIF for code-scanning dashboards
    code, out, _ = run(capsys, "fleet", "rematch", "--store", store, "--db", db, "--format", "sarif")
    sarif = json.loads(out)
    results = sarif["runs"][0]["results"]
    assert code == 0 and len(results) == 4 and results[0]["ruleId"].startswith("known-malicious-package")
    code, out, _ = run(capsys, "fleet", "rematch", "--store", store, "--db", db, "--fail-on", "low")
    assert code == 0 and "0 new findings" in out  # nothing changed since: nothing new, the gate stays open
    code, out, _ = run(capsys, "fleet", "stale", "--store", store, "--all", "--format", "json")
    assert code == 0 and {i["base_source"] for i in json.loads(out)["images"]} == {None}

    # the tag moves: an event, and only the new digest is scanned
    push(registry, new, f"{prefix}/api:latest")
    code, out, _ = run(capsys, "fleet", "sync", target, "--store", store, "--db", db, "--format", "json")
    moved = json.loads(out)
    assert code == 0 and moved["new"] == [] and moved["unchanged"] == 2
    assert len(moved["tags_moved"]) == 1 and f"{prefix}/api:latest" in moved["tags_moved"][0]
    with open_store(store) as opened, opened.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(images)) == 2
        assert conn.scalar(sa.select(sa.func.count()).select_from(tag_events).where(tag_events.c.tag == "latest")) == 2


def test_a_failed_image_is_reported_with_its_reason_and_the_rest_is_stored(
    registry: RunningRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"f{uuid.uuid4().hex[:6]}"
    good = make_image(tmp_path / "good")
    broken = make_image(tmp_path / "broken", requests="2.0.0", extra={"/app/broken": "x\n"})
    push(registry, good, f"{prefix}/good:1")
    push(registry, broken, f"{prefix}/broken:1")
    # the broken image's app layer vanishes from the registry's storage
    index = json.loads((broken / "index.json").read_text())
    manifest = json.loads((broken / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    lost = manifest["layers"][1]["digest"]
    registry.blob_data(lost).unlink()
    store = str(tmp_path / "fleet.sqlite3")
    code, out, _ = run(capsys, "fleet", "sync", f"{registry.address}/{prefix}/*", "--store", store)
    assert code == 2
    assert "images: 1 new, 0 unchanged, 0 queued, 1 failed" in out
    assert f"failed: registry:{registry.address}/{prefix}/broken@sha256:" in out
    assert "blob unknown to registry (404)" in out


def test_queries_on_a_missing_store_fail_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "fleet", "images", "--store", str(tmp_path / "none.sqlite3"))
    assert code == 2 and out == ""
    assert err.strip().startswith("chainwarden: error:") and "no fleet store yet" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none.sqlite3").exists()
    code, _, err = run(capsys, "fleet", "worker", "--store", str(tmp_path / "s.sqlite3"))
    assert code == 2 and "needs a PostgreSQL store" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.sqlite3").exists()
    code, _, err = run(capsys, "serve", "--store", str(tmp_path / "s.sqlite3"), "--bind", "nonsense")
    assert code == 2 and "want HOST:PORT" in err


# -- workers on PostgreSQL ---------------------------------------------------------------


def _worker(store: str, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    with (tmp_path / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; from chainwarden.cli import main; sys.exit(main())", "fleet",
             "worker", "--store", store, "--name", name, "--heartbeat", "0.5", "--stalled-after", "3"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ},
        )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _jobs(store: str) -> list[tuple[Any, ...]]:
    import psycopg

    url = store
    with psycopg.connect(url) as conn:
        return list(
            conn.execute(
                "SELECT queueing_lock, status, attempts FROM procrastinate_jobs "
                "WHERE task_name = 'chainwarden.fleet.scan' ORDER BY id"
            )
        )


def test_two_workers_with_injected_failures_store_every_digest_exactly_once(
    registry: RunningRegistry,
    postgres_cluster: PostgresCluster,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"w{uuid.uuid4().hex[:6]}"
    layouts = [make_image(tmp_path / f"img{i}", requests=f"2.{20 + i}.0") for i in range(6)]
    for i, layout in enumerate(layouts):
        push(registry, layout, f"{prefix}/app{i}:1")
    store = postgres_cluster.create_database(f"fleet_{uuid.uuid4().hex[:10]}")
    with AuthProxy(upstream=registry.address) as proxy:
        # two images' app layers answer 503 more often than one attempt retries: the job fails, is retried later
        for layout in layouts[:2]:
            index = json.loads((layout / "index.json").read_text())
            manifest = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
            repo = f"{prefix}/app{layouts.index(layout)}"
            proxy.failures[f"/v2/{repo}/blobs/{manifest['layers'][1]['digest']}"] = 4
        target = f"{proxy.address}/{prefix}/*"
        code, out, _ = run(capsys, "fleet", "sync", target, "--store", store, "--no-wait", "--format", "json")
        assert code == 0, out
        assert len(json.loads(out)["queued"]) == 6
        # a digest already queued is not queued twice
        code, out, _ = run(capsys, "fleet", "sync", target, "--store", store, "--no-wait", "--format", "json")
        assert len(_jobs(store)) == 6

        # the first worker dies (SIGKILL) holding a job: it must be recovered, not lost
        doomed = _worker(store, tmp_path, "doomed")
        try:
            deadline = time.monotonic() + 60
            while not any(status == "doing" for _, status, _ in _jobs(store)):
                assert time.monotonic() < deadline, (tmp_path / "doomed.log").read_text()
                time.sleep(0.01)
            doomed.kill()
            doomed.wait(timeout=10)
        finally:
            _stop(doomed)
        workers = [_worker(store, tmp_path, "one"), _worker(store, tmp_path, "two")]
        try:
            code, out, _ = run(
                capsys, "fleet", "sync", target, "--store", store, "--wait-timeout", "120", "--format", "json"
            )
        finally:
            for process in workers:
                _stop(process)
    summary = json.loads(out)
    assert code == 0, (summary, (tmp_path / "one.log").read_text()[-3000:])
    assert summary["failed"] == []
    jobs = _jobs(store)
    assert len(jobs) == 6 and {status for _, status, _ in jobs} == {"succeeded"}, jobs
    assert max(attempts for _, _, attempts in jobs) >= 1  # the injected failures were retried
    with open_store(store) as opened, opened.connect() as conn:
        digests: list[str] = list(conn.scalars(sa.select(images.c.digest)))
        assert len(digests) == len(set(digests)) == 6
        # every image complete: 4 packages each, none twice
        per_image = conn.execute(
            sa.select(image_packages.c.image_id, sa.func.count()).group_by(image_packages.c.image_id)
        ).all()
        assert sorted(int(row[1]) for row in per_image) == [4] * 6
