"""Structure rules: the gates on the way into a tranche."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.workspace.gates.models import GateBoundary, GateDecision
from services.workspace.structure.models import TrancheState

# A tranche in one of these states has gone through the gates on its way in.
UNDER_WAY = frozenset({TrancheState.STARTED, TrancheState.CLOSED})


@dataclass(frozen=True, slots=True)
class Gate:
    """A stage gate on a tranche's boundary, as the start rule sees it."""

    tranche_id: uuid.UUID
    boundary: GateBoundary
    decision: GateDecision | None


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


def gates_on_the_way_in(
    layout: Layout, tranche_id: uuid.UUID, gates: Iterable[Gate]
) -> list[GateDecision | None]:
    """Decisions of the gates on the way into a tranche: its own entry gates and the exit gates
    of the tranches right before it."""
    before = tranches_before(layout, tranche_id)
    return [
        g.decision
        for g in gates
        if (g.tranche_id == tranche_id and g.boundary is GateBoundary.ENTRY)
        or (g.tranche_id in before and g.boundary is GateBoundary.EXIT)
    ]
