"""Workspace plane: a superseded decision names the decision that replaced it
(``decisions.superseded_by_id``, another decision of the workspace). Only a superseded decision
names one, and never itself. No cascade: the replacing decision is kept while it is named.

Existing superseded decisions keep no replacement (NULL); the API asks for one when a decision
is next marked superseded.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "workspace"
TABLE = "decisions"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("superseded_by_id", sa.Uuid(), nullable=True), schema=SCHEMA)
    op.create_foreign_key(
        op.f("fk_decisions_tenant_id_superseded_by_id_decisions"),
        TABLE,
        TABLE,
        ["tenant_id", "superseded_by_id"],
        ["tenant_id", "id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_decisions_superseded_by_another"),
        TABLE,
        "superseded_by_id IS NULL OR (status = 'superseded' AND superseded_by_id <> id)",
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_decisions_superseded_by_another"), TABLE, type_="check", schema=SCHEMA
    )
    op.drop_constraint(
        op.f("fk_decisions_tenant_id_superseded_by_id_decisions"),
        TABLE,
        type_="foreignkey",
        schema=SCHEMA,
    )
    op.drop_column(TABLE, "superseded_by_id", schema=SCHEMA)
