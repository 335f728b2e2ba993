"""Programme structure: programmes → tranches (ordered) → projects / workstreams; milestones."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace import money
from services.workspace.models import CarriesCustomFields, SeededFromPack, seeded_item_index

DATES_IN_ORDER = "end_date IS NULL OR start_date IS NULL OR end_date >= start_date"


def costs_not_negative() -> tuple[CheckConstraint, CheckConstraint]:
    """A budget and a forecast cost are never negative (the API's ``Cost``)."""
    return (
        CheckConstraint("budget >= 0", "budget_not_negative"),
        CheckConstraint("forecast_cost >= 0", "forecast_cost_not_negative"),
    )


class ProgrammeState(enum.StrEnum):
    """MSP's lifecycle of a programme, plus a pause."""

    IDENTIFYING = "identifying"
    DEFINING = "defining"
    DELIVERING = "delivering"
    ON_HOLD = "on_hold"
    CLOSING = "closing"
    CLOSED = "closed"


class ProgrammeLevel(enum.StrEnum):
    """What the programme row stands for: a portfolio, a programme, or a single project."""

    PORTFOLIO = "portfolio"
    PROGRAMME = "programme"
    PROJECT = "project"


class Programme(WorkspaceModel, SeededFromPack):
    __tablename__ = "programmes"
    __workspace_table_args__ = (
        CheckConstraint(DATES_IN_ORDER, "dates"),
        *costs_not_negative(),
        Index(None, "tenant_id", "created_at", "id"),
        seeded_item_index(),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    level: Mapped[ProgrammeLevel] = mapped_column(
        text_enum(ProgrammeLevel), default=ProgrammeLevel.PROGRAMME, server_default="programme"
    )
    vision: Mapped[str] = mapped_column(Text, default="", server_default="")
    state: Mapped[ProgrammeState] = mapped_column(
        text_enum(ProgrammeState), default=ProgrammeState.IDENTIFYING
    )
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    # A control-plane user; planes are not joined by foreign keys (cells may differ).
    owner_id: Mapped[uuid.UUID | None]
    # Money in the workspace's currency: the approved budget and the forecast at completion.
    budget: Mapped[Decimal | None] = mapped_column(money.MONEY)
    forecast_cost: Mapped[Decimal | None] = mapped_column(money.MONEY)

    @validates("budget", "forecast_cost")
    def _exact(self, field: str, value: float | Decimal | None) -> Decimal | None:
        return money.exact(field, value)


class TrancheState(enum.StrEnum):
    PLANNED = "planned"
    STARTED = "started"
    CLOSED = "closed"


class Tranche(WorkspaceModel, SeededFromPack):
    """A tranche, phase, stage or programme increment; ``position`` orders them."""

    __tablename__ = "tranches"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        CheckConstraint(DATES_IN_ORDER, "dates"),
        Index(None, "tenant_id", "programme_id", "position"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    # What the tranche leaves in place (its outputs as capabilities), in order.
    capabilities: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    state: Mapped[TrancheState] = mapped_column(
        text_enum(TrancheState), default=TrancheState.PLANNED
    )


class ProjectKind(enum.StrEnum):
    PROJECT = "project"
    WORKSTREAM = "workstream"


class ProjectApproach(enum.StrEnum):
    WATERFALL = "waterfall"
    AGILE = "agile"
    HYBRID = "hybrid"
    BUSINESS_CHANGE = "business_change"


class ProjectState(enum.StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Project(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A project or workstream of a programme, usually delivered within a tranche."""

    __tablename__ = "projects"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["tranche_id"], "tranches"),
        workspace_foreign_key(["lead_role_id"], "programme_roles"),
        CheckConstraint(DATES_IN_ORDER, "dates"),
        *costs_not_negative(),
        Index(None, "tenant_id", "programme_id", "created_at"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    tranche_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    kind: Mapped[ProjectKind] = mapped_column(text_enum(ProjectKind), default=ProjectKind.PROJECT)
    approach: Mapped[ProjectApproach] = mapped_column(
        text_enum(ProjectApproach), default=ProjectApproach.WATERFALL
    )
    state: Mapped[ProjectState] = mapped_column(
        text_enum(ProjectState), default=ProjectState.PROPOSED
    )
    owner_id: Mapped[uuid.UUID | None]
    # The role that leads it (a template names roles; ``owner_id`` is the person, once named).
    lead_role_id: Mapped[uuid.UUID | None]
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    budget: Mapped[Decimal | None] = mapped_column(money.MONEY)
    forecast_cost: Mapped[Decimal | None] = mapped_column(money.MONEY)

    @validates("budget", "forecast_cost")
    def _exact(self, field: str, value: float | Decimal | None) -> Decimal | None:
        return money.exact(field, value)


class MilestoneKind(enum.StrEnum):
    DELIVERY = "delivery"
    DECISION = "decision"
    BENEFIT = "benefit"
    REGULATORY = "regulatory"
    INTEGRATION = "integration"
    REVIEW = "review"


class MilestoneState(enum.StrEnum):
    PLANNED = "planned"
    ACHIEVED = "achieved"
    MISSED = "missed"
    CANCELLED = "cancelled"


class Milestone(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A milestone of a programme, optionally of one of its tranches or projects.

    ``baseline_date`` changes only through an approved change request (recorded there);
    ``forecast_date`` is the current expectation, and the gap between them is the slip.
    """

    __tablename__ = "milestones"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["tranche_id"], "tranches"),
        workspace_foreign_key(["project_id"], "projects"),
        Index(None, "tenant_id", "programme_id", "forecast_date"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    tranche_id: Mapped[uuid.UUID | None]
    project_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    kind: Mapped[MilestoneKind] = mapped_column(
        text_enum(MilestoneKind), default=MilestoneKind.DELIVERY
    )
    baseline_date: Mapped[date | None]
    forecast_date: Mapped[date | None]
    actual_date: Mapped[date | None]
    owner_id: Mapped[uuid.UUID | None]
    state: Mapped[MilestoneState] = mapped_column(
        text_enum(MilestoneState), default=MilestoneState.PLANNED
    )
