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


async def _counted(database: Database) -> dict[str, int]:
    from sqlalchemy import select

    from services.tenancy.models import Cell

    async with database.session() as session:
        rows = await session.execute(select(Cell.name, Cell.live_tenants))
        return {"default": 0, "eu": 0} | {name: int(n) for name, n in rows.all()}


async def test_each_cell_counts_its_live_tenants_whatever_changes_them(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    """Placement reads the cells' counters; they must equal the tenants they count after every
    kind of change (insert, move, lifecycle, deletion, removal of the row)."""
    import uuid

    from sqlalchemy import delete, insert, update

    from services.tenancy.models import Tenant, TenantState

    assert await _counted(database) == await _loads(database)
    before = await _counted(database)

    tenant_id = uuid.uuid4()
    async with database.transaction() as session:
        await tenancy.reserve(session, tenant_id, slug=f"count-{tenant_id.hex[:8]}", name="C")
    assert await _counted(database) == before | {"default": before["default"] + 1}
    async with database.transaction() as session:
        await tenancy.place(session, tenant_id, "eu")
        await tenancy.set_state(session, tenant_id, TenantState.ACTIVE)
    moved = before | {"eu": before["eu"] + 1}
    assert await _counted(database) == moved == await _loads(database)

    ws = await make_workspace(cell="eu")  # through the ORM
    assert await _counted(database) == moved | {"eu": moved["eu"] + 1}
    async with database.transaction() as session:
        for tenant in (
            await session.get(Tenant, tenant_id),
            await session.get(Tenant, ws.tenant_id),
        ):
            assert tenant is not None
            await tenancy.change_state(session, tenant, TenantState.OFFBOARDING)
            await tenancy.change_state(session, tenant, TenantState.DELETED)
    assert await _counted(database) == before == await _loads(database)

    async with database.transaction() as session:  # a deleted tenant's row going changes nothing
        await session.execute(delete(Tenant).where(Tenant.id == tenant_id))
    assert await _counted(database) == before == await _loads(database)

    # Many tenants in one statement (an import): each cell's count moves by its share.
    batch = [uuid.uuid4() for _ in range(5)]
    async with database.transaction() as session:
        await session.execute(
            insert(Tenant),
            [
                {
                    "id": one,
                    "slug": f"batch-{one.hex[:10]}",
                    "name": "Batch",
                    "state": TenantState.DELETED if i == 0 else TenantState.ACTIVE,
                    "cell": "eu" if i % 2 else "default",
                    "version": 1,
                }
                for i, one in enumerate(batch)
            ],
        )
    assert await _counted(database) == before | {
        "default": before["default"] + 2,
        "eu": before["eu"] + 2,
    }
    async with database.transaction() as session:
        await session.execute(update(Tenant).where(Tenant.id.in_(batch)).values(cell="eu"))
    assert await _counted(database) == before | {"eu": before["eu"] + 4}
    async with database.transaction() as session:
        await session.execute(delete(Tenant).where(Tenant.id.in_(batch)))
    assert await _counted(database) == before == await _loads(database)
