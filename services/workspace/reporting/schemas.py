"""API shapes of status reports and the programme views (dashboard, dependency map, board pack)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from services.workspace.models import Rag
from services.workspace.reporting.models import ReportState
from services.workspace.schemas import Description, Patch, SourceVersion

FormatId = Annotated[
    uuid.UUID,
    msgspec.Meta(
        description="The report format (GET report-formats) the report follows; null or left "
        "out: none, as before. With one, publishing needs a RAG for each of the format's "
        "rag_dimensions, the snapshot keeps the format's top_risks, top_issues and "
        "top_decisions, and the report's read lists the format's sections. An unknown format "
        "is a 422. A correction keeps its report's format (another one is a 422)."
    ),
]


class StatusReportCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A draft for one period of a programme (or one of its projects). The periods of a
    programme's own reports, and of each project's, do not overlap (409 naming the report)."""

    programme_id: uuid.UUID
    period_start: date
    period_end: date
    project_id: uuid.UUID | None = None
    format_id: FormatId | None = None
    summary: Description = ""
    achievements: Description = ""
    next_period: Description = ""
    overall_rag: Rag | None = None
    overall_comment: Description = ""
    schedule_rag: Rag | None = None
    schedule_comment: Description = ""
    cost_rag: Rag | None = None
    cost_comment: Description = ""
    scope_rag: Rag | None = None
    scope_comment: Description = ""
    resources_rag: Rag | None = None
    resources_comment: Description = ""
    benefits_rag: Rag | None = None
    benefits_comment: Description = ""
    risk_rag: Rag | None = None
    risk_comment: Description = ""
    override_reason: Description = ""
    path_to_green: Description = ""


class StatusReportUpdate(Patch):
    """Drafts only: a published report is frozen (correct it with a new revision). A
    correction keeps the period and the format of the report it corrects: a new
    ``period_end`` or ``format_id`` is refused (422)."""

    period_end: date | UnsetType = UNSET
    format_id: FormatId | UnsetType | None = UNSET
    summary: Description | UnsetType = UNSET
    achievements: Description | UnsetType = UNSET
    next_period: Description | UnsetType = UNSET
    overall_rag: Rag | UnsetType | None = UNSET
    overall_comment: Description | UnsetType = UNSET
    schedule_rag: Rag | UnsetType | None = UNSET
    schedule_comment: Description | UnsetType = UNSET
    cost_rag: Rag | UnsetType | None = UNSET
    cost_comment: Description | UnsetType = UNSET
    scope_rag: Rag | UnsetType | None = UNSET
    scope_comment: Description | UnsetType = UNSET
    resources_rag: Rag | UnsetType | None = UNSET
    resources_comment: Description | UnsetType = UNSET
    benefits_rag: Rag | UnsetType | None = UNSET
    benefits_comment: Description | UnsetType = UNSET
    risk_rag: Rag | UnsetType | None = UNSET
    risk_comment: Description | UnsetType = UNSET
    override_reason: Description | UnsetType = UNSET
    path_to_green: Description | UnsetType = UNSET


# Frozen: the route's default (no body) is one shared instance. msgspec allows a frozen struct
# of a mutable base; mypy's dataclass rule does not know it.
class StatusReportCorrection(StatusReportUpdate, frozen=True):  # type: ignore[misc]
    """What the correction changes in its copy of the report, as an update of the new draft
    would: the fields sent replace the copied ones. The period and the format stay the
    corrected report's (another ``period_end`` or ``format_id`` is a 422); the draft may be
    edited further before it is published."""

    # Taken so that a report read can be sent back as it is; it changes nothing.
    period_end: (
        Annotated[
            date,
            msgspec.Meta(
                description="Accepted only unchanged: the corrected report's own period_end "
                "(so a report read can be sent back as it is). A correction keeps its report's "
                "period; another date is a 422."
            ),
        ]
        | UnsetType
    ) = UNSET


class StatusReportPublish(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Publishing takes no fields: the draft is published as it stands (send no body, or
    ``{}``; any field is a 422, so nothing sent is silently ignored)."""


class FormatSection(msgspec.Struct):
    """A section of the report's format, in order: what the report should cover."""

    position: int
    title: str
    guidance: str


class StatusReportRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    project_id: uuid.UUID | None
    period_start: date
    period_end: date
    revision: int
    supersedes_id: uuid.UUID | None
    format_id: Annotated[
        uuid.UUID | None,
        msgspec.Meta(description="The report format it follows (null: none)."),
    ]
    sections: Annotated[
        list[FormatSection],
        msgspec.Meta(
            description="Its format's sections in order, with their guidance, as the format "
            "has them now (a published report's snapshot keeps them as they were at "
            "publication, under format); empty without a format."
        ),
    ]
    state: ReportState
    summary: str
    achievements: str
    next_period: str
    overall_rag: Rag | None
    overall_comment: str
    schedule_rag: Rag | None
    schedule_comment: str
    cost_rag: Rag | None
    cost_comment: str
    scope_rag: Rag | None
    scope_comment: str
    resources_rag: Rag | None
    resources_comment: str
    benefits_rag: Rag | None
    benefits_comment: str
    risk_rag: Rag | None
    risk_comment: str
    override_reason: str
    path_to_green: str
    suggested: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="The suggestion as it stood at publication (null for a draft), shaped "
            "as GET …/suggestion answers it: rags, as_of, read_today and evidence (as_of and "
            "read_today are missing from reports published before they were recorded)."
        ),
    ]
    snapshot: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description="The data kept at publication (null for a draft): milestones, "
            "top_risks, issues, decisions, and for a programme benefits and project_reports "
            "(with a format, format too). milestones are the first ten still to deliver on the "
            "suggestion's as_of day, by forecast: planned or missed, and one achieved after "
            "that day, listed as it stood then (state planned, forecast_date that day: the "
            "slip the suggestion counts); one achieved by then is not listed. "
            "benefits.realisation_pct is as of that day too."
        ),
    ]
    published_at: datetime | None
    published_by: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class Suggestion(msgspec.Struct):
    """RAG suggested from the data and the workspace's rules, with the evidence behind it. A
    report is judged as of its period's end (``as_of``), as far as the data keeps a history;
    ``read_today`` names the dimensions it judges on today's data instead."""

    rags: Annotated[
        dict[str, Rag | None],
        msgspec.Meta(description="The suggested RAG per dimension; overall is the worst."),
    ]
    as_of: Annotated[
        date | None,
        msgspec.Meta(
            description="The day the report is judged as of: its period's end, or today while "
            "the period runs (or is still to come). Milestones count as achieved only if "
            "achieved by then (one achieved later slips until this day), and benefits "
            "realisation reads each benefit's latest measurement measured on or before it. "
            "Null only in a suggestion stored before it was recorded."
        ),
    ] = None
    read_today: Annotated[
        list[str],
        msgspec.Meta(
            description="The dimensions judged on today's data, not as of as_of, because no "
            "history of it is kept: cost (budgets, forecasts at completion, approved changes), "
            "risk (today's open threats and residual scores) and, for a programme, benefits "
            "(the owners' current forecasts; evidence.benefits_realisation_pct is as of "
            "as_of). Empty while the period runs (as_of is today). Schedule is as of as_of "
            "for achievements, though milestones' baseline and forecast dates are as they "
            "stand; scope and resources come from the period's project reports."
        ),
    ] = msgspec.field(default_factory=list)
    evidence: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="The figures behind the RAGs, rounded for showing (the rules compare "
            "them exact): schedule_slip_weeks and schedule_as_of, cost_variance_pct, "
            "current_budget, forecast_cost, benefits_forecast_pct, benefits_realisation_pct, "
            "open_risk_rags (count per RAG), project_rags, projects_unreported, reported_rags."
        ),
    ] = msgspec.field(default_factory=dict)


# --- views --------------------------------------------------------------------------------------


class RagPoint(msgspec.Struct):
    report_id: uuid.UUID
    period_start: date
    period_end: date
    rags: dict[str, Rag | None]


class RealisationView(msgspec.Struct):
    realisation_pct: float | None
    value_weighted: bool
    benefits_counted: int
    value_realised_per_year: float | None
    forecast_pct: float | None
    by_state: dict[str, int]


class CostView(msgspec.Struct):
    """The programme's money, to the cent: its budget, the cost impact of its approved change
    requests, the budget with them, the forecast at completion and its variance (% of the
    current budget; negative: under budget)."""

    budget: float | None
    approved_changes: float
    current_budget: float | None
    forecast_cost: float | None
    variance_pct: float | None


class RiskLine(msgspec.Struct):
    id: uuid.UUID
    reference: str | None
    title: str
    residual_probability: int
    residual_impact: int
    residual_score: int
    band: str | None
    rag: Rag | None
    owner_id: uuid.UUID | None
    trend: str


class DueItem(msgspec.Struct):
    id: uuid.UUID
    title: str
    date: date | None
    state: str
    owner_id: uuid.UUID | None = None
    # Its date has passed (before the workspace's today) and it is still not done.
    overdue: bool = False


class Dashboard(msgspec.Struct):
    programme_id: uuid.UUID
    name: str
    as_of: date
    current: RagPoint | None
    trend: list[RagPoint]
    benefits: RealisationView
    cost: CostView
    # Open threats by residual score; opportunities apart (a likely one is good news).
    top_risks: list[RiskLine]
    top_opportunities: list[RiskLine]
    # heat_map[p-1][i-1] = open threats at residual probability p and impact i.
    heat_map: list[list[int]]
    # Due by the horizon, overdue first, at most 50 each; the counts are of all of them.
    milestones_due: list[DueItem]
    milestones_due_count: int
    gates_due: list[DueItem]
    gates_due_count: int
    overdue_actions: list[DueItem]
    overdue_action_count: int
    # Red or amber now, red first (at most 50): the programme's, or with an end in it.
    dependencies_at_risk: list[DependencyLine]


class MapNode(msgspec.Struct):
    id: uuid.UUID
    kind: str
    label: str
    programme_id: uuid.UUID | None
    project_id: uuid.UUID | None = None


class MapEdge(msgspec.Struct):
    dependency_id: uuid.UUID
    title: str
    source: str
    target: str
    need_by_date: date | None
    committed_date: date | None
    status: str
    rag: Rag | None


class DependencyMap(msgspec.Struct):
    """``source`` provides what ``target`` needs; node ids are projects, milestones or
    ``external:<party>``."""

    nodes: list[MapNode]
    edges: list[MapEdge]


class GateOutcome(msgspec.Struct):
    gate_id: uuid.UUID
    title: str
    decision: str
    conditions: str
    decided_on: date
    decided_by_id: uuid.UUID


class DecisionLine(msgspec.Struct):
    id: uuid.UUID
    title: str
    decision: str
    status: str
    decided_on: date | None
    board_id: uuid.UUID | None


class ChangeLine(msgspec.Struct):
    """A change request decided in the period, with what it changes."""

    id: uuid.UUID
    reference: str | None
    title: str
    project_id: uuid.UUID | None
    state: str
    decided_on: date | None
    decided_by_id: uuid.UUID | None
    schedule_impact_days: int | None
    cost_impact: float | None


class IssueLine(msgspec.Struct):
    """An open issue escalated to a board."""

    id: uuid.UUID
    reference: str | None
    title: str
    project_id: uuid.UUID | None
    severity: int
    status: str
    escalated_to_board_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    target_date: date | None


class DependencyLine(msgspec.Struct):
    """A dependency at risk: red or amber now (its ``rag`` as the register shows it)."""

    id: uuid.UUID
    reference: str | None
    title: str
    from_project_id: uuid.UUID | None
    from_milestone_id: uuid.UUID | None
    to_project_id: uuid.UUID | None
    to_milestone_id: uuid.UUID | None
    external_party: str
    need_by_date: date | None
    committed_date: date | None
    status: str
    rag: Rag | None


class BoardPack(msgspec.Struct):
    """What a board reads for a period. Each list stops at 50 (``top_risks`` at ``top``)."""

    programme_id: uuid.UUID
    period_start: date
    period_end: date
    reports: list[StatusReportRead]
    decisions: list[DecisionLine]
    top_risks: list[RiskLine]
    gate_outcomes: list[GateOutcome]
    # Approved, rejected (or otherwise decided) with a decision date in the period.
    change_requests: list[ChangeLine]
    # Open or in progress and escalated to a board (the programme's or one above it).
    escalated_issues: list[IssueLine]
    # Still open, due in or before the period and before today.
    overdue_actions: list[DueItem]
    # The programme's dependencies (recorded in it or with an end in it) red or amber now,
    # red first.
    dependencies_at_risk: list[DependencyLine]


class ReportSectionRead(msgspec.Struct):
    id: uuid.UUID
    position: int
    title: str
    guidance: str
    source_item: str | None
    version: int


class ReportFormatRead(msgspec.Struct):
    """How the workspace reports: sections with guidance, RAG dimensions, cadence, audience."""

    id: uuid.UUID
    title: str
    cadence: str
    audience: str
    rag_dimensions: list[str]
    top_risks: int
    top_issues: int
    top_decisions: int
    sections: list[ReportSectionRead]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
