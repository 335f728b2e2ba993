"""A tenant's workspace rows, table by table, over whatever workspace tables exist.

Offboarding exports and purges through these, driven by the metadata: a register added later
is included without touching this code. The export leaves out the tables that hold the
platform's bookkeeping rather than the client's data (``__client_data__ = False`` on the model:
idempotency records); the purge takes them too. Sessions must carry the tenant's scope (row-level
security applies), and the tenant is named explicitly in every statement as well.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import WORKSPACE_SCHEMA, metadata
from services.db.models import import_all_models


def workspace_tables() -> list[Table]:
    """Every workspace table, parents before children (foreign keys)."""
    import_all_models()
    return [t for t in metadata.sorted_tables if t.schema == WORKSPACE_SCHEMA]


def client_tables() -> list[Table]:
    """The workspace tables that hold the client's data (what an export carries)."""
    return [t for t in workspace_tables() if t.info.get("client_data", True)]


async def export_rows(
    session: AsyncSession, tenant_id: uuid.UUID
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the tenant's data, by table name (in primary-key order); a table with no
    rows is there too, empty. See :func:`client_tables`."""
    dump: dict[str, list[dict[str, Any]]] = {}
    for table in client_tables():
        result = await session.execute(
            select(table).where(table.c.tenant_id == tenant_id).order_by(*table.primary_key.columns)
        )
        dump[table.name] = [dict(row) for row in result.mappings()]
    return dump


async def count_rows(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """The tenant's rows per table (zero everywhere after :func:`purge`)."""
    counts: dict[str, int] = {}
    for table in workspace_tables():
        counted = await session.scalar(
            select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
        )
        counts[table.name] = int(counted or 0)
    return counts


async def purge(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """Delete every row of the tenant, children first; returns the rows deleted per table."""
    deleted: dict[str, int] = {}
    for table in reversed(workspace_tables()):
        result = await session.execute(delete(table).where(table.c.tenant_id == tenant_id))
        deleted[table.name] = int(getattr(result, "rowcount", 0) or 0)
    return deleted
