"""A failed offboarding that has removed nothing can be abandoned by a platform admin: the
workspace is what it was before, and open again. Once access is being revoked or data purged,
the offboarding only goes forward."""

from __future__ import annotations

import asyncio
import uuid

from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.cli import cli, load_plugin_commands
from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import Role, StaffRole, TokenScope
from services.provisioning_runs.models import ProvisioningRun, RunState
from services.storage.service import Storage
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState
from tests.provisioning.conftest import (
    Env,
    platform_admin_headers,
    succeeded,
    wait_for_run,
    worker_in_process,
)

Client = AsyncTestClient[Litestar]
RUNS = "/api/v1/provisioning-runs"


async def workspace_with_owner(
    env: Env, database: Database, state: TenantState = TenantState.ACTIVE
) -> tuple[Tenant, dict[str, str]]:
    slug = f"stay-{uuid.uuid4().hex[:8]}"
    async with database.transaction() as session:
        tenant = await tenancy.create_tenant(session, slug=slug, name="Stay", state=state)
        owner = await identity.create_user(session, f"owner-{slug}@example.org")
        await identity.grant_membership(session, owner.id, tenant.id, Role.OWNER)
        _, secret = await identity.issue_token(session, owner.id, name="t", tenant_id=tenant.id)
    await Storage(env.settings).ensure_tenant_prefix(tenant.id, slug, f"{tenant.id}:storage")
    return tenant, {"Authorization": f"Bearer {secret}"}


async def failed_offboarding(
    client: Client, database: Database, tenant: Tenant, staff: dict[str, str]
) -> str:
    answer = await client.post(
        f"/api/v1/w/{tenant.slug}/offboarding", json={"confirm": tenant.slug}, headers=staff
    )
    assert answer.status_code == 202, answer.text
    run = await wait_for_run(database, answer.json()["run_id"])
    assert run.state is RunState.FAILED
    return str(run.id)


async def tenant_state(database: Database, tenant: Tenant) -> TenantState:
    async with database.transaction() as session:
        return (await tenancy.require(session, tenant.id)).state


async def test_a_failed_offboarding_that_removed_nothing_is_cancelled_and_the_workspace_reopens(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    tenant, owner = await workspace_with_owner(isolated, isolated_database)
    suspended, _ = await workspace_with_owner(
        isolated, isolated_database, state=TenantState.SUSPENDED
    )
    export_fails = isolated.with_(provisioning_fault="export_workspace:before:fail")
    async with worker_in_process(export_fails, concurrency=2):
        run_id = await failed_offboarding(isolated_client, isolated_database, tenant, staff)
        suspended_run = await failed_offboarding(
            isolated_client, isolated_database, suspended, staff
        )
    settings = f"/api/v1/w/{tenant.slug}/settings"
    locked = await isolated_client.get(settings, headers=owner)
    assert locked.status_code == 409
    assert locked.json()["code"] == "tenant-unavailable"

    # Platform admins with a writing, unbound token only.
    async with isolated_database.transaction() as session:
        admin = await identity.create_user(
            session, f"ro-{uuid.uuid4().hex[:8]}@pmo.example", staff_role=StaffRole.PLATFORM_ADMIN
        )
        _, read_only = await identity.issue_token(
            session, admin.id, name="ro", scopes=frozenset({TokenScope.READ})
        )
        _, bound = await identity.issue_token(session, admin.id, name="b", tenant_id=tenant.id)
    cancel = f"{RUNS}/{run_id}/cancel"
    assert (await isolated_client.post(cancel)).status_code == 401
    for refused in (owner, {"Authorization": f"Bearer {read_only}"}):
        assert (await isolated_client.post(cancel, headers=refused)).status_code == 403
    assert (
        await isolated_client.post(cancel, headers={"Authorization": f"Bearer {bound}"})
    ).status_code == 403
    assert await tenant_state(isolated_database, tenant) is TenantState.OFFBOARDING

    key = {"Idempotency-Key": uuid.uuid4().hex}
    cancelled = await isolated_client.post(cancel, headers={**staff, **key})
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["state"] == "cancelled" and body["cancelled_at"] is not None
    assert body["error"].startswith("cancelled; the workspace is active again (it had failed: ")
    # The answer is the run as its status reads: the partial export's deletion included.
    assert body["export_deleted_at"] is not None
    assert body == (await isolated_client.get(f"{RUNS}/{run_id}", headers=staff)).json()
    replayed = await isolated_client.post(cancel, headers={**staff, **key})
    assert replayed.status_code == 200, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == body
    assert await tenant_state(isolated_database, tenant) is TenantState.ACTIVE
    # Open again, with the owner's token as it was.
    assert (await isolated_client.get(settings, headers=owner)).status_code == 200
    public = (await isolated_client.get(f"{RUNS}/{run_id}")).json()
    assert public["error"] == (
        "cancelled by our staff: the workspace and its data are as they were; the partial "
        "export was deleted"
    )
    assert public["state"] == "cancelled"
    # Listed as cancelled, no longer among the failed runs waiting for an operator.
    for state, listed in (("cancelled", True), ("failed", False)):
        page = await isolated_client.get(RUNS, params={"state": state}, headers=staff)
        assert page.status_code == 200, page.text
        assert (run_id in {r["id"] for r in page.json()["items"]}) is listed, state
        assert all(r["state"] == state for r in page.json()["items"])

    again = await isolated_client.post(cancel, headers=staff)
    assert again.status_code == 409
    assert "cancelled already" in again.json()["detail"]
    retried = await isolated_client.post(f"{RUNS}/{run_id}/retry", headers=staff)
    assert retried.status_code == 409
    assert "was cancelled" in retried.json()["detail"]
    assert await tenant_state(isolated_database, tenant) is TenantState.ACTIVE

    # The operator's command; a suspended workspace goes back to suspended, not active.
    load_plugin_commands()
    runner = CliRunner(env=isolated.process_env())
    by_cli = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "cancel", suspended_run])
    assert by_cli.exit_code == 0, by_cli.output
    assert (
        f"cancelled offboarding run {suspended_run}; {suspended.slug} is suspended again"
        in by_cli.stdout
    )
    assert await tenant_state(isolated_database, suspended) is TenantState.SUSPENDED
    listed = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "list", "--state", "cancelled"]
    )
    assert listed.exit_code == 0, listed.output
    assert {line.split()[0] for line in listed.stdout.splitlines()} == {run_id, suspended_run}
    assert all(" cancelled " in line for line in listed.stdout.splitlines())
    shown = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "show", run_id])
    assert shown.exit_code == 0, shown.output
    assert f"{run_id}  deprovision cancelled " in shown.stdout

    # Offboarding can be asked for again, and then goes through.
    async with worker_in_process(isolated.settings, concurrency=2):
        answer = await isolated_client.post(
            f"/api/v1/w/{tenant.slug}/offboarding", json={"confirm": tenant.slug}, headers=owner
        )
        assert answer.status_code == 202, answer.text
        done = await wait_for_run(isolated_database, answer.json()["run_id"], succeeded)
    assert done.id != uuid.UUID(run_id)
    assert await tenant_state(isolated_database, tenant) is TenantState.DELETED


async def test_an_offboarding_that_began_removing_or_did_not_fail_is_not_cancelled(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    tenant, _ = await workspace_with_owner(isolated, isolated_database)
    revoking_fails = isolated.with_(provisioning_fault="revoke_access:before:fail")
    async with worker_in_process(revoking_fails, concurrency=2):
        run_id = await failed_offboarding(isolated_client, isolated_database, tenant, staff)
    refused = await isolated_client.post(f"{RUNS}/{run_id}/cancel", headers=staff)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "This offboarding cannot be cancelled: its step revoke_access has begun, and what it "
        "does (revoking access, deleting the workspace's data) cannot be undone. Retry it to "
        f"finish the offboarding: POST {RUNS}/{run_id}/retry."
    )
    assert await tenant_state(isolated_database, tenant) is TenantState.OFFBOARDING
    load_plugin_commands()
    runner = CliRunner(env=isolated.process_env())
    by_cli = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "cancel", run_id])
    assert by_cli.exit_code == 1
    assert "its step revoke_access has begun" in by_cli.output

    async with worker_in_process(isolated.settings, concurrency=2):
        retried = await isolated_client.post(f"{RUNS}/{run_id}/retry", headers=staff)
        assert retried.status_code == 202, retried.text
        await wait_for_run(isolated_database, run_id, succeeded)
    finished = await isolated_client.post(f"{RUNS}/{run_id}/cancel", headers=staff)
    assert finished.status_code == 409
    assert finished.json()["detail"] == (
        "Only a failed offboarding run can be cancelled; this one has succeeded."
    )
    assert await tenant_state(isolated_database, tenant) is TenantState.DELETED


async def test_an_offboarding_from_before_runs_kept_the_state_is_not_cancelled(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    tenant, _ = await workspace_with_owner(isolated, isolated_database, state=TenantState.SUSPENDED)
    export_fails = isolated.with_(provisioning_fault="export_workspace:before:fail")
    async with worker_in_process(export_fails, concurrency=1):
        run_id = await failed_offboarding(isolated_client, isolated_database, tenant, staff)
    async with isolated_database.transaction() as session:
        # As a run asked for before runs recorded the workspace's state.
        run = await session.get(ProvisioningRun, uuid.UUID(run_id))
        assert run is not None
        run.request = {k: v for k, v in run.request.items() if k != "tenant_state"}

    refused = await isolated_client.post(f"{RUNS}/{run_id}/cancel", headers=staff)
    assert refused.status_code == 409, refused.text
    assert "cannot tell what to reopen it as" in refused.json()["detail"]
    # Not reopened as active: it was suspended.
    assert await tenant_state(isolated_database, tenant) is TenantState.OFFBOARDING
