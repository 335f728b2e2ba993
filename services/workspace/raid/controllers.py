"""HTTP for the RAID registers: risks, issues, assumptions, dependencies."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.text import NO_NUL
from services.workspace.configuration import service as configuration
from services.workspace.http import RegisterSpec, register_controller
from services.workspace.models import Confidence
from services.workspace.raid.models import (
    AssumptionStatus,
    DependencyKind,
    DependencyStatus,
    IssueStatus,
    IssueType,
    Priority,
    RiskKind,
    RiskStatus,
)
from services.workspace.raid.schemas import (
    AssumptionCreate,
    AssumptionRead,
    AssumptionUpdate,
    DependencyCreate,
    DependencyRead,
    DependencyUpdate,
    IssueCreate,
    IssueRead,
    IssueUpdate,
    RiskCreate,
    RiskRead,
    RiskUpdate,
)
from services.workspace.raid.service import (
    AssumptionFilter,
    AssumptionService,
    DependencyFilter,
    DependencyService,
    IssueFilter,
    IssueService,
    IssueSort,
    RiskFilter,
    RiskService,
    RiskSort,
    dependency_rags,
)
from services.workspace.schemas import read_of

DueAfter = Annotated[date | None, QueryParameter(description="Due on or after")]
DueBefore = Annotated[date | None, QueryParameter(description="Due on or before")]


def risk_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    status: FromQuery[RiskStatus | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    kind: FromQuery[RiskKind | None] = None,
    category: Annotated[str | None, QueryParameter(max_length=100, pattern=NO_NUL)] = None,
    band: Annotated[
        str | None,
        QueryParameter(
            max_length=64, pattern=NO_NUL, description="A band key: residual score in it"
        ),
    ] = None,
    due_after: Annotated[date | None, QueryParameter(description="Review on or after")] = None,
    due_before: Annotated[date | None, QueryParameter(description="Review on or before")] = None,
    sort: FromQuery[RiskSort] = RiskSort.SEVERITY,
) -> RiskFilter:
    return RiskFilter(
        programme_id,
        project_id,
        status,
        owner_id,
        kind,
        category,
        band,
        due_after,
        due_before,
        sort,
    )


async def present_risks(session: AsyncSession, rows: list[Any]) -> list[Any]:
    settings = await configuration.configuration(session)
    shown = []
    for row in rows:
        inherent, residual = (
            settings.band_for(row.inherent_score),
            settings.band_for(row.residual_score),
        )
        shown.append(
            read_of(
                RiskRead,
                row,
                inherent_band=inherent.key if inherent else None,
                residual_band=residual.key if residual else None,
                residual_rag=residual.rag if residual else None,
            )
        )
    return shown


def issue_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    status: FromQuery[IssueStatus | None] = None,
    priority: FromQuery[Priority | None] = None,
    type: FromQuery[IssueType | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    due_after: DueAfter = None,
    due_before: DueBefore = None,
    sort: FromQuery[IssueSort] = IssueSort.PRIORITY,
    escalated_to_board_id: Annotated[
        uuid.UUID | None, QueryParameter(description="Escalated to this board")
    ] = None,
) -> IssueFilter:
    return IssueFilter(
        programme_id,
        project_id,
        status,
        priority,
        type,
        owner_id,
        due_after,
        due_before,
        sort,
        escalated_to_board_id,
    )


def assumption_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    status: FromQuery[AssumptionStatus | None] = None,
    confidence: FromQuery[Confidence | None] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    due_after: DueAfter = None,
    due_before: DueBefore = None,
) -> AssumptionFilter:
    return AssumptionFilter(
        programme_id, project_id, status, confidence, owner_id, due_after, due_before
    )


def dependency_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: Annotated[
        uuid.UUID | None,
        QueryParameter(
            description="A project on either side: named, or owning the side's milestone"
        ),
    ] = None,
    status: FromQuery[DependencyStatus | None] = None,
    kind: FromQuery[DependencyKind | None] = None,
    due_after: DueAfter = None,
    due_before: DueBefore = None,
) -> DependencyFilter:
    return DependencyFilter(programme_id, project_id, status, kind, due_after, due_before)


async def present_dependencies(session: AsyncSession, rows: list[Any]) -> list[Any]:
    rags = await dependency_rags(session, rows)
    return [read_of(DependencyRead, row, rag=rags[row.id]) for row in rows]


RiskController = register_controller(
    RegisterSpec(
        path="risks",
        noun="risk",
        service=RiskService,
        create=RiskCreate,
        update=RiskUpdate,
        read=RiskRead,
        filters=risk_filter,
        people=("owner_id", "actionee_id"),
        present=present_risks,
        tag="raid",
    )
)
IssueController = register_controller(
    RegisterSpec(
        path="issues",
        noun="issue",
        service=IssueService,
        create=IssueCreate,
        update=IssueUpdate,
        read=IssueRead,
        filters=issue_filter,
        tag="raid",
    )
)
AssumptionController = register_controller(
    RegisterSpec(
        path="assumptions",
        noun="assumption",
        service=AssumptionService,
        create=AssumptionCreate,
        update=AssumptionUpdate,
        read=AssumptionRead,
        filters=assumption_filter,
        tag="raid",
    )
)
DependencyController = register_controller(
    RegisterSpec(
        path="dependencies",
        noun="dependency",
        service=DependencyService,
        create=DependencyCreate,
        update=DependencyUpdate,
        read=DependencyRead,
        filters=dependency_filter,
        people=("from_owner_id", "to_owner_id"),
        present=present_dependencies,
        dated=True,
        tag="raid",
    )
)
