"""API shapes of the workspace: what clients send and receive."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.workspace.schemas import (
    Cost,
    CustomValues,
    Description,
    Lines,
    Name,
    Patch,
    Position,
    SourceVersion,
    read_of,
)
from services.workspace.structure.models import (
    MilestoneKind,
    MilestoneState,
    Programme,
    ProgrammeLevel,
    ProgrammeState,
    ProjectApproach,
    ProjectKind,
    ProjectState,
    TrancheState,
)


class ProgrammeCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    description: Description = ""
    level: ProgrammeLevel = ProgrammeLevel.PROGRAMME
    vision: Description = ""
    state: ProgrammeState = ProgrammeState.IDENTIFYING
    start_date: date | None = None
    end_date: date | None = None
    owner_id: uuid.UUID | None = None
    budget: Cost | None = None
    forecast_cost: Cost | None = None


ProgrammeEnd = Annotated[
    date,
    Meta(
        description=(
            "The programme's planned end. Every milestone's baseline falls on or before it: it "
            "does not move earlier than one (409 on end_date counting them and naming the "
            "first); re-baseline those through a change request first."
        )
    ),
]


class ProgrammeUpdate(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent are changed; send ``null`` to clear a date or the owner. The planned
    end does not move before a milestone's baseline (409)."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    level: ProgrammeLevel | UnsetType = UNSET
    vision: Description | UnsetType = UNSET
    state: ProgrammeState | UnsetType = UNSET
    start_date: date | UnsetType | None = UNSET
    end_date: ProgrammeEnd | UnsetType | None = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    budget: Cost | UnsetType | None = UNSET
    forecast_cost: Cost | UnsetType | None = UNSET

    def changes(self) -> dict[str, object]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


class ProgrammeRead(msgspec.Struct):
    id: uuid.UUID
    name: str
    description: str
    level: ProgrammeLevel
    vision: str
    state: ProgrammeState
    start_date: date | None
    end_date: date | None
    owner_id: uuid.UUID | None
    budget: float | None
    forecast_cost: float | None
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None

    @classmethod
    def of(cls, row: Programme) -> ProgrammeRead:
        return read_of(cls, row)


# --- tranches -----------------------------------------------------------------------------------


class TrancheCreate(msgspec.Struct, forbid_unknown_fields=True):
    programme_id: uuid.UUID
    name: Name
    purpose: Description = ""
    capabilities: Lines = []
    position: Position = 0
    start_date: date | None = None
    end_date: date | None = None
    state: TrancheState = TrancheState.PLANNED


TrancheEnd = Annotated[
    date,
    Meta(
        description=(
            "The tranche's end. Its milestones' baselines (those naming it, and those of its "
            "projects naming none) fall on or before it: it does not move earlier than one (409 "
            "on end_date counting them and naming the first); re-baseline those through a change "
            "request first."
        )
    ),
]
TrancheStep = Annotated[
    TrancheState,
    Meta(
        description=(
            "planned → started (once the gates on its way in say go or conditional go) → closed "
            "(once its exit gates have said go, conditional go or stop): 409 naming the gates "
            "in the way. Going back (a closed tranche reopened, a started one put back to "
            "planned) corrects a mistaken close or start, and is a workspace admin's or owner's "
            "(403 for anyone else), as is deleting a started one. A closed tranche is kept on "
            "record: it is not deleted (409) unless reopened first."
        )
    ),
]

ClosedTrancheText = Meta(
    description=(
        "Still changed once the tranche is closed, as are its name, purpose and capabilities: "
        "correcting the wording of its record is normal. What a closed tranche did is fixed: "
        "its dates and its place in the sequence (409; an admin or owner reopens it to correct "
        "them) and what is in it (409: no milestone or project joins it, none achieved, "
        "cancelled or closed there leaves, changes state or is deleted, none of its milestones "
        "is re-dated)."
    )
)
TranchePosition = Annotated[
    Position,
    Meta(
        description=(
            "Display and sequence order: a tranche at a lower position runs before one at a "
            "higher (tranches sharing one run alongside). A closed tranche keeps its place "
            "(409; an admin or owner reopens it to move it), and no tranche is moved or added "
            "before a closed one, or moved out from before one to its position or after it "
            "(409 naming it): which tranches came before it is its record (nor is one before it "
            "deleted). Moving among those before it, or sharing its position or moving further "
            "from after it, goes through."
        ),
    ),
]


class TrancheUpdate(Patch):
    """Moving to ``started`` needs every gate on the way in (the tranche's entry gates, the exit
    gates of the tranche before it) to say go or conditional go, where the tranche is and where
    it goes; a tranche under way never moves behind such a gate, nor is one put in front of it.
    A planned tranche does not move out from behind the exit gate of a tranche under way before
    that gate says go or conditional go (409), as no reordering takes it out from there.
    Moving to ``closed`` needs its own exit gates to have said go, conditional go or stop (409
    while undecided, on hold or recycled). Either way only the tranches' own gates count (those
    with no ``project_id``): a gate on one of a tranche's projects is the project's, and holds
    neither its start nor its close. The 409 names the gates in the way. A tranche goes back
    (a closed one reopened, ``started`` or ``planned`` again; a started one put back to
    ``planned``), to correct a mistaken close or start, only by a workspace admin or owner (403
    for anyone else): while closed it takes no new or re-dated milestones. A closed tranche is
    not deleted (409): it is kept on record, and reopened first to correct a mistaken close.
    While closed it still takes a corrected name, purpose or capabilities; its dates, its place
    in the sequence (no tranche moves or is added before it, or moves out from before it, or
    is deleted from before it either) and what is in it are fixed (409). The end does not move
    before a baseline of the tranche's milestones (409)."""

    name: Annotated[Name, ClosedTrancheText] | UnsetType = UNSET
    purpose: Annotated[Description, ClosedTrancheText] | UnsetType = UNSET
    capabilities: Annotated[Lines, ClosedTrancheText] | UnsetType = UNSET
    position: TranchePosition | UnsetType = UNSET
    start_date: date | UnsetType | None = UNSET
    end_date: TrancheEnd | UnsetType | None = UNSET
    state: TrancheStep | UnsetType = UNSET


class TrancheRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    name: str
    purpose: str
    capabilities: list[str]
    position: int
    start_date: date | None
    end_date: date | None
    state: TrancheState
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


# --- projects -----------------------------------------------------------------------------------


class ProjectCreate(msgspec.Struct, forbid_unknown_fields=True):
    programme_id: uuid.UUID
    name: Name
    tranche_id: uuid.UUID | None = None
    description: Description = ""
    kind: ProjectKind = ProjectKind.PROJECT
    approach: ProjectApproach = ProjectApproach.WATERFALL
    state: ProjectState = ProjectState.PROPOSED
    owner_id: uuid.UUID | None = None
    lead_role_id: uuid.UUID | None = None
    start_date: date | None = None
    end_date: date | None = None
    budget: Cost | None = None
    forecast_cost: Cost | None = None
    custom_fields: CustomValues = {}


ProjectTranche = Annotated[
    uuid.UUID,
    Meta(
        description=(
            "The tranche the project is in; its milestones naming no tranche follow it. It does "
            "not join a closed tranche (409). It leaves a closed one (for another, or none) only "
            "while still delivering: not closed or cancelled itself, and none of its milestones "
            "that follow it achieved or cancelled (409 naming the tranche and them: they are the "
            "closed tranche's record). Carry its milestones still to deliver over one at a time "
            "instead, or have an admin or owner reopen the tranche. Moving to another tranche "
            "takes the project's stage gates on other tranches with it (their ETags move on), "
            "and is refused while one of them is decided (409 naming them: a decided gate stays "
            "where its board decided it). Moving to none leaves its gates where they are."
        )
    ),
]


ProjectStep = Annotated[
    ProjectState,
    Meta(
        description=(
            "A project closed or cancelled in a closed tranche is part of its record: its "
            "state does not change while the tranche is closed (409 naming the tranche; an "
            "admin or owner reopens it to correct the record), and it is not deleted (409), nor "
            "is a project with milestones achieved or cancelled in a closed tranche. One still "
            "delivering in a closed tranche still changes state."
        )
    ),
]


class ProjectUpdate(Patch):
    name: Name | UnsetType = UNSET
    tranche_id: ProjectTranche | UnsetType | None = UNSET
    description: Description | UnsetType = UNSET
    kind: ProjectKind | UnsetType = UNSET
    approach: ProjectApproach | UnsetType = UNSET
    state: ProjectStep | UnsetType = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    lead_role_id: uuid.UUID | UnsetType | None = UNSET
    start_date: date | UnsetType | None = UNSET
    end_date: date | UnsetType | None = UNSET
    budget: Cost | UnsetType | None = UNSET
    forecast_cost: Cost | UnsetType | None = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class ProjectRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    tranche_id: uuid.UUID | None
    name: str
    description: str
    kind: ProjectKind
    approach: ProjectApproach
    state: ProjectState
    owner_id: uuid.UUID | None
    lead_role_id: uuid.UUID | None
    start_date: date | None
    end_date: date | None
    budget: float | None
    forecast_cost: float | None
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


# --- milestones ---------------------------------------------------------------------------------


Baseline = Annotated[
    date,
    Meta(
        description=(
            "The date the milestone is planned for: on or before the end of its tranche (its "
            "own, else its project's) and the programme's planned end (409 on baseline_date "
            "naming the boundary; on tranche_id or project_id when a move would leave it "
            "outside its new tranche). Once set, it moves only through an approved change "
            "request, which keeps to the same bounds."
        )
    ),
]
Forecast = Annotated[
    date,
    Meta(
        description=(
            "The date the milestone is now expected: it may slip past its tranche's end or the "
            "programme's (slip_days reports by how much against the baseline), though a "
            "milestone of a closed tranche is not re-dated."
        )
    ),
]


MilestoneStep = Annotated[
    MilestoneState,
    Meta(
        description=(
            "In a closed tranche (its own, else its project's) a milestone's state is the "
            "tranche's record: one achieved or cancelled there keeps its state and actual date "
            "(409 naming the tranche), and is not deleted (409); one still to deliver (planned "
            "or missed) goes between those two, and is achieved or cancelled only once carried "
            "over to a tranche still open (in the same change, or first), where it is re-dated "
            "too. An admin or owner reopens the tranche to correct its record."
        )
    ),
]
ActualDate = Annotated[
    date,
    Meta(
        description=(
            "The day an achieved milestone was achieved: not in the future (today when none is "
            "sent); none for one not achieved. It does not change for a milestone achieved in "
            "a closed tranche (409: the closed tranche's record)."
        )
    ),
]


class MilestoneCreate(msgspec.Struct, forbid_unknown_fields=True):
    programme_id: uuid.UUID
    title: Name
    tranche_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    description: Description = ""
    kind: MilestoneKind = MilestoneKind.DELIVERY
    baseline_date: Baseline | None = None
    forecast_date: Forecast | None = None
    actual_date: date | None = None
    owner_id: uuid.UUID | None = None
    state: MilestoneState = MilestoneState.PLANNED
    custom_fields: CustomValues = {}


class MilestoneUpdate(Patch):
    """A baseline date, once set, moves only through an approved change request; it is on or
    before its tranche's end and the programme's planned end (its forecast may slip past
    them). A milestone of a closed tranche (its own, else its project's) is not re-dated, and
    none is created in or moved into one (409); one still to deliver is moved to an open
    tranche and re-dated there (and achieved or cancelled there: one achieved or cancelled in a
    closed tranche keeps its state and actual date, 409, and is not deleted).

    An achieved milestone has an ``actual_date`` that is not in the future (today when none is
    sent); one that is not achieved has none (leaving ``achieved`` clears it)."""

    title: Name | UnsetType = UNSET
    tranche_id: uuid.UUID | UnsetType | None = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    description: Description | UnsetType = UNSET
    kind: MilestoneKind | UnsetType = UNSET
    baseline_date: Baseline | UnsetType | None = UNSET
    forecast_date: Forecast | UnsetType | None = UNSET
    actual_date: ActualDate | UnsetType | None = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    state: MilestoneStep | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class MilestoneRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    tranche_id: uuid.UUID | None
    project_id: uuid.UUID | None
    title: str
    description: str
    kind: MilestoneKind
    baseline_date: date | None
    forecast_date: date | None
    actual_date: date | None
    slip_days: int | None
    owner_id: uuid.UUID | None
    state: MilestoneState
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
