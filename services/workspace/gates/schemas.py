"""API shapes of stage gates, their criteria and decisions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.workspace.gates.models import (
    CriterionStatus,
    GateBoundary,
    GateDecision,
    GateState,
)
from services.workspace.schemas import Description, Name, Patch, Position, SourceVersion

Text = Annotated[str, Meta(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Link = Annotated[str, Meta(max_length=2000, pattern=r"^[^\x00]*$")]
Outcomes = Annotated[
    list[GateDecision],
    Meta(
        min_length=1,
        max_length=5,
        description="The decisions this gate may reach, each named once (422).",
    ),
]


class CriterionCreate(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    evidence_required: Description = ""
    mandatory: bool = True
    position: Position | None = None


class CriterionUpdate(Patch):
    """Assess a criterion: met / not met with a link to the evidence. What it tests (``text``,
    ``evidence_required``, ``mandatory``) changes only while the gate is planned (409 once it
    is in review or decided); the assessment, until the gate's decision is final."""

    text: Text | UnsetType = UNSET
    evidence_required: Description | UnsetType = UNSET
    mandatory: bool | UnsetType = UNSET
    status: CriterionStatus | UnsetType = UNSET
    evidence_link: Link | UnsetType = UNSET
    note: Description | UnsetType = UNSET


class CriterionRead(msgspec.Struct):
    id: uuid.UUID
    gate_id: uuid.UUID
    position: int
    text: str
    evidence_required: str
    mandatory: bool
    status: CriterionStatus
    evidence_link: str
    note: str
    assessed_by: uuid.UUID | None
    assessed_at: datetime | None
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int


class GateCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A gate on a tranche's (or project's) boundary; ``entry`` gates open what they guard.

    A tranche's own gates (no ``project_id``) hold its start and close; a project's gate is the
    project's business and holds neither, and its project must be in the gate's tranche.

    With a ``board_id`` (a board of the gate's programme, or one across the workspace) only its
    chair or a member decides the gate, and the gate keeps a board from then on; without one
    a workspace admin or owner decides it. Either way the gate is put in review
    (``state: in_review``) before it is decided.
    """

    programme_id: uuid.UUID
    title: Name
    tranche_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    boundary: GateBoundary = GateBoundary.ENTRY
    board_id: uuid.UUID | None = None
    purpose: Description = ""
    outcomes: Outcomes = msgspec.field(default_factory=lambda: list(GateDecision))
    position: Position = 0
    planned_date: date | None = None
    criteria: Annotated[list[CriterionCreate], Meta(max_length=100)] = []


class GateUpdate(Patch):
    """The decision is taken through ``…/decisions``; here: plan, board and recommendation.

    ``in_review`` settles the gate's criteria: none is added and what each tests stays fixed,
    and the gate does not go back to ``planned`` (409).

    A gate with a board keeps one: ``board_id`` may name another board (422 for null) until
    the gate is decided, and only an admin or owner changes it (403). Once decided its board
    and outcomes stay as they were, and its recommendation too once the decision is final (a
    hold, recycle or conditional go is reviewed again).

    A ``recommendation`` is one of the gate's ``outcomes`` (422, on ``outcomes`` when they
    change under it).
    """

    title: Name | UnsetType = UNSET
    purpose: Description | UnsetType = UNSET
    outcomes: Outcomes | UnsetType = UNSET
    position: Position | UnsetType = UNSET
    board_id: uuid.UUID | UnsetType | None = UNSET
    planned_date: date | UnsetType | None = UNSET
    state: Literal["planned", "in_review"] | UnsetType = UNSET
    recommendation: GateDecision | UnsetType | None = UNSET
    recommendation_note: Description | UnsetType = UNSET


class GateRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    tranche_id: uuid.UUID | None
    project_id: uuid.UUID | None
    boundary: GateBoundary
    board_id: uuid.UUID | None
    title: str
    purpose: str
    outcomes: list[GateDecision]
    position: int
    planned_date: date | None
    state: GateState
    recommendation: GateDecision | None
    recommendation_note: str
    decision: GateDecision | None
    conditions: str
    decided_by_id: uuid.UUID | None
    decided_on: date | None
    criteria: list[CriterionRead]
    criteria_met: int
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class GateDecisionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``decided_by_id`` took the decision: the chair or a member of the gate's board (an
    adviser, observer or the secretariat does not decide); a workspace admin or owner when the
    gate has no board. Whoever sends it records it, as the decision's ``created_by``: the
    decider, someone with a seat on the gate's board, or a workspace admin or owner (only an
    admin or owner records the decision of a gate without a board).
    ``decided_on`` (default today) is not in the future nor before the gate's last decision."""

    decision: GateDecision
    decided_by_id: uuid.UUID
    conditions: Description = ""
    decided_on: date | None = None


class GateReviewRead(msgspec.Struct):
    id: uuid.UUID
    gate_id: uuid.UUID
    recommendation: GateDecision | None
    decision: GateDecision
    conditions: str
    decided_by_id: uuid.UUID
    decided_on: date
    criteria_met: int
    criteria_total: int
    version: int
    created_at: datetime
    # Who recorded the decision (the secretariat, say), beside who took it (decided_by_id).
    created_by: uuid.UUID | None


class ChecklistEntryRead(msgspec.Struct):
    id: uuid.UUID
    position: int
    text: str
    owner_role_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    evidence: str
    done: bool
    done_on: date | None
    source_item: str | None
    version: int


class ChecklistRead(msgspec.Struct):
    """A checklist before a gate or within a tranche, with its entries in order."""

    id: uuid.UUID
    programme_id: uuid.UUID
    gate_id: uuid.UUID | None
    tranche_id: uuid.UUID | None
    title: str
    purpose: str
    entries: list[ChecklistEntryRead]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
