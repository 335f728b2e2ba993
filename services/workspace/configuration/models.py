"""A workspace's register configuration: scales, risk bands, RAG rules, custom field definitions.

Template packs seed these rows; a workspace without them uses the built-in 5×5 defaults
(:mod:`services.workspace.configuration.rules`).
"""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, CheckConstraint, Float, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.db.base import WorkspaceModel
from services.db.types import text_enum
from services.workspace.models import Rag, SeededFromPack, seeded_item_index


class ScaleKind(enum.StrEnum):
    PROBABILITY = "probability"
    IMPACT = "impact"
    PROXIMITY = "proximity"
    BENEFIT_CONFIDENCE = "benefit_confidence"


class RiskResponseModel(enum.StrEnum):
    """Standard threat / opportunity responses, or agile ROAM."""

    STANDARD = "standard"
    ROAM = "roam"


class CustomFieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


class ScaleLevel(WorkspaceModel, SeededFromPack):
    """One level of a scale: probability 1..5, impact 1..5, a proximity or a confidence."""

    __tablename__ = "scale_levels"
    __workspace_table_args__ = (
        UniqueConstraint("tenant_id", "scale", "key"),
        seeded_item_index(),
    )

    scale: Mapped[ScaleKind] = mapped_column(text_enum(ScaleKind))
    # Probability and impact levels are numbered (their key is the number as text).
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[int | None] = mapped_column(SmallInteger)
    label: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class RiskBand(WorkspaceModel, SeededFromPack):
    """Scores ``min_score..max_score`` (probability × impact, inclusive) and what they demand."""

    __tablename__ = "risk_bands"
    __workspace_table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("min_score >= 1 AND max_score >= min_score", "score_range"),
        seeded_item_index(),
    )

    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    min_score: Mapped[int] = mapped_column(SmallInteger)
    max_score: Mapped[int] = mapped_column(SmallInteger)
    rag: Mapped[Rag] = mapped_column(text_enum(Rag))
    response: Mapped[str] = mapped_column(Text, default="", server_default="")


class RegisterSettings(WorkspaceModel, SeededFromPack):
    """The workspace's RAG rules and risk response model: at most one row per workspace."""

    __tablename__ = "register_settings"
    __workspace_table_args__ = (UniqueConstraint("tenant_id"), seeded_item_index())

    schedule_slip_green_max_weeks: Mapped[float] = mapped_column(Float)
    schedule_slip_amber_max_weeks: Mapped[float] = mapped_column(Float)
    cost_variance_green_max_pct: Mapped[float] = mapped_column(Float)
    cost_variance_amber_max_pct: Mapped[float] = mapped_column(Float)
    benefits_forecast_green_min_pct: Mapped[float] = mapped_column(Float)
    benefits_forecast_amber_min_pct: Mapped[float] = mapped_column(Float)
    override_requires_reason: Mapped[bool] = mapped_column(Boolean)
    path_to_green_for_amber: Mapped[bool] = mapped_column(Boolean)
    path_to_green_for_red: Mapped[bool] = mapped_column(Boolean)
    risk_response_model: Mapped[RiskResponseModel] = mapped_column(
        text_enum(RiskResponseModel), default=RiskResponseModel.STANDARD
    )


class CustomFieldDefinition(WorkspaceModel, SeededFromPack):
    """An extra typed field on a register (``risks``, ``benefits`` …), defined per workspace."""

    __tablename__ = "custom_field_definitions"
    __workspace_table_args__ = (
        UniqueConstraint("tenant_id", "register", "key"),
        seeded_item_index(),
    )

    register: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[CustomFieldType] = mapped_column(text_enum(CustomFieldType))
    choices: Mapped[list[str] | None] = mapped_column(JSONB)
    required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    help: Mapped[str] = mapped_column(Text, default="", server_default="")
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
