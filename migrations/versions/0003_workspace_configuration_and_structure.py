"""Register configuration (scales, risk bands, RAG rules, custom field definitions) and the
programme structure: tranches, projects, milestones; programmes gain money and provenance.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "scale_levels",
    "risk_bands",
    "register_settings",
    "custom_field_definitions",
    "tranches",
    "projects",
    "milestones",
)


def upgrade() -> None:
    op.create_table(
        "scale_levels",
        sa.Column(
            "scale",
            sa.Enum(
                "probability",
                "impact",
                "proximity",
                "benefit_confidence",
                name="scalekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_scale_levels")),
        sa.UniqueConstraint(
            "tenant_id", "scale", "key", name=op.f("uq_scale_levels_tenant_id_scale_key")
        ),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_scale_levels_tenant_id_source_pack_source_item"),
        "scale_levels",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "risk_bands",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("min_score", sa.SmallInteger(), nullable=False),
        sa.Column("max_score", sa.SmallInteger(), nullable=False),
        sa.Column(
            "rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("response", sa.Text(), server_default="", nullable=False),
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
        sa.CheckConstraint(
            "min_score >= 1 AND max_score >= min_score", name=op.f("ck_risk_bands_score_range")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_risk_bands")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_risk_bands_tenant_id_key")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_risk_bands_tenant_id_source_pack_source_item"),
        "risk_bands",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "register_settings",
        sa.Column("schedule_slip_green_max_weeks", sa.Float(), nullable=False),
        sa.Column("schedule_slip_amber_max_weeks", sa.Float(), nullable=False),
        sa.Column("cost_variance_green_max_pct", sa.Float(), nullable=False),
        sa.Column("cost_variance_amber_max_pct", sa.Float(), nullable=False),
        sa.Column("benefits_forecast_green_min_pct", sa.Float(), nullable=False),
        sa.Column("benefits_forecast_amber_min_pct", sa.Float(), nullable=False),
        sa.Column("override_requires_reason", sa.Boolean(), nullable=False),
        sa.Column("path_to_green_for_amber", sa.Boolean(), nullable=False),
        sa.Column("path_to_green_for_red", sa.Boolean(), nullable=False),
        sa.Column(
            "risk_response_model",
            sa.Enum(
                "standard",
                "roam",
                name="riskresponsemodel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_register_settings")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_register_settings_tenant_id")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_register_settings_tenant_id_source_pack_source_item"),
        "register_settings",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "custom_field_definitions",
        sa.Column("register", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "text",
                "number",
                "date",
                "choice",
                name="customfieldtype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("required", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("help", sa.Text(), server_default="", nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint(
            "tenant_id",
            "register",
            "key",
            name=op.f("uq_custom_field_definitions_tenant_id_register_key"),
        ),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_custom_field_definitions_tenant_id_source_pack_source_item"),
        "custom_field_definitions",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.add_column("programmes", sa.Column("budget", sa.Float(), nullable=True), schema="workspace")
    op.add_column(
        "programmes", sa.Column("forecast_cost", sa.Float(), nullable=True), schema="workspace"
    )
    op.add_column(
        "programmes",
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        schema="workspace",
    )
    op.add_column(
        "programmes",
        sa.Column("source_version", sa.String(length=32), nullable=True),
        schema="workspace",
    )
    op.add_column(
        "programmes",
        sa.Column("source_item", sa.String(length=200), nullable=True),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_programmes_tenant_id_source_pack_source_item"),
        "programmes",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )

    op.create_table(
        "tranches",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "started",
                "closed",
                name="tranchestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
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
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_tranches_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_tranches_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_tranches")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_tranches_tenant_id_programme_id_position"),
        "tranches",
        ["tenant_id", "programme_id", "position"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_tranches_tenant_id_source_pack_source_item"),
        "tranches",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "projects",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("tranche_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "project",
                "workstream",
                name="projectkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "approach",
            sa.Enum(
                "waterfall",
                "agile",
                "hybrid",
                "business_change",
                name="projectapproach",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "proposed",
                "active",
                "on_hold",
                "closed",
                "cancelled",
                name="projectstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("budget", sa.Float(), nullable=True),
        sa.Column("forecast_cost", sa.Float(), nullable=True),
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
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_projects_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_projects_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tranche_id"],
            ["workspace.tranches.tenant_id", "workspace.tranches.id"],
            name=op.f("fk_projects_tenant_id_tranche_id_tranches"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_projects")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_projects_tenant_id_programme_id_created_at"),
        "projects",
        ["tenant_id", "programme_id", "created_at"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_projects_tenant_id_source_pack_source_item"),
        "projects",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "milestones",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("tranche_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "delivery",
                "decision",
                "benefit",
                "regulatory",
                "integration",
                "review",
                name="milestonekind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("baseline_date", sa.Date(), nullable=True),
        sa.Column("forecast_date", sa.Date(), nullable=True),
        sa.Column("actual_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "achieved",
                "missed",
                "cancelled",
                name="milestonestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_milestones_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_milestones_tenant_id_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tranche_id"],
            ["workspace.tranches.tenant_id", "workspace.tranches.id"],
            name=op.f("fk_milestones_tenant_id_tranche_id_tranches"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_milestones")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_milestones_tenant_id_programme_id_forecast_date"),
        "milestones",
        ["tenant_id", "programme_id", "forecast_date"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_milestones_tenant_id_source_pack_source_item"),
        "milestones",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("milestones", schema="workspace")
    op.drop_table("projects", schema="workspace")
    op.drop_table("tranches", schema="workspace")
    op.drop_index(
        op.f("ix_programmes_tenant_id_source_pack_source_item"),
        table_name="programmes",
        schema="workspace",
    )
    op.drop_column("programmes", "source_item", schema="workspace")
    op.drop_column("programmes", "source_version", schema="workspace")
    op.drop_column("programmes", "source_pack", schema="workspace")
    op.drop_column("programmes", "forecast_cost", schema="workspace")
    op.drop_column("programmes", "budget", schema="workspace")
    op.drop_table("custom_field_definitions", schema="workspace")
    op.drop_table("register_settings", schema="workspace")
    op.drop_table("risk_bands", schema="workspace")
    op.drop_table("scale_levels", schema="workspace")
