"""HTTP for stage gates: the gates, their criteria checklist and their decisions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.concurrency import IfMatch, check_if_match
from services.dependencies import WorkspaceAccess, workspace_dependencies
from services.errors import IdempotencyKeyReused, PreconditionRequired, VersionMismatch
from services.idempotency import IdempotencyKey
from services.identity import service as identity
from services.identity.models import Role
from services.pagination import DEFAULT_LIMIT, Limit, Offset, Page, stated_order
from services.problems import problem_responses
from services.workspace.gates.models import CriterionStatus, GateBoundary, GateState
from services.workspace.gates.schemas import (
    ChecklistEntryRead,
    ChecklistRead,
    CriterionCreate,
    CriterionRead,
    CriterionUpdate,
    GateCreate,
    GateDecisionCreate,
    GateRead,
    GateReviewRead,
    GateUpdate,
)
from services.workspace.gates.service import (
    REVIEW_ORDER,
    ChecklistFilter,
    ChecklistService,
    GateFilter,
    GateService,
)
from services.workspace.http import (
    CREATE_RESPONSES,
    READ_RESPONSES,
    UPDATE_RESPONSES,
    WRITE_ERRORS,
    RegisterSpec,
    check_people,
    create_once,
    register_controller,
    with_etag,
)
from services.workspace.schemas import read_of

# A decision is created (Idempotency-Key) on the gate as last read (If-Match).
DECISION_RESPONSES = problem_responses(
    *WRITE_ERRORS, IdempotencyKeyReused, VersionMismatch, PreconditionRequired
)


def gate_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    tranche_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    board_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[GateState | None, QueryParameter(name="state")] = None,
    boundary: FromQuery[GateBoundary | None] = None,
    due_after: Annotated[date | None, QueryParameter(description="Planned on or after")] = None,
    due_before: Annotated[date | None, QueryParameter(description="Planned on or before")] = None,
) -> GateFilter:
    return GateFilter(
        programme_id, tranche_id, project_id, board_id, lifecycle, boundary, due_after, due_before
    )


async def present_gates(session: AsyncSession, rows: list[Any]) -> list[Any]:
    criteria = await GateService(session, None).criteria([r.id for r in rows])
    shown = []
    for row in rows:
        listed = criteria.get(row.id, [])
        shown.append(
            read_of(
                GateRead,
                row,
                criteria=[read_of(CriterionRead, c) for c in listed],
                criteria_met=sum(c.status is CriterionStatus.MET for c in listed),
            )
        )
    return shown


GateController = register_controller(
    RegisterSpec(
        path="stage-gates",
        noun="stage gate",
        service=GateService,
        create=GateCreate,
        update=GateUpdate,
        read=GateRead,
        filters=gate_filter,
        people=(),
        present=present_gates,
        tag="stage gates",
        # A gate guards the tranche behind it: taking one out changes the governance plan.
        delete_role=Role.ADMIN,
    )
)


class GateCriteriaController(Controller):
    path = "/api/v1/w/{slug:str}/stage-gates/{gate_id:uuid}"
    tags = ["stage gates"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @post("/criteria", status_code=201, responses=CREATE_RESPONSES, summary="Add a criterion")
    async def add_criterion(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        gate_id: FromPath[uuid.UUID],
        data: JSONBody[CriterionCreate],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CriterionRead]:
        service = GateService(session, workspace.actor_id)

        async def make() -> CriterionRead:
            gate = await service.get(gate_id)
            criterion = await service.add_criterion(
                gate, data.text, data.evidence_required, data.mandatory, data.position
            )
            return read_of(CriterionRead, criterion)

        return await create_once(
            request, session, workspace, idempotency_key, data, CriterionRead, make
        )

    @get("/criteria/{criterion_id:uuid}", responses=READ_RESPONSES, summary="Get a criterion")
    async def get_criterion(
        self,
        slug: FromPath[str],
        gate_id: FromPath[uuid.UUID],
        criterion_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Response[CriterionRead]:
        service = GateService(session, workspace.actor_id)
        criterion = await service.criterion(await service.get(gate_id), criterion_id)
        return with_etag(read_of(CriterionRead, criterion), criterion.version)

    @patch(
        "/criteria/{criterion_id:uuid}",
        responses=UPDATE_RESPONSES,
        summary="Assess or reword a criterion (needs If-Match)",
    )
    async def assess_criterion(
        self,
        slug: FromPath[str],
        gate_id: FromPath[uuid.UUID],
        criterion_id: FromPath[uuid.UUID],
        data: JSONBody[CriterionUpdate],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        if_match: IfMatch = None,
    ) -> Response[CriterionRead]:
        service = GateService(session, workspace.actor_id)
        gate = await service.get(gate_id)
        criterion = await service.criterion(gate, criterion_id)
        check_if_match(if_match, criterion.version)
        criterion = await service.assess(gate, criterion, data.changes())
        return with_etag(read_of(CriterionRead, criterion), criterion.version)

    @get(
        "/decisions",
        responses=READ_RESPONSES,
        summary="The gate's decisions, oldest first",
        description=stated_order(REVIEW_ORDER),
    )
    async def list_decisions(
        self,
        slug: FromPath[str],
        gate_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> Page[GateReviewRead]:
        service = GateService(session, workspace.actor_id)
        reviews, total = await service.reviews(await service.get(gate_id), limit, offset)
        return Page.of([read_of(GateReviewRead, r) for r in reviews], total, limit, offset)

    @get("/decisions/{review_id:uuid}", responses=READ_RESPONSES, summary="Get a decision")
    async def get_decision(
        self,
        slug: FromPath[str],
        gate_id: FromPath[uuid.UUID],
        review_id: FromPath[uuid.UUID],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
    ) -> Response[GateReviewRead]:
        service = GateService(session, workspace.actor_id)
        review = await service.review(await service.get(gate_id), review_id)
        return with_etag(read_of(GateReviewRead, review), review.version)

    @post(
        "/decisions",
        status_code=201,
        responses=DECISION_RESPONSES,
        summary="Decide the gate: go, conditional go, hold, stop or recycle (needs If-Match)",
        description="The gate is decided in review: a gate still planned is put in review first "
        "(PATCH it with state in_review), else 409. Its board's chair or a member decides it; "
        "a workspace admin or owner when it has no board (403 for anyone else recording it). "
        "If-Match carries the gate's ETag: its criteria move it on, so a decision taken on a "
        "stale read of the gate is a 412 (428 without If-Match). The 201 is the decision, "
        "as read at its Location, with the decision's ETag. The decision moved the gate's "
        "ETag on too: read the gate (GET the stage gate) for its new ETag before changing it "
        "(If-Match with the decision's ETag is a 412 there), as after adding or assessing a "
        "criterion. A retry with the same Idempotency-Key answers the first answer, though "
        "the decision moved the gate's ETag on.",
    )
    async def decide_gate(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        gate_id: FromPath[uuid.UUID],
        data: JSONBody[GateDecisionCreate],
        session: NamedDependency[AsyncSession],
        control_session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response[GateReviewRead]:
        service = GateService(session, workspace.actor_id, workspace.role)

        async def make() -> GateReviewRead:
            # Checked only when the decision is taken, not on a replay of its key: the
            # decision itself moved the gate's ETag on.
            gate = await service.get(gate_id)
            check_if_match(if_match, gate.version)
            await check_people(
                control_session, workspace, {"decided_by_id": data.decided_by_id}, ["decided_by_id"]
            )
            review = await service.decide(
                gate,
                data.decision,
                data.decided_by_id,
                data.conditions,
                data.decided_on,
                await identity.role_in(control_session, data.decided_by_id, workspace.tenant_id),
            )
            return read_of(GateReviewRead, review)

        return await create_once(
            request, session, workspace, idempotency_key, data, GateReviewRead, make
        )


def checklist_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    gate_id: FromQuery[uuid.UUID | None] = None,
    tranche_id: FromQuery[uuid.UUID | None] = None,
) -> ChecklistFilter:
    return ChecklistFilter(programme_id, gate_id, tranche_id)


async def present_checklists(session: AsyncSession, rows: list[Any]) -> list[Any]:
    entries = await ChecklistService(session, None).entries([r.id for r in rows])
    return [
        read_of(
            ChecklistRead,
            row,
            entries=[read_of(ChecklistEntryRead, e) for e in entries.get(row.id, [])],
        )
        for row in rows
    ]


ChecklistController = register_controller(
    RegisterSpec(
        path="checklists",
        noun="checklist",
        service=ChecklistService,
        create=None,
        update=None,
        read=ChecklistRead,
        filters=checklist_filter,
        people=(),
        present=present_checklists,
        tag="stage gates",
    )
)
