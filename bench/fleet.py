"""The fleet at scale: sync, rematch and "who is affected" on a registry of 1,000 images.

    .venv/bin/python bench/fleet.py [--images 1000] [--rows-images 10000] [--rows-packages 500] [--only-sync]

1. Builds ``--images`` images on 5 shared bases and pushes them to Debian's
   ``docker-registry`` on 127.0.0.1 (20 repositories × 50 tags). The bases are
   real package metadata: subsets of this machine's Debian ``/var/lib/dpkg/status``
   with its ``/etc/os-release``, real ``*.dist-info`` directories of the PyPI
   packages in this virtualenv and real ``package.json`` files of npm's bundled
   dependencies; each app layer is small (one Python distribution, one npm package).
2. ``chainwarden fleet sync`` (the real CLI) of the whole registry: SQLite
   in-process, then PostgreSQL (a throwaway cluster on 127.0.0.1) with 1 and with
   2 ``fleet worker`` processes (started before the sync, as services are); a
   fresh, empty cache each time, so every base is read and catalogued once per
   run. Goal ≥ 20 images/s. Besides wall time, the CPU time of the chainwarden
   processes (the sync and its workers), of the registry and of PostgreSQL is
   printed: the machine is shared, wall time is not the whole story.
3. One new advisory is imported; ``fleet rematch`` recomputes and reports the new
   findings across the fleet. Goal < 1 s.
4. ``fleet affected`` on a store of ``--rows-images`` × ``--rows-packages``
   synthetic rows, SQLite and PostgreSQL, median of 20 queries. Goal < 50 ms.
5. Store size per image.

The peer: syft (``pip install .[bench]``) has no fleet store, so answering "who is
affected" means re-cataloguing every image; its per-image time on the same
registry images, times ``--images``, is what a rescan of the fleet costs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
VENV_BIN = REPO / ".venv" / "bin"
CHAINWARDEN = [sys.executable, "-c", "import sys; from chainwarden.cli import main; sys.exit(main())"]
BASES = 5
REPOS = 20
GOALS = {"sync": 20.0, "rematch": 1.0, "affected_ms": 50.0}
TARGET_CVE = "CVE-2099-0005"  # 2 of the 10 versions of one package, in ~10 % of the images


# -- building the images --------------------------------------------------------


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _dpkg_stanzas() -> list[str]:
    text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    return [s for s in text.split("\n\n") if s.strip() and "Status: install ok installed" in s]


def _dist_infos() -> list[Path]:
    site = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    return sorted(site.glob("*.dist-info"))


def _npm_packages() -> list[Path]:
    root = Path("/usr/lib/node_modules/npm/node_modules")
    return sorted(p for p in root.glob("*/package.json")) if root.is_dir() else []


def base_layers() -> list[bytes]:
    """5 bases: growing slices of the real dpkg database, real dist-infos and package.json files."""
    stanzas, dists, npms = _dpkg_stanzas(), _dist_infos(), _npm_packages()
    os_release = Path("/etc/os-release").read_bytes()
    layers = []
    for number in range(BASES):
        share = 0.3 + 0.15 * number
        files: dict[str, bytes] = {
            "/etc/os-release": os_release,
            "/var/lib/dpkg/status": ("\n\n".join(stanzas[: int(len(stanzas) * share)]) + "\n").encode(),
            "/etc/base-flavour": f"base {number}\n".encode(),
        }
        for dist in dists[: 10 + 10 * number]:
            for name in ("METADATA", "RECORD"):
                if (dist / name).is_file():
                    files[f"/usr/lib/python3/dist-packages/{dist.name}/{name}"] = (dist / name).read_bytes()
        for package_json in npms[: 20 + 20 * number]:
            files[f"/usr/lib/node_modules/{package_json.parent.name}/package.json"] = package_json.read_bytes()
        layers.append(_tar(files))
    return layers


def app_layer(index: int) -> bytes:
    version = f"2.{20 + index % 12}.0"  # requests 2.20.0 … 2.31.0 across the fleet
    name = "requests"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    dist = f"/app/venv/lib/python3.11/site-packages/{name}-{version}.dist-info"
    return _tar(
        {
            f"{dist}/METADATA": meta,
            f"{dist}/RECORD": f"{name}-{version}.dist-info/METADATA,,\n".encode(),
            f"/srv/app/node_modules/app-{index}/package.json": json.dumps(
                {"name": f"app-{index}", "version": f"1.0.{index}"}
            ).encode(),
            "/srv/app/main.py": f"print({index})\n".encode(),
        }
    )


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_fleet(address: str, count: int) -> float:
    """Push ``count`` images (20 repos × count/20 tags); seconds taken."""
    from integration.registry_server import PushClient

    bases = base_layers()
    pusher = PushClient(address)
    started = time.perf_counter()
    base_in_repo: set[tuple[str, int]] = set()
    try:
        for index in range(count):
            repo = f"bench/app{index % REPOS:02d}"
            base = index % BASES
            if (repo, base) not in base_in_repo:
                pusher.put_blob(repo, bases[base])
                base_in_repo.add((repo, base))
            app = app_layer(index)
            pusher.put_blob(repo, app)
            layers = [bases[base], app]
            config = json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "created": f"2024-{1 + index % 12:02d}-01T00:00:00Z",
                    "config": {"Labels": {"org.opencontainers.image.base.name": f"{address}/bench/base{base}:12"}},
                    "rootfs": {"type": "layers", "diff_ids": [_digest(layer) for layer in layers]},
                },
                sort_keys=True,
            ).encode()
            config_digest = pusher.put_blob(repo, config)
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(x), "size": len(x)}
                    for x in layers
                ],
            }
            body = json.dumps(manifest).encode()
            pusher.put_manifest(repo, f"v{index // REPOS}", body, "application/vnd.oci.image.manifest.v1+json")
    finally:
        pusher.close()
    return time.perf_counter() - started


# -- measuring ---------------------------------------------------------------------


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[3:])} failed ({result.returncode}): {result.stderr[-2000:]}")
    return took, result.stdout


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (the CLI runs and stopped workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and of its children it waited for (PostgreSQL's backends, for its postmaster)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(cluster: Any) -> int:
    return int((Path(cluster.datadir) / "postmaster.pid").read_text().split()[0])


class CpuMeter:
    """CPU seconds spent by chainwarden processes, the registry and PostgreSQL between start and stop."""

    def __init__(self, registry_pid: int, postgres_pid: int | None = None) -> None:
        self._pids = {"registry": registry_pid, **({"postgres": postgres_pid} if postgres_pid else {})}
        self._start = {name: process_cpu(pid) for name, pid in self._pids.items()}
        self._start["chainwarden"] = children_cpu()

    def stop(self) -> dict[str, float]:
        used = {name: process_cpu(pid) - self._start[name] for name, pid in self._pids.items()}
        used["chainwarden"] = children_cpu() - self._start["chainwarden"]
        return used


def start_workers(store: str, count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    processes = []
    for number in range(count):
        with (logs / f"worker{number}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [*CHAINWARDEN, "fleet", "worker", "--store", store, "--name", f"bench-{number}"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
    return processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def advisory_db(work: Path, new: bool) -> Path:
    from chainwarden.vulndb import import_osv
    from support.fleet import osv

    records = [
        osv("GHSA-0000-base-0001", "PyPI", "requests", "2.25.0", aliases=["CVE-2099-0100"]),
        osv("MAL-2099-0001", "npm", "app-7", None),
    ]
    if new:
        records.append(
            osv(
                "GHSA-0000-new0-0001",
                "PyPI",
                "requests",
                "2.29.0",
                aliases=["CVE-2099-0200"],
                modified="2099-01-01T00:00:00Z",
            )
        )
    folder = work / ("advisories-new" if new else "advisories")
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    db = work / ("osv-new.sqlite3" if new else "osv.sqlite3")
    import_osv([folder], db, replace=True)
    return db


def store_size(url: str) -> int:
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            assert row is not None
            return int(row[0])
    return sum(p.stat().st_size for p in Path(url).parent.glob(Path(url).name + "*"))


def rematch_time(url: str, db: Path) -> tuple[float, int]:
    from chainwarden.fleet import open_store
    from chainwarden.fleet.rematch import rematch
    from chainwarden.vulndb import open_database

    with open_database(db) as opened, open_store(url) as store:
        started = time.perf_counter()
        report = rematch(store, opened)
        return time.perf_counter() - started, len(report.new)


# -- synthetic rows for "affected" ---------------------------------------------------


def fill_synthetic(url: str, n_images: int, per_image: int, seed: int = 7) -> None:
    """``n_images`` images × ``per_image`` package placements, 1,000 names × 10 versions, some findings."""
    import sqlalchemy as sa

    from chainwarden.fleet import open_store
    from chainwarden.fleet.store import (
        finding_ids,
        findings,
        image_packages,
        images,
        packages,
        repositories,
        tags,
    )

    rng = random.Random(seed)
    names = [f"pkg{n:04d}" for n in range(1000)]
    with open_store(url) as store, store.begin() as conn:
        conn.execute(
            packages.insert(),
            [
                {"id": n * 10 + v + 1, "ecosystem": "pypi", "name": name, "version": f"1.{v}.0",
                 "purl": f"pkg:pypi/{name}@1.{v}.0"}
                for n, name in enumerate(names) for v in range(10)
            ],
        )  # fmt: skip
        conn.execute(repositories.insert().values(id=1, registry="127.0.0.1:5000", name="synthetic"))
        now = "2024-01-01T00:00:00+00:00"
        batch_images = []
        batch_tags = []
        for i in range(n_images):
            digest = _digest(f"image-{i}".encode())
            batch_images.append(
                {"id": i + 1, "digest": digest, "reference": f"synthetic:{i}", "scanned_at": now, "profiled": False,
                 "distro": "", "platform": "linux/amd64"}
            )  # fmt: skip
            batch_tags.append({"repository_id": 1, "tag": f"t{i}", "digest": digest, "updated_at": now})
        conn.execute(images.insert(), batch_images)
        conn.execute(tags.insert(), batch_tags)
        rows: list[dict[str, Any]] = []

        def flush() -> None:
            if rows:
                conn.execute(image_packages.insert(), rows)
                rows.clear()

        for i in range(n_images):
            for n in rng.sample(range(1000), per_image):
                package_id = n * 10 + rng.randrange(10) + 1
                rows.append(
                    {"image_id": i + 1, "package_id": package_id, "layer_id": None,
                     "path": f"/usr/lib/python3/dist-packages/{names[n]}", "in_use": None}
                )  # fmt: skip
            if len(rows) >= 100_000:
                flush()
        flush()
        finding_rows = [
            {"package_id": n * 10 + v + 1, "distro": "", "vuln_id": f"CVE-2099-{n:04d}", "rule_id": "vuln",
             "severity": "high", "title": "synthetic", "aliases": "[]", "fixed": json.dumps([f"1.{v + 1}.0"]),
             "db_version": now, "first_seen": now}
            for n in range(0, 1000, 5) for v in range(2)
        ]  # fmt: skip
        conn.execute(findings.insert(), finding_rows)
        conn.execute(finding_ids.insert(), [{"id": f"CVE-2099-{n:04d}", "vuln_id": f"CVE-2099-{n:04d}"}
                                            for n in range(0, 1000, 5)])  # fmt: skip
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))


def affected_ms(url: str) -> tuple[float, int]:
    from chainwarden.fleet import open_store
    from chainwarden.fleet.queries import affected

    with open_store(url) as store:
        affected(store, TARGET_CVE)  # warm
        times = []
        rows = 0
        for _ in range(20):
            started = time.perf_counter()
            rows = len(affected(store, TARGET_CVE))
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


# -- the run ---------------------------------------------------------------------------


def syft_per_image(address: str, samples: int, env: dict[str, str]) -> float | None:
    syft = shutil.which("syft", path=str(VENV_BIN)) or shutil.which("syft")
    if syft is None:
        return None
    syft_env = {**env, "SYFT_REGISTRY_INSECURE_USE_HTTP": "true", "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    started = time.perf_counter()
    for index in range(samples):
        repo, tag = f"bench/app{index % REPOS:02d}", f"v{index // REPOS}"
        subprocess.run(
            [syft, "scan", f"registry:{address}/{repo}:{tag}", "-o", "json", "-q"],
            env=syft_env,
            capture_output=True,
            check=True,
        )
    return (time.perf_counter() - started) / samples


def row(name: str, value: str, goal: str = "", verdict: str = "") -> None:
    print(f"| {name:<58} | {value:>14} | {goal:>10} | {verdict:<4} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rows-images", type=int, default=10_000)
    parser.add_argument("--rows-packages", type=int, default=500)
    parser.add_argument("--syft-samples", type=int, default=10)
    parser.add_argument("--only-affected", action="store_true", help="Only the synthetic 'fleet affected' rows.")
    parser.add_argument("--only-sync", action="store_true", help="Only the syncs (and what needs their stores).")
    args = parser.parse_args()
    if args.only_affected:
        affected_only(args)
        return

    from integration.registry_server import start_registry
    from support.postgres import running_postgres

    work = Path(tempfile.mkdtemp(prefix="chainwarden-bench-fleet-"))
    registry = start_registry(work / "registry")
    results: dict[str, Any] = {"load": os.getloadavg()[0]}
    try:
        results["push"] = push_fleet(registry.address, args.images)
        db = advisory_db(work, new=False)
        env = {**os.environ, "DOCKER_CONFIG": str(work / "docker")}
        target = f"{registry.address}/bench/*"
        sqlite_url = str(work / "fleet.sqlite3")
        env["CHAINWARDEN_CACHE_DIR"] = str(work / "cache-sqlite")
        meter = CpuMeter(registry.process.pid)
        results["sync_sqlite"], _ = timed(
            [*CHAINWARDEN, "fleet", "sync", target, "--store", sqlite_url, "--db", str(db), "--format", "json"], env
        )
        results["cpu_sqlite"] = meter.stop()
        again, _ = timed([*CHAINWARDEN, "fleet", "sync", target, "--store", sqlite_url, "--format", "json"], env)
        results["resync"] = again
        results["size_sqlite"] = store_size(sqlite_url)
        new_db = advisory_db(work, new=True)
        results["rematch_sqlite"] = rematch_time(sqlite_url, new_db)
        with running_postgres() as cluster:
            for workers in (1, 2):
                url = cluster.create_database(f"bench_{workers}_{uuid.uuid4().hex[:6]}")
                env["CHAINWARDEN_CACHE_DIR"] = str(work / f"cache-pg{workers}")
                # workers are long-running services: their start and the store's creation are not the sync's time
                timed([*CHAINWARDEN, "fleet", "images", "--store", url, "--format", "json"], env)
                processes = start_workers(url, workers, env, work)
                time.sleep(3)
                meter = CpuMeter(registry.process.pid, postmaster_pid(cluster))
                try:
                    results[f"sync_pg{workers}"], _ = timed(
                        [*CHAINWARDEN, "fleet", "sync", target, "--store", url, "--db", str(db), "--queue",
                         "--format", "json"],
                        env,
                    )  # fmt: skip
                finally:
                    stop(processes)
                results[f"cpu_pg{workers}"] = meter.stop()
                if workers == 2:
                    results["size_pg"] = store_size(url)
                    results["rematch_pg"] = rematch_time(url, new_db)
            if not args.only_sync:
                synthetic_pg = cluster.create_database(f"synthetic_{uuid.uuid4().hex[:6]}")
                started = time.perf_counter()
                fill_synthetic(synthetic_pg, args.rows_images, args.rows_packages)
                results["fill_pg"] = time.perf_counter() - started
                results["affected_pg"] = affected_ms(synthetic_pg)
        if not args.only_sync:
            synthetic_sqlite = str(work / "synthetic.sqlite3")
            started = time.perf_counter()
            fill_synthetic(synthetic_sqlite, args.rows_images, args.rows_packages)
            results["fill_sqlite"] = time.perf_counter() - started
            results["affected_sqlite"] = affected_ms(synthetic_sqlite)
            results["syft"] = syft_per_image(registry.address, args.syft_samples, env)
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(args, results)


def affected_only(args: argparse.Namespace) -> None:
    from support.postgres import running_postgres

    work = Path(tempfile.mkdtemp(prefix="chainwarden-bench-fleet-"))
    try:
        synthetic_sqlite = str(work / "synthetic.sqlite3")
        fill_synthetic(synthetic_sqlite, args.rows_images, args.rows_packages)
        results = {"SQLite": affected_ms(synthetic_sqlite)}
        with running_postgres() as cluster:
            synthetic_pg = cluster.create_database(f"synthetic_{uuid.uuid4().hex[:6]}")
            fill_synthetic(synthetic_pg, args.rows_images, args.rows_packages)
            results["PostgreSQL"] = affected_ms(synthetic_pg)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows_label = f"{args.rows_images:,} images × {args.rows_packages} packages"
    for label, (ms, found) in results.items():
        row(f"affected {TARGET_CVE}, {label}, {rows_label} ({found} rows)", f"{ms:.1f} ms", "< 50 ms",
            "yes" if ms < GOALS["affected_ms"] else "NO")  # fmt: skip


def report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    n = args.images
    print(
        f"\nfleet: {n} images on {BASES} shared bases in docker-registry on 127.0.0.1 (pushed in {r['push']:.1f} s); "
        f"{os.cpu_count()} CPUs, load average {r['load']:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n"
    )
    print(f"| {'measure':<58} | {'value':>14} | {'goal':>10} | {'ok':<4} |")
    print(f"|{'-' * 60}|{'-' * 16}|{'-' * 12}|{'-' * 6}|")

    def rate(seconds: float) -> float:
        return float(n / seconds)

    for key, label in (
        ("sqlite", "sync, SQLite, in-process"),
        ("pg1", "sync, PostgreSQL, 1 worker"),
        ("pg2", "sync, PostgreSQL, 2 workers"),
    ):
        seconds = r[f"sync_{key}"]
        value = rate(seconds)
        row(f"{label} ({seconds:.1f} s)", f"{value:.1f} img/s", "≥ 20", "yes" if value >= GOALS["sync"] else "NO")
        cpu = r[f"cpu_{key}"]
        parts = ", ".join(f"{name} {cpu[name] / n * 1000:.1f}" for name in ("chainwarden", "postgres", "registry")
                          if name in cpu)  # fmt: skip
        row(f"  CPU ms per image: {parts}", f"{sum(cpu.values()) / n * 1000:.1f} ms")
    row("sync again, nothing new (tags listed, no scan)", f"{r['resync']:.2f} s")
    for key, label in (("rematch_sqlite", "SQLite"), ("rematch_pg", "PostgreSQL")):
        seconds, new = r[key]
        row(f"rematch after 1 new advisory, {label} ({new} new findings)", f"{seconds * 1000:.0f} ms", "< 1 s",
            "yes" if seconds < GOALS["rematch"] else "NO")  # fmt: skip
    row("store size per image, SQLite", f"{r['size_sqlite'] / n / 1024:.1f} KiB")
    row("store size per image, PostgreSQL (with job table)", f"{r['size_pg'] / n / 1024:.1f} KiB")
    if args.only_sync:
        return
    rows_label = f"{args.rows_images:,} images × {args.rows_packages} packages"
    for key, label in (("affected_sqlite", "SQLite"), ("affected_pg", "PostgreSQL")):
        ms, found = r[key]
        row(f"affected {TARGET_CVE}, {label}, {rows_label} ({found} rows)", f"{ms:.1f} ms", "< 50 ms",
            "yes" if ms < GOALS["affected_ms"] else "NO")  # fmt: skip
    row(f"(synthetic fill: SQLite {r['fill_sqlite']:.0f} s, PostgreSQL {r['fill_pg']:.0f} s)", "")
    if r["syft"] is None:
        row("peer: syft per image (not installed: pip install .[bench])", "-")
    else:
        row(f"peer: syft, per image ({args.syft_samples} samples)", f"{r['syft']:.2f} s")
        row(f"peer: syft, rescanning {n} images to answer one query", f"{r['syft'] * n:.0f} s")


if __name__ == "__main__":
    main()
