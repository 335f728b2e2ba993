"""API shapes of a workspace's register configuration and custom field definitions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from services.text import NO_NUL
from services.workspace.configuration.models import CustomFieldType, RiskResponseModel
from services.workspace.models import Rag
from services.workspace.schemas import (
    Description,
    Key,
    Name,
    Patch,
    Position,
    SourceVersion,
    listed_text,
)

Choices = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=200, pattern=NO_NUL)]],
    Meta(max_length=100, extra_json_schema=listed_text(200, min_length=1)),
]


class CustomFieldCreate(msgspec.Struct, forbid_unknown_fields=True):
    """``register``: risks, issues, assumptions, dependencies, decisions, change_requests,
    actions, benefits, milestones, projects, stakeholders, or the key of one of the workspace's
    own custom registers."""

    register: Key
    key: Key
    label: Name
    type: CustomFieldType
    choices: Choices | None = None
    required: bool = False
    help: Description = ""
    position: Position = 0


class CustomFieldUpdate(Patch):
    """A field's register, key and type are fixed once values exist; relabel or re-choose."""

    label: Name | UnsetType = UNSET
    choices: Choices | UnsetType | None = UNSET
    required: bool | UnsetType = UNSET
    help: Description | UnsetType = UNSET
    position: Position | UnsetType = UNSET


class CustomFieldRead(msgspec.Struct):
    id: uuid.UUID
    register: str
    key: str
    label: str
    type: CustomFieldType
    choices: list[str] | None
    required: bool
    help: str
    position: int
    source_pack: str | None
    source_version: SourceVersion
    source_item: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class LevelRead(msgspec.Struct):
    key: str
    label: str
    value: int | None
    description: str


class BandRead(msgspec.Struct):
    key: str
    label: str
    min_score: int
    max_score: int
    rag: Rag
    response: str


class RagRulesRead(msgspec.Struct):
    schedule_slip_green_max_weeks: float
    schedule_slip_amber_max_weeks: float
    cost_variance_green_max_pct: float
    cost_variance_amber_max_pct: float
    benefits_forecast_green_min_pct: float
    benefits_forecast_amber_min_pct: float
    override_requires_reason: bool
    path_to_green_for_amber: bool
    path_to_green_for_red: bool


class RegisterConfigurationRead(msgspec.Struct):
    """The scales, bands and RAG rules in force (the built-in 5×5 where the workspace has none)."""

    probability: list[LevelRead]
    impact: list[LevelRead]
    bands: list[BandRead]
    proximity: list[LevelRead]
    benefit_confidence: list[LevelRead]
    rag_rules: RagRulesRead
    risk_response_model: RiskResponseModel
