"""Workspace plane: the lessons log — what a programme (or one of its projects) learned, what
went well or should be done differently, the recommendation, who raised it and when, and how far
it has been acted on. Lessons take custom fields (template packs define some) and go with their
programme; a project with lessons is kept until they are moved or deleted.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "lessons"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("what_happened", sa.Text(), server_default="", nullable=False),
        sa.Column("recommendation", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "positive",
                "negative",
                name="lessonkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("raised_by_id", sa.Uuid(), nullable=True),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("owner_role_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "identified",
                "actioned",
                "closed",
                name="lessonstate",
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
            name=op.f("fk_lessons_tenant_id_programme_id_programmes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["workspace.projects.tenant_id", "workspace.projects.id"],
            name=op.f("fk_lessons_tenant_id_project_id_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_role_id"],
            ["workspace.programme_roles.tenant_id", "workspace.programme_roles.id"],
            name=op.f("fk_lessons_tenant_id_owner_role_id_programme_roles"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_lessons")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_lessons_tenant_id_programme_id_raised_on"),
        TABLE,
        ["tenant_id", "programme_id", "raised_on"],
        unique=False,
        schema="workspace",
    )
    op.create_index(
        op.f("ix_lessons_tenant_id_source_pack_source_item"),
        TABLE,
        ["tenant_id", "source_pack", "source_item"],
        unique=True,
        schema="workspace",
        postgresql_where=sa.text("source_item IS NOT NULL"),
    )
    for statement in rls.enable_statements(TABLE):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table(TABLE, schema="workspace")
