"""Control plane: cells, tenants, users, memberships and API tokens; roles' privileges.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "pmo_app"


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _text_enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.execute("CREATE SCHEMA control")
    op.execute(f"GRANT USAGE ON SCHEMA control TO {APP_ROLE}")
    # Readiness checks that the database is at the code's head revision.
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    # Tables made by later migrations are usable by the application role without extra grants;
    # append-only tables revoke UPDATE and DELETE explicitly.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA control "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.create_table(
        "cells",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("region", sa.String(63), nullable=True),
        sa.Column("database_url", sa.String(500), nullable=False),
        sa.Column("accepts_tenants", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("dedicated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cells")),
        schema="control",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column(
            "staff_role", _text_enum("staffrole", "expert", "account_manager", "platform_admin")
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        schema="control",
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "state",
            _text_enum(
                "tenantstate",
                "provisioning",
                "active",
                "suspended",
                "offboarding",
                "deleted",
                "failed",
            ),
            nullable=False,
        ),
        sa.Column("cell", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "state_changed_at",
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
        _created_at(),
        sa.ForeignKeyConstraint(
            ["cell"], ["control.cells.name"], name=op.f("fk_tenants_cell_cells")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
        schema="control",
    )
    op.create_index(op.f("ix_tenants_state"), "tenants", ["state"], schema="control")
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("role", _text_enum("role", "viewer", "member", "admin", "owner"), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["control.tenants.id"],
            name=op.f("fk_memberships_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["control.users.id"],
            name=op.f("fk_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_memberships_tenant_id_user_id")),
        schema="control",
    )
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"], schema="control")
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(16)), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["control.tenants.id"],
            name=op.f("fk_api_tokens_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["control.users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_tokens_secret_hash")),
        schema="control",
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], schema="control")


def downgrade() -> None:
    op.drop_table("api_tokens", schema="control")
    op.drop_table("memberships", schema="control")
    op.drop_table("tenants", schema="control")
    op.drop_table("users", schema="control")
    op.drop_table("cells", schema="control")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA control "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute("DROP SCHEMA control")
