"""HTTP for governance: boards, meetings, actions, decisions and change requests."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.concurrency import IfMatch, check_if_match
from services.dependencies import WorkspaceAccess, workspace_dependencies
from services.idempotency import IdempotencyKey
from services.identity.models import Role
from services.workspace import clock
from services.workspace.governance.models import (
    ActionState,
    ChangeRequestState,
    DecisionStatus,
    MeetingState,
)
from services.workspace.governance.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    BoardCreate,
    BoardMemberRead,
    BoardRead,
    BoardUpdate,
    ChangeDecision,
    ChangeRequestCreate,
    ChangeRequestRead,
    ChangeRequestUpdate,
    DecisionCreate,
    DecisionRead,
    DecisionUpdate,
    MeetingCreate,
    MeetingRead,
    MeetingUpdate,
    ProgrammeDocumentRead,
    RebaselineRead,
)
from services.workspace.governance.service import (
    ActionFilter,
    ActionService,
    ActionSort,
    BoardFilter,
    BoardService,
    ChangeRequestFilter,
    ChangeRequestService,
    DecisionFilter,
    DecisionService,
    DocumentFilter,
    MeetingFilter,
    MeetingService,
    ProgrammeDocumentService,
    is_overdue,
)
from services.workspace.http import (
    ACTION_RESPONSES,
    RegisterSpec,
    act_once,
    register_controller,
)
from services.workspace.schemas import read_of


def board_filter(programme_id: FromQuery[uuid.UUID | None] = None) -> BoardFilter:
    return BoardFilter(programme_id)


async def present_boards(session: AsyncSession, rows: list[Any]) -> list[Any]:
    members = await BoardService(session, None).members([r.id for r in rows])
    return [
        read_of(
            BoardRead,
            row,
            members=[read_of(BoardMemberRead, m) for m in members.get(row.id, [])],
        )
        for row in rows
    ]


def meeting_filter(
    board_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[MeetingState | None, QueryParameter(name="state")] = None,
    held_after: FromQuery[date | None] = None,
    held_before: FromQuery[date | None] = None,
) -> MeetingFilter:
    return MeetingFilter(board_id, lifecycle, held_after, held_before)


def action_filter(
    session: NamedDependency[AsyncSession],
    programme_id: FromQuery[uuid.UUID | None] = None,
    meeting_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[ActionState | None, QueryParameter(name="state")] = None,
    owner_id: FromQuery[uuid.UUID | None] = None,
    due_after: FromQuery[date | None] = None,
    due_before: FromQuery[date | None] = None,
    overdue: FromQuery[bool | None] = None,
    sort: FromQuery[ActionSort] = ActionSort.DUE,
) -> ActionFilter:
    today = clock.today(session)
    return ActionFilter(
        programme_id, meeting_id, lifecycle, owner_id, due_after, due_before, overdue, sort, today
    )


async def present_actions(session: AsyncSession, rows: list[Any]) -> list[Any]:
    today = clock.today(session)
    return [
        read_of(ActionRead, row, overdue=is_overdue(row.state, row.due_date, today)) for row in rows
    ]


def decision_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    board_id: FromQuery[uuid.UUID | None] = None,
    status: FromQuery[DecisionStatus | None] = None,
    decided_after: FromQuery[date | None] = None,
    decided_before: FromQuery[date | None] = None,
) -> DecisionFilter:
    return DecisionFilter(programme_id, project_id, board_id, status, decided_after, decided_before)


# Fields of a change request naming workspace members.
CHANGE_PEOPLE = ("requested_by_id", "approver_id")


def change_request_filter(
    programme_id: FromQuery[uuid.UUID | None] = None,
    project_id: FromQuery[uuid.UUID | None] = None,
    lifecycle: Annotated[ChangeRequestState | None, QueryParameter(name="state")] = None,
    approver_id: FromQuery[uuid.UUID | None] = None,
) -> ChangeRequestFilter:
    return ChangeRequestFilter(programme_id, project_id, lifecycle, approver_id)


async def present_change_requests(session: AsyncSession, rows: list[Any]) -> list[Any]:
    lines = await ChangeRequestService(session, None).rebaselines([r.id for r in rows])
    return [
        read_of(
            ChangeRequestRead,
            row,
            rebaselines=[read_of(RebaselineRead, line) for line in lines.get(row.id, [])],
        )
        for row in rows
    ]


BoardController = register_controller(
    RegisterSpec(
        path="boards",
        noun="board",
        service=BoardService,
        create=BoardCreate,
        update=BoardUpdate,
        read=BoardRead,
        filters=board_filter,
        people=("members[].user_id",),
        present=present_boards,
        tag="governance",
        # Boards and their seats say who decides stage gates and changes: setting them up is
        # governance, an admin's or owner's; members read them.
        write_role=Role.ADMIN,
    )
)
MeetingController = register_controller(
    RegisterSpec(
        path="meetings",
        noun="meeting",
        service=MeetingService,
        create=MeetingCreate,
        update=MeetingUpdate,
        read=MeetingRead,
        filters=meeting_filter,
        people=("attendee_ids[]",),
        tag="governance",
    )
)
ActionController = register_controller(
    RegisterSpec(
        path="actions",
        noun="action",
        service=ActionService,
        create=ActionCreate,
        update=ActionUpdate,
        read=ActionRead,
        filters=action_filter,
        present=present_actions,
        dated=True,
        tag="governance",
    )
)
DecisionController = register_controller(
    RegisterSpec(
        path="decisions",
        noun="decision",
        service=DecisionService,
        create=DecisionCreate,
        update=DecisionUpdate,
        read=DecisionRead,
        filters=decision_filter,
        people=("decided_by_id",),
        tag="governance",
    )
)
ChangeRequestController = register_controller(
    RegisterSpec(
        path="change-requests",
        noun="change request",
        service=ChangeRequestService,
        create=ChangeRequestCreate,
        update=ChangeRequestUpdate,
        read=ChangeRequestRead,
        filters=change_request_filter,
        people=CHANGE_PEOPLE,
        present=present_change_requests,
        tag="governance",
    )
)


class ChangeRequestDecisionController(Controller):
    path = "/api/v1/w/{slug:str}/change-requests/{change_id:uuid}/decision"
    tags = ["governance"]
    dependencies = workspace_dependencies
    security = [{"bearer": []}]

    @post(
        "/",
        status_code=200,
        responses=ACTION_RESPONSES,
        summary="Approve or reject a submitted change request (needs If-Match)",
        description="A retry with the same Idempotency-Key answers the first answer, though the "
        "decision moved the ETag on.",
    )
    async def decide_change(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        change_id: FromPath[uuid.UUID],
        data: JSONBody[ChangeDecision],
        session: NamedDependency[AsyncSession],
        workspace: NamedDependency[WorkspaceAccess],
        idempotency_key: IdempotencyKey = None,
        if_match: IfMatch = None,
    ) -> Response[ChangeRequestRead]:
        service = ChangeRequestService(session, workspace.actor_id, workspace.role)

        async def decide() -> ChangeRequestRead:
            change = await service.get(change_id)
            check_if_match(if_match, change.version)
            change = await service.decide(
                change, data.decision == "approved", data.note, data.decided_on
            )
            shown: ChangeRequestRead = (await present_change_requests(session, [change]))[0]
            return shown

        return await act_once(
            request, session, workspace, idempotency_key, data, ChangeRequestRead, decide
        )


def document_filter(programme_id: FromQuery[uuid.UUID | None] = None) -> DocumentFilter:
    return DocumentFilter(programme_id)


ProgrammeDocumentController = register_controller(
    RegisterSpec(
        path="programme-documents",
        noun="programme document",
        service=ProgrammeDocumentService,
        create=None,
        update=None,
        read=ProgrammeDocumentRead,
        filters=document_filter,
        people=(),
        tag="governance",
    )
)
