"""Stage gates: where they sit, their criteria, and decisions by a voting member of their board."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, func, select

from services.db.base import utcnow
from services.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from services.identity.models import Role
from services.workspace import clock
from services.workspace.gates.models import (
    Checklist,
    ChecklistEntry,
    CriterionStatus,
    GateBoundary,
    GateCriterion,
    GateState,
    StageGate,
    StageGateReview,
)
from services.workspace.gates.rules import (
    CRITERION_TEST,
    CriterionCheck,
    criteria_settled,
    decision_problems,
    fixed_once_decided,
    may_decide,
    tranches_behind,
)
from services.workspace.governance.models import BoardMember
from services.workspace.governance.rules import VOTING_SEATS, decision_date_problem
from services.workspace.governance.service import require_board
from services.workspace.registers import RegisterService, between, invalid
from services.workspace.structure.models import Tranche
from services.workspace.structure.rules import UNDER_WAY, Gate
from services.workspace.structure.service import lock_programme


@dataclass(frozen=True, slots=True)
class GateFilter:
    programme_id: uuid.UUID | None = None
    tranche_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    board_id: uuid.UUID | None = None
    state: GateState | None = None
    boundary: GateBoundary | None = None
    due_after: date | None = None
    due_before: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (StageGate.programme_id, self.programme_id),
            (StageGate.tranche_id, self.tranche_id),
            (StageGate.project_id, self.project_id),
            (StageGate.board_id, self.board_id),
            (StageGate.state, self.state),
            (StageGate.boundary, self.boundary),
        ]
        return [c == v for c, v in pairs if v is not None] + between(
            StageGate.planned_date, self.due_after, self.due_before
        )

    def order(self) -> list[Any]:
        return [StageGate.planned_date.asc().nulls_last(), StageGate.created_at]


# A gate's decisions, oldest first (the list's OpenAPI description is written from it).
REVIEW_ORDER = (StageGateReview.decided_on, StageGateReview.created_at, StageGateReview.id)


class GateService(RegisterService[StageGate]):
    model = StageGate
    noun = "stage gate"

    def values_of(self, data: msgspec.Struct) -> dict[str, Any]:
        values = super().values_of(data)
        self._criteria: list[dict[str, Any]] = values.pop("criteria", [])
        return values

    async def create(self, data: msgspec.Struct, **kwargs: Any) -> StageGate:
        gate = await super().create(data, **kwargs)
        for index, criterion in enumerate(self._criteria):
            position = criterion.pop("position", None)
            self.session.add(
                GateCriterion(
                    gate_id=gate.id,
                    position=index if position is None else position,
                    created_by=self.actor_id,
                    updated_by=self.actor_id,
                    **criterion,
                )
            )
        await self.session.flush()
        return gate

    async def update(self, row: StageGate, changes: dict[str, Any]) -> StageGate:
        """Change a gate (the service's ``role`` is the caller's). Its board decides it, so
        which board that is changes only by an admin or owner (403): a member planning the gate
        cannot hand it to a board they sit on."""
        if (
            "board_id" in changes
            and changes["board_id"] != row.board_id
            and not self.role.at_least(Role.ADMIN)
        ):
            raise Forbidden(
                "Only a workspace admin or owner changes which board decides a gate.",
                errors=[field_error("board_id", "changed by an admin or owner")],
            )
        return await super().update(row, changes)

    async def check(self, row: StageGate, before: dict[str, Any] | None) -> None:
        if before is None:
            await lock_programme(self.session, row.programme_id)
            await self.require_programme(row.programme_id)
            await self.require_row(Tranche, row.tranche_id, "tranche_id", row.programme_id)
            await self.require_project(row.project_id, row.programme_id)
            # A new gate has not been decided: it cannot stand before a tranche that has
            # already gone in (the tranche would be under way behind a closed gate).
            under_way = await self.under_way_behind(row)
            if under_way:
                raise Conflict(
                    f"The gate would stand on the way into {', '.join(under_way)}, already "
                    "under way; a gate is planned before its tranche goes in.",
                    errors=[field_error("tranche_id", "a tranche behind it is under way")],
                )
        if before is None or before.keys() & {"tranche_id", "project_id"}:
            await self.require_project_in_tranche(row)
        if before is not None and before.keys() & {"tranche_id", "boundary"}:
            # The API does not move a gate; a template upgrade may, and not in front of a
            # tranche under way either.
            await lock_programme(self.session, row.programme_id)
            await self.require_row(Tranche, row.tranche_id, "tranche_id", row.programme_id)
            under_way = await self.under_way_behind(row)
            if under_way and row.state is not GateState.DECIDED:
                raise Conflict(
                    f"The gate would move onto the way into {', '.join(under_way)}, already "
                    "under way; a gate is planned before its tranche goes in.",
                    errors=[field_error("tranche_id", "a tranche behind it is under way")],
                )
        if before is not None and row.state is GateState.DECIDED and "state" in before:
            raise Conflict("A decided gate is reviewed again through a new decision.")
        if before is not None and before.get("state") is GateState.DECIDED:
            raise Conflict("A decided gate cannot go back to planning.")
        if (
            before is not None
            and before.get("state") is GateState.IN_REVIEW
            and row.state == GateState.PLANNED
        ):
            # Back in planning its criteria could be reworded or made optional, and the review
            # go on against the new ones.
            raise Conflict(
                "A gate in review does not go back to planning: its criteria are what it is "
                "reviewed on. Decide it (hold or recycle to review it again).",
                errors=[field_error("state", "a gate in review stays there until decided")],
            )
        if before is not None:
            fixed = fixed_once_decided(before.get("state", row.state), row.decision)
            changed = [n for n in fixed if n in before and before[n] != getattr(row, n)]
            if changed:
                raise Conflict(
                    f"The gate is decided ({row.decision}); what the decision was taken on "
                    f"stays as it was: {', '.join(changed)}.",
                    errors=[field_error(n, "fixed once the gate is decided") for n in changed],
                )
        if before is not None and before.get("board_id") is not None and row.board_id is None:
            # Without a board any member decides the gate: clearing it would lift the board's say.
            raise invalid(
                "board_id",
                "a gate with a board keeps one; name another board to change it",
                "Only the gate's board decides it, so its board cannot be removed.",
            )
        if before is None or before.keys() & {"outcomes", "recommendation"}:
            _check_outcomes(row, None if before is None else before.keys())
        if before is None or "board_id" in before:
            # The one reach rule of the workspace's boards, as a decision or an issue names one.
            await require_board(self.session, row.board_id, row.programme_id, "board_id")

    async def delete(self, row: StageGate) -> None:
        """A gate with decisions on record is kept: its history is the programme's. So is an
        undecided gate on the way into a tranche already under way: the tranche went in past
        it, and without it the record would say nothing stood there. (Before a planned tranche
        it may go: that changes the governance plan, which is why deleting is an admin's act.)
        """
        decisions = await self.session.scalar(
            select(func.count())
            .select_from(StageGateReview)
            .where(StageGateReview.gate_id == row.id)
        )
        if decisions or row.state is GateState.DECIDED:
            raise Conflict(
                f"The gate is decided ({row.decision}); it is kept with its decisions on record."
            )
        await lock_programme(self.session, row.programme_id)
        under_way = await self.under_way_behind(row)
        if under_way:
            raise Conflict(
                f"The gate stands on the way into {', '.join(under_way)}, already under way; "
                "it is kept until it is decided, so the record shows what the tranche went "
                "in past."
            )
        await super().delete(row)

    async def require_project_in_tranche(self, row: StageGate) -> None:
        """A gate on a project and a tranche is on a project of that tranche."""
        if await self.in_another_tranche(row.project_id, row.tranche_id):
            raise invalid(
                "project_id",
                "the project is in another tranche: name its tranche, or a project of this one",
                "A project's gate is on the project's tranche.",
            )

    async def under_way_behind(self, row: StageGate) -> list[str]:
        """The tranches under way that ``row`` stands on the way into, as ``name (state)``:
        none for a gate on a project, which is the project's (it holds no tranche's start).

        Called with the programme locked (:func:`lock_programme`): what it reads holds until
        the write that relies on it commits."""
        if row.tranche_id is None or row.project_id is not None:
            return []
        tranches = (
            await self.session.execute(
                select(Tranche.id, Tranche.name, Tranche.position, Tranche.state).where(
                    Tranche.programme_id == row.programme_id
                )
            )
        ).all()
        behind = tranches_behind(
            {t.id: t.position for t in tranches},
            Gate(row.tranche_id, row.boundary, row.decision),
        )
        return sorted(
            f"{t.name} ({t.state})" for t in tranches if t.id in behind and t.state in UNDER_WAY
        )

    # --- criteria ---------------------------------------------------------------------------

    async def criteria(self, gate_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[GateCriterion]]:
        found: dict[uuid.UUID, list[GateCriterion]] = {}
        if gate_ids:
            rows = await self.session.scalars(
                select(GateCriterion)
                .where(GateCriterion.gate_id.in_(gate_ids))
                .order_by(GateCriterion.position, GateCriterion.created_at)
            )
            for criterion in rows.all():
                found.setdefault(criterion.gate_id, []).append(criterion)
        return found

    async def criterion(self, gate: StageGate, criterion_id: uuid.UUID) -> GateCriterion:
        found = await self.session.scalar(
            select(GateCriterion).where(
                GateCriterion.id == criterion_id, GateCriterion.gate_id == gate.id
            )
        )
        if found is None:
            raise NotFound(f"No criterion {criterion_id} on this gate.")
        return found

    async def add_criterion(
        self,
        gate: StageGate,
        text: str,
        evidence_required: str,
        mandatory: bool,
        position: int | None,
    ) -> GateCriterion:
        await self.hold(gate)
        self._open(gate)
        if criteria_settled(gate.state):
            raise Conflict(
                f"The gate is {self._reviewed(gate)}: its criteria are what it is reviewed on, "
                "so none is added now."
            )
        # The gate shows its criteria: its ETag moves on. Held (above) and touched first, so
        # criteria added at once queue on the gate and each finds the last position taken.
        await self.touch(gate)
        if position is None:
            last = await self.session.scalar(
                select(func.max(GateCriterion.position)).where(GateCriterion.gate_id == gate.id)
            )
            position = 0 if last is None else last + 1
        criterion = GateCriterion(
            gate_id=gate.id,
            text=text,
            evidence_required=evidence_required,
            mandatory=mandatory,
            position=position,
            created_by=self.actor_id,
            updated_by=self.actor_id,
        )
        self.session.add(criterion)
        await self.session.flush()
        await self.session.refresh(criterion)
        return criterion

    async def assess(
        self, gate: StageGate, criterion: GateCriterion, changes: dict[str, Any]
    ) -> GateCriterion:
        # The criterion's row before the gate's, as its write then the gate's touch take them
        # (and a template upgrade's): two writers never hold one each waiting for the other.
        # Only locked, not read again: its version stays the one If-Match was checked on.
        await self.session.execute(
            select(GateCriterion.id).where(GateCriterion.id == criterion.id).with_for_update()
        )
        await self.hold(gate)
        self._open(gate)
        retested = [
            n for n in CRITERION_TEST if n in changes and changes[n] != getattr(criterion, n)
        ]
        if retested and criteria_settled(gate.state):
            raise Conflict(
                f"The gate is {self._reviewed(gate)}: what its criteria test stays as planned "
                f"({', '.join(retested)}); their assessment (status, evidence_link, note) is "
                "still open.",
                errors=[field_error(n, "fixed once the gate is in review") for n in retested],
            )
        for name, value in changes.items():
            setattr(criterion, name, value)
        if "status" in changes:
            criterion.assessed_by = self.actor_id
            criterion.assessed_at = utcnow()
        if (
            criterion.status is CriterionStatus.MET
            and criterion.mandatory
            and not (criterion.evidence_link.strip() or criterion.note.strip())
        ):
            raise invalid("evidence_link", "a met criterion points to its evidence")
        criterion.updated_by = self.actor_id
        await self.session.flush()
        await self.session.refresh(criterion)
        await self.touch(gate)  # the gate shows its criteria and how many are met
        return criterion

    async def hold(self, gate: StageGate) -> None:
        """Lock ``gate``'s row (FOR UPDATE) and read it afresh, before a change to its criteria
        is checked against its state: a review started or a decision taken meanwhile is waited
        for and then seen, rather than a criterion added to a gate in review, or assessed on a
        gate decided for good, on what was read before. (A decision's version-checked write of
        the gate waits in turn for a criterion's change, and is then stale: 412.)"""
        await self.session.refresh(gate, with_for_update=True)

    def _open(self, gate: StageGate) -> None:
        if gate.state is GateState.DECIDED and not may_decide(gate.state, gate.decision):
            raise Conflict(f"The gate was decided ({gate.decision}); its criteria are closed.")

    @staticmethod
    def _reviewed(gate: StageGate) -> str:
        if gate.state is GateState.DECIDED:
            return f"decided ({gate.decision}) and reviewed again"
        return "in review"

    # --- decisions --------------------------------------------------------------------------

    async def decide(
        self,
        gate: StageGate,
        decision: Any,
        decided_by: uuid.UUID,
        conditions: str,
        decided_on: date | None,
        decided_by_role: Role | None,
    ) -> StageGateReview:
        """Record the board's decision, taken by ``decided_by`` (a voting member of the gate's
        board, when it has one). Whoever records it (the actor, in the service's ``role``) is the
        one who took it, holds a seat on that board (the secretariat records for the chair),
        or is a workspace admin or owner: a member off the board does not speak for it.

        A gate without a board is decided by a workspace admin or owner (``decided_by_role``:
        the decider's role in the workspace) and recorded by one. A gate is decided in review,
        not straight from planning (409)."""
        if not criteria_settled(gate.state):
            raise Conflict(
                "The gate is planned: its review has not started. Put it in review first "
                "(PATCH the gate with state in_review, its criteria then fixed), assess its "
                "criteria, then record the decision."
            )
        if not may_decide(gate.state, gate.decision):
            raise Conflict(f"The gate is decided ({gate.decision}) for good.")
        if gate.board_id is None and not self.role.at_least(Role.ADMIN):
            raise Forbidden(
                "A gate without a board is decided by a workspace admin or owner; an admin "
                "names a board for it to have that board's chair or members decide it."
            )
        if decision not in gate.outcomes:
            raise invalid("decision", f"this gate decides one of: {', '.join(gate.outcomes)}")
        if gate.board_id is None and not (
            decided_by_role is not None and decided_by_role.at_least(Role.ADMIN)
        ):
            raise invalid(
                "decided_by_id",
                "a gate without a board is decided by a workspace admin or owner",
            )
        if gate.board_id is not None and not await self.sits_on(
            gate.board_id, decided_by, voting=True
        ):
            raise invalid(
                "decided_by_id",
                "only the chair or a member of the gate's board decides it; an adviser, an "
                "observer or the secretariat does not",
            )
        if (
            gate.board_id is not None
            and self.actor_id != decided_by
            and not self.role.at_least(Role.ADMIN)
            and not await self.sits_on(gate.board_id, self.actor_id)
        ):
            raise Forbidden(
                "Only the person who took the decision, someone with a seat on the gate's board "
                "(the secretariat, say) or a workspace admin or owner records it."
            )
        criteria = (await self.criteria([gate.id])).get(gate.id, [])
        problems = decision_problems(
            decision,
            conditions,
            [CriterionCheck(c.mandatory, c.status) for c in criteria],
            gate.decision if gate.state is GateState.DECIDED else None,
        )
        today = clock.today(self.session)
        day = decided_on or today
        previous = await self.session.scalar(
            select(func.max(StageGateReview.decided_on)).where(StageGateReview.gate_id == gate.id)
        )
        late = decision_date_problem(day, today, previous, "the gate's previous decision")
        if late is not None:
            problems.append(("decided_on", late))
        if problems:
            raise ValidationFailed(
                f"The gate cannot be decided {decision}.",
                errors=[field_error(f, m) for f, m in problems],
            )
        review = StageGateReview(
            gate_id=gate.id,
            recommendation=gate.recommendation,
            decision=decision,
            conditions=conditions,
            decided_by_id=decided_by,
            decided_on=day,
            criteria_met=sum(c.status is CriterionStatus.MET for c in criteria),
            criteria_total=len(criteria),
            created_by=self.actor_id,
            updated_by=self.actor_id,
        )
        self.session.add(review)
        gate.state = GateState.DECIDED
        gate.decision = decision
        gate.conditions = conditions
        gate.decided_by_id = decided_by
        gate.decided_on = day
        gate.updated_by = self.actor_id
        await self.session.flush()
        await self.session.refresh(review)
        await self.session.refresh(gate)
        return review

    async def sits_on(
        self, board_id: uuid.UUID, user_id: uuid.UUID | None, *, voting: bool = False
    ) -> bool:
        """Whether ``user_id`` holds a seat on ``board_id`` (with a vote, if ``voting``; one
        seat is enough)."""
        seat = select(BoardMember.id).where(
            BoardMember.board_id == board_id, BoardMember.user_id == user_id
        )
        if voting:
            seat = seat.where(BoardMember.capacity.in_(VOTING_SEATS))
        return await self.session.scalar(seat.limit(1)) is not None

    async def review(self, gate: StageGate, review_id: uuid.UUID) -> StageGateReview:
        found = await self.session.scalar(
            select(StageGateReview).where(
                StageGateReview.id == review_id, StageGateReview.gate_id == gate.id
            )
        )
        if found is None:
            raise NotFound(f"No decision {review_id} of this gate.")
        return found

    async def reviews(
        self, gate: StageGate, limit: int, offset: int
    ) -> tuple[list[StageGateReview], int]:
        """A page of the gate's decisions, oldest first, and how many it has."""
        where = StageGateReview.gate_id == gate.id
        total = await self.session.scalar(
            select(func.count()).select_from(StageGateReview).where(where)
        )
        rows = await self.session.scalars(
            select(StageGateReview).where(where).order_by(*REVIEW_ORDER).limit(limit).offset(offset)
        )
        return list(rows.all()), int(total or 0)


def _check_outcomes(gate: StageGate, written: AbstractSet[str] | None) -> None:
    """The gate's outcomes are named once each, and its recommendation is one of them: the
    board is advised to take a decision the gate can reach. Refused on the field ``written``
    (``outcomes`` when only they changed under a recommendation)."""
    repeated = sorted({o for o in gate.outcomes if gate.outcomes.count(o) > 1})
    if repeated:
        raise invalid("outcomes", f"each outcome once; repeated: {', '.join(repeated)}")
    if gate.recommendation is not None and gate.recommendation not in gate.outcomes:
        field = (
            "outcomes"
            if written is not None and "recommendation" not in written
            else "recommendation"
        )
        raise invalid(
            field,
            f"the recommendation ({gate.recommendation}) is one of the gate's outcomes: "
            f"{', '.join(gate.outcomes)}",
        )


# --- checklists ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChecklistFilter:
    programme_id: uuid.UUID | None = None
    gate_id: uuid.UUID | None = None
    tranche_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        pairs = [
            (Checklist.programme_id, self.programme_id),
            (Checklist.gate_id, self.gate_id),
            (Checklist.tranche_id, self.tranche_id),
        ]
        return [c == v for c, v in pairs if v is not None]

    def order(self) -> list[Any]:
        return [func.lower(Checklist.title)]


class ChecklistService(RegisterService[Checklist]):
    model = Checklist
    noun = "checklist"

    async def entries(
        self, checklist_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[ChecklistEntry]]:
        found: dict[uuid.UUID, list[ChecklistEntry]] = {}
        if checklist_ids:
            rows = await self.session.scalars(
                select(ChecklistEntry)
                .where(ChecklistEntry.checklist_id.in_(checklist_ids))
                .order_by(ChecklistEntry.position, ChecklistEntry.created_at)
            )
            for entry in rows.all():
                found.setdefault(entry.checklist_id, []).append(entry)
        return found
