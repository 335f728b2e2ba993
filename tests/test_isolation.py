"""The isolation suite: tenants cannot see or touch each other's rows, enforced by PostgreSQL.

These tests talk to the database as the application role (pmo_app) with raw SQL, so they prove
the row-level security itself, not the ORM filter in front of it.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg import errors

from services.config import Settings
from services.db.base import WORKSPACE_SCHEMA, metadata, workspace_foreign_key
from services.db.bootstrap import libpq_url
from services.db.models import import_all_models
from tests.conftest import MakeWorkspace, PgServer, Workspace

import_all_models()
WORKSPACE_TABLES = sorted(t.name for t in metadata.tables.values() if t.schema == WORKSPACE_SCHEMA)


def app_connection(settings: Settings) -> psycopg.Connection:
    assert settings.database_url is not None
    return psycopg.connect(libpq_url(settings.database_url))


def set_tenants(conn: psycopg.Connection, *tenant_ids: uuid.UUID) -> None:
    ids = ",".join(str(t) for t in tenant_ids)
    conn.execute("SELECT set_config('app.tenant_ids', %s, true)", (ids,))


async def two_workspaces_with_programmes(
    client: AsyncTestClient[Litestar], make_workspace: MakeWorkspace
) -> tuple[Workspace, Workspace, dict[str, str]]:
    a, b = await make_workspace(), await make_workspace()
    ids = {}
    for ws, name in ((a, "A's programme"), (b, "B's programme")):
        response = await client.post(
            ws.programmes, json={"name": name}, headers={**ws.headers, "Idempotency-Key": name}
        )
        assert response.status_code == 201
        ids[ws.slug] = response.json()["id"]
    return a, b, ids


def test_every_workspace_table_is_known() -> None:
    assert "programmes" in WORKSPACE_TABLES
    assert "idempotency_records" in WORKSPACE_TABLES


async def test_without_a_tenant_every_workspace_table_reads_no_rows(
    client: AsyncTestClient[Litestar], make_workspace: MakeWorkspace, settings: Settings
) -> None:
    await two_workspaces_with_programmes(client, make_workspace)
    with app_connection(settings) as conn:
        for table in WORKSPACE_TABLES:
            count = conn.execute(f"SELECT count(*) FROM workspace.{table}").fetchone()
            assert count == (0,), table
        # An explicitly empty setting is the same as none.
        set_tenants(conn)
        assert conn.execute("SELECT count(*) FROM workspace.programmes").fetchone() == (0,)


async def test_with_tenant_a_set_tenant_b_rows_are_invisible_and_untouchable(
    client: AsyncTestClient[Litestar], make_workspace: MakeWorkspace, settings: Settings
) -> None:
    a, b, ids = await two_workspaces_with_programmes(client, make_workspace)
    with app_connection(settings) as conn:
        set_tenants(conn, a.tenant_id)
        for table in WORKSPACE_TABLES:
            foreign = conn.execute(
                f"SELECT count(*) FROM workspace.{table} WHERE tenant_id <> %s", (a.tenant_id,)
            ).fetchone()
            assert foreign == (0,), table
        own = conn.execute("SELECT id FROM workspace.programmes").fetchall()
        assert [str(r[0]) for r in own] == [ids[a.slug]]

        changed = conn.execute(
            "UPDATE workspace.programmes SET name = 'hijacked' WHERE id = %s", (ids[b.slug],)
        )
        assert changed.rowcount == 0
        removed = conn.execute("DELETE FROM workspace.programmes WHERE id = %s", (ids[b.slug],))
        assert removed.rowcount == 0

        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO workspace.programmes (tenant_id, id, version, name, state) "
                "VALUES (%s, %s, 1, 'planted', 'identifying')",
                (b.tenant_id, uuid.uuid4()),
            )
        conn.rollback()

        set_tenants(conn, a.tenant_id)
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            # Moving one's own row into another tenant is refused too.
            conn.execute(
                "UPDATE workspace.programmes SET tenant_id = %s WHERE id = %s",
                (b.tenant_id, ids[a.slug]),
            )
        conn.rollback()

    with app_connection(settings) as conn:
        set_tenants(conn, b.tenant_id)
        row = conn.execute(
            "SELECT name FROM workspace.programmes WHERE id = %s", (ids[b.slug],)
        ).fetchone()
        assert row == ("B's programme",)


async def test_a_scope_of_several_tenants_sees_exactly_those(
    client: AsyncTestClient[Litestar], make_workspace: MakeWorkspace, settings: Settings
) -> None:
    a, b, _ = await two_workspaces_with_programmes(client, make_workspace)
    c, _, _ = await two_workspaces_with_programmes(client, make_workspace)
    with app_connection(settings) as conn:
        set_tenants(conn, a.tenant_id, b.tenant_id)
        rows = conn.execute("SELECT DISTINCT tenant_id FROM workspace.programmes").fetchall()
        assert {r[0] for r in rows} == {a.tenant_id, b.tenant_id}
        assert c.tenant_id not in {r[0] for r in rows}


async def test_composite_foreign_key_refuses_a_cross_tenant_reference(
    client: AsyncTestClient[Litestar],
    make_workspace: MakeWorkspace,
    settings: Settings,
    pg_server: PgServer,
) -> None:
    a, b, ids = await two_workspaces_with_programmes(client, make_workspace)
    # A child table declared the way every workspace table declares its references.
    scratch = sa.MetaData()
    metadata.tables["workspace.programmes"].to_metadata(scratch)
    child = sa.Table(
        f"isolation_child_{uuid.uuid4().hex[:8]}",
        scratch,
        sa.Column("tenant_id", sa.Uuid(), primary_key=True),
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        workspace_foreign_key(["programme_id"], "programmes"),
        schema=WORKSPACE_SCHEMA,
    )
    ddl = str(sa.schema.CreateTable(child).compile(dialect=sa.dialects.postgresql.dialect()))
    assert "FOREIGN KEY(tenant_id, programme_id)" in ddl
    assert "REFERENCES workspace.programmes (tenant_id, id)" in ddl
    assert settings.database_url is not None
    owner_url = libpq_url(settings.owner_url(settings.database_url))
    with psycopg.connect(owner_url) as conn:
        conn.execute(ddl)
        # Same tenant: fine.
        conn.execute(
            f"INSERT INTO workspace.{child.name} VALUES (%s, %s, %s)",
            (a.tenant_id, uuid.uuid4(), ids[a.slug]),
        )
        # Tenant A pointing at B's programme: refused by the key itself.
        with pytest.raises(errors.ForeignKeyViolation):
            conn.execute(
                f"INSERT INTO workspace.{child.name} VALUES (%s, %s, %s)",
                (a.tenant_id, uuid.uuid4(), ids[b.slug]),
            )
        conn.rollback()


def test_every_workspace_table_is_keyed_by_tenant_first() -> None:
    """The Citus-ready rule, on the models: tenant_id leads the PK and every workspace FK."""
    for table in metadata.tables.values():
        if table.schema != WORKSPACE_SCHEMA:
            continue
        assert [c.name for c in table.primary_key.columns][0] == "tenant_id", table.name
        for fk in table.foreign_key_constraints:
            target = fk.referred_table
            if target.schema == WORKSPACE_SCHEMA:
                assert fk.column_keys[0] == "tenant_id", (table.name, fk.name)
                assert [e.column.name for e in fk.elements][0] == "tenant_id", (table.name, fk.name)


def test_migrated_workspace_tables_have_forced_rls_and_tenant_leading_keys(
    settings: Settings,
) -> None:
    """The same rule, on what the migrations actually built (catches tables outside the models)."""
    with app_connection(settings) as conn:
        tables = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "  (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'workspace' AND c.relkind IN ('r', 'p')"
        ).fetchall()
        assert sorted(t[0] for t in tables) == WORKSPACE_TABLES
        for name, enabled, forced, policies in tables:
            assert enabled and forced and policies >= 1, name
        keys = conn.execute(
            "SELECT con.conrelid::regclass::text, con.contype, "
            "  (SELECT a.attname FROM pg_attribute a "
            "   WHERE a.attrelid = con.conrelid AND a.attnum = con.conkey[1]), "
            "  con.confrelid::regclass::text "
            "FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace "
            "WHERE n.nspname = 'workspace' AND con.contype IN ('p', 'f', 'u')"
        ).fetchall()
        for table, kind, first_column, referenced in keys:
            if kind == "f" and not referenced.startswith("workspace."):
                continue
            assert first_column == "tenant_id", (table, kind)


def test_application_role_cannot_bypass_row_level_security(settings: Settings) -> None:
    with app_connection(settings) as conn:
        role = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == ("pmo_app", False, False, False, False)
        owned = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('control', 'workspace') "
            "AND pg_get_userbyid(c.relowner) = 'pmo_app'"
        ).fetchone()
        assert owned == (0,)
        schemas = conn.execute(
            "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
            "WHERE nspname IN ('control', 'workspace') ORDER BY 1"
        ).fetchall()
        assert schemas == [("control", "pmo_owner"), ("workspace", "pmo_owner")]
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE workspace.programmes DISABLE ROW LEVEL SECURITY")
