"""Typed shape of an expert template pack: `pack.yaml` and one file per version.

Every item a pack seeds carries a `key` that is stable across versions, so seeding can record
`(pack key, version, item key)` and an upgrade can match items across versions by (kind, key).
Day offsets (`start_day`, `day`, …) count from the programme start date parameter.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec


class PackPart(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base for every part of a pack: immutable, unknown YAML keys rejected."""


Key = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
DayOffset = Annotated[int, msgspec.Meta(ge=0)]
Frequency = Literal[
    "weekly",
    "fortnightly",
    "monthly",
    "bimonthly",
    "quarterly",
    "half_yearly",
    "annually",
    "per_programme_increment",
    "per_tranche",
    "per_stage",
    "on_demand",
]
RagDimension = Literal["overall", "schedule", "cost", "scope", "resources", "benefits", "risk"]
Confidence = Literal["high", "medium", "low"]
ThreatResponse = Literal["avoid", "reduce", "fallback", "transfer", "share", "accept"]
OpportunityResponse = Literal["exploit", "enhance", "share", "reject"]
RoamResponse = Literal["resolved", "owned", "accepted", "mitigated"]
RiskResponse = Literal[
    "avoid",
    "reduce",
    "fallback",
    "transfer",
    "share",
    "accept",
    "exploit",
    "enhance",
    "reject",
    "resolved",
    "owned",
    "accepted",
    "mitigated",
]
GateOutcome = Literal["go", "conditional_go", "hold", "stop", "recycle"]
FieldValue = str | int | float | bool

PARAMETER_REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
"""`{name}` in any text of a pack: the value of parameter `name`."""
START_DATE_PARAMETER = "start_date"
"""The date parameter every day offset counts from (day 0)."""

# Registers a custom field may extend besides the pack's own custom registers.
STANDARD_REGISTERS: frozenset[str] = frozenset(
    {
        "risks",
        "issues",
        "assumptions",
        "dependencies",
        "decisions",
        "change_requests",
        "actions",
        "lessons",
        "benefits",
        "stakeholders",
        "milestones",
        "projects",
    }
)


# --- pack.yaml ---------------------------------------------------------------------------------


class PackManifest(PackPart, frozen=True):
    """`pack.yaml`: what the pack is and who it is for."""

    key: Key
    title: str
    summary: str
    audience: list[str]
    author: str
    licence: str
    methods: list[str] = []


# --- parameters and structure --------------------------------------------------------------------


class Parameter(PackPart, frozen=True):
    """A value the client supplies at seeding; text may refer to it as `{key}`.

    A text parameter may declare `max_length`: longer values are refused, and validation checks
    that every text using it still fits its column with a value that long.
    """

    key: Key
    type: Literal["text", "date", "number", "choice"]
    description: str
    default: FieldValue | None = None
    choices: list[str] | None = None
    max_length: Annotated[int, msgspec.Meta(ge=1)] | None = None


class Programme(PackPart, frozen=True):
    key: Key
    title: str
    description: str
    duration_days: Annotated[int, msgspec.Meta(gt=0)]
    level: Literal["portfolio", "programme", "project"] = "programme"
    vision: str = ""


class Tranche(PackPart, frozen=True):
    """A tranche, phase, stage or programme increment of one programme."""

    key: Key
    programme: Key
    title: str
    start_day: DayOffset
    end_day: DayOffset
    purpose: str
    capabilities: list[str] = []


class Project(PackPart, frozen=True):
    """A project or workstream delivered within a tranche."""

    key: Key
    tranche: Key
    title: str
    description: str
    kind: Literal["project", "workstream"] = "project"
    approach: Literal["waterfall", "agile", "hybrid", "business_change"] = "waterfall"
    lead: Key | None = None


# --- governance ----------------------------------------------------------------------------------


class Role(PackPart, frozen=True):
    key: Key
    title: str
    description: str
    responsibilities: list[str] = []


class RaciEntry(PackPart, frozen=True):
    """Who is responsible, accountable, consulted and informed for one activity."""

    key: Key
    activity: str
    responsible: list[Key]
    accountable: Key
    consulted: list[Key] = []
    informed: list[Key] = []


class BoardMember(PackPart, frozen=True):
    role: Key
    capacity: Literal["chair", "member", "adviser", "secretariat", "observer"] = "member"


class Quorum(PackPart, frozen=True):
    minimum_members: Annotated[int, msgspec.Meta(ge=1)]
    required_roles: list[Key] = []


class Board(PackPart, frozen=True):
    """A governance board with its terms of reference and cadence."""

    key: Key
    title: str
    purpose: str
    members: list[BoardMember]
    decision_rights: list[str]
    quorum: Quorum
    cadence: Frequency
    duration_minutes: Annotated[int, msgspec.Meta(gt=0)] = 90
    standing_agenda: list[str] = []
    reports_to: Key | None = None


class GateCriterion(PackPart, frozen=True):
    key: Key
    text: str
    evidence: str
    mandatory: bool = True


class StageGate(PackPart, frozen=True):
    """A decision point: criteria checked against evidence, decided by a board."""

    key: Key
    title: str
    board: Key
    purpose: str
    criteria: list[GateCriterion]
    after_tranche: Key | None = None
    outcomes: list[GateOutcome] = msgspec.field(
        default_factory=lambda: ["go", "conditional_go", "hold", "stop", "recycle"]
    )


class Milestone(PackPart, frozen=True):
    key: Key
    title: str
    day: DayOffset
    tranche: Key | None = None
    project: Key | None = None
    kind: Literal["delivery", "decision", "benefit", "regulatory", "integration", "review"] = (
        "delivery"
    )


# --- scales and rules -----------------------------------------------------------------------------


class ScaleLevel(PackPart, frozen=True):
    value: Annotated[int, msgspec.Meta(ge=1)]
    label: str
    description: str


class ScoreBand(PackPart, frozen=True):
    """A band of risk scores (probability times impact), inclusive at both ends."""

    key: Key
    label: str
    min_score: Annotated[int, msgspec.Meta(ge=1)]
    max_score: Annotated[int, msgspec.Meta(ge=1)]
    response: str


class NamedLevel(PackPart, frozen=True):
    key: Key
    label: str
    description: str


class Scales(PackPart, frozen=True):
    probability: list[ScaleLevel]
    impact: list[ScaleLevel]
    bands: list[ScoreBand]
    proximity: list[NamedLevel]
    benefit_confidence: list[NamedLevel]
    risk_responses: Literal["standard", "roam"] = "standard"


class CeilingThresholds(PackPart, frozen=True):
    """Green up to `green_max`, amber up to `amber_max`, red above."""

    green_max: float
    amber_max: float


class FloorThresholds(PackPart, frozen=True):
    """Green from `green_min`, amber from `amber_min`, red below."""

    green_min: float
    amber_min: float


class RagRules(PackPart, frozen=True):
    schedule_slip_weeks: CeilingThresholds
    cost_variance_pct: CeilingThresholds
    benefits_forecast_pct: FloorThresholds
    overall: Literal["worst_dimension"] = "worst_dimension"
    override_requires_reason: bool = True
    path_to_green_required_for: list[Literal["amber", "red"]] = msgspec.field(
        default_factory=lambda: ["amber", "red"]
    )


class CustomField(PackPart, frozen=True):
    """An extra field on a standard register or on one of the pack's own registers."""

    key: Key
    register: Key
    label: str
    type: Literal["text", "number", "date", "choice"]
    choices: list[str] | None = None
    required: bool = False
    help: str = ""


class RegisterEntry(PackPart, frozen=True):
    key: Key
    values: dict[str, FieldValue]


class CustomRegister(PackPart, frozen=True):
    """A register the pack adds (obligations, synergies …); its fields are custom_fields."""

    key: Key
    title: str
    purpose: str
    entries: list[RegisterEntry] = []


class ReportSection(PackPart, frozen=True):
    key: Key
    title: str
    guidance: str


class StatusReportFormat(PackPart, frozen=True):
    key: Key
    title: str
    cadence: str
    audience: str
    sections: list[ReportSection]
    rag_dimensions: list[RagDimension]
    top_risks: Annotated[int, msgspec.Meta(ge=0)] = 5
    top_issues: Annotated[int, msgspec.Meta(ge=0)] = 5
    top_decisions: Annotated[int, msgspec.Meta(ge=0)] = 5


# --- starter register items ----------------------------------------------------------------------


class Risk(PackPart, frozen=True):
    """A threat or opportunity written as cause → event → effect."""

    key: Key
    title: str
    category: str
    cause: str
    event: str
    effect: str
    probability: int
    impact: int
    proximity: Key
    response: RiskResponse
    response_plan: str
    owner: Key
    kind: Literal["threat", "opportunity"] = "threat"
    trigger: str = ""


class Assumption(PackPart, frozen=True):
    key: Key
    statement: str
    owner: Key
    confidence: Confidence
    validation_method: str
    validate_by_day: DayOffset | None = None
    linked_risk: Key | None = None


class Issue(PackPart, frozen=True):
    key: Key
    title: str
    description: str
    type: Literal["problem", "change_request", "off_specification"]
    priority: Literal["high", "medium", "low"]
    severity: Annotated[int, msgspec.Meta(ge=1, le=4)]
    owner: Key
    escalate_to: Key | None = None


class Benefit(PackPart, frozen=True):
    """A benefit profile; `title` is phrased as a change ("reduced processing time")."""

    key: Key
    title: str
    description: str
    classification: Literal["cash_releasing", "non_cash", "societal"]
    measure: Literal["quantitative", "qualitative"]
    indicator: str
    unit: str
    baseline: float | str
    target: float | str
    measurement_frequency: Frequency
    confidence: Key
    owner: Key
    dis_benefit: bool = False
    objective: str = ""
    realisation_lead: Key | None = None
    enabling_projects: list[Key] = []
    target_day: DayOffset | None = None
    # Money (a dis-benefit's is negative), within the API's bounds and to the cent.
    value_per_year: Annotated[float, msgspec.Meta(ge=-1e12, le=1e12)] | None = None


class Decision(PackPart, frozen=True):
    key: Key
    title: str
    context: str
    options: list[str]
    decision: str
    rationale: str
    board: Key
    status: Literal["proposed", "pending", "approved", "rejected", "superseded"] = "proposed"


class Dependency(PackPart, frozen=True):
    key: Key
    title: str
    from_project: Key
    kind: Literal["internal", "external"]
    need_by_day: DayOffset
    to_project: Key | None = None
    external_party: str | None = None


class Stakeholder(PackPart, frozen=True):
    key: Key
    group: str
    interest_in_change: str
    power: Literal["high", "low"]
    interest: Literal["high", "low"]
    engagement: str
    owner: Key


class DocumentTemplate(PackPart, frozen=True):
    """A governance document the workspace starts with (mandate, brief, business case …)."""

    key: Key
    title: str
    purpose: str
    owner: Key
    sections: list[str]
    review: Frequency | None = None


class ChecklistEntry(PackPart, frozen=True):
    key: Key
    text: str
    owner: Key | None = None
    evidence: str = ""


class Lesson(PackPart, frozen=True):
    """A lesson from earlier programmes, seeded into the lessons log as a starter library the
    client then keeps, edits or withdraws: what happened and what to do about it."""

    key: Key
    title: str
    what_happened: str
    recommendation: str
    category: str = ""
    kind: Literal["positive", "negative"] = "negative"
    owner: Key | None = None


class Checklist(PackPart, frozen=True):
    key: Key
    title: str
    purpose: str
    entries: list[ChecklistEntry]
    gate: Key | None = None
    tranche: Key | None = None


# --- one version file -----------------------------------------------------------------------------


class PackVersion(PackPart, frozen=True):
    """One version file (`1.0.0.yaml`): parameters and everything it seeds."""

    version: str
    changes: list[str]
    parameters: list[Parameter]
    programmes: list[Programme]
    tranches: list[Tranche]
    roles: list[Role]
    boards: list[Board]
    scales: Scales
    rag_rules: RagRules
    status_reports: list[StatusReportFormat]
    projects: list[Project] = []
    raci: list[RaciEntry] = []
    gates: list[StageGate] = []
    milestones: list[Milestone] = []
    custom_fields: list[CustomField] = []
    registers: list[CustomRegister] = []
    risks: list[Risk] = []
    assumptions: list[Assumption] = []
    issues: list[Issue] = []
    benefits: list[Benefit] = []
    decisions: list[Decision] = []
    dependencies: list[Dependency] = []
    stakeholders: list[Stakeholder] = []
    documents: list[DocumentTemplate] = []
    checklists: list[Checklist] = []
    lessons: list[Lesson] = []
