"""Provisioning runs and steps, and idempotency keys of creates outside any workspace.

Revision ID: 0020
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text_enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _id_and_created_at() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "idempotency_records",
        *_id_and_created_at(),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_records_scope_key")),
        schema="control",
    )
    op.create_table(
        "provisioning_runs",
        *_id_and_created_at(),
        sa.Column("kind", _text_enum("runkind", "provision", "deprovision"), nullable=False),
        sa.Column(
            "state",
            _text_enum("runstate", "queued", "running", "retrying", "succeeded", "failed"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_runs")),
        schema="control",
    )
    op.create_index(
        op.f("ix_provisioning_runs_state_created_at"),
        "provisioning_runs",
        ["state", "created_at"],
        schema="control",
    )
    # A signup's run reserves its slug until the tenant row exists.
    op.create_index(
        "uq_provisioning_runs_slug_provision",
        "provisioning_runs",
        ["slug"],
        unique=True,
        schema="control",
        postgresql_where=sa.text("kind = 'provision'"),
    )
    # One run per tenant at a time.
    op.create_index(
        "uq_provisioning_runs_tenant_id_active",
        "provisioning_runs",
        ["tenant_id"],
        unique=True,
        schema="control",
        postgresql_where=sa.text("state IN ('queued', 'running', 'retrying')"),
    )
    op.create_table(
        "provisioning_steps",
        *_id_and_created_at(),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column(
            "state",
            _text_enum("stepstate", "pending", "running", "succeeded", "failed"),
            nullable=False,
        ),
        sa.Column("attempts", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["control.provisioning_runs.id"],
            name=op.f("fk_provisioning_steps_run_id_provisioning_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_steps")),
        sa.UniqueConstraint("run_id", "name", name=op.f("uq_provisioning_steps_run_id_name")),
        sa.UniqueConstraint(
            "run_id", "position", name=op.f("uq_provisioning_steps_run_id_position")
        ),
        schema="control",
    )


def downgrade() -> None:
    op.drop_table("provisioning_steps", schema="control")
    op.drop_table("provisioning_runs", schema="control")
    op.drop_table("idempotency_records", schema="control")
