"""Workspace plane: the rest of what a template pack seeds — report formats and their sections,
custom registers and their entries, governance documents, checklists and their entries — and the
fields packs carry that had no column (programme level and vision, tranche capabilities, gate
outcomes and order, qualitative benefit baselines and targets, the order and provenance of a
benefit's enabling projects).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "custom_registers",
    "report_formats",
    "custom_register_entries",
    "programme_documents",
    "report_sections",
    "checklists",
    "checklist_entries",
)
COLUMNS = (
    ("benefit_enablers", "position"),
    ("benefit_enablers", "source_pack"),
    ("benefit_enablers", "source_version"),
    ("benefit_enablers", "source_item"),
    ("benefits", "baseline_text"),
    ("benefits", "target_text"),
    ("programmes", "level"),
    ("programmes", "vision"),
    ("stage_gates", "outcomes"),
    ("stage_gates", "position"),
    ("tranches", "capabilities"),
)


def upgrade() -> None:
    op.create_table(
        "custom_registers",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_custom_registers")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_custom_registers_tenant_id_key")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_custom_registers_tenant_id_source_pack_source_item"),
        "custom_registers",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "report_formats",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("cadence", sa.String(length=64), server_default="", nullable=False),
        sa.Column("audience", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "rag_dimensions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column("top_risks", sa.SmallInteger(), server_default="5", nullable=False),
        sa.Column("top_issues", sa.SmallInteger(), server_default="5", nullable=False),
        sa.Column("top_decisions", sa.SmallInteger(), server_default="5", nullable=False),
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_report_formats")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_report_formats_tenant_id_source_pack_source_item"),
        "report_formats",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "custom_register_entries",
        sa.Column("register_id", sa.Uuid(), nullable=False),
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
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "register_id"],
            ["workspace.custom_registers.tenant_id", "workspace.custom_registers.id"],
            name=op.f("fk_custom_register_entries_tenant_id_register_id_custom_registers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_custom_register_entries")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_custom_register_entries_tenant_id_register_id_position"),
        "custom_register_entries",
        ["tenant_id", "register_id", "position"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_custom_register_entries_tenant_id_source_pack_source_item"),
        "custom_register_entries",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "programme_documents",
        sa.Column("programme_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_role_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column(
            "sections", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "review_cadence",
            sa.Enum(
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
                name="review_cadence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("link", sa.String(length=2000), server_default="", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_role_id"],
            ["workspace.programme_roles.tenant_id", "workspace.programme_roles.id"],
            name=op.f("fk_programme_documents_tenant_id_owner_role_id_programme_roles"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_programme_documents_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_programme_documents")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_programme_documents_tenant_id_programme_id"),
        "programme_documents",
        ["tenant_id", "programme_id"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_programme_documents_tenant_id_source_pack_source_item"),
        "programme_documents",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "report_sections",
        sa.Column("format_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("guidance", sa.Text(), server_default="", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "format_id"],
            ["workspace.report_formats.tenant_id", "workspace.report_formats.id"],
            name=op.f("fk_report_sections_tenant_id_format_id_report_formats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_report_sections")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_report_sections_tenant_id_format_id_position"),
        "report_sections",
        ["tenant_id", "format_id", "position"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_report_sections_tenant_id_source_pack_source_item"),
        "report_sections",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "checklists",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("gate_id", sa.Uuid(), nullable=True),
        sa.Column("tranche_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "gate_id"],
            ["workspace.stage_gates.tenant_id", "workspace.stage_gates.id"],
            name=op.f("fk_checklists_tenant_id_gate_id_stage_gates"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_checklists_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tranche_id"],
            ["workspace.tranches.tenant_id", "workspace.tranches.id"],
            name=op.f("fk_checklists_tenant_id_tranche_id_tranches"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_checklists")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_checklists_tenant_id_programme_id"),
        "checklists",
        ["tenant_id", "programme_id"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_checklists_tenant_id_source_pack_source_item"),
        "checklists",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "checklist_entries",
        sa.Column("checklist_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_role_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("evidence", sa.Text(), server_default="", nullable=False),
        sa.Column("done", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "checklist_id"],
            ["workspace.checklists.tenant_id", "workspace.checklists.id"],
            name=op.f("fk_checklist_entries_tenant_id_checklist_id_checklists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_role_id"],
            ["workspace.programme_roles.tenant_id", "workspace.programme_roles.id"],
            name=op.f("fk_checklist_entries_tenant_id_owner_role_id_programme_roles"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_checklist_entries")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_checklist_entries_tenant_id_checklist_id_position"),
        "checklist_entries",
        ["tenant_id", "checklist_id", "position"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_checklist_entries_tenant_id_source_pack_source_item"),
        "checklist_entries",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.add_column(
        "benefit_enablers",
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        schema="workspace",
    )
    op.add_column(
        "benefit_enablers",
        sa.Column("source_pack", sa.String(length=63), nullable=True),
        schema="workspace",
    )
    op.add_column(
        "benefit_enablers",
        sa.Column("source_version", sa.String(length=32), nullable=True),
        schema="workspace",
    )
    op.add_column(
        "benefit_enablers",
        sa.Column("source_item", sa.String(length=200), nullable=True),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_benefit_enablers_tenant_id_source_pack_source_item"),
        "benefit_enablers",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.add_column(
        "benefits",
        sa.Column("baseline_text", sa.Text(), server_default="", nullable=False),
        schema="workspace",
    )
    op.add_column(
        "benefits",
        sa.Column("target_text", sa.Text(), server_default="", nullable=False),
        schema="workspace",
    )
    op.add_column(
        "programmes",
        sa.Column(
            "level",
            sa.Enum(
                "portfolio",
                "programme",
                "project",
                name="programmelevel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            server_default="programme",
            nullable=False,
        ),
        schema="workspace",
    )
    op.add_column(
        "programmes",
        sa.Column("vision", sa.Text(), server_default="", nullable=False),
        schema="workspace",
    )
    op.add_column(
        "stage_gates",
        sa.Column(
            "outcomes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text(
                '\'["go", "conditional_go", "hold", "stop", "recycle"]\'::jsonb'
            ),
            nullable=False,
        ),
        schema="workspace",
    )
    op.add_column(
        "stage_gates",
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        schema="workspace",
    )
    op.add_column(
        "tranches",
        sa.Column(
            "capabilities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        schema="workspace",
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    # Dropping a column drops the foreign keys and indexes on it.
    for table, column in reversed(COLUMNS):
        op.drop_column(table, column, schema="workspace")
    for table in reversed(TABLES):
        op.drop_table(table, schema="workspace")
