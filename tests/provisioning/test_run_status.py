"""The status URL as the signup page and the client read it, and as staff read it: what went
wrong is said in plain words to anyone holding the run id, in full to platform staff only."""

from __future__ import annotations

import asyncio
import socket

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.cli import cli, load_plugin_commands
from services.db.engine import Database
from services.provisioning_runs.models import ProvisioningRun, RunState
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

Client = AsyncTestClient[Litestar]
RUNS = "/api/v1/provisioning-runs"


def closed_port() -> int:
    """A loopback port nothing listens on (an S3 endpoint that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_public_status_says_what_failed_in_plain_words_and_staff_read_the_error(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    s3_down = isolated.with_(
        s3_endpoint_url=f"http://127.0.0.1:{closed_port()}",
        provisioning_max_attempts=2,
        provisioning_retry_seconds=1.5,
    )
    staff = await platform_admin_headers(isolated_database)
    async with worker_in_process(s3_down, concurrency=2):
        run_id = (await isolated_client.post(SIGNUP, json=signup_body())).json()["run_id"]
        await wait_for_run(isolated_database, run_id, lambda r: r.state is RunState.RETRYING)
        retrying = (await isolated_client.get(f"{RUNS}/{run_id}")).json()
        run = await wait_for_run(isolated_database, run_id)
    assert run.state is RunState.FAILED
    assert run.error is not None and "S3 is unreachable" in run.error

    assert retrying["error"] == "create_storage: a temporary problem; retrying"
    steps = {s["name"]: s for s in retrying["steps"]}
    assert steps["create_storage"]["error"] == "a temporary problem; retrying"
    assert steps["reserve_tenant"]["error"] is None

    failed = await isolated_client.get(f"{RUNS}/{run_id}")
    assert failed.json()["error"] == "create_storage: failed; our staff have been told"
    steps = {s["name"]: s for s in failed.json()["steps"]}
    assert steps["create_storage"]["error"] == "failed; our staff have been told"
    # Nothing internal: no endpoint, bucket or tenant id.
    for shown in (failed.text, str(retrying)):
        assert "127.0.0.1" not in shown and "unreachable" not in shown
        assert str(run.tenant_id) not in shown and isolated.settings.s3_bucket not in shown

    full = (await isolated_client.get(f"{RUNS}/{run_id}", headers=staff)).json()
    assert full["error"] == run.error
    staff_steps = {s["name"]: s for s in full["steps"]}
    assert "S3 is unreachable" in staff_steps["create_storage"]["error"]


@pytest.mark.usefixtures("worker")
async def test_staff_see_who_asked_for_an_offboarding_and_nobody_else_does(
    shared: Env, shared_client: Client, shared_database: Database
) -> None:
    body = signup_body()
    signup = (await shared_client.post(SIGNUP, json=body)).json()
    await wait_for_run(shared_database, signup["run_id"], succeeded)
    owner = await owner_headers(shared.settings, signup["run_id"])
    answer = await shared_client.post(
        f"/api/v1/w/{body['slug']}/offboarding", json={"confirm": body["slug"]}, headers=owner
    )
    assert answer.status_code == 202, answer.text
    run = await wait_for_run(shared_database, answer.json()["run_id"], succeeded)
    assert run.requested_by is not None
    asked_by = {"user_id": str(run.requested_by), "email": body["admin_email"]}
    staff = await platform_admin_headers(shared_database)

    seen = (await shared_client.get(f"{RUNS}/{run.id}", headers=staff)).json()
    assert seen["requested_by"] == asked_by
    assert "requested_by" not in (await shared_client.get(f"{RUNS}/{run.id}")).json()
    listed = await shared_client.get(
        RUNS, params={"kind": "deprovision", "limit": 200}, headers=staff
    )
    [item] = [r for r in listed.json()["items"] if r["id"] == str(run.id)]
    assert item["requested_by"] == asked_by
    provisioned = (await shared_client.get(f"{RUNS}/{signup['run_id']}", headers=staff)).json()
    assert "requested_by" not in provisioned  # a signup's run: nobody signed in asked for it

    load_plugin_commands()
    runner = CliRunner(env=shared.process_env())
    shown = await asyncio.to_thread(runner.invoke, cli, ["provisioning", "show", str(run.id)])
    assert shown.exit_code == 0, shown.output
    assert f"requested by {body['admin_email']}" in shown.stdout.splitlines()[0]
    listed_cli = await asyncio.to_thread(
        runner.invoke, cli, ["provisioning", "list", "--kind", "deprovision", "--limit", "1000"]
    )
    [line] = [x for x in listed_cli.stdout.splitlines() if x.startswith(str(run.id))]
    assert f"requested by {body['admin_email']}" in line


async def test_a_retried_run_goes_on_counting_its_attempts(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    failing = isolated.with_(provisioning_fault="seed_workspace:before:fail")
    async with worker_in_process(failing, concurrency=2):
        run_id = (await isolated_client.post(SIGNUP, json=signup_body())).json()["run_id"]
        run = await wait_for_run(isolated_database, run_id)
        assert (run.state, run.attempts) == (RunState.FAILED, 1)
        for tries in (2, 3):
            retried = await isolated_client.post(f"{RUNS}/{run_id}/retry", headers=staff)
            assert retried.status_code == 202, retried.text
            assert retried.json()["attempts"] == tries - 1  # tried so far; not reset

            def failed_again(r: ProvisioningRun, n: int = tries) -> bool:
                return r.state is RunState.FAILED and r.attempts == n

            run = await wait_for_run(isolated_database, run_id, failed_again)
    seed = next(s for s in run.steps if s.name == "seed_workspace")
    assert seed.attempts == run.attempts == 3
    shown = (await isolated_client.get(f"{RUNS}/{run_id}")).json()
    assert shown["attempts"] == 3
