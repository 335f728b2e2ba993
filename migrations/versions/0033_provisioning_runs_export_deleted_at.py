"""Control plane: a provisioning run records when its offboarding's export was deleted from S3
(``export_deleted_at``): after the retention period (``PMO_EXPORT_RETENTION_DAYS``), or once the
offboarding was cancelled. Null: the export is still kept (or the run made none).

Downgrading drops the record; the exports it names are gone from S3 either way.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "control"
TABLE = "provisioning_runs"


def upgrade() -> None:
    op.add_column(
        TABLE,
        sa.Column("export_deleted_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column(TABLE, "export_deleted_at", schema=SCHEMA)
