"""The provisioning workflow: a signup becomes a seeded, active workspace.

``reserve_tenant → place_in_cell → create_storage → create_admin → seed_workspace → activate``

Each step is idempotent and returns what it made; the engine records that before the step
counts as done. Billing and SSO add ``create_billing`` / ``configure_identity`` with one
``@PROVISION.step(before="seed_workspace")`` each.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from provisioning import seeding
from provisioning.workflow import PROVISION, StepContext
from services.config import Settings
from services.identity import service as identity
from services.identity.models import Role
from services.provisioning_runs import service as runs
from services.provisioning_runs.models import ProvisioningRun, StepState
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState

log = structlog.get_logger("pmo.provisioning")


class _Run(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def request(self) -> Mapping[str, Any]: ...


def invitation_secret(settings: Settings, run: _Run) -> str:
    """The admin's invitation token of a run: derived from the platform's key, the run and its
    nonce, the same on every retry of ``create_admin``; never stored (only its hash is). A run
    from before nonces were kept has none: its token stays the one it was given."""
    nonce = run.request.get(runs.INVITATION_NONCE)
    purpose = f"invitation:{run.id}" + (f":{nonce}" if nonce else "")
    return identity.derived_secret(settings.secret_key, purpose)


async def invitation_withheld(session: AsyncSession, run: ProvisioningRun) -> str | None:
    """Why the run's invitation token is not worth handing over — its workspace is offboarded
    (its tokens revoked), or the token was revoked or has expired — or None. A token
    ``create_admin`` has not made yet is not withheld: it works once the step has run."""
    tenant = await tenancy.get_by_id(session, run.tenant_id)
    if tenant is not None and tenant.state.is_leaving:
        how = "deleted" if tenant.state is TenantState.DELETED else "being offboarded"
        return f"the workspace is {how}; its tokens are revoked"
    made = {s.name: s.result for s in run.steps if s.state is StepState.SUCCEEDED}
    token_id = (made.get("create_admin") or {}).get("invitation_token_id")
    if token_id is None:
        return None
    refused = await identity.token_refusal(session, uuid.UUID(str(token_id)))
    return None if refused is None else f"the token was {refused}"


@PROVISION.step
async def reserve_tenant(ctx: StepContext) -> dict[str, Any]:
    """The tenant row, in ``provisioning``, under the slug the signup reserved."""
    made = await tenancy.reserve(
        ctx.control,
        ctx.run.tenant_id,
        slug=ctx.run.slug,
        name=str(ctx.run.request["organisation_name"]),
    )
    return {"tenant_id": str(ctx.run.tenant_id), "slug": ctx.run.slug, "made": made}


@PROVISION.step
async def place_in_cell(ctx: StepContext) -> dict[str, Any]:
    """The requested cell or region, else the least-loaded shared cell."""
    request = ctx.run.request
    cell = await tenancy.choose_cell(
        ctx.control, cell=request.get("cell"), region=request.get("region")
    )
    await tenancy.place(ctx.control, ctx.run.tenant_id, cell)
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
    user_id = await identity.ensure_member(
        ctx.control, str(ctx.run.request["admin_email"]), ctx.run.tenant_id, Role.OWNER
    )
    token_id = await identity.issue_token_once(
        ctx.control,
        user_id,
        name="invitation",
        secret=invitation_secret(ctx.platform.settings, ctx.run),
        tenant_id=ctx.run.tenant_id,
        expires_in=timedelta(days=ctx.platform.settings.invitation_days),
    )
    return {"user_id": str(user_id), "role": Role.OWNER.value, "invitation_token_id": str(token_id)}


@PROVISION.step
async def seed_workspace(ctx: StepContext) -> dict[str, Any]:
    """The chosen template pack, in the tenant's cell (see :mod:`provisioning.seeding`)."""
    request = ctx.run.request
    admin = ctx.results.get("create_admin", {}).get("user_id")
    seed = seeding.SeedRequest(
        pack_key=str(request["template_pack"]),
        pack_version=str(request["template_version"]),
        programme_name=str(request["programme_name"]),
        start_date=date.fromisoformat(str(request["start_date"])),
        actor_id=uuid.UUID(str(admin)) if admin else None,
    )
    # The pin in the settings commits with the step's record, after the seed's own transaction.
    pack = {"key": seed.pack_key, "version": seed.pack_version}
    cell = await tenancy.merge_settings(ctx.control, ctx.run.tenant_id, {"template_pack": pack})
    seeded = await seeding.seed_workspace_from_pack(
        ctx.platform.database, ctx.control, ctx.run.tenant_id, cell, seed
    )
    return {"cell": cell, **seeded}


@PROVISION.step
async def activate(ctx: StepContext) -> dict[str, Any]:
    """The workspace opens: ``active`` only after every step before this one succeeded."""
    slug = await tenancy.set_state(ctx.control, ctx.run.tenant_id, TenantState.ACTIVE)
    log.info(
        "tenant.provisioned", tenant=slug, tenant_id=str(ctx.run.tenant_id), run_id=str(ctx.run.id)
    )
    return {"state": TenantState.ACTIVE.value}
