"""Status (highlight) reports: drafts per programme or project per period, frozen when published."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace.models import Rag, SeededFromPack, seeded_item_index


class ReportState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class RagDimension(enum.StrEnum):
    OVERALL = "overall"
    SCHEDULE = "schedule"
    COST = "cost"
    SCOPE = "scope"
    RESOURCES = "resources"
    BENEFITS = "benefits"
    RISK = "risk"


def _rag(dimension: str) -> Mapped[Rag | None]:
    return mapped_column(text_enum(Rag, name=f"{dimension}_rag"))


def _comment() -> Mapped[str]:
    return mapped_column(Text, default="", server_default="")


class StatusReport(WorkspaceModel):
    """One period's report. Published reports are immutable; a correction is a new ``revision``
    that supersedes the published one when it is itself published."""

    __tablename__ = "status_reports"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        # No cascade: a project with reports is not deleted (they are the programme's record);
        # the programme's deletion takes both in one statement.
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["supersedes_id"], "status_reports"),
        # No cascade: a format a report follows is not deleted (a template upgrade removing it
        # holds it back, as it does any row the client's data still names).
        workspace_foreign_key(["format_id"], "report_formats"),
        UniqueConstraint(
            "tenant_id",
            "programme_id",
            "project_id",
            "period_start",
            "revision",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("period_end >= period_start", "period"),
        Index(None, "tenant_id", "programme_id", "state", "period_end"),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    period_start: Mapped[date]
    period_end: Mapped[date]
    revision: Mapped[int] = mapped_column(SmallInteger, default=1)
    supersedes_id: Mapped[uuid.UUID | None]
    # The report format it follows (its RAG dimensions, top-N counts and sections), if any.
    format_id: Mapped[uuid.UUID | None]
    state: Mapped[ReportState] = mapped_column(text_enum(ReportState), default=ReportState.DRAFT)
    summary: Mapped[str] = _comment()
    achievements: Mapped[str] = _comment()
    next_period: Mapped[str] = _comment()
    overall_rag: Mapped[Rag | None] = _rag("overall")
    overall_comment: Mapped[str] = _comment()
    schedule_rag: Mapped[Rag | None] = _rag("schedule")
    schedule_comment: Mapped[str] = _comment()
    cost_rag: Mapped[Rag | None] = _rag("cost")
    cost_comment: Mapped[str] = _comment()
    scope_rag: Mapped[Rag | None] = _rag("scope")
    scope_comment: Mapped[str] = _comment()
    resources_rag: Mapped[Rag | None] = _rag("resources")
    resources_comment: Mapped[str] = _comment()
    benefits_rag: Mapped[Rag | None] = _rag("benefits")
    benefits_comment: Mapped[str] = _comment()
    risk_rag: Mapped[Rag | None] = _rag("risk")
    risk_comment: Mapped[str] = _comment()
    override_reason: Mapped[str] = _comment()
    path_to_green: Mapped[str] = _comment()
    # Frozen at publication: the suggested RAG and the data behind the report (milestones, top
    # risks, issues, decisions, benefits, the projects' reports it rolls up).
    suggested: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    published_at: Mapped[datetime | None]
    published_by: Mapped[uuid.UUID | None]


class ReportFormat(WorkspaceModel, SeededFromPack):
    """How the workspace reports: a format's sections, RAG dimensions, cadence and audience,
    and how many top risks, issues and decisions it shows."""

    __tablename__ = "report_formats"
    __workspace_table_args__ = (seeded_item_index(),)

    title: Mapped[str] = mapped_column(String(200))
    cadence: Mapped[str] = mapped_column(String(64), default="", server_default="")
    audience: Mapped[str] = mapped_column(Text, default="", server_default="")
    rag_dimensions: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    top_risks: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")
    top_issues: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")
    top_decisions: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")


class ReportSection(WorkspaceModel, SeededFromPack):
    """A section of a report format, in order, with guidance for whoever writes it."""

    __tablename__ = "report_sections"
    __workspace_table_args__ = (
        workspace_foreign_key(["format_id"], "report_formats", ondelete="CASCADE"),
        Index(None, "tenant_id", "format_id", "position"),
        seeded_item_index(),
    )

    format_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    title: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[str] = mapped_column(Text, default="", server_default="")
