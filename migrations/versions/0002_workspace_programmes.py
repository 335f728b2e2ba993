"""Workspace plane: row-level security scaffolding, programmes and idempotency records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.db import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "pmo_app"


def workspace_columns() -> list[sa.Column[object]]:
    """The columns every workspace table starts with (see WorkspaceModel)."""
    now = sa.text("now()")
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
    ]


def upgrade() -> None:
    op.execute("CREATE SCHEMA workspace")
    op.execute(f"GRANT USAGE ON SCHEMA workspace TO {APP_ROLE}")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA workspace "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(rls.CREATE_TENANT_IDS_FUNCTION)
    op.create_table(
        "programmes",
        *workspace_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "identifying",
                "defining",
                "delivering",
                "on_hold",
                "closing",
                "closed",
                name="programmestate",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name=op.f("ck_programmes_dates"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_programmes")),
        schema="workspace",
    )
    op.create_index(
        op.f("ix_programmes_tenant_id_created_at_id"),
        "programmes",
        ["tenant_id", "created_at", "id"],
        schema="workspace",
    )
    op.create_table(
        "idempotency_records",
        *workspace_columns(),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_idempotency_records_tenant_id_key")),
        schema="workspace",
    )
    for table in ("programmes", "idempotency_records"):
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("idempotency_records", schema="workspace")
    op.drop_table("programmes", schema="workspace")
    op.execute(rls.DROP_TENANT_IDS_FUNCTION)
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA workspace "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute("DROP SCHEMA workspace")
