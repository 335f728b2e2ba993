"""How fast are template seeding and upgrades? (goals: ≤ 40 ms per workspace for ~300 rows, no
growth over 200 seeds in a row, 1,000 workspaces upgraded in ≤ 60 s)

Builds a fresh database ``pmo_bench_seed`` with the project's own bootstrap and migrations and
publishes the shipped packs into its catalogue. Then, as ``pmo_app`` under row-level security:

1. **one seed** — the largest pack (by rows) into ``--runs`` fresh workspaces, timed two ways:
   the seeding transaction alone (`seeding.seed_version` with the version already loaded) and
   end to end (`seeding.seed(database, …)` as provisioning calls it: the tenant read from the
   control plane, then one transaction; the published version is parsed once per process,
   since a published version never changes).
   Statements are counted with SQLAlchemy's ``before_cursor_execute``; rows from the result.
2. **in a row** — ``--series`` more workspaces seeded one after the other; per-seed time by
   deciles and the slope of a least-squares line, to show whether it grows.
3. **upgrades** — ``--upgrades`` workspaces seeded with msp-governance 1.0.0 (one in ten with client
   edits: its milestones renamed — kept — and a board the new version changes — a conflict), then
   `upgrading.upgrade_all(…, "1.1.0", apply=True)`: every workspace planned and applied in its
   own transaction, ``--concurrency`` at a time. A dry run of the same is timed first.

    .venv/bin/python bench/seed.py [--runs 50] [--series 200] [--upgrades 1000]
        [--concurrency 4] [--keep]

PMO_BENCH_DATABASE_URL: a superuser URL (default postgresql://postgres@127.0.0.1:5432/postgres).
The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
import uuid
from collections import Counter
from typing import Any

from bench_database import BenchDatabase
from sqlalchemy import event, update

from services.config import load_settings
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from services.workspace.governance.models import Board
from services.workspace.structure.models import Milestone
from templates_library import catalogue as bridge
from templates_library.items import seed_items
from templates_library.loader import PACKS_DIR, load_library
from templates_library.seeding import PackVersions, seed, seed_version
from templates_library.upgrading import upgrade_all

DATABASE = "pmo_bench_seed"
PARAMS = {"start_date": "2027-01-04", "programme_name": "Bench Transformation"}
UPGRADE_PACK, FROM, TO = "msp-governance", "1.0.0", "1.1.0"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed single seeds")
    parser.add_argument("--series", type=int, default=200, help="seeds in a row")
    parser.add_argument("--upgrades", type=int, default=1000, help="workspaces to upgrade")
    parser.add_argument("--concurrency", type=int, default=4, help="upgrades at a time")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


class Statements:
    """Counts statements sent to the database while `counting` is set."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        self.counting = False

        @event.listens_for(database.engine().sync_engine, "before_cursor_execute")
        def _count(*_: Any) -> None:
            if self.counting:
                self.count += 1


async def make_tenants(database: Database, count: int, prefix: str) -> list[uuid.UUID]:
    ids = []
    async with database.transaction() as session:
        for n in range(count):
            tenant = await tenancy.create_tenant(
                session, slug=f"{prefix}-{n:05d}", name=f"{prefix} {n}", state=TenantState.ACTIVE
            )
            ids.append(tenant.id)
    return ids


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(values):6.1f} ms, p95 {p95:6.1f} ms"


def slope(values: list[float]) -> float:
    """Least-squares growth of per-seed time, in ms per 100 seeds."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    denominator = sum((x - mean_x) ** 2 for x in range(n))
    return 100 * numerator / denominator


async def seed_transaction(
    database: Database, versions: PackVersions, tenant_id: uuid.UUID, pack: str, version: Any
) -> int:
    scope = TenantScope.single(tenant_id)
    async with database.transaction(scope=scope) as session:
        result = await seed_version(session, tenant_id, pack, version, PARAMS, versions=versions)
    return result.rows


def main() -> None:
    args = parse_args()
    raise SystemExit(asyncio.run(_main(args)))


async def _main(args: argparse.Namespace) -> int:
    bench_db = BenchDatabase.from_env(DATABASE)
    app_url, owner_url = bench_db.app_url, bench_db.owner_url
    try:
        bench_db.create()
        settings = load_settings(
            env="test",
            database_url=app_url,
            database_owner_url=owner_url,
            log_level="WARNING",
            db_pool_size=max(5, args.concurrency),
        )
        database = Database(settings)
        async with database.transaction() as session:
            await tenancy.sync_cells(session, settings)
            await bridge.sync(session, load_library(), PACKS_DIR)
        statements = Statements(database)
        print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
        await _one_seed(database, statements, args)
        await _series(database, args)
        await _upgrades(database, statements, args)
        await database.dispose()
    finally:
        if not args.keep:
            bench_db.drop()
    return 0


async def _largest(database: Database, versions: PackVersions) -> tuple[str, Any]:
    sizes = []
    async with database.session() as control:
        for pack in load_library():
            version = await versions.get(control, pack.key, None)
            sizes.append((len(seed_items(version)), pack.key, version))
    _, key, version = max(sizes, key=lambda size: size[0])
    return key, version


async def _one_seed(database: Database, statements: Statements, args: argparse.Namespace) -> None:
    versions = PackVersions()
    pack, version = await _largest(database, versions)
    tenants = await make_tenants(database, 2 * args.runs + 10, "one")
    warm, alone, end_to_end = tenants[:10], tenants[10 : 10 + args.runs], tenants[10 + args.runs :]
    for tenant_id in warm:
        await seed_transaction(database, versions, tenant_id, pack, version)
    times, counts, rows = [], [], 0
    for tenant_id in alone:
        statements.count, statements.counting = 0, True
        started = time.perf_counter()
        rows = await seed_transaction(database, versions, tenant_id, pack, version)
        times.append((time.perf_counter() - started) * 1000)
        statements.counting = False
        counts.append(statements.count)
    print(
        f"\n1. One seed of the largest pack, {pack} {version.version} "
        f"({len(seed_items(version))} items, {rows} rows + the pin), {args.runs} fresh workspaces"
    )
    print(f"   seeding transaction alone : {ms(times)}, {statistics.median(counts):.0f} statements")
    times, counts = [], []
    for tenant_id in end_to_end:
        statements.count, statements.counting = 0, True
        started = time.perf_counter()
        await seed(database, tenant_id, pack, version.version, PARAMS)
        times.append((time.perf_counter() - started) * 1000)
        statements.counting = False
        counts.append(statements.count)
    print(f"   end to end, seed(database): {ms(times)}, {statistics.median(counts):.0f} statements")


async def _series(database: Database, args: argparse.Namespace) -> None:
    versions = PackVersions()
    pack, version = await _largest(database, versions)
    tenants = await make_tenants(database, args.series, "row")
    times = []
    started_all = time.perf_counter()
    for tenant_id in tenants:
        started = time.perf_counter()
        await seed_transaction(database, versions, tenant_id, pack, version)
        times.append((time.perf_counter() - started) * 1000)
    total = time.perf_counter() - started_all
    tenth = max(1, len(times) // 10)
    deciles = [statistics.median(times[i : i + tenth]) for i in range(0, len(times), tenth)]
    print(f"\n2. {args.series} seeds of {pack} in a row ({total:.1f} s)")
    print("   median ms by tenth: " + " ".join(f"{d:.1f}" for d in deciles))
    print(
        f"   first tenth {statistics.median(times[:tenth]):.1f} ms, last tenth "
        f"{statistics.median(times[-tenth:]):.1f} ms; trend {slope(times):+.2f} ms per 100 seeds"
    )


async def _upgrades(database: Database, statements: Statements, args: argparse.Namespace) -> None:
    versions = PackVersions()
    async with database.session() as control:
        version = await versions.get(control, UPGRADE_PACK, FROM)
    tenants = await make_tenants(database, args.upgrades, "up")
    started = time.perf_counter()
    for n, tenant_id in enumerate(tenants):
        await seed_transaction(database, versions, tenant_id, UPGRADE_PACK, version)
        if n % 10 == 0:  # a client who made the programme its own
            async with database.transaction(scope=TenantScope.single(tenant_id)) as session:
                # Kept: items the new version leaves alone.
                await session.execute(
                    update(Milestone)
                    .where(Milestone.source_item.like("milestone:%"))
                    .values(title=Milestone.title + " (ours)")
                )
                # A conflict: the new version changes this board's cadence.
                await session.execute(
                    update(Board)
                    .where(Board.source_item == "board:design-authority")
                    .values(purpose="Ours: " + Board.purpose)
                )
    print(
        f"\n3. Upgrades: {args.upgrades} workspaces on {UPGRADE_PACK} {FROM} "
        f"(seeded in {time.perf_counter() - started:.1f} s; one in ten edited by its client)"
    )
    for apply in (False, True):
        statements.count, statements.counting = 0, True
        started = time.perf_counter()
        outcomes = await upgrade_all(
            database, UPGRADE_PACK, TO, apply=apply, concurrency=args.concurrency
        )
        elapsed = time.perf_counter() - started
        statements.counting = False
        actions: Counter[str] = Counter()
        for outcome in outcomes:
            actions.update(outcome.counts)
        failed = sum(outcome.error is not None for outcome in outcomes)
        label = "apply" if apply else "dry run"
        print(
            f"   {label:<8}: {len(outcomes)} workspaces in {elapsed:.1f} s "
            f"({1000 * elapsed / max(1, len(outcomes)):.1f} ms each, concurrency "
            f"{args.concurrency}), {statements.count / max(1, len(outcomes)):.1f} statements "
            f"each, {failed} failed"
        )
        print("             items: " + ", ".join(f"{a} {n}" for a, n in sorted(actions.items())))
    left = await upgrade_all(database, UPGRADE_PACK, TO, apply=False)
    print(f"   workspaces still on a version before {TO} afterwards: {len(left)}")


if __name__ == "__main__":
    main()
