"""Migration 0032: offboardings abandoned before runs had a ``cancelled`` state (kept ``failed``,
the cancellation recorded in their request) become ``cancelled``; downgrading turns them back."""

from __future__ import annotations

import uuid

import psycopg
from psycopg.types.json import Jsonb

from services.db import migrate
from services.db.bootstrap import libpq_url

INSERT = (
    "INSERT INTO control.provisioning_runs (id, kind, state, tenant_id, slug, request)"
    " VALUES (%s, 'deprovision', 'failed', gen_random_uuid(), %s, %s)"
)


def states(url: str) -> dict[uuid.UUID, str]:
    with psycopg.connect(libpq_url(url)) as conn:
        return dict(conn.execute("SELECT id, state FROM control.provisioning_runs").fetchall())


def test_abandoned_offboardings_become_cancelled_and_go_back_to_failed(
    empty_database_url: str,
) -> None:
    migrate.upgrade(empty_database_url, "0031")
    abandoned, failed = uuid.uuid4(), uuid.uuid4()
    cancelled = {"at": "2026-11-20T10:00:00+00:00", "by": None}
    with psycopg.connect(libpq_url(empty_database_url)) as conn:
        conn.execute(INSERT, [abandoned, "left", Jsonb({"cancelled": cancelled})])
        conn.execute(INSERT, [failed, "stuck", Jsonb({"tenant_state": "active"})])
    migrate.upgrade(empty_database_url)
    assert states(empty_database_url) == {abandoned: "cancelled", failed: "failed"}
    migrate.downgrade(empty_database_url, "0031")
    assert states(empty_database_url) == {abandoned: "failed", failed: "failed"}
