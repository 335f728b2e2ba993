"""RAID registers: risks, issues, assumptions and dependencies of a programme."""

from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel, workspace_foreign_key
from services.db.types import text_enum
from services.workspace.models import (
    CarriesCustomFields,
    Confidence,
    SeededFromPack,
    seeded_item_index,
)


class RiskKind(enum.StrEnum):
    THREAT = "threat"
    OPPORTUNITY = "opportunity"


class RiskResponse(enum.StrEnum):
    # Threats
    AVOID = "avoid"
    REDUCE = "reduce"
    FALLBACK = "fallback"
    TRANSFER = "transfer"
    SHARE = "share"
    ACCEPT = "accept"
    # Opportunities (and share)
    EXPLOIT = "exploit"
    ENHANCE = "enhance"
    REJECT = "reject"
    # ROAM, for agile workspaces
    RESOLVED = "resolved"
    OWNED = "owned"
    ACCEPTED = "accepted"
    MITIGATED = "mitigated"


class RiskStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class RiskTrend(enum.StrEnum):
    NEW = "new"
    IMPROVING = "improving"
    STABLE = "stable"
    WORSENING = "worsening"


class Risk(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A threat or opportunity: cause → event → effect, scored before and after the response.

    Scores are stored (probability × impact) so the register can be sorted and filtered by them;
    the band is derived from the workspace's bands when read, so changing bands needs no rewrite.
    """

    __tablename__ = "risks"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        CheckConstraint(
            "inherent_probability >= 1 AND inherent_impact >= 1 "
            "AND residual_probability >= 1 AND residual_impact >= 1",
            "scores_positive",
        ),
        CheckConstraint(
            "inherent_score = inherent_probability * inherent_impact "
            "AND residual_score = residual_probability * residual_impact",
            "scores_are_products",
        ),
        Index(None, "tenant_id", "programme_id", "residual_score"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="", server_default="")
    kind: Mapped[RiskKind] = mapped_column(text_enum(RiskKind), default=RiskKind.THREAT)
    cause: Mapped[str] = mapped_column(Text, default="", server_default="")
    event: Mapped[str] = mapped_column(Text, default="", server_default="")
    effect: Mapped[str] = mapped_column(Text, default="", server_default="")
    inherent_probability: Mapped[int] = mapped_column(SmallInteger)
    inherent_impact: Mapped[int] = mapped_column(SmallInteger)
    inherent_score: Mapped[int] = mapped_column(SmallInteger)
    residual_probability: Mapped[int] = mapped_column(SmallInteger)
    residual_impact: Mapped[int] = mapped_column(SmallInteger)
    residual_score: Mapped[int] = mapped_column(SmallInteger)
    proximity: Mapped[str | None] = mapped_column(String(64))
    response: Mapped[RiskResponse | None] = mapped_column(text_enum(RiskResponse))
    response_plan: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner_id: Mapped[uuid.UUID | None]
    owner_role_id: Mapped[uuid.UUID | None]
    actionee_id: Mapped[uuid.UUID | None]
    trigger: Mapped[str] = mapped_column(Text, default="", server_default="")
    next_review_date: Mapped[date | None]
    status: Mapped[RiskStatus] = mapped_column(text_enum(RiskStatus), default=RiskStatus.OPEN)
    trend: Mapped[RiskTrend] = mapped_column(text_enum(RiskTrend), default=RiskTrend.NEW)


class IssueType(enum.StrEnum):
    PROBLEM = "problem"
    CHANGE_REQUEST = "change_request"
    OFF_SPECIFICATION = "off_specification"
    CONCERN = "concern"


class Priority(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class IssueStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Issue(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    __tablename__ = "issues"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        workspace_foreign_key(["escalated_to_board_id"], "boards"),
        CheckConstraint("severity BETWEEN 1 AND 4", "severity"),
        Index(None, "tenant_id", "programme_id", "status"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    type: Mapped[IssueType] = mapped_column(text_enum(IssueType), default=IssueType.PROBLEM)
    priority: Mapped[Priority] = mapped_column(text_enum(Priority), default=Priority.MEDIUM)
    severity: Mapped[int] = mapped_column(SmallInteger, default=2)
    owner_id: Mapped[uuid.UUID | None]
    owner_role_id: Mapped[uuid.UUID | None]
    raised_on: Mapped[date | None]
    target_date: Mapped[date | None]
    status: Mapped[IssueStatus] = mapped_column(text_enum(IssueStatus), default=IssueStatus.OPEN)
    escalated_to: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # The board it escalates to, when that is a board of this workspace.
    escalated_to_board_id: Mapped[uuid.UUID | None]
    resolution: Mapped[str] = mapped_column(Text, default="", server_default="")


class AssumptionStatus(enum.StrEnum):
    UNVALIDATED = "unvalidated"
    VALIDATED = "validated"
    INVALID = "invalid"
    CLOSED = "closed"


class Assumption(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    __tablename__ = "assumptions"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects"),
        workspace_foreign_key(["risk_id"], "risks"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        Index(None, "tenant_id", "programme_id", "status"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(32))
    statement: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[uuid.UUID | None]
    owner_role_id: Mapped[uuid.UUID | None]
    confidence: Mapped[Confidence] = mapped_column(text_enum(Confidence), default=Confidence.MEDIUM)
    validate_by: Mapped[date | None]
    validation_method: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[AssumptionStatus] = mapped_column(
        text_enum(AssumptionStatus), default=AssumptionStatus.UNVALIDATED
    )
    risk_id: Mapped[uuid.UUID | None]


class DependencyKind(enum.StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class DependencyStatus(enum.StrEnum):
    PROPOSED = "proposed"
    AGREED = "agreed"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Dependency(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """The ``to`` side needs something from the ``from`` side by ``need_by_date``.

    Either side is a project (of any programme in the workspace) and optionally one of its
    milestones; an external dependency names its ``external_party`` instead of a ``from`` project.
    """

    __tablename__ = "dependencies"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["from_project_id"], "projects"),
        workspace_foreign_key(["to_project_id"], "projects"),
        workspace_foreign_key(["from_milestone_id"], "milestones"),
        workspace_foreign_key(["to_milestone_id"], "milestones"),
        Index(None, "tenant_id", "programme_id", "need_by_date"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    kind: Mapped[DependencyKind] = mapped_column(
        text_enum(DependencyKind), default=DependencyKind.INTERNAL
    )
    from_project_id: Mapped[uuid.UUID | None]
    from_milestone_id: Mapped[uuid.UUID | None]
    to_project_id: Mapped[uuid.UUID | None]
    to_milestone_id: Mapped[uuid.UUID | None]
    external_party: Mapped[str] = mapped_column(String(200), default="", server_default="")
    need_by_date: Mapped[date | None]
    committed_date: Mapped[date | None]
    from_owner_id: Mapped[uuid.UUID | None]
    to_owner_id: Mapped[uuid.UUID | None]
    status: Mapped[DependencyStatus] = mapped_column(
        text_enum(DependencyStatus), default=DependencyStatus.PROPOSED
    )
