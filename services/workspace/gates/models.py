"""Stage gates on tranche or project boundaries, their criteria, and each review's decision."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Index, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace.models import SeededFromPack, seeded_item_index


class GateBoundary(enum.StrEnum):
    """Whether the gate opens its tranche / project (entry) or closes it (exit)."""

    ENTRY = "entry"
    EXIT = "exit"


class GateDecision(enum.StrEnum):
    GO = "go"
    CONDITIONAL_GO = "conditional_go"
    HOLD = "hold"
    STOP = "stop"
    RECYCLE = "recycle"


class GateState(enum.StrEnum):
    PLANNED = "planned"
    IN_REVIEW = "in_review"
    DECIDED = "decided"


class CriterionStatus(enum.StrEnum):
    NOT_ASSESSED = "not_assessed"
    MET = "met"
    NOT_MET = "not_met"


ALL_OUTCOMES = [decision.value for decision in GateDecision]


def _all_outcomes() -> list[str]:
    return list(ALL_OUTCOMES)


class StageGate(WorkspaceModel, SeededFromPack):
    __tablename__ = "stage_gates"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["tranche_id"], "tranches"),
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["board_id"], "boards"),
        Index(None, "tenant_id", "programme_id", "planned_date"),
        Index(None, "tenant_id", "tranche_id"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    tranche_id: Mapped[uuid.UUID | None]
    project_id: Mapped[uuid.UUID | None]
    boundary: Mapped[GateBoundary] = mapped_column(
        text_enum(GateBoundary), default=GateBoundary.ENTRY
    )
    board_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The decisions this gate may reach (a template may leave some out), and the gate's place
    # among the programme's gates.
    outcomes: Mapped[list[str]] = mapped_column(
        JSONB,
        default=_all_outcomes,
        server_default=text("""'["go", "conditional_go", "hold", "stop", "recycle"]'::jsonb"""),
    )
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    planned_date: Mapped[date | None]
    state: Mapped[GateState] = mapped_column(text_enum(GateState), default=GateState.PLANNED)
    recommendation: Mapped[GateDecision | None] = mapped_column(
        text_enum(GateDecision, name="recommendation")
    )
    recommendation_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    decision: Mapped[GateDecision | None] = mapped_column(text_enum(GateDecision))
    conditions: Mapped[str] = mapped_column(Text, default="", server_default="")
    decided_by_id: Mapped[uuid.UUID | None]
    decided_on: Mapped[date | None]


class GateCriterion(WorkspaceModel, SeededFromPack):
    __tablename__ = "gate_criteria"
    __workspace_table_args__ = (
        workspace_foreign_key(["gate_id"], "stage_gates", ondelete="CASCADE"),
        Index(None, "tenant_id", "gate_id", "position"),
        seeded_item_index(),
    )

    gate_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    text: Mapped[str] = mapped_column(Text)
    evidence_required: Mapped[str] = mapped_column(Text, default="", server_default="")
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    status: Mapped[CriterionStatus] = mapped_column(
        text_enum(CriterionStatus), default=CriterionStatus.NOT_ASSESSED
    )
    evidence_link: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    assessed_by: Mapped[uuid.UUID | None]
    assessed_at: Mapped[datetime | None]


class StageGateReview(WorkspaceModel):
    """One decision taken at a gate (a gate on hold or recycled is reviewed again)."""

    __tablename__ = "stage_gate_reviews"
    __workspace_table_args__ = (
        workspace_foreign_key(["gate_id"], "stage_gates", ondelete="CASCADE"),
        Index(None, "tenant_id", "gate_id", "decided_on"),
    )

    gate_id: Mapped[uuid.UUID]
    recommendation: Mapped[GateDecision | None] = mapped_column(
        text_enum(GateDecision, name="recommendation")
    )
    decision: Mapped[GateDecision] = mapped_column(text_enum(GateDecision))
    conditions: Mapped[str] = mapped_column(Text, default="", server_default="")
    decided_by_id: Mapped[uuid.UUID]
    decided_on: Mapped[date]
    criteria_met: Mapped[int] = mapped_column(SmallInteger)
    criteria_total: Mapped[int] = mapped_column(SmallInteger)


class Checklist(WorkspaceModel, SeededFromPack):
    """A checklist worked through before a gate or within a tranche (readiness, day-1 …)."""

    __tablename__ = "checklists"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["gate_id"], "stage_gates"),
        workspace_foreign_key(["tranche_id"], "tranches"),
        Index(None, "tenant_id", "programme_id"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    gate_id: Mapped[uuid.UUID | None]
    tranche_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="", server_default="")


class ChecklistEntry(WorkspaceModel, SeededFromPack):
    """One line of a checklist: what must be true, who sees to it, what shows it, and whether
    it is done."""

    __tablename__ = "checklist_entries"
    __workspace_table_args__ = (
        workspace_foreign_key(["checklist_id"], "checklists", ondelete="CASCADE"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        Index(None, "tenant_id", "checklist_id", "position"),
        seeded_item_index(),
    )

    checklist_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    text: Mapped[str] = mapped_column(Text)
    owner_role_id: Mapped[uuid.UUID | None]
    owner_id: Mapped[uuid.UUID | None]
    evidence: Mapped[str] = mapped_column(Text, default="", server_default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    done_on: Mapped[date | None]
