"""A full-size vulnerability database: import, incremental update and scan, at OSV's real scale.

    .venv/bin/python bench/db_scale.py [--records 400000] [--changed 0.01] [--packages 2000]

OSV's PyPI + npm (with the OpenSSF ``MAL-`` malicious-package records) + Debian
exports hold well over 300,000 records. This writes archives of that shape to
bench/out/osv-scale/ — one ``all.zip`` per ecosystem, one JSON record per
member, as OSV publishes them — with a fixed seed:

* Debian (45 %): ``DEBIAN-CVE-…`` records with one affected entry per release
  (Debian:11/12/13, ECOSYSTEM ranges fixed at a Debian version), a few
  ``DSA-``/``DLA-`` advisories naming several CVEs and listing versions;
* npm (40 %): mostly ``MAL-`` records (``introduced: 0``), the rest ``GHSA-``
  records with SEMVER ranges, CVSS vectors and reference lists;
* PyPI (15 %): ``PYSEC-``/``GHSA-`` records with ECOSYSTEM ranges and the
  enumerated ``versions`` list OSV adds, plus ``MAL-`` records.

Details texts, references and version counts follow the sizes of real records
(the PyPA database records average ~1 KB of details). Then it serves the
archives on 127.0.0.1 and measures, with the real CLI: ``db update`` into an
empty database (the first full import), ``db update`` again after
``--changed`` of the records were modified and a few added (OSV's daily
churn), the database size, and ``scan`` of a 2,000-package inventory. Goals
(issue 10): import < 60 s, database < 600 MB, incremental update < 10 s.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "osv-scale"
CHAINWARDEN = REPO / ".venv" / "bin" / "chainwarden"
GOALS = {"import": 60.0, "size_mb": 600.0, "update": 10.0}
_WORDS = tuple(
    [
        "allows",
        "remote",
        "attackers",
        "to",
        "execute",
        "arbitrary",
        "code",
        "via",
        "crafted",
        "input",
        "in",
        "the",
        "parser",
        "when",
        "handling",
        "untrusted",
        "data",
        "a",
        "denial",
        "of",
        "service",
        "memory",
        "exhaustion",
        "infinite",
        "loop",
        "cross",
        "site",
        "scripting",
        "request",
        "smuggling",
        "path",
        "traversal",
        "prototype",
        "pollution",
        "deserialization",
        "of",
        "untrusted",
        "data",
        "improper",
        "validation",
        "of",
        "certificate",
        "leading",
        "to",
        "information",
        "disclosure",
        "through",
        "the",
        "logging",
        "of",
        "sensitive",
        "headers",
    ]
)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _semver(rng: random.Random) -> str:
    return f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"


def _refs(rng: random.Random, vuln_id: str, count: int) -> list[dict[str, str]]:
    kinds = ("ADVISORY", "WEB", "FIX", "PACKAGE", "REPORT")
    return [
        {"type": kinds[n % len(kinds)], "url": f"https://example.org/advisories/{vuln_id}/{n}/{rng.randint(0, 10**9)}"}
        for n in range(count)
    ]


def _modified(rng: random.Random) -> str:
    return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"


def debian_record(rng: random.Random, number: int) -> dict[str, Any]:
    cve = f"CVE-{2014 + number % 12}-{10000 + number}"
    source = f"src{number % 9000}"
    if number % 25 == 0:
        vuln_id, aliases = f"DSA-{5000 + number // 25}-1", [cve, f"CVE-{2014 + number % 12}-{90000 + number}"]
        affected = [
            {
                "package": {"ecosystem": "Debian:12", "name": source},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f"1.{number % 40}-2"}]}],
                "versions": [f"1.{n}-1" for n in range(number % 40)],
            }
        ]
    else:
        vuln_id, aliases = f"DEBIAN-{cve}", [cve]
        affected = [
            {
                "package": {"ecosystem": f"Debian:{release}", "name": source},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f"{number % 7}.{release}-1+deb"}]}
                ],
            }
            for release in (11, 12, 13)
        ]
    return {
        "id": vuln_id,
        "modified": _modified(rng),
        "published": "2024-01-01T00:00:00Z",
        "summary": _text(rng, 8),
        "details": _text(rng, 40),
        "aliases": aliases,
        "affected": affected,
        "references": _refs(rng, vuln_id, 2),
    }


def npm_record(rng: random.Random, number: int) -> dict[str, Any]:
    name = f"pkg-{number % 60000}" if number % 3 else f"@scope{number % 50}/pkg-{number}"
    if number % 8:
        vuln_id = f"MAL-2025-{number}"
        return {
            "id": vuln_id,
            "modified": _modified(rng),
            "published": "2025-01-01T00:00:00Z",
            "summary": f"Malicious code in {name} (npm)",
            "details": "\n---\n_-= Per source details. Do not edit below this line.=-_\n",
            "affected": [
                {
                    "package": {"ecosystem": "npm", "name": name},
                    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}],
                    "database_specific": {"source": "https://example.org/analysis"},
                }
            ],
            "database_specific": {
                "malicious-packages-origins": [{"source": "ossf-package-analysis", "sha256": f"{number:064x}"}]
            },
        }
    vuln_id = f"GHSA-{number:04x}-bnch-{number % 10000:04d}"
    fixed = _semver(rng)
    return {
        "id": vuln_id,
        "modified": _modified(rng),
        "published": "2023-05-01T00:00:00Z",
        "summary": _text(rng, 9),
        "details": _text(rng, 150),
        "aliases": [f"CVE-2023-{number}"],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": name, "purl": f"pkg:npm/{name}"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                "database_specific": {"source": "https://github.com/github/advisory-database"},
            }
        ],
        "references": _refs(rng, vuln_id, 6),
        "database_specific": {"cwe_ids": ["CWE-79"], "severity": "HIGH", "github_reviewed": True},
    }


def pypi_record(rng: random.Random, number: int) -> dict[str, Any]:
    name = f"project-{number % 8000}"
    if number % 3 == 0:
        vuln_id = f"MAL-2024-{number}"
        return {
            "id": vuln_id,
            "modified": _modified(rng),
            "summary": f"Malicious code in {name} (PyPI)",
            "details": "\n---\n_-= Per source details. Do not edit below this line.=-_\n",
            "affected": [{"package": {"ecosystem": "PyPI", "name": name}, "versions": ["0.1", "0.2", "1.0"]}],
        }
    vuln_id = f"PYSEC-2024-{number}"
    major = rng.randint(1, 6)
    versions = [f"{major}.{minor}.{patch}" for minor in range(6) for patch in range(rng.randint(1, 8))]
    return {
        "id": vuln_id,
        "modified": _modified(rng),
        "published": "2024-02-01T00:00:00Z",
        "details": _text(rng, 160),
        "aliases": [f"CVE-2024-{number}", f"GHSA-{number:04x}-pypi-bnch"],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f"{major}.6.0"}]}],
                "versions": versions,
            }
        ],
        "references": _refs(rng, vuln_id, 4),
    }


SHARES = (("Debian", 0.45, debian_record), ("npm", 0.40, npm_record), ("PyPI", 0.15, pypi_record))


def records(ecosystem: str, count: int, seed: int) -> Iterator[dict[str, Any]]:
    make = next(maker for name, _, maker in SHARES if name == ecosystem)
    rng = random.Random(f"{seed}-{ecosystem}")
    for number in range(1, count + 1):
        yield make(rng, number)


def write_archives(dest: Path, total: int, seed: int, *, changed: float = 0.0, added: int = 0) -> dict[str, int]:
    """One all.zip per ecosystem; ``changed`` of the records get a newer ``modified`` and details."""
    dest.mkdir(parents=True, exist_ok=True)
    counts = {}
    churn = random.Random(f"{seed}-churn")
    for ecosystem, share, _ in SHARES:
        count = int(total * share)
        (dest / ecosystem).mkdir(exist_ok=True)
        with zipfile.ZipFile(dest / ecosystem / "all.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for record in records(ecosystem, count + added, seed):
                if churn.random() < changed:
                    record["modified"] = "2026-12-01T00:00:00Z"
                    record["details"] = record.get("details", "") + " Updated."
                archive.writestr(f"{record['id']}.json", json.dumps(record, indent=2))
        counts[ecosystem] = count + added
    return counts


def _cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen([str(CHAINWARDEN), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"chainwarden {' '.join(args)} failed ({code}): {stderr.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _inventory_project(dest: Path, packages: int, seed: int) -> Path:
    """A project whose lockfiles pin ``packages`` packages, some of them in the generated records."""
    rng = random.Random(seed)
    dest.mkdir(parents=True, exist_ok=True)
    lines = [f"project-{rng.randint(0, 7999)}=={rng.randint(1, 6)}.{rng.randint(0, 7)}.0" for _ in range(packages // 2)]
    (dest / "requirements.txt").write_text("\n".join(sorted(set(lines))) + "\n")
    lock: dict[str, Any] = {"name": "bench", "lockfileVersion": 3, "packages": {"": {"name": "bench"}}}
    for _ in range(packages // 2):
        name = f"pkg-{rng.randint(0, 59999)}"
        lock["packages"][f"node_modules/{name}"] = {"version": _semver(rng)}
    (dest / "package-lock.json").write_text(json.dumps(lock))
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of records modified for the update")
    parser.add_argument("--added", type=int, default=500, help="new records per ecosystem for the update")
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chainwarden-db-scale-"))
    try:
        first, second = OUT / "day1", OUT / "day2"
        started = time.perf_counter()
        stamp, wanted = OUT / "stamp.json", [args.records, args.seed, args.changed, args.added]
        if stamp.exists() and json.loads(stamp.read_text())["parameters"] == wanted:
            counts = json.loads(stamp.read_text())["counts"]  # the same archives as last time
        else:
            counts = write_archives(first, args.records, args.seed)
            write_archives(second, args.records, args.seed, changed=args.changed, added=args.added)
            stamp.write_text(json.dumps({"parameters": wanted, "counts": counts}))
        print(f"archives: {sum(counts.values()):,} records {counts} ready in {time.perf_counter() - started:.0f} s")
        db = work / "osv.sqlite3"
        env = {**os.environ, "NO_COLOR": "1", "CHAINWARDEN_CACHE_DIR": str(work / "cache")}
        rows: list[tuple[str, str, str]] = []
        # one server, one URL (a source is known by its URL): the export it serves changes overnight
        served = work / "served"
        server, url = _serve(work)
        try:
            for label, root in (("db update: first, full", first), ("db update: next day, incremental", second)):
                served.unlink(missing_ok=True)
                served.symlink_to(root)
                wall, cpu = _cli(["db", "update", "--db", str(db), "--url-base", f"{url}/served"], env)
                goal = GOALS["import"] if "first" in label else GOALS["update"]
                verdict = "PASS" if wall < goal else f"FAIL (< {goal:.0f} s)"
                rows.append((label, f"{wall:.1f} s wall, {cpu:.1f} s CPU", verdict))
        finally:
            server.shutdown()
        size_mb = db.stat().st_size / 1e6
        rows.append(("database size", f"{size_mb:.0f} MB", "PASS" if size_mb < GOALS["size_mb"] else "FAIL"))
        project = _inventory_project(work / "project", args.packages, args.seed)
        wall, cpu = _cli(["scan", str(project), "--db", str(db), "-f", "json", "-o", str(work / "scan.json")], env)
        findings = json.loads((work / "scan.json").read_text())["findings"]
        malicious = sum(f["rule_id"] == "known-malicious-package" for f in findings)
        rows.append((f"scan {args.packages:,} packages", f"{wall:.2f} s wall, {cpu:.2f} s CPU", ""))
        rows.append(("  findings (known malicious)", f"{len(findings)} ({malicious})", ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measure':<{width}}  {'value':>26}  goal")
    for label, value, verdict in rows:
        print(f"{label:<{width}}  {value:>26}  {verdict}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    return 0 if all(not verdict.startswith("FAIL") for _, _, verdict in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
