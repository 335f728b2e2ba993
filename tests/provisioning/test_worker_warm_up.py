"""A starting worker gets ready before it takes runs: every pack's seed rehearsed in every cell
(and rolled back), and, in a process of its own, the warm heap set aside from the collector."""

from __future__ import annotations

import gc
import uuid
from datetime import date

import psycopg
from psycopg import sql
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import CacheStats

from services.config import DEFAULT_CELL
from services.db.bootstrap import libpq_url
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from templates_library.seeding import PUBLISHED, seed_version
from tests.provisioning.conftest import Env, worker_in_process


def workspace_rows(env: Env) -> dict[tuple[str, str], int]:
    """Rows of every workspace table of every cell, counted as a superuser (no RLS)."""
    admin = make_url(env.pg.admin_url)
    counts: dict[tuple[str, str], int] = {}
    for cell, url in env.settings.cell_urls().items():
        as_admin = make_url(url).set(username=admin.username, password=admin.password)
        with psycopg.connect(libpq_url(as_admin.render_as_string(hide_password=False))) as conn:
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'workspace'"
                )
            ]
            for table in tables:
                query = sql.SQL("SELECT count(*) FROM workspace.{}").format(sql.Identifier(table))
                row = conn.execute(query).fetchone()
                counts[(cell, table)] = row[0] if row else 0
    return counts


async def test_a_starting_worker_rehearses_every_pack_in_every_cell_and_writes_nothing(
    isolated: Env,
) -> None:
    before = workspace_rows(isolated)
    database = Database(isolated.settings)  # a new engine: nothing compiled on it yet
    seeds: list[CacheStats] = []

    def seen(_conn, _cursor, statement, _params, context, _many) -> None:  # type: ignore[no-untyped-def]
        if " ".join(statement.split()).startswith("WITH t0 AS (INSERT INTO workspace."):
            seeds.append(context.cache_hit)

    try:
        async with worker_in_process(isolated.settings, concurrency=1, database=database):
            assert workspace_rows(isolated) == before  # every rehearsal rolled back
            assert {cell for cell, _ in before} == set(database.cells) == {DEFAULT_CELL, "eu"}
            async with database.transaction() as control:
                version = await PUBLISHED.get(control, "msp-governance", None)
            params = {"programme_name": "Net Zero", "start_date": date(2027, 1, 4)}
            for cell in database.cells:
                event.listen(database.engine(cell).sync_engine, "after_cursor_execute", seen)
                tenant_id = uuid.uuid4()
                async with database.session(cell, TenantScope.single(tenant_id)) as session:
                    await session.begin()
                    result = await seed_version(
                        session, tenant_id, "msp-governance", version, params
                    )
                    await session.rollback()
                assert result.seeded and result.rows > 100
        # The first real seed on each cell found its statement already compiled.
        assert seeds == [CacheStats.CACHE_HIT, CacheStats.CACHE_HIT]
    finally:
        await database.dispose()


async def test_a_worker_in_its_own_process_freezes_what_its_warm_up_loaded(
    isolated: Env,
) -> None:
    database = Database(isolated.settings)
    assert gc.get_freeze_count() == 0
    try:
        async with worker_in_process(isolated.settings, concurrency=1, database=database):
            assert gc.get_freeze_count() == 0  # in-process workers (demo, tests) leave it be
        async with worker_in_process(
            isolated.settings, concurrency=1, database=database, freeze_warm_heap=True
        ):
            assert gc.get_freeze_count() > 10_000  # boto's models, the packs, compiled SQL …
    finally:
        gc.unfreeze()
        await database.dispose()
