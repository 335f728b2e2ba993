"""How fast is the programme dashboard for a full workspace among many? (goal: p95 ≤ 50 ms)

Builds a fresh database ``pmo_bench_dashboard`` with the project's own bootstrap and migrations,
then generates, server-side (INSERT … SELECT as the superuser, which bypasses RLS), ``--tenants``
workspaces of the same size — each with 20 programmes, 2,000 risks, 500 benefits × 24
measurements, 100 published status reports, 200 milestones and 200 actions — and one more, the
measured workspace, which also has a control-plane tenant, a user and a token. It then calls
``GET /api/v1/w/{slug}/programmes/{id}/dashboard`` in-process (Litestar's ASGI test client, the
real application, connecting as ``pmo_app`` under row-level security) over the workspace's
programmes, and prints median and p95 latency and the queries per request.

    .venv/bin/python bench/dashboard.py [--tenants 1000] [--requests 400] [--keep]

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
from typing import Any

import psycopg
from bench_database import BenchDatabase
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from services.app import create_app
from services.config import load_settings
from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import Role
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState

DATABASE = "pmo_bench_dashboard"
PROGRAMMES, RISKS, BENEFITS, MEASUREMENTS, REPORTS = 20, 2000, 500, 24, 100
MILESTONES, ACTIONS = 200, 200

# Each statement fills one table for every tenant in `bench_tenants`; ids derive from the tenant
# and a row number (md5 → uuid), so references line up without lookups.
ID = "md5(t.id::text || '{kind}' || {n})::uuid"
COMMON = "version, created_at, updated_at"
LOAD = [
    (
        "programmes",
        f"INSERT INTO workspace.programmes (tenant_id, id, {COMMON}, name, description, state) "
        f"SELECT t.id, {ID.format(kind=':p:', n='p')}, 1, now(), now(), 'Programme ' || p, '', "
        "'delivering' FROM bench_tenants t, generate_series(0, {programmes} - 1) p",
    ),
    (
        "risks",
        f"INSERT INTO workspace.risks (tenant_id, id, {COMMON}, programme_id, title, kind, "
        "inherent_probability, inherent_impact, inherent_score, residual_probability, "
        "residual_impact, residual_score, status, trend, custom_fields) "
        f"SELECT t.id, {ID.format(kind=':r:', n='r')}, 1, now(), now(), "
        f"{ID.format(kind=':p:', n='r % {programmes}')}, 'Risk ' || r, 'threat', "
        "1 + r % 5, 1 + (r / 5) % 5, (1 + r % 5) * (1 + (r / 5) % 5), "
        "1 + r % 4, 1 + (r / 7) % 5, (1 + r % 4) * (1 + (r / 7) % 5), "
        "CASE WHEN r % 10 = 0 THEN 'closed' ELSE 'open' END, 'stable', '{{}}' "
        "FROM bench_tenants t, generate_series(0, {risks} - 1) r",
    ),
    (
        "benefits",
        f"INSERT INTO workspace.benefits (tenant_id, id, {COMMON}, programme_id, title, "
        "classification, measure, dis_benefit, baseline_value, target_value, forecast_value, "
        "value_per_year, interim_targets, state, state_changed_at, custom_fields) "
        f"SELECT t.id, {ID.format(kind=':b:', n='b')}, 1, now(), now(), "
        f"{ID.format(kind=':p:', n='b % {programmes}')}, 'Benefit ' || b, 'cash_releasing', "
        "'quantitative', false, 0, 100, 60 + b % 40, 1000 * (1 + b % 50), '[]', 'realising', "
        "now(), '{{}}' FROM bench_tenants t, generate_series(0, {benefits} - 1) b",
    ),
    (
        "benefit_measurements",
        f"INSERT INTO workspace.benefit_measurements (tenant_id, id, {COMMON}, benefit_id, "
        "measured_on, value, comment) "
        f"SELECT t.id, {ID.format(kind=':m:', n='b * 100 + m')}, 1, now(), now(), "
        f"{ID.format(kind=':b:', n='b')}, date '2025-01-01' + m * 30, m * 3 + b % 7, '' "
        "FROM bench_tenants t, generate_series(0, {benefits} - 1) b, "
        "generate_series(0, {measurements} - 1) m",
    ),
    (
        "status_reports",
        f"INSERT INTO workspace.status_reports (tenant_id, id, {COMMON}, programme_id, "
        "period_start, period_end, revision, state, overall_rag, schedule_rag, cost_rag, "
        "risk_rag, published_at, suggested, snapshot) "
        f"SELECT t.id, {ID.format(kind=':s:', n='s')}, 1, now(), now(), "
        f"{ID.format(kind=':p:', n='s % {programmes}')}, date '2018-01-01' + s * 7, "
        "date '2018-01-01' + s * 7 + 6, 1, 'published', "
        "(ARRAY['green', 'amber', 'red'])[1 + s % 3], 'green', 'amber', 'green', now(), "
        "'{{}}', '{{}}' FROM bench_tenants t, generate_series(0, {reports} - 1) s",
    ),
    (
        "milestones",
        f"INSERT INTO workspace.milestones (tenant_id, id, {COMMON}, programme_id, title, kind, "
        "baseline_date, forecast_date, state, custom_fields) "
        f"SELECT t.id, {ID.format(kind=':ms:', n='m')}, 1, now(), now(), "
        f"{ID.format(kind=':p:', n='m % {programmes}')}, 'Milestone ' || m, 'delivery', "
        "current_date + m % 90, current_date + m % 90 + m % 11, 'planned', '{{}}' "
        "FROM bench_tenants t, generate_series(0, {milestones} - 1) m",
    ),
    (
        "actions",
        f"INSERT INTO workspace.actions (tenant_id, id, {COMMON}, programme_id, title, due_date, "
        "state, custom_fields) "
        f"SELECT t.id, {ID.format(kind=':a:', n='a')}, 1, now(), now(), "
        f"{ID.format(kind=':p:', n='a % {programmes}')}, 'Action ' || a, "
        "current_date - 30 + a % 60, CASE WHEN a % 3 = 0 THEN 'done' ELSE 'open' END, '{{}}' "
        "FROM bench_tenants t, generate_series(0, {actions} - 1) a",
    ),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000, help="other workspaces")
    parser.add_argument("--requests", type=int, default=400, help="timed requests")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


def load(bench_admin_libpq: str, tenant_ids: list[str]) -> None:
    sizes = {
        "programmes": PROGRAMMES,
        "risks": RISKS,
        "benefits": BENEFITS,
        "measurements": MEASUREMENTS,
        "reports": REPORTS,
        "milestones": MILESTONES,
        "actions": ACTIONS,
    }
    with psycopg.connect(bench_admin_libpq, autocommit=True) as conn:
        # The generated rows reference each other correctly by construction: skip the foreign
        # key triggers while loading (superuser only), or the load takes hours.
        conn.execute("SET session_replication_role = replica")
        conn.execute("CREATE UNLOGGED TABLE bench_tenants (id uuid PRIMARY KEY)")
        with conn.cursor().copy("COPY bench_tenants (id) FROM STDIN") as copy:
            for tenant_id in tenant_ids:
                copy.write_row((tenant_id,))
        for table, statement in LOAD:
            started = time.perf_counter()
            conn.execute(statement.format(**sizes))
            print(f"  {table:<22} {time.perf_counter() - started:6.1f} s", flush=True)
        conn.execute("DROP TABLE bench_tenants")
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"  {'vacuum analyze':<22} {time.perf_counter() - started:6.1f} s", flush=True)


def main() -> None:
    args = parse_args()
    raise SystemExit(asyncio.run(_main(args)))


async def _main(args: argparse.Namespace) -> int:
    bench_db = BenchDatabase.from_env(DATABASE)
    app_url, owner_url = bench_db.app_url, bench_db.owner_url
    try:
        bench_db.create()
        settings = load_settings(
            env="test", database_url=app_url, database_owner_url=owner_url, log_level="WARNING"
        )
        database = Database(settings)
        async with database.transaction() as session:
            await tenancy.sync_cells(session, settings)
            tenant = await tenancy.create_tenant(
                session, slug="bench", name="Bench", state=TenantState.ACTIVE
            )
            user = await identity.create_user(session, "bench@example.org")
            await identity.grant_membership(session, user.id, tenant.id, Role.OWNER)
            _, token = await identity.issue_token(session, user.id, name="bench")
        print(
            f"Loading {args.tenants} other workspaces + the measured one "
            f"({PROGRAMMES} programmes, {RISKS} risks, {BENEFITS} benefits × {MEASUREMENTS} "
            f"measurements, {REPORTS} published reports, {MILESTONES} milestones, {ACTIONS} "
            "actions each):",
            flush=True,
        )
        with psycopg.connect(bench_db.superuser_libpq) as conn:
            others = [
                str(r[0])
                for r in conn.execute(
                    "SELECT gen_random_uuid() FROM generate_series(1, %s)", (args.tenants,)
                ).fetchall()
            ]
        started = time.perf_counter()
        load(bench_db.superuser_libpq, [str(tenant.id), *others])
        print(f"  {'total':<22} {time.perf_counter() - started:6.1f} s")
        await time_dashboard(settings, database, tenant.slug, str(tenant.id), token, args)
        await database.dispose()
    finally:
        if not args.keep:
            bench_db.drop()
    return 0


async def time_dashboard(
    settings: Any,
    database: Database,
    slug: str,
    tenant_id: str,
    token: str,
    args: argparse.Namespace,
) -> None:
    import hashlib
    import uuid

    programme_ids = [
        uuid.UUID(hashlib.md5(f"{tenant_id}:p:{p}".encode(), usedforsecurity=False).hexdigest())
        for p in range(PROGRAMMES)
    ]
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    app = create_app(settings, database)
    headers = {"Authorization": f"Bearer {token}"}
    timings: list[float] = []
    counts: list[int] = []
    async with AsyncTestClient(app) as client:
        engine = database.engine().sync_engine
        event.listen(engine, "before_cursor_execute", count)
        for i in range(args.warmup + args.requests):
            programme_id = programme_ids[i % PROGRAMMES]
            statements = 0
            started = time.perf_counter()
            response = await client.get(
                f"/api/v1/w/{slug}/programmes/{programme_id}/dashboard", headers=headers
            )
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text
            if i >= args.warmup:
                timings.append(elapsed)
                counts.append(statements)
        event.remove(engine, "before_cursor_execute", count)
        sample = response.json()
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"\nDashboard, {args.requests} requests after {args.warmup} warm-up, in-process "
        f"(Python {platform.python_version()}, {os.cpu_count()} CPUs):"
    )
    print(f"  median {median:.1f} ms   p95 {p95:.1f} ms   max {timings[-1]:.1f} ms")
    print(f"  statements per request: {sorted(set(counts))} (auth, scope and dashboard queries)")
    print(
        f"  one dashboard: {len(sample['trend'])} reports in the trend, "
        f"{sum(map(sum, sample['heat_map']))} open risks on the heat map, "
        f"{len(sample['top_risks'])} top risks, "
        f"realisation {sample['benefits']['realisation_pct']} %, "
        f"{len(sample['milestones_due'])} milestones due, "
        f"{sample['overdue_action_count']} overdue actions"
    )


if __name__ == "__main__":
    main()
