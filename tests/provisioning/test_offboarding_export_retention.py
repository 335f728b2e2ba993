"""A leaving client's export is kept for the stated time (``PMO_EXPORT_RETENTION_DAYS``), then
deleted from S3, and the run says so; a cancelled offboarding keeps nothing of its export."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from provisioning.worker import PURGE_EXPORTS_TASK
from services.cli import cli, load_plugin_commands
from services.db.engine import Database
from services.jobs import MAINTENANCE_QUEUE, JobQueue
from services.provisioning_runs import service as runs
from services.provisioning_runs.export_retention import purge_exports
from services.provisioning_runs.models import ProvisioningRun, RunState
from services.storage.service import Storage, export_prefix, tenant_prefix
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    owner_headers,
    platform_admin_headers,
    signup_body,
    succeeded,
    wait_for_run,
    worker_in_process,
)
from tests.provisioning.test_offboarding_cancel import failed_offboarding, workspace_with_owner

Client = AsyncTestClient[Litestar]
RUNS = "/api/v1/provisioning-runs"
RETENTION = timedelta(days=30)  # the default


async def offboarded(client: Client, database: Database, env: Env) -> ProvisioningRun:
    """A workspace signed up and offboarded: its succeeded offboarding run."""
    signup = await client.post(SIGNUP, json=signup_body())
    await wait_for_run(database, signup.json()["run_id"], succeeded)
    owner = await owner_headers(env.settings, signup.json()["run_id"])
    slug = signup.json()["slug"]
    answer = await client.post(
        f"/api/v1/w/{slug}/offboarding", json={"confirm": slug}, headers=owner
    )
    assert answer.status_code == 202, answer.text
    return await wait_for_run(database, answer.json()["run_id"], succeeded)


async def finished_ago(database: Database, run: ProvisioningRun, age: timedelta) -> None:
    """The run finished ``age`` ago (its retention is counted from then)."""
    assert run.finished_at is not None
    async with database.transaction() as session:
        await session.execute(
            update(ProvisioningRun)
            .where(ProvisioningRun.id == run.id)
            .values(finished_at=run.finished_at - age)
        )


async def stored(storage: Storage, run: ProvisioningRun) -> list[str]:
    return await storage.keys(export_prefix(run.tenant_id, run.id))


async def test_an_export_is_deleted_once_its_retention_ends_and_the_run_says_so(
    worker: None, shared_client: Client, shared_database: Database, shared: Env
) -> None:
    storage = Storage(shared.settings)
    young = await offboarded(shared_client, shared_database, shared)
    old = await offboarded(shared_client, shared_database, shared)
    status = (await shared_client.get(f"{RUNS}/{old.id}")).json()
    assert old.finished_at is not None
    assert datetime.fromisoformat(status["export"]["retained_until"]) == old.finished_at + RETENTION
    assert "export_deleted_at" not in status
    assert "workspace.json" in status["export"]["files"]
    files = await stored(storage, old)
    assert {f"{export_prefix(old.tenant_id, old.id)}workspace.json"} <= set(files)

    # Neither is due yet: the purge keeps both.
    kept = await purge_exports(shared_database, storage, RETENTION)
    assert {young.id, old.id}.isdisjoint(p.run_id for p in kept)
    assert await stored(storage, old) == files

    await finished_ago(shared_database, old, RETENTION + timedelta(minutes=1))
    await finished_ago(shared_database, young, RETENTION - timedelta(hours=1))
    # Past its retention the status hands out no links, even before the purge has run.
    assert "export" not in (await shared_client.get(f"{RUNS}/{old.id}")).json()
    # A link never outlives the export: the young one's expire when it is deleted.
    young_export = (await shared_client.get(f"{RUNS}/{young.id}")).json()["export"]
    assert young_export["expires_at"] <= young_export["retained_until"]

    # Two purges at once (two workers, or a worker and an operator): the export is deleted once.
    first, second = await asyncio.gather(
        purge_exports(shared_database, storage, RETENTION),
        purge_exports(shared_database, storage, RETENTION),
    )
    deleted = [p for p in first + second if p.run_id == old.id]
    # The export, and the prefix's marker (tagged with the slug): nothing of the client is left.
    assert len(deleted) == 1 and deleted[0].files == len(files) + 1
    assert await storage.keys(tenant_prefix(old.tenant_id)) == []
    assert await storage.keys(tenant_prefix(young.tenant_id)) != []
    assert await stored(storage, young) != []
    async with shared_database.transaction() as session:
        run = await runs.get_run(session, old.id)
        assert run.export_deleted_at is not None
        assert young.id == (await runs.get_run(session, young.id)).id
        assert (await runs.get_run(session, young.id)).export_deleted_at is None
    status = (await shared_client.get(f"{RUNS}/{old.id}")).json()
    assert "export" not in status
    assert datetime.fromisoformat(status["export_deleted_at"]) == run.export_deleted_at
    staff = await platform_admin_headers(shared_database)
    listed = await shared_client.get(RUNS, params={"slug": old.slug}, headers=staff)
    [summary] = [r for r in listed.json()["items"] if r["id"] == str(old.id)]
    assert summary["export_deleted_at"] == status["export_deleted_at"]

    # Again: nothing more to do, and the record stands as it was.
    again = await purge_exports(shared_database, storage, RETENTION)
    assert old.id not in {p.run_id for p in again}
    async with shared_database.transaction() as session:
        assert (await runs.get_run(session, old.id)).export_deleted_at == run.export_deleted_at


async def test_the_workers_purge_deletes_exports_past_their_retention(
    worker: None, shared_client: Client, shared_database: Database, shared: Env
) -> None:
    storage = Storage(shared.settings)
    old = await offboarded(shared_client, shared_database, shared)
    await finished_ago(shared_database, old, RETENTION + timedelta(days=1))
    # What the worker's hourly schedule defers, deferred now.
    queue = JobQueue(shared.settings)
    try:
        await queue.open()
        purge = queue.app.configure_task(PURGE_EXPORTS_TASK, queue=MAINTENANCE_QUEUE)
        await purge.defer_async(timestamp=int(time.time()))
        await wait_for_run(shared_database, old.id, lambda r: r.export_deleted_at is not None)
    finally:
        await queue.close()
    assert await stored(storage, old) == []


async def test_operators_purge_exports_from_the_command_line(
    worker: None, shared_client: Client, shared_database: Database, shared: Env
) -> None:
    storage = Storage(shared.settings)
    old = await offboarded(shared_client, shared_database, shared)
    await finished_ago(shared_database, old, RETENTION + timedelta(days=1))
    files = await stored(storage, old)
    load_plugin_commands()
    runner = CliRunner(env=shared.process_env())
    command = ["provisioning", "purge-exports"]

    dry = await asyncio.to_thread(runner.invoke, cli, [*command, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{old.id}  succeeded" in dry.stdout
    assert f"{len(files) + 1} file(s)  {tenant_prefix(old.tenant_id)}" in dry.stdout
    assert "export(s) to delete" in dry.stderr
    assert await stored(storage, old) == files
    async with shared_database.transaction() as session:
        assert (await runs.get_run(session, old.id)).export_deleted_at is None

    purged = await asyncio.to_thread(runner.invoke, cli, command)
    assert purged.exit_code == 0, purged.output
    assert f"{old.id}  succeeded" in purged.stdout
    assert await storage.keys(tenant_prefix(old.tenant_id)) == []
    again = await asyncio.to_thread(runner.invoke, cli, command)
    assert again.exit_code == 0, again.output
    assert str(old.id) not in again.stdout


async def test_a_cancelled_offboarding_keeps_nothing_of_its_export(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    storage = Storage(isolated.settings)
    staff = await platform_admin_headers(isolated_database)
    tenant, _ = await workspace_with_owner(isolated, isolated_database)
    # The export's files are written, then the run fails before recording them.
    export_dies = isolated.with_(provisioning_fault="export_workspace:after:fail")
    async with worker_in_process(export_dies, concurrency=2):
        run_id = await failed_offboarding(isolated_client, isolated_database, tenant, staff)
    partial = export_prefix(tenant.id, uuid.UUID(run_id))
    assert "workspace.json" in {key.removeprefix(partial) for key in await storage.keys(partial)}
    # A failed run keeps its export: a retry goes on from it.
    assert await purge_exports(isolated_database, storage, RETENTION) == []
    assert await storage.keys(partial) != []

    cancelled = await isolated_client.post(f"{RUNS}/{run_id}/cancel", headers=staff)
    assert cancelled.status_code == 200, cancelled.text
    assert await storage.keys(partial) == []
    status = (await isolated_client.get(f"{RUNS}/{run_id}")).json()
    assert status["state"] == RunState.CANCELLED
    assert "export" not in status
    assert datetime.fromisoformat(status["export_deleted_at"]) >= datetime.fromisoformat(
        status["cancelled_at"]
    )
    assert await purge_exports(isolated_database, storage, RETENTION) == []


async def test_a_cancelled_offboardings_export_left_behind_is_deleted_by_the_purge(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    """Cancelled before the cancellation deleted exports (or S3 failed then): the purge does."""
    storage = Storage(isolated.settings)
    staff = await platform_admin_headers(isolated_database)
    tenant, _ = await workspace_with_owner(isolated, isolated_database)
    export_dies = isolated.with_(provisioning_fault="export_workspace:after:fail")
    async with worker_in_process(export_dies, concurrency=2):
        run_id = await failed_offboarding(isolated_client, isolated_database, tenant, staff)
    load_plugin_commands()
    runner = CliRunner(env=isolated.process_env())
    async with isolated_database.transaction() as session:
        await runs.cancel_offboarding(session, uuid.UUID(run_id), cancelled_by=None)
    partial = export_prefix(tenant.id, uuid.UUID(run_id))
    assert await storage.keys(partial) != []

    [purged] = await purge_exports(isolated_database, storage, RETENTION)
    assert purged.run_id == uuid.UUID(run_id) and purged.state is RunState.CANCELLED
    assert await storage.keys(partial) == []
    status = (await isolated_client.get(f"{RUNS}/{run_id}")).json()
    assert "export_deleted_at" in status
    again = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "purge-exports"])
    assert again.exit_code == 0 and run_id not in again.stdout, again.output
