"""Offboarding: the workspace is exported (JSON + CSV per table) to its storage, access is
revoked, every workspace row is purged table by table, the tenant is deleted — records stay."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from services.db import tenant_data
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.identity import service as identity
from services.identity.models import Membership, Role
from services.provisioning_runs.models import ProvisioningRun, RunKind, RunState
from services.storage.service import Storage
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState
from tests.provisioning.conftest import (
    Env,
    platform_admin_headers,
    provisioned,
    succeeded,
    superuser_count,
    wait_for_run,
    worker_in_process,
)

Client = AsyncTestClient[Litestar]
pytestmark = pytest.mark.usefixtures("worker")


async def test_an_owner_offboards_and_the_workspace_is_exported_then_purged(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, headers = await provisioned(shared_client, shared_database, shared)
    programmes = f"/api/v1/w/{slug}/programmes"
    for name in ("Benefits realisation", "Estates rationalisation"):
        created = await shared_client.post(
            programmes, json={"name": name}, headers={**headers, "Idempotency-Key": name}
        )
        assert created.status_code == 201
    async with shared_database.transaction() as session:
        tenant = (await session.scalars(select(Tenant).where(Tenant.slug == slug))).one()
        # A second member and their own (workspace-independent) token.
        other = await identity.create_user(session, f"{uuid.uuid4().hex[:8]}@example.org")
        await identity.grant_membership(session, other.id, tenant.id, Role.MEMBER)
        _, other_secret = await identity.issue_token(session, other.id, name="own")
    scope = TenantScope.single(tenant.id)
    async with shared_database.transaction(tenant.cell, scope) as session:
        before = await tenant_data.count_rows(session, tenant.id)
    # Every workspace table is counted (registers added later too). The signup seeded the
    # whole pack (its programme and registers); the owner added two programmes.
    assert before["programmes"] == 3
    assert before["idempotency_records"] == 2
    assert sum(1 for n in before.values() if n) > 10, before

    answer = await shared_client.post(
        f"/api/v1/w/{slug}/offboarding", json={"confirm": slug}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["slug"] == slug
    # Read-only at once: no more changes while it is exported.
    frozen = await shared_client.post(programmes, json={"name": "Late"}, headers=headers)
    assert frozen.status_code in {401, 409}

    run = await wait_for_run(shared_database, accepted["run_id"], succeeded)
    assert run.kind is RunKind.DEPROVISION
    assert [s.name for s in run.steps] == [
        "export_workspace",
        "revoke_access",
        "purge_workspace",
        "mark_deleted",
    ]
    export = next(s.result for s in run.steps if s.name == "export_workspace")
    assert export is not None
    assert export["location"] == f"tenants/{tenant.id}/exports/{run.id}/"
    # The client's data: the platform's bookkeeping (idempotency records) stays out of it.
    exported = {t.name: t for t in tenant_data.client_tables()}
    assert "idempotency_records" not in exported
    assert export["rows"] == {name: before[name] for name in exported}

    # Table by table, as the superuser (no row-level security): nothing of the tenant is left.
    cell_url = shared.settings.cell_urls()[tenant.cell]
    for table in tenant_data.workspace_tables():
        query = f"SELECT count(*) FROM workspace.{table.name} WHERE tenant_id = %s"
        assert superuser_count(shared.pg, cell_url, query, tenant.id) == 0, table.name

    storage = Storage(shared.settings)
    files = {k.rsplit("/", 1)[1] for k in await storage.keys(export["location"])}
    tables = {t.name for t in tenant_data.workspace_tables()}
    assert files == {"workspace.json", "members.csv"} | {
        f"{t}.csv" for t in tables - {"idempotency_records"}
    }
    assert {"programmes", "idempotency_records"} <= tables
    document = json.loads(await storage.read(export["location"] + "workspace.json"))
    assert document["format"] == "pmo-workspace-export/1"
    assert document["tenant"]["slug"] == slug
    assert set(document["tables"]) == set(exported)
    # A table without rows still has its header row.
    empty = next(name for name in sorted(exported) if before[name] == 0)
    content = (await storage.read(f"{export['location']}{empty}.csv")).decode("utf-8-sig")
    assert content.splitlines() == [",".join(c.name for c in exported[empty].columns)]
    names = {p["name"] for p in document["tables"]["programmes"]}
    assert names == {"Net Zero 2030", "Benefits realisation", "Estates rationalisation"}
    programmes_csv = await storage.read(export["location"] + "programmes.csv")
    rows = list(csv.DictReader(io.StringIO(programmes_csv.decode("utf-8-sig"))))
    assert {r["name"] for r in rows} == names
    assert all(r["tenant_id"] == str(tenant.id) for r in rows)

    # Access is gone: the invitation (bound to the workspace) is revoked, members are removed.
    assert (await shared_client.get(programmes, headers=headers)).status_code == 401
    other_headers = {"Authorization": f"Bearer {other_secret}"}
    assert (await shared_client.get(programmes, headers=other_headers)).status_code == 404
    async with shared_database.transaction() as session:
        kept = await session.get(Tenant, tenant.id)
        assert kept is not None and kept.state is TenantState.DELETED
        members = (
            select(func.count()).select_from(Membership).where(Membership.tenant_id == tenant.id)
        )
        assert await session.scalar(members) == 0
        runs = select(func.count()).select_from(ProvisioningRun)
        assert await session.scalar(runs.where(ProvisioningRun.tenant_id == tenant.id)) == 2
    status = (await shared_client.get(accepted["status_url"])).json()
    assert status["progress"] == {"done": 4, "total": 4, "percent": 100}


async def test_only_owners_and_platform_admins_may_offboard(
    shared_client: Client, shared_database: Database, shared: Env
) -> None:
    slug, owner = await provisioned(shared_client, shared_database, shared)
    path = f"/api/v1/w/{slug}/offboarding"
    assert (await shared_client.post(path, json={"confirm": slug})).status_code == 401
    async with shared_database.transaction() as session:
        tenant = (await session.scalars(select(Tenant).where(Tenant.slug == slug))).one()
        member = await identity.create_user(session, f"{uuid.uuid4().hex[:8]}@example.org")
        await identity.grant_membership(session, member.id, tenant.id, Role.ADMIN)
        _, member_secret = await identity.issue_token(session, member.id, name="t")
        stranger = await identity.create_user(session, f"{uuid.uuid4().hex[:8]}@example.org")
        _, stranger_secret = await identity.issue_token(session, stranger.id, name="t")
    admin_only = await shared_client.post(
        path, json={"confirm": slug}, headers={"Authorization": f"Bearer {member_secret}"}
    )
    assert admin_only.status_code == 403
    assert admin_only.json()["detail"] == (
        "Only the workspace's owners, or platform admins, can offboard it."
    )
    not_member = await shared_client.post(
        path, json={"confirm": slug}, headers={"Authorization": f"Bearer {stranger_secret}"}
    )
    assert not_member.status_code == 404

    staff = await platform_admin_headers(shared_database)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await shared_client.post(path, json={"confirm": slug}, headers={**staff, **key})
    assert first.status_code == 202, first.text
    replayed = await shared_client.post(path, json={"confirm": slug}, headers={**staff, **key})
    assert replayed.json() == first.json()
    twice = await shared_client.post(path, json={"confirm": slug}, headers=owner)
    assert twice.status_code in {401, 409}
    await wait_for_run(shared_database, first.json()["run_id"], succeeded)
    gone = await shared_client.post(path, json={"confirm": slug}, headers=staff)
    assert gone.status_code == 404


async def test_a_workspace_still_being_provisioned_cannot_be_offboarded(
    shared_client: Client, shared_database: Database
) -> None:
    slug = f"prov-{uuid.uuid4().hex[:8]}"
    async with shared_database.transaction() as session:
        tenant = Tenant(slug=slug, name="Half made", state=TenantState.PROVISIONING, cell="default")
        session.add(tenant)
    staff = await platform_admin_headers(shared_database)
    answer = await shared_client.post(
        f"/api/v1/w/{slug}/offboarding", json={"confirm": slug}, headers=staff
    )
    assert answer.status_code == 409
    assert "provisioning" in answer.json()["detail"]


async def test_a_workspace_being_offboarded_says_so_and_names_its_run(
    isolated: Env, isolated_client: Client, isolated_database: Database
) -> None:
    slug = f"leaving-{uuid.uuid4().hex[:8]}"
    async with isolated_database.transaction() as session:
        tenant = await tenancy.create_tenant(
            session, slug=slug, name="Leaving", state=TenantState.ACTIVE
        )
    await Storage(isolated.settings).ensure_tenant_prefix(tenant.id, slug, f"{tenant.id}:storage")
    staff = await platform_admin_headers(isolated_database)
    path = f"/api/v1/w/{slug}/offboarding"

    # No worker yet: the run waits in the queue.
    first = await isolated_client.post(path, json={"confirm": slug}, headers=staff)
    assert first.status_code == 202, first.text
    run_id = first.json()["run_id"]
    waiting = await isolated_client.post(path, json={"confirm": slug}, headers=staff)
    assert waiting.status_code == 409
    assert waiting.json()["detail"] == (
        f"The workspace {slug!r} is already being offboarded (run {run_id})."
    )

    failing = isolated.with_(provisioning_fault="export_workspace:before:fail")
    async with worker_in_process(failing, concurrency=2):
        run = await wait_for_run(isolated_database, run_id)
    assert run.state is RunState.FAILED
    stuck = await isolated_client.post(path, json={"confirm": slug}, headers=staff)
    assert stuck.status_code == 409
    assert stuck.json()["detail"] == (
        f"The workspace {slug!r} is already being offboarded (run {run_id} failed; a platform "
        f"admin can retry it: POST /api/v1/provisioning-runs/{run_id}/retry, or cancel it before "
        f"anything is removed: POST /api/v1/provisioning-runs/{run_id}/cancel)."
    )

    async with worker_in_process(isolated.settings, concurrency=2):
        retried = await isolated_client.post(
            f"/api/v1/provisioning-runs/{run_id}/retry", headers=staff
        )
        assert retried.status_code == 202, retried.text
        await wait_for_run(isolated_database, run_id, succeeded)
    async with isolated_database.transaction() as session:
        gone = await session.get(Tenant, tenant.id)
        assert gone is not None and gone.state is TenantState.DELETED
