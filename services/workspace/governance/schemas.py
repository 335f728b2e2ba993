"""API shapes of governance: boards, meetings, actions, decisions, change requests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.workspace.governance.models import (
    ActionState,
    Cadence,
    ChangeRequestState,
    DecisionStatus,
    MeetingState,
    MemberCapacity,
)
from services.workspace.governance.rules import SCHEDULE_IMPACT_DAYS
from services.workspace.schemas import (
    CustomValues,
    Description,
    Lines,
    Money,
    Name,
    Patch,
    Reference,
    SourceVersion,
)


class BoardMemberIn(msgspec.Struct, forbid_unknown_fields=True):
    """A seat: its title, the person holding it, and (for seats a template made) its
    programme role — send it back unchanged to name a person without changing the seat."""

    role_title: Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
    user_id: uuid.UUID | None = None
    capacity: MemberCapacity = MemberCapacity.MEMBER
    role_id: uuid.UUID | None = None


class BoardMemberRead(msgspec.Struct):
    id: uuid.UUID
    role_title: str
    user_id: uuid.UUID | None
    capacity: MemberCapacity
    role_id: uuid.UUID | None
    position: int


Members = Annotated[list[BoardMemberIn], Meta(max_length=50)]


class BoardCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A board without ``programme_id`` governs across the workspace. Boards and their seats are
    written by admins and owners (they say who decides gates); members read them."""

    name: Name
    programme_id: uuid.UUID | None = None
    purpose: Description = ""
    terms_of_reference: Description = ""
    decision_rights: Lines = []
    standing_agenda: Lines = []
    cadence: Cadence = Cadence.MONTHLY
    quorum: Annotated[int, Meta(ge=1, le=100)] | None = None
    duration_minutes: Annotated[int, Meta(ge=1, le=1440)] | None = None
    reports_to_id: uuid.UUID | None = None
    members: Members = []


class BoardUpdate(Patch):
    """``members``, when sent, replaces the board's seats."""

    name: Name | UnsetType = UNSET
    purpose: Description | UnsetType = UNSET
    terms_of_reference: Description | UnsetType = UNSET
    decision_rights: Lines | UnsetType = UNSET
    standing_agenda: Lines | UnsetType = UNSET
    cadence: Cadence | UnsetType = UNSET
    quorum: Annotated[int, Meta(ge=1, le=100)] | UnsetType | None = UNSET
    duration_minutes: Annotated[int, Meta(ge=1, le=1440)] | UnsetType | None = UNSET
    reports_to_id: uuid.UUID | UnsetType | None = UNSET
    members: Members | UnsetType = UNSET


class BoardRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID | None
    name: str
    purpose: str
    terms_of_reference: str
    decision_rights: list[str]
    standing_agenda: list[str]
    cadence: Cadence
    quorum: int | None
    quorum_role_ids: list[uuid.UUID]
    duration_minutes: int | None
    reports_to_id: uuid.UUID | None
    members: list[BoardMemberRead]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


People = Annotated[list[uuid.UUID], Meta(max_length=100)]


class MeetingCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``held_on`` is the day the meeting is planned for (any day) or, once it is ``held``, the
    day it took place: not after the workspace's today."""

    board_id: uuid.UUID
    title: Name
    held_on: date
    state: MeetingState = MeetingState.SCHEDULED
    attendee_ids: People = []
    minutes: Description = ""


class MeetingUpdate(Patch):
    """A meeting marked ``held`` while its date is still to come is sent the day it was held.
    A held meeting is a record of what took place: it stays held (409 on ``state``)."""

    title: Name | UnsetType = UNSET
    held_on: date | UnsetType = UNSET
    state: MeetingState | UnsetType = UNSET
    attendee_ids: People | UnsetType = UNSET
    minutes: Description | UnsetType = UNSET


class MeetingRead(msgspec.Struct):
    id: uuid.UUID
    board_id: uuid.UUID
    title: str
    held_on: date
    state: MeetingState
    attendee_ids: list[uuid.UUID]
    minutes: str
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class ActionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An action raised at a meeting belongs to the meeting's programme unless told otherwise.

    A ``done`` action has a ``completed_on`` not after the workspace's today (today when none is
    sent); an action not done has none."""

    title: Name
    programme_id: uuid.UUID | None = None
    meeting_id: uuid.UUID | None = None
    description: Description = ""
    owner_id: uuid.UUID | None = None
    due_date: date | None = None
    state: ActionState = ActionState.OPEN
    completed_on: date | None = None
    custom_fields: CustomValues = {}


class ActionUpdate(Patch):
    """``completed_on`` as on create; leaving ``done`` without sending one clears it."""

    title: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    due_date: date | UnsetType | None = UNSET
    state: ActionState | UnsetType = UNSET
    completed_on: date | UnsetType | None = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class ActionRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID | None
    meeting_id: uuid.UUID | None
    title: str
    description: str
    owner_id: uuid.UUID | None
    due_date: date | None
    state: ActionState
    completed_on: date | None
    overdue: bool
    custom_fields: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class DecisionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An ``approved`` or ``rejected`` decision names who took it (``decided_by_id``) and has a
    ``decided_on`` not after the workspace's today (today when none is sent); a ``proposed`` or
    ``pending`` one has none. A new decision is not ``superseded``. A meeting it cites took
    place: not cancelled, and not after ``decided_on``.

    Who takes it, as at a stage gate: a decision taken naming a ``board_id`` is taken by the
    chair or a member of that board (422 on ``decided_by_id`` for anyone else, an adviser,
    observer or the secretariat too) and recorded by them, someone with a seat on the board or
    a workspace admin or owner (403); one naming no board is recorded by the person who took it
    or by an admin or owner (403)."""

    programme_id: uuid.UUID
    title: Name
    project_id: uuid.UUID | None = None
    reference: Reference | None = None
    context: Description = ""
    options: Lines = []
    decision: Description = ""
    rationale: Description = ""
    board_id: uuid.UUID | None = None
    meeting_id: uuid.UUID | None = None
    decided_by_id: uuid.UUID | None = None
    decided_on: date | None = None
    # Not superseded: a decision is superseded by one recorded after it (an update).
    status: Literal["proposed", "pending", "approved", "rejected"] = "proposed"
    custom_fields: CustomValues = {}


class DecisionUpdate(Patch):
    """``status`` moves proposed → pending → approved or rejected (or straight from proposed to
    either), and approved → ``superseded``, naming the approved decision of the programme that
    replaces it (``superseded_by_id``); rejected and superseded are final (409 otherwise).
    Once approved or rejected, ``decision``, ``options``, ``rationale``, ``decided_by_id`` and
    ``decided_on`` stay as they were (409), and so do ``board_id`` and ``meeting_id`` once
    named (one left empty may be filled in; a board filled in is one whose chair or member
    took it: 422 on ``board_id``). ``decided_on`` as on create; a superseded decision keeps
    it. Taking it (the status to approved or rejected) follows who takes and records a
    decision as on create (403, 422)."""

    title: Name | UnsetType = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    reference: Reference | UnsetType | None = UNSET
    context: Description | UnsetType = UNSET
    options: Lines | UnsetType = UNSET
    decision: Description | UnsetType = UNSET
    rationale: Description | UnsetType = UNSET
    board_id: uuid.UUID | UnsetType | None = UNSET
    meeting_id: uuid.UUID | UnsetType | None = UNSET
    decided_by_id: uuid.UUID | UnsetType | None = UNSET
    decided_on: date | UnsetType | None = UNSET
    status: DecisionStatus | UnsetType = UNSET
    superseded_by_id: uuid.UUID | UnsetType | None = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class DecisionRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    reference: str | None
    title: str
    context: str
    options: list[str]
    decision: str
    rationale: str
    board_id: uuid.UUID | None
    meeting_id: uuid.UUID | None
    decided_by_id: uuid.UUID | None
    decided_on: date | None
    status: DecisionStatus
    superseded_by_id: uuid.UUID | None
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class RebaselineIn(msgspec.Struct, forbid_unknown_fields=True):
    milestone_id: uuid.UUID
    new_baseline_date: date


class RebaselineRead(msgspec.Struct):
    milestone_id: uuid.UUID
    new_baseline_date: date
    previous_baseline_date: date | None
    applied_at: datetime | None


Rebaselines = Annotated[
    list[RebaselineIn],
    Meta(
        max_length=100,
        description=(
            "Milestones whose baseline moves when the change is approved. Checked when the "
            "change is submitted (or its re-baselines change after) and again at approval "
            "(409): a new baseline stays on or before the end of the milestone's tranche (its "
            "own, else its project's) and the programme's planned end, and a milestone of a "
            "closed tranche is not re-baselined. An approved re-baseline moves a forecast that "
            "equalled the old baseline with it; a forecast set to another date is kept."
        ),
    ),
]
ScheduleImpact = Annotated[
    int,
    Meta(
        ge=-SCHEDULE_IMPACT_DAYS,
        le=SCHEDULE_IMPACT_DAYS,
        description=(
            "Days the change moves the schedule (negative: earlier). No re-baseline may slip "
            "its milestone more days than this (409 on schedule_impact_days, at submission "
            "and at approval, against the baselines then). Left out (null) when the change is "
            "submitted, it is the largest slip its re-baselines bring (409 on rebaselines "
            "when that is beyond these bounds)."
        ),
    ),
]


class ChangeRequestCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``rebaselines``: milestones whose baseline moves when the change is approved. The
    ``approver_id`` is someone other than ``requested_by_id`` (the request's creator when it
    names none: 422). A member's request is their
    own (``requested_by_id`` is them when left out) and names someone else as its approver; an
    admin or owner may record one for anyone (403 otherwise)."""

    programme_id: uuid.UUID
    title: Name
    project_id: uuid.UUID | None = None
    reference: Reference | None = None
    description: Description = ""
    reason: Description = ""
    scope_impact: Description = ""
    schedule_impact_days: ScheduleImpact | None = None
    cost_impact: Money | None = None
    benefits_impact: Description = ""
    risk_impact: Description = ""
    requested_by_id: uuid.UUID | None = None
    approver_id: uuid.UUID | None = None
    rebaselines: Rebaselines = []
    custom_fields: CustomValues = {}


class ChangeRequestUpdate(Patch):
    """Until decided: ``state`` may move draft → submitted, or to withdrawn (a submitted one
    does not go back to draft, and is withdrawn only by its requester, or its creator when it
    names none, or by an admin or owner: 403). Only a draft is deleted: a submitted change is
    withdrawn instead, and a decided or withdrawn one kept on record (409). ``requested_by_id``
    changes only by an admin or owner, and is
    not cleared; a member does not name themselves ``approver_id``; once submitted, both change
    only by an admin or owner (403)."""

    title: Name | UnsetType = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    reference: Reference | UnsetType | None = UNSET
    description: Description | UnsetType = UNSET
    reason: Description | UnsetType = UNSET
    scope_impact: Description | UnsetType = UNSET
    schedule_impact_days: ScheduleImpact | UnsetType | None = UNSET
    cost_impact: Money | UnsetType | None = UNSET
    benefits_impact: Description | UnsetType = UNSET
    risk_impact: Description | UnsetType = UNSET
    requested_by_id: uuid.UUID | UnsetType | None = UNSET
    approver_id: uuid.UUID | UnsetType | None = UNSET
    state: Literal["draft", "submitted", "withdrawn"] | UnsetType = UNSET
    rebaselines: Rebaselines | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class ChangeRequestRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    reference: str | None
    title: str
    description: str
    reason: str
    scope_impact: str
    schedule_impact_days: int | None
    cost_impact: float | None
    benefits_impact: str
    risk_impact: str
    requested_by_id: uuid.UUID | None
    approver_id: uuid.UUID | None
    state: ChangeRequestState
    decided_by_id: uuid.UUID | None
    decided_on: date | None
    decision_note: str
    rebaselines: list[RebaselineRead]
    custom_fields: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class ChangeDecision(msgspec.Struct, forbid_unknown_fields=True):
    """Approving applies the change's re-baselines to its milestones (recorded on the change).

    Taken by the change's approver when it names one (or by a workspace admin or owner standing
    in), by any member when it names none; never by the person who requested it (409).
    ``decided_on`` (default today) is not in the future nor before the request was raised.
    """

    decision: Literal["approved", "rejected"]
    note: Description = ""
    decided_on: date | None = None


class ProgrammeDocumentRead(msgspec.Struct):
    """A governance document the programme keeps: purpose, owner, outline, review cadence."""

    id: uuid.UUID
    programme_id: uuid.UUID | None
    title: str
    purpose: str
    owner_role_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    sections: list[str]
    review_cadence: Cadence | None
    link: str
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
