"""Structure rules: programmes, tranches, projects, milestones. Runs in a tenant-scoped session:
the scope decides whose rows these are."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from services.identity.models import Role
from services.workspace import clock, exports
from services.workspace.benefits.models import Benefit, BenefitEnabler, BenefitMeasurement
from services.workspace.gates.models import GateBoundary, GateState, StageGate, StageGateReview
from services.workspace.gates.rules import slipped_past, tranche_may_close, tranche_may_start
from services.workspace.governance.models import (
    ChangeRequest,
    ChangeRequestState,
    Decision,
    DecisionStatus,
    MilestoneRebaseline,
)
from services.workspace.governance.rules import Rebaselining, rebaseline_problem
from services.workspace.raid.models import Dependency
from services.workspace.registers import RegisterService, between, equal, invalid, move_versions_on
from services.workspace.reporting.models import ReportState, StatusReport
from services.workspace.structure.models import (
    Milestone,
    MilestoneState,
    Programme,
    ProgrammeState,
    Project,
    ProjectKind,
    ProjectState,
    Tranche,
    TrancheState,
)
from services.workspace.structure.rules import (
    ENDED_PROJECTS,
    UNDER_WAY,
    Gate,
    actual_date_in_step,
    actual_date_problem,
    gates_on_the_way_in,
    reordered,
)


class ProgrammeSort(enum.StrEnum):
    NEWEST = "-created_at"
    OLDEST = "created_at"
    NAME = "name"
    START = "start_date"


@dataclass(frozen=True, slots=True)
class ProgrammeFilter:
    state: ProgrammeState | None = None
    owner_id: uuid.UUID | None = None
    sort: ProgrammeSort = ProgrammeSort.NEWEST


class ProgrammeRepository(SQLAlchemyAsyncRepository[Programme]):
    model_type = Programme


def check_dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValidationFailed(
            "Something cannot end before it starts.",
            errors=[field_error("end_date", "must be on or after start_date")],
        )


def _conditions(where: ProgrammeFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.state is not None:
        conditions.append(Programme.state == where.state)
    if where.owner_id is not None:
        conditions.append(Programme.owner_id == where.owner_id)
    return conditions


def _order(sort: ProgrammeSort) -> Sequence[ColumnElement[object]]:
    columns = {
        ProgrammeSort.NEWEST: [Programme.created_at.desc(), Programme.id.desc()],
        ProgrammeSort.OLDEST: [Programme.created_at.asc(), Programme.id.asc()],
        ProgrammeSort.NAME: [func.lower(Programme.name).asc(), Programme.id.asc()],
        ProgrammeSort.START: [Programme.start_date.asc().nulls_last(), Programme.id.asc()],
    }
    return columns[sort]  # type: ignore[return-value]


class ProgrammeService:
    def __init__(self, session: AsyncSession, actor_id: uuid.UUID | None) -> None:
        self.session = session
        self.actor_id = actor_id
        self.repository = ProgrammeRepository(session=session, auto_expunge=False)

    async def export_batches(self, where: ProgrammeFilter) -> AsyncIterator[list[Programme]]:
        """Every programme :meth:`list` would page through, in its order, in one pass: a
        server-side cursor read :data:`exports.EXPORT_BATCH` rows at a time (one statement, so
        one snapshot, no count and no offset re-read per batch), for the CSV export."""
        query = select(Programme).where(*_conditions(where)).order_by(*_order(where.sort))
        result = await self.session.stream_scalars(
            query.execution_options(yield_per=exports.EXPORT_BATCH)
        )
        async for batch in result.partitions():
            yield list(batch)

    async def list(
        self, where: ProgrammeFilter, limit: int, offset: int
    ) -> tuple[list[Programme], int]:
        conditions = _conditions(where)
        total = await self.session.scalar(
            select(func.count()).select_from(Programme).where(*conditions)
        )
        rows = await self.session.scalars(
            select(Programme)
            .where(*conditions)
            .order_by(*_order(where.sort))
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def get(self, programme_id: uuid.UUID) -> Programme:
        programme = await self.repository.get_one_or_none(Programme.id == programme_id)
        if programme is None:
            raise NotFound(f"No programme {programme_id}.")
        return programme

    async def create(self, **fields: object) -> Programme:
        programme = Programme(**fields, created_by=self.actor_id, updated_by=self.actor_id)
        check_dates(programme.start_date, programme.end_date)
        return await self.repository.add(programme, auto_refresh=True)

    async def update(self, programme: Programme, changes: dict[str, object]) -> Programme:
        old_end = programme.end_date
        for field, value in changes.items():
            setattr(programme, field, value)
        check_dates(programme.start_date, programme.end_date)
        end = programme.end_date
        if end is not None and (old_end is None or end < old_end):
            # The programme's planned end does not move before a milestone's baseline (the
            # plan falls within it). Its row is held first, so a milestone written meanwhile
            # (which reads the end FOR SHARE) is counted.
            with self.session.no_autoflush:
                await lock_programme(self.session, programme.id)
                await refuse_baselines_past(
                    self.session, MilestoneFilter(programme_id=programme.id), end, "programme"
                )
        if self.session.is_modified(programme):  # a PATCH changing nothing leaves it as it was
            programme.updated_by = self.actor_id
        await self.session.flush()
        await self.session.refresh(programme)
        return programme

    async def delete(self, programme: Programme) -> None:
        """A programme with anything on record is kept (409 naming what it holds,
        :func:`programme_record`): it is the client's record of the work, and its deletion
        would take that record with it. Close it instead. One with nothing on record (its
        plan, registers and drafts only) goes with everything in it, by cascade.

        The programme's row is held ``FOR UPDATE`` first (a row added to it meanwhile, which
        holds it ``FOR KEY SHARE``, waits, then finds it gone), and the rows whose state makes
        a record are read ``FOR SHARE`` (:func:`programme_record`): a close, publication or
        decision written meanwhile is waited for and counted. What keeps one of its rows from
        being deleted on its own goes first: change requests' re-baseline lines (the cascade
        would reach a milestone before the change request that names it, depending on the
        order of the keys' triggers). A project's draft status reports go in the same statement
        as the project, which its key (``NO ACTION``, checked at the statement's end) allows."""
        await self.session.execute(
            select(Programme.id).where(Programme.id == programme.id).with_for_update()
        )
        held = await programme_record(self.session, programme.id)
        if held:
            raise Conflict(
                f"The programme '{programme.name}' holds a record and is not deleted: "
                f"{'; '.join(held)}. A programme's record (what its tranches, reports, gates, "
                "benefits and change control came to) is kept: close it instead (state "
                "closed; on_hold pauses it). A programme with nothing on record is deleted "
                "with everything in it."
            )
        milestones = select(Milestone.id).where(Milestone.programme_id == programme.id)
        lines = delete(MilestoneRebaseline).where(MilestoneRebaseline.milestone_id.in_(milestones))
        await self.session.execute(lines.execution_options(synchronize_session=False))
        await self.session.delete(programme)
        await self.session.flush()


def _named(names: list[str]) -> str:
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(f"'{name}'" for name in names[:3]) + more


async def programme_record(session: AsyncSession, programme_id: uuid.UUID) -> list[str]:
    """What the programme holds on record, one phrase each (empty: nothing): closed tranches,
    published (or superseded) status reports, stage gates with a decision, benefits'
    measurements, decided change requests and decided entries of the decision log. The rows
    whose state says so are read ``FOR SHARE`` (a change to them written meanwhile is waited
    for and read once committed, one written after waits), and the benefits ``FOR UPDATE`` (a
    measurement added meanwhile, which holds its benefit ``FOR KEY SHARE``, is waited for and
    counted; one added after waits)."""
    held: list[str] = []
    tranches = await session.execute(
        select(Tranche.name, Tranche.state)
        .where(Tranche.programme_id == programme_id)
        .order_by(Tranche.position, Tranche.name)
        .with_for_update(read=True)
    )
    closed = [name for name, state in tranches.all() if state is TrancheState.CLOSED]
    if closed:
        held.append(f"{plural(len(closed), 'closed tranche')} ({_named(closed)})")
    reports = await session.scalars(
        select(StatusReport.state)
        .where(StatusReport.programme_id == programme_id)
        .with_for_update(read=True)
    )
    published = sum(1 for state in reports.all() if state is not ReportState.DRAFT)
    if published:
        held.append(plural(published, "published status report"))
    gates = await session.execute(
        select(StageGate.id, StageGate.title, StageGate.state)
        .where(StageGate.programme_id == programme_id)
        .order_by(StageGate.position, StageGate.title)
        .with_for_update(read=True)
    )
    reviewed = set(
        await session.scalars(
            select(StageGateReview.gate_id).where(
                StageGateReview.gate_id.in_(
                    select(StageGate.id).where(StageGate.programme_id == programme_id)
                )
            )
        )
    )
    decided = [
        title for id_, title, state in gates.all() if state is GateState.DECIDED or id_ in reviewed
    ]
    if decided:
        held.append(f"{plural(len(decided), 'decided stage gate')} ({_named(decided)})")
    benefits = select(Benefit.id).where(Benefit.programme_id == programme_id)
    await session.execute(benefits.with_for_update())
    measured = await session.scalar(
        select(func.count())
        .select_from(BenefitMeasurement)
        .where(BenefitMeasurement.benefit_id.in_(benefits))
    )
    if measured:
        held.append(plural(int(measured), "benefit measurement"))
    changes = await session.scalars(
        select(ChangeRequest.state)
        .where(ChangeRequest.programme_id == programme_id)
        .with_for_update(read=True)
    )
    settled = (ChangeRequestState.APPROVED, ChangeRequestState.REJECTED)
    decided_changes = sum(1 for state in changes.all() if state in settled)
    if decided_changes:
        held.append(plural(decided_changes, "approved or rejected change request"))
    logged = await session.scalars(
        select(Decision.status)
        .where(Decision.programme_id == programme_id)
        .with_for_update(read=True)
    )
    open_ = (DecisionStatus.PROPOSED, DecisionStatus.PENDING)
    taken = sum(1 for status in logged.all() if status not in open_)
    if taken:
        held.append(f"{plural(taken, 'decision')} taken in the decision log")
    return held


# --- tranches, projects, milestones -------------------------------------------------------------


async def lock_programme(session: AsyncSession, programme_id: uuid.UUID) -> None:
    """Hold ``programme_id``'s row until the transaction ends, so the writes that check how its
    tranches and gates stand (a tranche starting or moving, a gate coming or going) run one at a
    time: each reads the others' committed result, and two cannot both pass on what they read
    before either wrote. ``FOR NO KEY UPDATE``: rows that merely refer to the programme (a risk,
    a report) are still added meanwhile."""
    await session.execute(
        select(Programme.id).where(Programme.id == programme_id).with_for_update(key_share=True)
    )


@dataclass(frozen=True, slots=True)
class TrancheFilter:
    programme_id: uuid.UUID | None = None
    state: TrancheState | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.programme_id is not None:
            conditions.append(Tranche.programme_id == self.programme_id)
        if self.state is not None:
            conditions.append(Tranche.state == self.state)
        return conditions

    def order(self) -> list[Any]:
        return [Tranche.programme_id, Tranche.position, Tranche.start_date.asc().nulls_last()]


class TrancheService(RegisterService[Tranche]):
    model = Tranche
    noun = "tranche"

    async def check(self, row: Tranche, before: dict[str, Any] | None) -> None:
        if before is None or "state" in before or "position" in before:
            await lock_programme(self.session, row.programme_id)
        if before is None:
            await self.require_programme(row.programme_id)
        check_dates(row.start_date, row.end_date)
        old_position = None if before is None else before.get("position", row.position)
        was_under_way = before is not None and before.get("state", row.state) in UNDER_WAY
        starting = row.state in UNDER_WAY and not was_under_way
        was_closed = before is not None and before.get("state", row.state) == TrancheState.CLOSED
        if old_position != row.position:
            await self.refuse_re_ordering_history(row, old_position, was_closed)
        if starting or old_position != row.position:
            await self.check_ways_in(row, old_position, row.position, starting)
        if before is not None and row.state == TrancheState.CLOSED and not was_closed:
            await self.check_way_out(row)
        if was_closed and row.state == TrancheState.CLOSED:
            self.refuse_re_dating(row, before)
        if was_closed and row.state != TrancheState.CLOSED:
            self.check_reopening(row)
        elif was_under_way and row.state not in UNDER_WAY:
            self.check_unstarting(row)
        if before is not None and "end_date" in before:
            await self.check_end_after_baselines(row, before["end_date"])

    async def refuse_re_ordering_history(
        self, row: Tranche, old_position: int | None, was_closed: bool
    ) -> None:
        """A closed tranche keeps its place in the sequence, and no tranche is moved (or added)
        before one, nor moved out from before one to its position or after it (409 on
        ``position`` naming it): which tranches came before a closed one is its record. An
        admin or owner reopens it to correct that. A tranche may still move among those before
        it, and one not before it may share a closed one's position (as tranches created
        without one do) or move further after it. The programme's row is held
        (:func:`lock_programme`, taken by :meth:`check` for any write moving or adding a
        tranche, as for any close), so a close racing the move is read."""
        if was_closed and row.state is TrancheState.CLOSED:
            raise Conflict(
                f"The tranche '{row.name}' is closed: its place in the sequence is its record "
                "and does not move. A workspace admin or owner reopens it to correct it.",
                errors=[field_error("position", f"the tranche '{row.name}' is closed")],
            )
        closed = await closed_tranches(self.session, row.programme_id, row.id)
        passed = [
            name
            for name, position in closed
            if row.position < position and (old_position is None or old_position >= position)
        ]
        if passed:
            named = ", ".join(f"'{name}'" for name in passed)
            raise Conflict(
                f"The tranche '{row.name}' would come before {named}, closed: which tranches "
                "ran before a closed one is its record, and none is moved or added before it. "
                "A workspace admin or owner reopens it to correct it.",
                errors=[field_error("position", "a closed tranche would get a new predecessor")],
            )
        left = [
            name
            for name, position in closed
            if old_position is not None and old_position < position <= row.position
        ]
        if left:
            named = ", ".join(f"'{name}'" for name in left)
            raise Conflict(
                f"The tranche '{row.name}' comes before {named}, closed: which tranches came "
                "before a closed one is its record, and none is moved out from before it (nor "
                "deleted). A workspace admin or owner reopens it to correct it.",
                errors=[field_error("position", "a closed tranche would lose a predecessor")],
            )

    def refuse_re_dating(self, row: Tranche, before: dict[str, Any] | None) -> None:
        """A closed tranche's dates are history, as its milestones' are (409): an admin or owner
        reopens it to correct them, and it closes again through its end-of-tranche review."""
        for field in ("start_date", "end_date"):
            if before is not None and field in before and before[field] != getattr(row, field):
                raise Conflict(
                    f"The tranche '{row.name}' is closed: its dates are history. An admin or "
                    "owner reopens it to correct them.",
                    errors=[field_error(field, f"the tranche '{row.name}' is closed")],
                )

    def check_reopening(self, row: Tranche) -> None:
        """A closed tranche is reopened (to correct a mistaken close) by a workspace admin or
        owner: it closed through its end-of-tranche review, and while closed it takes no new or
        re-dated milestones; any member reopening it would step around both."""
        if not self.role.at_least(Role.ADMIN):
            raise Forbidden(
                f"The tranche '{row.name}' is closed: it closed through its end-of-tranche "
                "review, and only a workspace admin or owner reopens it (to correct a mistaken "
                "close).",
                errors=[field_error("state", "a closed tranche is reopened by an admin or owner")],
            )

    def check_unstarting(self, row: Tranche) -> None:
        """A started tranche is put back to planned (to correct a mistaken start) by a workspace
        admin or owner, as a closed one is reopened: it went in past the gates on its way in,
        and a member un-starting it would take it out from under that record unreviewed."""
        if not self.role.at_least(Role.ADMIN):
            raise Forbidden(
                f"The tranche '{row.name}' is started: it went in through the gates on its way "
                "in, and only a workspace admin or owner puts it back to planned (to correct a "
                "mistaken start).",
                errors=[
                    field_error("state", "a started tranche is un-started by an admin or owner")
                ],
            )

    async def check_end_after_baselines(self, row: Tranche, old_end: date | None) -> None:
        """The tranche's end does not move before a baseline of its milestones (those naming
        it, and those naming none of its projects): the baseline is the plan and falls within
        the tranche (:meth:`MilestoneService.check_baseline_within_bounds`). Its row is held
        first, so a milestone written meanwhile (which holds it ``FOR SHARE``) is counted."""
        if row.end_date is None or (old_end is not None and row.end_date >= old_end):
            return
        await self.session.execute(
            select(Tranche.id).where(Tranche.id == row.id).with_for_update(key_share=True)
        )
        await refuse_baselines_past(
            self.session, MilestoneFilter(tranche_id=row.id), row.end_date, "tranche"
        )

    async def check_way_out(self, row: Tranche) -> None:
        """A tranche closes through its end-of-tranche review: its exit gates (those on the
        tranche itself, not on one of its projects) have said go, conditional go or stop."""
        found = await self.session.execute(
            select(StageGate.title, StageGate.decision)
            .where(
                StageGate.tranche_id == row.id,
                StageGate.project_id.is_(None),
                StageGate.boundary == GateBoundary.EXIT,
            )
            .order_by(StageGate.position, StageGate.title)
        )
        open_ = [
            (title, decision)
            for title, decision in found.all()
            if not tranche_may_close([decision])
        ]
        if open_:
            named = ", ".join(f"'{t}' ({d or 'undecided'})" for t, d in open_)
            raise Conflict(
                f"The tranche closes through its end-of-tranche review: {named} "
                f"{'has' if len(open_) == 1 else 'have'} not said go, conditional go or stop.",
                errors=[field_error("state", "the end-of-tranche review has not been passed")],
            )

    async def delete(self, row: Tranche) -> None:
        """A closed tranche is kept on record (409, for anyone): it closed through its
        end-of-tranche review, and deleting it would erase that close. One closed by mistake is
        reopened first, by an admin or owner (:meth:`check_reopening`). Nor is a tranche
        placed before a closed one deleted (409 naming it): which tranches came before a closed
        one is its record, as for a move or an add (:meth:`refuse_re_ordering_history`). The
        programme's row is held first, so a close racing the delete is read. A started tranche
        is deleted by an admin or owner only (403), as it is put back to planned
        (:meth:`check_unstarting`): a member deleting it would erase its start unreviewed."""
        if row.state is TrancheState.CLOSED:
            raise Conflict(
                f"The tranche '{row.name}' is closed: it closed through its end-of-tranche "
                "review and is kept on record with what it delivered. A close made by mistake "
                "is corrected first: a workspace admin or owner reopens the tranche, which is "
                "then deleted as any other."
            )
        if row.state is TrancheState.STARTED and not self.role.at_least(Role.ADMIN):
            raise Forbidden(
                f"The tranche '{row.name}' is started: it went in through the gates on its way "
                "in, and only a workspace admin or owner deletes it (or puts it back to "
                "planned), as its start is then erased from the record."
            )
        await lock_programme(self.session, row.programme_id)
        ahead = [
            name
            for name, position in await closed_tranches(self.session, row.programme_id, row.id)
            if row.position < position
        ]
        if ahead:
            named = ", ".join(f"'{name}'" for name in ahead)
            raise Conflict(
                f"The tranche '{row.name}' comes before {named}, closed: which tranches came "
                "before a closed one is its record, and none is deleted from before it (nor "
                "moved out or added). A workspace admin or owner reopens the closed tranche to "
                "correct it."
            )
        await self.check_ways_in(row, row.position, None, starting=False)
        await super().delete(row)

    async def check_ways_in(
        self, row: Tranche, old_position: int | None, new_position: int | None, starting: bool
    ) -> None:
        """No tranche under way may end up behind a gate that has not said go or conditional
        go: not ``row`` when it starts (checked where it is and where it goes), nor when it
        moves, nor the tranches whose way in changes when ``row`` comes, moves or goes.

        A tranche that was already behind such a gate, and whose way in this write leaves as it
        was, is not this write's concern. Nor may a planned tranche be re-sequenced out from
        behind the exit gate of a tranche under way that has not said go or conditional go
        (:func:`~services.workspace.gates.rules.slipped_past`): it would then start without
        that end-of-tranche review."""
        others = (
            await self.session.execute(
                select(Tranche.id, Tranche.name, Tranche.position, Tranche.state).where(
                    Tranche.programme_id == row.programme_id, Tranche.id != row.id
                )
            )
        ).all()
        old: dict[uuid.UUID, int] = {t.id: t.position for t in others}
        new = dict(old)
        if old_position is not None:
            old[row.id] = old_position
        if new_position is not None:
            new[row.id] = new_position
        under_way = {t.id for t in others if t.state in UNDER_WAY}
        if new_position is not None and row.state in UNDER_WAY:
            under_way.add(row.id)
        moved_in_front = under_way & reordered(old, new)
        # Planned tranches whose way in this write changes (not one it adds or deletes).
        requeued = (reordered(old, new) & old.keys() & new.keys()) - under_way
        if not starting and not moved_in_front and not requeued:
            return
        # The tranches' own gates: a gate on one of a tranche's projects is the project's
        # business, and holds neither the tranche's start nor its close (see check_way_out).
        found = await self.session.execute(
            select(StageGate.tranche_id, StageGate.boundary, StageGate.decision, StageGate.title)
            .where(StageGate.tranche_id.in_([*old, *new]), StageGate.project_id.is_(None))
            .order_by(StageGate.position, StageGate.title)
        )
        gates = [Gate(t, b, d, title) for t, b, d, title in found.all() if t is not None]

        def in_the_way(layout: dict[uuid.UUID, int], tranche_id: uuid.UUID) -> list[Gate]:
            return [
                g
                for g in gates_on_the_way_in(layout, tranche_id, gates)
                if not tranche_may_start([g.decision])
            ]

        def closed(layout: dict[uuid.UUID, int], tranche_id: uuid.UUID) -> bool:
            return bool(in_the_way(layout, tranche_id))

        if starting:
            blocking = in_the_way(new, row.id)
            if old_position is not None:
                blocking += [g for g in in_the_way(old, row.id) if g not in blocking]
            if blocking:
                named = ", ".join(f"'{g.title}' ({g.decision or 'undecided'})" for g in blocking)
                raise Conflict(
                    "The tranche starts once the gates on its way in (its own entry gates and "
                    "the exit gates of the tranches right before it; not its projects' gates) "
                    f"say go or conditional go: {named} "
                    f"{'has' if len(blocking) == 1 else 'have'} not.",
                    errors=[field_error("state", "a gate on the way in has not said go")],
                )
        if row.id in moved_in_front and closed(new, row.id):
            raise Conflict(
                f"The tranche is {row.state}: it cannot move behind a gate that has not said go "
                "or conditional go.",
                errors=[field_error("position", "a gate on the way in has not said go")],
            )
        names = {t.id: t.name for t in others} | {row.id: row.name}
        action = (
            "adding" if old_position is None else "deleting" if new_position is None else "moving"
        )
        blocked = sorted(names[t] for t in moved_in_front - {row.id} if closed(new, t))
        if blocked:
            detail = (
                f"Tranches under way would end up behind a gate that has not said go or "
                f"conditional go by {action} this one: {', '.join(blocked)}."
            )
            errors = [field_error("position", "a tranche under way would be behind a closed gate")]
            raise Conflict(detail, errors=errors if new_position is not None else None)
        # A planned tranche keeps the end-of-tranche reviews it waits behind: re-sequenced out
        # from behind one of a tranche under way, it would start without that review's go.
        slipped = []
        for t in sorted(requeued, key=lambda t: names[t]):
            past = slipped_past(old, new, t, gates, under_way)
            if past:
                gated = " and ".join(sorted(names[u] for u in past))
                slipped.append(f"{names[t]} out from behind the exit gate of {gated}")
        if slipped:
            detail = (
                f"{action.capitalize()} this tranche would take {'; '.join(slipped)}: under "
                "way, and the gate has not said go or conditional go. A tranche queued behind "
                "one under way goes in through its end-of-tranche review; decide that gate first."
            )
            errors = [field_error("position", "a planned tranche would skip an undecided gate")]
            raise Conflict(detail, errors=errors if new_position is not None else None)


class ProjectSort(enum.StrEnum):
    NEWEST = "-created_at"
    NAME = "name"
    START = "start_date"


@dataclass(frozen=True, slots=True)
class ProjectFilter:
    programme_id: uuid.UUID | None = None
    tranche_id: uuid.UUID | None = None
    state: ProjectState | None = None
    kind: ProjectKind | None = None
    owner_id: uuid.UUID | None = None
    sort: ProjectSort = ProjectSort.NEWEST

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (Project.programme_id, self.programme_id),
            (Project.tranche_id, self.tranche_id),
            (Project.state, self.state),
            (Project.kind, self.kind),
            (Project.owner_id, self.owner_id),
        ]
        return equal(pairs)

    def order(self) -> list[Any]:
        orders: dict[Any, list[Any]] = {
            ProjectSort.NEWEST: [Project.created_at.desc()],
            ProjectSort.NAME: [func.lower(Project.name)],
            ProjectSort.START: [Project.start_date.asc().nulls_last()],
        }
        return orders[self.sort]


class ProjectService(RegisterService[Project]):
    model = Project
    noun = "project"
    register = "projects"

    async def check(self, row: Project, before: dict[str, Any] | None) -> None:
        await self.require_roles(row, before)
        if before is None:
            await self.require_programme(row.programme_id)
        if before is None or "tranche_id" in before:
            await self.require_row(Tranche, row.tranche_id, "tranche_id", row.programme_id)
        moved = before is not None and before.get("tranche_id", row.tranche_id) != row.tranche_id
        if moved:
            # Held first, as a gate's create (and an upgrade's move of one) holds it, and before
            # the tranches' rows (a close holds the programme, then its tranche): a gate planned
            # on the project meanwhile is waited for and moved, or reads the project moved.
            await lock_programme(self.session, row.programme_id)
        if before is not None and moved:
            await self.refuse_leaving_closed_tranche(row, before)
        if before is not None and before.get("state", row.state) != row.state:
            await self.refuse_reopening_in_closed_tranche(row, before)
        if before is None or moved:
            await refuse_closed_tranche(self.session, row.tranche_id, None, "tranche_id", "project")
        if moved and row.tranche_id is not None:
            await self.check_milestones_follow(row)
            await self.refuse_leaving_decided_gates(row, row.tranche_id)
        check_dates(row.start_date, row.end_date)

    async def update(self, row: Project, changes: dict[str, Any]) -> Project:
        was_cancelled = row.state is ProjectState.CANCELLED
        was_in = row.tranche_id
        updated = await super().update(row, changes)
        if was_cancelled != (updated.state is ProjectState.CANCELLED):
            # The RAG of a dependency with the project on a side reads whether it is cancelled.
            await move_versions_on(
                self.session, Dependency, dependencies_naming(project_id=row.id), self.actor_id
            )
        if updated.tranche_id != was_in:
            await self.move_gates_along(updated.id, updated.tranche_id)
        return updated

    async def seeded_written(self, current: dict[str, Any], written: dict[str, Any]) -> None:
        if "tranche_id" in written and written["tranche_id"] != current["tranche_id"]:
            await self.move_gates_along(current["id"], written["tranche_id"])

    @staticmethod
    def gates_left_behind(project_id: uuid.UUID, tranche_id: uuid.UUID) -> ColumnElement[bool]:
        """The project's gates naming a tranche other than ``tranche_id`` (its new one)."""
        return and_(
            StageGate.project_id == project_id,
            StageGate.tranche_id.is_not(None),
            StageGate.tranche_id != tranche_id,
        )

    async def refuse_leaving_decided_gates(self, row: Project, tranche_id: uuid.UUID) -> None:
        """A gate on a project is on the project's tranche: a project moving to ``tranche_id``
        takes its undecided gates with it (:meth:`move_gates_along`), but a decided one
        is the record of what its board decided there, and does not move (409 on
        ``tranche_id`` naming the first few; the project stays where its decided gates are).

        The gates' rows are held (``FOR NO KEY UPDATE``, as the move's write holds them) under
        the programme's (:meth:`check`): a decision taken meanwhile is waited for and read, and
        one taken after finds the gate moved on (412)."""
        found = await self.session.execute(
            select(StageGate.title, StageGate.state, StageGate.decision, Tranche.name)
            .join(Tranche, Tranche.id == StageGate.tranche_id)
            .where(self.gates_left_behind(row.id, tranche_id))
            .order_by(Tranche.position, StageGate.position, StageGate.title, StageGate.id)
            .with_for_update(key_share=True, of=StageGate)
        )
        decided = [
            f"'{title}' ({decision}, on the tranche '{tranche}')"
            for title, state, decision, tranche in found.all()
            if state is GateState.DECIDED
        ]
        if decided:
            more = f" and {len(decided) - 3} more" if len(decided) > 3 else ""
            raise Conflict(
                f"The project '{row.name}' cannot move to another tranche: "
                f"{plural(len(decided), 'decided stage gate')} of it "
                f"{'stands' if len(decided) == 1 else 'stand'} on its tranche "
                f"({', '.join(decided[:3])}{more}). A gate on a project is on the project's "
                "tranche, and a decided gate is kept where its board decided it: the project "
                "moves with its undecided gates only.",
                errors=[
                    field_error("tranche_id", "the project's decided gates stay on its tranche")
                ],
            )

    async def move_gates_along(self, project_id: uuid.UUID, tranche_id: uuid.UUID | None) -> None:
        """The project's gates on another tranche move to ``tranche_id``, its new one (none
        decided: :meth:`refuse_leaving_decided_gates`), their ETags moving on. A project leaving
        for no tranche leaves its gates where they are."""
        if tranche_id is None:
            return
        await move_versions_on(
            self.session,
            StageGate,
            self.gates_left_behind(project_id, tranche_id),
            self.actor_id,
            tranche_id=tranche_id,
        )

    async def refuse_leaving_closed_tranche(self, row: Project, before: dict[str, Any]) -> None:
        """A project is carried out of a closed tranche (to another, or to none) only while it
        is still delivering, as a milestone is: neither closed nor cancelled itself, and none
        of its milestones that take the tranche from it (naming none of their own) achieved or
        cancelled. Those are the closed tranche's record, and would leave it with the project
        (409 on ``tranche_id`` naming the tranche and the first few). What is still to deliver
        is carried on: the milestones one at a time to a project of a tranche still open, or
        the project once nothing it moves is on record; an admin or owner reopens the tranche
        to correct it otherwise. The tranche's row, and those milestones', are held ``FOR
        SHARE`` until the write commits: a close, or a milestone achieved, written meanwhile
        is waited for and read once committed, and one written after waits for the move."""
        tranche = await tranche_of(self.session, before["tranche_id"], None, share=True)
        if tranche is None or tranche.state is not TrancheState.CLOSED:
            return
        state = ProjectState(before.get("state", row.state))
        found = await self.session.execute(
            select(Milestone.title, Milestone.state)
            .where(Milestone.project_id == row.id, Milestone.tranche_id.is_(None))
            .order_by(Milestone.title, Milestone.id)
            .with_for_update(read=True)
        )
        done = MilestoneState.ACHIEVED, MilestoneState.CANCELLED
        on_record = [f"'{title}' ({s})" for title, s in found.all() if s in done]
        if state not in ENDED_PROJECTS and not on_record:
            return
        if state in ENDED_PROJECTS:
            why = f"the project was {state} there"
        else:
            more = f" and {len(on_record) - 3} more" if len(on_record) > 3 else ""
            why = (
                f"{plural(len(on_record), 'milestone')} of the project "
                f"{'was' if len(on_record) == 1 else 'were'} achieved or cancelled there and "
                f"would leave with it: {', '.join(on_record[:3])}{more}"
            )
        raise Conflict(
            f"The project '{row.name}' cannot leave the tranche '{tranche.name}', which is "
            f"closed: {why}. A closed tranche keeps its record; carry the milestones still to "
            "deliver over one at a time to a project in a tranche still open (or have an admin "
            "or owner reopen the tranche to correct it).",
            errors=[field_error("tranche_id", f"the tranche '{tranche.name}' is closed")],
        )

    async def refuse_reopening_in_closed_tranche(
        self, row: Project, before: dict[str, Any]
    ) -> None:
        """A project closed or cancelled in a closed tranche is part of its record: its state
        does not change while the tranche is closed (409 on ``state`` naming the tranche; an
        admin or owner reopens the tranche to correct it). The tranche's row is held ``FOR
        SHARE`` (:func:`tranche_of`), so a close racing the change is waited for and read."""
        was = ProjectState(before["state"])
        if was not in ENDED_PROJECTS:
            return
        tranche = await tranche_of(
            self.session, before.get("tranche_id", row.tranche_id), None, share=True
        )
        if tranche is not None and tranche.state is TrancheState.CLOSED:
            raise Conflict(
                f"The project '{row.name}' was {was} in the tranche '{tranche.name}', which is "
                "closed: its state is the tranche's record and stays as it is. A workspace "
                "admin or owner reopens the tranche to correct its record.",
                errors=[field_error("state", f"the tranche '{tranche.name}' is closed")],
            )

    async def refuse_erasing_closed_record(self, row: Project) -> None:
        """A project is not deleted while it is part of a closed tranche's record (409 naming
        the tranche): closed or cancelled there itself, or with milestones achieved or
        cancelled in a closed tranche (their own, else the project's), the first three named.
        The tranches' rows, then the milestones', are held ``FOR SHARE`` (as
        :meth:`refuse_leaving_closed_tranche` holds them): a close or an achievement written
        meanwhile is waited for and counted."""
        milestones = (
            await self.session.execute(
                select(Milestone.tranche_id).where(Milestone.project_id == row.id)
            )
        ).all()
        ids = {row.tranche_id, *(t for (t,) in milestones)} - {None}
        if not ids:
            return
        closed = {
            t.id: t
            for t in await self.session.scalars(
                select(Tranche)
                .where(Tranche.id.in_(ids))
                .order_by(Tranche.position, Tranche.name)
                .with_for_update(read=True)
                .execution_options(populate_existing=True)
            )
            if t.state is TrancheState.CLOSED
        }
        if not closed:
            return
        state = await self.session.scalar(
            select(Project.state).where(Project.id == row.id).with_for_update(read=True)
        )
        found = await self.session.execute(
            select(Milestone.title, Milestone.state, Milestone.tranche_id)
            .where(Milestone.project_id == row.id)
            .order_by(Milestone.title, Milestone.id)
            .with_for_update(read=True)
        )
        done = MilestoneState.ACHIEVED, MilestoneState.CANCELLED
        on_record: dict[uuid.UUID, list[str]] = {}
        for title, milestone_state, tranche_id in found.all():
            in_tranche = tranche_id or row.tranche_id
            if milestone_state in done and in_tranche in closed:
                on_record.setdefault(in_tranche, []).append(f"'{title}' ({milestone_state})")
        reasons = []
        if row.tranche_id in closed and state in ENDED_PROJECTS:
            reasons.append(f"it was {state} in the tranche '{closed[row.tranche_id].name}'")
        for tranche_id, named in on_record.items():
            more = f" and {len(named) - 3} more" if len(named) > 3 else ""
            reasons.append(
                f"{plural(len(named), 'milestone')} of it {'was' if len(named) == 1 else 'were'} "
                f"achieved or cancelled in the tranche '{closed[tranche_id].name}': "
                f"{', '.join(named[:3])}{more}"
            )
        if reasons:
            raise Conflict(
                f"The project '{row.name}' is part of a closed tranche's record and is not "
                f"deleted: {'; '.join(reasons)}. A workspace admin or owner reopens the "
                "tranche to correct its record."
            )

    async def check_milestones_follow(self, row: Project) -> None:
        """A project moves to another tranche only while none of its milestones names a
        different one: they would disagree with it (a milestone naming no tranche follows its
        project's)."""
        behind = await self.session.scalar(
            select(func.count())
            .select_from(Milestone)
            .where(
                Milestone.project_id == row.id,
                Milestone.tranche_id.is_not(None),
                Milestone.tranche_id != row.tranche_id,
            )
        )
        if behind:
            raise Conflict(
                f"{plural(behind, 'milestone')} of the project name another tranche; clear "
                "their tranche_id first (a milestone naming none follows its project's tranche), "
                "then move the project.",
                errors=[field_error("tranche_id", "the project's milestones name another tranche")],
            )

    async def delete(self, row: Project) -> None:
        """A project with status reports is kept: a published (or superseded) report is frozen,
        the programme's record of the period, and the project stays with it (close or cancel it
        instead). Drafts are deleted first, by whoever means to delete the project. Nor is a
        project deleted while it is part of a closed tranche's record
        (:meth:`refuse_erasing_closed_record`)."""
        await self.refuse_erasing_closed_record(row)
        found = await self.session.execute(
            select(StatusReport.state, func.count())
            .where(StatusReport.project_id == row.id)
            .group_by(StatusReport.state)
        )
        by_state: dict[ReportState, int] = {state: int(n) for state, n in found.all()}
        drafts = by_state.pop(ReportState.DRAFT, 0)
        published = sum(by_state.values())
        if published:
            raise Conflict(
                f"The project has {plural(published, 'published status report')}; a published "
                "report is frozen and kept on record, and so is its project: close or cancel "
                "the project instead."
            )
        if drafts:
            raise Conflict(
                f"The project has {plural(drafts, 'draft status report')}; delete its draft "
                "reports first."
            )
        # The benefits it enables show it among their enabling projects: it leaves them (the
        # link cascades), so their ETags move on.
        enabled = select(BenefitEnabler.benefit_id).where(BenefitEnabler.project_id == row.id)
        await move_versions_on(self.session, Benefit, Benefit.id.in_(enabled), self.actor_id)
        await super().delete(row)


async def closed_tranches(
    session: AsyncSession, programme_id: uuid.UUID, but: uuid.UUID
) -> list[tuple[str, int]]:
    """The programme's closed tranches other than ``but``, name and position, in order (read
    under :func:`lock_programme`, which a close takes too)."""
    found = await session.execute(
        select(Tranche.name, Tranche.position)
        .where(
            Tranche.programme_id == programme_id,
            Tranche.id != but,
            Tranche.state == TrancheState.CLOSED,
        )
        .order_by(Tranche.position, Tranche.name)
    )
    return [(name, position) for name, position in found.all()]


async def tranche_of(
    session: AsyncSession,
    tranche_id: uuid.UUID | None,
    project_id: uuid.UUID | None,
    *,
    share: bool = False,
) -> Tranche | None:
    """The tranche a row is in: the one it names, else its project's (None: in none).

    ``share``: hold the tranche's row ``FOR SHARE`` until the transaction ends, so a write that
    rests on how the tranche stands (open, not closed) and the tranche's own update (its close)
    run one after the other: a close written meanwhile is waited for and read once committed,
    and one written after waits for this write to commit."""
    if tranche_id is None and project_id is not None:
        tranche_id = await session.scalar(
            select(Project.tranche_id).where(Project.id == project_id)
        )
    if tranche_id is None:
        return None
    query = select(Tranche).where(Tranche.id == tranche_id)
    if share:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return await session.scalar(query)


async def refuse_closed_tranche(
    session: AsyncSession,
    tranche_id: uuid.UUID | None,
    project_id: uuid.UUID | None,
    field: str,
    what: str,
) -> None:
    """409 on ``field`` when the tranche a row would be in (:func:`tranche_of`) is closed: a
    closed tranche is history, and takes no new or re-dated ``what``. The tranche's row is held
    until the write commits, so it cannot close in between (:func:`tranche_of`)."""
    tranche = await tranche_of(session, tranche_id, project_id, share=True)
    if tranche is not None and tranche.state is TrancheState.CLOSED:
        raise Conflict(
            f"The tranche '{tranche.name}' is {tranche.state}: it takes no new or re-dated "
            f"{what}s (one still to deliver moves to a tranche still open).",
            errors=[field_error(field, f"the tranche '{tranche.name}' is closed")],
        )


async def refuse_baselines_past(
    session: AsyncSession, milestones: MilestoneFilter, end: date, what: str
) -> None:
    """409 on ``end_date`` when ``milestones`` has some baselined after ``end``, the new end of
    the ``what`` (tranche or programme) they are planned within: counted and the first few
    named, in one query, to be re-baselined through a change request first."""
    found = (
        await session.execute(
            select(Milestone.title, Milestone.baseline_date, func.count().over())
            .where(*milestones.conditions(), Milestone.baseline_date > end)
            .order_by(Milestone.baseline_date, Milestone.title, Milestone.id)
            .limit(3)
        )
    ).all()
    if not found:
        return
    total = int(found[0][2])
    named = ", ".join(f"'{title}' ({baseline})" for title, baseline, _ in found)
    more = f" and {total - len(found)} more" if total > len(found) else ""
    raise Conflict(
        f"{plural(total, 'milestone')} of the {what} would be planned after its end ({end}): "
        f"{named}{more}. A milestone's baseline falls within its tranche and the programme: "
        "re-baseline them through a change request first, then move the end.",
        errors=[field_error("end_date", f"milestones are baselined after this {what} end")],
    )


def dependencies_naming(
    *, project_id: uuid.UUID | None = None, milestone_id: uuid.UUID | None = None
) -> ColumnElement[bool]:
    """Dependencies with ``milestone_id``, or ``project_id`` (itself or one of its milestones),
    on a side."""
    if milestone_id is not None:
        return or_(
            Dependency.from_milestone_id == milestone_id,
            Dependency.to_milestone_id == milestone_id,
        )
    milestones = select(Milestone.id).where(Milestone.project_id == project_id)
    return or_(
        Dependency.from_project_id == project_id,
        Dependency.to_project_id == project_id,
        Dependency.from_milestone_id.in_(milestones),
        Dependency.to_milestone_id.in_(milestones),
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class MilestoneSort(enum.StrEnum):
    DUE = "forecast_date"
    BASELINE = "baseline_date"
    NEWEST = "-created_at"


@dataclass(frozen=True, slots=True)
class MilestoneFilter:
    programme_id: uuid.UUID | None = None
    tranche_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    state: MilestoneState | None = None
    owner_id: uuid.UUID | None = None
    due_after: date | None = None
    due_before: date | None = None
    sort: MilestoneSort = MilestoneSort.DUE

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (Milestone.programme_id, self.programme_id),
            (Milestone.project_id, self.project_id),
            (Milestone.state, self.state),
            (Milestone.owner_id, self.owner_id),
        ]
        conditions = equal(pairs)
        if self.tranche_id is not None:
            # A milestone naming no tranche follows its project's: it is in that one too.
            conditions.append(
                or_(
                    Milestone.tranche_id == self.tranche_id,
                    and_(
                        Milestone.tranche_id.is_(None),
                        Milestone.project_id.in_(
                            select(Project.id).where(Project.tranche_id == self.tranche_id)
                        ),
                    ),
                )
            )
        return conditions + between(Milestone.forecast_date, self.due_after, self.due_before)

    def order(self) -> list[Any]:
        orders: dict[Any, list[Any]] = {
            MilestoneSort.DUE: [Milestone.forecast_date.asc().nulls_last()],
            MilestoneSort.BASELINE: [Milestone.baseline_date.asc().nulls_last()],
            MilestoneSort.NEWEST: [Milestone.created_at.desc()],
        }
        return orders[self.sort]


def not_of_an_ended_project() -> ColumnElement[bool]:
    """Milestones of no project, or of one neither closed nor cancelled: those a programme's
    dashboard, schedule slip and key milestones count (a cancelled project's milestones will
    not come, a closed one's no longer matter)."""
    return or_(
        Milestone.project_id.is_(None),
        ~exists().where(Project.id == Milestone.project_id, Project.state.in_(ENDED_PROJECTS)),
    )


def slip_days(milestone: Milestone, today: date) -> int | None:
    """Days the milestone is (or was) late against its baseline; negative when early.

    One still to come (planned, or missed and not yet achieved) is late at least until today:
    a forecast that has passed does not stop the slip, as the status report's suggestion
    counts it too. An achieved one slipped until its actual date; a cancelled one by its
    forecast.
    """
    baseline = milestone.baseline_date
    if baseline is None:
        return None
    latest = milestone.actual_date or milestone.forecast_date
    if milestone.actual_date is None and milestone.state in (
        MilestoneState.PLANNED,
        MilestoneState.MISSED,
    ):
        latest = max(latest or baseline, today)
    return None if latest is None else (latest - baseline).days


# What a dependency's RAG reads of the milestones it names (and of their projects).
READ_BY_DEPENDENCIES = ("state", "baseline_date", "forecast_date", "actual_date", "project_id")


class MilestoneService(RegisterService[Milestone]):
    model = Milestone
    noun = "milestone"
    register = "milestones"

    async def check(self, row: Milestone, before: dict[str, Any] | None) -> None:
        if before is None:
            await self.require_programme(row.programme_id)
        if before is None or "tranche_id" in before:
            await self.require_row(Tranche, row.tranche_id, "tranche_id", row.programme_id)
        if before is None or "project_id" in before:
            await self.require_project(row.project_id, row.programme_id)
            if before is None or before["project_id"] != row.project_id:
                await self.refuse_cancelled_project(row)
            if before is not None and before["project_id"] != row.project_id:
                await self.refuse_move_from_dependencies(row)
        if before is None or "project_id" in before or "tranche_id" in before:
            await self.check_tranche_of_project(row)
        await self.refuse_closed_tranche(row, before)
        await self.refuse_changing_closed_state(row, before)
        rebaselined = before is not None and before.get("baseline_date", row.baseline_date)
        if rebaselined and rebaselined != row.baseline_date:
            raise Conflict(
                "A milestone's baseline moves only through an approved change request.",
                errors=[field_error("baseline_date", "re-baseline through a change request")],
            )
        await self.check_baseline_within_bounds(row, before)
        # A write that leaves the actual date out keeps it in step with the state; one that
        # sends an actual date the state contradicts is refused.
        today = clock.today(self.session)
        sent = row.actual_date is not None if before is None else "actual_date" in before
        if not sent:
            row.actual_date = actual_date_in_step(row.state, row.actual_date, today)
        # A day the write keeps may be up to two ahead (a time zone change moved it).
        kept = before is not None and not {"actual_date", "state"} & before.keys()
        problem = actual_date_problem(row.state, row.actual_date, today, kept=kept)
        if problem is not None:
            raise invalid("actual_date", problem)

    async def update(self, row: Milestone, changes: dict[str, Any]) -> Milestone:
        was = {name: getattr(row, name) for name in READ_BY_DEPENDENCIES}
        updated = await super().update(row, changes)
        if any(getattr(updated, name) != value for name, value in was.items()):
            await self._move_dependencies_on(row.id)
        return updated

    async def seeded_written(self, current: dict[str, Any], written: dict[str, Any]) -> None:
        if any(n in written and written[n] != current[n] for n in READ_BY_DEPENDENCIES):
            await self._move_dependencies_on(current["id"])

    async def _move_dependencies_on(self, milestone_id: uuid.UUID) -> None:
        # A dependency naming the milestone reads its dates and state for its RAG: its ETag
        # moves on with them.
        await move_versions_on(
            self.session, Dependency, dependencies_naming(milestone_id=milestone_id), self.actor_id
        )

    async def refuse_move_from_dependencies(self, row: Milestone) -> None:
        """A milestone moves to another project only while no dependency names it with its
        project on the same side: the dependency would name a project the milestone is no
        longer of (and refuse its every later edit). Such dependencies are named, to be changed
        first (their side's project, or the milestone). A side naming the milestone alone
        follows it: moved even into the project on the other side, it leaves a dependency its
        create accepts (a milestone may need something from its own project as a whole).

        The milestone's row is held first, with the lock its UPDATE takes: a dependency being
        written names it FOR SHARE, so one written at the same moment is waited for and then
        read here (rows merely referring to it, taking FOR KEY SHARE, are not held up)."""
        await self.session.execute(
            select(Milestone.id).where(Milestone.id == row.id).with_for_update(key_share=True)
        )
        found = await self.session.execute(
            select(Dependency.reference, Dependency.title)
            .where(
                or_(
                    and_(
                        Dependency.from_milestone_id == row.id,
                        Dependency.from_project_id.is_not(None),
                        Dependency.from_project_id.is_distinct_from(row.project_id),
                    ),
                    and_(
                        Dependency.to_milestone_id == row.id,
                        Dependency.to_project_id.is_not(None),
                        Dependency.to_project_id.is_distinct_from(row.project_id),
                    ),
                )
            )
            .order_by(Dependency.created_at, Dependency.id)
        )
        named = [f"{ref} '{title}'" if ref else f"'{title}'" for ref, title in found.all()]
        if named:
            which = "a dependency names" if len(named) == 1 else f"{len(named)} dependencies name"
            raise Conflict(
                f"The milestone cannot move to another project: {which} it with its current "
                f"project on the same side ({', '.join(named)}). Change their project (or "
                "milestone) first.",
                errors=[field_error("project_id", "dependencies name the milestone's project")],
            )

    async def refuse_closed_tranche(self, row: Milestone, before: dict[str, Any] | None) -> None:
        """A closed tranche takes no milestone (new, or moved in by its tranche or project)
        and none of its milestones is re-dated (forecast or baseline): its plan is history. One
        still to deliver is carried over to a tranche still open, and re-dated there."""
        if before is None:
            field = "tranche_id" if row.tranche_id is not None else "project_id"
        else:
            moved = [f for f in ("tranche_id", "project_id") if f in before]
            moved = [f for f in moved if before[f] != getattr(row, f)]
            re_dated = [f for f in ("forecast_date", "baseline_date") if f in before]
            re_dated = [f for f in re_dated if before[f] != getattr(row, f)]
            if not moved and not re_dated:
                return
            field = (moved or re_dated)[0]
            if moved:
                await self.refuse_leaving_closed_tranche(row, before, field)
        await refuse_closed_tranche(
            self.session, row.tranche_id, row.project_id, field, "milestone"
        )

    async def refuse_leaving_closed_tranche(
        self, row: Milestone, before: dict[str, Any], field: str
    ) -> None:
        """Only a milestone still to deliver (planned or missed) is carried out of a closed
        tranche: one achieved or cancelled there is its record, and moving it out would empty
        the closed tranche's history (409 on the field that moves it)."""
        state = MilestoneState(before.get("state", row.state))
        if state in (MilestoneState.PLANNED, MilestoneState.MISSED):
            return
        tranche = await tranche_of(
            self.session,
            before.get("tranche_id", row.tranche_id),
            before.get("project_id", row.project_id),
            share=True,
        )
        if tranche is not None and tranche.state is TrancheState.CLOSED:
            raise Conflict(
                f"The milestone '{row.title}' was {state} in the tranche '{tranche.name}', "
                "which is closed: it stays there on record (only a milestone still to deliver "
                "is carried over to a tranche still open).",
                errors=[field_error(field, f"the tranche '{tranche.name}' is closed")],
            )

    async def refuse_changing_closed_state(
        self, row: Milestone, before: dict[str, Any] | None
    ) -> None:
        """What a milestone came to in a closed tranche (its own, else its project's) is the
        tranche's record, settled by its end-of-tranche review: 409 on ``state`` (or
        ``actual_date``) naming the tranche when a write would change it there.

        One achieved or cancelled there keeps its state and its actual date: put back to
        planned, it could then be carried out or deleted, emptying the record round the side.
        One still to deliver (planned or missed) may go between those two (it is still to
        deliver either way), but it is achieved or cancelled only where it is carried over to,
        a tranche still open (in the same write, or first), as it is re-dated only there. An
        admin or owner reopens the tranche to correct its record. The tranche's row is held
        ``FOR SHARE`` (:func:`tranche_of`): a close racing the change is waited for and read."""
        if before is None:
            return
        changed = [f for f in ("state", "actual_date") if f in before]
        changed = [f for f in changed if before[f] != getattr(row, f)]
        if not changed:
            return
        was = MilestoneState(before.get("state", row.state))
        to_deliver = (MilestoneState.PLANNED, MilestoneState.MISSED)
        if was in to_deliver and row.state in to_deliver:
            return
        tranche = await tranche_of(
            self.session,
            before.get("tranche_id", row.tranche_id),
            before.get("project_id", row.project_id),
            share=True,
        )
        if tranche is None or tranche.state is not TrancheState.CLOSED:
            return
        if was in to_deliver:
            now_in = await tranche_of(self.session, row.tranche_id, row.project_id)
            if now_in is None or now_in.id != tranche.id:
                return  # carried over in the same write (the move's own checks apply)
            why = (
                f"is still to deliver in the tranche '{tranche.name}', which is closed: it is "
                f"not {row.state} there after the tranche's end-of-tranche review. Carry it "
                "over to a tranche still open (in the same change, or first) and change its "
                "state there"
            )
        else:
            why = (
                f"was {was} in the tranche '{tranche.name}', which is closed: its state and "
                "actual date are the tranche's record and stay as they are"
            )
        raise Conflict(
            f"The milestone '{row.title}' {why}. A workspace admin or owner reopens the "
            "tranche to correct its record.",
            errors=[field_error(changed[0], f"the tranche '{tranche.name}' is closed")],
        )

    async def check_baseline_within_bounds(
        self, row: Milestone, before: dict[str, Any] | None
    ) -> None:
        """The baseline is the plan: on or before the end of the milestone's tranche (its own,
        else its project's) and the programme's planned end, as a change request's re-baseline
        is (:func:`~services.workspace.governance.rules.rebaseline_problem`). 409 when a write
        sets a baseline outside them (on ``baseline_date``), or moves the milestone into a
        tranche ending before it (on the field that moves it). The forecast is not bounded: it
        may slip past either end, which is what slip reporting shows."""
        if row.baseline_date is None:
            return
        fields = ("baseline_date", "tranche_id", "project_id")
        if before is None:
            changed = ["baseline_date"]
        else:
            changed = [f for f in fields if f in before and before[f] != getattr(row, f)]
        if not changed:
            return
        tranche = await tranche_of(self.session, row.tranche_id, row.project_id)
        # Held FOR SHARE until the write commits, as the tranche is (refuse_closed_tranche):
        # the programme's end moving earlier meanwhile waits, then counts this baseline.
        programme_end = await self.session.scalar(
            select(Programme.end_date)
            .where(Programme.id == row.programme_id)
            .with_for_update(read=True)
        )
        problem = rebaseline_problem(
            Rebaselining(
                row.title,
                None,
                row.baseline_date,
                tranche=None if tranche is None else tranche.name,
                tranche_end=None if tranche is None else tranche.end_date,
                programme_end=programme_end,
            )
        )
        if problem is not None:
            raise Conflict(
                f"The milestone would be planned outside its bounds: {problem}. A milestone's "
                "baseline falls within its tranche and the programme (its forecast may slip "
                "past them).",
                errors=[field_error(changed[0], "the baseline would be outside its bounds")],
            )

    async def refuse_cancelled_project(self, row: Milestone) -> None:
        """A cancelled project takes no milestones (new or moved in): it will deliver none."""
        if row.project_id is None:
            return
        state = await self.session.scalar(select(Project.state).where(Project.id == row.project_id))
        if state is ProjectState.CANCELLED:
            raise invalid("project_id", "the project is cancelled: it takes no milestones")

    async def check_tranche_of_project(self, row: Milestone) -> None:
        """A milestone of a project in a tranche names that tranche, or none."""
        if await self.in_another_tranche(row.project_id, row.tranche_id):
            raise invalid(
                "tranche_id",
                "the milestone's project is in another tranche: name that one, or none",
                "A milestone's tranche is its project's.",
            )

    async def delete(self, row: Milestone) -> None:
        """A milestone achieved or cancelled in a closed tranche is that tranche's record and
        is kept (409 naming the tranche; an admin or owner reopens it to correct it). One still
        to deliver there is deleted as any other: it could be carried out of the tranche first
        anyway. A milestone a change request names is kept while the change names it: an
        applied re-baseline is the record of why its baseline moved; an open change is edited
        first."""
        await self.refuse_erasing_closed_record(row)
        found = await self.session.execute(
            select(
                ChangeRequest.reference,
                ChangeRequest.title,
                ChangeRequest.state,
                MilestoneRebaseline.applied_at,
            )
            .join(ChangeRequest, ChangeRequest.id == MilestoneRebaseline.change_request_id)
            .where(MilestoneRebaseline.milestone_id == row.id)
            .order_by(ChangeRequest.created_at)
        )
        reasons = []
        for reference, title, state, applied_at in found.all():
            named = f"{reference} '{title}'" if reference else f"'{title}'"
            if applied_at is not None:
                reasons.append(
                    f"change request {named} ({state}) re-baselined it; the milestone is kept "
                    "on record with it"
                )
            elif state in (ChangeRequestState.DRAFT, ChangeRequestState.SUBMITTED):
                reasons.append(
                    f"change request {named} ({state}) would re-baseline it; remove it from the "
                    "change request first"
                )
            elif state is ChangeRequestState.WITHDRAWN:
                reasons.append(
                    f"withdrawn change request {named} names it; delete the change request first"
                )
            else:
                reasons.append(
                    f"change request {named} ({state}) names it; the milestone is kept on record "
                    "with it"
                )
        if reasons:
            raise Conflict(f"The milestone cannot be deleted: {'; '.join(reasons)}.")
        await super().delete(row)

    async def refuse_erasing_closed_record(self, row: Milestone) -> None:
        """409 when ``row`` was achieved or cancelled in a closed tranche (its own, else its
        project's). The tranche's row and the milestone's are held ``FOR SHARE``: a close or an
        achievement written meanwhile is waited for and read once committed."""
        tranche = await tranche_of(self.session, row.tranche_id, row.project_id, share=True)
        if tranche is None or tranche.state is not TrancheState.CLOSED:
            return
        state = await self.session.scalar(
            select(Milestone.state).where(Milestone.id == row.id).with_for_update(read=True)
        )
        if state in (MilestoneState.ACHIEVED, MilestoneState.CANCELLED):
            raise Conflict(
                f"The milestone '{row.title}' was {state} in the tranche '{tranche.name}', "
                "which is closed: it is the tranche's record and is not deleted. A workspace "
                "admin or owner reopens the tranche to correct its record."
            )

    async def rebaseline(self, milestone: Milestone, new_baseline: date) -> date | None:
        """Apply an approved change's new baseline; returns the old one (for the record). A
        forecast that equalled the old baseline moves with it (the milestone is on plan, not
        early); one set to another date is kept.

        An achieved milestone is not re-baselined (409): what it was planned against, and how
        late it came, is history."""
        if milestone.state is MilestoneState.ACHIEVED:
            raise Conflict(
                f"The milestone '{milestone.title}' was achieved on {milestone.actual_date}: its "
                "baseline is history and does not move. Take it out of the change request's "
                "re-baselines, then decide the change."
            )
        previous = milestone.baseline_date
        milestone.baseline_date = new_baseline
        if previous is not None and milestone.forecast_date == previous:
            # A forecast that was the plan follows it; one the client set apart is theirs.
            milestone.forecast_date = new_baseline
        milestone.updated_by = self.actor_id
        await self.session.flush()
        if previous != new_baseline:
            await self._move_dependencies_on(milestone.id)
        return previous
