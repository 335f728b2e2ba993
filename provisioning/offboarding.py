"""The deprovisioning workflow: an offboarded workspace is exported, closed and emptied.

``export_workspace → revoke_access → purge_workspace → mark_deleted``

The request itself froze the workspace (``offboarding``). The export is JSON of every workspace
table of the client's data plus a CSV per table (with its header row, even when empty), under
the tenant's prefix — the platform's bookkeeping (idempotency records) is left out; the purge
goes table by table over whatever workspace tables exist, those included. Control-plane rows
(tenant, runs, users) stay for the record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from provisioning.workflow import DEPROVISION, StepContext
from services.db import tenant_data
from services.db.tenant_scope import TenantScope
from services.identity import service as identity
from services.storage.service import tenant_prefix
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState

log = structlog.get_logger("pmo.provisioning")

EXPORT_FORMAT = "pmo-workspace-export/1"


def export_files(
    meta: dict[str, Any],
    dump: dict[str, list[dict[str, Any]]],
    columns: Mapping[str, Sequence[str]],
) -> dict[str, tuple[bytes, str]]:
    """File name → (content, media type): ``workspace.json`` and ``<table>.csv`` per table,
    headed by the table's ``columns``."""
    document = {"format": EXPORT_FORMAT, **meta, "tables": dump}
    files = {
        "workspace.json": (
            json.dumps(document, default=str, indent=1, sort_keys=True).encode(),
            "application/json",
        )
    }
    for table, rows in dump.items():
        files[f"{table}.csv"] = (_csv(columns[table], rows), "text/csv")
    return files


def _csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue().encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


@DEPROVISION.step
async def export_workspace(ctx: StepContext) -> dict[str, Any]:
    tenant = await ctx.tenant()
    async with ctx.platform.database.transaction(tenant.cell, TenantScope.single(tenant.id)) as s:
        dump = await tenant_data.export_rows(s, tenant.id)
    meta = {"tenant": {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name}}
    prefix = f"{tenant_prefix(tenant.id)}exports/{ctx.run.id}/"
    storage = ctx.platform.storage
    columns = {t.name: [c.name for c in t.columns] for t in tenant_data.client_tables()}
    for name, (body, media_type) in export_files(meta, dump, columns).items():
        await storage.put(
            prefix + name,
            body,
            tenant_id=tenant.id,
            idempotency_key=f"{ctx.idempotency_key}:{name}",
            content_type=media_type,
        )
    return {
        "bucket": storage.bucket,
        "location": prefix,
        "files": ["workspace.json", *(f"{t}.csv" for t in dump)],
        "rows": {table: len(rows) for table, rows in dump.items()},
    }


@DEPROVISION.step
async def revoke_access(ctx: StepContext) -> dict[str, Any]:
    tokens = await identity.revoke_tokens_of_tenant(ctx.control, ctx.run.tenant_id)
    memberships = await identity.remove_memberships_of_tenant(ctx.control, ctx.run.tenant_id)
    return {"tokens_revoked": tokens, "memberships_removed": memberships}


@DEPROVISION.step
async def purge_workspace(ctx: StepContext) -> dict[str, Any]:
    tenant = await ctx.tenant()
    async with ctx.platform.database.transaction(tenant.cell, TenantScope.single(tenant.id)) as s:
        deleted = await tenant_data.purge(s, tenant.id)
    return {"rows_deleted": deleted}


@DEPROVISION.step
async def mark_deleted(ctx: StepContext) -> dict[str, Any]:
    tenant = await ctx.tenant()
    await tenancy.change_state(ctx.control, tenant, TenantState.DELETED)
    log.info("tenant.deleted", tenant=tenant.slug, tenant_id=str(tenant.id), run_id=str(ctx.run.id))
    return {"state": tenant.state.value}
