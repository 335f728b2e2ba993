"""Governance: boards and their members, meetings, actions, decisions and change requests."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace import money
from services.workspace.models import CarriesCustomFields, SeededFromPack, seeded_item_index


class Cadence(enum.StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"
    BIMONTHLY = "bimonthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    ANNUALLY = "annually"
    PER_PROGRAMME_INCREMENT = "per_programme_increment"
    PER_TRANCHE = "per_tranche"
    PER_STAGE = "per_stage"
    ON_DEMAND = "on_demand"


class Board(WorkspaceModel, SeededFromPack):
    """A governance board (sponsoring group, programme board …) with its terms of reference.

    A board without a programme governs across the workspace (a portfolio board).
    """

    __tablename__ = "boards"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["reports_to_id"], "boards"),
        Index(None, "tenant_id", "programme_id"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    terms_of_reference: Mapped[str] = mapped_column(Text, default="", server_default="")
    decision_rights: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    cadence: Mapped[Cadence] = mapped_column(text_enum(Cadence), default=Cadence.MONTHLY)
    # The least number of members present for a decision, and the roles that must be among them.
    quorum: Mapped[int | None] = mapped_column(SmallInteger)
    quorum_role_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid()), default=list, server_default="{}"
    )
    duration_minutes: Mapped[int | None] = mapped_column(SmallInteger)
    standing_agenda: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    reports_to_id: Mapped[uuid.UUID | None]


class MemberCapacity(enum.StrEnum):
    CHAIR = "chair"
    MEMBER = "member"
    ADVISER = "adviser"
    SECRETARIAT = "secretariat"
    OBSERVER = "observer"


class BoardMember(WorkspaceModel, SeededFromPack):
    """A seat on a board: a role (``SRO``), and the workspace member who holds it, once named.

    ``role_id`` is the programme role a template gave the seat; ``position`` orders the seats.
    """

    __tablename__ = "board_members"
    __workspace_table_args__ = (
        workspace_foreign_key(["board_id"], "boards", ondelete="CASCADE"),
        workspace_foreign_key(["role_id"], "programme_roles"),
        Index(None, "tenant_id", "board_id"),
        seeded_item_index(),
    )

    board_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None]
    role_title: Mapped[str] = mapped_column(String(200))
    role_id: Mapped[uuid.UUID | None]
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    capacity: Mapped[MemberCapacity] = mapped_column(
        text_enum(MemberCapacity), default=MemberCapacity.MEMBER
    )


class MeetingState(enum.StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class Meeting(WorkspaceModel):
    __tablename__ = "meetings"
    __workspace_table_args__ = (
        workspace_foreign_key(["board_id"], "boards", ondelete="CASCADE"),
        Index(None, "tenant_id", "board_id", "held_on"),
    )

    board_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date]
    state: Mapped[MeetingState] = mapped_column(
        text_enum(MeetingState), default=MeetingState.SCHEDULED
    )
    attendee_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid()),
        default=list,
        server_default="{}",
    )
    minutes: Mapped[str] = mapped_column(Text, default="", server_default="")


class ActionState(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class Action(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """Something someone must do by a date, often raised at a meeting."""

    __tablename__ = "actions"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["meeting_id"], "meetings"),
        Index(None, "tenant_id", "programme_id", "due_date"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID | None]
    meeting_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner_id: Mapped[uuid.UUID | None]
    due_date: Mapped[date | None]
    state: Mapped[ActionState] = mapped_column(text_enum(ActionState), default=ActionState.OPEN)
    completed_on: Mapped[date | None]


class DecisionStatus(enum.StrEnum):
    PROPOSED = "proposed"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class Decision(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """An entry of the decision log: proposed → (pending →) approved or rejected; an approved
    decision may later be superseded by another of the programme (``superseded_by_id``)."""

    __tablename__ = "decisions"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["board_id"], "boards"),
        workspace_foreign_key(["meeting_id"], "meetings"),
        # No cascade: the decision that replaced another is kept while that one names it.
        workspace_foreign_key(["superseded_by_id"], "decisions"),
        CheckConstraint(
            "superseded_by_id IS NULL OR (status = 'superseded' AND superseded_by_id <> id)",
            "superseded_by_another",
        ),
        Index(None, "tenant_id", "programme_id", "decided_on"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    context: Mapped[str] = mapped_column(Text, default="", server_default="")
    options: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    decision: Mapped[str] = mapped_column(Text, default="", server_default="")
    rationale: Mapped[str] = mapped_column(Text, default="", server_default="")
    board_id: Mapped[uuid.UUID | None]
    meeting_id: Mapped[uuid.UUID | None]
    decided_by_id: Mapped[uuid.UUID | None]
    decided_on: Mapped[date | None]
    status: Mapped[DecisionStatus] = mapped_column(
        text_enum(DecisionStatus), default=DecisionStatus.PROPOSED
    )
    superseded_by_id: Mapped[uuid.UUID | None]


class ChangeRequestState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ChangeRequest(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A proposed change with its impacts; approving it applies its milestone re-baselines."""

    __tablename__ = "change_requests"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects"),
        Index(None, "tenant_id", "programme_id", "state"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    scope_impact: Mapped[str] = mapped_column(Text, default="", server_default="")
    schedule_impact_days: Mapped[int | None] = mapped_column(Integer)
    cost_impact: Mapped[Decimal | None] = mapped_column(money.MONEY)
    benefits_impact: Mapped[str] = mapped_column(Text, default="", server_default="")
    risk_impact: Mapped[str] = mapped_column(Text, default="", server_default="")
    requested_by_id: Mapped[uuid.UUID | None]
    approver_id: Mapped[uuid.UUID | None]
    state: Mapped[ChangeRequestState] = mapped_column(
        text_enum(ChangeRequestState), default=ChangeRequestState.DRAFT
    )
    decided_by_id: Mapped[uuid.UUID | None]
    decided_on: Mapped[date | None]
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    @validates("cost_impact")
    def _exact(self, field: str, value: float | Decimal | None) -> Decimal | None:
        return money.exact(field, value)


class MilestoneRebaseline(WorkspaceModel):
    """A milestone's new baseline date proposed by a change request; the old date is recorded
    when the change is approved and the new one applied."""

    __tablename__ = "milestone_rebaselines"
    __workspace_table_args__ = (
        workspace_foreign_key(["change_request_id"], "change_requests", ondelete="CASCADE"),
        # No cascade: a milestone a change request names is kept while the line is.
        workspace_foreign_key(["milestone_id"], "milestones"),
        UniqueConstraint("tenant_id", "change_request_id", "milestone_id"),
    )

    change_request_id: Mapped[uuid.UUID]
    milestone_id: Mapped[uuid.UUID]
    new_baseline_date: Mapped[date]
    previous_baseline_date: Mapped[date | None]
    applied_at: Mapped[datetime | None]


class ProgrammeDocument(WorkspaceModel, SeededFromPack):
    """A governance document the programme keeps (mandate, brief, business case …): its purpose,
    owner, outline and review cadence. The document itself lives wherever ``link`` points."""

    __tablename__ = "programme_documents"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        Index(None, "tenant_id", "programme_id"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner_role_id: Mapped[uuid.UUID | None]
    owner_id: Mapped[uuid.UUID | None]
    # The outline: section headings in order.
    sections: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    review_cadence: Mapped[Cadence | None] = mapped_column(
        text_enum(Cadence, name="review_cadence")
    )
    link: Mapped[str] = mapped_column(String(2000), default="", server_default="")
