"""Status reports: drafts, published snapshots, corrections.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("status_reports",)


def upgrade() -> None:
    op.create_table(
        "status_reports",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("revision", sa.SmallInteger(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "published",
                "superseded",
                name="reportstate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("achievements", sa.Text(), server_default="", nullable=False),
        sa.Column("next_period", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "overall_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="overall_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("overall_comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "schedule_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="schedule_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("schedule_comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "cost_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="cost_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("cost_comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "scope_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="scope_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("scope_comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "resources_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="resources_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("resources_comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "benefits_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="benefits_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("benefits_comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "risk_rag",
            sa.Enum(
                "green",
                "amber",
                "red",
                name="risk_rag",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("risk_comment", sa.Text(), server_default="", nullable=False),
        sa.Column("override_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("path_to_green", sa.Text(), server_default="", nullable=False),
        sa.Column("suggested", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_status_reports_period")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_status_reports_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_status_reports_tenant_id_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "supersedes_id"],
            ["workspace.status_reports.tenant_id", "workspace.status_reports.id"],
            name=op.f("fk_status_reports_tenant_id_supersedes_id_status_reports"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_status_reports")),
        sa.UniqueConstraint(
            "tenant_id",
            "programme_id",
            "project_id",
            "period_start",
            "revision",
            name=op.f("uq_status_reports_tenant_id_programme_id_project_id_period_start_revision"),
            postgresql_nulls_not_distinct=True,
        ),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_status_reports_tenant_id_programme_id_state_period_end"),
        "status_reports",
        ["tenant_id", "programme_id", "state", "period_end"],
        unique=False,
        schema="workspace",
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("status_reports", schema="workspace")
