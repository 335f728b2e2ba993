"""What does one tenant cost the database in a schema-per-tenant system, on this machine?

The provisioning bench compares PMO Cloud's database side of one signup with a schema-per-tenant
system; this measures that other side here rather than quoting a figure from another machine.
Plain Django and django-tenants, configured in this script: a shared app (tenant and domain) and
a tenant app of 18 PMO models (``bench/schema_per_tenant_app``). The script creates a fresh
database ``pmo_bench_schemas``, generates the migrations into a temporary directory, migrates
the public schema, then creates ``--tenants`` tenants one after the other as django-tenants does
(``Client(schema_name=...).save()`` with ``auto_create_schema``: CREATE SCHEMA, then every
tenant migration in it), timing each. It prints median / p95 / max seconds per tenant, the time
inside the database driver's execute calls (statements sent and waited for), the tables and
indexes each schema gets, versions, CPU count and a CPU calibration figure.

    uv run --no-project --python 3.11 --with 'django>=5.1,<5.3' --with django-tenants \\
        --with 'psycopg[binary]' python bench/schema_per_tenant.py [--tenants 20] [--keep]

PMO_BENCH_DATABASE_URL: a superuser URL (default postgresql://postgres@127.0.0.1:5432/postgres).
The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import django
import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from psycopg import sql

DATABASE = "pmo_bench_schemas"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MIGRATIONS_PACKAGE = "pmo_bench_schema_migrations"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object instead of text (for provision.py)"
    )
    return parser.parse_args()


def calibrate_cpu() -> float:
    """Median of 3 timings of a pure-Python loop, so figures from other machines can be scaled."""
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def drop_database(admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
        )


def create_database(admin_url: str) -> None:
    drop_database(admin_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def configure_django(admin_url: str, migrations_dir: Path) -> None:
    """Settings as a django-tenants project has them; migrations go to a temporary package."""
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    (migrations_dir / MIGRATIONS_PACKAGE).mkdir()
    (migrations_dir / MIGRATIONS_PACKAGE / "__init__.py").touch()
    sys.path.insert(0, str(migrations_dir))
    shared, tenant = "schema_per_tenant_app.customers", "schema_per_tenant_app.pmo"
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django_tenants.postgresql_backend",
                "NAME": DATABASE,
                "USER": params.get("user", ""),
                "PASSWORD": params.get("password", ""),
                "HOST": params.get("host", ""),
                "PORT": params.get("port", ""),
            }
        },
        DATABASE_ROUTERS=["django_tenants.routers.TenantSyncRouter"],
        SHARED_APPS=["django_tenants", shared, "django.contrib.contenttypes"],
        TENANT_APPS=[tenant],
        INSTALLED_APPS=["django_tenants", shared, "django.contrib.contenttypes", tenant],
        TENANT_MODEL="customers.Client",
        TENANT_DOMAIN_MODEL="customers.Domain",
        MIGRATION_MODULES={
            "customers": f"{MIGRATIONS_PACKAGE}.customers",
            "pmo": f"{MIGRATIONS_PACKAGE}.pmo",
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
    )
    django.setup()


class StatementTimer:
    """Adds up the time spent in the driver's execute calls: the database's share of the work."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0

    def __call__(
        self, execute: Callable[..., Any], sql_text: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


def create_tenants(count: int) -> list[tuple[float, float, int]]:
    """(wall seconds, seconds in execute, statements) for each tenant, created one at a time."""
    from schema_per_tenant_app.customers.models import Client  # importable once Django is set up

    timer = StatementTimer()
    results = []
    with connection.execute_wrapper(timer):
        for i in range(count):
            timer.seconds, timer.statements = 0.0, 0
            started = time.perf_counter()
            Client(schema_name=f"tenant_{i:04d}", name=f"Tenant {i}").save(verbosity=0)
            results.append((time.perf_counter() - started, timer.seconds, timer.statements))
    return results


def schema_relations(schema: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, count(*) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s GROUP BY c.relkind",
            [schema],
        )
        return dict(cursor.fetchall())


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0])


def quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def main() -> None:
    args = parse_args()
    admin_url = os.environ.get("PMO_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL)
    calibration = calibrate_cpu()
    create_database(admin_url)
    try:
        with tempfile.TemporaryDirectory() as migrations_dir:
            configure_django(admin_url, Path(migrations_dir))
            call_command("makemigrations", "customers", "pmo", verbosity=0)
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
            results = create_tenants(args.tenants)
            relations = schema_relations("tenant_0000")
            postgres = server_version()
            connections.close_all()
    finally:
        if not args.keep:
            drop_database(admin_url)

    wall, in_db, statements = (list(column) for column in zip(*results, strict=True))
    if args.json:
        print(
            json.dumps(
                {
                    "tenants": args.tenants,
                    "calibration": calibration,
                    "wall": quantiles(wall),
                    "in_execute": quantiles(in_db),
                    "statements": statistics.median(statements),
                }
            )
        )
        return
    print(
        f"# {platform.node()} · {os.cpu_count()} CPU · Python {platform.python_version()} · "
        f"Django {django.__version__} · django-tenants {version('django-tenants')} · "
        f"psycopg {version('psycopg')} · PostgreSQL {postgres} · {datetime.now(UTC):%Y-%m-%d}"
    )
    print(
        f"CPU calibration (sum of range(10_000_000) in a for loop, median of 3): "
        f"{calibration:.3f} s"
    )
    print(
        f"each tenant schema: {relations.get('r', 0)} tables, {relations.get('i', 0)} indexes, "
        f"{relations.get('S', 0)} sequences"
    )
    print(f"{args.tenants} tenants, one at a time (s per tenant):")
    for label, values in (("wall clock", wall), ("in execute", in_db)):
        median, p95, most = quantiles(values)
        print(f"  {label:<11} median {median:.3f}   p95 {p95:.3f}   max {most:.3f}")
    print(f"  statements per tenant: median {statistics.median(statements):.0f}")


if __name__ == "__main__":
    main()
