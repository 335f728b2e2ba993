"""API shapes of benefit profiles and their measurements."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.text import NO_NUL
from services.workspace.benefits.models import (
    BenefitClassification,
    BenefitMeasure,
    BenefitState,
)
from services.workspace.schemas import (
    Cost,
    CustomValues,
    DatedValue,
    Description,
    Key,
    Measure,
    Money,
    Name,
    Patch,
    Percent,
    Reference,
    Short,
    SourceVersion,
)

Projects = Annotated[list[uuid.UUID], Meta(max_length=50)]
INTERIM_TARGETS = (
    "Steps on the way to the target: in date order, one per date, on or after baseline_date "
    "and on or before target_date (each when set); 422 naming the date given twice."
)
InterimTargets = Annotated[list[DatedValue], Meta(max_length=100, description=INTERIM_TARGETS)]
State = Annotated[
    BenefitState,
    Meta(
        description=(
            "identified → validated (needs an owner) → planned (a quantitative benefit needs "
            "baseline_value, target_value and target_date) → realising → realised (a "
            "quantitative benefit needs a measurement) or not_realised; withdrawn from any "
            "state before those two. A step back (validated → identified, planned → validated) "
            "corrects one taken too early. realised, not_realised and withdrawn are final: "
            "there is no step back from them, and what the benefit was judged on (measure, "
            "indicator, unit, the baseline's and target's values, texts and dates, "
            "interim_targets) stays as it is (409 on state); its title, description, people "
            "and other fields still change, and measurements are still recorded (but not on a "
            "withdrawn one). A benefit keeps what its state needs on every later write (422 "
            "naming the fields)."
        )
    ),
]
RealisationPct = Annotated[
    float | None,
    Meta(
        description=(
            "(latest measurement − baseline_value) / (target_value − baseline_value) × 100, "
            "to two decimals, worked out on the values as written; falling indicators alike. "
            "Not capped: over 100 beats the target, under 0 moved away from it. Null without a "
            "baseline, a target different from it, or a measurement (or beyond what a number "
            "holds)."
        )
    ),
]
ForecastPct = Annotated[
    float | None,
    Meta(
        description=(
            "The value the benefit is expected to reach, as realisation_pct reads a "
            "measurement: forecast_value while the benefit is open (null without one); once "
            "realised, its latest measurement (null without one); once not_realised, its "
            "latest measurement, or baseline_value (0) when never measured. The programme's "
            "benefits forecast rolls these up."
        ),
    ),
]


VALUE_PER_YEAR = (
    "The benefit's money per year: gained by a benefit (positive), a cost for a "
    "dis-benefit (dis_benefit true: negative, or zero). The programme's money "
    "realised counts positive values only; dis-benefits are left out of the "
    "realisation and forecast roll-ups by their flag. An amount of money, to the cent: at "
    "most two decimal places (more is refused, not rounded)."
)
ValuePerYear = Annotated[Money, Meta(description=VALUE_PER_YEAR)]


class BenefitCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new profile starts ``identified``; it moves on through ``state`` updates."""

    programme_id: uuid.UUID
    title: Name
    classification: BenefitClassification
    reference: Reference | None = None
    description: Description = ""
    observable_outcome: Description = ""
    measure: BenefitMeasure = BenefitMeasure.QUANTITATIVE
    dis_benefit: bool = False
    objective: Description = ""
    attribution_pct: Percent | None = None
    owner_id: uuid.UUID | None = None
    realisation_lead_id: uuid.UUID | None = None
    owner_role_id: uuid.UUID | None = None
    realisation_lead_role_id: uuid.UUID | None = None
    indicator: Description = ""
    unit: Annotated[str, Meta(max_length=63, pattern=NO_NUL)] = ""
    data_source: Description = ""
    baseline_value: Measure | None = None
    baseline_text: Description = ""
    baseline_date: date | None = None
    target_value: Measure | None = None
    target_text: Description = ""
    target_date: date | None = None
    forecast_value: Measure | None = None
    interim_targets: InterimTargets = []
    value_per_year: ValuePerYear | None = None
    realisation_cost: Cost | None = None
    confidence: Key | None = None
    measurement_frequency: Short | None = None
    enabling_project_ids: Projects = []
    custom_fields: CustomValues = {}


class BenefitUpdate(Patch):
    """``state`` follows identified → validated → planned → realising → realised | not_realised,
    or withdrawn; each step needs what the step means (owner, measurable plan, evidence), and the
    benefit keeps it on every later write. ``target_date`` is on or after ``baseline_date``. A
    realised, not_realised or withdrawn benefit keeps the figures it was judged on (409)."""

    title: Name | UnsetType = UNSET
    classification: BenefitClassification | UnsetType = UNSET
    reference: Reference | UnsetType | None = UNSET
    description: Description | UnsetType = UNSET
    observable_outcome: Description | UnsetType = UNSET
    measure: BenefitMeasure | UnsetType = UNSET
    dis_benefit: bool | UnsetType = UNSET
    objective: Description | UnsetType = UNSET
    attribution_pct: Percent | UnsetType | None = UNSET
    owner_id: uuid.UUID | UnsetType | None = UNSET
    realisation_lead_id: uuid.UUID | UnsetType | None = UNSET
    owner_role_id: uuid.UUID | UnsetType | None = UNSET
    realisation_lead_role_id: uuid.UUID | UnsetType | None = UNSET
    indicator: Description | UnsetType = UNSET
    unit: Annotated[str, Meta(max_length=63, pattern=NO_NUL)] | UnsetType = UNSET
    data_source: Description | UnsetType = UNSET
    baseline_value: Measure | UnsetType | None = UNSET
    baseline_text: Description | UnsetType = UNSET
    baseline_date: date | UnsetType | None = UNSET
    target_value: Measure | UnsetType | None = UNSET
    target_text: Description | UnsetType = UNSET
    target_date: date | UnsetType | None = UNSET
    forecast_value: Measure | UnsetType | None = UNSET
    interim_targets: InterimTargets | UnsetType = UNSET
    value_per_year: ValuePerYear | UnsetType | None = UNSET
    realisation_cost: Cost | UnsetType | None = UNSET
    confidence: Key | UnsetType | None = UNSET
    measurement_frequency: Short | UnsetType | None = UNSET
    state: State | UnsetType = UNSET
    enabling_project_ids: Projects | UnsetType = UNSET
    custom_fields: CustomValues | UnsetType = UNSET


class LatestMeasurement(msgspec.Struct):
    measured_on: date
    value: float


class BenefitRead(msgspec.Struct):
    id: uuid.UUID
    programme_id: uuid.UUID
    reference: str | None
    title: str
    description: str
    observable_outcome: str
    classification: BenefitClassification
    measure: BenefitMeasure
    dis_benefit: bool
    objective: str
    attribution_pct: float | None
    owner_id: uuid.UUID | None
    realisation_lead_id: uuid.UUID | None
    owner_role_id: uuid.UUID | None
    realisation_lead_role_id: uuid.UUID | None
    indicator: str
    unit: str
    data_source: str
    baseline_value: float | None
    baseline_text: str
    baseline_date: date | None
    target_value: float | None
    target_text: str
    target_date: date | None
    forecast_value: float | None
    interim_targets: Annotated[list[DatedValue], Meta(description=INTERIM_TARGETS)]
    value_per_year: Annotated[float | None, Meta(description=VALUE_PER_YEAR)]
    realisation_cost: float | None
    confidence: str | None
    measurement_frequency: str | None
    state: State
    state_changed_at: datetime
    enabling_project_ids: list[uuid.UUID]
    latest_measurement: Annotated[
        LatestMeasurement | None,
        Meta(description="The measurement measured last (the first of the measurements list)."),
    ]
    measurements: Annotated[int, Meta(description="How many measurements the benefit has.")]
    realisation_pct: RealisationPct
    forecast_pct: ForecastPct
    custom_fields: dict[str, Any]
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None


class MeasurementCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``measured_on`` is on or after the benefit's baseline date, and not after the
    workspace's today (422); a withdrawn benefit takes no measurements (409)."""

    measured_on: date
    value: Measure
    comment: Description = ""


class MeasurementRead(msgspec.Struct):
    id: uuid.UUID
    benefit_id: uuid.UUID
    measured_on: date
    value: float
    comment: str
    version: int
    created_at: datetime
    created_by: uuid.UUID | None
