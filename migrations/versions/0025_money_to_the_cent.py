"""Money is exact: ``numeric(16, 2)`` instead of ``double precision``, and never negative where
the API says so.

Budgets, forecast costs, change requests' cost impacts and benefits' value and realisation cost
were floats, so sums drifted (0.1 + 0.2 made 0.30000000000000004 in reports). Existing values are
rounded to the cent once, here. The non-negative rules the API already enforces (its ``Cost``)
become CHECK constraints ``NOT VALID``: new writes are checked, while a row written before them
cannot make this migration fail (``VALIDATE CONSTRAINT`` later, once such rows are put right).
Benefits' baselines, targets and measurements are measures, not money: they stay floats.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "workspace"
MONEY = {
    "programmes": ("budget", "forecast_cost"),
    "projects": ("budget", "forecast_cost"),
    "change_requests": ("cost_impact",),
    "benefits": ("value_per_year", "realisation_cost"),
}
NOT_NEGATIVE = {
    "programmes": ("budget", "forecast_cost"),
    "projects": ("budget", "forecast_cost"),
    "benefits": ("realisation_cost",),
}


def upgrade() -> None:
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.Numeric(16, 2),
                existing_type=sa.Float(),
                existing_nullable=True,
                postgresql_using=f"round({column}::numeric, 2)",
                schema=SCHEMA,
            )
    for table, columns in NOT_NEGATIVE.items():
        for column in columns:
            op.create_check_constraint(
                op.f(f"ck_{table}_{column}_not_negative"),
                table,
                f"{column} >= 0",
                schema=SCHEMA,
                postgresql_not_valid=True,
            )


def downgrade() -> None:
    for table, columns in NOT_NEGATIVE.items():
        for column in columns:
            op.drop_constraint(
                op.f(f"ck_{table}_{column}_not_negative"), table, type_="check", schema=SCHEMA
            )
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(
                table,
                column,
                type_=sa.Float(),
                existing_type=sa.Numeric(16, 2),
                existing_nullable=True,
                postgresql_using=f"{column}::double precision",
                schema=SCHEMA,
            )
