"""Workspace plane: a template pin records the last upgrade applied to it (``last_upgrade``:
who applied it, when, from which version to which, and the conflicts it left to the client).
Those conflicts are settled on apply, so a later dry run no longer shows them: the pin keeps
the list the client has to resolve by hand.

Existing pins have no record (NULL) until their next upgrade.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "template_pins",
        sa.Column("last_upgrade", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="workspace",
    )


def downgrade() -> None:
    op.drop_column("template_pins", "last_upgrade", schema="workspace")
