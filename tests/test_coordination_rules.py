"""The coordination rules as pure functions: a dependency's RAG read with what it links, and
what bounds a change request's re-baselines."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.workspace.governance.rules import (
    Rebaselining,
    rebaseline_problem,
    schedule_impact_problem,
)
from services.workspace.models import Rag
from services.workspace.raid.models import DependencyStatus
from services.workspace.raid.rules import DependencyLinks, LinkedMilestone, dependency_rag
from services.workspace.structure.models import MilestoneState

TODAY = date(2027, 3, 1)
NEED_BY = date(2027, 4, 1)


def test_a_dependency_with_a_cancelled_project_on_a_side_is_red_until_settled() -> None:
    cancelled = DependencyLinks(side_cancelled=True)
    agreed = DependencyStatus.AGREED
    assert dependency_rag(agreed, NEED_BY, date(2027, 3, 1), TODAY) is Rag.GREEN
    assert dependency_rag(agreed, NEED_BY, date(2027, 3, 1), TODAY, cancelled) is Rag.RED
    assert dependency_rag(agreed, None, None, TODAY, cancelled) is Rag.RED
    # Settled either way, it says so.
    assert dependency_rag(DependencyStatus.DELIVERED, NEED_BY, None, TODAY, cancelled) is Rag.GREEN
    assert dependency_rag(DependencyStatus.CANCELLED, NEED_BY, None, TODAY, cancelled) is None


AGREED = DependencyStatus.AGREED


def delivering(state: MilestoneState, forecast: date | None, actual: date | None = None) -> Any:
    return DependencyLinks(delivering=LinkedMilestone(state, date(2027, 3, 10), forecast, actual))


@pytest.mark.parametrize(
    ("links", "rag"),
    [
        # The milestone's forecast is the commitment, whatever committed_date says.
        (delivering(MilestoneState.PLANNED, date(2027, 3, 15)), Rag.GREEN),
        (delivering(MilestoneState.PLANNED, date(2027, 3, 28)), Rag.AMBER),
        (delivering(MilestoneState.PLANNED, date(2027, 4, 2)), Rag.RED),
        # Without a forecast, its baseline (10 March).
        (delivering(MilestoneState.PLANNED, None), Rag.GREEN),
        # Achieved: delivered by the need-by date, or not.
        (delivering(MilestoneState.ACHIEVED, None, date(2027, 2, 20)), Rag.GREEN),
        (delivering(MilestoneState.ACHIEVED, None, date(2027, 4, 2)), Rag.RED),
        (delivering(MilestoneState.CANCELLED, date(2027, 3, 15)), Rag.RED),
    ],
)
def test_the_delivering_milestone_is_the_commitment(links: DependencyLinks, rag: Rag) -> None:
    assert dependency_rag(AGREED, NEED_BY, date(2027, 3, 1), TODAY, links) is rag


def test_a_delivering_milestone_past_its_forecast_commits_no_earlier_than_today() -> None:
    late = delivering(MilestoneState.MISSED, date(2027, 2, 1))
    assert dependency_rag(AGREED, date(2027, 3, 5), None, TODAY, late) is Rag.AMBER
    # An achieved one after the need-by date passed is still what settles it.
    done = delivering(MilestoneState.ACHIEVED, None, date(2027, 2, 1))
    assert dependency_rag(AGREED, date(2027, 2, 10), None, TODAY, done) is Rag.GREEN


def test_without_a_need_by_date_the_needing_milestone_sets_it() -> None:
    def needing(state: MilestoneState, forecast: date | None) -> DependencyLinks:
        return DependencyLinks(needing=LinkedMilestone(state, None, forecast))

    committed = date(2027, 3, 20)
    assert dependency_rag(AGREED, None, committed, TODAY) is None
    assert (
        dependency_rag(AGREED, None, committed, TODAY, needing(MilestoneState.PLANNED, NEED_BY))
        is Rag.GREEN
    )
    soon = needing(MilestoneState.PLANNED, date(2027, 3, 15))
    assert dependency_rag(AGREED, None, committed, TODAY, soon) is Rag.RED
    gone = needing(MilestoneState.CANCELLED, date(2027, 3, 15))
    assert dependency_rag(AGREED, None, committed, TODAY, gone) is None
    # A need-by date typed on the dependency is the need.
    assert dependency_rag(AGREED, NEED_BY, committed, TODAY, soon) is Rag.GREEN


def test_a_cancelled_delivering_milestone_is_red_needed_by_a_date_or_not() -> None:
    """Nothing will deliver it: red, as a cancelled project on a side is, whether or not any
    date says when it is needed."""
    gone = delivering(MilestoneState.CANCELLED, date(2027, 3, 15))
    assert dependency_rag(AGREED, None, None, TODAY, gone) is Rag.RED
    assert dependency_rag(AGREED, NEED_BY, None, TODAY, gone) is Rag.RED


def test_a_re_baseline_stays_within_its_tranche_and_programme() -> None:
    line = Rebaselining("Go live", date(2027, 5, 1), date(2027, 6, 1), "T2", date(2027, 6, 1))
    assert rebaseline_problem(line) is None  # on the tranche's last day
    late = Rebaselining("Go live", None, date(2027, 6, 2), "T2", date(2027, 6, 1))
    assert rebaseline_problem(late) == (
        "'Go live' on 2027-06-02 would be after its tranche 'T2' ends (2027-06-01)"
    )
    past_programme = Rebaselining("Go live", None, date(2028, 1, 2), programme_end=date(2028, 1, 1))
    assert "the programme's planned end (2028-01-01)" in str(rebaseline_problem(past_programme))
    closed = Rebaselining("Go live", None, date(2027, 1, 1), "T1", tranche_closed=True)
    assert "'T1', which is closed" in str(rebaseline_problem(closed))


def test_no_re_baseline_slips_more_than_the_stated_schedule_impact() -> None:
    lines = [
        Rebaselining("Cutover", date(2027, 5, 1), date(2027, 5, 11)),
        Rebaselining("Go live", date(2027, 5, 1), date(2027, 5, 31)),
        Rebaselining("New", None, date(2027, 9, 1)),  # no baseline to slip from
    ]
    assert schedule_impact_problem(30, lines) is None
    assert schedule_impact_problem(None, lines) is None
    assert schedule_impact_problem(29, lines) == (
        "re-baselining 'Go live' slips it 30 days, more than the 29 days of schedule impact "
        "the change request states"
    )
    pulled_in = [Rebaselining("Go live", date(2027, 5, 31), date(2027, 5, 21))]
    assert schedule_impact_problem(-10, pulled_in) is None
    assert schedule_impact_problem(-11, pulled_in) is not None
