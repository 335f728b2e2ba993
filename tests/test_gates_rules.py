"""Rules for decided stage gates (pure functions)."""

from __future__ import annotations

from services.workspace.gates.models import GateDecision, GateState
from services.workspace.gates.rules import fixed_once_decided


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
