"""Reliability, proved with real worker processes: killed at every step, S3 down, bad settings,
attempts exhausted, 20 signups at once — the run completes (or fails readably) and nothing is
ever made twice or opened half-made."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import timedelta

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text

from provisioning.local_s3 import LocalS3
from services.db.engine import Database
from services.demo import free_port
from services.identity.models import ApiToken, Membership, Role, User
from services.jobs import JobQueue, run_queueing_lock
from services.provisioning_runs import execution
from services.provisioning_runs import service as signups
from services.provisioning_runs.models import ProvisioningRun, RunKind, RunState, StepState
from services.provisioning_runs.schemas import SignupCreate
from services.storage.service import Storage
from services.tenancy.models import Tenant, TenantState
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    StartWorker,
    owner_headers,
    platform_admin_headers,
    signup_body,
    succeeded,
    superuser_count,
    wait_for_run,
)

Client = AsyncTestClient[Litestar]
STEPS = [
    "reserve_tenant",
    "place_in_cell",
    "create_storage",
    "create_admin",
    "seed_workspace",
    "activate",
]


def step_of(run: ProvisioningRun, name: str) -> object:
    return next(s for s in run.steps if s.name == name)


def attempts(run: ProvisioningRun) -> dict[str, int]:
    return {s.name: s.attempts for s in run.steps}


async def sign_up(client: Client, **changes: object) -> tuple[dict[str, str], str]:
    body = signup_body(**changes)
    answer = await client.post(SIGNUP, json=body)
    assert answer.status_code == 202, answer.text
    return body, answer.json()["run_id"]


async def assert_made_once(env: Env, database: Database, run_id: str, email: str) -> None:
    """Exactly one tenant, owner, invitation, storage prefix and seeded programme."""
    async with database.transaction() as session:
        run = await session.get(ProvisioningRun, uuid.UUID(run_id))
        assert run is not None
        tenants = (await session.scalars(select(Tenant).where(Tenant.slug == run.slug))).all()
        assert [(t.id, t.state) for t in tenants] == [(run.tenant_id, TenantState.ACTIVE)]
        tenant = tenants[0]
        members = (
            await session.execute(
                select(User.email, Membership.role)
                .join(User, User.id == Membership.user_id)
                .where(Membership.tenant_id == tenant.id)
            )
        ).all()
        assert members == [(email, Role.OWNER)]
        users = select(func.count()).select_from(User).where(User.email == email)
        assert await session.scalar(users) == 1
        tokens = select(func.count()).select_from(ApiToken).where(ApiToken.tenant_id == tenant.id)
        assert await session.scalar(tokens) == 1
    cell_url = env.settings.cell_urls()[tenant.cell]
    for table, expected in (("programmes", 1), ("idempotency_records", 0)):
        query = f"SELECT count(*) FROM workspace.{table} WHERE tenant_id = %s"
        assert superuser_count(env.pg, cell_url, query, tenant.id) == expected, table
    # One seeded set: the pack's risks are there, each item once.
    risks = "SELECT count(*) FROM workspace.risks WHERE tenant_id = %s"
    distinct = "SELECT count(DISTINCT source_item) FROM workspace.risks WHERE tenant_id = %s"
    seeded_risks = superuser_count(env.pg, cell_url, risks, tenant.id)
    assert seeded_risks > 0
    assert superuser_count(env.pg, cell_url, distinct, tenant.id) == seeded_risks
    marker = f"tenants/{tenant.id}/"
    assert await Storage(env.settings).keys(marker) == [marker]


async def test_a_worker_killed_at_any_step_is_resumed_by_another_and_nothing_is_made_twice(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    interrupted: dict[str, tuple[str, str]] = {}
    for step in STEPS:
        body, run_id = await sign_up(isolated_client)
        # Provisioning queue only: no sweep re-queues an earlier victim's run into this one.
        victim = start_worker(
            concurrency=1, queue="provisioning", provisioning_fault=f"{step}:after:crash"
        )
        # Killed with SIGKILL after the step's effect, before its record: the worst moment.
        assert await asyncio.to_thread(victim.wait, 90) == -signal.SIGKILL, victim.output()
        run = await wait_for_run(isolated_database, run_id, lambda r: True)
        assert run.state is RunState.RUNNING
        assert step_of(run, step).state is StepState.RUNNING  # type: ignore[attr-defined]
        interrupted[step] = (run_id, body["admin_email"])

    start_worker(concurrency=4)
    for step, (run_id, email) in interrupted.items():
        run = await wait_for_run(isolated_database, run_id, succeeded, within=90)
        tries = attempts(run)
        assert tries[step] == 2, (step, tries)
        assert all(n == 1 for name, n in tries.items() if name != step), (step, tries)
        await assert_made_once(isolated, isolated_database, run_id, email)
    # Six tenants, six prefixes: the bucket holds nothing else.
    assert len(await Storage(isolated.settings).keys("tenants/")) == len(STEPS)


async def test_s3_unreachable_at_first_is_retried_with_backoff_then_completes(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    port = free_port("127.0.0.1")
    endpoint = f"http://127.0.0.1:{port}"  # nothing listens here yet
    start_worker(
        s3_endpoint_url=endpoint, provisioning_retry_seconds=1.0, provisioning_max_attempts=8
    )
    _, run_id = await sign_up(isolated_client)

    def failed_twice(run: ProvisioningRun) -> bool:
        return step_of(run, "create_storage").attempts >= 2 if run.steps else False  # type: ignore[attr-defined]

    run = await wait_for_run(isolated_database, run_id, failed_twice, within=60)
    assert run.state in {RunState.RETRYING, RunState.RUNNING}
    assert "S3 is unreachable" in (run.error or "")
    s3 = LocalS3(port=port).start()
    try:
        run = await wait_for_run(isolated_database, run_id, succeeded, within=60)
        assert attempts(run)["create_storage"] >= 3
        assert run.error is None
        marker = f"tenants/{run.tenant_id}/"
        assert await Storage(isolated.with_(s3_endpoint_url=endpoint)).keys(marker) == [marker]
    finally:
        s3.stop()


async def test_a_permanent_failure_fails_readably_and_a_retry_after_the_fix_completes(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    misconfigured = start_worker(s3_bucket="x")  # S3 refuses bucket names under 3 characters
    body, run_id = await sign_up(isolated_client)
    run = await wait_for_run(isolated_database, run_id)
    assert run.state is RunState.FAILED
    assert run.error is not None and run.error.startswith("create_storage: S3 refused")
    assert attempts(run)["create_storage"] == 1  # permanent: not retried
    status = (await isolated_client.get(f"/api/v1/provisioning-runs/{run_id}")).json()
    assert status["state"] == "failed"
    # Anyone with the run id reads it in plain words; staff read the error itself.
    assert status["error"] == "create_storage: failed; our staff have been told"
    assert status["progress"] == {"done": 2, "total": 6, "percent": 33}
    async with isolated_database.transaction() as session:
        tenant = await session.get(Tenant, run.tenant_id)
        assert tenant is not None and tenant.state is TenantState.FAILED

    misconfigured.stop()
    start_worker()
    retry = f"/api/v1/provisioning-runs/{run_id}/retry"
    assert (await isolated_client.post(retry)).status_code == 401
    admin = await platform_admin_headers(isolated_database)
    seen = await isolated_client.get(f"/api/v1/provisioning-runs/{run_id}", headers=admin)
    assert seen.json()["error"] == run.error
    answer = await isolated_client.post(retry, headers=admin)
    assert answer.status_code == 202, answer.text
    assert answer.json()["state"] == "queued"
    run = await wait_for_run(isolated_database, run_id, succeeded)
    assert attempts(run) == {s: 2 if s == "create_storage" else 1 for s in STEPS}
    again = await isolated_client.post(retry, headers=admin)
    assert again.status_code == 409
    await assert_made_once(isolated, isolated_database, run_id, body["admin_email"])


async def test_transient_failures_past_the_last_attempt_fail_the_run_and_tenant(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    start_worker(provisioning_fault="create_admin:before:transient", provisioning_max_attempts=3)
    _, run_id = await sign_up(isolated_client)
    run = await wait_for_run(isolated_database, run_id, within=60)
    assert run.state is RunState.FAILED
    assert run.error == "create_admin: injected transient failure before create_admin"
    assert run.attempts == 3
    assert attempts(run)["create_admin"] == 3
    async with isolated_database.transaction() as session:
        tenant = await session.get(Tenant, run.tenant_id)
        assert tenant is not None and tenant.state is TenantState.FAILED


async def test_a_tenant_whose_seeding_failed_is_never_active_and_shows_no_partial_data(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    # The seed is written, then the step fails for good before it is recorded.
    broken = start_worker(provisioning_fault="seed_workspace:after:fail")
    body, run_id = await sign_up(isolated_client)
    run = await wait_for_run(isolated_database, run_id)
    assert run.state is RunState.FAILED
    assert step_of(run, "activate").state is StepState.PENDING  # type: ignore[attr-defined]
    headers = await owner_headers(isolated.settings, run_id)
    for path in ("programmes", "settings"):
        answer = await isolated_client.get(f"/api/v1/w/{body['slug']}/{path}", headers=headers)
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "tenant-unavailable"
        assert "Net Zero" not in answer.text

    # After the fix, an operator's retry finds the seed it made and opens the workspace.
    broken.stop()
    start_worker()
    admin = await platform_admin_headers(isolated_database)
    retried = await isolated_client.post(f"/api/v1/provisioning-runs/{run_id}/retry", headers=admin)
    assert retried.status_code == 202
    run = await wait_for_run(isolated_database, run_id, succeeded)
    seeded = next(s for s in run.steps if s.name == "seed_workspace")
    # The seed was written before the failure: the retry finds it and writes nothing twice.
    assert seeded.result is not None and seeded.result["seeded"] is False
    await assert_made_once(isolated, isolated_database, run_id, body["admin_email"])
    listed = await isolated_client.get(f"/api/v1/w/{body['slug']}/programmes", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1


async def test_twenty_signups_at_once_with_two_workers_make_twenty_active_tenants(
    isolated: Env,
    isolated_client: Client,
    isolated_database: Database,
    start_worker: StartWorker,
) -> None:
    start_worker(concurrency=4)
    start_worker(concurrency=4)
    shared_name = f"Acme {uuid.uuid4().hex[:6]}"
    bodies = [signup_body(organisation_name=shared_name, slug=None) for _ in range(10)]
    bodies += [signup_body() for _ in range(10)]
    answers = await asyncio.gather(*(isolated_client.post(SIGNUP, json=b) for b in bodies))
    assert [a.status_code for a in answers] == [202] * 20
    slugs = [a.json()["slug"] for a in answers]
    assert len(set(slugs)) == 20
    for answer in answers:
        await wait_for_run(isolated_database, answer.json()["run_id"], succeeded, within=120)
    async with isolated_database.transaction() as session:
        states = (
            await session.execute(select(Tenant.slug, Tenant.state).where(Tenant.slug.in_(slugs)))
        ).all()
    assert sorted(states) == sorted((s, TenantState.ACTIVE) for s in slugs)
    assert len(await Storage(isolated.settings).keys("tenants/")) == 20
    for body, answer in zip(bodies, answers, strict=True):
        await assert_made_once(
            isolated, isolated_database, answer.json()["run_id"], body["admin_email"]
        )


async def recorded_signup(env: Env, database: Database) -> ProvisioningRun:
    """A signup recorded as the API records it, but whose job never reached the queue."""
    body = signup_body()
    async with database.transaction() as session:
        data = msgspec.convert(body, SignupCreate)
        plan = await signups.check_signup(session, env.settings, data)
        return await signups.start_signup(session, plan)


async def test_a_run_whose_job_was_lost_is_found_by_the_sweep_and_completed(
    isolated: Env, isolated_database: Database, start_worker: StartWorker
) -> None:
    run = await recorded_signup(isolated, isolated_database)
    start_worker()
    done = await wait_for_run(isolated_database, run.id, succeeded, within=60)
    assert attempts(done) == dict.fromkeys(STEPS, 1)


async def test_the_sweep_leaves_a_run_alone_while_its_job_waits_or_runs(
    isolated: Env, isolated_database: Database
) -> None:
    """A second job beside a waiting or running one would deadlock the run: when the first
    asked to be retried, the queueing lock would refuse it and leave it running forever."""
    run = await recorded_signup(isolated, isolated_database)
    queue = JobQueue(isolated.settings)
    assert await queue.defer_run(run.id, run.tenant_id)
    await queue.close()

    async def stranded(job_status: str | None) -> list[uuid.UUID]:
        async with isolated_database.transaction() as session:
            # Quiet for a minute, as when every worker is busy or still warming up.
            await session.execute(
                text(
                    "UPDATE control.provisioning_runs SET updated_at = now() - interval '1 minute'"
                    " WHERE id = :id"
                ),
                {"id": run.id},
            )
            job = {"lock": run_queueing_lock(run.id), "status": job_status}
            await session.execute(text("SET LOCAL search_path TO procrastinate"))  # its triggers
            if job_status is None:
                forget = "DELETE FROM procrastinate.procrastinate_jobs WHERE queueing_lock = :lock"
                await session.execute(text(forget), job)
            else:
                move = (
                    "UPDATE procrastinate.procrastinate_jobs SET status = :status"
                    " WHERE queueing_lock = :lock"
                )
                await session.execute(text(move), job)
            found = await execution.stranded_runs(session, timedelta(seconds=1.5))
        return [r.id for r in found]

    assert await stranded("todo") == []
    assert await stranded("doing") == []
    # A job that ended while its run is still active left it behind: nudged.
    assert await stranded("failed") == [run.id]
    assert await stranded(None) == [run.id]  # the job is lost: nudged


async def test_a_run_is_held_by_one_execution_at_a_time_and_a_lapsed_one_records_nothing(
    isolated: Env, isolated_database: Database
) -> None:
    run = await recorded_signup(isolated, isolated_database)
    plan = {RunKind.PROVISION: ["first", "second"]}

    async def claim(owner: str, attempt: int) -> execution.ClaimedRun | None:
        async with isolated_database.transaction() as session:
            return await execution.claim(
                session, run.id, owner=owner, lease_seconds=0.5, attempt=attempt, plan_for=plan
            )

    async def record(owner: str, name: str, following: str | None) -> None:
        async with isolated_database.transaction() as session:
            await execution.record_step(
                session,
                run.id,
                owner=owner,
                lease_seconds=0.5,
                name=name,
                result={"by": owner},
                next_step=following,
            )

    held = await claim("A", 1)
    assert held is not None
    assert held.steps == {"first": StepState.RUNNING, "second": StepState.PENDING}
    with pytest.raises(execution.RunBusy):
        await claim("B", 2)
    await asyncio.sleep(0.6)  # A went silent: its lease lapses
    taken = await claim("B", 2)
    assert taken is not None
    with pytest.raises(execution.LeaseLost):
        await record("A", "first", "second")  # fenced: A's late record is refused
    await record("B", "first", "second")
    await record("B", "second", None)
    async with isolated_database.transaction() as session:
        done = await session.get(ProvisioningRun, run.id)
        assert done is not None
        await session.refresh(done, ["steps"])
        assert (done.state, done.lease_owner, done.attempts) == (RunState.SUCCEEDED, None, 2)
        assert [(s.name, s.attempts, s.result) for s in done.steps] == [
            ("first", 2, {"by": "B"}),
            ("second", 1, {"by": "B"}),
        ]
    assert await claim("C", 3) is None  # a finished run is nobody's to claim
