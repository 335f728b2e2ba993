"""Records the product keeps are no longer taken by a cascade: a project's status reports, a
change request's re-baseline lines and a benefit's measurements.

Their foreign keys to ``projects``, ``milestones`` and ``benefits`` were ``ON DELETE CASCADE``, so
deleting a project took its published (frozen) reports with it, deleting a milestone erased an
approved change's record of the baseline it moved, and deleting a benefit took its append-only
measurements. They become ``NO ACTION``: such a delete fails unless the rows that keep the parent
go in the same statement. NO ACTION rather than RESTRICT because it is checked at the end of the
statement: deleting a programme, which cascades to its projects and their reports (and to its
change requests and their lines) in one statement, still passes. Benefits' measurements do not
hang off the programme directly, so the programme's deletion removes them first (the service).

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "workspace"
# (table, column, referred table)
KEPT = (
    ("status_reports", "project_id", "projects"),
    ("milestone_rebaselines", "milestone_id", "milestones"),
    ("benefit_measurements", "benefit_id", "benefits"),
)


def _recreate(ondelete: str | None) -> None:
    for table, column, referred in KEPT:
        name = op.f(f"fk_{table}_tenant_id_{column}_{referred}")
        op.drop_constraint(name, table, type_="foreignkey", schema=SCHEMA)
        op.create_foreign_key(
            name,
            table,
            referred,
            ["tenant_id", column],
            ["tenant_id", "id"],
            source_schema=SCHEMA,
            referent_schema=SCHEMA,
            ondelete=ondelete,
        )


def upgrade() -> None:
    _recreate(None)


def downgrade() -> None:
    _recreate("CASCADE")
