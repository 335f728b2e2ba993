"""RAID registers: risks, issues, assumptions, dependencies.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("risks", "issues", "assumptions", "dependencies")


def upgrade() -> None:
    op.create_table(
        "risks",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "threat",
                "opportunity",
                name="riskkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("cause", sa.Text(), server_default="", nullable=False),
        sa.Column("event", sa.Text(), server_default="", nullable=False),
        sa.Column("effect", sa.Text(), server_default="", nullable=False),
        sa.Column("inherent_probability", sa.SmallInteger(), nullable=False),
        sa.Column("inherent_impact", sa.SmallInteger(), nullable=False),
        sa.Column("inherent_score", sa.SmallInteger(), nullable=False),
        sa.Column("residual_probability", sa.SmallInteger(), nullable=False),
        sa.Column("residual_impact", sa.SmallInteger(), nullable=False),
        sa.Column("residual_score", sa.SmallInteger(), nullable=False),
        sa.Column("proximity", sa.String(length=64), nullable=True),
        sa.Column(
            "response",
            sa.Enum(
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
                name="riskresponse",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("response_plan", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("actionee_id", sa.Uuid(), nullable=True),
        sa.Column("trigger", sa.Text(), server_default="", nullable=False),
        sa.Column("next_review_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                name="riskstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "trend",
            sa.Enum(
                "new",
                "improving",
                "stable",
                "worsening",
                name="risktrend",
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
        sa.CheckConstraint(
            "inherent_probability >= 1 AND inherent_impact >= 1 "
            "AND residual_probability >= 1 AND residual_impact >= 1",
            name=op.f("ck_risks_scores_positive"),
        ),
        sa.CheckConstraint(
            "inherent_score = inherent_probability * inherent_impact "
            "AND residual_score = residual_probability * residual_impact",
            name=op.f("ck_risks_scores_are_products"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_risks_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_risks_tenant_id_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_risks")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_risks_tenant_id_programme_id_residual_score"),
        "risks",
        ["tenant_id", "programme_id", "residual_score"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_risks_tenant_id_source_pack_source_item"),
        "risks",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "issues",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "problem",
                "change_request",
                "off_specification",
                "concern",
                name="issuetype",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum(
                "high",
                "medium",
                "low",
                name="priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("raised_on", sa.Date(), nullable=True),
        sa.Column("target_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "in_progress",
                "resolved",
                "closed",
                name="issuestatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("escalated_to", sa.String(length=200), server_default="", nullable=False),
        sa.Column("resolution", sa.Text(), server_default="", nullable=False),
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
        sa.CheckConstraint("severity BETWEEN 1 AND 4", name=op.f("ck_issues_severity")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_issues_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_issues_tenant_id_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_issues")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_issues_tenant_id_programme_id_status"),
        "issues",
        ["tenant_id", "programme_id", "status"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_issues_tenant_id_source_pack_source_item"),
        "issues",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "assumptions",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column(
            "confidence",
            sa.Enum(
                "high",
                "medium",
                "low",
                name="confidence",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("validate_by", sa.Date(), nullable=True),
        sa.Column("validation_method", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "unvalidated",
                "validated",
                "invalid",
                "closed",
                name="assumptionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("risk_id", sa.Uuid(), nullable=True),
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
            name=op.f("fk_assumptions_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_assumptions_tenant_id_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "risk_id"],
            ["workspace.risks.tenant_id", "workspace.risks.id"],
            name=op.f("fk_assumptions_tenant_id_risk_id_risks"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_assumptions")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_assumptions_tenant_id_programme_id_status"),
        "assumptions",
        ["tenant_id", "programme_id", "status"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_assumptions_tenant_id_source_pack_source_item"),
        "assumptions",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "dependencies",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "internal",
                "external",
                name="dependencykind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("from_project_id", sa.Uuid(), nullable=True),
        sa.Column("from_milestone_id", sa.Uuid(), nullable=True),
        sa.Column("to_project_id", sa.Uuid(), nullable=True),
        sa.Column("to_milestone_id", sa.Uuid(), nullable=True),
        sa.Column("external_party", sa.String(length=200), server_default="", nullable=False),
        sa.Column("need_by_date", sa.Date(), nullable=True),
        sa.Column("committed_date", sa.Date(), nullable=True),
        sa.Column("from_owner_id", sa.Uuid(), nullable=True),
        sa.Column("to_owner_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "agreed",
                "delivered",
                "cancelled",
                name="dependencystatus",
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
            ["tenant_id", "from_milestone_id"],
            ["workspace.milestones.tenant_id", "workspace.milestones.id"],
            name=op.f("fk_dependencies_tenant_id_from_milestone_id_milestones"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "from_project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_dependencies_tenant_id_from_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_dependencies_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "to_milestone_id"],
            ["workspace.milestones.tenant_id", "workspace.milestones.id"],
            name=op.f("fk_dependencies_tenant_id_to_milestone_id_milestones"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "to_project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_dependencies_tenant_id_to_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_dependencies")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_dependencies_tenant_id_programme_id_need_by_date"),
        "dependencies",
        ["tenant_id", "programme_id", "need_by_date"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_dependencies_tenant_id_source_pack_source_item"),
        "dependencies",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("dependencies", schema="workspace")
    op.drop_table("assumptions", schema="workspace")
    op.drop_table("issues", schema="workspace")
    op.drop_table("risks", schema="workspace")
