"""Workspace plane: a template pin records the pack's new items an applied upgrade held back
(`held_items`, item reference → the version that brought them), so the next upgrade plans them
as adds again instead of taking them for deleted by the client.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "template_pins",
        sa.Column(
            "held_items",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        schema="workspace",
    )


def downgrade() -> None:
    op.drop_column("template_pins", "held_items", schema="workspace")
