"""An operator's retry and cancel of a run take an ``Idempotency-Key``, as signups do: sent again
(a timed-out request retried), they answer what they answered the first time."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from services.provisioning_runs.models import RunState
from services.tenancy.models import TenantState
from tests.provisioning.conftest import Env, platform_admin_headers, wait_for_run, worker_in_process
from tests.provisioning.test_offboarding_cancel import (
    RUNS,
    failed_offboarding,
    tenant_state,
    workspace_with_owner,
)

Client = AsyncTestClient[Litestar]


async def test_a_retried_cancel_or_retry_answers_as_the_first_time(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    staff = await platform_admin_headers(isolated_database)
    other_staff = await platform_admin_headers(isolated_database)
    kept, _ = await workspace_with_owner(isolated, isolated_database)
    leaving, _ = await workspace_with_owner(isolated, isolated_database)
    export_fails = isolated.with_(provisioning_fault="export_workspace:before:fail")
    async with worker_in_process(export_fails, concurrency=2):
        to_cancel = await failed_offboarding(isolated_client, isolated_database, kept, staff)
        to_retry = await failed_offboarding(isolated_client, isolated_database, leaving, staff)

    cancel = f"{RUNS}/{to_cancel}/cancel"
    first = await isolated_client.post(cancel, headers={**staff, "Idempotency-Key": "c-1"})
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await isolated_client.post(cancel, headers={**staff, "Idempotency-Key": "c-1"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await tenant_state(isolated_database, kept) is TenantState.ACTIVE
    # Without the key, or with another, it is a second cancel: refused.
    assert (await isolated_client.post(cancel, headers=staff)).status_code == 409

    retry = f"{RUNS}/{to_retry}/retry"
    queued = await isolated_client.post(retry, headers={**staff, "Idempotency-Key": "r-1"})
    assert queued.status_code == 202, queued.text
    replay = await isolated_client.post(retry, headers={**staff, "Idempotency-Key": "r-1"})
    assert replay.status_code == 202, replay.text
    assert replay.json() == queued.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == queued.headers["Location"]
    # The key names one request: another run's retry with it is refused.
    reused = await isolated_client.post(
        f"{RUNS}/{to_cancel}/retry", headers={**staff, "Idempotency-Key": "r-1"}
    )
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency-key-reused"
    # Each operator's keys are their own: another's "r-1" is a retry of its own (refused: the
    # run is queued already), not someone else's answer.
    theirs = await isolated_client.post(retry, headers={**other_staff, "Idempotency-Key": "r-1"})
    assert theirs.status_code == 409, theirs.text
    async with worker_in_process(isolated.settings, concurrency=2):
        done = await wait_for_run(isolated_database, to_retry)
    assert done.state is RunState.SUCCEEDED
    assert await tenant_state(isolated_database, leaving) is TenantState.DELETED
