"""Stage gates, their criteria and reviews.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.db import rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("stage_gates", "gate_criteria", "stage_gate_reviews")


def upgrade() -> None:
    op.create_table(
        "stage_gates",
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("tranche_id", sa.Uuid(), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column(
            "boundary",
            sa.Enum(
                "entry",
                "exit",
                name="gateboundary",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("board_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "in_review",
                "decided",
                name="gatestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "recommendation",
            sa.Enum(
                "go",
                "conditional_go",
                "hold",
                "stop",
                "recycle",
                name="recommendation",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("recommendation_note", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "go",
                "conditional_go",
                "hold",
                "stop",
                "recycle",
                name="gatedecision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("conditions", sa.Text(), server_default="", nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
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
            ["tenant_id", "board_id"],
            ["workspace.boards.tenant_id", "workspace.boards.id"],
            name=op.f("fk_stage_gates_tenant_id_board_id_boards"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_stage_gates_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_stage_gates_tenant_id_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "tranche_id"],
            ["workspace.tranches.tenant_id", "workspace.tranches.id"],
            name=op.f("fk_stage_gates_tenant_id_tranche_id_tranches"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stage_gates")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_stage_gates_tenant_id_programme_id_planned_date"),
        "stage_gates",
        ["tenant_id", "programme_id", "planned_date"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_stage_gates_tenant_id_source_pack_source_item"),
        "stage_gates",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_stage_gates_tenant_id_tranche_id"),
        "stage_gates",
        ["tenant_id", "tranche_id"],
        unique=False,
        schema="workspace",
    )
    op.create_table(
        "gate_criteria",
        sa.Column("gate_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("evidence_required", sa.Text(), server_default="", nullable=False),
        sa.Column("mandatory", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "not_assessed",
                "met",
                "not_met",
                name="criterionstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("evidence_link", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("assessed_by", sa.Uuid(), nullable=True),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
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
            name=op.f("fk_gate_criteria_tenant_id_gate_id_stage_gates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_gate_criteria")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_gate_criteria_tenant_id_gate_id_position"),
        "gate_criteria",
        ["tenant_id", "gate_id", "position"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_gate_criteria_tenant_id_source_pack_source_item"),
        "gate_criteria",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "stage_gate_reviews",
        sa.Column("gate_id", sa.Uuid(), nullable=False),
        sa.Column(
            "recommendation",
            sa.Enum(
                "go",
                "conditional_go",
                "hold",
                "stop",
                "recycle",
                name="recommendation",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "decision",
            sa.Enum(
                "go",
                "conditional_go",
                "hold",
                "stop",
                "recycle",
                name="gatedecision",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("conditions", sa.Text(), server_default="", nullable=False),
        sa.Column("decided_by_id", sa.Uuid(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("criteria_met", sa.SmallInteger(), nullable=False),
        sa.Column("criteria_total", sa.SmallInteger(), nullable=False),
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
            ["tenant_id", "gate_id"],
            ["workspace.stage_gates.tenant_id", "workspace.stage_gates.id"],
            name=op.f("fk_stage_gate_reviews_tenant_id_gate_id_stage_gates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stage_gate_reviews")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_stage_gate_reviews_tenant_id_gate_id_decided_on"),
        "stage_gate_reviews",
        ["tenant_id", "gate_id", "decided_on"],
        unique=False,
        schema="workspace",
    )
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("stage_gate_reviews", schema="workspace")
    op.drop_table("gate_criteria", schema="workspace")
    op.drop_table("stage_gates", schema="workspace")
