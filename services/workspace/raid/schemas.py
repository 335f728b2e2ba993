"""API shapes of the RAID registers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.text import NO_NUL
from services.workspace.models import Confidence, Rag
from services.workspace.raid.models import (
    AssumptionStatus,
    DependencyKind,
    DependencyStatus,
    IssueStatus,
    IssueType,
    Priority,
    RiskKind,
    RiskResponse,
    RiskStatus,
    RiskTrend,
)
from services.workspace.schemas import (
    CustomValues,
    Description,
    Key,
    Name,
    Patch,
    Reference,
    Short,
    SourceVersion,
)

# Bounded by the workspace's scale when written (5 on the default 5×5).
Level = Annotated[int, Meta(ge=1, le=10)]
Category = Annotated[str, Meta(max_length=100, pattern=NO_NUL)]


class RiskCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Residual probability and impact default to the inherent ones (before any response)."""

    programme_id: uuid.UUID
    title: Name
    inherent_probability: Level
    inherent_impact: Level
    residual_probability: Level | None = None
    residual_impact: Level | None = None
    project_id: uuid.UUID | None = None
    reference: Reference | None = None
    category: Category = ""
    kind: RiskKind = RiskKind.THREAT
    cause: Description = ""
    event: Description = ""
    effect: Description = ""
    proximity: Key | None = None
    response: RiskResponse | None = None
    response_plan: Description = ""
    owner_id: uuid.UUID | None = None
    owner_role_id: uuid.UUID | None = None
    actionee_id: uuid.UUID | None = None
    trigger: Description = ""
    next_review_date: date | None = None
    status: RiskStatus = RiskStatus.OPEN
    custom_fields: CustomValues = {}


class RiskUpdate(Patch):
    """A change of residual score sets the trend unless ``trend`` is sent."""

    title: Name | UnsetType = UNSET
    inherent_probability: Level | UnsetType = UNSET
    inherent_impact: Level | UnsetType = UNSET
    residual_probability: Level | UnsetType = UNSET
    residual_impact: Level | UnsetType = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    reference: Reference | UnsetType | None = UNSET
    category: Category | UnsetType = UNSET
    kind: RiskKind | UnsetType = UNSET
    cause: Description | UnsetType = UNSET
    event: Description | UnsetType = UNSET
    effect: Description | UnsetType = UNSET
    proximity: Key | UnsetType | None = UNSET
    response: RiskResponse | UnsetType | None = UNSET
    response_plan: Description | UnsetType = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    owner_role_id: uuid.UUID | UnsetType | None = UNSET
    actionee_id: uuid.UUID | UnsetType | None = UNSET
    trigger: Description | UnsetType = UNSET
    next_review_date: date | UnsetType | None = UNSET
    status: RiskStatus | UnsetType = UNSET
    trend: RiskTrend | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class RiskRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    reference: str | None
    title: str
    category: str
    kind: RiskKind
    cause: str
    event: str
    effect: str
    inherent_probability: int
    inherent_impact: int
    inherent_score: int
    inherent_band: str | None
    residual_probability: int
    residual_impact: int
    residual_score: int
    residual_band: str | None
    residual_rag: Rag | None
    proximity: str | None
    response: RiskResponse | None
    response_plan: str
    owner_id: uuid.UUID | None
    owner_role_id: uuid.UUID | None
    actionee_id: uuid.UUID | None
    trigger: str
    next_review_date: date | None
    status: RiskStatus
    trend: RiskTrend
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class IssueCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``raised_on`` is not after the workspace's today (today when none is sent)."""

    programme_id: uuid.UUID
    title: Name
    project_id: uuid.UUID | None = None
    reference: Reference | None = None
    description: Description = ""
    type: IssueType = IssueType.PROBLEM
    priority: Priority = Priority.MEDIUM
    severity: Annotated[int, Meta(ge=1, le=4)] = 2
    owner_id: uuid.UUID | None = None
    owner_role_id: uuid.UUID | None = None
    raised_on: date | None = None
    target_date: date | None = None
    status: IssueStatus = IssueStatus.OPEN
    escalated_to: Short = ""
    escalated_to_board_id: uuid.UUID | None = None
    resolution: Description = ""
    custom_fields: CustomValues = {}


class IssueUpdate(Patch):
    """``raised_on`` is not after the workspace's today, and is not cleared."""

    title: Name | UnsetType = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    reference: Reference | UnsetType | None = UNSET
    description: Description | UnsetType = UNSET
    type: IssueType | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET
    severity: Annotated[int, Meta(ge=1, le=4)] | UnsetType = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    owner_role_id: uuid.UUID | UnsetType | None = UNSET
    raised_on: date | UnsetType | None = UNSET
    target_date: date | UnsetType | None = UNSET
    status: IssueStatus | UnsetType = UNSET
    escalated_to: Short | UnsetType = UNSET
    escalated_to_board_id: uuid.UUID | UnsetType | None = UNSET
    resolution: Description | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class IssueRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    reference: str | None
    title: str
    description: str
    type: IssueType
    priority: Priority
    severity: int
    owner_id: uuid.UUID | None
    owner_role_id: uuid.UUID | None
    raised_on: date | None
    target_date: date | None
    status: IssueStatus
    escalated_to: str
    escalated_to_board_id: uuid.UUID | None
    resolution: str
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


DependencyRag = Annotated[
    Rag | None,
    Meta(
        description=(
            "Worked out on each read, as of the workspace's today. None: cancelled, or nothing "
            "is needed by a date. Green: delivered, or committed at least 7 days before the "
            "need-by date; amber: no commitment, under 7 days to spare, or still proposed; red: "
            "the commitment misses the need-by date, the need-by date passed undelivered, or a "
            "project on either side (named, or through its milestone) is cancelled. When "
            "from_milestone_id is named, that milestone is the commitment: achieved on or "
            "before the need-by date it is green, achieved later or cancelled red; still to "
            "come, its forecast (else baseline) is read in place of committed_date. Either "
            "counts from today at the earliest: a date passed undelivered leaves only the "
            "slack from today to the need-by date. Without need_by_date, to_milestone_id's "
            "date (actual, else forecast, else baseline) is the need."
        )
    ),
]
Statement = Annotated[str, Meta(min_length=1, max_length=20_000, pattern=r"^[^\x00]*$")]


class AssumptionCreate(msgspec.Struct, forbid_unknown_fields=True):
    programme_id: uuid.UUID
    statement: Statement
    project_id: uuid.UUID | None = None
    reference: Reference | None = None
    owner_id: uuid.UUID | None = None
    owner_role_id: uuid.UUID | None = None
    confidence: Confidence = Confidence.MEDIUM
    validate_by: date | None = None
    validation_method: Description = ""
    status: AssumptionStatus = AssumptionStatus.UNVALIDATED
    risk_id: uuid.UUID | None = None
    custom_fields: CustomValues = {}


class AssumptionUpdate(Patch):
    statement: Statement | UnsetType = UNSET
    project_id: uuid.UUID | UnsetType | None = UNSET
    reference: Reference | UnsetType | None = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    owner_role_id: uuid.UUID | UnsetType | None = UNSET
    confidence: Confidence | UnsetType = UNSET
    validate_by: date | UnsetType | None = UNSET
    validation_method: Description | UnsetType = UNSET
    status: AssumptionStatus | UnsetType = UNSET
    risk_id: uuid.UUID | UnsetType | None = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class AssumptionRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    reference: str | None
    statement: str
    owner_id: uuid.UUID | None
    owner_role_id: uuid.UUID | None
    confidence: Confidence
    validate_by: date | None
    validation_method: str
    status: AssumptionStatus
    risk_id: uuid.UUID | None
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class DependencyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``to`` needs something from ``from`` by ``need_by_date``; sides may be in any programme.

    A side is a project, optionally one of its milestones, or the milestone alone (its project
    is the side's). An internal dependency names both sides; an external one names its
    ``external_party`` in place of one side (no ``from``: the party provides; no ``to``: the
    party needs it). A milestone may depend on another of its own project, but nothing depends
    on itself.
    """

    programme_id: uuid.UUID
    title: Name
    kind: DependencyKind = DependencyKind.INTERNAL
    reference: Reference | None = None
    description: Description = ""
    from_project_id: uuid.UUID | None = None
    from_milestone_id: uuid.UUID | None = None
    to_project_id: uuid.UUID | None = None
    to_milestone_id: uuid.UUID | None = None
    external_party: Short = ""
    need_by_date: date | None = None
    committed_date: date | None = None
    from_owner_id: uuid.UUID | None = None
    to_owner_id: uuid.UUID | None = None
    status: DependencyStatus = DependencyStatus.PROPOSED
    custom_fields: CustomValues = {}


class DependencyUpdate(Patch):
    title: Name | UnsetType = UNSET
    kind: DependencyKind | UnsetType = UNSET
    reference: Reference | UnsetType | None = UNSET
    description: Description | UnsetType = UNSET
    from_project_id: uuid.UUID | UnsetType | None = UNSET
    from_milestone_id: uuid.UUID | UnsetType | None = UNSET
    to_project_id: uuid.UUID | UnsetType | None = UNSET
    to_milestone_id: uuid.UUID | UnsetType | None = UNSET
    external_party: Short | UnsetType = UNSET
    need_by_date: date | UnsetType | None = UNSET
    committed_date: date | UnsetType | None = UNSET
    from_owner_id: uuid.UUID | UnsetType | None = UNSET
    to_owner_id: uuid.UUID | UnsetType | None = UNSET
    status: DependencyStatus | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class DependencyRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    reference: str | None
    title: str
    description: str
    kind: DependencyKind
    from_project_id: uuid.UUID | None
    from_milestone_id: uuid.UUID | None
    to_project_id: uuid.UUID | None
    to_milestone_id: uuid.UUID | None
    external_party: str
    need_by_date: date | None
    committed_date: date | None
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID | None
    status: DependencyStatus
    rag: DependencyRag
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
