"""Benefit measurements are append-only in the database too: the app role cannot UPDATE them.

DELETE stays granted: removing a benefit (cascade) and offboarding's purge remove its series.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("REVOKE UPDATE ON workspace.benefit_measurements FROM pmo_app")


def downgrade() -> None:
    op.execute("GRANT UPDATE ON workspace.benefit_measurements TO pmo_app")
