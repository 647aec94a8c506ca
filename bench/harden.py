"""Harden the realistic ``app`` image and print before → after.

    .venv/bin/python tasks/build_image.py --flavour app --out bench/out/app-image
    .venv/bin/python bench/harden.py [--image bench/out/app-image] [--db osv.sqlite3]

Profiles the app with its real requests (GET /health, GET /render?name=…, plus
the node script), hardens at package granularity, verifies every probe in the
hardened image, and prints packages/files/MB before and after per ecosystem,
vulnerabilities before and after (with ``--db``, the default database when it
exists, or else the PyPA advisory snapshot in ../shared/data imported into a
temporary database), and the tracing overhead: the same probes run traced and
untraced, alternately, ``--repeat`` times each (medians per probe).
Goal from issue 6: at least 8x fewer packages with every probe passing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chainwarden.runtime.harden import HardenOptions, HardenReport, harden_target
from chainwarden.runtime.profile import ProbeSpec, Profile, ProfileOptions, prepared_rootfs, profile_target, run_probes

PROBES = [
    ProbeSpec("command", ("node", "/opt/app/hello.js")),
    ProbeSpec("command", ("python3", "-c", "import jinja2, markupsafe; print(jinja2.__version__)")),
    ProbeSpec("http", None, (("GET", "/health"), ("GET", "/render?name=bench")), 8080),
]
GOAL_RATIO = 8.0
PYPA_SNAPSHOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "pypa-advisory-database"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--image", type=Path, default=Path("bench/out/app-image"))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the probes for the tracing overhead")
    parser.add_argument("--db", type=Path, default=None, help="vulnerability database (default: see above)")
    parser.add_argument("--granularity", choices=("package", "file"), default="package")
    parser.add_argument("--keep", type=Path, default=None, help="also write the hardened image here (oci layout)")
    args = parser.parse_args()
    if not (args.image / "index.json").is_file():
        print(f"{args.image}: no image; build it with tasks/build_image.py --flavour app --out {args.image}")
        return 2
    target = f"oci:{args.image}"
    options = ProfileOptions(timeout=args.timeout)

    with tempfile.TemporaryDirectory(prefix="bench-harden-") as tmp:
        db_path, db_note = _database(args.db, Path(tmp))
        started = time.monotonic()
        profile = profile_target(target, PROBES, options)
        profile_seconds = time.monotonic() - started
        failed = _failed_probes(profile)
        if failed:
            print(f"probes failed in the original image: {', '.join(failed)}")
            return 1
        out = args.keep or Path(tmp) / "hardened"
        started = time.monotonic()
        report = harden_target(
            target,
            profile,
            f"oci:{out}",
            HardenOptions(granularity=args.granularity, timeout=args.timeout, vuln_db=db_path),
        )
        harden_seconds = time.monotonic() - started
        timings = _tracing_times(target, options, args.repeat)

    print(report.render())
    print()
    used = sum(1 for p in profile.packages if p.used)
    _print_table(report, profile, used, db_note)
    print(f"{'profile wall time (s)':<30} {profile_seconds:>10.1f}")
    print(f"{'harden + verify wall time (s)':<30} {harden_seconds:>10.1f}")
    print(f"tracing overhead (median of {args.repeat} runs each, traced / untraced):")
    for label, traced, untraced in timings:
        print(f"  {label:<42} {traced:>6.2f} s / {untraced:>5.2f} s = {traced / max(untraced, 1e-6):.2f}x")
    total_traced, total_untraced = sum(t for _, t, _ in timings), sum(u for _, _, u in timings)
    print(
        f"  {'all probes':<42} {total_traced:>6.2f} s / {total_untraced:>5.2f} s = {total_traced / total_untraced:.2f}x"
    )
    before, after = sum(report.before.packages.values()), sum(report.after.packages.values())
    ratio = before / max(after, 1)
    if ratio < GOAL_RATIO:
        print(
            f"goal not met: {ratio:.1f}x < {GOAL_RATIO:.0f}x. The probes used {used} of {before} packages, so "
            f"{before / max(used, 1):.1f}x is the most any hardening can reach on this image without "
            "removing a package the app used."
        )
    return 0 if ratio >= GOAL_RATIO and len(report.verified) == len(profile.probes) else 1


def _print_table(report: HardenReport, profile: Profile, used: int, db_note: str) -> None:
    print(f"{'metric':<30} {'before':>10} {'after':>10} {'ratio':>8}")
    ecosystems = sorted(set(report.before.packages) | set(report.after.packages))
    summary = profile.summary()
    for ecosystem in ecosystems:
        old, new = report.before.packages.get(ecosystem, 0), report.after.packages.get(ecosystem, 0)
        touched = summary.get(ecosystem, {}).get("used", 0)
        print(f"{ecosystem + ' packages':<30} {old:>10} {new:>10} {_ratio(old, new):>8}  (probes used {touched})")
    before, after = sum(report.before.packages.values()), sum(report.after.packages.values())
    print(f"{'packages (all)':<30} {before:>10} {after:>10} {_ratio(before, after):>8}  (probes used {used})")
    files_before, files_after = report.before.files, report.after.files
    print(f"{'files':<30} {files_before:>10} {files_after:>10} {_ratio(files_before, files_after):>8}")
    mb_before, mb_after = report.before.bytes / 1e6, report.after.bytes / 1e6
    print(f"{'MB':<30} {mb_before:>10.1f} {mb_after:>10.1f} {_ratio(mb_before, mb_after):>8}")
    vulns = report.vulnerabilities
    if vulns is not None:
        print(
            f"{'vulnerabilities':<30} {vulns.total_before:>10} {vulns.total_after:>10} "
            f"{_ratio(vulns.total_before, vulns.total_after):>8}  ({db_note})"
        )
    else:
        print(f"{'vulnerabilities':<30} {'-':>10} {'-':>10}  ({db_note or 'no database'})")
    print(f"{'probes verified':<30} {len(report.verified):>10} / {len(profile.probes)}")


def _ratio(before: float, after: float) -> str:
    return f"{before / after:.1f}x" if after else "-"


def _failed_probes(profile: Profile) -> list[str]:
    failed = []
    for probe in profile.probes:
        if probe.spec.kind == "command" and probe.exit_code != 0:
            failed.append(f"{probe.name} exit {probe.exit_code}")
        failed += [f"{probe.name} {r.method} {r.path} → {r.status}" for r in probe.http if r.status != 200]
    return failed


def _database(given: Path | None, tmp: Path) -> tuple[Path | None, str]:
    """The database to compare vulnerabilities with, and a note saying what it holds."""
    from chainwarden.vulndb import default_db_path, import_osv

    if given is not None:
        return given, str(given)
    default = default_db_path()
    if default.is_file():
        return default, str(default)
    if (PYPA_SNAPSHOT / "vulns").is_dir():
        path = tmp / "osv.sqlite3"
        import_osv([PYPA_SNAPSHOT / "vulns"], path)
        return path, "PyPI advisories only: PyPA advisory-database snapshot"
    return tmp / "absent.sqlite3", "no vulnerability database"


def _tracing_times(target: str, options: ProfileOptions, repeat: int) -> list[tuple[str, float, float]]:
    """Per probe: (label, median seconds traced, median seconds untraced) over ``repeat`` alternating runs."""
    samples: dict[tuple[int, bool], list[float]] = {}
    with prepared_rootfs(target) as (_info, config, rootfs), tempfile.TemporaryDirectory() as traces:
        run_probes(rootfs, config, PROBES, options, Path(traces), traced=False)  # warm the page cache
        for _ in range(repeat):
            for index, probe in enumerate(PROBES):
                for traced in (False, True):
                    started = time.monotonic()
                    run_probes(rootfs, config, [probe], options, Path(traces), traced=traced)
                    samples.setdefault((index, traced), []).append(time.monotonic() - started)
    return [
        (_label(probe), statistics.median(samples[index, True]), statistics.median(samples[index, False]))
        for index, probe in enumerate(PROBES)
    ]


def _label(probe: ProbeSpec) -> str:
    if probe.kind == "http":
        text = "CMD server, " + ", ".join(f"{method} {path}" for method, path in probe.requests)
    else:
        text = " ".join(probe.command or ())
    return text if len(text) <= 42 else text[:41] + "…"


if __name__ == "__main__":
    sys.exit(main())
