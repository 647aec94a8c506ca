"""Popular package names: the anchors typosquats imitate.

Two text files ship as package data and can be refreshed into the user data
directory (``chainwarden data refresh``); the user's copy wins when present.

* ``popular-pypi.txt``: ``rank<TAB>name`` (1 = most downloaded), PEP 503 names.
* ``popular-npm.txt``: ``monthly_downloads<TAB>name``, most downloaded first.

Lines starting with ``#`` are provenance comments.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from pathlib import Path

import httpx
import platformdirs
from packaging.utils import canonicalize_name

from chainwarden._internal.files import write_text_atomically
from chainwarden._internal.http import RetryPolicy, send_with_retries
from chainwarden.errors import Error, NetworkError
from chainwarden.models import Ecosystem

PYPI_FILE = "popular-pypi.txt"
NPM_FILE = "popular-npm.txt"
#: The public ranking covers the 15,000 most downloaded projects; a snapshot
#: loses the few that were deleted from PyPI since (15 of them in 2026-11).
MIN_PYPI = 14_900
MIN_NPM = 10_000

#: Public statistics (Hugo van Kemenade's monthly BigQuery export of PyPI downloads).
TOP_PYPI_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages.min.json"
#: npm's public download-count API (bulk queries take up to 128 unscoped names).
NPM_DOWNLOADS_URL = "https://api.npmjs.org/downloads/point/last-month/"


class PopularityDataError(Error):
    """Popularity data could not be read or produced."""


@dataclass(frozen=True, slots=True)
class PopularNames:
    """Names of one ecosystem, most popular first, with their popularity figure.

    ``score`` is the rank for PyPI (lower is more popular) and monthly downloads
    for npm (higher is more popular); :meth:`position` hides the difference.
    """

    ecosystem: Ecosystem
    names: tuple[str, ...]
    scores: dict[str, int]
    source: str

    def position(self, name: str) -> int | None:
        """1-based popularity position of ``name`` (normalised), or None."""
        return _positions(self).get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.scores

    def describe(self, name: str) -> str:
        """Human popularity figure: ``rank 3`` or ``2,400,000 downloads/month``."""
        score = self.scores.get(name)
        if score is None:
            return "not among the popular names"
        if self.ecosystem is Ecosystem.PYPI:
            return f"PyPI download rank {score}"
        return f"{score:,} npm downloads/month"


@cache
def _positions_cache(key: int, names: tuple[str, ...]) -> dict[str, int]:
    del key
    return {name: index + 1 for index, name in enumerate(names)}


def _positions(data: PopularNames) -> dict[str, int]:
    return _positions_cache(id(data.names), data.names)


def user_data_dir() -> Path:
    """Where ``chainwarden data refresh`` writes refreshed data."""
    return Path(platformdirs.user_data_dir("chainwarden", appauthor=False))


def normalize(name: str, ecosystem: Ecosystem) -> str:
    """PEP 503 for PyPI; npm names are compared lower-cased."""
    return canonicalize_name(name) if ecosystem is Ecosystem.PYPI else name.strip().lower()


def parse_popular(text: str, ecosystem: Ecosystem, source: str) -> PopularNames:
    """Parse one data file; malformed lines are an error naming the line."""
    rows: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        raw_figure, sep, name = line.partition("\t")
        if not sep or not raw_figure.strip().isdigit() or not name.strip():
            raise PopularityDataError(f"{source}:{number}: expected '<number><TAB><name>', got {line[:60]!r}")
        rows.append((int(raw_figure), normalize(name, ecosystem)))
    if ecosystem is Ecosystem.PYPI:
        rows.sort(key=lambda row: row[0])
    else:
        rows.sort(key=lambda row: -row[0])
    scores: dict[str, int] = {}
    for value, name in rows:
        scores.setdefault(name, value)
    return PopularNames(ecosystem, tuple(scores), scores, source)


@cache
def load_popular(ecosystem: Ecosystem, data_dir: Path | None = None) -> PopularNames:
    """The popular names, from the user data dir when refreshed, else bundled."""
    filename = PYPI_FILE if ecosystem is Ecosystem.PYPI else NPM_FILE
    user_copy = (data_dir or user_data_dir()) / filename
    if user_copy.is_file():
        try:
            return parse_popular(user_copy.read_text(encoding="utf-8"), ecosystem, str(user_copy))
        except OSError as exc:
            raise PopularityDataError(f"{user_copy}: cannot read ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise PopularityDataError(
                f"{user_copy}: not UTF-8 text (byte {exc.start}); run `chainwarden data refresh`"
            ) from exc
    resource = resources.files("chainwarden") / "data" / filename
    return parse_popular(resource.read_text(encoding="utf-8"), ecosystem, f"chainwarden/data/{filename}")


# --------------------------------------------------------------------------- building


def format_pypi(ranked: Sequence[tuple[int, str]], source: str) -> str:
    header = f"# chainwarden popular PyPI names: rank<TAB>name\n# source: {source}; generated {_today()}\n"
    return header + "".join(f"{rank}\t{name}\n" for rank, name in ranked)


def format_npm(counted: Sequence[tuple[int, str]], source: str) -> str:
    header = (
        f"# chainwarden popular npm names: downloads_last_month<TAB>name\n# source: {source}; generated {_today()}\n"
    )
    return header + "".join(f"{count}\t{name}\n" for count, name in counted)


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def pypi_from_tsv(path: Path) -> list[tuple[int, str]]:
    """Ranked names from a snapshot with ``name`` and ``rank_among_*`` columns."""
    ranked: dict[str, int] = {}
    for row in _tsv_rows(path):
        rank_column = next((key for key in row if key.startswith("rank")), None)
        raw = (row.get(rank_column) or "").strip() if rank_column else ""
        name = (row.get("name") or "").strip()
        if raw.isdigit() and name:
            normalised = canonicalize_name(name)
            ranked[normalised] = min(int(raw), ranked.get(normalised, int(raw)))
    return sorted(((rank, name) for name, rank in ranked.items()), key=lambda item: (item[0], item[1]))


def npm_from_tsv(path: Path, limit: int) -> list[tuple[int, str]]:
    """The ``limit`` most downloaded names from a snapshot with a downloads column."""
    counted: dict[str, int] = {}
    for row in _tsv_rows(path):
        column = next((key for key in row if "download" in key), None)
        raw = (row.get(column) or "").strip() if column else ""
        name = (row.get("name") or "").strip().lower()
        if raw.isdigit() and name:
            counted[name] = max(int(raw), counted.get(name, 0))
    best = sorted(((count, name) for name, count in counted.items()), key=lambda item: (-item[0], item[1]))
    return best[:limit]


def _tsv_rows(path: Path) -> Iterable[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if not reader.fieldnames or "name" not in reader.fieldnames:
                raise PopularityDataError(f"{path}: not a snapshot TSV (no 'name' column in the header)")
            yield from reader
    except OSError as exc:
        raise PopularityDataError(f"{path}: cannot read ({exc.strerror})") from exc
    except csv.Error as exc:
        raise PopularityDataError(f"{path}: malformed TSV ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise PopularityDataError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from exc


def pypi_from_public(
    client: httpx.Client, url: str = TOP_PYPI_URL, retry: RetryPolicy | None = None
) -> list[tuple[int, str]]:
    """Ranked names from the public top-pypi-packages JSON (transient failures retried)."""
    try:
        response = send_with_retries(partial(client.get, url), retry or RetryPolicy())
        response.raise_for_status()
        rows = response.json()["rows"]
        return [(index + 1, canonicalize_name(row["project"])) for index, row in enumerate(rows)]
    except httpx.HTTPError as exc:
        raise NetworkError(f"{url}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise PopularityDataError(f"{url}: unexpected JSON ({exc})") from exc


def npm_from_public(
    client: httpx.Client, names: Sequence[str], url: str = NPM_DOWNLOADS_URL, retry: RetryPolicy | None = None
) -> list[tuple[int, str]]:
    """Monthly downloads for ``names`` from npm's bulk download API (transient failures retried).

    npm publishes no ranking, so the candidate names come from the previous
    data file; scoped names are not accepted by the bulk endpoint and are
    queried one by one.
    """
    policy = retry or RetryPolicy()
    counted: list[tuple[int, str]] = []
    unscoped = [n for n in names if not n.startswith("@")]
    scoped = [n for n in names if n.startswith("@")]
    try:
        for start in range(0, len(unscoped), 128):
            batch = unscoped[start : start + 128]
            response = send_with_retries(partial(client.get, url + ",".join(batch)), policy)
            response.raise_for_status()
            for name, info in response.json().items():
                if isinstance(info, dict) and isinstance(info.get("downloads"), int):
                    counted.append((info["downloads"], name))
        for name in scoped:
            response = send_with_retries(partial(client.get, url + name), policy)
            if response.status_code == 200:
                counted.append((int(response.json().get("downloads", 0)), name))
    except httpx.HTTPError as exc:
        raise NetworkError(f"{url}: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise PopularityDataError(f"{url}: unexpected JSON ({exc})") from exc
    return sorted(counted, key=lambda item: (-item[0], item[1]))


@dataclass(frozen=True, slots=True)
class RefreshResult:
    pypi_path: Path
    pypi_count: int
    npm_path: Path
    npm_count: int
    source: str


def refresh(
    out_dir: Path,
    *,
    pypi_tsv: Path | None = None,
    npm_tsv: Path | None = None,
    timeout: float = 30.0,
) -> RefreshResult:
    """Write both data files into ``out_dir`` from snapshots or the public sources."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if pypi_tsv is not None and npm_tsv is not None:
        pypi_rows = pypi_from_tsv(pypi_tsv)
        npm_rows = npm_from_tsv(npm_tsv, limit=max(MIN_NPM, 20_000))
        pypi_source = f"snapshot {pypi_tsv.name}"
        npm_source = f"snapshot {npm_tsv.name}"
    else:
        with httpx.Client(timeout=timeout, follow_redirects=True, headers={"User-Agent": "chainwarden"}) as client:
            pypi_rows = pypi_from_public(client)
            previous = load_popular(Ecosystem.NPM)
            npm_rows = npm_from_public(client, previous.names)
        pypi_source = TOP_PYPI_URL
        npm_source = NPM_DOWNLOADS_URL
    if len(pypi_rows) < MIN_PYPI or len(npm_rows) < MIN_NPM:
        raise PopularityDataError(
            f"refusing to write short data: {len(pypi_rows)} PyPI names (need {MIN_PYPI}), "
            f"{len(npm_rows)} npm names (need {MIN_NPM})"
        )
    pypi_path = out_dir / PYPI_FILE
    npm_path = out_dir / NPM_FILE
    # Written atomically (a unique temp file, renamed) so that an interrupted or
    # concurrent refresh never leaves a truncated file that would silently
    # shrink the anchor set, nor a stray temp file.
    for path, text in (
        (pypi_path, format_pypi(pypi_rows, pypi_source)),
        (npm_path, format_npm(npm_rows, npm_source)),
    ):
        try:
            write_text_atomically(path, text)
        except OSError as exc:
            raise PopularityDataError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    load_popular.cache_clear()
    return RefreshResult(pypi_path, len(pypi_rows), npm_path, len(npm_rows), f"{pypi_source}; {npm_source}")


def popularity_json_summary(result: RefreshResult) -> str:
    return json.dumps(
        {
            "pypi": {"path": str(result.pypi_path), "names": result.pypi_count},
            "npm": {"path": str(result.npm_path), "names": result.npm_count},
            "source": result.source,
        }
    )
