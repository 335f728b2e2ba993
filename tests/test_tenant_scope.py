"""The application half of isolation: the ORM filters, stamps and refuses by tenant scope."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, update

from services.db.engine import Database
from services.db.tenant_scope import TenantScope, TenantScopeError
from services.workspace.structure.models import Programme
from tests.conftest import MakeWorkspace


async def test_a_workspace_query_without_a_scope_raises(database: Database) -> None:
    async with database.session() as session:
        with pytest.raises(TenantScopeError, match="without a tenant scope"):
            await session.execute(select(Programme))
        with pytest.raises(TenantScopeError):
            await session.execute(update(Programme).values(name="x"))


async def test_a_workspace_insert_without_a_scope_raises(database: Database) -> None:
    async with database.session() as session:
        session.add(Programme(name="orphan"))
        with pytest.raises(TenantScopeError, match="without a tenant scope"):
            await session.flush()


async def test_inserts_are_stamped_with_the_scope_tenant(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    async with database.transaction(scope=TenantScope.single(ws.tenant_id)) as session:
        programme = Programme(name="stamped")
        session.add(programme)
        await session.flush()
        assert programme.tenant_id == ws.tenant_id


async def test_writing_into_another_tenant_is_refused_before_the_database(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    async with database.session(scope=TenantScope.single(a.tenant_id)) as session:
        session.add(Programme(tenant_id=b.tenant_id, name="planted"))
        with pytest.raises(TenantScopeError, match="outside"):
            await session.flush()


async def test_queries_see_only_the_scope_even_when_asking_for_another_tenant(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    for ws in (a, b):
        async with database.transaction(scope=TenantScope.single(ws.tenant_id)) as session:
            session.add(Programme(name=f"of {ws.slug}"))
    async with database.transaction(scope=TenantScope.single(a.tenant_id)) as session:
        names = (await session.scalars(select(Programme.name))).all()
        assert names == [f"of {a.slug}"]
        asked_for_b = await session.scalar(
            select(func.count()).select_from(Programme).where(Programme.tenant_id == b.tenant_id)
        )
        assert asked_for_b == 0
    async with database.transaction(scope=TenantScope.many([a.tenant_id, b.tenant_id])) as session:
        names = set((await session.scalars(select(Programme.name))).all())
        assert names == {f"of {a.slug}", f"of {b.slug}"}


async def test_a_scope_of_many_tenants_cannot_write(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    async with database.session(scope=TenantScope.many([a.tenant_id, b.tenant_id])) as session:
        session.add(Programme(name="ambiguous"))
        with pytest.raises(TenantScopeError, match="exactly one tenant"):
            await session.flush()


def test_scope_setting_lists_each_tenant_once() -> None:
    t = uuid.uuid4()
    assert TenantScope.many([t, t]).as_setting() == str(t)
