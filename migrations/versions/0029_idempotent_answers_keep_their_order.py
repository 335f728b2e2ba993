"""A stored idempotent answer is kept as written (``json``, not ``jsonb``), so a replay is the
same answer down to the order of its keys: ``jsonb`` re-orders an object's keys (shorter
first), and a replayed upgrade plan listed its counts in another order than the first answer.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (("control", "idempotency_records"), ("workspace", "idempotency_records"))


def upgrade() -> None:
    for schema, table in TABLES:
        op.alter_column(
            table,
            "response_body",
            type_=postgresql.JSON(astext_type=sa.Text()),
            existing_type=postgresql.JSONB(astext_type=sa.Text()),
            postgresql_using="response_body::json",
            schema=schema,
        )


def downgrade() -> None:
    for schema, table in TABLES:
        op.alter_column(
            table,
            "response_body",
            type_=postgresql.JSONB(astext_type=sa.Text()),
            existing_type=postgresql.JSON(astext_type=sa.Text()),
            postgresql_using="response_body::jsonb",
            schema=schema,
        )
