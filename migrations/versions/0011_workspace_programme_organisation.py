"""Workspace plane: programme roles, the RACI matrix and stakeholders, and the role columns that
let template packs name roles where rows name people (risk, issue, assumption and benefit owners,
project leads, board seats, quorum roles), plus a board's standing agenda and an issue's board.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("programme_roles", "raci_entries", "stakeholders")
COLUMNS = (
    ("assumptions", "owner_role_id"),
    ("benefits", "owner_role_id"),
    ("benefits", "realisation_lead_role_id"),
    ("board_members", "role_id"),
    ("board_members", "position"),
    ("boards", "quorum_role_ids"),
    ("boards", "standing_agenda"),
    ("issues", "owner_role_id"),
    ("issues", "escalated_to_board_id"),
    ("projects", "lead_role_id"),
    ("risks", "owner_role_id"),
)


def upgrade() -> None:
    op.create_table(
        "programme_roles",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "responsibilities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
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
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_programme_roles")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_programme_roles_tenant_id_key")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_programme_roles_tenant_id_source_pack_source_item"),
        "programme_roles",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "raci_entries",
        sa.Column("programme_id", sa.Uuid(), nullable=True),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.Column("accountable_role_id", sa.Uuid(), nullable=False),
        sa.Column(
            "responsible_role_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
        sa.Column(
            "consulted_role_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
        sa.Column(
            "informed_role_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "accountable_role_id"],
            ["workspace.programme_roles.tenant_id", "workspace.programme_roles.id"],
            name=op.f("fk_raci_entries_tenant_id_accountable_role_id_programme_roles"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_raci_entries_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_raci_entries")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_raci_entries_tenant_id_programme_id_position"),
        "raci_entries",
        ["tenant_id", "programme_id", "position"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_raci_entries_tenant_id_source_pack_source_item"),
        "raci_entries",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.create_table(
        "stakeholders",
        sa.Column("programme_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interest_in_change", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "power",
            sa.Enum(
                "high", "low", name="power", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "interest",
            sa.Enum(
                "high", "low", name="interest", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("engagement", sa.Text(), server_default="", nullable=False),
        sa.Column("owner_role_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
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
            ["tenant_id", "owner_role_id"],
            ["workspace.programme_roles.tenant_id", "workspace.programme_roles.id"],
            name=op.f("fk_stakeholders_tenant_id_owner_role_id_programme_roles"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "programme_id"],
            ["workspace.programmes.tenant_id", "workspace.programmes.id"],
            name=op.f("fk_stakeholders_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_stakeholders")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_stakeholders_tenant_id_programme_id"),
        "stakeholders",
        ["tenant_id", "programme_id"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_stakeholders_tenant_id_source_pack_source_item"),
        "stakeholders",
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    op.add_column(
        "assumptions", sa.Column("owner_role_id", sa.Uuid(), nullable=True), schema="workspace"
    )
    op.create_foreign_key(
        op.f("fk_assumptions_tenant_id_owner_role_id_programme_roles"),
        "assumptions",
        "programme_roles",
        ["tenant_id", "owner_role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.add_column(
        "benefits", sa.Column("owner_role_id", sa.Uuid(), nullable=True), schema="workspace"
    )
    op.add_column(
        "benefits",
        sa.Column("realisation_lead_role_id", sa.Uuid(), nullable=True),
        schema="workspace",
    )
    op.create_foreign_key(
        op.f("fk_benefits_tenant_id_owner_role_id_programme_roles"),
        "benefits",
        "programme_roles",
        ["tenant_id", "owner_role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.create_foreign_key(
        op.f("fk_benefits_tenant_id_realisation_lead_role_id_programme_roles"),
        "benefits",
        "programme_roles",
        ["tenant_id", "realisation_lead_role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.add_column(
        "board_members", sa.Column("role_id", sa.Uuid(), nullable=True), schema="workspace"
    )
    op.add_column(
        "board_members",
        sa.Column("position", sa.SmallInteger(), server_default="0", nullable=False),
        schema="workspace",
    )
    op.create_foreign_key(
        op.f("fk_board_members_tenant_id_role_id_programme_roles"),
        "board_members",
        "programme_roles",
        ["tenant_id", "role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.add_column(
        "boards",
        sa.Column(
            "quorum_role_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
        schema="workspace",
    )
    op.add_column(
        "boards",
        sa.Column(
            "standing_agenda",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        schema="workspace",
    )
    op.add_column(
        "issues", sa.Column("owner_role_id", sa.Uuid(), nullable=True), schema="workspace"
    )
    op.add_column(
        "issues", sa.Column("escalated_to_board_id", sa.Uuid(), nullable=True), schema="workspace"
    )
    op.create_foreign_key(
        op.f("fk_issues_tenant_id_owner_role_id_programme_roles"),
        "issues",
        "programme_roles",
        ["tenant_id", "owner_role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.create_foreign_key(
        op.f("fk_issues_tenant_id_escalated_to_board_id_boards"),
        "issues",
        "boards",
        ["tenant_id", "escalated_to_board_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.add_column(
        "projects", sa.Column("lead_role_id", sa.Uuid(), nullable=True), schema="workspace"
    )
    op.create_foreign_key(
        op.f("fk_projects_tenant_id_lead_role_id_programme_roles"),
        "projects",
        "programme_roles",
        ["tenant_id", "lead_role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
    )
    op.add_column("risks", sa.Column("owner_role_id", sa.Uuid(), nullable=True), schema="workspace")
    op.create_foreign_key(
        op.f("fk_risks_tenant_id_owner_role_id_programme_roles"),
        "risks",
        "programme_roles",
        ["tenant_id", "owner_role_id"],
        ["tenant_id", "id"],
        source_schema="workspace",
        referent_schema="workspace",
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
