"""The coordination rules as pure functions: a dependency's RAG read with what it links."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

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
