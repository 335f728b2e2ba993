"""RAID and governance rules as pure functions: responses, trend, the decision log's lifecycle."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from services.workspace.configuration.models import RiskResponseModel
from services.workspace.governance.models import DecisionStatus, MeetingState
from services.workspace.governance.rules import (
    DECISION_RECORD,
    SCHEDULE_IMPACT_DAYS,
    ChangePeople,
    Rebaselining,
    board_reach_problem,
    change_approver_problem,
    change_decider_problem,
    change_people_problems,
    cited_meeting_problem,
    decision_move_problem,
    decision_problems,
    derived_impact_problem,
    fixed_decision_fields,
    kept_decision_problem,
    replacement_problem,
)
from services.workspace.raid.models import RiskKind, RiskResponse, RiskTrend
from services.workspace.raid.rules import (
    OPPORTUNITY_RESPONSES,
    ROAM_RESPONSES,
    THREAT_RESPONSES,
    RiskLevels,
    residual_problems,
    responses_for,
    risk_trend,
)

# --- risk responses -----------------------------------------------------------------------------


def test_roam_answers_threats_and_opportunities_keep_their_own_responses() -> None:
    assert responses_for(RiskKind.THREAT, RiskResponseModel.ROAM) == ROAM_RESPONSES
    assert responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM) == OPPORTUNITY_RESPONSES
    assert responses_for(RiskKind.THREAT, RiskResponseModel.STANDARD) == THREAT_RESPONSES
    assert RiskResponse.EXPLOIT in responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM)
    assert RiskResponse.OWNED not in responses_for(RiskKind.OPPORTUNITY, RiskResponseModel.ROAM)


# --- risk trend ---------------------------------------------------------------------------------


def test_an_opportunity_improves_as_its_score_rises_and_a_threat_as_it_falls() -> None:
    assert risk_trend(6, 12, RiskKind.OPPORTUNITY) is RiskTrend.IMPROVING
    assert risk_trend(12, 6, RiskKind.OPPORTUNITY) is RiskTrend.WORSENING
    assert risk_trend(6, 6, RiskKind.OPPORTUNITY) is RiskTrend.STABLE
    assert risk_trend(12, 6, RiskKind.THREAT) is RiskTrend.IMPROVING
    assert risk_trend(6, 12, RiskKind.THREAT) is RiskTrend.WORSENING


# --- inherent and residual scores ---------------------------------------------------------------


def test_a_threats_residual_levels_do_not_exceed_its_inherent_ones() -> None:
    # inherent 4 x 3; the response lowers probability and leaves impact
    assert residual_problems(RiskKind.THREAT, RiskLevels(4, 3, 2, 3)) == []
    assert residual_problems(RiskKind.THREAT, RiskLevels(4, 3, 4, 3)) == []
    raised = residual_problems(RiskKind.THREAT, RiskLevels(4, 3, 5, 4))
    assert [field for field, _ in raised] == ["residual_probability", "residual_impact"]
    assert "inherent probability (4)" in raised[0][1]
    # The score would fall (2 x 5 = 10 < 12) but impact rises: still refused, by its field.
    assert [f for f, _ in residual_problems(RiskKind.THREAT, RiskLevels(4, 3, 2, 5))] == [
        "residual_impact"
    ]


def test_the_field_named_is_the_one_written() -> None:
    levels = RiskLevels(2, 3, 4, 3)  # inherent probability lowered below the residual
    lowered = residual_problems(RiskKind.THREAT, levels, {"inherent_probability"})
    both = residual_problems(
        RiskKind.THREAT, levels, {"inherent_probability", "residual_probability"}
    )
    turned = residual_problems(RiskKind.THREAT, levels, {"kind"})

    assert [f for f, _ in lowered] == ["inherent_probability"]
    assert "residual probability (4)" in lowered[0][1]
    assert [f for f, _ in both] == [f for f, _ in turned] == ["residual_probability"]


def test_an_opportunitys_residual_may_rise_above_or_fall_below_its_inherent_score() -> None:
    assert residual_problems(RiskKind.OPPORTUNITY, RiskLevels(2, 3, 4, 5)) == []  # enhanced
    assert residual_problems(RiskKind.OPPORTUNITY, RiskLevels(4, 5, 4, 2)) == []  # shared


# --- the decision log ---------------------------------------------------------------------------

PROPOSED, PENDING, APPROVED, REJECTED, SUPERSEDED = (
    DecisionStatus.PROPOSED,
    DecisionStatus.PENDING,
    DecisionStatus.APPROVED,
    DecisionStatus.REJECTED,
    DecisionStatus.SUPERSEDED,
)


@pytest.mark.parametrize(
    ("current", "status"),
    [
        (None, PROPOSED),
        (None, PENDING),
        (None, APPROVED),
        (None, REJECTED),
        (PROPOSED, PENDING),
        (PROPOSED, APPROVED),
        (PROPOSED, REJECTED),
        (PENDING, APPROVED),
        (PENDING, REJECTED),
        (APPROVED, SUPERSEDED),
        (APPROVED, APPROVED),
        (REJECTED, REJECTED),
    ],
)
def test_a_decision_moves_forward_through_its_lifecycle(
    current: DecisionStatus | None, status: DecisionStatus
) -> None:
    assert decision_move_problem(current, status) is None


@pytest.mark.parametrize(
    ("current", "status", "words"),
    [
        (None, SUPERSEDED, "a new decision is not superseded"),
        (PENDING, PROPOSED, "a pending decision moves on to approved or rejected, not proposed"),
        (APPROVED, PROPOSED, "an approved decision moves on to superseded, not proposed"),
        (APPROVED, REJECTED, "moves on to superseded, not rejected"),
        (REJECTED, APPROVED, "a rejected decision is final"),
        (SUPERSEDED, APPROVED, "a superseded decision is final"),
        (REJECTED, SUPERSEDED, "a rejected decision is final"),
    ],
)
def test_a_decision_does_not_go_back_or_skip_its_verdict(
    current: DecisionStatus | None, status: DecisionStatus, words: str
) -> None:
    problem = decision_move_problem(current, status)
    assert problem is not None and words in problem


def test_a_taken_decision_keeps_its_record_and_a_superseded_one_its_replacement() -> None:
    assert fixed_decision_fields(PROPOSED) == fixed_decision_fields(PENDING) == ()
    assert fixed_decision_fields(APPROVED) == fixed_decision_fields(REJECTED) == DECISION_RECORD
    assert {"decision", "options", "rationale"} <= set(DECISION_RECORD)
    assert fixed_decision_fields(SUPERSEDED) == (*DECISION_RECORD, "superseded_by_id")


def test_a_decision_taken_is_kept_and_one_not_yet_taken_may_go() -> None:
    assert kept_decision_problem(DecisionStatus.PROPOSED) is None
    assert kept_decision_problem(DecisionStatus.PENDING) is None
    for taken in (DecisionStatus.APPROVED, DecisionStatus.REJECTED, DecisionStatus.SUPERSEDED):
        assert "kept on record" in (kept_decision_problem(taken) or "")
    assert "supersede it" in (kept_decision_problem(DecisionStatus.APPROVED) or "")


def test_a_verdict_names_who_took_it_and_a_superseded_decision_what_replaced_it() -> None:
    someone, other = object(), object()
    assert decision_problems(PROPOSED, None, None) == []
    assert decision_problems(APPROVED, someone, None) == []
    assert [f for f, _ in decision_problems(APPROVED, None, None)] == ["decided_by_id"]
    assert [f for f, _ in decision_problems(REJECTED, None, None)] == ["decided_by_id"]
    assert [f for f, _ in decision_problems(SUPERSEDED, someone, None)] == ["superseded_by_id"]
    assert decision_problems(SUPERSEDED, someone, other) == []
    assert [f for f, _ in decision_problems(PENDING, None, other)] == ["superseded_by_id"]


def test_a_decision_is_replaced_by_another_approved_one_of_its_programme() -> None:
    assert replacement_problem(True, APPROVED) is None
    assert "another programme" in (replacement_problem(False, APPROVED) or "")
    assert "approved" in (replacement_problem(True, PROPOSED) or "")
    assert "itself" in (replacement_problem(True, APPROVED, itself=True) or "")


def test_a_decision_taken_cites_a_meeting_that_took_place_by_then() -> None:
    day = date(2027, 3, 2)
    held, scheduled, cancelled = MeetingState.HELD, MeetingState.SCHEDULED, MeetingState.CANCELLED
    assert cited_meeting_problem(held, day, day) is None
    assert cited_meeting_problem(held, date(2027, 3, 1), day) is None
    assert "after the decision" in (cited_meeting_problem(held, date(2027, 3, 3), day) or "")
    assert "cancelled" in (cited_meeting_problem(cancelled, date(2027, 3, 1), day) or "")
    # Still to be decided: it may name the meeting that is to take it.
    assert cited_meeting_problem(scheduled, date(2027, 4, 1), None) is None


# --- change requests ----------------------------------------------------------------------------


def test_the_requester_of_a_change_neither_decides_it_nor_is_named_its_approver() -> None:
    requester, approver = uuid.uuid4(), uuid.uuid4()
    assert change_decider_problem(requester, requester) is not None
    assert change_decider_problem(requester, approver) is None
    assert change_decider_problem(None, approver) is None
    assert change_approver_problem(requester, requester) is not None
    assert change_approver_problem(requester, approver) is None
    assert change_approver_problem(requester, None) is None
    assert change_approver_problem(None, approver) is None


def test_a_member_raises_their_own_changes_and_does_not_pick_their_approver() -> None:
    me, colleague, admin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    new = ChangePeople(me, None)

    def fields(before: ChangePeople, after: ChangePeople, **how: bool) -> list[str]:
        how = {"submitted": False, "stands_in": False, **how}
        return [field for field, _ in change_people_problems(before, after, me, **how)]

    assert fields(new, ChangePeople(me, colleague)) == []
    assert fields(new, ChangePeople(colleague, None)) == ["requested_by_id"]
    assert fields(new, ChangePeople(me, me)) == ["approver_id"]
    assert fields(new, ChangePeople(colleague, me), stands_in=True) == []
    drafted = ChangePeople(me, colleague)
    assert fields(drafted, ChangePeople(me, admin)) == []
    assert fields(drafted, ChangePeople(me, None)) == []
    # Submitted, who asked and who decides is what the change is decided on.
    assert fields(drafted, ChangePeople(me, None), submitted=True) == ["approver_id"]
    assert fields(drafted, ChangePeople(colleague, admin), submitted=True) == [
        "requested_by_id",
        "approver_id",
    ]
    assert fields(drafted, drafted, submitted=True) == []
    assert fields(drafted, ChangePeople(me, admin), submitted=True, stands_in=True) == []


def test_a_schedule_impact_worked_out_is_one_a_change_request_records() -> None:
    def line(days: int) -> Rebaselining:
        baseline = date(2027, 6, 1)
        return Rebaselining("Go live", baseline, baseline + timedelta(days=days))

    assert derived_impact_problem(line(SCHEDULE_IMPACT_DAYS)) is None
    assert derived_impact_problem(line(-SCHEDULE_IMPACT_DAYS)) is None
    assert "3651 days" in (derived_impact_problem(line(SCHEDULE_IMPACT_DAYS + 1)) or "")
    assert derived_impact_problem(line(-SCHEDULE_IMPACT_DAYS - 1)) is not None
    assert derived_impact_problem(Rebaselining("New", None, date(2045, 1, 1))) is None


# --- boards and their reach ---------------------------------------------------------------------


def test_a_programmes_rows_name_its_own_boards_or_the_portfolios() -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    assert board_reach_problem(ours, ours) is None
    assert board_reach_problem(None, ours) is None  # a board across the workspace
    assert board_reach_problem(None, None) is None
    assert board_reach_problem(theirs, ours) == "a board of another programme"
    assert board_reach_problem(theirs, ours, "meeting") == "a meeting of another programme"
    assert board_reach_problem(ours, None) == (
        "a board of one programme; this one is across the workspace"
    )
