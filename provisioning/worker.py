"""Workers: procrastinate executes provisioning runs from the queue in PostgreSQL.

Registered on the app of :mod:`services.jobs`:

* ``provisioning.run`` — execute (or resume) one run; one per tenant at a time (the job's lock).
  Transient failures come back with exponential backoff, up to ``PMO_PROVISIONING_MAX_ATTEMPTS``.
* ``provisioning.sweep`` — periodic: re-queues the jobs of workers whose heartbeat stopped (a
  killed worker's run resumes elsewhere) and nudges runs whose job went missing.
* ``provisioning.purge_exports`` — periodic, every hour: deletes offboarding exports kept for
  ``PMO_EXPORT_RETENTION_DAYS``, and cancelled offboardings', at most ``PURGE_BATCH`` a run
  (:mod:`services.provisioning_runs.export_retention`).
* ``rate_limits.forget`` — periodic, every minute: deletes the API's rate-limit counts of
  windows that have ended (:mod:`services.rate_limit`).
"""

from __future__ import annotations

import asyncio
import gc
import uuid
from datetime import timedelta
from typing import Any

import structlog
from procrastinate import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from provisioning import seeding
from provisioning.workflow import Platform, RetryableRunError, execute
from services import rate_limit
from services.config import Settings
from services.db.base import utcnow
from services.db.engine import Database
from services.jobs import MAINTENANCE_QUEUE, PROVISIONING_QUEUE, RUN_TASK, JobQueue
from services.provisioning_runs import execution, export_retention
from services.provisioning_runs.service import retry_delay
from services.storage.service import StorageError
from services.tenancy import service as tenancy
from templates_library.seeding import PUBLISHED

SWEEP_TASK = "provisioning.sweep"
PURGE_EXPORTS_TASK = "provisioning.purge_exports"
FORGET_RATE_LIMITS_TASK = "rate_limits.forget"
QUEUES = (PROVISIONING_QUEUE, MAINTENANCE_QUEUE)

log = structlog.get_logger("pmo.worker")


class ProvisioningRetry(BaseRetryStrategy):
    """Retry only transient failures, waiting ``base``, ``2·base``, ``4·base`` …"""

    def __init__(self, max_attempts: int, base_seconds: float) -> None:
        self.max_attempts = max_attempts
        self.base_seconds = base_seconds

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        attempt = job.attempts + 1
        if not isinstance(exception, RetryableRunError) or attempt >= self.max_attempts:
            return None
        wait = exception.retry_in
        if wait is None:
            wait = retry_delay(attempt, self.base_seconds)
        return RetryDecision(retry_at=utcnow() + timedelta(seconds=wait))


def _every(seconds: float) -> str:
    """A six-field cron (seconds last) firing about every ``seconds``."""
    step = max(1, min(59, round(seconds)))
    return f"* * * * * */{step}"


def register_tasks(queue: JobQueue, platform: Platform) -> None:
    """Put the real tasks on the queue's app (names the services defer by)."""
    app, settings = queue.app, platform.settings

    @app.task(
        name=RUN_TASK,
        queue=PROVISIONING_QUEUE,
        pass_context=True,
        retry=ProvisioningRetry(
            settings.provisioning_max_attempts, settings.provisioning_retry_seconds
        ),
    )
    async def run_provisioning(context: JobContext, run_id: str) -> None:
        assert context.job is not None
        await execute(
            platform,
            uuid.UUID(run_id),
            attempt=context.job.attempts + 1,
            max_attempts=settings.provisioning_max_attempts,
        )

    @app.periodic(cron=_every(settings.worker_stalled_seconds / 3), periodic_id="sweep")
    @app.task(name=SWEEP_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=SWEEP_TASK)
    async def sweep(timestamp: int) -> None:
        stalled = await app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.worker_stalled_seconds
        )
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                log.warning("provisioning.job.requeued", job_id=job.id, task=job.task_name)
            except Exception as exc:  # another worker's sweep got there first
                log.info("provisioning.job.requeue_skipped", job_id=job.id, error=str(exc))
        quiet = timedelta(seconds=settings.worker_stalled_seconds)
        async with platform.database.transaction() as session:
            stranded = [(r.id, r.tenant_id) for r in await execution.stranded_runs(session, quiet)]
        for run_id, tenant_id in stranded:
            if await queue.defer_run(run_id, tenant_id):
                log.warning("provisioning.run.nudged", run_id=str(run_id))

    @app.periodic(cron="17 * * * *", periodic_id="purge-exports")
    @app.task(name=PURGE_EXPORTS_TASK, queue=MAINTENANCE_QUEUE, queueing_lock=PURGE_EXPORTS_TASK)
    async def purge_exports(timestamp: int) -> None:
        retention = timedelta(days=settings.export_retention_days)
        # Bounded: after a deploy every old export is due at once; the rest go next hour.
        await export_retention.purge_exports(
            platform.database, platform.storage, retention, limit=export_retention.PURGE_BATCH
        )

    @app.periodic(cron="* * * * *", periodic_id="forget-rate-limits")
    @app.task(
        name=FORGET_RATE_LIMITS_TASK,
        queue=MAINTENANCE_QUEUE,
        queueing_lock=FORGET_RATE_LIMITS_TASK,
    )
    async def forget_rate_limits(timestamp: int) -> None:
        async with platform.database.transaction() as session:
            forgotten = await rate_limit.forget_ended(session, rate_limit.WINDOW_SECONDS)
        if forgotten:
            log.info("rate_limits.forgotten", windows=forgotten)


async def _warm_up(platform: Platform) -> None:
    """Connect to every cell, read the published packs, rehearse seeding each of them in every
    cell (rolled back) and make sure the bucket exists, so the first run does not wait for any
    of it."""
    for cell in platform.database.cells:
        async with platform.database.engine(cell).connect():
            pass
    async with platform.database.transaction() as session:
        ready = await PUBLISHED.warm(session)
    for cell in platform.database.cells:
        await seeding.rehearse(platform.database, cell, ready)
    try:
        await platform.storage.ensure_bucket()
    except StorageError as exc:  # the runs will retry; the worker starts anyway
        log.warning("worker.storage_unavailable", error=str(exc))


async def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    name: str | None = None,
    queues: tuple[str, ...] | None = None,
    install_signal_handlers: bool = False,
    freeze_warm_heap: bool = False,
    database: Database | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Work until stopped (SIGINT/SIGTERM when ``install_signal_handlers``, or cancellation).

    ``freeze_warm_heap``, for a process that is the worker's own: what the warm-up loaded (boto's
    service models, the packs, compiled statements) lives as long as the process, so after it
    the garbage collector is told to leave it be (``gc.freeze``). Otherwise the first full
    collection — in the middle of the first run — walks all of it: a pause of ~0.13 s here,
    and every later one walks it again."""
    concurrency = concurrency or settings.worker_concurrency
    platform = Platform.build(settings, database)
    queue = JobQueue(settings, pool_size=concurrency + 4)
    register_tasks(queue, platform)
    try:
        async with platform.database.transaction() as session:
            await tenancy.sync_cells(session, settings)
        await _warm_up(platform)
        if freeze_warm_heap:
            gc.collect()
            gc.freeze()
        await queue.open()
        options: dict[str, Any] = {
            "queues": list(queues or QUEUES),
            "concurrency": concurrency,
            "name": name or "worker",
            "wait": True,
            "install_signal_handlers": install_signal_handlers,
            "update_heartbeat_interval": settings.worker_heartbeat_seconds,
            "stalled_worker_timeout": settings.worker_stalled_seconds,
            "fetch_job_polling_interval": settings.worker_heartbeat_seconds,
            "delete_jobs": "successful",
        }
        log.info("worker.started", name=options["name"], concurrency=concurrency)
        if started is not None:
            started.set()
        await queue.app.run_worker_async(**options)
    finally:
        await queue.close()
        if database is None:
            await platform.database.dispose()
        log.info("worker.stopped", name=name or "worker")
