"""Stage gate rules: who decides, what a decision needs, when a gate may be decided again, what
a decided gate keeps fixed, whether a tranche may start or close, and which tranches a gate
stands before."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from services.workspace.gates.models import CriterionStatus, GateBoundary, GateDecision, GateState
from services.workspace.structure.rules import Gate, Layout, gates_on_the_way_in, tranches_before

OPENING = frozenset({GateDecision.GO, GateDecision.CONDITIONAL_GO})


@dataclass(frozen=True, slots=True)
class CriterionCheck:
    mandatory: bool
    status: CriterionStatus


def may_decide(state: GateState, current: GateDecision | None) -> bool:
    """A gate is decided once, except that a hold or recycle is reviewed again and a conditional
    go may become a go when its conditions are met."""
    if state is not GateState.DECIDED:
        return True
    return current in {GateDecision.HOLD, GateDecision.RECYCLE, GateDecision.CONDITIONAL_GO}


# What every decision at a gate was taken on: whose call it was and what it chose among.
DECIDED_FRAME = ("board_id", "outcomes")
# What the board was advised; each review records it, so it may be rewritten for the next one.
RECOMMENDATION = ("recommendation", "recommendation_note")


def fixed_once_decided(state: GateState, current: GateDecision | None) -> tuple[str, ...]:
    """The gate's fields that may no longer change: none before its first decision; its board
    and outcomes once decided; its recommendation too once the decision is final (a hold,
    recycle or conditional go is reviewed again, on a fresh recommendation)."""
    if state is not GateState.DECIDED:
        return ()
    if may_decide(state, current):
        return DECIDED_FRAME
    return DECIDED_FRAME + RECOMMENDATION


# What a criterion tests, as the gate was planned: the review assesses against it.
CRITERION_TEST = ("text", "evidence_required", "mandatory")


def criteria_settled(state: GateState) -> bool:
    """Whether the gate's criteria are settled: none added, and what each tests
    (:data:`CRITERION_TEST`) fixed. So they are from the moment its review starts: in review,
    and decided (a hold, recycle or conditional go is reviewed again on the same criteria).
    Their assessment (status, evidence, note) stays open until the decision is final.

    A gate is decided only on settled criteria: a planned gate is put in review first."""
    return state is not GateState.PLANNED


def decision_problems(
    decision: GateDecision,
    conditions: str,
    criteria: Iterable[CriterionCheck],
    current: GateDecision | None = None,
) -> list[tuple[str, str]]:
    """Why ``decision`` cannot be taken, as ``(field, message)`` pairs.

    Go needs every mandatory criterion met; conditional go needs its conditions written down
    (and may leave mandatory criteria open: that is what the conditions are for).
    """
    problems: list[tuple[str, str]] = []
    if current is GateDecision.CONDITIONAL_GO and decision is not GateDecision.GO:
        problems.append(("decision", "a conditional go can only become a go"))
    if decision is GateDecision.GO:
        open_ = [c for c in criteria if c.mandatory and c.status is not CriterionStatus.MET]
        if open_:
            problems.append(
                ("decision", f"go needs every mandatory criterion met; {len(open_)} not")
            )
    if decision is GateDecision.CONDITIONAL_GO and not conditions.strip():
        problems.append(("conditions", "a conditional go states its conditions"))
    return problems


def tranche_may_start(entry_decisions: Iterable[GateDecision | None]) -> bool:
    """A tranche starts only when every gate on its way in says go or conditional go.

    No gate at all means nothing to wait for.
    """
    return all(decision in OPENING for decision in entry_decisions)


# What an end-of-tranche review decides for the tranche to close: it goes on to the next
# (go, conditional go) or stops there. A hold or recycle keeps it open to be reviewed again.
CLOSING = OPENING | {GateDecision.STOP}


def tranche_may_close(exit_decisions: Iterable[GateDecision | None]) -> bool:
    """A tranche closes through its end-of-tranche review: every exit gate on it has said go,
    conditional go or stop. No exit gate at all means nothing to wait for."""
    return all(decision in CLOSING for decision in exit_decisions)


def slipped_past(
    before: Layout,
    after: Layout,
    tranche_id: uuid.UUID,
    gates: Iterable[Gate],
    under_way: AbstractSet[uuid.UUID],
) -> frozenset[uuid.UUID]:
    """The tranches under way whose exit gate, not yet go or conditional go, stood on the way
    into ``tranche_id`` in ``before`` and no longer does in ``after``: the tranche would be
    re-sequenced out from behind an end-of-tranche review still to pass.

    Among tranches not yet under way the plan may be re-sequenced freely; once one is under
    way, what is queued behind it goes in through its end-of-tranche review."""
    left = (tranches_before(before, tranche_id) & under_way) - tranches_before(after, tranche_id)
    return frozenset(
        g.tranche_id
        for g in gates
        if g.tranche_id in left and g.boundary is GateBoundary.EXIT and g.decision not in OPENING
    )


def tranches_behind(layout: Layout, gate: Gate) -> frozenset[uuid.UUID]:
    """The tranches of ``layout`` that ``gate`` stands on the way into: its own tranche for an
    entry gate, the tranches right after its tranche for an exit gate (the start rule's view,
    :func:`~services.workspace.structure.rules.gates_on_the_way_in`)."""
    return frozenset(t for t in layout if gates_on_the_way_in(layout, t, [gate]))
