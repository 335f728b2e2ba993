"""Governance rules: board seats, meetings, actions, decisions and change requests (approving
one re-baselines its milestones and records the old dates)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.base import utcnow
from services.errors import Conflict, Forbidden, ValidationFailed, field_error
from services.identity.models import Role
from services.text import a_or_an
from services.workspace import clock
from services.workspace.clock import not_after_today
from services.workspace.governance.models import (
    Action,
    ActionState,
    Board,
    BoardMember,
    ChangeRequest,
    ChangeRequestState,
    Decision,
    DecisionStatus,
    Meeting,
    MeetingState,
    MilestoneRebaseline,
    ProgrammeDocument,
)
from services.workspace.governance.rules import (
    TAKEN,
    VOTING_SEATS,
    ChangePeople,
    Rebaselining,
    RecordedDate,
    board_reach_problem,
    change_approver_problem,
    change_decider_problem,
    change_people_problems,
    cited_decision_fields,
    cited_meeting_problem,
    decision_date_problem,
    decision_move_problem,
    decision_problems,
    derived_impact_problem,
    fixed_decision_fields,
    kept_change_problem,
    kept_decision_problem,
    largest_slip,
    rebaseline_problem,
    replacement_problem,
    schedule_impact_problem,
)
from services.workspace.organisation.models import ProgrammeRole
from services.workspace.registers import RegisterService, between, equal, invalid
from services.workspace.structure.models import Milestone, Programme, Project, Tranche, TrancheState
from services.workspace.structure.service import MilestoneService

OPEN_ACTIONS = (ActionState.OPEN, ActionState.IN_PROGRESS)


def is_overdue(state: ActionState, due: date | None, today: date) -> bool:
    return state in OPEN_ACTIONS and due is not None and due < today


COMPLETED_ON = RecordedDate("action", (ActionState.DONE,))
DECIDED_ON = RecordedDate(
    "decision",
    (DecisionStatus.APPROVED, DecisionStatus.REJECTED),
    kept=(DecisionStatus.SUPERSEDED,),
)


def keep_in_step(
    rule: RecordedDate,
    row: Any,
    field: str,
    state_field: str,
    before: dict[str, Any] | None,
    today: date,
) -> date | None:
    """Fill in or clear ``row``'s ``field`` as ``rule`` says, when a write moves the row's state
    without naming the date; refuse a date the state contradicts. Returns the date now held.

    A write that does not move the state leaves the date as it is: a row that broke the rule
    before it was made a rule is refused, not repaired with a made-up date.
    """
    day: date | None = getattr(row, field)
    state = getattr(row, state_field)
    sent = day is not None if before is None else field in before
    if (before is None or state_field in before) and not sent:
        day = rule.in_step(state, day, today)
        setattr(row, field, day)
    problem = rule.problem(state, day)
    if problem is not None:
        raise invalid(field, problem, f"{field}: {problem}")
    return day


async def require_board(
    session: AsyncSession, board_id: uuid.UUID | None, programme_id: uuid.UUID | None, field: str
) -> None:
    """``board_id`` names a board a row of ``programme_id`` may name: the programme's own or
    one across the workspace (:func:`board_reach_problem`)."""
    if board_id is None:
        return
    found = (await session.execute(select(Board.programme_id).where(Board.id == board_id))).first()
    if found is None:
        raise invalid(field, "no such board here")
    if (problem := board_reach_problem(found.programme_id, programme_id)) is not None:
        raise invalid(field, problem, f"{field}: {problem}")


@dataclass(frozen=True, slots=True)
class MeetingHeld:
    """What a row citing a meeting checks: its board (and the board's programme), its state
    and its day."""

    board_id: uuid.UUID
    programme_id: uuid.UUID | None
    state: MeetingState
    held_on: date


async def meeting_of(
    session: AsyncSession,
    meeting_id: uuid.UUID,
    programme_id: uuid.UUID | None,
    field: str,
    *,
    share: bool = False,
) -> MeetingHeld:
    """The meeting ``meeting_id`` names, if a row of ``programme_id`` may cite it (a meeting of
    one of the boards it may name); ``programme_id`` None takes any.

    ``share``: hold the meeting's row ``FOR SHARE`` until the transaction ends, for a write
    resting on how the meeting stands (a decision citing it as taken there): a cancel or move
    written meanwhile is waited for and read once committed, and one written after waits for
    this write (:meth:`MeetingService.keep_cited`)."""
    query = (
        select(Meeting.board_id, Board.programme_id, Meeting.state, Meeting.held_on)
        .join(Board, Board.id == Meeting.board_id)
        .where(Meeting.id == meeting_id)
    )
    if share:
        query = query.with_for_update(read=True, of=Meeting)
    found = (await session.execute(query)).first()
    if found is None:
        raise invalid(field, "no such meeting in this workspace")
    meeting = MeetingHeld(found.board_id, found.programme_id, found.state, found.held_on)
    if programme_id is not None:
        problem = board_reach_problem(meeting.programme_id, programme_id, "meeting")
        if problem is not None:
            raise invalid(field, problem, f"{field}: {problem}")
    return meeting


# --- boards -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardFilter:
    programme_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal([(Board.programme_id, self.programme_id)])

    def order(self) -> list[Any]:
        return [func.lower(Board.name)]


class BoardService(RegisterService[Board]):
    model = Board
    noun = "board"

    def values_of(self, data: msgspec.Struct) -> dict[str, Any]:
        values = super().values_of(data)
        self._members: list[dict[str, Any]] = values.pop("members", [])
        return values

    async def create(self, data: msgspec.Struct, **kwargs: Any) -> Board:
        board = await super().create(data, **kwargs)
        await self.set_members(board, self._members)
        return board

    async def update(self, row: Board, changes: dict[str, Any]) -> Board:
        members = changes.pop("members", None)
        if members is not None:
            await self.hold_as_loaded(row, tagged=False)
            await self.set_members(row, msgspec.to_builtins(members))
        return await super().update(row, changes)

    async def set_members(self, board: Board, members: list[dict[str, Any]]) -> None:
        for member in members:
            await self.require_row(ProgrammeRole, member.get("role_id"), "members")
        seated = (await self.members([board.id])).get(board.id, [])
        fields = ("role_title", "user_id", "capacity", "role_id")
        held = [msgspec.to_builtins({f: getattr(m, f) for f in fields}) for m in seated]
        if held == msgspec.to_builtins(members):
            # The same seats: kept as they are, ids too, so the board's read (its ETag) stays.
            return
        await self.session.execute(
            delete(BoardMember)
            .where(BoardMember.board_id == board.id)
            .execution_options(synchronize_session=False)
        )
        for position, member in enumerate(members):
            self.session.add(
                BoardMember(
                    board_id=board.id, position=position, **member, created_by=self.actor_id
                )
            )
        await self.session.flush()

    async def members(self, board_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[BoardMember]]:
        found: dict[uuid.UUID, list[BoardMember]] = {}
        if board_ids:
            rows = await self.session.scalars(
                select(BoardMember)
                .where(BoardMember.board_id.in_(board_ids))
                .order_by(BoardMember.position, BoardMember.created_at, BoardMember.role_title)
            )
            for member in rows.all():
                found.setdefault(member.board_id, []).append(member)
        return found

    async def is_member(self, board_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(BoardMember.id).where(
                BoardMember.board_id == board_id, BoardMember.user_id == user_id
            )
        )
        return found is not None

    async def delete(self, row: Board) -> None:
        """A board goes with its meetings; a meeting an action or a decision cites keeps it
        (409 naming the meeting and what cites it, rather than the keys' "actions")."""
        for model, noun in ((Action, "action"), (Decision, "decision")):
            cited = select(Meeting.title, Meeting.held_on, model.title).join(
                model, model.meeting_id == Meeting.id
            )
            cited = cited.where(Meeting.board_id == row.id)
            found = (
                await self.session.execute(
                    cited.order_by(Meeting.held_on, Meeting.id, model.created_at, model.id)
                )
            ).all()
            if found:
                meeting, held_on, title = found[0]
                more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
                raise Conflict(
                    f"The board's meeting '{meeting}' ({held_on.isoformat()}) is cited by the "
                    f"{noun} '{title}'{more}: a board is deleted with its meetings, so move "
                    f"those {noun}s off its meetings (or delete them) first."
                )
        await super().delete(row)

    async def check(self, row: Board, before: dict[str, Any] | None) -> None:
        if before is None and row.programme_id is not None:
            await self.require_programme(row.programme_id)
        if row.reports_to_id is not None:
            if row.reports_to_id == row.id:
                raise invalid("reports_to_id", "a board does not report to itself")
            await require_board(self.session, row.reports_to_id, row.programme_id, "reports_to_id")
            if row.id is not None and (before is None or "reports_to_id" in before):
                await self.refuse_reporting_loop(row)

    async def refuse_reporting_loop(self, row: Board) -> None:
        """Refuse ``row`` reporting to a board that already reports to it, directly or through
        other boards: nobody would be at the top to escalate to. One recursive query walks up
        from the board named. Writes of ``reports_to_id`` take a lock of the workspace's, so
        two that together close a loop cannot both pass on what they read before either wrote.
        """
        await self.lock_workspace("board-reporting")
        above = (
            select(Board.reports_to_id.label("board_id"))
            .where(Board.id == row.reports_to_id)
            .cte("above", recursive=True)
        )
        # UNION (not ALL) ends the walk at boards already reached, loops recorded before this
        # rule included; the row's own stored line is not followed, as this write replaces it.
        above = above.union(
            select(Board.reports_to_id)
            .join(above, Board.id == above.c.board_id)
            .where(Board.id != row.id)
        )
        loops = await self.session.scalar(select(exists().where(above.c.board_id == row.id)))
        if loops:
            raise invalid(
                "reports_to_id",
                "closes a loop: that board already reports to this one, directly or through "
                "other boards",
            )


# --- meetings -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeetingFilter:
    board_id: uuid.UUID | None = None
    state: MeetingState | None = None
    held_after: date | None = None
    held_before: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal([(Meeting.board_id, self.board_id), (Meeting.state, self.state)]) + between(
            Meeting.held_on, self.held_after, self.held_before
        )

    def order(self) -> list[Any]:
        return [Meeting.held_on.desc()]


class MeetingService(RegisterService[Meeting]):
    model = Meeting
    noun = "meeting"

    async def check(self, row: Meeting, before: dict[str, Any] | None) -> None:
        """A scheduled (or cancelled) meeting is dated when it is planned, any day; a held one
        has taken place, so not after today."""
        if before is None:
            await self.require_row(Board, row.board_id, "board_id")
        if row.state is MeetingState.HELD:
            # A day the write keeps may be up to two ahead (a time zone change moved it).
            kept = before is not None and not {"held_on", "state"} & before.keys()
            check = clock.kept_not_after_today if kept else not_after_today
            problem = check(row.held_on, clock.today(self.session))
            if problem is not None:
                raise invalid(
                    "held_on", problem, f"held_on: {problem}; a held meeting has taken place"
                )
        if before is not None and {"held_on", "state"} & before.keys():
            await self.keep_cited(row)
        held = before is not None and before.get("state") is MeetingState.HELD
        if held and row.state is not MeetingState.HELD:
            # Its minutes, attendees and the actions raised at it say what took place.
            raise Conflict(
                f"The meeting was held; it is a record of what took place and stays held "
                f"(not {row.state}). Schedule a new meeting instead.",
                errors=[field_error("state", "held stays held")],
            )

    async def keep_cited(self, row: Meeting) -> None:
        """A meeting that decisions taken cite stays one that took place before them: it is
        not cancelled, nor moved past one of them (409 naming them). Its row is held first, so
        a decision citing it written meanwhile (which holds it ``FOR SHARE``) is counted."""
        await self.session.execute(
            select(Meeting.id).where(Meeting.id == row.id).with_for_update(key_share=True)
        )
        cited = (
            await self.session.execute(
                select(Decision.title, Decision.decided_on)
                .where(Decision.meeting_id == row.id, Decision.decided_on.is_not(None))
                .order_by(Decision.decided_on, Decision.id)
            )
        ).all()
        broken = [
            title
            for title, decided_on in cited
            if cited_meeting_problem(row.state, row.held_on, decided_on) is not None
        ]
        if broken:
            named = ", ".join(repr(title) for title in broken[:5])
            more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
            raise Conflict(
                f"Decisions taken cite this meeting as where they were taken ({named}{more}): it "
                "stays held on or before the day they were taken."
            )


# --- actions ------------------------------------------------------------------------------------


class ActionSort(enum.StrEnum):
    DUE = "due_date"
    NEWEST = "-created_at"


@dataclass(frozen=True, slots=True)
class ActionFilter:
    programme_id: uuid.UUID | None = None
    meeting_id: uuid.UUID | None = None
    state: ActionState | None = None
    owner_id: uuid.UUID | None = None
    due_after: date | None = None
    due_before: date | None = None
    overdue: bool | None = None
    sort: ActionSort = ActionSort.DUE
    today: date | None = None
    """The workspace's today, for ``overdue`` (UTC's when not given, as for a session outside a
    request: see ``clock``)."""

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = equal(
            [
                (Action.programme_id, self.programme_id),
                (Action.meeting_id, self.meeting_id),
                (Action.state, self.state),
                (Action.owner_id, self.owner_id),
            ]
        ) + between(Action.due_date, self.due_after, self.due_before)
        today = self.today or datetime.now(UTC).date()
        if self.overdue is True:
            conditions += [Action.state.in_(OPEN_ACTIONS), Action.due_date < today]
        elif self.overdue is False:
            conditions.append(
                or_(
                    Action.state.not_in(OPEN_ACTIONS),
                    Action.due_date.is_(None),
                    Action.due_date >= today,
                )
            )
        return conditions

    def order(self) -> list[Any]:
        orders: dict[Any, list[Any]] = {
            ActionSort.DUE: [Action.due_date.asc().nulls_last()],
            ActionSort.NEWEST: [Action.created_at.desc()],
        }
        return orders[self.sort]


class ActionService(RegisterService[Action]):
    model = Action
    noun = "action"
    register = "actions"

    async def check(self, row: Action, before: dict[str, Any] | None) -> None:
        if row.meeting_id is not None and (
            before is None or {"meeting_id", "programme_id"} & before.keys()
        ):
            # Raised at a meeting of the programme's boards (or of one across the workspace);
            # without a programme, it takes the meeting's.
            meeting = await meeting_of(self.session, row.meeting_id, row.programme_id, "meeting_id")
            if before is None and row.programme_id is None:
                row.programme_id = meeting.programme_id
        if before is None and row.programme_id is not None:
            await self.require_programme(row.programme_id)
        today = clock.today(self.session)
        done = keep_in_step(COMPLETED_ON, row, "completed_on", "state", before, today)
        # A day the write keeps may be up to two ahead (a time zone change moved it).
        kept = before is not None and not {"completed_on", "state"} & before.keys()
        check = clock.kept_not_after_today if kept else not_after_today
        problem = None if done is None else check(done, today)
        if problem is not None:
            raise invalid("completed_on", problem, f"completed_on: {problem}")


# --- decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    board_id: uuid.UUID | None = None
    status: DecisionStatus | None = None
    decided_after: date | None = None
    decided_before: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal(
            [
                (Decision.programme_id, self.programme_id),
                (Decision.project_id, self.project_id),
                (Decision.board_id, self.board_id),
                (Decision.status, self.status),
            ]
        ) + between(Decision.decided_on, self.decided_after, self.decided_before)

    def order(self) -> list[Any]:
        return [Decision.decided_on.desc().nulls_first(), Decision.created_at.desc()]


class DecisionService(RegisterService[Decision]):
    model = Decision
    noun = "decision"
    register = "decisions"

    async def check(self, row: Decision, before: dict[str, Any] | None) -> None:
        if before is None:
            await self.require_programme(row.programme_id)
        await self.require_project(row.project_id, row.programme_id)
        if before is None or "board_id" in before:
            await require_board(self.session, row.board_id, row.programme_id, "board_id")
        current = self.check_move(row, before)
        today = clock.today(self.session)
        decided = keep_in_step(DECIDED_ON, row, "decided_on", "status", before, today)
        # A day the write keeps may be up to two ahead (a time zone change moved it).
        kept = before is not None and not {"decided_on", "status"} & before.keys()
        problem = (
            None if decided is None else decision_date_problem(decided, today, None, "", kept=kept)
        )
        if problem is not None:
            detail = f"decided_on: {problem} (today is {today.isoformat()} on its calendar)"
            raise invalid("decided_on", problem, detail)
        if current is not None:
            self.check_record_kept(row, current, before or {})
        # Checked on what a write sets, so a decision recorded before a rule is not locked
        # against its title or custom fields.
        written = None if before is None else before.keys()
        if written is None or {"status", "decided_by_id", "superseded_by_id"} & written:
            problems = decision_problems(row.status, row.decided_by_id, row.superseded_by_id)
            if problems:
                raise ValidationFailed(
                    "; ".join(f"{field}: {message}" for field, message in problems),
                    errors=[field_error(field, message) for field, message in problems],
                )
        if row.superseded_by_id is not None and (written is None or "superseded_by_id" in written):
            await self.check_replacement(row)
        if row.status in TAKEN:
            await self.check_decision_rights(row, before)
        if row.meeting_id is not None and (
            written is None or {"meeting_id", "board_id", "decided_on", "status"} & written
        ):
            await self.check_cited_meeting(row)

    async def delete(self, row: Decision) -> None:
        """A decision taken is a record of the programme: proposed and pending ones may go."""
        if (kept := kept_decision_problem(row.status)) is not None:
            raise Conflict(f"The decision was {row.status}; {kept}.")
        await super().delete(row)

    def check_move(self, row: Decision, before: dict[str, Any] | None) -> DecisionStatus | None:
        """The status moves as the log's lifecycle allows; returns the status the decision
        had (None for a new one)."""
        current = None if before is None else before.get("status", row.status)
        if before is None or "status" in before:
            problem = decision_move_problem(current, row.status)
            if problem is not None and current is None:
                raise invalid("status", problem, f"status: {problem}")
            if problem is not None:
                raise Conflict(
                    f"The decision is {current}; {problem}.",
                    errors=[field_error("status", problem)],
                )
        return current

    def check_record_kept(
        self, row: Decision, current: DecisionStatus, before: dict[str, Any]
    ) -> None:
        """A decision taken keeps what was decided, among what, why, by whom and when, and
        where (its board and meeting, once named: one left empty may be filled in)."""
        fixed = fixed_decision_fields(current)
        changed = [n for n in fixed if n in before and before[n] != getattr(row, n)]
        changed += [
            n
            for n in cited_decision_fields(current)
            if before.get(n) is not None and before[n] != getattr(row, n)
        ]
        if changed:
            raise Conflict(
                f"The decision was {current}; what was decided stays on record as it was "
                f"({', '.join(changed)}): record a new decision to change it.",
                errors=[field_error(n, f"fixed once the decision is {current}") for n in changed],
            )

    async def check_decision_rights(self, row: Decision, before: dict[str, Any] | None) -> None:
        """Who takes a decision, and who records it as taken, as a stage gate's
        (:meth:`GateService.decide`): checked when a write takes the decision, or names who
        took it or its board afterwards (a board filled in later).

        Naming a board, it is that board's: ``decided_by_id`` holds a voting seat on it (its
        chair or a member; 422), and whoever records it is the one who took it, holds a seat
        on the board (the secretariat) or is a workspace admin or owner (403). Naming none, it
        is the decision of the person named: a member records their own, an admin or owner
        anyone's (403)."""
        if before is not None:
            taking = "status" in before and before["status"] not in TAKEN
            moved = [
                n
                for n in ("decided_by_id", "board_id")
                if n in before and before[n] != getattr(row, n)
            ]
            if not taking and not moved:
                return
        # A board filled in on a decision taken: its seats do not hold who took it.
        only_board = before is not None and not {"status", "decided_by_id"} & before.keys()
        field = "board_id" if only_board else "decided_by_id"
        stands_in = self.role.at_least(Role.ADMIN)
        if row.board_id is None:
            if row.decided_by_id != self.actor_id and not stands_in:
                raise Forbidden(
                    "A decision naming no board is recorded as taken by the person who took it, "
                    "or by a workspace admin or owner; a board's decision names its board.",
                    errors=[field_error("decided_by_id", "yourself, unless you are an admin")],
                )
            return
        # The board's row is held FOR SHARE: its seats replaced meanwhile are waited for and
        # read, and a reseating written after waits for this decision.
        await self.session.execute(
            select(Board.id).where(Board.id == row.board_id).with_for_update(read=True)
        )
        if not await self.sits_on(row.board_id, row.decided_by_id, voting=True):
            raise invalid(
                field,
                "the decision's board is taken by its chair or a member holding a seat on it; "
                "an adviser, an observer or the secretariat does not take it",
                f"{field}: decided_by_id holds no chair's or member's seat on the board",
            )
        if (
            row.decided_by_id != self.actor_id
            and not stands_in
            and not await self.sits_on(row.board_id, self.actor_id)
        ):
            raise Forbidden(
                "A board's decision is recorded by the person who took it, someone with a seat "
                "on the board (the secretariat, say) or a workspace admin or owner.",
                errors=[field_error("decided_by_id", "recorded by a seat on the board")],
            )

    async def sits_on(
        self, board_id: uuid.UUID, user_id: uuid.UUID | None, *, voting: bool = False
    ) -> bool:
        """Whether ``user_id`` holds a seat on ``board_id`` (a chair's or member's, if
        ``voting``)."""
        seat = select(BoardMember.id).where(
            BoardMember.board_id == board_id, BoardMember.user_id == user_id
        )
        if voting:
            seat = seat.where(BoardMember.capacity.in_(VOTING_SEATS))
        return await self.session.scalar(seat.limit(1)) is not None

    async def check_replacement(self, row: Decision) -> None:
        """The decision replacing ``row`` is an approved one of its programme. Writes of a
        replacement take a lock of the workspace's, so two decisions superseding each other at
        once cannot both pass on what they read before either wrote (the second then finds its
        replacement superseded)."""
        await self.lock_workspace("decision-replacement")
        replacing = (
            await self.session.execute(
                select(Decision.programme_id, Decision.status).where(
                    Decision.id == row.superseded_by_id
                )
            )
        ).first()
        if replacing is None:
            raise invalid("superseded_by_id", "no such decision here")
        problem = replacement_problem(
            replacing.programme_id == row.programme_id,
            replacing.status,
            itself=row.superseded_by_id == row.id,
        )
        if problem is not None:
            raise invalid("superseded_by_id", problem, f"superseded_by_id: {problem}")

    async def check_cited_meeting(self, row: Decision) -> None:
        """The meeting is one of the programme's boards' (of the decision's board, when it
        names one), and took place if the decision is taken."""
        assert row.meeting_id is not None
        meeting = await meeting_of(
            self.session, row.meeting_id, row.programme_id, "meeting_id", share=True
        )
        if row.board_id is not None and meeting.board_id != row.board_id:
            raise invalid("meeting_id", "a meeting of another board than board_id")
        problem = cited_meeting_problem(meeting.state, meeting.held_on, row.decided_on)
        if problem is not None:
            raise invalid("meeting_id", problem, f"meeting_id: {problem}")


# --- change requests ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeRequestFilter:
    programme_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    state: ChangeRequestState | None = None
    approver_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal(
            [
                (ChangeRequest.programme_id, self.programme_id),
                (ChangeRequest.project_id, self.project_id),
                (ChangeRequest.state, self.state),
                (ChangeRequest.approver_id, self.approver_id),
            ]
        )

    def order(self) -> list[Any]:
        return [ChangeRequest.created_at.desc()]


DECIDED = (ChangeRequestState.APPROVED, ChangeRequestState.REJECTED)


class ChangeRequestService(RegisterService[ChangeRequest]):
    model = ChangeRequest
    noun = "change request"
    register = "change_requests"
    # Whether the write being checked replaced the re-baselines (set by :meth:`update`).
    _rebaselines_sent = False

    def values_of(self, data: msgspec.Struct) -> dict[str, Any]:
        values = super().values_of(data)
        self._lines: list[dict[str, Any]] = values.pop("rebaselines", [])
        return values

    async def create(self, data: msgspec.Struct, **kwargs: Any) -> ChangeRequest:
        """Raise a change; the service's ``role`` is the caller's (:func:`change_people_problems`).

        A member's request is their own: it names them as its requester when it names nobody,
        so that they cannot decide it. An admin or owner records requests for others and names
        the requester (none named, none is recorded)."""
        stands_in = self.role.at_least(Role.ADMIN)
        requested = getattr(data, "requested_by_id", None)
        if requested is None and not stands_in:
            requested = self.actor_id
            data = msgspec.structs.replace(data, requested_by_id=requested)
        self.refuse_people(
            ChangePeople(self.actor_id, None),
            ChangePeople(requested or self.actor_id, getattr(data, "approver_id", None)),
            submitted=False,
        )
        change = await super().create(data, **kwargs)
        await self.set_rebaselines(change, self._lines)
        return change

    async def update(self, row: ChangeRequest, changes: dict[str, Any]) -> ChangeRequest:
        """Change a change request until it is decided or withdrawn (the service's ``role`` is
        the caller's). Once submitted, its requester and approver change only by an admin or
        owner, and it does not go back to draft (it is decided, or withdrawn). The row is held
        first: a decision taken meanwhile is a 412, not re-baselines replaced behind it."""
        await self.hold_as_loaded(row, tagged=False)
        if row.state in DECIDED or row.state is ChangeRequestState.WITHDRAWN:
            raise Conflict(f"{a_or_an(row.state, starts=True)} change request cannot be changed.")
        submitted = row.state is ChangeRequestState.SUBMITTED
        withdrawing = changes.get("state") == ChangeRequestState.WITHDRAWN
        # A request is its requester's (its creator's when it names none) to take back.
        requester = row.requested_by_id or row.created_by
        others = self.actor_id != requester and not self.role.at_least(Role.ADMIN)
        if submitted and withdrawing and others:
            raise Forbidden(
                "A submitted change request is withdrawn by the person who requested it, or by "
                "a workspace admin or owner.",
                errors=[field_error("state", "withdrawn by its requester or an admin")],
            )
        if submitted and changes.get("state") == ChangeRequestState.DRAFT:
            # Back in draft its approver would be open again to whoever edits it.
            raise Conflict(
                "A submitted change request does not go back to draft: it is decided, or "
                "withdrawn and raised again.",
                errors=[field_error("state", "submitted or withdrawn, not back to draft")],
            )
        if changes.get("requested_by_id", row.requested_by_id) is None and (
            row.requested_by_id is not None
        ):
            raise invalid("requested_by_id", "who requested the change; it is not left empty")
        self.refuse_people(
            ChangePeople(row.requested_by_id, row.approver_id),
            ChangePeople(
                changes.get("requested_by_id", row.requested_by_id),
                changes.get("approver_id", row.approver_id),
            ),
            submitted=submitted,
        )
        lines = changes.pop("rebaselines", None)
        if lines is not None:
            await self.set_rebaselines(row, msgspec.to_builtins(lines))
        self._rebaselines_sent = lines is not None
        return await super().update(row, changes)

    def refuse_people(self, before: ChangePeople, after: ChangePeople, *, submitted: bool) -> None:
        """403 when the caller may not name who requested the change or who approves it so."""
        problems = change_people_problems(
            before,
            after,
            self.actor_id,
            submitted=submitted,
            stands_in=self.role.at_least(Role.ADMIN),
        )
        if problems:
            raise Forbidden(
                "; ".join(f"{field}: {message}" for field, message in problems),
                errors=[field_error(field, message) for field, message in problems],
            )

    async def set_rebaselines(self, change: ChangeRequest, lines: list[dict[str, Any]]) -> None:
        seen = set()
        for line in lines:
            milestone_id = uuid.UUID(str(line["milestone_id"]))
            if milestone_id in seen:
                raise invalid("rebaselines", "each milestone once")
            seen.add(milestone_id)
            await self.require_row(Milestone, milestone_id, "rebaselines", change.programme_id)
        await self.session.execute(
            delete(MilestoneRebaseline)
            .where(MilestoneRebaseline.change_request_id == change.id)
            .execution_options(synchronize_session=False)
        )
        for line in lines:
            self.session.add(
                MilestoneRebaseline(
                    change_request_id=change.id,
                    milestone_id=uuid.UUID(str(line["milestone_id"])),
                    new_baseline_date=date.fromisoformat(str(line["new_baseline_date"])),
                    created_by=self.actor_id,
                )
            )
        await self.session.flush()

    async def rebaselines(
        self, change_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[MilestoneRebaseline]]:
        found: dict[uuid.UUID, list[MilestoneRebaseline]] = {}
        if change_ids:
            rows = await self.session.scalars(
                select(MilestoneRebaseline)
                .where(MilestoneRebaseline.change_request_id.in_(change_ids))
                # The milestone breaks ties (each is named once a change): reads stay stable.
                .order_by(MilestoneRebaseline.new_baseline_date, MilestoneRebaseline.milestone_id)
            )
            for line in rows.all():
                found.setdefault(line.change_request_id, []).append(line)
        return found

    async def check(self, row: ChangeRequest, before: dict[str, Any] | None) -> None:
        if before is None:
            await self.require_programme(row.programme_id)
        await self.require_project(row.project_id, row.programme_id)
        if before is None or {"requested_by_id", "approver_id"} & before.keys():
            # A request naming no requester is its creator's (as :meth:`decide` reads it): they
            # are not named to decide it either.
            requester = row.requested_by_id or row.created_by
            problem = change_approver_problem(requester, row.approver_id)
            if problem is not None:
                raise invalid("approver_id", problem, f"approver_id: {problem}")
        # Submitted, or its re-baselines or impact changed once submitted: checked as decided.
        rechecked = before is not None and (
            {"state", "schedule_impact_days"} & before.keys() or self._rebaselines_sent
        )
        if row.state == ChangeRequestState.SUBMITTED and rechecked:
            await self.check_rebaselines(row, derive=True)

    async def rebaselinings(self, change: ChangeRequest) -> list[Rebaselining]:
        """The change's re-baselines as the rules read them, with the milestones' baselines now
        and their bounds: the tranche each is in (its own, else its project's) and the
        programme's planned end. One query."""
        found = await self.session.execute(
            select(
                Milestone.title,
                Milestone.baseline_date,
                MilestoneRebaseline.new_baseline_date,
                Tranche.name,
                Tranche.end_date,
                Tranche.state,
                Programme.end_date,
            )
            .join(Milestone, Milestone.id == MilestoneRebaseline.milestone_id)
            .join(Programme, Programme.id == Milestone.programme_id)
            .outerjoin(Project, Project.id == Milestone.project_id)
            .outerjoin(
                Tranche, Tranche.id == func.coalesce(Milestone.tranche_id, Project.tranche_id)
            )
            .where(MilestoneRebaseline.change_request_id == change.id)
            .order_by(MilestoneRebaseline.new_baseline_date, Milestone.title, Milestone.id)
        )
        return [
            Rebaselining(
                title,
                baseline,
                new,
                tranche,
                tranche_end,
                tranche_state is TrancheState.CLOSED,
                programme_end,
            )
            for title, baseline, new, tranche, tranche_end, tranche_state, programme_end in found
        ]

    async def hold_bounds(self, change: ChangeRequest) -> None:
        """Hold the rows bounding the change's re-baselines ``FOR SHARE`` until the write
        commits, as a milestone's own write holds them: the tranches its milestones are in and
        the programme. A tranche closing or its (the programme's) end moving earlier meanwhile
        is waited for and read once committed; one written after waits, then counts the new
        baselines."""
        tranche_ids = (
            select(func.coalesce(Milestone.tranche_id, Project.tranche_id))
            .select_from(MilestoneRebaseline)
            .join(Milestone, Milestone.id == MilestoneRebaseline.milestone_id)
            .outerjoin(Project, Project.id == Milestone.project_id)
            .where(MilestoneRebaseline.change_request_id == change.id)
        )
        await self.session.execute(
            select(Tranche.id)
            .where(Tranche.id.in_(tranche_ids))
            .order_by(Tranche.id)
            .with_for_update(read=True)
        )
        await self.session.execute(
            select(Programme.id)
            .where(Programme.id == change.programme_id)
            .with_for_update(read=True)
        )

    async def check_rebaselines(self, change: ChangeRequest, *, derive: bool) -> None:
        """409 when a re-baseline leaves its bounds (:func:`rebaseline_problem`) or slips its
        milestone more than the change states (:func:`schedule_impact_problem`); checked when
        the change is submitted (or its re-baselines or impact change after) and again when it
        is approved, as tranches, the programme and baselines may have moved meanwhile.
        ``derive``: a change stating no schedule impact is given its largest slip."""
        await self.hold_bounds(change)
        lines = await self.rebaselinings(change)
        problems = [p for line in lines if (p := rebaseline_problem(line)) is not None]
        if problems:
            raise Conflict(
                f"The change request cannot re-baseline {'; '.join(problems)}. A change request "
                "moves milestones within their tranche and programme: move the milestone to a "
                "tranche still open, or the tranche's (programme's) end, first.",
                errors=[field_error("rebaselines", "a new baseline is outside its bounds")],
            )
        largest = largest_slip(lines)
        if derive and change.schedule_impact_days is None and largest is not None:
            if (beyond := derived_impact_problem(largest)) is not None:
                raise Conflict(
                    f"The change request's schedule impact cannot be worked out: {beyond}. "
                    "Re-baseline its milestones within that.",
                    errors=[field_error("rebaselines", "a slip beyond a schedule impact")],
                )
            change.schedule_impact_days = largest.slip_days
        problem = schedule_impact_problem(change.schedule_impact_days, lines)
        if problem is not None:
            raise Conflict(
                f"The change request understates its schedule impact: {problem}. State the "
                "impact its re-baselines bring (or leave it out to have it worked out).",
                errors=[field_error("schedule_impact_days", "less than its largest slip")],
            )

    async def delete(self, row: ChangeRequest) -> None:
        """Only a draft is deleted. A submitted change is on record as raised (it is withdrawn
        by its requester or an admin or owner instead); a decided one explains the baselines
        its approval moved, or why they did not; a withdrawn one, that it was asked for. The
        row is held first: a submission written meanwhile is a 412, not deleted behind it."""
        await self.hold_as_loaded(row, tagged=False)
        if (kept := kept_change_problem(row.state)) is not None:
            raise Conflict(
                f"The change request is {row.state}; {kept}.",
                errors=[field_error("state", kept)],
            )
        await super().delete(row)

    async def decide(
        self,
        change: ChangeRequest,
        approved: bool,
        note: str,
        decided_on: date | None,
    ) -> ChangeRequest:
        """Approve or reject a submitted change; approval moves its milestones' baselines.

        A change naming an approver is decided by that person, or by a workspace admin or owner
        standing in (the service's ``role`` is the caller's); one naming none, by any member.
        Never by the person who requested it.
        """
        if change.state is not ChangeRequestState.SUBMITTED:
            raise Conflict(
                f"Only a submitted change request is decided; this one is {change.state}."
            )
        if (
            change.approver_id is not None
            and change.approver_id != self.actor_id
            and not self.role.at_least(Role.ADMIN)
        ):
            raise Forbidden(
                "Only the change request's approver (or a workspace admin or owner) decides it."
            )
        # Whoever they are: an admin standing in does not approve their own request either. A
        # request naming nobody is its creator's (an admin may leave it unnamed).
        conflicted = change_decider_problem(
            change.requested_by_id or change.created_by, self.actor_id
        )
        if conflicted is not None:
            raise Conflict(conflicted)
        today = clock.today(self.session)
        day = decided_on or today
        # Raised when recorded: the creation time, on the workspace's calendar like ``today``.
        raised = change.created_at.astimezone(clock.zone(self.session)).date()
        late = decision_date_problem(day, today, raised, "the request was raised")
        if late is not None:
            raise invalid("decided_on", late, f"The change request cannot be decided on {day}.")
        if approved:
            await self.check_rebaselines(change, derive=False)
        change.state = ChangeRequestState.APPROVED if approved else ChangeRequestState.REJECTED
        change.decided_by_id = self.actor_id
        change.decided_on = day
        change.decision_note = note
        change.updated_by = self.actor_id
        if approved:
            milestones = MilestoneService(self.session, self.actor_id)
            for line in (await self.rebaselines([change.id])).get(change.id, []):
                milestone = await milestones.get(line.milestone_id)
                line.previous_baseline_date = await milestones.rebaseline(
                    milestone, line.new_baseline_date
                )
                line.applied_at = utcnow()
        await self.session.flush()
        await self.session.refresh(change)
        return change


# --- governance documents ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    programme_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        return equal([(ProgrammeDocument.programme_id, self.programme_id)])

    def order(self) -> list[Any]:
        return [func.lower(ProgrammeDocument.title)]


class ProgrammeDocumentService(RegisterService[ProgrammeDocument]):
    model = ProgrammeDocument
    noun = "programme document"
