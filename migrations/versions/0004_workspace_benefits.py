"""Benefit profiles, enabling projects and append-only measurements.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("benefits", "benefit_enablers", "benefit_measurements")


def upgrade() -> None:
    op.create_table(
        "benefits",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("observable_outcome", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "classification",
            sa.Enum(
                "cash_releasing",
                "non_cash",
                "societal",
                name="benefitclassification",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "measure",
            sa.Enum(
                "quantitative",
                "qualitative",
                name="benefitmeasure",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("dis_benefit", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("objective", sa.Text(), server_default="", nullable=False),
        sa.Column("attribution_pct", sa.Float(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("realisation_lead_id", sa.Uuid(), nullable=True),
        sa.Column("indicator", sa.Text(), server_default="", nullable=False),
        sa.Column("unit", sa.String(length=63), server_default="", nullable=False),
        sa.Column("data_source", sa.Text(), server_default="", nullable=False),
        sa.Column("baseline_value", sa.Float(), nullable=True),
        sa.Column("baseline_date", sa.Date(), nullable=True),
        sa.Column("target_value", sa.Float(), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column("forecast_value", sa.Float(), nullable=True),
        sa.Column(
            "interim_targets",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("value_per_year", sa.Float(), nullable=True),
        sa.Column("realisation_cost", sa.Float(), nullable=True),
        sa.Column("confidence", sa.String(length=64), nullable=True),
        sa.Column("measurement_frequency", sa.String(length=32), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "identified",
                "validated",
                "planned",
                "realising",
                "realised",
                "not_realised",
                "withdrawn",
                name="benefitstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("source_item", sa.String(length=200), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "attribution_pct IS NULL OR (attribution_pct >= 0 AND attribution_pct <= 100)",
            name=op.f("ck_benefits_attribution"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_benefits_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_benefits")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_benefits_tenant_id_programme_id_state"),
        "benefits",
        ["tenant_id", "programme_id", "state"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_benefits_tenant_id_source_pack_source_item"),
        "benefits",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "benefit_enablers",
        sa.Column("benefit_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "benefit_id"],
            ["workspace.benefits.tenant_id", "workspace.benefits.id"],
            name=op.f("fk_benefit_enablers_tenant_id_benefit_id_benefits"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_benefit_enablers_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_benefit_enablers")),
        sa.UniqueConstraint(
            "tenant_id",
            "benefit_id",
            "project_id",
            name=op.f("uq_benefit_enablers_tenant_id_benefit_id_project_id"),
        ),
        schema="workspace",
    )
    op.create_table(
        "benefit_measurements",
        sa.Column("benefit_id", sa.Uuid(), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "benefit_id"],
            ["workspace.benefits.tenant_id", "workspace.benefits.id"],
            name=op.f("fk_benefit_measurements_tenant_id_benefit_id_benefits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_benefit_measurements")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_benefit_measurements_tenant_id_benefit_id_measured_on"),
        "benefit_measurements",
        ["tenant_id", "benefit_id", "measured_on"],
        unique=False,
        schema="workspace",
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("benefit_measurements", schema="workspace")
    op.drop_table("benefit_enablers", schema="workspace")
    op.drop_table("benefits", schema="workspace")
