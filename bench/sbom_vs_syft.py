"""chainwarden sbom vs syft on the same real image, in the same run.

    .venv/bin/python bench/sbom_vs_syft.py            # builds bench/out/bench-image once (root), then compares
    .venv/bin/python bench/sbom_vs_syft.py --image DIR  # any OCI layout

Prints packages per ecosystem found by each tool, every difference by name
(with syft's cataloger and location, so it can be explained), wall time and
peak RSS of each child process, the floor (inflating every layer with zcat and
with python-isal), a second chainwarden run on the warm per-layer cache, and
the ratios against the goals of issue 2 (≤ 0.25× syft's wall time, ≤ 0.5× its
RSS, warm rerun < 0.5 s). Raw outputs land in bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from packaging.utils import canonicalize_name  # noqa: E402
from tasks.imagebuild import flavours  # noqa: E402

OUT = REPO / "bench" / "out"
VENV_BIN = REPO / ".venv" / "bin"
ECOSYSTEMS = ("deb", "python", "npm")
#: chainwarden's ecosystem values (purl types) → the names syft uses
CHAINWARDEN_ECOSYSTEM = {"deb": "deb", "pypi": "python", "npm": "npm"}
GOAL_WALL = 0.25
GOAL_RSS = 0.5
GOAL_WARM_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Measured:
    label: str
    argv: tuple[str, ...]
    seconds: float
    max_rss_mb: float
    returncode: int


@dataclass(frozen=True, slots=True)
class Found:
    """One package as a tool reports it, reduced to what both tools share."""

    ecosystem: str
    name: str
    version: str
    cataloger: str
    location: str


def measure(label: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path) -> Measured:
    """Wall time and peak RSS (``wait4`` rusage) of one child process."""
    with log.open("wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(label, tuple(argv), seconds, usage.ru_maxrss / 1024, process.returncode)


def layer_blobs(layout: Path) -> list[Path]:
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest[7:]).read_text())
    return [layout / "blobs" / "sha256" / layer["digest"][7:] for layer in manifest["layers"]]


def inflate_with_isal(blobs: Sequence[Path]) -> tuple[float, int]:
    from isal import igzip

    start = time.perf_counter()
    total = 0
    for blob in blobs:
        with igzip.open(blob, "rb") as stream:  # type: ignore[no-untyped-call]
            while chunk := stream.read(1 << 20):
                total += len(chunk)
    return time.perf_counter() - start, total


def chainwarden_packages(report: dict[str, Any]) -> list[Found]:
    found = []
    for package in report.get("packages", []):
        ecosystem = CHAINWARDEN_ECOSYSTEM.get(package.get("ecosystem", ""), package.get("ecosystem", "?"))
        name = package["name"]
        if ecosystem == "python":
            name = canonicalize_name(name)
        locations = package.get("locations") or [{}]
        found.append(
            Found(
                ecosystem, name, package.get("version", ""), package.get("found_by", ""), locations[0].get("path") or ""
            )
        )
    return found


def syft_packages(report: dict[str, Any]) -> list[Found]:
    found = []
    for artifact in report.get("artifacts", []):
        ecosystem = artifact.get("type", "?")
        name = artifact["name"]
        if ecosystem == "python":
            name = canonicalize_name(name)
        locations = artifact.get("locations") or [{}]
        primary = [loc for loc in locations if (loc.get("annotations") or {}).get("evidence") == "primary"]
        locations = primary or locations
        found.append(
            Found(
                ecosystem,
                name,
                artifact.get("version", ""),
                artifact.get("foundBy", ""),
                locations[0].get("path") or "",
            )
        )
    return found


def differences(ours: list[Found], theirs: list[Found]) -> dict[str, tuple[list[Found], list[Found]]]:
    """Per ecosystem: (in syft only, in chainwarden only).

    Copies are paired on name, version and location first (so a second copy of
    lodash elsewhere is reported, not hidden by the first), then on name and
    version alone (for tools that name the same package by different files).
    """
    result: dict[str, tuple[list[Found], list[Found]]] = {}
    for ecosystem in ECOSYSTEMS:
        mine = [f for f in ours if f.ecosystem == ecosystem]
        other = [f for f in theirs if f.ecosystem == ecosystem]
        for key in (lambda f: (f.name, f.version, f.location), lambda f: (f.name, f.version)):
            mine, other = _unpaired(mine, other, key), _unpaired(other, mine, key)
        result[ecosystem] = (sorted(other, key=_order), sorted(mine, key=_order))
    return result


def _order(found: Found) -> tuple[str, str, str]:
    return (found.name, found.version, found.location)


def _unpaired(items: list[Found], others: list[Found], key: Callable[[Found], tuple[str, ...]]) -> list[Found]:
    available = Counter(key(f) for f in others)
    left = []
    for item in items:
        if available[key(item)] > 0:
            available[key(item)] -= 1
        else:
            left.append(item)
    return left


def _row(cells: Sequence[object], widths: Sequence[int]) -> str:
    return "  ".join(
        str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def render(
    image: Path,
    blobs: list[Path],
    ours: list[Found],
    theirs: list[Found],
    runs: dict[str, Measured],
    floor: dict[str, float],
    inflated_bytes: int,
    *,
    limit: int | None = None,
) -> str:
    lines = [
        f"image: oci:{image}  ({len(blobs)} layers, {sum(b.stat().st_size for b in blobs) / 1e6:.0f} MB gzip,"
        f" {inflated_bytes / 1e6:.0f} MB tar)",
        "",
    ]
    widths = [34, 12, 8]
    lines.append(_row(["packages", "chainwarden", "syft"], widths))
    for ecosystem in ECOSYSTEMS:
        lines.append(
            _row(
                [ecosystem, sum(f.ecosystem == ecosystem for f in ours), sum(f.ecosystem == ecosystem for f in theirs)],
                widths,
            )
        )
    other_ours = Counter(f.ecosystem for f in ours if f.ecosystem not in ECOSYSTEMS)
    other_theirs = Counter(f.ecosystem for f in theirs if f.ecosystem not in ECOSYSTEMS)
    lines.append(_row(["other types", sum(other_ours.values()), sum(other_theirs.values())], widths))
    if other_theirs:
        lines.append("  syft other types: " + ", ".join(f"{k}={v}" for k, v in sorted(other_theirs.items())))
    catalogers = Counter((f.ecosystem, f.cataloger) for f in theirs if f.ecosystem in ECOSYSTEMS)
    lines.append("  syft catalogers: " + ", ".join(f"{e}:{c}={n}" for (e, c), n in sorted(catalogers.items())))
    catalogers = Counter((f.ecosystem, f.cataloger) for f in ours)
    lines.append("  chainwarden catalogers: " + ", ".join(f"{e}:{c}={n}" for (e, c), n in sorted(catalogers.items())))
    lines.append("")

    widths = [34, 10, 10, 10]
    lines.append(_row(["run", "wall s", "peak MB", "exit"], widths))
    for key in ("zcat", "isal", "chainwarden-cold", "chainwarden-warm", "syft"):
        if key in runs:
            run = runs[key]
            lines.append(_row([run.label, f"{run.seconds:.2f}", f"{run.max_rss_mb:.0f}", run.returncode], widths))
        elif key in floor:
            lines.append(_row([f"floor: inflate layers ({key}, in-process)", f"{floor[key]:.2f}", "-", "-"], widths))
    lines.append("")
    cold, warm, syft = runs.get("chainwarden-cold"), runs.get("chainwarden-warm"), runs.get("syft")
    if cold and syft:
        wall = cold.seconds / syft.seconds
        rss = cold.max_rss_mb / syft.max_rss_mb
        lines.append(
            f"wall time ratio chainwarden/syft: {wall:.3f}  (goal ≤ {GOAL_WALL}: {_verdict(wall <= GOAL_WALL)})"
        )
        lines.append(f"peak RSS ratio chainwarden/syft:  {rss:.3f}  (goal ≤ {GOAL_RSS}: {_verdict(rss <= GOAL_RSS)})")
    if warm:
        ok = warm.seconds < GOAL_WARM_SECONDS
        lines.append(
            f"warm-cache rerun: {warm.seconds:.2f} s  (goal < {GOAL_WARM_SECONDS} s: {'met' if ok else 'NOT met'})"
        )
    lines.append("")

    for ecosystem, (syft_only, ours_only) in differences(ours, theirs).items():
        lines.append(f"{ecosystem}: {len(syft_only)} only in syft, {len(ours_only)} only in chainwarden")
        for side, items in (("syft only", syft_only), ("chainwarden only", ours_only)):
            places = Counter(place_of(item.location) for item in items)
            for place, count in places.most_common():
                lines.append(f"    {side:<17} {count:5d} under {place}")
        shown = 0
        for sign, side, items in (("-", "syft only", syft_only), ("+", "chainwarden only", ours_only)):
            for item in items:
                if limit is not None and shown >= limit:
                    break
                lines.append(f"  {sign} {side:<17} {item.name}@{item.version}  [{item.cataloger}] {item.location}")
                shown += 1
        if limit is not None and len(syft_only) + len(ours_only) > shown:
            lines.append(f"  … {len(syft_only) + len(ours_only) - shown} more in the saved report")
    return "\n".join(lines) + "\n"


def place_of(location: str) -> str:
    """Where a package record lives, coarsely: the directory holding node_modules or site-packages, or a prefix."""
    for marker in ("/node_modules/", "/site-packages/", "/dist-packages/"):
        if marker in location:
            return location.split(marker, 1)[0] + marker.rstrip("/")
    parts = location.split("/")
    return "/".join(parts[:4]) if len(parts) > 4 else location


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--image", type=Path, help="an existing OCI layout (default: build/reuse the bench image)")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "build-image", help="image builder cache")
    parser.add_argument("--out", type=Path, default=OUT, help="where raw outputs go")
    parser.add_argument("--list", type=int, default=60, help="differences listed on stdout (all are saved)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    image: Path = args.image or out / "bench-image"
    if args.image is None:
        result = flavours.build("bench", image, args.cache.resolve(), lambda m: print(m, file=sys.stderr, flush=True))
        if not result.reused:
            print(f"built bench image in {result.seconds:.0f} s", file=sys.stderr)
    blobs = layer_blobs(image)

    chainwarden = shutil.which("chainwarden", path=str(VENV_BIN)) or "chainwarden"
    syft = shutil.which("syft", path=str(VENV_BIN)) or "syft"
    runs: dict[str, Measured] = {}
    runs["zcat"] = measure(
        "floor: zcat every layer", ["sh", "-c", 'zcat "$@" > /dev/null', "zcat", *map(str, blobs)], log=out / "zcat.log"
    )
    isal_seconds, inflated = inflate_with_isal(blobs)
    floor = {"isal": isal_seconds}

    with tempfile.TemporaryDirectory(prefix="chainwarden-bench-cache-") as cache_dir:
        env = {**os.environ, "CHAINWARDEN_CACHE_DIR": cache_dir}
        for key, label in (
            ("chainwarden-cold", "chainwarden sbom (cold cache)"),
            ("chainwarden-warm", "chainwarden sbom (warm cache)"),
        ):
            runs[key] = measure(
                label,
                [
                    chainwarden,
                    "sbom",
                    f"oci:{image}",
                    "--format",
                    "json",
                    "--cache-dir",
                    cache_dir,
                    "-o",
                    str(out / f"{key}.json"),
                ],
                env=env,
                log=out / f"{key}.log",
            )
    syft_env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    runs["syft"] = measure(
        "syft scan",
        [syft, "scan", f"oci-dir:{image}", "-o", f"syft-json={out / 'syft.json'}", "-q"],
        env=syft_env,
        log=out / "syft.log",
    )

    failed = [run for run in runs.values() if run.returncode != 0]
    for run in failed:
        tail = (out / f"{next(k for k, v in runs.items() if v is run)}.log").read_text(errors="replace")[-2000:]
        print(f"{run.label} failed (exit {run.returncode}):\n{tail}", file=sys.stderr)

    ours = (
        chainwarden_packages(json.loads((out / "chainwarden-cold.json").read_text()))
        if (out / "chainwarden-cold.json").is_file() and runs["chainwarden-cold"].returncode == 0
        else []
    )
    theirs = syft_packages(json.loads((out / "syft.json").read_text())) if runs["syft"].returncode == 0 else []
    (out / "sbom_vs_syft.txt").write_text(render(image, blobs, ours, theirs, runs, floor, inflated))
    table = render(image, blobs, ours, theirs, runs, floor, inflated, limit=args.list)
    (out / "sbom_vs_syft.json").write_text(
        json.dumps(
            {
                "image": str(image),
                "runs": {
                    k: {"seconds": v.seconds, "max_rss_mb": v.max_rss_mb, "exit": v.returncode} for k, v in runs.items()
                },
                "floor_isal_seconds": isal_seconds,
                "differences": {
                    eco: {"syft_only": [vars_of(f) for f in s], "chainwarden_only": [vars_of(f) for f in c]}
                    for eco, (s, c) in differences(ours, theirs).items()
                },
            },
            indent=2,
        )
    )
    print(table)
    return 1 if failed else 0


def vars_of(found: Found) -> dict[str, str]:
    return {"name": found.name, "version": found.version, "cataloger": found.cataloger, "location": found.location}


if __name__ == "__main__":
    sys.exit(main())
