"""The deprovisioning workflow: an offboarded workspace is exported, closed and emptied.

``export_workspace → revoke_access → purge_workspace → mark_deleted``

The request itself froze the workspace (``offboarding``). The export is JSON of every workspace
table of the client's data plus a CSV per table (with its header row, even when empty), with
the workspace's settings and its members (``members.csv`` too: the rows name users by id), under
the tenant's prefix — the platform's bookkeeping (idempotency records) is left out; the purge
goes table by table over whatever workspace tables exist, those included. Control-plane rows
(tenant, runs, users) stay for the record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import structlog

from provisioning.workflow import DEPROVISION, StepContext
from services.db import tenant_data
from services.db.tenant_scope import TenantScope
from services.identity import service as identity
from services.storage.service import export_prefix
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from services.tenancy.schemas import WorkspaceSettingsRead
from services.workspace import exports, money

log = structlog.get_logger("pmo.provisioning")

EXPORT_FORMAT = "pmo-workspace-export/1"


MEMBER_COLUMNS = ("user_id", "email", "display_name", "role")


def export_files(
    meta: dict[str, Any],
    dump: dict[str, list[dict[str, Any]]],
    columns: Mapping[str, Sequence[str]],
) -> dict[str, tuple[bytes, str]]:
    """File name → (content, media type): ``workspace.json`` and ``<table>.csv`` per table,
    headed by the table's ``columns``, and ``members.csv`` of ``meta["members"]`` (who the
    rows' user ids are).

    Values read as the API writes them: times in ISO 8601, money as numbers. The CSVs follow
    the register exports' rules (:func:`services.workspace.exports.csv_body`): a UTF-8
    byte-order mark, and no cell a spreadsheet would take for a formula."""
    document = {"format": EXPORT_FORMAT, **meta, "tables": dump}
    files = {
        "workspace.json": (
            json.dumps(document, default=_json_value, indent=1, sort_keys=True).encode(),
            "application/json",
        )
    }
    for table, rows in dump.items():
        files[f"{table}.csv"] = (_csv(columns[table], rows), "text/csv")
    files["members.csv"] = (_csv(MEMBER_COLUMNS, meta["members"]), "text/csv")
    return files


def _json_value(value: Any) -> Any:
    """What ``json`` cannot write itself, as the API writes it."""
    if isinstance(value, Decimal):  # every numeric column of the workspace is money
        return money.number(value)
    return msgspec.to_builtins(value)  # times, dates, ids: the API's ISO 8601 and text


def _csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> bytes:
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    # The register exports' writer, so the rules are one.
    return exports.csv_body(list(columns), cells)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=_json_value, sort_keys=True)
    if isinstance(value, str | int | float | bool):
        return value
    return _json_value(value)


@DEPROVISION.step
async def export_workspace(ctx: StepContext) -> dict[str, Any]:
    tenant = await ctx.tenant()
    async with ctx.platform.database.transaction(tenant.cell, TenantScope.single(tenant.id)) as s:
        dump = await tenant_data.export_rows(s, tenant.id)
    meta = {
        "tenant": {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name},
        # What the rows need to be read without the platform: the settings they were kept
        # under (the time zone of every date) and who the user ids in them are.
        "settings": msgspec.to_builtins(WorkspaceSettingsRead.of(tenant)),
        "members": await identity.members_of(ctx.control, tenant.id),
    }
    prefix = export_prefix(tenant.id, ctx.run.id)
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
        "files": ["workspace.json", "members.csv", *(f"{t}.csv" for t in dump)],
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
