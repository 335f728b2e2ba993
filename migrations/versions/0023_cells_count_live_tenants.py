"""Each cell counts its live tenants, kept by a trigger, so placement reads one row per cell.

Placement picked the least-loaded cell by counting every tenant of every cell on each signup:
fine at hundreds of tenants, ~18 ms at 100,000 (bench/README.md). The count now lives on the
cell, changed in the same transaction as the tenant row whatever changes it (the provisioning
steps, the ORM, an operator's SQL): insert, delete, a move between cells, becoming or leaving
`deleted`.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One statement-level trigger per event, with its transition tables: a statement that writes
# many tenants (an import, the migration's own backfill aside) moves each cell's count once.
COUNT_FUNCTION = """
CREATE FUNCTION control.count_live_tenants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE control.cells c SET live_tenants = c.live_tenants + d.n
      FROM (SELECT cell, count(*) AS n FROM new_tenants
             WHERE state <> 'deleted' GROUP BY cell) d
     WHERE c.name = d.cell;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE control.cells c SET live_tenants = c.live_tenants - d.n
      FROM (SELECT cell, count(*) AS n FROM old_tenants
             WHERE state <> 'deleted' GROUP BY cell) d
     WHERE c.name = d.cell;
  ELSE
    UPDATE control.cells c SET live_tenants = c.live_tenants + d.n
      FROM (SELECT cell, sum(n) AS n
              FROM (SELECT cell, 1 AS n FROM new_tenants WHERE state <> 'deleted'
                    UNION ALL
                    SELECT cell, -1 FROM old_tenants WHERE state <> 'deleted') moved
             GROUP BY cell HAVING sum(n) <> 0) d
     WHERE c.name = d.cell;
  END IF;
  RETURN NULL;
END
$$
"""
TRIGGERS = {
    "count_live_tenants_inserted": "INSERT ON control.tenants REFERENCING NEW TABLE AS new_tenants",
    "count_live_tenants_updated": (
        "UPDATE ON control.tenants REFERENCING OLD TABLE AS old_tenants NEW TABLE AS new_tenants"
    ),
    "count_live_tenants_deleted": "DELETE ON control.tenants REFERENCING OLD TABLE AS old_tenants",
}


def upgrade() -> None:
    op.add_column(
        "cells",
        sa.Column("live_tenants", sa.Integer(), server_default=sa.text("0"), nullable=False),
        schema="control",
    )
    op.execute(
        "UPDATE control.cells c SET live_tenants = (SELECT count(*) FROM control.tenants t"
        " WHERE t.cell = c.name AND t.state <> 'deleted')"
    )
    op.execute(COUNT_FUNCTION)
    for name, event in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event}"
            " FOR EACH STATEMENT EXECUTE FUNCTION control.count_live_tenants()"
        )


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON control.tenants")
    op.execute("DROP FUNCTION control.count_live_tenants()")
    op.drop_column("cells", "live_tenants", schema="control")
