"""``chainwarden fleet …``: every image of a registry in one store, queried without rescanning."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from chainwarden.cli.common import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    RichProgress,
    emit,
    fail_on_option,
    format_option,
    output_option,
)
from chainwarden.cli.options import source_options, target_options
from chainwarden.fleet.sync import QueueOutcome, SyncProgress
from chainwarden.models import Severity

F = TypeVar("F", bound=Callable[..., Any])


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "store_url",
        default=None,
        metavar="URL",
        help="Fleet store: a SQLite path or sqlite:///PATH, or postgresql://USER@HOST/DB "
        "[env CHAINWARDEN_FLEET_STORE; default: fleet.sqlite3 in the user data dir].",
    )(func)


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Vulnerability database to match with [env CHAINWARDEN_DB; default: user cache dir]. "
        "Without one, inventories are stored and matched later by 'fleet rematch'.",
    )(func)


class _CliSyncProgress(SyncProgress):
    """Sync phases as rich progress bars on stderr (silent when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._bar = RichProgress()

    def phase(self, description: str, total: int | None) -> None:
        self._bar.start(total, description, unit="images" if "image" in description else "repositories")

    def step(self, what: str) -> None:
        self._bar.advance(1)

    def finish(self) -> None:
        self._bar.finish()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _summary_text(summary: Any) -> str:
    lines = [
        f"images: {len(summary.new)} new, {len(summary.unchanged)} unchanged, "
        f"{len(summary.queued)} queued, {len(summary.failed)} failed; {summary.findings_new} new findings"
    ]
    lines += [f"tag moved: {moved}" for moved in summary.tags_moved]
    lines += [f"failed: {f.what}: {f.reason}" for f in summary.failed]
    return "\n".join(lines) + "\n"


@click.group()
def fleet() -> None:
    """Every image of a registry in one database: who is affected by X, stale bases.

    Inventories and findings are stored per package version (SQLite by default,
    PostgreSQL with --store postgresql://…), so queries never rescan an image.

    \b
    Examples:
      chainwarden fleet sync 127.0.0.1:5000 --insecure-registry
      chainwarden fleet affected CVE-2024-3094
    """


@fleet.command()
@click.argument("targets", nargs=-1, required=True)
@store_option
@db_option
@click.option(
    "--profile",
    "profile_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="A runtime profile (chainwarden profile) of the image: stores each package's in-use level.",
)
@format_option(("table", "json"))
@target_options
def add(
    targets: tuple[str, ...],
    store_url: str | None,
    db_path: Path | None,
    profile_path: Path | None,
    output_format: str,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """Scan TARGETS (oci:DIR, registry:HOST/REPO:TAG, …) into the fleet store.

    A digest already stored is not scanned again. Exit 2 when a target failed.

    \b
    Examples:
      chainwarden fleet add oci:./image registry:ghcr.io/acme/app:1.4
      chainwarden fleet add oci:./image --profile profile.json --store postgresql://fleet@127.0.0.1/fleet
    """
    from chainwarden.fleet import open_store
    from chainwarden.fleet.sync import add_targets, open_vulndb

    options = source_options(platform, cache_dir, no_cache, insecure_registry)
    db = open_vulndb(db_path)
    progress = _CliSyncProgress()
    try:
        with open_store(store_url) as store:
            summary = add_targets(store, targets, options, db=db, profile=profile_path, progress=progress)
    finally:
        progress.finish()
        if db is not None:
            db.close()
    _emit_summary(summary, output_format)
    return 2 if summary.failed else EXIT_CLEAN


def _emit_summary(summary: Any, output_format: str) -> None:
    if output_format == "json":
        emit(json.dumps(summary.to_dict(), indent=2), None)
    else:
        emit(_summary_text(summary), None)
    # what failed is also said where errors go, one line each (the exit code is 2)
    for failure in summary.failed[:2]:
        click.echo(f"chainwarden: error: {failure.what}: {failure.reason}", err=True)
    if len(summary.failed) > 2:
        click.echo(f"chainwarden: error: {len(summary.failed) - 2} more failed (see the summary)", err=True)


@fleet.command()
@click.argument("target", metavar="REGISTRY[/REPO-GLOB]")
@store_option
@db_option
@click.option(
    "--queue/--in-process",
    default=None,
    help="Hand new digests to 'fleet worker' processes (PostgreSQL stores) or scan them here. "
    "Default: queue with PostgreSQL, in-process with SQLite.",
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="With --queue: wait until workers are done.")
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="With --queue --wait: stop waiting after this many seconds (jobs stay queued).",
)
@format_option(("table", "json"))
@target_options
def sync(
    target: str,
    store_url: str | None,
    db_path: Path | None,
    queue: bool | None,
    wait: bool,
    wait_timeout: float | None,
    output_format: str,
    platform: str,
    cache_dir: Path | None,
    no_cache: bool,
    insecure_registry: bool,
) -> int:
    """List REGISTRY's repositories (matching REPO-GLOB) and tags; scan digests not seen before.

    Tags are recorded with their history (a tag that moved is an event). The
    summary lists images new / unchanged / failed with reasons; exit 2 when
    anything failed.

    \b
    Examples:
      chainwarden fleet sync 'registry.example.com/team/*'
      chainwarden fleet sync 127.0.0.1:5000 --insecure-registry --store postgresql://fleet@127.0.0.1/fleet --queue
    """
    from chainwarden.fleet import open_store
    from chainwarden.fleet.sync import open_vulndb, sync_registry

    options = source_options(platform, cache_dir, no_cache, insecure_registry)
    db = open_vulndb(db_path)
    progress = _CliSyncProgress()
    try:
        with open_store(store_url) as store:
            use_queue = queue if queue is not None else store.dialect == "postgresql"
            enqueue = None
            if use_queue:
                from chainwarden.fleet.tasks import queue_scans

                def enqueue(found: Sequence[Any]) -> QueueOutcome:
                    return queue_scans(store, found, options, wait=wait, progress=progress, timeout=wait_timeout)

            summary = sync_registry(store, target, options, db=db, progress=progress, enqueue=enqueue)
    finally:
        progress.finish()
        if db is not None:
            db.close()
    _emit_summary(summary, output_format)
    return 2 if summary.failed else EXIT_CLEAN


@fleet.command()
@store_option
@format_option(("table", "json"))
def images(store_url: str | None, output_format: str) -> int:
    """Every image in the store, worst finding first.

    \b
    Examples:
      chainwarden fleet images
      chainwarden fleet images -f json
    """
    from chainwarden.fleet import open_store
    from chainwarden.fleet.queries import list_images

    with open_store(store_url, create=False) as store:
        rows = list_images(store)
    if output_format == "json":
        emit(json.dumps({"images": [_asdict(r) for r in rows]}, indent=2), None)
        return EXIT_CLEAN
    emit(
        _table(
            ("DIGEST", "TAGS", "PLATFORM", "DISTRO", "PACKAGES", "FINDINGS", "WORST", "BASE"),
            [
                (
                    r.digest[:19],
                    ", ".join(r.repositories) or "-",
                    r.platform or "-",
                    r.distro or "-",
                    str(r.packages),
                    str(r.findings),
                    r.worst or "-",
                    r.base or "-",
                )
                for r in rows
            ],
        ),
        None,
    )
    return EXIT_CLEAN


def _asdict(record: Any) -> dict[str, Any]:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name in record.__slots__
        for value in [getattr(record, name)]
    }


@fleet.command()
@click.argument("name")
@click.option("--ecosystem", type=click.Choice(["pypi", "npm", "deb"]), default=None, help="Only this ecosystem.")
@store_option
@format_option(("table", "json"))
def packages(name: str, ecosystem: str | None, store_url: str | None, output_format: str) -> int:
    """Who uses which version of package NAME.

    \b
    Examples:
      chainwarden fleet packages requests
      chainwarden fleet packages openssl --ecosystem deb -f json
    """
    if not name.strip():
        raise click.UsageError("NAME is empty: give a package name (requests, @scope/pkg, openssl)")
    from chainwarden.fleet import open_store
    from chainwarden.fleet.queries import package_usage

    if ecosystem == "pypi":
        from packaging.utils import canonicalize_name

        name = canonicalize_name(name)
    with open_store(store_url, create=False) as store:
        rows = package_usage(store, name, ecosystem)
    if output_format == "json":
        emit(json.dumps({"packages": [_asdict(r) for r in rows]}, indent=2), None)
        return EXIT_CLEAN
    emit(
        _table(
            ("ECOSYSTEM", "NAME", "VERSION", "IMAGES", "TAGS"),
            [(r.ecosystem, r.name, r.version, str(r.images), ", ".join(r.tags) or "-") for r in rows],
        ),
        None,
    )
    return EXIT_CLEAN


@fleet.command()
@click.argument("query", metavar="CVE-…|GHSA-…|MAL-…|pkg:TYPE/NAME@RANGE")
@store_option
@format_option(("table", "json"))
@click.option("--fail-on-any", is_flag=True, help="Exit 1 when any image is affected (for scripts and alerting).")
def affected(query: str, store_url: str | None, output_format: str, fail_on_any: bool) -> int:
    """Images holding the package versions an advisory (any alias) or a package range names.

    Each row: advisory, severity, image digest and tags, package, layer and
    path, in-use level (when a profile was stored), fixed versions. Malicious
    packages (OSV MAL-…) come first. No rescanning: answered from the store.

    \b
    Examples:
      chainwarden fleet affected CVE-2024-3094
      chainwarden fleet affected 'pkg:pypi/requests@<2.32' -f json
      chainwarden fleet affected MAL-2025-20690 --fail-on-any
    """
    from chainwarden.fleet import open_store
    from chainwarden.fleet.queries import affected as find_affected

    with open_store(store_url, create=False) as store:
        rows = find_affected(store, query)
    if output_format == "json":
        emit(json.dumps({"query": query, "affected": [_asdict(r) for r in rows]}, indent=2), None)
    else:
        emit(
            _affected_table(rows) if rows else f"no image in the store is affected by {query}\n",
            None,
        )
    return EXIT_FINDINGS if fail_on_any and rows else EXIT_CLEAN


@fleet.command()
@store_option
@db_option
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Jobs run at once (a scan mostly waits for the registry and the database: two overlap the waits).",
)
@click.option("--name", default=None, help="Worker name shown in the job table.")
@click.option("--once", is_flag=True, help="Stop when the queue is empty instead of waiting for more jobs.")
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between heartbeats.",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="A worker silent this long is dead: its jobs are queued again.",
)
def worker(
    store_url: str | None,
    db_path: Path | None,
    concurrency: int,
    name: str | None,
    once: bool,
    heartbeat: float,
    stalled_after: float,
) -> int:
    """Run scan jobs that 'fleet sync' queued in a PostgreSQL store, until stopped.

    Run any number of workers on any number of machines: a digest is queued once
    and stored once; a failed scan is retried with backoff (5 attempts); jobs of
    a worker that died are queued again.

    \b
    Examples:
      chainwarden fleet worker --store postgresql://fleet@127.0.0.1/fleet
      chainwarden fleet worker --store postgresql://fleet@127.0.0.1/fleet --concurrency 4 --once
    """
    import logging

    from chainwarden.fleet.tasks import open_jobs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # one line per job is the worker's log; a line per HTTP request would bury it
    logging.getLogger("httpx").setLevel(logging.WARNING)
    jobs = open_jobs(store_url, db_path)
    try:
        jobs.run_worker(
            concurrency=concurrency, name=name, wait=not once, heartbeat=heartbeat, stalled_after=stalled_after
        )
    finally:
        jobs.store.close()
    return EXIT_CLEAN


@fleet.command()
@store_option
@db_option
@format_option(("table", "json", "sarif"))
@output_option
@fail_on_option
def rematch(
    store_url: str | None, db_path: Path | None, output_format: str, output: Path | None, fail_on: str | None
) -> int:
    """Re-match after 'db update|import'; report findings new since the last rematch.

    Only package versions named by advisories that changed since the last
    match are matched again (never image by image). Malicious packages (OSV
    MAL-…) come first. For cron: --fail-on high exits 1 when a new finding is
    high or worse. The first rematch reports every finding.

    \b
    Examples:
      chainwarden fleet rematch
      chainwarden fleet rematch --fail-on high -f sarif -o new-findings.sarif
    """
    from chainwarden.fleet import open_store
    from chainwarden.fleet.rematch import rematch as run_rematch
    from chainwarden.vulndb import open_database

    with open_database(db_path) as db, open_store(store_url, create=False) as store:
        report = run_rematch(store, db)
    rows = report.new
    if output_format == "json":
        text = json.dumps(report.to_dict(), indent=2)
    elif output_format == "sarif":
        from chainwarden.report.json_report import tool_version
        from chainwarden.report.sarif import render_sarif

        text = render_sarif(_as_findings(rows), rules={}, tool_version=tool_version(), target="fleet")
    else:
        head = (
            f"{report.advisories_changed} advisories changed; {report.package_versions_rematched} package versions "
            f"re-matched in {report.seconds:.2f} s; {len(rows)} new findings"
            + (f" since {report.since}" if report.since else "")
            + "\n"
        )
        text = head + (_affected_table(rows) if rows else "")
    emit(text, output)
    if fail_on is None:
        return EXIT_CLEAN
    threshold = Severity(fail_on)
    return EXIT_FINDINGS if any(Severity(r.severity).at_least(threshold) for r in rows) else EXIT_CLEAN


def _affected_table(rows: Sequence[Any]) -> str:
    return _table(
        ("ADVISORY", "SEVERITY", "IMAGE", "TAGS", "PACKAGE", "LAYER", "PATH", "IN-USE", "FIXED"),
        [
            (
                r.vuln_id,
                r.severity,
                r.image_digest[:19],
                ", ".join(r.tags) or "-",
                f"{r.name}@{r.version}",
                (r.layer or "-")[:19],
                r.path or "-",
                r.in_use or "-",
                ", ".join(r.fixed) or "-",
            )
            for r in rows
        ],
    )


def _as_findings(rows: Sequence[Any]) -> list[Any]:
    from chainwarden.models import Digest, Ecosystem, Finding, Location, Package, RuleId

    found = []
    for r in rows:
        purl = f"pkg:{r.ecosystem}/{r.name}@{r.version}"
        found.append(
            Finding(
                rule_id=RuleId(r.rule_id),
                severity=Severity(r.severity),
                title=f"{r.vuln_id} in {r.name} {r.version} ({', '.join(r.tags) or r.image_digest[:19]})",
                package=Package(Ecosystem(r.ecosystem), r.name, r.version, purl, "fleet-store"),
                location=Location(r.path, Digest(r.layer) if r.layer else None),
                evidence=(f"image {r.image_digest}",),
                remediation=f"upgrade to {', '.join(r.fixed)}" if r.fixed else None,
                aliases=frozenset({r.vuln_id}),
                fixed_versions=tuple(r.fixed),
            )
        )
    return found


@fleet.command()
@store_option
@click.option("--older-than", default=None, metavar="AGE", help="Only images at least this old (30d, 2w, 12h).")
@click.option("--all", "show_all", is_flag=True, help="List every image, not only those whose base moved.")
@format_option(("table", "json"))
def stale(store_url: str | None, older_than: str | None, show_all: bool, output_format: str) -> int:
    """Images whose base image moved on, and how many findings a rebuild would fix.

    The base comes from OCI annotations (org.opencontainers.image.base.name /
    .digest) or from the fleet image whose layers this one starts with (the
    longest such prefix: a hardened base is recognised by its layers).

    \b
    Examples:
      chainwarden fleet stale --older-than 30d
      chainwarden fleet stale --all -f json
    """
    from chainwarden.fleet import open_store
    from chainwarden.fleet.stale import parse_age, stale_images

    days = parse_age(older_than) if older_than else None
    with open_store(store_url, create=False) as store:
        rows = stale_images(store, older_than_days=days)
    if not show_all:
        rows = [r for r in rows if r.stale]
    if output_format == "json":
        emit(json.dumps({"images": [{**_asdict(r), "stale": r.stale} for r in rows]}, indent=2), None)
        return EXIT_CLEAN
    emit(
        _table(
            ("IMAGE", "TAGS", "AGE", "BASE", "FROM", "MOVED", "FIXABLE", "ADVICE"),
            [
                (
                    r.digest[:19],
                    ", ".join(r.tags) or "-",
                    f"{r.age_days}d" if r.age_days is not None else "-",
                    r.base_name or (r.base_digest or "-")[:19],
                    r.base_source or "-",
                    {True: "yes", False: "no", None: "?"}[r.base_moved],
                    str(len(r.fixable)),
                    r.advice,
                )
                for r in rows
            ],
        )
        if rows
        else "no image has a base that moved\n",
        None,
    )
    return EXIT_CLEAN
