"""Control plane: a provisioning run can be ``cancelled`` (an offboarding an operator abandoned
before it removed anything). Until now such a run stayed ``failed``, with the cancellation
recorded in its ``request`` (``cancelled``: when, by whom); those runs become ``cancelled``.

Downgrading makes them ``failed`` again (the record in ``request`` stays, so nothing is lost).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "control"
TABLE = "provisioning_runs"
CONSTRAINT = "ck_provisioning_runs_runstate"
STATES = ("queued", "running", "retrying", "succeeded", "failed")


def _allow(*states: str) -> None:
    op.drop_constraint(op.f(CONSTRAINT), TABLE, type_="check", schema=SCHEMA)
    listed = ", ".join(f"'{state}'" for state in states)
    op.create_check_constraint(op.f(CONSTRAINT), TABLE, f"state IN ({listed})", schema=SCHEMA)


def upgrade() -> None:
    _allow(*STATES, "cancelled")
    op.execute(
        f"UPDATE {SCHEMA}.{TABLE} SET state = 'cancelled'"
        " WHERE state = 'failed' AND request -> 'cancelled' IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(f"UPDATE {SCHEMA}.{TABLE} SET state = 'failed' WHERE state = 'cancelled'")
    _allow(*STATES)
