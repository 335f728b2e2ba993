"""The provisioning workflow: a signup becomes a seeded, active workspace.

``reserve_tenant → place_in_cell → create_storage → create_admin → seed_workspace → activate``

Each step is idempotent and returns what it made; the engine records that before the step
counts as done. Billing and SSO add ``create_billing`` / ``configure_identity`` with one
``@PROVISION.step(before="seed_workspace")`` each.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import structlog

from provisioning import seeding
from provisioning.workflow import PROVISION, StepContext
from services.config import Settings
from services.identity import service as identity
from services.identity.models import Role
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState

log = structlog.get_logger("pmo.provisioning")


def invitation_secret(settings: Settings, run_id: uuid.UUID) -> str:
    """The admin's invitation token of a run: derived, never stored (only its hash is)."""
    return identity.derived_secret(settings.secret_key, f"invitation:{run_id}")


@PROVISION.step
async def reserve_tenant(ctx: StepContext) -> dict[str, Any]:
    """The tenant row, in ``provisioning``, under the slug the signup reserved."""
    tenant = await tenancy.get_by_id(ctx.control, ctx.run.tenant_id)
    made = tenant is None
    if tenant is None:
        tenant = await tenancy.create_tenant(
            ctx.control,
            slug=ctx.run.slug,
            name=str(ctx.run.request["organisation_name"]),
            state=TenantState.PROVISIONING,
            tenant_id=ctx.run.tenant_id,
        )
    return {"tenant_id": str(tenant.id), "slug": tenant.slug, "made": made}


@PROVISION.step
async def place_in_cell(ctx: StepContext) -> dict[str, Any]:
    """The requested cell or region, else the least-loaded shared cell."""
    tenant = await ctx.tenant()
    request = ctx.run.request
    cell = await tenancy.choose_cell(
        ctx.control, cell=request.get("cell"), region=request.get("region")
    )
    await tenancy.place(ctx.control, tenant, cell)
    return {"cell": cell}


@PROVISION.step
async def create_storage(ctx: StepContext) -> dict[str, Any]:
    """The tenant's prefix in the documents bucket (tagged, encrypted; bucket made if missing)."""
    stored = await ctx.platform.storage.ensure_tenant_prefix(
        ctx.run.tenant_id, ctx.run.slug, ctx.idempotency_key
    )
    return {"bucket": stored.bucket, "prefix": stored.key, "made": stored.created}


@PROVISION.step
async def create_admin(ctx: StepContext) -> dict[str, Any]:
    """The admin as the workspace's owner, and their invitation token."""
    email = str(ctx.run.request["admin_email"])
    user = await identity.get_user_by_email(ctx.control, email)
    if user is None:
        user = await identity.create_user(ctx.control, email)
    await identity.grant_membership(ctx.control, user.id, ctx.run.tenant_id, Role.OWNER)
    secret = invitation_secret(ctx.platform.settings, ctx.run.id)
    token = await identity.token_by_secret(ctx.control, secret)
    if token is None:
        token, _ = await identity.issue_token(
            ctx.control,
            user.id,
            name="invitation",
            tenant_id=ctx.run.tenant_id,
            expires_in=timedelta(days=ctx.platform.settings.invitation_days),
            secret=secret,
        )
    return {"user_id": str(user.id), "role": Role.OWNER.value, "invitation_token_id": str(token.id)}


@PROVISION.step
async def seed_workspace(ctx: StepContext) -> dict[str, Any]:
    """The chosen template pack, in the tenant's cell (see :mod:`provisioning.seeding`)."""
    tenant = await ctx.tenant()
    request = ctx.run.request
    admin = ctx.results.get("create_admin", {}).get("user_id")
    seed = seeding.SeedRequest(
        pack_key=str(request["template_pack"]),
        pack_version=str(request["template_version"]),
        programme_name=str(request["programme_name"]),
        start_date=date.fromisoformat(str(request["start_date"])),
        actor_id=uuid.UUID(str(admin)) if admin else None,
    )
    seeded = await seeding.seed_workspace_from_pack(
        ctx.platform.database, ctx.control, tenant, seed
    )
    pack = {"key": seed.pack_key, "version": seed.pack_version}
    await tenancy.update_settings(ctx.control, tenant, {"template_pack": pack})
    return {"cell": tenant.cell, **seeded}


@PROVISION.step
async def activate(ctx: StepContext) -> dict[str, Any]:
    """The workspace opens: ``active`` only after every step before this one succeeded."""
    tenant = await ctx.tenant()
    await tenancy.change_state(ctx.control, tenant, TenantState.ACTIVE)
    log.info(
        "tenant.provisioned", tenant=tenant.slug, tenant_id=str(tenant.id), run_id=str(ctx.run.id)
    )
    return {"state": tenant.state.value}
