"""Rules for decided stage gates, the tranches a gate stands before, and the dates of
governance decisions (pure functions)."""

from __future__ import annotations

import uuid
from datetime import date

from services.workspace.gates.models import GateBoundary, GateDecision, GateState
from services.workspace.gates.rules import (
    criteria_settled,
    fixed_once_decided,
    slipped_past,
    tranche_may_close,
    tranches_behind,
)
from services.workspace.governance.rules import decision_date_problem
from services.workspace.structure.rules import Gate

TODAY = date(2027, 5, 1)


def test_an_undecided_gate_may_change_anything() -> None:
    assert fixed_once_decided(GateState.PLANNED, None) == ()
    assert fixed_once_decided(GateState.IN_REVIEW, None) == ()


def test_a_final_decision_fixes_board_outcomes_and_recommendation() -> None:
    for final in (GateDecision.GO, GateDecision.STOP):
        assert set(fixed_once_decided(GateState.DECIDED, final)) == {
            "board_id",
            "outcomes",
            "recommendation",
            "recommendation_note",
        }


def test_a_gate_reviewed_again_keeps_its_board_and_outcomes_but_takes_new_advice() -> None:
    for again in (GateDecision.HOLD, GateDecision.RECYCLE, GateDecision.CONDITIONAL_GO):
        assert set(fixed_once_decided(GateState.DECIDED, again)) == {"board_id", "outcomes"}


def test_a_gates_criteria_are_settled_once_its_review_starts() -> None:
    assert criteria_settled(GateState.PLANNED) is False
    assert criteria_settled(GateState.IN_REVIEW) is True
    assert criteria_settled(GateState.DECIDED) is True


def test_a_decision_is_dated_today_or_earlier() -> None:
    assert decision_date_problem(TODAY, TODAY, None, "x") is None
    assert decision_date_problem(date(2027, 4, 1), TODAY, None, "x") is None
    assert decision_date_problem(date(2027, 5, 2), TODAY, None, "x") == (
        f"not after today ({TODAY.isoformat()}, the workspace's calendar)"
    )


def test_a_decision_is_not_dated_before_what_it_follows() -> None:
    raised = date(2027, 3, 1)
    assert decision_date_problem(raised, TODAY, raised, "the request was raised") is None
    assert decision_date_problem(date(2027, 2, 28), TODAY, raised, "the request was raised") == (
        "not before the request was raised (2027-03-01)"
    )


T1, T2A, T2B, T3 = (uuid.uuid4() for _ in range(4))
# T2A and T2B run side by side after T1; T3 follows them.
LAYOUT = {T1: 1, T2A: 2, T2B: 2, T3: 3}


def test_an_entry_gate_stands_before_its_own_tranche() -> None:
    assert tranches_behind(LAYOUT, Gate(T2A, GateBoundary.ENTRY, None)) == {T2A}


def test_an_exit_gate_stands_before_every_tranche_right_after_its_own() -> None:
    assert tranches_behind(LAYOUT, Gate(T1, GateBoundary.EXIT, None)) == {T2A, T2B}
    assert tranches_behind(LAYOUT, Gate(T2B, GateBoundary.EXIT, None)) == {T3}


def test_the_last_tranches_exit_gate_and_a_gate_elsewhere_stand_before_none() -> None:
    assert tranches_behind(LAYOUT, Gate(T3, GateBoundary.EXIT, None)) == frozenset()
    assert tranches_behind(LAYOUT, Gate(uuid.uuid4(), GateBoundary.ENTRY, None)) == frozenset()


def test_a_planned_tranche_slips_past_an_undecided_exit_gate_of_one_under_way() -> None:
    held = [Gate(T1, GateBoundary.EXIT, GateDecision.HOLD)]
    level_with_t1 = {**LAYOUT, T2A: 1}

    assert slipped_past(LAYOUT, level_with_t1, T2A, held, {T1}) == {T1}
    # Queued behind T2B instead: the gate no longer stands on its way in either.
    assert slipped_past(LAYOUT, {**LAYOUT, T2A: 3}, T2A, held, {T1}) == {T1}
    # T1 not under way yet: the plan is re-sequenced freely.
    assert slipped_past(LAYOUT, level_with_t1, T2A, held, set()) == frozenset()
    # The gate said go (or there is none): nothing to skip.
    went = [Gate(T1, GateBoundary.EXIT, GateDecision.CONDITIONAL_GO)]
    assert slipped_past(LAYOUT, level_with_t1, T2A, went, {T1}) == frozenset()
    assert slipped_past(LAYOUT, level_with_t1, T2A, [], {T1}) == frozenset()
    # T3's way in changes as T2A leaves, but T1's gate never stood on it.
    assert slipped_past(LAYOUT, {**LAYOUT, T2A: 9}, T3, held, {T1}) == frozenset()


def test_a_tranche_closes_once_its_exit_gates_say_go_conditional_go_or_stop() -> None:
    assert tranche_may_close([])
    assert tranche_may_close([GateDecision.GO, GateDecision.CONDITIONAL_GO, GateDecision.STOP])
    for still_open in (None, GateDecision.HOLD, GateDecision.RECYCLE):
        assert not tranche_may_close([GateDecision.GO, still_open])
