"""Benefit profiles, the projects that enable them, and their append-only measurements."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from services.db.base import WorkspaceModel, utcnow, workspace_foreign_key
from services.db.types import text_enum
from services.workspace import money
from services.workspace.models import CarriesCustomFields, SeededFromPack, seeded_item_index


class BenefitClassification(enum.StrEnum):
    CASH_RELEASING = "cash_releasing"
    NON_CASH = "non_cash"
    SOCIETAL = "societal"


class BenefitMeasure(enum.StrEnum):
    QUANTITATIVE = "quantitative"
    QUALITATIVE = "qualitative"


class BenefitState(enum.StrEnum):
    """identified → validated → planned → realising → realised | not_realised | withdrawn."""

    IDENTIFIED = "identified"
    VALIDATED = "validated"
    PLANNED = "planned"
    REALISING = "realising"
    REALISED = "realised"
    NOT_REALISED = "not_realised"
    WITHDRAWN = "withdrawn"


class Benefit(WorkspaceModel, SeededFromPack, CarriesCustomFields):
    """A benefit profile (MSP): a measurable improvement, or a dis-benefit, owned by the business.

    Realisation % = (latest measurement − baseline) / (target − baseline).
    """

    __tablename__ = "benefits"
    __workspace_table_args__ = (
        workspace_foreign_key(["programme_id"], "programmes", ondelete="CASCADE"),
        workspace_foreign_key(["owner_role_id"], "programme_roles"),
        workspace_foreign_key(["realisation_lead_role_id"], "programme_roles"),
        CheckConstraint(
            "attribution_pct IS NULL OR (attribution_pct >= 0 AND attribution_pct <= 100)",
            "attribution",
        ),
        CheckConstraint("realisation_cost >= 0", "realisation_cost_not_negative"),
        Index(None, "tenant_id", "programme_id", "state"),
        seeded_item_index(),
    )

    programme_id: Mapped[uuid.UUID]
    reference: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    observable_outcome: Mapped[str] = mapped_column(Text, default="", server_default="")
    classification: Mapped[BenefitClassification] = mapped_column(text_enum(BenefitClassification))
    measure: Mapped[BenefitMeasure] = mapped_column(
        text_enum(BenefitMeasure), default=BenefitMeasure.QUANTITATIVE
    )
    dis_benefit: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    objective: Mapped[str] = mapped_column(Text, default="", server_default="")
    attribution_pct: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[uuid.UUID | None]
    realisation_lead_id: Mapped[uuid.UUID | None]
    # The roles a template names for owner and realisation lead (the people come later).
    owner_role_id: Mapped[uuid.UUID | None]
    realisation_lead_role_id: Mapped[uuid.UUID | None]
    indicator: Mapped[str] = mapped_column(Text, default="", server_default="")
    unit: Mapped[str] = mapped_column(String(63), default="", server_default="")
    data_source: Mapped[str] = mapped_column(Text, default="", server_default="")
    baseline_value: Mapped[float | None] = mapped_column(Float)
    # A qualitative benefit states its baseline and target in words instead.
    baseline_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    baseline_date: Mapped[date | None]
    target_value: Mapped[float | None] = mapped_column(Float)
    target_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    target_date: Mapped[date | None]
    # The owner's current expectation of the value at target_date (drives the benefits RAG).
    forecast_value: Mapped[float | None] = mapped_column(Float)
    # [{"date": "2027-06-30", "value": 12.5}, …] in date order.
    interim_targets: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    # Money (a dis-benefit's value may be negative); baselines, targets and measurements are
    # measures of the indicator, not money.
    value_per_year: Mapped[Decimal | None] = mapped_column(money.MONEY)
    realisation_cost: Mapped[Decimal | None] = mapped_column(money.MONEY)
    confidence: Mapped[str | None] = mapped_column(String(64))
    measurement_frequency: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[BenefitState] = mapped_column(
        text_enum(BenefitState), default=BenefitState.IDENTIFIED
    )
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    @validates("value_per_year", "realisation_cost")
    def _exact(self, field: str, value: float | Decimal | None) -> Decimal | None:
        return money.exact(field, value)


class BenefitEnabler(WorkspaceModel, SeededFromPack):
    """A project whose outputs enable a benefit (``position``: the order they are listed in)."""

    __tablename__ = "benefit_enablers"
    __workspace_table_args__ = (
        workspace_foreign_key(["benefit_id"], "benefits", ondelete="CASCADE"),
        workspace_foreign_key(["project_id"], "projects", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "benefit_id", "project_id"),
        seeded_item_index(),
    )

    benefit_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


class BenefitMeasurement(WorkspaceModel):
    """One observation of a benefit's indicator. Append-only: corrections are new measurements."""

    __tablename__ = "benefit_measurements"
    __workspace_table_args__ = (
        # No cascade: a measured benefit is kept; a programme's deletion removes the series first.
        workspace_foreign_key(["benefit_id"], "benefits"),
        Index(None, "tenant_id", "benefit_id", "measured_on"),
    )

    benefit_id: Mapped[uuid.UUID]
    measured_on: Mapped[date]
    value: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
