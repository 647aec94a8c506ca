"""Regenerate ``src/chainwarden/data/popular-{pypi,npm}.txt``.

Usage::

    python tasks/refresh_popular.py                  # public statistics (network)
    python tasks/refresh_popular.py --from-tsv DIR   # local snapshots pypi.tsv + npm.tsv
    python tasks/refresh_popular.py --pypi-tsv A --npm-tsv B

The snapshots are TSV files with a ``name`` column plus ``rank_among_*``
(PyPI) or ``downloads_*`` (npm) columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainwarden.analyzers.popularity import refresh
from chainwarden.errors import Error

DATA_DIR = Path(__file__).resolve().parents[1] / "src" / "chainwarden" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from-tsv", type=Path, help="directory holding pypi.tsv and npm.tsv, or a pypi.tsv path")
    parser.add_argument("--pypi-tsv", type=Path)
    parser.add_argument("--npm-tsv", type=Path)
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    pypi_tsv, npm_tsv = args.pypi_tsv, args.npm_tsv
    if args.from_tsv is not None:
        base = args.from_tsv if args.from_tsv.is_dir() else args.from_tsv.parent
        pypi_tsv = pypi_tsv or base / "pypi.tsv"
        npm_tsv = npm_tsv or base / "npm.tsv"
    if (pypi_tsv is None) != (npm_tsv is None):
        parser.error("give both snapshots (or --from-tsv DIR)")
    try:
        result = refresh(args.out, pypi_tsv=pypi_tsv, npm_tsv=npm_tsv)
    except Error as exc:
        print(f"refresh_popular: error: {exc.diagnostics()}", file=sys.stderr)
        return 2
    print(f"wrote {result.pypi_path} ({result.pypi_count} names) and {result.npm_path} ({result.npm_count} names)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
