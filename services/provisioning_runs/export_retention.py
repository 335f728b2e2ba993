"""How long an offboarded workspace's export is kept, and its deletion.

A succeeded offboarding's export is kept for ``PMO_EXPORT_RETENTION_DAYS`` after the run
finished (its status hands out links to it until then, and says until when), then deleted with
everything else left under the deleted workspace's prefix; a cancelled offboarding's export —
what the export step wrote before the run failed — is not kept at all.
:func:`purge_exports` deletes both from S3 and records it on the run (``export_deleted_at``).
The workers run it every hour (``provisioning.purge_exports``), a cancellation at once, and
operators with ``pmo provisioning purge-exports``.

The hourly purge deletes at most :data:`PURGE_BATCH` exports a run, oldest first, and the rest
the next hour: after a deploy (or a long outage of the workers) every export past its retention
is due at once, and one run deleting them all would hold the maintenance queue for as long as
S3 takes. Each run logs what it deleted (``provisioning.exports.purged``) and whether more wait.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, and_, or_, select

from services.db.base import utcnow
from services.db.engine import Database
from services.provisioning_runs.models import ProvisioningRun, RunKind, RunState
from services.storage.service import Storage, export_prefix, tenant_prefix

log = structlog.get_logger("pmo.provisioning")

# The most exports the workers' hourly purge deletes in one run.
PURGE_BATCH = 50


@dataclass(frozen=True, slots=True)
class PurgedExport:
    """An export deleted (or, in a dry run, to be deleted): ``files`` objects under
    ``location``."""

    run_id: uuid.UUID
    slug: str
    state: RunState
    location: str
    files: int


def retained_until(run: ProvisioningRun, retention: timedelta) -> datetime | None:
    """When a succeeded offboarding's export is deleted; None for any other run."""
    if run.kind is not RunKind.DEPROVISION or run.state is not RunState.SUCCEEDED:
        return None
    return None if run.finished_at is None else run.finished_at + retention


def _kept_under(run: ProvisioningRun) -> str:
    """What to delete: a cancelled offboarding's export; after a succeeded one, everything the
    deleted workspace still has in S3 (its prefix's marker, which names its slug, too)."""
    if run.state is RunState.SUCCEEDED:
        return tenant_prefix(run.tenant_id)
    return export_prefix(run.tenant_id, run.id)


def _due(now: datetime, retention: timedelta) -> ColumnElement[bool]:
    """Offboarding runs whose export is still kept and should not be: cancelled ones, and
    succeeded ones that finished ``retention`` ago. A failed run keeps its export: it is
    retried (and reuses it) or cancelled."""
    run = ProvisioningRun
    return and_(
        run.kind == RunKind.DEPROVISION,
        run.export_deleted_at.is_(None),
        or_(
            run.state == RunState.CANCELLED,
            and_(run.state == RunState.SUCCEEDED, run.finished_at <= now - retention),
        ),
    )


async def purge_exports(
    database: Database,
    storage: Storage,
    retention: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    run_ids: Collection[uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[PurgedExport]:
    """Delete the exports that are due (as of ``now``; only those of ``run_ids`` if given),
    oldest first, each in a transaction of its own that records it on the run; at most
    ``limit`` of them (the rest are left for the next purge).

    Safe to repeat and to run beside itself: a run another purge is deleting is skipped (its
    row is locked), one already deleted is no longer due, and deleting objects that are gone is
    no error. A failure of S3 records nothing for that run, and ends the purge (the next one
    takes it up again). ``dry_run``: what would be deleted; nothing is."""
    now = now or utcnow()
    due = select(ProvisioningRun.id).where(_due(now, retention))
    if run_ids is not None:
        due = due.where(ProvisioningRun.id.in_(list(run_ids)))
    due = due.order_by(ProvisioningRun.finished_at, ProvisioningRun.id)
    if limit is not None:
        due = due.limit(limit + 1)  # one more: whether any are left for the next purge
    async with database.transaction() as session:
        found = list(await session.scalars(due))
    more_due = limit is not None and len(found) > limit
    found = found[:limit] if limit is not None else found
    purged: list[PurgedExport] = []
    for run_id in found:
        async with database.transaction() as session:
            run = await session.scalar(
                select(ProvisioningRun)
                .where(ProvisioningRun.id == run_id, _due(now, retention))
                .with_for_update(skip_locked=True)
            )
            if run is None:  # another purge has it, or has deleted it already
                continue
            location = _kept_under(run)
            if dry_run:
                files = len(await storage.keys(location))
            else:
                files = await storage.delete_prefix(location)
                run.export_deleted_at = utcnow()
                log.info(
                    "provisioning.export.deleted",
                    run_id=str(run.id),
                    tenant=run.slug,
                    state=run.state.value,
                    files=files,
                )
            purged.append(PurgedExport(run.id, run.slug, run.state, location, files))
    if not dry_run and (purged or more_due):
        log.info(
            "provisioning.exports.purged",
            exports=len(purged),
            files=sum(p.files for p in purged),
            runs=[str(p.run_id) for p in purged],
            more_due=more_due,
        )
    return purged
