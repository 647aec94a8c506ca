"""Build a real OCI image layout from real packages.

    .venv/bin/python tasks/build_image.py --flavour demo  --out demo/out/image
    .venv/bin/python tasks/build_image.py --flavour bench --out bench/out/image   # root: debootstrap + chroot
    .venv/bin/python tasks/build_image.py --flavour app   --out bench/out/app-image

``demo`` takes well under two minutes on a fresh bookworm machine (apt-get
download, PyPI, npm registry); downloads are cached under ``--cache`` so a
second run is offline. ``bench`` and ``app`` debootstrap bookworm once (cached)
and are reused when their layout already exists (``--force`` rebuilds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.imagebuild import flavours

DEFAULT_CACHE = Path(".cache/build-image")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--flavour", choices=("demo", "bench", "app"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="OCI layout directory to write")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"download cache (default {DEFAULT_CACHE})")
    parser.add_argument("--force", action="store_true", help="rebuild bench/app even when already built")
    parser.add_argument("--quiet", action="store_true", help="print only the summary JSON")
    args = parser.parse_args(argv)

    started = time.monotonic()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        result = flavours.build(args.flavour, args.out.resolve(), args.cache.resolve(), log, force=args.force)
    except (RuntimeError, OSError) as exc:
        print(f"build_image: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.summary(), indent=2))
    log(f"done: oci:{args.out} ({result.manifest_digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
