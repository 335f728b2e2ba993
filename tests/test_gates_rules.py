"""Rules for decided stage gates and the dates of governance decisions (pure functions)."""

from __future__ import annotations

from datetime import date

from services.workspace.gates.models import GateDecision, GateState
from services.workspace.gates.rules import fixed_once_decided
from services.workspace.governance.rules import decision_date_problem

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


def test_a_decision_is_dated_today_or_earlier() -> None:
    assert decision_date_problem(TODAY, TODAY, None, "x") is None
    assert decision_date_problem(date(2027, 4, 1), TODAY, None, "x") is None
    assert decision_date_problem(date(2027, 5, 2), TODAY, None, "x") == (
        "a decision cannot be dated in the future"
    )


def test_a_decision_is_not_dated_before_what_it_follows() -> None:
    raised = date(2027, 3, 1)
    assert decision_date_problem(raised, TODAY, raised, "the request was raised") is None
    assert decision_date_problem(date(2027, 2, 28), TODAY, raised, "the request was raised") == (
        "not before the request was raised (2027-03-01)"
    )
