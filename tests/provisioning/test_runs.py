"""Runs as staff see them — over HTTP and with `pmo provisioning list|show|retry` — and the
rules behind them (slugs, progress, backoff, step registration)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from provisioning.faults import PermanentStepError, TransientStepError
from provisioning.workflow import PROVISION, Workflow, is_transient, readable
from services.cli import cli, load_plugin_commands
from services.db import tenant_data
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.errors import Conflict
from services.identity import service as identity
from services.identity.models import ApiToken, Membership, StaffRole, TokenScope
from services.jobs import JobQueue
from services.provisioning_runs import service as runs
from services.provisioning_runs.models import (
    ProvisioningRun,
    ProvisioningStep,
    RunKind,
    RunState,
    StepState,
)
from services.provisioning_runs.service import derive_slug, progress, retry_delay, slug_candidates
from services.storage.service import StorageRefused, StorageUnavailable
from services.tenancy.models import Tenant, TenantState
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    StartWorker,
    platform_admin_headers,
    signup_body,
    succeeded,
    wait_for_run,
    worker_in_process,
)

Client = AsyncTestClient[Litestar]
RUNS = "/api/v1/provisioning-runs"


@pytest.mark.usefixtures("worker")
async def test_platform_admins_list_and_filter_runs_and_see_what_each_step_made(
    shared_client: Client, shared_database: Database
) -> None:
    answer = await shared_client.post(SIGNUP, json=signup_body())
    run_id = answer.json()["run_id"]
    await wait_for_run(shared_database, run_id, succeeded)
    staff = await platform_admin_headers(shared_database)

    assert (await shared_client.get(RUNS)).status_code == 401
    listed = await shared_client.get(
        RUNS, params={"kind": "provision", "limit": 200}, headers=staff
    )
    assert listed.status_code == 200
    page = listed.json()
    assert run_id in {r["id"] for r in page["items"]}
    assert {r["kind"] for r in page["items"]} == {"provision"}
    failed = await shared_client.get(RUNS, params={"state": "failed"}, headers=staff)
    assert all(r["state"] == "failed" for r in failed.json()["items"])
    # One workspace's history, among the many runs of the shared database.
    other = await shared_client.post(SIGNUP, json=signup_body())
    slug = answer.json()["slug"]
    mine = (await shared_client.get(RUNS, params={"slug": slug}, headers=staff)).json()
    assert [r["id"] for r in mine["items"]] == [run_id] and mine["total"] == 1
    theirs = await shared_client.get(RUNS, params={"slug": other.json()["slug"]}, headers=staff)
    assert [r["id"] for r in theirs.json()["items"]] == [other.json()["run_id"]]
    nobody = await shared_client.get(RUNS, params={"slug": "no-such-client"}, headers=staff)
    assert nobody.json()["items"] == [] and nobody.json()["total"] == 0
    # A misspelt filter is refused, not ignored (it would list every run as if all failed).
    misspelt = await shared_client.get(RUNS, params={"stat": "failed"}, headers=staff)
    assert misspelt.status_code == 422
    assert misspelt.json()["errors"] == [
        {"field": "stat", "message": "not a parameter here", "source": "query"}
    ]
    assert (await shared_client.get(RUNS, params={"stat": "failed"})).status_code == 401
    # The status URL is open to the signup page; its query is checked for anonymous callers too.
    polled = await shared_client.get(f"{RUNS}/{run_id}", params={"wait": "1"})
    assert polled.status_code == 422
    assert polled.json()["errors"][0]["field"] == "wait"

    seen = (await shared_client.get(f"{RUNS}/{run_id}", headers=staff)).json()
    made = {s["name"]: s["result"] for s in seen["steps"]}
    assert made["create_storage"]["prefix"].startswith("tenants/")
    assert made["place_in_cell"]["cell"] in {"default", "eu"}
    assert made["seed_workspace"]["pack"] == {"key": "msp-governance", "version": "1.1.0"}
    assert (await shared_client.get(f"{RUNS}/{uuid.uuid4()}")).status_code == 404
    bad_token = {"Authorization": "Bearer pmo_nope"}
    assert (await shared_client.get(f"{RUNS}/{run_id}", headers=bad_token)).status_code == 401


@pytest.mark.usefixtures("worker")
async def test_clients_cannot_list_or_retry_runs(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    from tests.provisioning.conftest import owner_headers

    answer = await shared_client.post(SIGNUP, json=signup_body())
    run_id = answer.json()["run_id"]
    await wait_for_run(shared_database, run_id, succeeded)
    owner = await owner_headers(shared.settings, run_id)
    assert (await shared_client.get(RUNS, headers=owner)).status_code == 403
    assert (await shared_client.post(f"{RUNS}/{run_id}/retry", headers=owner)).status_code == 403


async def test_the_cli_lists_shows_and_retries_a_failed_run(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    broken = start_worker(provisioning_fault="create_admin:before:fail")
    answer = await isolated_client.post(SIGNUP, json=signup_body())
    run_id = answer.json()["run_id"]
    await wait_for_run(isolated_database, run_id)
    broken.stop()
    load_plugin_commands()  # as `pmo` does: the groups come from the pmo.commands entry points
    assert cli.commands["demo"].callback.__module__ == "provisioning.demo"  # type: ignore[union-attr]
    runner = CliRunner(env=isolated.process_env())

    listed = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "list", "--state", "failed"]
    )
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.stdout
    assert "create_admin: injected permanent failure before create_admin" in listed.stdout
    slug = answer.json()["slug"]
    other = await isolated_client.post(SIGNUP, json=signup_body())
    one = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "list", "--slug", slug])
    assert one.exit_code == 0, one.output
    assert run_id in one.stdout and other.json()["run_id"] not in one.stdout
    assert "1–1 of 1 run(s)" in one.stderr
    paged = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "list", "--limit", "1", "--offset", "1"]
    )
    assert paged.exit_code == 0, paged.output
    # Newest first: the second signup's run, then (at offset 1) the failed one.
    assert run_id in paged.stdout and other.json()["run_id"] not in paged.stdout
    assert "2–2 of 2 run(s)" in paged.stderr

    shown = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "show", run_id, "--invitation"]
    )
    assert shown.exit_code == 0, shown.output
    assert "progress 3/6 (50 %)" in shown.stdout
    assert "4. create_admin" in shown.stdout and "failed" in shown.stdout
    assert '"prefix": "tenants/' in shown.stdout
    assert "invitation token: pmo_" in shown.stdout

    retried = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "retry", run_id])
    assert retried.exit_code == 0, retried.output
    assert f"queued run {run_id}" in retried.stdout
    start_worker()
    run = await wait_for_run(isolated_database, run_id, succeeded)
    assert {s.name: s.attempts for s in run.steps}["create_admin"] == 2
    again = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "retry", run_id])
    assert again.exit_code == 1
    assert "Only a failed run can be retried; this one has succeeded." in again.output
    # A revoked invitation is not handed over.
    invitation = next(s.result for s in run.steps if s.name == "create_admin")
    assert invitation is not None
    async with isolated_database.transaction() as session:
        await identity.revoke_token(session, uuid.UUID(invitation["invitation_token_id"]))
    revoked = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "show", run_id, "--invitation"]
    )
    assert revoked.exit_code == 0, revoked.output
    assert "invitation token: none to hand over (the token was revoked at " in revoked.stdout
    assert "pmo_" not in revoked.stdout
    unknown = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "show", str(uuid.uuid4())]
    )
    assert unknown.exit_code == 1 and "No provisioning run" in unknown.output


# ------------------------------------------------------------------------------- retrying


SEED_FAILS = "seed_workspace:before:fail"


async def read_only_platform_admin_headers(database: Database) -> dict[str, str]:
    async with database.transaction() as session:
        user = await identity.create_user(
            session, f"ro-{uuid.uuid4().hex[:8]}@pmo.example", staff_role=StaffRole.PLATFORM_ADMIN
        )
        _, secret = await identity.issue_token(
            session, user.id, name="ops", scopes=frozenset({TokenScope.READ})
        )
    return {"Authorization": f"Bearer {secret}"}


def seed_attempts(run: ProvisioningRun) -> int:
    return next(s.attempts for s in run.steps if s.name == "seed_workspace")


async def offboarded_after_failed_signup(
    env: Env, client: Client, database: Database, staff: dict[str, str]
) -> tuple[str, str, Tenant]:
    """A signup that failed at ``seed_workspace``, then offboarded: the provision run's id, the
    deprovision run's id, and the deleted tenant."""
    async with worker_in_process(env.with_(provisioning_fault=SEED_FAILS), concurrency=2):
        body = signup_body()
        run_id = (await client.post(SIGNUP, json=body)).json()["run_id"]
        run = await wait_for_run(database, run_id)
        assert run.state is RunState.FAILED, run.error
        offboarding = await client.post(
            f"/api/v1/w/{body['slug']}/offboarding", json={"confirm": body["slug"]}, headers=staff
        )
        assert offboarding.status_code == 202, offboarding.text
        deprovision_id = offboarding.json()["run_id"]
        await wait_for_run(database, deprovision_id, succeeded)
    async with database.transaction() as session:
        tenant = await session.get(Tenant, run.tenant_id)
    assert tenant is not None and tenant.state is TenantState.DELETED
    return run_id, deprovision_id, tenant


async def workspace_rows(database: Database, tenant: Tenant) -> int:
    async with database.transaction(tenant.cell, TenantScope.single(tenant.id)) as session:
        return sum((await tenant_data.count_rows(session, tenant.id)).values())


async def test_a_failed_run_is_retried_by_writing_platform_admins_with_its_status_url(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    async with worker_in_process(isolated.with_(provisioning_fault=SEED_FAILS), concurrency=2):
        run_id = (await isolated_client.post(SIGNUP, json=signup_body())).json()["run_id"]
        run = await wait_for_run(isolated_database, run_id)
        assert run.state is RunState.FAILED
        # The run ends when its failed step does, not before it.
        failed_step = next(s for s in run.steps if s.state is StepState.FAILED)
        assert failed_step.name == "seed_workspace"
        assert run.finished_at is not None and failed_step.finished_at is not None
        assert run.finished_at >= failed_step.finished_at

        read_only = await read_only_platform_admin_headers(isolated_database)
        refused = await isolated_client.post(f"{RUNS}/{run_id}/retry", headers=read_only)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "This API token is read-only."
        unchanged = await wait_for_run(isolated_database, run_id, lambda r: True)
        assert unchanged.state is RunState.FAILED and seed_attempts(unchanged) == 1

        staff = await platform_admin_headers(isolated_database)
        retried = await isolated_client.post(f"{RUNS}/{run_id}/retry", headers=staff)
        assert retried.status_code == 202, retried.text
        assert retried.headers["location"] == f"{RUNS}/{run_id}"
        assert retried.json()["state"] == "queued"
        await wait_for_run(
            isolated_database,
            run_id,
            lambda r: r.state is RunState.FAILED and seed_attempts(r) == 2,
        )


async def test_a_provisioning_run_of_an_offboarded_workspace_is_not_retried(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    run_id, deprovision_id, tenant = await offboarded_after_failed_signup(
        isolated, isolated_client, isolated_database, staff
    )
    assert await workspace_rows(isolated_database, tenant) == 0

    refused = await isolated_client.post(f"{RUNS}/{run_id}/retry", headers=staff)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert f"The workspace {tenant.slug!r} is deleted (offboarding run {deprovision_id})" in detail
    assert "cannot be retried" in detail
    # The operator's command keeps the same rule.
    load_plugin_commands()
    runner = CliRunner(env=isolated.process_env())
    cli_retry = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "retry", run_id])
    assert cli_retry.exit_code == 1
    assert "cannot be retried" in cli_retry.output
    # Nor is its invitation handed out: the workspace's tokens are revoked.
    shown = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "show", run_id, "--invitation"]
    )
    assert shown.exit_code == 0, shown.output
    assert (
        "invitation token: none to hand over (the workspace is deleted; its tokens are revoked)"
        in shown.stdout
    )
    assert "pmo_" not in shown.stdout

    run = await wait_for_run(isolated_database, run_id)
    assert run.state is RunState.FAILED and seed_attempts(run) == 1
    assert await workspace_rows(isolated_database, tenant) == 0


async def test_a_provisioning_step_never_writes_in_an_offboarded_workspace(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    run_id, _, tenant = await offboarded_after_failed_signup(
        isolated, isolated_client, isolated_database, staff
    )
    # The run queued again behind the rules' back (as a retry did before they were checked).
    async with isolated_database.transaction() as session:
        run = await runs.get_run(session, uuid.UUID(run_id))
        for step in run.steps:
            if step.state is not StepState.SUCCEEDED:
                step.state = StepState.PENDING
        run.state, run.error, run.finished_at = RunState.QUEUED, None, None
    queue = JobQueue(isolated.settings)
    try:
        await queue.defer_run(run.id, run.tenant_id)
    finally:
        await queue.close()

    async with worker_in_process(isolated.settings, concurrency=2):
        run = await wait_for_run(isolated_database, run_id)
    assert run.state is RunState.FAILED
    assert run.error == (
        "seed_workspace: the workspace is deleted; provisioning does not write to it"
    )
    assert seed_attempts(run) == 2
    assert await workspace_rows(isolated_database, tenant) == 0
    async with isolated_database.transaction() as session:
        kept = await session.get(Tenant, tenant.id)
        assert kept is not None and kept.state is TenantState.DELETED
        members = select(func.count()).where(Membership.tenant_id == tenant.id)
        assert await session.scalar(members) == 0
        live = select(func.count()).where(
            ApiToken.tenant_id == tenant.id, ApiToken.revoked_at.is_(None)
        )
        assert await session.scalar(live) == 0


# ------------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Acme Ltd", "acme-ltd"),
        ("Zoë & Søn — Consulting", "zoe-sn-consulting"),
        ("  NHS   Trust 42 ", "nhs-trust-42"),
        ("X", "x-org"),
        ("東京", "org"),
        ("a" * 80, "a" * 50),
    ],
)
def test_a_slug_is_derived_from_the_organisation_name(name: str, slug: str) -> None:
    assert derive_slug(name) == slug


def test_derived_slugs_are_tried_numbered_then_random() -> None:
    candidates = slug_candidates("acme")
    assert candidates[:3] == ["acme", "acme-2", "acme-3"]
    assert len(set(candidates)) == len(candidates)


def test_progress_counts_succeeded_steps() -> None:
    steps = [
        ProvisioningStep(name=f"s{i}", position=i, state=state, attempts=1)
        for i, state in enumerate(
            [StepState.SUCCEEDED, StepState.SUCCEEDED, StepState.RUNNING, StepState.PENDING]
        )
    ]
    assert progress(steps).percent == 50
    assert (progress(steps).done, progress(steps).total) == (2, 4)
    assert progress([]).percent == 0


def test_retries_back_off_exponentially() -> None:
    assert [retry_delay(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]


def test_failures_are_sorted_into_worth_retrying_or_not() -> None:
    assert is_transient(StorageUnavailable("S3 is unreachable"))
    assert is_transient(TransientStepError("busy"))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(StorageRefused("S3 refused"))
    assert not is_transient(PermanentStepError("bad input"))
    assert not is_transient(Conflict("taken"))
    assert not is_transient(KeyError("a bug"))
    assert readable("create_admin", Conflict("The slug is taken.")) == (
        "create_admin: The slug is taken."
    )
    assert readable("x", KeyError("k")) == "x: KeyError: 'k'"


def test_the_provisioning_steps_run_in_order_and_a_new_one_is_one_registration() -> None:
    assert PROVISION.names == [
        "reserve_tenant",
        "place_in_cell",
        "create_storage",
        "create_admin",
        "seed_workspace",
        "activate",
    ]
    workflow = Workflow(RunKind.PROVISION)
    for name in PROVISION.names:
        step = PROVISION.get(name)
        assert step is not None
        workflow.step(step.action)

    async def create_billing(ctx: object) -> dict[str, str]:
        return {}

    workflow.step(create_billing, before="seed_workspace")  # type: ignore[arg-type]
    assert workflow.names.index("create_billing") == workflow.names.index("seed_workspace") - 1
    with pytest.raises(ValueError, match="already has a step"):
        workflow.step(create_billing)  # type: ignore[arg-type]
