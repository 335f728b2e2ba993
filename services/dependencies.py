"""What a request is given: a control session, the caller, the workspace and a scoped session.

Each provider is resolved at most once per request. Controllers declare what they need by name:
``principal``, ``workspace``, ``session`` (workspace-scoped) or ``control_session``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from services import parameters
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.errors import Forbidden, NotFound, TenantSuspended, TenantUnavailable, Unauthenticated
from services.identity import service as identity
from services.identity.models import Role
from services.identity.service import Principal
from services.logging import bind_request_fields
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from services.tenancy.schemas import tenant_settings
from services.workspace import clock

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Route option naming the least role a handler needs; default: viewer reads, member writes.
MIN_ROLE = "min_role"
# Route option of a POST that writes nothing unless its body asks to (a dry run by default):
# the workspace is resolved as for a read, and the handler asks for what its write needs
# (`WorkspaceAccess.require`) when the body asks for one.
PREVIEW = "preview"


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    """The resolved workspace of a ``/api/v1/w/{slug}/…`` request and the caller's role in it."""

    tenant_id: uuid.UUID
    slug: str
    cell: str
    state: TenantState
    role: Role
    principal: Principal
    timezone: str = "UTC"

    @property
    def actor_id(self) -> uuid.UUID:
        return self.principal.user_id

    def require(self, role: Role, *, writing: bool) -> None:
        """Refuse what the caller may not do here: a write to a suspended workspace, anything
        below ``role``, a write with a read-only token."""
        if writing and self.state is TenantState.SUSPENDED:
            raise TenantSuspended(
                f"The workspace {self.slug!r} is suspended; it can be read but not changed."
            )
        if not self.role.at_least(role):
            raise Forbidden(f"This needs the {role} role; you are {self.role} in {self.slug!r}.")
        if writing and not self.principal.can_write():
            raise Forbidden("This API token is read-only.")


def database(state: State) -> Database:
    db = state.get("db")
    if not isinstance(db, Database):
        raise RuntimeError("the application has no database")
    return db


async def _transaction(session: AsyncSession) -> AsyncGenerator[AsyncSession, None]:
    async with session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def provide_control_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    async for session in _transaction(database(state).session()):
        yield session


@parameters.authenticates
async def provide_principal(
    request: Request[Any, Any, Any], control_session: NamedDependency[AsyncSession]
) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated("Send an API token as 'Authorization: Bearer <token>'.")
    principal = await identity.authenticate(control_session, secret.strip())
    if principal is None:
        raise Unauthenticated("The API token is unknown, expired or revoked.")
    bind_request_fields(actor=str(principal.user_id))
    parameters.reject_unknown(request)
    return principal


def writes(request: Request[Any, Any, Any]) -> bool:
    """Whether the request may change the workspace (a previewing POST does not, by itself)."""
    return request.method not in READ_METHODS and not request.route_handler.opt.get(PREVIEW)


def required_role(request: Request[Any, Any, Any]) -> Role:
    declared = request.route_handler.opt.get(MIN_ROLE)
    if isinstance(declared, Role):
        return declared
    return Role.MEMBER if writes(request) else Role.VIEWER


async def provide_workspace(
    request: Request[Any, Any, Any],
    control_session: NamedDependency[AsyncSession],
    principal: NamedDependency[Principal],
) -> WorkspaceAccess:
    slug = str(request.path_params.get("slug", ""))
    tenant = await tenancy.require_by_slug(control_session, slug)
    role = await identity.role_in(control_session, principal.user_id, tenant.id)
    token_elsewhere = principal.token_tenant_id not in (None, tenant.id)
    if role is None or token_elsewhere:
        # Not a member: answer as if the workspace did not exist.
        raise NotFound(f"No workspace {slug!r}.")
    bind_request_fields(tenant=slug)
    if tenant.state in {TenantState.PROVISIONING, TenantState.FAILED, TenantState.OFFBOARDING}:
        raise TenantUnavailable(f"The workspace {slug!r} is {tenant.state}.", state=tenant.state)
    timezone = str(tenant_settings(tenant)["timezone"])
    access = WorkspaceAccess(
        tenant.id, tenant.slug, tenant.cell, tenant.state, role, principal, timezone
    )
    access.require(required_role(request), writing=writes(request))
    return access


async def provide_workspace_session(
    state: State, workspace: NamedDependency[WorkspaceAccess]
) -> AsyncGenerator[AsyncSession, None]:
    session = database(state).session(workspace.cell, TenantScope.single(workspace.tenant_id))
    clock.use_zone(session, workspace.timezone)
    async for scoped in _transaction(session):
        yield scoped


control_dependencies = {
    "control_session": Provide(provide_control_session),
    "principal": Provide(provide_principal),
}
workspace_dependencies = {
    **control_dependencies,
    "workspace": Provide(provide_workspace),
    "session": Provide(provide_workspace_session),
}
