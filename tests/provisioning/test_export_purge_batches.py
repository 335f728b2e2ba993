"""The workers' hourly purge deletes a bounded batch of exports, oldest first, and leaves the rest
for the next hour: after a deploy every export past its retention is due at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import func, insert, select
from structlog.testing import capture_logs

from provisioning.worker import PURGE_EXPORTS_TASK
from services.db.base import utcnow
from services.db.engine import Database
from services.jobs import MAINTENANCE_QUEUE, JobQueue
from services.provisioning_runs.export_retention import PURGE_BATCH
from services.provisioning_runs.models import ProvisioningRun, RunKind, RunState
from tests.provisioning.conftest import Env, worker_in_process


@contextmanager
def info_logs() -> Iterator[list[dict[str, Any]]]:
    """The log lines written meanwhile, info ones included: an app created earlier in the
    session filters below its log level (WARNING in tests), before capture_logs sees them."""
    previous = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(wrapper_class=previous)


async def deleted(database: Database) -> set[uuid.UUID]:
    async with database.transaction() as session:
        found = await session.scalars(
            select(ProvisioningRun.id).where(ProvisioningRun.export_deleted_at.is_not(None))
        )
        return set(found)


async def test_the_hourly_purge_deletes_a_batch_oldest_first_and_logs_it(
    isolated: Env, isolated_database: Database
) -> None:
    # One more offboarding past its retention than a purge takes (months ago, one a day).
    long_ago = utcnow() - timedelta(days=400)
    rows = [
        {
            "id": uuid.uuid4(),
            "kind": RunKind.DEPROVISION,
            "state": RunState.SUCCEEDED,
            "tenant_id": uuid.uuid4(),
            "slug": f"gone-{n}",
            "request": {},
            "attempts": 1,
            "finished_at": long_ago + timedelta(days=n),
        }
        for n in range(PURGE_BATCH + 1)
    ]
    async with isolated_database.transaction() as session:
        await session.execute(insert(ProvisioningRun), rows)
    queue = JobQueue(isolated.settings)
    with info_logs() as logs:
        async with worker_in_process(isolated.settings, concurrency=1):
            try:
                await queue.open()
                purge = queue.app.configure_task(PURGE_EXPORTS_TASK, queue=MAINTENANCE_QUEUE)
                # A worker started within ten minutes of the hourly tick (minute 17) defers
                # that purge itself: then it is the one waiting, and the one that runs.
                with contextlib.suppress(AlreadyEnqueued):
                    await purge.defer_async(timestamp=int(time.time()))
                deadline = time.monotonic() + 60
                while not any(e["event"] == "provisioning.exports.purged" for e in logs):
                    assert time.monotonic() < deadline, "the purge did not finish"
                    await asyncio.sleep(0.1)
            finally:
                await queue.close()
    # The first run's own account: the oldest batch, and more due. (The hourly tick's purge,
    # when the worker deferred it too, may have run after it and taken the last one already.)
    oldest = {r["id"] for r in rows[:PURGE_BATCH]}
    summary = next(e for e in logs if e["event"] == "provisioning.exports.purged")
    assert summary["exports"] == PURGE_BATCH and summary["more_due"] is True
    assert set(summary["runs"]) == {str(i) for i in oldest}
    assert oldest <= await deleted(isolated_database)

    # The next hour's purge takes the rest.
    async with worker_in_process(isolated.settings, concurrency=1):
        try:
            await queue.open()
            purge = queue.app.configure_task(PURGE_EXPORTS_TASK, queue=MAINTENANCE_QUEUE)
            with contextlib.suppress(AlreadyEnqueued):
                await purge.defer_async(timestamp=int(time.time()) + 3600)
            deadline = time.monotonic() + 60
            while len(await deleted(isolated_database)) < len(rows):
                assert time.monotonic() < deadline, "the next purge did not take the rest"
                await asyncio.sleep(0.1)
        finally:
            await queue.close()
    async with isolated_database.transaction() as session:
        left = select(func.count()).where(ProvisioningRun.export_deleted_at.is_(None))
        assert await session.scalar(left) == 0
