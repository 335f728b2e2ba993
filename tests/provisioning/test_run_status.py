"""The status URL as the signup page and the client read it, and as staff read it: what went
wrong is said in plain words to anyone holding the run id, in full to platform staff only."""

from __future__ import annotations

import socket

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from services.provisioning_runs.models import RunState
from tests.provisioning.conftest import (
    SIGNUP,
    Env,
    platform_admin_headers,
    signup_body,
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
