"""Harden the realistic ``app`` image and print before → after.

    .venv/bin/python tasks/build_image.py --flavour app --out bench/out/app-image
    .venv/bin/python bench/harden.py [--image bench/out/app-image]

Profiles the app with its real requests (GET /health, GET /render?name=…, plus
the node script), hardens at package granularity, verifies every probe in the
hardened image, and prints packages/files/MB before and after, and the
tracing overhead (traced versus untraced run of the same command probes).
Goal from issue 6: at least 8x fewer packages with every probe passing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from chainwarden.runtime.harden import HardenOptions, harden_target
from chainwarden.runtime.profile import ProbeSpec, ProfileOptions, prepared_rootfs, profile_target, run_probes

PROBES = [
    ProbeSpec("command", ("node", "/opt/app/hello.js")),
    ProbeSpec("command", ("python3", "-c", "import jinja2, markupsafe; print(jinja2.__version__)")),
    ProbeSpec("http", None, (("GET", "/health"), ("GET", "/render?name=bench")), 8080),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--image", type=Path, default=Path("bench/out/app-image"))
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if not (args.image / "index.json").is_file():
        print(f"{args.image}: no image; build it with tasks/build_image.py --flavour app --out {args.image}")
        return 2
    target = f"oci:{args.image}"
    options = ProfileOptions(timeout=args.timeout)

    started = time.monotonic()
    profile = profile_target(target, PROBES, options)
    profile_seconds = time.monotonic() - started
    failed = [p.name for p in profile.probes if p.spec.kind == "command" and p.exit_code != 0]
    if failed:
        print(f"probes failed in the original image: {failed}")
        return 1

    with tempfile.TemporaryDirectory(prefix="bench-harden-") as tmp:
        out = Path(tmp) / "hardened"
        report = harden_target(target, profile, f"oci:{out}", HardenOptions(timeout=args.timeout))
        overhead = _tracing_overhead(target, options)

    before = sum(report.before.packages.values())
    after = sum(report.after.packages.values())
    print(report.render())
    print()
    print(f"{'metric':<28} {'before':>10} {'after':>10}")
    for ecosystem in sorted(report.before.packages):
        print(
            f"{ecosystem + ' packages':<28} {report.before.packages[ecosystem]:>10} "
            f"{report.after.packages.get(ecosystem, 0):>10}"
        )
    print(f"{'packages (all)':<28} {before:>10} {after:>10}")
    print(f"{'files':<28} {report.before.files:>10} {report.after.files:>10}")
    print(f"{'MB':<28} {report.before.bytes / 1e6:>10.1f} {report.after.bytes / 1e6:>10.1f}")
    print(f"{'package ratio':<28} {before / max(after, 1):>10.1f}x  (goal >= 8x)")
    print(f"{'probes verified':<28} {len(report.verified):>10} / {len(profile.probes)}")
    print(f"{'profile wall time (s)':<28} {profile_seconds:>10.1f}")
    print(f"{'tracing overhead':<28} {overhead:>10.2f}x  (traced / untraced command probes)")
    print("vulnerabilities before/after: not measured (no vulnerability DB API wired in yet)")
    return 0 if before / max(after, 1) >= 8 and len(report.verified) == len(profile.probes) else 1


def _tracing_overhead(target: str, options: ProfileOptions) -> float:
    commands = [p for p in PROBES if p.kind == "command"]
    with prepared_rootfs(target) as (_info, config, rootfs), tempfile.TemporaryDirectory() as traces:
        timings = {}
        for traced in (False, True):
            started = time.monotonic()
            for _ in range(3):
                run_probes(rootfs, config, commands, options, Path(traces), traced=traced)
            timings[traced] = time.monotonic() - started
    return timings[True] / max(timings[False], 1e-6)


if __name__ == "__main__":
    sys.exit(main())
