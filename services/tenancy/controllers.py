"""HTTP for a workspace's own settings: ``/api/v1/w/{slug}/settings``."""

from __future__ import annotations

from litestar import Controller, Response, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services.concurrency import IfMatch, check_if_match, etag
from services.dependencies import MIN_ROLE, WorkspaceAccess, workspace_dependencies
from services.errors import (
    Forbidden,
    NotFound,
    PreconditionRequired,
    TenantSuspended,
    TenantUnavailable,
    Unauthenticated,
    ValidationFailed,
    VersionMismatch,
)
from services.identity.models import Role
from services.problems import problem_responses
from services.tenancy import service as tenancy
from services.tenancy.schemas import WorkspaceSettingsRead, WorkspaceSettingsUpdate

_READ_ERRORS = (Unauthenticated, Forbidden, NotFound, TenantUnavailable)


class WorkspaceSettingsController(Controller):
    path = "/api/v1/w/{slug:str}/settings"
    tags = ["workspace settings"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get("/", responses=problem_responses(*_READ_ERRORS), summary="The workspace's settings")
    async def get_settings(
        self,
        slug: FromPath[str],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Response[WorkspaceSettingsRead]:
        tenant = await tenancy.require_by_slug(control_session, workspace.slug)
        return Response(WorkspaceSettingsRead.of(tenant), headers={"ETag": etag(tenant.version)})

    @patch(
        "/",
        opt={MIN_ROLE: Role.ADMIN},
        responses=problem_responses(
            *_READ_ERRORS, TenantSuspended, ValidationFailed, VersionMismatch, PreconditionRequired
        ),
        summary="Change the workspace's settings (admins; needs If-Match)",
    )
    async def update_settings(
        self,
        slug: FromPath[str],
        data: JSONBody[WorkspaceSettingsUpdate],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        if_match: IfMatch = None,
    ) -> Response[WorkspaceSettingsRead]:
        tenant = await tenancy.require_by_slug(control_session, workspace.slug)
        check_if_match(if_match, tenant.version)
        tenant = await tenancy.update_settings(control_session, tenant, data.changes())
        return Response(WorkspaceSettingsRead.of(tenant), headers={"ETag": etag(tenant.version)})
