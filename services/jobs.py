"""The job queue: procrastinate on the default cell's database (schema ``procrastinate``).

``services`` hands work to the workers here, by task *name*; the tasks themselves are registered
on the same :class:`procrastinate.App` by ``provisioning`` (which ``services`` never imports).
A job carries only a run id: the run row is the durable record, the job is a nudge. If a nudge is
lost (the database went away between commit and defer), the workers' sweep finds the stranded
run and nudges it again.
"""

from __future__ import annotations

import asyncio
import uuid

import procrastinate
import structlog
from procrastinate import exceptions as procrastinate_errors

from services.config import DEFAULT_CELL, Settings
from services.db.bootstrap import libpq_url

QUEUE_SCHEMA = "procrastinate"
PROVISIONING_QUEUE = "provisioning"
MAINTENANCE_QUEUE = "maintenance"
RUN_TASK = "provisioning.run"

log = structlog.get_logger("pmo.jobs")


def tenant_lock(tenant_id: uuid.UUID) -> str:
    """Jobs holding the same lock never run at the same time: one run per tenant at a time."""
    return f"tenant:{tenant_id}"


RUN_QUEUEING_LOCK_PREFIX = "run:"


def run_queueing_lock(run_id: uuid.UUID) -> str:
    """At most one waiting job per run, however often it is nudged."""
    return f"{RUN_QUEUEING_LOCK_PREFIX}{run_id}"


class JobQueue:
    """The procrastinate app on the default cell, opened on first use."""

    def __init__(self, settings: Settings, *, pool_size: int = 2) -> None:
        connector = procrastinate.PsycopgConnector(
            conninfo=libpq_url(settings.cell_urls()[DEFAULT_CELL]),
            min_size=1,
            max_size=pool_size,
            timeout=10,
            # procrastinate's SQL names its tables and functions without a schema.
            kwargs={"options": f"-c search_path={QUEUE_SCHEMA}"},
        )
        self.app = procrastinate.App(connector=connector)
        self._open = False
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        async with self._opening:
            if not self._open:
                await self.app.open_async()
                self._open = True

    async def warm_up(self) -> None:
        """Open now if the database is there; if not, the first deferral tries again."""
        try:
            await self.open()
        except Exception as exc:
            log.warning("jobs.unavailable", error=str(exc))

    async def close(self) -> None:
        # Also after an interrupted open: the pool may exist without having opened.
        await self.app.close_async()
        self._open = False

    async def defer_run(self, run_id: uuid.UUID, tenant_id: uuid.UUID) -> bool:
        """Ask a worker to execute the run; False if a job for it is already waiting."""
        await self.open()
        deferrer = self.app.configure_task(
            RUN_TASK,
            queue=PROVISIONING_QUEUE,
            lock=tenant_lock(tenant_id),
            queueing_lock=run_queueing_lock(run_id),
        )
        try:
            await deferrer.defer_async(run_id=str(run_id))
        except procrastinate_errors.AlreadyEnqueued:
            return False
        return True

    async def nudge(self, run_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        """:meth:`defer_run` for a run already committed: a failure is logged, not raised — the
        run is recorded, and the workers' sweep will find it."""
        try:
            await self.defer_run(run_id, tenant_id)
        except Exception as exc:
            log.warning("provisioning.defer.failed", run_id=str(run_id), error=str(exc))
