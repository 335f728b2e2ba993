"""A token bound to a workspace acts on that workspace only — a platform admin's too: another
workspace does not exist for it, and the runs of every workspace are operated with an unbound
token."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import StaffRole
from services.provisioning_runs.models import ProvisioningRun
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState
from tests.provisioning.conftest import SIGNUP, signup_body, wait_for_run

Client = AsyncTestClient[Litestar]
RUNS = "/api/v1/provisioning-runs"
pytestmark = pytest.mark.usefixtures("worker")


async def test_a_platform_admins_workspace_bound_token_cannot_offboard_or_operate_elsewhere(
    shared_client: Client, shared_database: Database
) -> None:
    async with shared_database.transaction() as session:
        home, other = [
            await tenancy.create_tenant(
                session, slug=f"{name}-{uuid.uuid4().hex[:8]}", name=name, state=TenantState.ACTIVE
            )
            for name in ("home", "other")
        ]
        admin = await identity.create_user(
            session, f"ops-{uuid.uuid4().hex[:8]}@pmo.example", staff_role=StaffRole.PLATFORM_ADMIN
        )
        _, bound_secret = await identity.issue_token(session, admin.id, name="b", tenant_id=home.id)
    bound = {"Authorization": f"Bearer {bound_secret}"}
    run_id = (await shared_client.post(SIGNUP, json=signup_body())).json()["run_id"]
    await wait_for_run(shared_database, run_id, lambda r: bool(r.steps))

    # Another workspace: not found, as every workspace route answers a token bound elsewhere.
    elsewhere = await shared_client.post(
        f"/api/v1/w/{other.slug}/offboarding", json={"confirm": other.slug}, headers=bound
    )
    assert elsewhere.status_code == 404, elsewhere.text
    assert elsewhere.json()["detail"] == f"No workspace {other.slug!r}."
    async with shared_database.transaction() as session:
        kept = await session.get(Tenant, other.id)
        assert kept is not None and kept.state is TenantState.ACTIVE
        started = select(func.count()).where(ProvisioningRun.tenant_id == other.id)
        assert await session.scalar(started) == 0

    # Every workspace's runs: only with an unbound token.
    listed = await shared_client.get(RUNS, headers=bound)
    assert listed.status_code == 403
    assert "bound to one workspace" in listed.json()["detail"]
    retried = await shared_client.post(f"{RUNS}/{run_id}/retry", headers=bound)
    assert retried.status_code == 403
    seen = (await shared_client.get(f"{RUNS}/{run_id}", headers=bound)).json()
    assert all("result" not in s for s in seen["steps"])

    # Its own workspace it may still offboard (the operator bound it there for that).
    own = await shared_client.post(
        f"/api/v1/w/{home.slug}/offboarding", json={"confirm": home.slug}, headers=bound
    )
    assert own.status_code == 202, own.text
