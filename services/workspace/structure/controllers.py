"""HTTP for the workspace: ``/api/v1/w/{slug}/…``. Translates requests to services and back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from services import idempotency
from services.concurrency import IfMatch, check_if_match, etag
from services.dependencies import MIN_ROLE, WorkspaceAccess, workspace_dependencies
from services.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PreconditionRequired,
    TenantSuspended,
    TenantUnavailable,
    Unauthenticated,
    ValidationFailed,
    VersionMismatch,
    field_error,
)
from services.idempotency import IdempotencyKey
from services.identity import service as identity
from services.identity.models import Role
from services.pagination import DEFAULT_LIMIT, Limit, Offset, Page, stated_order
from services.problems import problem_responses
from services.workspace import clock, exports
from services.workspace.http import RegisterSpec, register_controller
from services.workspace.schemas import read_of
from services.workspace.structure.models import (
    MilestoneState,
    ProgrammeState,
    ProjectKind,
    ProjectState,
    TrancheState,
)
from services.workspace.structure.schemas import (
    MilestoneCreate,
    MilestoneRead,
    MilestoneUpdate,
    ProgrammeCreate,
    ProgrammeRead,
    ProgrammeUpdate,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
    TrancheCreate,
    TrancheRead,
    TrancheUpdate,
)
from services.workspace.structure.service import (
    MilestoneFilter,
    MilestoneService,
    MilestoneSort,
    ProgrammeFilter,
    ProgrammeService,
    ProgrammeSort,
    ProjectFilter,
    ProjectService,
    ProjectSort,
    TrancheFilter,
    TrancheService,
    _order,
    slip_days,
)

_COMMON_ERRORS = [Unauthenticated, Forbidden, NotFound, TenantUnavailable]
_WRITE_ERRORS = [*_COMMON_ERRORS, TenantSuspended, ValidationFailed]


async def _check_owner(
    control_session: AsyncSession, workspace: WorkspaceAccess, owner_id: object
) -> None:
    if isinstance(owner_id, uuid.UUID) and (
        await identity.role_in(control_session, owner_id, workspace.tenant_id) is None
    ):
        raise ValidationFailed(
            "The owner must be a member of this workspace.",
            errors=[field_error("owner_id", "not a member of this workspace")],
        )


def programme_filter(
    lifecycle: Annotated[ProgrammeState | None, QueryParameter(name="state")] = None,
    owner_id: Annotated[uuid.UUID | None, QueryParameter()] = None,
    sort: Annotated[ProgrammeSort, QueryParameter()] = ProgrammeSort.NEWEST,
) -> ProgrammeFilter:
    """The list's filters, which its exports take too."""
    return ProgrammeFilter(lifecycle, owner_id, sort)


def _programme_table(rows: list[Any]) -> tuple[list[str], list[list[Any]]]:
    shown = [msgspec.to_builtins(ProgrammeRead.of(r)) for r in rows]
    # Programmes have no custom fields: the columns are the list's fields.
    return exports.table(list(ProgrammeRead.__struct_fields__), shown, [])


async def _programme_tables(
    state: State, workspace: WorkspaceAccess, where: ProgrammeFilter
) -> AsyncIterator[tuple[list[str], list[list[Any]]]]:
    """Every programme the filters match, a batch at a time, for the CSV export."""
    async with exports.export_session(state, workspace) as session:
        service = ProgrammeService(session, None)
        yield _programme_table([])
        async for rows in service.export_batches(where):
            yield _programme_table(rows)


class ProgrammeController(Controller):
    path = "/api/v1/w/{slug:str}/programmes"
    tags = ["programmes"]
    dependencies = {
        **workspace_dependencies,
        "where": Provide(programme_filter, sync_to_thread=False),
    }
    security = [{"bearer": []}]

    @get(
        "/",
        responses=problem_responses(*_COMMON_ERRORS),
        summary="List programmes",
        description=stated_order(_order(ProgrammeSort.NEWEST), ProgrammeSort.NEWEST),
    )
    async def list_programmes(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[ProgrammeFilter],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Page[ProgrammeRead]:
        service = ProgrammeService(session, workspace.actor_id)
        rows, total = await service.list(where, limit, offset)
        return Page.of([ProgrammeRead.of(r) for r in rows], total, limit, offset)

    @get(
        "/export.csv",
        responses=problem_responses(*_COMMON_ERRORS, ValidationFailed),
        summary="Export programmes as CSV (filtered like the list)",
        description=exports.CSV_EXPORT,
        media_type="text/csv",
    )
    async def export_programmes_csv(
        self,
        state: State,
        slug: FromPath[str],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[ProgrammeFilter],
    ) -> Stream:
        return exports.csv_stream("programmes.csv", _programme_tables(state, workspace, where))

    @get(
        "/export.xlsx",
        responses=problem_responses(*_COMMON_ERRORS, ValidationFailed),
        summary="Export programmes as XLSX (filtered like the list)",
        description=exports.XLSX_EXPORT,
        media_type=exports.XLSX_MEDIA_TYPE,
    )
    async def export_programmes_xlsx(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        where: NamedDependency[ProgrammeFilter],
    ) -> Response[bytes]:
        # One row beyond the cap: more is refused, never cut short.
        limit = exports.XLSX_EXPORT_LIMIT + 1
        rows, _ = await ProgrammeService(session, None).list(where, limit, 0)
        exports.refuse_large_xlsx(len(rows))
        header, table = _programme_table(rows)
        return exports.xlsx_response("programmes.xlsx", "programmes", header, table)

    @post(
        "/",
        responses=problem_responses(*_WRITE_ERRORS, IdempotencyKeyReused),
        summary="Create a programme",
        status_code=201,
    )
    async def create_programme(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[ProgrammeCreate],
        session: NamedDependency[AsyncSession],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ProgrammeRead]:
        service = ProgrammeService(session, workspace.actor_id)

        async def create() -> tuple[int, Any]:
            await _check_owner(control_session, workspace, data.owner_id)
            programme = await service.create(**msgspec.structs.asdict(data))
            return 201, msgspec.to_builtins(ProgrammeRead.of(programme))

        outcome = await idempotency.run_once(
            session,
            idempotency_key,
            idempotency.fingerprint("POST", request.url.path, workspace.actor_id, data),
            create,
        )
        body = msgspec.convert(outcome.body, ProgrammeRead)
        headers = {
            "ETag": etag(body.version),
            "Location": f"{request.url.path.rstrip('/')}/{body.id}",
        }
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status_code=outcome.status_code, headers=headers)

    @get(
        "/{programme_id:uuid}",
        responses=problem_responses(*_COMMON_ERRORS),
        summary="Get a programme",
    )
    async def get_programme(
        self,
        slug: FromPath[str],
        programme_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Response[ProgrammeRead]:
        programme = await ProgrammeService(session, workspace.actor_id).get(programme_id)
        return Response(ProgrammeRead.of(programme), headers={"ETag": etag(programme.version)})

    @patch(
        "/{programme_id:uuid}",
        responses=problem_responses(*_WRITE_ERRORS, VersionMismatch, PreconditionRequired),
        summary="Change a programme (needs If-Match)",
    )
    async def update_programme(
        self,
        slug: FromPath[str],
        programme_id: FromPath[uuid.UUID],
        data: JSONBody[ProgrammeUpdate],
        session: NamedDependency[AsyncSession],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        if_match: IfMatch = None,
    ) -> Response[ProgrammeRead]:
        service = ProgrammeService(session, workspace.actor_id)
        programme = await service.get(programme_id)
        check_if_match(if_match, programme.version)
        changes = data.changes()
        await _check_owner(control_session, workspace, changes.get("owner_id"))
        programme = await service.update(programme, changes)
        return Response(ProgrammeRead.of(programme), headers={"ETag": etag(programme.version)})

    @delete(
        "/{programme_id:uuid}",
        responses=problem_responses(*_WRITE_ERRORS, VersionMismatch, Conflict),
        summary="Delete a programme with nothing on record, and all in it (admins and owners)",
        description=(
            "Deletes the programme's tranches, projects, milestones, benefits, RAID, boards, "
            "gates and draft reports with it, so it needs the admin role; members change "
            "programmes but do not delete them. A programme with anything on record (a closed "
            "tranche, a published status report, a decided stage gate, a benefit measurement, "
            "an approved or rejected change request, a decision taken in the decision log) is "
            "kept: 409 naming what it holds. Close it instead (state closed)."
        ),
        opt={MIN_ROLE: Role.ADMIN},
    )
    async def delete_programme(
        self,
        slug: FromPath[str],
        programme_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        if_match: IfMatch = None,
    ) -> None:
        service = ProgrammeService(session, workspace.actor_id)
        programme = await service.get(programme_id)
        if if_match is not None:
            check_if_match(if_match, programme.version)
        await service.delete(programme)


# --- tranches, projects, milestones -------------------------------------------------------------


def tranche_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[TrancheState | None, QueryParameter(name="state")] = None,
) -> TrancheFilter:
    return TrancheFilter(programme_id, lifecycle)


def project_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    tranche_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[ProjectState | None, QueryParameter(name="state")] = None,
    kind: FromQuery[ProjectKind | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    sort: FromQuery[ProjectSort] = ProjectSort.NEWEST,
) -> ProjectFilter:
    return ProjectFilter(programme_id, tranche_id, lifecycle, kind, owner_id, sort)


def milestone_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    tranche_id: Annotated[
        uuid.UUID | None,
        QueryParameter(
            description="Milestones of this tranche: those naming it, and those naming none "
            "whose project is in it"
        ),
    ] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[MilestoneState | None, QueryParameter(name="state")] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    due_after: Annotated[date | None, QueryParameter(description="Forecast on or after")] = None,
    due_before: Annotated[date | None, QueryParameter(description="Forecast on or before")] = None,
    sort: FromQuery[MilestoneSort] = MilestoneSort.DUE,
) -> MilestoneFilter:
    return MilestoneFilter(
        programme_id, tranche_id, project_id, lifecycle, owner_id, due_after, due_before, sort
    )


async def present_milestones(session: AsyncSession, rows: list[Any]) -> list[Any]:
    today = clock.today(session)
    return [read_of(MilestoneRead, row, slip_days=slip_days(row, today)) for row in rows]


TrancheController = register_controller(
    RegisterSpec(
        path="tranches",
        noun="tranche",
        service=TrancheService,
        create=TrancheCreate,
        update=TrancheUpdate,
        read=TrancheRead,
        filters=tranche_filter,
        people=(),
        tag="structure",
    )
)
ProjectController = register_controller(
    RegisterSpec(
        path="projects",
        noun="project",
        service=ProjectService,
        create=ProjectCreate,
        update=ProjectUpdate,
        read=ProjectRead,
        filters=project_filter,
        tag="structure",
    )
)
MilestoneController = register_controller(
    RegisterSpec(
        path="milestones",
        noun="milestone",
        service=MilestoneService,
        create=MilestoneCreate,
        update=MilestoneUpdate,
        read=MilestoneRead,
        filters=milestone_filter,
        present=present_milestones,
        dated=True,
        tag="structure",
    )
)
