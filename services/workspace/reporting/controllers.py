"""HTTP for status reports and the programme views."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.concurrency import IfMatch, check_if_match
from services.dependencies import WorkspaceAccess, workspace_dependencies
from services.errors import ValidationFailed, field_error
from services.idempotency import IdempotencyKey
from services.workspace.http import (
    ACTION_RESPONSES,
    CREATE_RESPONSES,
    READ_RESPONSES,
    RegisterSpec,
    act_once,
    create_once,
    register_controller,
)
from services.workspace.reporting import views
from services.workspace.reporting.models import ReportState
from services.workspace.reporting.schemas import (
    BoardPack,
    Dashboard,
    DependencyMap,
    ReportFormatRead,
    ReportSectionRead,
    StatusReportCorrection,
    StatusReportCreate,
    StatusReportPublish,
    StatusReportRead,
    StatusReportUpdate,
    Suggestion,
)
from services.workspace.reporting.service import (
    ReportFilter,
    ReportFormatFilter,
    ReportFormatService,
    StatusReportService,
    present_reports,
    suggestion_json,
)
from services.workspace.schemas import read_of


def report_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    programme_level: Annotated[
        bool | None, QueryParameter(description="true: programme reports only; false: projects'")
    ] = None,
    lifecycle: Annotated[ReportState | None, QueryParameter(name="state")] = None,
    period_after: Annotated[
        date | None, QueryParameter(description="Period ends on or after")
    ] = None,
    period_before: Annotated[
        date | None, QueryParameter(description="Period ends on or before")
    ] = None,
) -> ReportFilter:
    return ReportFilter(
        programme_id, project_id, programme_level, lifecycle, period_after, period_before
    )


StatusReportController = register_controller(
    RegisterSpec(
        path="status-reports",
        noun="status report",
        service=StatusReportService,
        create=StatusReportCreate,
        update=StatusReportUpdate,
        read=StatusReportRead,
        filters=report_filter,
        people=(),
        present=present_reports,
        tag="status reports",
    )
)


AS_IT_STANDS = StatusReportPublish()
"""Publishing without a body: the empty object (a frozen default, shared safely)."""
AS_PUBLISHED = StatusReportCorrection()
"""Correcting without a body: no changes (a frozen default, shared safely)."""


class StatusReportActionController(Controller):
    path = "/api/v1/w/{slug:str}/status-reports/{report_id:uuid}"
    tags = ["status reports"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get(
        "/suggestion",
        responses=READ_RESPONSES,
        summary="The RAG the data suggests for this report, with its evidence",
    )
    async def suggest_rag(
        self,
        slug: FromPath[str],
        report_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Suggestion:
        service = StatusReportService(session, workspace.actor_id)
        suggested, evidence = await service.suggestion(await service.get(report_id))
        return msgspec.convert(suggestion_json(suggested, evidence), Suggestion)

    @post(
        "/publish",
        status_code=200,
        responses=ACTION_RESPONSES,
        summary="Publish (freeze) a draft; corrections supersede what they correct (If-Match)",
        description="No body, or an empty object: a draft is published as it stands (edit it "
        "first); any field is a 422. A report that follows a format needs a RAG for each of the "
        "format's rag_dimensions (a 422 naming every one missing), and its snapshot keeps the "
        "format's top_risks, top_issues and top_decisions, and the format itself. A retry "
        "with the same Idempotency-Key answers the first answer, though publishing moved the "
        "ETag on.",
    )
    async def publish_report(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        report_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
        # Read only so that a field sent is refused (422), not ignored: publishing takes none.
        # No body is the empty object; JSON null is not an object (422), as on every route.
        data: JSONBody[StatusReportPublish] = AS_IT_STANDS,
    ) -> Response[StatusReportRead]:
        service = StatusReportService(session, workspace.actor_id)

        async def publish() -> StatusReportRead:
            report = await service.get(report_id)
            check_if_match(if_match, report.version)
            snapshot = await views.report_snapshot(session, report)
            report = await service.publish(report, snapshot)
            return (await present_reports(session, [report]))[0]

        return await act_once(
            request, session, workspace, idempotency_key, data, StatusReportRead, publish
        )

    @post(
        "/corrections",
        status_code=201,
        responses=CREATE_RESPONSES,
        summary="Start a correction: a new draft revision of a published report",
        description="The correction copies the report, period included, then applies the "
        "fields sent (none, or the fields of an update: summary, RAGs, comments …) to the new "
        "draft, which may be edited further before it is published. The period and the format "
        "stay those of the report it corrects (changing its period_end or format_id is a 422); "
        "unknown fields are a 422.",
    )
    async def correct_report(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        report_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
        # No body is the empty object; JSON null is not an object (422), as on every route.
        data: JSONBody[StatusReportCorrection] = AS_PUBLISHED,
    ) -> Response[StatusReportRead]:
        service = StatusReportService(session, workspace.actor_id)
        changes = data.changes()

        async def make() -> StatusReportRead:
            correction = await service.correct(await service.get(report_id))
            if changes:
                # The draft's own rules apply, as to an update: its period stays (422).
                correction = await service.update(correction, dict(changes))
            return (await present_reports(session, [correction]))[0]

        location = f"/api/v1/w/{slug}/status-reports"
        return await create_once(
            request,
            session,
            workspace,
            idempotency_key,
            changes,
            StatusReportRead,
            make,
            location,
        )


class ProgrammeViewController(Controller):
    path = "/api/v1/w/{slug:str}/programmes/{programme_id:uuid}"
    tags = ["programmes"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get("/dashboard", responses=READ_RESPONSES, summary="The programme on one page")
    async def programme_dashboard(
        self,
        slug: FromPath[str],
        programme_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        trend: Annotated[int, QueryParameter(ge=1, le=24, description="Reports in the trend")] = 6,
        top: Annotated[int, QueryParameter(ge=1, le=50, description="Top risks shown")] = 5,
        horizon_days: Annotated[
            int, QueryParameter(ge=1, le=365, description="Milestones and gates due within")
        ] = 30,
    ) -> Dashboard:
        return await views.dashboard(
            session, programme_id, trend=trend, top=top, horizon_days=horizon_days
        )

    @get("/board-pack", responses=READ_RESPONSES, summary="A period's board pack")
    async def board_pack(
        self,
        slug: FromPath[str],
        programme_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        period_start: FromQuery[date],
        period_end: FromQuery[date],
        top: Annotated[int, QueryParameter(ge=1, le=50, description="Top risks shown")] = 10,
    ) -> BoardPack:
        if period_end < period_start:
            raise ValidationFailed(
                "The period must end on or after its start.",
                errors=[field_error("period_end", "on or after period_start", "query")],
            )
        return await views.board_pack(session, programme_id, period_start, period_end, top)


class DependencyMapController(Controller):
    path = "/api/v1/w/{slug:str}/dependency-map"
    tags = ["raid"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @get("/", responses=READ_RESPONSES, summary="Cross-project dependency map (nodes, edges, RAG)")
    async def dependency_map(
        self,
        slug: FromPath[str],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        programme_id: FromQuery[uuid.UUID | None] = None,
    ) -> DependencyMap:
        return await views.dependency_map(session, programme_id)


def report_format_filter() -> ReportFormatFilter:
    return ReportFormatFilter()


async def present_report_formats(session: AsyncSession, rows: list[Any]) -> list[Any]:
    sections = await ReportFormatService(session, None).sections([r.id for r in rows])
    return [
        read_of(
            ReportFormatRead,
            row,
            sections=[read_of(ReportSectionRead, s) for s in sections.get(row.id, [])],
        )
        for row in rows
    ]


ReportFormatController = register_controller(
    RegisterSpec(
        path="report-formats",
        noun="report format",
        service=ReportFormatService,
        create=None,
        update=None,
        read=ReportFormatRead,
        filters=report_format_filter,
        people=(),
        present=present_report_formats,
        tag="reporting",
    )
)
