"""Cells: a tenant's workspace rows live in its cell's database; requests route there."""

from __future__ import annotations

import psycopg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.config import Settings
from services.db.bootstrap import libpq_url
from services.db.engine import Database
from services.tenancy import service as tenancy
from tests.conftest import MakeWorkspace


def _count_in(url: str, tenant_id: object) -> int:
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, true)", (str(tenant_id),))
        row = conn.execute("SELECT count(*) FROM workspace.programmes").fetchone()
        assert row is not None
        return int(row[0])


async def test_a_tenant_in_the_eu_cell_is_served_from_the_eu_database(
    client: AsyncTestClient[Litestar], make_workspace: MakeWorkspace, settings: Settings
) -> None:
    ws = await make_workspace(cell="eu")
    created = await client.post(ws.programmes, json={"name": "In Europe"}, headers=ws.headers)
    assert created.status_code == 201
    assert (await client.get(ws.programmes, headers=ws.headers)).json()["total"] == 1

    urls = settings.cell_urls()
    assert _count_in(urls["eu"], ws.tenant_id) == 1
    assert _count_in(urls["default"], ws.tenant_id) == 0


async def _loads(database: Database) -> dict[str, int]:
    from sqlalchemy import func, select

    from services.tenancy.models import Tenant, TenantState

    async with database.session() as session:
        rows = await session.execute(
            select(Tenant.cell, func.count())
            .where(Tenant.state != TenantState.DELETED)
            .group_by(Tenant.cell)
        )
        return {"default": 0, "eu": 0} | {cell: int(n) for cell, n in rows.all()}


async def _least_loaded(database: Database) -> str:
    async with database.session() as session:
        return await tenancy.least_loaded_cell(session)


async def test_placement_picks_the_least_loaded_shared_cell(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    loads = await _loads(database)
    for _ in range(loads["default"] - loads["eu"] + 1):
        await make_workspace(cell="eu")
    assert await _least_loaded(database) == "default"

    loads = await _loads(database)
    for _ in range(loads["eu"] - loads["default"] + 1):
        await make_workspace(cell="default")
    assert await _least_loaded(database) == "eu"


async def test_lifecycle_transitions_follow_the_rules() -> None:
    from services.tenancy.models import TenantState as S

    assert tenancy.can_transition(S.PROVISIONING, S.ACTIVE)
    assert tenancy.can_transition(S.ACTIVE, S.SUSPENDED)
    assert tenancy.can_transition(S.SUSPENDED, S.ACTIVE)
    assert tenancy.can_transition(S.FAILED, S.PROVISIONING)
    assert not tenancy.can_transition(S.PROVISIONING, S.SUSPENDED)
    assert not tenancy.can_transition(S.DELETED, S.ACTIVE)
    assert not tenancy.can_transition(S.OFFBOARDING, S.ACTIVE)
