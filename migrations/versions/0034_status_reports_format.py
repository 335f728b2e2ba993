"""Workspace plane: a status report may follow one of the workspace's report formats
(``status_reports.format_id``): the format's RAG dimensions are required to publish it, its
top-N counts size the published snapshot and its sections show on the report.

No cascade: a format that a report (draft or published) names is not deleted; a template
upgrade removing it holds it back, as it does any seeded row the client's data still names.
Existing reports follow no format (NULL) and behave as before.

Downgrading drops the link; the reports themselves are kept.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "workspace"
TABLE = "status_reports"
FOREIGN_KEY = "fk_status_reports_tenant_id_format_id_report_formats"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("format_id", sa.Uuid(), nullable=True), schema=SCHEMA)
    op.create_foreign_key(
        op.f(FOREIGN_KEY),
        TABLE,
        "report_formats",
        ["tenant_id", "format_id"],
        ["tenant_id", "id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint(op.f(FOREIGN_KEY), TABLE, type_="foreignkey", schema=SCHEMA)
    op.drop_column(TABLE, "format_id", schema=SCHEMA)
