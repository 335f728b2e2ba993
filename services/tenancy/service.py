"""Tenants and cells: creation, lookup by slug, lifecycle transitions, placement."""

from __future__ import annotations

import re
import uuid
import zoneinfo

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.config import DEFAULT_CELL, Settings
from services.db.base import utcnow
from services.errors import Conflict, NotFound, ValidationFailed, field_error
from services.tenancy.models import Cell, Tenant, TenantState
from services.text import a_or_an

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")

# The lifecycle: provisioning → active ⇄ suspended → offboarding → deleted, plus failed.
_TRANSITIONS: dict[TenantState, frozenset[TenantState]] = {
    TenantState.PROVISIONING: frozenset({TenantState.ACTIVE, TenantState.FAILED}),
    TenantState.FAILED: frozenset({TenantState.PROVISIONING, TenantState.OFFBOARDING}),
    TenantState.ACTIVE: frozenset({TenantState.SUSPENDED, TenantState.OFFBOARDING}),
    TenantState.SUSPENDED: frozenset({TenantState.ACTIVE, TenantState.OFFBOARDING}),
    TenantState.OFFBOARDING: frozenset({TenantState.DELETED}),
    TenantState.DELETED: frozenset(),
}


def can_transition(current: TenantState, target: TenantState) -> bool:
    """Whether the tenant lifecycle allows ``current`` → ``target``."""
    return target in _TRANSITIONS[current]


def check_slug(slug: str) -> str:
    """A slug is 3–63 lowercase letters, digits and inner hyphens (a DNS label)."""
    if not SLUG_PATTERN.fullmatch(slug) or "--" in slug:
        raise ValidationFailed(
            f"{slug!r} is not a valid workspace slug",
            errors=[
                field_error(
                    "slug", "3-63 lowercase letters, digits and single hyphens, not at the ends"
                )
            ],
        )
    return slug


async def sync_cells(session: AsyncSession, settings: Settings) -> list[str]:
    """Record the configured cells (passwords hidden) so placement and operators can see them."""
    names = []
    for name, url in settings.cell_urls().items():
        shown = make_url(url).render_as_string(hide_password=True)
        statement = insert(Cell).values(name=name, database_url=shown)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[Cell.name], set_={"database_url": statement.excluded.database_url}
            )
        )
        names.append(name)
    return names


async def least_loaded_cell(session: AsyncSession, region: str | None = None) -> str:
    """The shared cell accepting tenants with the fewest live tenants (default on a tie),
    within ``region`` if given."""
    in_region = [Cell.region == region] if region is not None else []
    name: str | None = await session.scalar(
        select(Cell.name)
        .where(Cell.accepts_tenants, ~Cell.dedicated, *in_region)
        .order_by(Cell.live_tenants, Cell.name != DEFAULT_CELL, Cell.name)
        .limit(1)
    )
    return name or DEFAULT_CELL


async def check_placement(session: AsyncSession, *, cell: str | None, region: str | None) -> None:
    """Refuse a requested cell or region that cannot take a new tenant."""
    if cell is not None:
        found = await session.get(Cell, cell)
        if found is None or not found.accepts_tenants:
            raise ValidationFailed(
                f"Cell {cell!r} does not take new workspaces.",
                errors=[field_error("cell", "unknown, or not taking new workspaces")],
            )
        if region is not None and found.region != region:
            raise ValidationFailed(
                f"Cell {cell!r} is not in region {region!r}.",
                errors=[field_error("region", "does not match the cell")],
            )
    elif region is not None:
        serving = await session.scalar(
            select(Cell.name).where(Cell.region == region, Cell.accepts_tenants).limit(1)
        )
        if serving is None:
            raise ValidationFailed(
                f"No cell serves region {region!r}.",
                errors=[field_error("region", "no cell serves this region")],
            )


async def choose_cell(session: AsyncSession, *, cell: str | None, region: str | None) -> str:
    """Placement: the requested cell, else the least-loaded shared cell (of the region)."""
    await check_placement(session, cell=cell, region=region)
    if cell is not None:
        return cell
    return await least_loaded_cell(session, region)


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"The workspace slug {slug!r} is taken.", errors=[field_error("slug", "taken")])


async def place(session: AsyncSession, tenant_id: uuid.UUID, cell: str) -> None:
    """Put a tenant that is still being provisioned (and so has no workspace rows) in ``cell``.

    One statement; placing a tenant again where it already is changes nothing."""
    placed = await session.scalar(
        update(Tenant)
        .where(Tenant.id == tenant_id, Tenant.state == TenantState.PROVISIONING)
        .values(cell=cell, version=Tenant.version + 1)
        .returning(Tenant.id)
    )
    if placed is None:
        tenant = await require(session, tenant_id)
        if tenant.cell != cell:
            raise Conflict(
                f"{a_or_an(tenant.state, starts=True)} workspace cannot move cells this way."
            )


async def reserve(session: AsyncSession, tenant_id: uuid.UUID, *, slug: str, name: str) -> bool:
    """The new tenant ``tenant_id`` in ``provisioning`` under ``slug``, in one statement.

    True if this call made it, False if it was already there (the same signup, again); a
    :class:`Conflict` if another tenant has the slug."""
    check_slug(slug)
    made = await session.scalar(
        insert(Tenant)
        .values(
            id=tenant_id,
            slug=slug,
            name=name,
            state=TenantState.PROVISIONING,
            cell=DEFAULT_CELL,
            version=1,
        )
        .on_conflict_do_nothing()
        .returning(Tenant.id)
    )
    if made is not None:
        return True
    if await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id)) is None:
        raise _slug_taken(slug)
    return False


async def create_tenant(
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    cell: str = DEFAULT_CELL,
    state: TenantState = TenantState.PROVISIONING,
    tenant_id: uuid.UUID | None = None,
) -> Tenant:
    check_slug(slug)
    if await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise _slug_taken(slug)
    if await session.get(Cell, cell) is None:
        raise ValidationFailed(f"Unknown cell {cell!r}.", errors=[field_error("cell", "unknown")])
    tenant = Tenant(id=tenant_id or uuid.uuid4(), slug=slug, name=name, state=state, cell=cell)
    session.add(tenant)
    await session.flush()
    return tenant


async def get_by_id(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


async def slug_taken(session: AsyncSession, slug: str) -> bool:
    return await session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None


async def require(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """A tenant by id (deleted ones too: the caller decides what their state allows)."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"No workspace {tenant_id}.")
    return tenant


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await session.scalar(select(Tenant).where(Tenant.slug == slug))


async def require_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = await get_by_slug(session, slug)
    if tenant is None or tenant.state is TenantState.DELETED:
        raise NotFound(f"No workspace {slug!r}.")
    return tenant


async def update_settings(
    session: AsyncSession, tenant: Tenant, changes: dict[str, object]
) -> Tenant:
    """Rename the workspace or change its settings; the timezone must be a known IANA zone."""
    changes = dict(changes)
    if "name" in changes:
        tenant.name = str(changes.pop("name"))
    timezone = changes.get("timezone")
    if timezone is not None:
        try:
            zoneinfo.ZoneInfo(str(timezone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(
                f"{timezone!r} is not a known time zone.",
                errors=[field_error("timezone", "not an IANA time zone, e.g. Europe/London")],
            ) from None
    if changes:
        tenant.settings = {**(tenant.settings or {}), **changes}
    await session.flush()
    await session.refresh(tenant)
    return tenant


async def change_state(session: AsyncSession, tenant: Tenant, target: TenantState) -> Tenant:
    if tenant.state is target:
        return tenant
    if not can_transition(tenant.state, target):
        raise Conflict(f"{a_or_an(tenant.state, starts=True)} workspace cannot become {target}.")
    tenant.state = target
    tenant.state_changed_at = utcnow()
    await session.flush()
    return tenant


# What an offboarding that is abandoned may give back: the state the workspace had before.
_REOPENABLE = frozenset({TenantState.ACTIVE, TenantState.SUSPENDED, TenantState.FAILED})


async def reopen_after_offboarding(
    session: AsyncSession, tenant: Tenant, back_to: TenantState
) -> Tenant:
    """An offboarding abandoned before anything of the workspace was removed: it is ``back_to``
    (what it was before) again. Outside the lifecycle's transitions on purpose: nothing else
    may take an offboarding workspace back, and the caller has checked that nothing is lost."""
    if tenant.state is not TenantState.OFFBOARDING:
        raise Conflict(f"The workspace {tenant.slug!r} is {tenant.state}, not being offboarded.")
    if back_to not in _REOPENABLE:
        raise ValueError(f"an offboarding workspace does not go back to {back_to}")
    tenant.state = back_to
    tenant.state_changed_at = utcnow()
    await session.flush()
    return tenant


async def set_state(session: AsyncSession, tenant_id: uuid.UUID, target: TenantState) -> str:
    """:func:`change_state` by id in one statement (the usual case); the tenant's slug."""
    sources = [state for state, targets in _TRANSITIONS.items() if target in targets]
    slug: str | None = await session.scalar(
        update(Tenant)
        .where(Tenant.id == tenant_id, Tenant.state.in_(sources))
        .values(state=target, state_changed_at=utcnow(), version=Tenant.version + 1)
        .returning(Tenant.slug)
    )
    if slug is None:  # not allowed, or already there: say which
        tenant = await require(session, tenant_id)
        await change_state(session, tenant, target)
        return tenant.slug
    return slug


async def merge_settings(
    session: AsyncSession, tenant_id: uuid.UUID, changes: dict[str, object]
) -> str:
    """Merge ``changes`` (trusted, not user input) into the tenant's settings in one statement;
    the tenant's cell."""
    cell: str | None = await session.scalar(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(
            settings=Tenant.settings.op("||", return_type=JSONB)(changes),
            version=Tenant.version + 1,
        )
        .returning(Tenant.cell)
    )
    if cell is None:
        raise NotFound(f"No workspace {tenant_id}.")
    return cell
