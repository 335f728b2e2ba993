"""``pmo worker`` and ``pmo provisioning list|show|retry|cancel|purge-exports`` (wired in
through ``pmo.commands``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from services.cli import handles_errors, settings_from_env
from services.config import Settings
from services.db.engine import Database
from services.jobs import MAINTENANCE_QUEUE, PROVISIONING_QUEUE, JobQueue
from services.logging import configure_logging
from services.provisioning_runs import export_retention
from services.provisioning_runs import service as runs
from services.provisioning_runs.export_retention import PurgedExport
from services.provisioning_runs.models import ProvisioningRun, RunKind, RunState
from services.storage.service import Storage, StorageError
from services.tenancy import service as tenancy

R = TypeVar("R")


@click.command(name="worker")
@click.option("--concurrency", type=click.IntRange(1, 100), help="Default: PMO_WORKER_CONCURRENCY.")
@click.option("--name", help="Shown in logs (default: worker).")
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice([PROVISIONING_QUEUE, MAINTENANCE_QUEUE]),
    help="Only these queues (default: both). The maintenance queue re-queues dead workers' jobs.",
)
@handles_errors
def worker_command(concurrency: int | None, name: str | None, queues: tuple[str, ...]) -> None:
    """Run provisioning workers until SIGINT/SIGTERM (as many processes as needed)."""
    from provisioning.worker import run_worker

    settings = settings_from_env()
    settings.cell_urls()  # fail early, in one line, without a database URL
    configure_logging(settings)
    asyncio.run(
        run_worker(
            settings,
            concurrency=concurrency,
            name=name,
            queues=queues or None,
            install_signal_handlers=True,
            freeze_warm_heap=True,
        )
    )


@click.group(name="provisioning")
def provisioning_group() -> None:
    """Provisioning runs: list, inspect, retry, cancel a failed offboarding, delete exports."""


async def _in_control(settings: Settings, work: Callable[[AsyncSession], Awaitable[R]]) -> R:
    database = Database(settings)
    try:
        async with database.transaction() as session:
            return await work(session)
    finally:
        await database.dispose()


def _line(run: ProvisioningRun, emails: Mapping[uuid.UUID, str | None]) -> str:
    """One run; ``emails`` (:func:`runs.requesters`) name who asked for an offboarding."""
    requested = ""
    if run.requested_by is not None:
        requested = f"  requested by {emails.get(run.requested_by) or run.requested_by}"
    error = f"  {run.error}" if run.error else ""
    return (
        f"{run.id}  {run.kind.value:<11} {run.state.value:<9} {run.slug:<30} "
        f"attempts {run.attempts}  {run.created_at:%Y-%m-%d %H:%M:%S}{requested}{error}"
    )


@provisioning_group.command("list")
@click.option("--state", type=click.Choice([s.value for s in RunState]), help="e.g. failed")
@click.option("--kind", type=click.Choice([k.value for k in RunKind]))
@click.option("--slug", help="One workspace's runs (its signup's and offboarding's).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@handles_errors
def list_command(
    state: str | None, kind: str | None, slug: str | None, limit: int, offset: int
) -> None:
    """Runs, newest first."""

    async def work(session: AsyncSession) -> tuple[list[str], int]:
        rows, total = await runs.list_runs(
            session,
            state=RunState(state) if state else None,
            kind=RunKind(kind) if kind else None,
            limit=limit,
            offset=offset,
            slug=slug,
        )
        emails = await runs.requesters(session, rows)
        return [_line(run, emails) for run in rows], total

    rows, total = asyncio.run(_in_control(settings_from_env(), work))
    for row in rows:
        click.echo(row)
    shown = f"{offset + 1}–{offset + len(rows)}" if rows else "none"
    click.echo(f"{shown} of {total} run(s)", err=True)


@provisioning_group.command("show")
@click.argument("run_id", type=click.UUID)
@click.option(
    "--invitation",
    is_flag=True,
    help="Also print the admin's invitation token (to hand it over; it grants owner access).",
)
@handles_errors
def show_command(run_id: uuid.UUID, invitation: bool) -> None:
    """A run's state, progress and steps, with what each step made."""
    settings = settings_from_env()

    async def work(session: AsyncSession) -> list[str]:
        run = await runs.get_run(session, run_id)
        done = runs.progress(run.steps)
        lines = [
            _line(run, await runs.requesters(session, [run])),
            f"progress {done.done}/{done.total} ({done.percent} %)",
        ]
        for step in run.steps:
            lines.append(
                f"  {step.position + 1}. {step.name:<18} {step.state.value:<9} "
                f"attempts {step.attempts}" + (f"  error: {step.error}" if step.error else "")
            )
            if step.result:
                lines.append(f"       {json.dumps(step.result, sort_keys=True)}")
        if invitation and run.kind is RunKind.PROVISION:
            from provisioning.steps import invitation_secret, invitation_withheld

            withheld = await invitation_withheld(session, run)
            if withheld is not None:
                lines.append(f"invitation token: none to hand over ({withheld})")
            else:
                lines.append(f"invitation token: {invitation_secret(settings, run)}")
        return lines

    for line in asyncio.run(_in_control(settings, work)):
        click.echo(line)


@provisioning_group.command("retry")
@click.argument("run_id", type=click.UUID)
@handles_errors
def retry_command(run_id: uuid.UUID) -> None:
    """Retry a failed run from its first unfinished step."""
    settings = settings_from_env()

    async def work() -> str:
        run = await _in_control(settings, lambda s: runs.retry_run(s, run_id))
        queue = JobQueue(settings)
        try:
            await queue.defer_run(run.id, run.tenant_id)
        finally:
            await queue.close()
        return f"queued run {run.id} ({run.slug}) again"

    click.echo(asyncio.run(work()))


@provisioning_group.command("cancel")
@click.argument("run_id", type=click.UUID)
@handles_errors
def cancel_command(run_id: uuid.UUID) -> None:
    """Cancel a failed offboarding run that has removed nothing: the workspace reopens."""

    settings = settings_from_env()

    async def work(session: AsyncSession) -> str:
        run = await runs.cancel_offboarding(session, run_id, cancelled_by=None)
        tenant = await tenancy.require(session, run.tenant_id)
        return f"cancelled offboarding run {run.id}; {run.slug} is {tenant.state} again"

    async def delete_export() -> str:
        # After the cancellation committed (should S3 fail, the workers' purge deletes it).
        try:
            deleted = await _purge(settings, dry_run=False, run_ids=[run_id])
        except StorageError as exc:
            return f"its export is deleted later (S3: {exc})"
        files = sum(export.files for export in deleted)
        return f"deleted what its export had written ({files} file(s))"

    click.echo(asyncio.run(_in_control(settings, work)))
    click.echo(asyncio.run(delete_export()))


async def _purge(
    settings: Settings, *, dry_run: bool, run_ids: list[uuid.UUID] | None = None
) -> list[PurgedExport]:
    database = Database(settings)
    try:
        return await export_retention.purge_exports(
            database,
            Storage(settings),
            timedelta(days=settings.export_retention_days),
            dry_run=dry_run,
            run_ids=run_ids,
        )
    finally:
        await database.dispose()


@provisioning_group.command("purge-exports")
@click.option("--dry-run", is_flag=True, help="List the exports that are due; delete nothing.")
@handles_errors
def purge_exports_command(dry_run: bool) -> None:
    """Delete offboarding exports kept PMO_EXPORT_RETENTION_DAYS, and cancelled offboardings'
    (the workers do it every hour)."""
    settings = settings_from_env()
    purged = asyncio.run(_purge(settings, dry_run=dry_run))
    for export in purged:
        click.echo(
            f"{export.run_id}  {export.state.value:<9} {export.slug:<30} "
            f"{export.files} file(s)  {export.location}"
        )
    done = "to delete" if dry_run else "deleted"
    click.echo(f"{len(purged)} export(s) {done}", err=True)
