"""Rate-limit counts in the control database, shared by every API process.

Signups were limited by Litestar's in-memory store: each API process counted alone, so
``pmo serve --workers 4`` (or four replicas) let four times the limit through. One row per
bucket and client address, counted by one upsert (``services.rate_limit``). ``UNLOGGED``: the
counts are not worth a WAL write, and a crash only forgets the current window.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_windows")),
        schema="control",
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_limit_windows", schema="control")
