"""Scanning spread over workers: procrastinate jobs in the store's own PostgreSQL.

No extra service: the job queue lives in the fleet store's database (its tables
are created by the store's Alembic migration 0002). ``fleet sync`` defers one
``chainwarden.fleet.scan`` job per new digest; ``chainwarden fleet worker``
processes, on any number of machines, run them.

- Idempotent by digest: the job's ``queueing_lock`` is the digest (a digest is
  queued at most once at a time), and storing is idempotent too
  (:meth:`FleetStore.store_image` stores a digest exactly once).
- Retries with exponential backoff (:data:`RETRY`); each failed attempt's
  reason is kept in ``scan_failures`` for the sync summary.
- Stalled jobs (their worker died: no heartbeat for ``--stalled-after``
  seconds) are put back in the queue by :meth:`FleetJobs.recover_stalled_async`,
  which every worker runs at start and every ``stalled-after / 2`` seconds, and a
  waiting ``fleet sync`` runs while it waits.

With SQLite the same :func:`chainwarden.fleet.sync.scan_image` runs in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import procrastinate
import sqlalchemy as sa

from chainwarden.errors import Error, UsageError
from chainwarden.fleet.interface import FleetError
from chainwarden.fleet.store import FleetStore, now_text, open_store, scan_failures
from chainwarden.fleet.sync import (
    Discovered,
    Failure,
    QueueOutcome,
    SyncProgress,
    match_pending,
    open_vulndb,
    scan_image,
)
from chainwarden.sources import SourceOptions
from chainwarden.sources.interface import DEFAULT_PLATFORM
from chainwarden.sources.registry import parse_reference, remember_manifest

TASK_NAME = "chainwarden.fleet.scan"
QUEUE = "chainwarden-fleet"
#: 5 attempts, waiting 2, 4, 8, 16 s between them
RETRY = procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2)

_logger = logging.getLogger(__name__)


def conninfo(store: FleetStore) -> str:
    """The libpq URL of a PostgreSQL store (the job queue shares its database)."""
    if store.dialect != "postgresql":
        raise UsageError("workers need a PostgreSQL store (--store postgresql://…); SQLite stores scan in-process")
    url = sa.engine.make_url(store.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _options_to_json(options: SourceOptions) -> dict[str, Any]:
    data = asdict(options)
    data["cache_dir"] = str(options.cache_dir) if options.cache_dir else None
    data["exclude"] = list(options.exclude) if options.exclude is not None else None
    return data


def _options_from_json(data: dict[str, Any]) -> SourceOptions:
    return SourceOptions(
        platform=str(data.get("platform") or DEFAULT_PLATFORM),
        cache_dir=Path(data["cache_dir"]) if data.get("cache_dir") else None,
        insecure_registry=bool(data.get("insecure_registry")),
        registry_timeout=float(data.get("registry_timeout") or 30.0),
        strict_platform=bool(data.get("strict_platform")),
    )


def _text(body: bytes | None) -> str | None:
    """A manifest as job argument (JSON text), or None when it is not UTF-8 or too large to carry."""
    if body is None or len(body) > 64 * 1024:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


class FleetJobs:
    """The procrastinate app of one store, with the scan task registered."""

    def __init__(self, store: FleetStore, *, db_path: Path | None = None) -> None:
        self.store = store
        self.db_path = db_path
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(store)))
        self.scan = self.app.task(name=TASK_NAME, queue=QUEUE, retry=RETRY, pass_context=True)(self._scan)
        self.stalled_after = 30.0

    # -- the tasks (run by workers) ------------------------------------------------

    def _scan(
        self,
        context: procrastinate.JobContext,
        reference: str,
        digest: str,
        options: dict[str, Any],
        manifest: str | None = None,
        media_type: str = "",
    ) -> None:
        if manifest is not None and reference.startswith("registry:"):
            # what the sync fetched while listing: used only if it hashes to the digest
            ref = parse_reference(reference.removeprefix("registry:"))
            remember_manifest(ref.registry, ref.repository, digest, manifest.encode(), media_type)
        try:
            _, new = scan_image(self.store, reference, _options_from_json(options), digest=digest)
        except Error as exc:
            attempts = context.job.attempts + 1 if context.job else 1
            self._record_failure(digest, reference, f"attempt {attempts}: {exc.diagnostics()}")
            raise
        if context.job is not None and context.job.attempts:
            self._clear_failure(digest)  # an earlier attempt failed; the sync cleared older reasons when queueing
        if new:
            db = open_vulndb(self.db_path)
            if db is not None:
                with db:
                    match_pending(self.store, db, [digest])

    async def recover_stalled_async(self) -> int:
        """Put jobs of workers that stopped sending heartbeats back in the queue."""
        stalled = await self.app.job_manager.get_stalled_jobs(
            task_name=TASK_NAME, seconds_since_heartbeat=self.stalled_after
        )
        count = 0
        for job in stalled:
            try:
                await self.app.job_manager.retry_job(job)
                count += 1
            except procrastinate.exceptions.UniqueViolation:
                _logger.warning("stalled job %s: its digest is queued again already", job.id)
        if count:
            _logger.warning("requeued %d stalled scan job(s)", count)
        return count

    def _record_failure(self, digest: str, reference: str, reason: str) -> None:
        with self.store.begin() as conn:
            conn.execute(scan_failures.delete().where(scan_failures.c.digest == digest))
            conn.execute(
                scan_failures.insert().values(digest=digest, reference=reference, reason=reason, at=now_text())
            )

    def _clear_failure(self, digest: str) -> None:
        with self.store.begin() as conn:
            conn.execute(scan_failures.delete().where(scan_failures.c.digest == digest))

    # -- deferring and waiting (run by fleet sync) ------------------------------------

    def defer(self, found: Sequence[Discovered], options: SourceOptions) -> list[str]:
        """One job per digest; a digest already queued is not queued twice."""
        queued: list[str] = []
        payload = _options_to_json(options)
        with self.store.connect() as conn:
            # a job waiting or running (perhaps on a worker that died: recovery requeues it) stays the only one
            pending = set(
                conn.scalars(
                    sa.text(
                        "SELECT queueing_lock FROM procrastinate_jobs "
                        "WHERE task_name = :task AND status IN ('todo', 'doing')"
                    ),
                    {"task": TASK_NAME},
                )
            )
        fresh = sorted({item.digest for item in found} - pending)
        with self.store.begin() as conn:
            # the reasons of a digest's earlier jobs belong to them, not to the job queued now
            for start in range(0, len(fresh), 500):
                conn.execute(scan_failures.delete().where(scan_failures.c.digest.in_(fresh[start : start + 500])))
        with self.app.open():
            for item in found:
                if item.digest in pending:
                    queued.append(item.digest)
                    continue
                # another sync queued it already: it is still one job
                manifest = _text(item.manifest)
                extra: dict[str, Any] = {"manifest": manifest, "media_type": item.media_type} if manifest else {}
                with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):
                    self.scan.configure(queueing_lock=item.digest).defer(
                        reference=item.reference, digest=item.digest, options=payload, **extra
                    )
                queued.append(item.digest)
        return queued

    def wait(
        self,
        digests: Sequence[str],
        *,
        progress: SyncProgress | None = None,
        timeout: float | None = None,
        poll: float = 0.5,
    ) -> tuple[set[str], list[Failure]]:
        """Wait until every digest is stored or its job failed for good; (stored, failures)."""
        wanted = set(digests)
        done: set[str] = set()
        failed: dict[str, Failure] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        if progress:
            progress.phase(f"waiting for workers to scan {len(wanted)} new images", len(wanted))
        last_recovery = 0.0
        with self.app.open():
            while True:
                stored = self.store.known_digests(wanted - done)
                for digest in sorted(stored):
                    done.add(digest)
                    if progress:
                        progress.step(digest)
                for job in self.app.job_manager.list_jobs(task=TASK_NAME, status="failed"):
                    lock = job.queueing_lock
                    if lock in wanted and lock not in done and lock not in failed:
                        failed[lock] = Failure(str(job.task_kwargs.get("reference", lock)), self._reason(lock))
                        if progress:
                            progress.step(lock)
                if done | set(failed) >= wanted:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    for digest in sorted(wanted - done - set(failed)):
                        failed[digest] = Failure(digest, "still queued when --wait-timeout ran out (not lost)")
                    break
                if time.monotonic() - last_recovery > max(self.stalled_after / 2, 1.0):
                    self.recover_stalled()
                    last_recovery = time.monotonic()
                time.sleep(poll)
        return done, list(failed.values())

    def recover_stalled(self) -> int:
        """:meth:`recover_stalled_async` for a synchronously opened app (a waiting sync)."""
        from procrastinate import sql as procrastinate_sql
        from procrastinate import utils as procrastinate_utils

        rows = self.app.connector.get_sync_connector().execute_query_all(
            query=procrastinate_sql.queries["select_stalled_jobs_by_heartbeat"],
            queue=None,
            task_name=TASK_NAME,
            seconds_since_heartbeat=self.stalled_after,
        )
        count = 0
        for row in rows:
            try:
                self.app.job_manager.retry_job_by_id(int(row["id"]), retry_at=procrastinate_utils.utcnow())
                count += 1
            except procrastinate.exceptions.UniqueViolation:
                # the digest was queued again meanwhile: that job scans it
                _logger.warning("stalled job %s: its digest is queued again already", row["id"])
        return count

    def _reason(self, digest: str) -> str:
        with self.store.connect() as conn:
            reason = conn.scalar(sa.select(scan_failures.c.reason).where(scan_failures.c.digest == digest))
        return str(reason) if reason else "failed (see the worker's log)"

    def run_worker(
        self,
        *,
        concurrency: int = 2,
        name: str | None = None,
        wait: bool = True,
        heartbeat: float = 10.0,
        stalled_after: float = 30.0,
    ) -> None:
        """Run jobs until stopped (or, with ``wait=False``, until the queue is empty)."""
        self.stalled_after = stalled_after

        async def recovery_loop() -> None:
            while True:
                await asyncio.sleep(max(stalled_after / 2, 1.0))
                try:
                    await self.recover_stalled_async()
                except Exception:  # a database hiccup must not stop the worker; logged, tried again
                    _logger.exception("recovering stalled jobs failed")

        async def main() -> None:
            async with self.app.open_async():
                await self.recover_stalled_async()
                recovery = asyncio.create_task(recovery_loop())
                try:
                    await self.app.run_worker_async(
                        queues=[QUEUE],
                        concurrency=concurrency,
                        name=name or "chainwarden-fleet-worker",
                        wait=wait,
                        update_heartbeat_interval=heartbeat,
                        stalled_worker_timeout=stalled_after,
                        fetch_job_polling_interval=1.0,
                        install_signal_handlers=True,
                    )
                finally:
                    recovery.cancel()

        asyncio.run(main())


def queue_scans(
    store: FleetStore,
    found: Sequence[Discovered],
    options: SourceOptions,
    *,
    wait: bool,
    progress: SyncProgress | None = None,
    timeout: float | None = None,
) -> QueueOutcome:
    """Defer scans of ``found`` and (with ``wait``) wait for the workers."""
    jobs = FleetJobs(store)
    queued = jobs.defer(found, options)
    if not wait or not queued:
        return QueueOutcome(queued=queued, stored=[], failed=[])
    stored, failed = jobs.wait(queued, progress=progress, timeout=timeout)
    return QueueOutcome(queued=[], stored=sorted(stored), failed=failed)


def open_jobs(store_url: str | None, db_path: Path | None = None) -> FleetJobs:
    from chainwarden.fleet.store import default_store_url, normalise_url

    if not normalise_url(store_url or default_store_url()).startswith("postgresql"):
        raise FleetError(
            "'fleet worker' needs a PostgreSQL store (--store postgresql://…); SQLite stores scan in-process"
        )
    return FleetJobs(open_store(store_url), db_path=db_path)
