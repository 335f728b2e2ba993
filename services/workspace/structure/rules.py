"""Structure rules: a milestone's actual date, and the gates on the way into a tranche."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from services.workspace.clock import kept_not_after_today, not_after_today
from services.workspace.gates.models import GateBoundary, GateDecision
from services.workspace.structure.models import MilestoneState, ProjectState, TrancheState

# A tranche in one of these states has gone through the gates on its way in.
UNDER_WAY = frozenset({TrancheState.STARTED, TrancheState.CLOSED})
# A project in one of these states drives nothing any more: its milestones still to come are
# not due, overdue or slipping in the programme's views and reports.
ENDED_PROJECTS = frozenset({ProjectState.CLOSED, ProjectState.CANCELLED})


def actual_date_problem(
    state: MilestoneState, actual: date | None, today: date, *, kept: bool = False
) -> str | None:
    """Why ``actual`` does not fit a milestone in ``state``; None when it does.

    An achieved milestone was achieved on a day that has come (``kept``: a day the write keeps,
    as :func:`kept_not_after_today` reads it); no other milestone has one.
    """
    if state is MilestoneState.ACHIEVED:
        if actual is None:
            return "an achieved milestone has an actual date"
        future = (kept_not_after_today if kept else not_after_today)(actual, today)
        if future is not None:
            return future
        return None
    if actual is not None:
        return f"only an achieved milestone has one (this one is {state})"
    return None


def actual_date_in_step(state: MilestoneState, actual: date | None, today: date) -> date | None:
    """The actual date a write that does not name one leaves: today for a milestone just
    achieved, none for one that is not achieved."""
    if state is MilestoneState.ACHIEVED:
        return actual or today
    return None


@dataclass(frozen=True, slots=True)
class Gate:
    """A stage gate on a tranche's boundary, as the start rule sees it: the tranche's own (one
    on a project of the tranche is the project's, and stands on no tranche's way in or out)."""

    tranche_id: uuid.UUID
    boundary: GateBoundary
    decision: GateDecision | None
    title: str = ""


Layout = Mapping[uuid.UUID, int]
"""Tranches of one programme by id, with their positions."""


def tranches_before(layout: Layout, tranche_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The tranches right before ``tranche_id``: every one at the greatest position below its
    own (several when they share it)."""
    position = layout[tranche_id]
    earlier = [p for p in layout.values() if p < position]
    if not earlier:
        return frozenset()
    last = max(earlier)
    return frozenset(t for t, p in layout.items() if p == last)


def reordered(before: Layout, after: Layout) -> frozenset[uuid.UUID]:
    """The tranches of ``after`` whose tranches right before are not what they were."""
    return frozenset(
        t
        for t in after
        if t not in before or tranches_before(before, t) != tranches_before(after, t)
    )


def gates_on_the_way_in(layout: Layout, tranche_id: uuid.UUID, gates: Iterable[Gate]) -> list[Gate]:
    """The gates on the way into a tranche: its own entry gates and the exit gates of the
    tranches right before it."""
    before = tranches_before(layout, tranche_id)
    return [
        g
        for g in gates
        if (g.tranche_id == tranche_id and g.boundary is GateBoundary.ENTRY)
        or (g.tranche_id in before and g.boundary is GateBoundary.EXIT)
    ]
