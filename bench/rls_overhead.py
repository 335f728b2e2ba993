"""What does row-level security cost on a tenant-scoped list? (goal: at most 10 %)

Builds a fresh database ``pmo_bench_rls`` with the project's own bootstrap and migrations, loads
``--tenants`` × ``--per-tenant`` programmes into ``workspace.programmes``, then times the paginated
list the API serves (one page + its count) over random tenants, interleaved:

* **rls**: as ``pmo_app`` (NOBYPASSRLS), with ``set_config('app.tenant_ids', …, true)`` in the
  transaction, exactly as the application does;
* **bypass**: as ``pmo_bench_bypass``, a plain role with BYPASSRLS and SELECT on the table.

Both use psycopg 3 (sync) with server-side prepared statements over loopback TCP. Printed figures
are per iteration: ``queries`` is the page + count only (the cost of evaluating the policy),
``transaction`` is BEGIN … COMMIT as the client sees it (for rls that includes set_config).

    .venv/bin/python bench/rls_overhead.py [--tenants 1000 --per-tenant 50 --rounds 5000] [--keep]
        [--explain] [--plan-cache-mode force_generic_plan] [--inline-limit]

``--explain`` prints both plans; the last two switches try the fixes discussed in bench/README.md.

PMO_BENCH_DATABASE_URL: a superuser URL (default postgresql://postgres@127.0.0.1:5432/postgres).
The database and the bypass role are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from services.db import migrate, rls
from services.db.bootstrap import bootstrap_cell, libpq_url
from services.db.rls import APP_ROLE

DATABASE = "pmo_bench_rls"
BYPASS_ROLE = "pmo_bench_bypass"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

COLUMNS = (
    "tenant_id, id, version, created_at, updated_at, created_by, updated_by, "
    "name, description, state, start_date, end_date, owner_id"
)
PAGE = (
    f"SELECT {COLUMNS} FROM workspace.programmes WHERE tenant_id = %s "
    "ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s"
)
COUNT = "SELECT count(*) FROM workspace.programmes WHERE tenant_id = %s"
# Exactly what the application runs at the start of each scoped transaction.
SET_SCOPE = rls.scope_statement("%s")
STATES = ("identifying", "defining", "delivering", "on_hold", "closing", "closed")


@dataclass
class Timings:
    queries: list[float] = field(default_factory=list)
    transaction: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--per-tenant", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5000, help="timed rounds (one of each)")
    parser.add_argument("--warmup", type=int, default=300, help="untimed rounds first")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--keep", action="store_true", help="keep the database and bypass role")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of both")
    parser.add_argument(
        "--inline-limit",
        action="store_true",
        help="write LIMIT/OFFSET into the SQL instead of binding them (lets RLS reuse plans)",
    )
    parser.add_argument(
        "--plan-cache-mode",
        choices=("auto", "force_generic_plan", "force_custom_plan"),
        default="auto",
        help="PostgreSQL plan_cache_mode for both connections (default: the server's, auto)",
    )
    return parser.parse_args()


def urls(admin: URL) -> tuple[str, str, str]:
    """SQLAlchemy URLs for admin (on the bench database), pmo_app and pmo_owner."""
    on_bench = admin.set(drivername="postgresql+psycopg", database=DATABASE)
    app = on_bench.set(username=APP_ROLE, password=None)
    owner = on_bench.set(username="pmo_owner", password=None)
    on_bench_url, app_url, owner_url = (
        u.render_as_string(hide_password=False) for u in (on_bench, app, owner)
    )
    return on_bench_url, app_url, owner_url


def drop_database(admin_libpq: str) -> None:
    with psycopg.connect(admin_libpq, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(BYPASS_ROLE)))


def load(bench_admin: str, tenants: list[uuid.UUID], per_tenant: int, rng: random.Random) -> None:
    """COPY the programmes in as the superuser (bypasses RLS), then ANALYZE."""
    now = datetime.now(UTC)
    with psycopg.connect(libpq_url(bench_admin), autocommit=True) as conn:
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY workspace.programmes (tenant_id, id, version, created_at, updated_at, "
                "name, description, state, start_date) FROM STDIN"
            ) as copy,
        ):
            for tenant in tenants:
                for n in range(per_tenant):
                    created = now - timedelta(seconds=rng.randrange(2 * 365 * 86_400))
                    copy.write_row(
                        (
                            tenant,
                            uuid.UUID(int=rng.getrandbits(128), version=4),
                            1,
                            created,
                            created,
                            f"Programme {n}",
                            "",
                            rng.choice(STATES),
                            created.date(),
                        )
                    )
        conn.execute("VACUUM ANALYZE workspace.programmes")
        conn.execute(
            sql.SQL(
                "CREATE ROLE {role} LOGIN NOSUPERUSER BYPASSRLS; "
                "GRANT CONNECT ON DATABASE {db} TO {role}; "
                "GRANT USAGE ON SCHEMA workspace TO {role}; "
                "GRANT SELECT ON workspace.programmes TO {role}"
            ).format(role=sql.Identifier(BYPASS_ROLE), db=sql.Identifier(DATABASE))
        )


def page_query(page_size: int, inline_limit: bool) -> tuple[str, tuple[object, ...]]:
    """The page query and its parameters after the tenant id."""
    if inline_limit:
        return PAGE.replace("LIMIT %s OFFSET %s", f"LIMIT {int(page_size)} OFFSET 0"), ()
    return PAGE, (page_size, 0)


def run_once(
    conn: psycopg.Connection, tenant: uuid.UUID, page: tuple[str, tuple[object, ...]], rls: bool
) -> tuple[float, float, int]:
    """One list request's database work; returns (queries, transaction) in seconds and rows."""
    start = time.perf_counter()
    with conn.transaction():
        if rls:
            conn.execute(SET_SCOPE, (str(tenant),), prepare=True)
        before = time.perf_counter()
        rows = conn.execute(page[0], (tenant, *page[1]), prepare=True).fetchall()
        total = conn.execute(COUNT, (tenant,), prepare=True).fetchone()
        after = time.perf_counter()
    end = time.perf_counter()
    if total is None or total[0] == 0 or len(rows) > total[0]:
        raise SystemExit(f"wrong result for {tenant}: {len(rows)} rows, total {total}")
    return after - before, end - start, len(rows)


def plan_counts(conn: psycopg.Connection) -> str:
    """How often each prepared statement was planned afresh (custom) or reused (generic)."""
    rows = conn.execute(
        "SELECT split_part(statement, ' ', 2), generic_plans, custom_plans "
        "FROM pg_prepared_statements WHERE statement NOT LIKE '%set_config%' ORDER BY 1 DESC"
    ).fetchall()
    names = {"tenant_id,": "page", "count(*)": "count"}
    return ", ".join(f"{names.get(s, s)} {g} generic/{c} custom" for s, g, c in rows)


def explain(
    conn: psycopg.Connection, tenant: uuid.UUID, page: tuple[str, tuple[object, ...]], rls: bool
) -> str:
    with conn.transaction():
        if rls:
            conn.execute(SET_SCOPE, (str(tenant),))
        lines = []
        for query, params in ((page[0], (tenant, *page[1])), (COUNT, (tenant,))):
            plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {query}", params)
            lines += [row[0] for row in plan] + [""]
    return "\n".join(lines)


def summary(values: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18]
    return statistics.median(values) * 1000, p95 * 1000


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    admin = make_url(os.environ.get("PMO_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))
    admin_libpq = libpq_url(admin.render_as_string(hide_password=False))
    bench_admin, app_url, owner_url = urls(admin)
    bypass_libpq = libpq_url(make_url(app_url).set(username=BYPASS_ROLE).render_as_string(False))

    drop_database(admin_libpq)
    results = {"rls": Timings(), "bypass": Timings()}
    try:
        t0 = time.perf_counter()
        bootstrap_cell(admin.render_as_string(hide_password=False), app_url, owner_url)
        migrate.upgrade(owner_url)
        tenants = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(args.tenants)]
        load(bench_admin, tenants, args.per_tenant, rng)
        rows, elapsed = args.tenants * args.per_tenant, time.perf_counter() - t0
        print(f"set-up: {rows:,} programmes in {args.tenants:,} tenants, {elapsed:.1f} s")
        with (
            psycopg.connect(libpq_url(app_url), autocommit=True) as app,
            psycopg.connect(bypass_libpq, autocommit=True) as bypass,
        ):
            if app.execute(
                "SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user"
            ).fetchone() != (False,):
                raise SystemExit(f"{APP_ROLE} bypasses RLS: the comparison would be meaningless")
            # Without a scope pmo_app must see nothing; with another tenant's, nothing either.
            with app.transaction():
                unscoped = app.execute(COUNT, (tenants[0],)).fetchone()
                app.execute(SET_SCOPE, (str(tenants[1]),))
                other = app.execute(COUNT, (tenants[0],)).fetchone()
            if unscoped != (0,) or other != (0,):
                raise SystemExit(f"RLS not enforced: {unscoped}, {other} rows outside the scope")

            connections = {"rls": app, "bypass": bypass}
            page = page_query(args.page_size, args.inline_limit)
            for conn in connections.values():
                conn.execute(f"SET plan_cache_mode = {args.plan_cache_mode}")
            for i in range(args.warmup + args.rounds):
                tenant = rng.choice(tenants)
                order = ["rls", "bypass"]
                rng.shuffle(order)
                for mode in order:
                    queries, transaction, rows_read = run_once(
                        connections[mode], tenant, page, rls=mode == "rls"
                    )
                    if rows_read != min(args.page_size, args.per_tenant):
                        raise SystemExit(f"{mode} read {rows_read} rows for tenant {tenant}")
                    if i >= args.warmup:
                        results[mode].queries.append(queries)
                        results[mode].transaction.append(transaction)

            plans = {mode: plan_counts(conn) for mode, conn in connections.items()}
            if args.explain:
                tenant = rng.choice(tenants)
                for mode in ("rls", "bypass"):
                    print(f"\n--- EXPLAIN ANALYZE as {mode}\n")
                    print(explain(connections[mode], tenant, page, rls=mode == "rls"))
    finally:
        if args.keep:
            print(f"kept database {DATABASE} and role {BYPASS_ROLE}")
        else:
            drop_database(admin_libpq)

    print(
        f"\n{args.rounds:,} interleaved rounds over random tenants, page {args.page_size} + count, "
        f"PostgreSQL via {admin.host}:{admin.port or 5432}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, psycopg {psycopg.__version__}"
    )
    limit = "inline" if args.inline_limit else "bound as parameters"
    print(f"LIMIT/OFFSET {limit}, plan_cache_mode {args.plan_cache_mode}; plans used:")
    for mode in ("bypass", "rls"):
        print(f"  {mode:<8}{plans[mode]}")
    print(f"{'':22}{'median ms':>10}{'p95 ms':>10}")
    for part in ("queries", "transaction"):
        for mode in ("bypass", "rls"):
            median, p95 = summary(getattr(results[mode], part))
            print(f"{part + ' ' + mode:<22}{median:>10.3f}{p95:>10.3f}")
        rls_median, rls_p95 = summary(getattr(results["rls"], part))
        by_median, by_p95 = summary(getattr(results["bypass"], part))
        print(
            f"{part} rls/bypass: median {rls_median / by_median:.3f}, p95 {rls_p95 / by_p95:.3f} "
            f"(overhead {100 * (rls_median / by_median - 1):+.1f} % at the median)"
        )


if __name__ == "__main__":
    main()
