"""How fast does a signup become an active, seeded workspace? (goals in bench/README.md)

Builds a fresh database ``pmo_bench_provision`` with the project's own bootstrap and migrations,
starts moto's S3 server, the API (`pmo serve`) and 1 or 2 workers (`pmo worker`) as processes,
then for each N signs up N tenants with the MSP pack through ``POST /api/v1/signups``, each
signup's page polling its status URL every 100 ms until the workspace is active. Two loads:

* ``--rates``: signups arriving at R per second whatever the earlier ones are doing (open loop;
  3/s is the rate of the goal's 500 tenants in 3 minutes, rounded up) — the latency a person
  signing up sees while the platform is busy;
* ``--clients``: C pages at once, each taking the next signup when its workspace is active
  (closed loop: as fast as the platform goes) — throughput, and latency at saturation.

Per round it prints signup → active as the page sees it (POST → status ``succeeded``) and as the
server records it (run created → finished), the workers' service time (run claimed → finished),
tenants per minute (N over first signup → last active) and the median service time of the first
vs the last tenth of the tenants. A second table says where the CPU went in each round: seconds of
CPU per tenant in the pages (this process), the API, the workers, the S3 server and PostgreSQL
(from ``/proc``), and how many of the machine's cores were busy on average.

Then the database-side cost of one provisioning: ``--db-tenants`` runs executed one after the
other in this process, straight from the engine (no queue, no HTTP), timed from the step records:
claimed → finished minus the S3 step; again with ``--existing-tenants`` other tenants in the
control plane (added with one INSERT), to show whether a provisioning costs more among many.
With ``--versus-schemas ROUNDS``, first that many rounds of ``schema_per_tenant.py`` (run with
uv, as its docstring says) and the database side, alternating, and the ratio of their medians:
the two measured in the same minutes, as the machine's speed moves between runs.

    .venv/bin/python bench/provision.py [--tenants 1 50 500] [--workers 1 2] [--rates 3]
        [--clients 8] [--concurrency 4] [--db-tenants 50] [--existing-tenants 0 100000]
        [--versus-schemas 3] [--schema-tenants 20] [--keep]

PMO_BENCH_DATABASE_URL: a superuser URL (default postgresql://postgres@127.0.0.1:5432/postgres).
The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from bench_database import BenchDatabase
from sqlalchemy import event

from provisioning.demo import publish_shipped_packs
from provisioning.local_s3 import LocalS3
from provisioning.workflow import Platform, execute
from services.config import Settings, load_settings
from services.db.bootstrap import libpq_url
from services.demo import free_port
from services.logging import configure_logging
from services.provisioning_runs import service as runs
from services.provisioning_runs.schemas import SignupCreate
from services.tenancy import service as tenancy

DATABASE = "pmo_bench_provision"
POLL_SECONDS = 0.1
CPU_PARTS = ("pages", "API", "workers", "S3", "PostgreSQL")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1, 50, 500])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--rates", type=float, nargs="*", default=[3.0], help="open loop: signups per second"
    )
    parser.add_argument(
        "--clients", type=int, nargs="*", default=[8], help="closed loop: signup pages at once"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="runs per worker at once")
    parser.add_argument("--db-tenants", type=int, default=50)
    parser.add_argument(
        "--existing-tenants",
        type=int,
        nargs="*",
        default=[0],
        help="database side again with this many other tenants in the control plane",
    )
    parser.add_argument(
        "--versus-schemas",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="rounds of schema_per_tenant.py and the database side, alternating (same minutes)",
    )
    parser.add_argument("--schema-tenants", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def environment(settings: Settings, s3: LocalS3, concurrency: int) -> dict[str, str]:
    assert settings.database_url is not None
    assert settings.database_owner_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
    env.update(
        {
            "PMO_DATABASE_URL": settings.database_url,
            "PMO_DATABASE_OWNER_URL": settings.database_owner_url,
            "PMO_LOG_LEVEL": "WARNING",
            "PMO_S3_ENDPOINT_URL": s3.endpoint_url,
            "PMO_S3_ACCESS_KEY_ID": "bench",
            "PMO_S3_SECRET_ACCESS_KEY": "bench-secret",
            "PMO_SIGNUP_RATE_LIMIT_PER_MINUTE": "0",
            "PMO_WORKER_CONCURRENCY": str(concurrency),
        }
    )
    return env


def pmo(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU of a process (and of its exited, waited-for children)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def postgres_cpu_seconds() -> float:
    """Every PostgreSQL process on this machine: the backends alive now, plus what the
    postmaster counts for the ones that have exited."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        fields = _stat(int(entry.name))
        parent = int(fields[1]) if fields else 0
        try:
            is_postmaster = (Path(f"/proc/{parent}/comm").read_text().strip()) != "postgres"
        except OSError:
            is_postmaster = True
        total += cpu_seconds(int(entry.name), reaped_children=is_postmaster)
    return total


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far of each part of the platform (and of the pages, in this process)."""

    parts: dict[str, float]
    at: float

    @classmethod
    def take(cls, api: int, workers: list[int], s3: int) -> CpuSample:
        return cls(
            {
                "pages": time.process_time(),
                "API": cpu_seconds(api),
                "workers": sum(cpu_seconds(w) for w in workers),
                "S3": cpu_seconds(s3),
                "PostgreSQL": postgres_cpu_seconds(),
            },
            time.perf_counter(),
        )

    def since(self, before: CpuSample) -> dict[str, float]:
        used = {k: v - before.parts[k] for k, v in self.parts.items()}
        used["cores busy"] = sum(used.values()) / (self.at - before.at)
        return used


def signup(tag: str, i: int) -> dict[str, str]:
    return {
        "organisation_name": f"Bench {tag} {i}",
        "slug": f"b-{tag}-{i}",
        "admin_email": f"admin-{tag}-{i}@bench.example",
        "plan": "professional",
        "template_pack": "msp-governance",
        "programme_name": "Transformation 2030",
        "start_date": "2027-01-04",
    }


@dataclass(frozen=True)
class Load:
    """How signups arrive: at ``rate`` per second (open loop), or from ``clients`` pages."""

    rate: float | None = None
    clients: int = 1

    def __str__(self) -> str:
        return f"{self.rate:g}/s" if self.rate is not None else f"{self.clients} pages"


def quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


async def wait_for_workers(conninfo: str, count: int) -> None:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        for _ in range(600):
            row = await (
                await conn.execute("SELECT count(*) FROM procrastinate.procrastinate_workers")
            ).fetchone()
            if row and row[0] >= count:
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("the workers did not start")


async def one_round(
    base_url: str,
    conninfo: str,
    n: int,
    workers: int,
    load: Load,
    env: dict[str, str],
    pids: dict[str, int],
) -> dict[str, Any]:
    """N signups, each followed by its page polling the run's status URL (as the progress bar
    does) until the workspace is active: arriving at ``load.rate`` per second whatever the
    pages before them are doing (open loop), or ``load.clients`` pages at once, each taking the
    next signup when its workspace is active (closed loop: as fast as the platform goes)."""
    started = [pmo("worker", env=env) for _ in range(workers)]
    try:
        await wait_for_workers(conninfo, workers)
        worker_pids = [p.pid for p in started]
        cpu_before = CpuSample.take(pids["api"], worker_pids, pids["s3"])
        tag = uuid.uuid4().hex[:6]
        pending = list(range(n))
        seen: dict[str, float] = {}  # run id → seconds from POST to seeing it active
        first_signup = datetime.now(UTC)

        async def signup_page(http: httpx.AsyncClient, i: int) -> None:
            posted = time.perf_counter()
            answer = await http.post("/api/v1/signups", json=signup(tag, i))
            if answer.status_code != 202:
                raise RuntimeError(f"signup {i}: {answer.status_code} {answer.text}")
            while True:
                status = (await http.get(answer.json()["status_url"])).json()
                if status["state"] in {"succeeded", "failed"}:
                    break
                await asyncio.sleep(POLL_SECONDS)
            seen[status["id"]] = time.perf_counter() - posted

        async def closed_loop_page(http: httpx.AsyncClient) -> None:
            while pending:
                await signup_page(http, pending.pop(0))

        async def open_loop(http: httpx.AsyncClient, rate: float) -> None:
            start, pages = time.perf_counter(), []
            for i in range(n):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                pages.append(asyncio.create_task(signup_page(http, i)))
            await asyncio.gather(*pages)

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
            if load.rate is not None:
                await open_loop(http, load.rate)
            else:
                await asyncio.gather(*(closed_loop_page(http) for _ in range(min(load.clients, n))))
        cpu = CpuSample.take(pids["api"], worker_pids, pids["s3"]).since(cpu_before)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            rows = await (
                await conn.execute(
                    "SELECT id, state, created_at, started_at, finished_at "
                    "FROM control.provisioning_runs WHERE id = ANY(%s::uuid[]) ORDER BY created_at",
                    (list(seen),),
                )
            ).fetchall()
    finally:
        for process in started:
            stop(process)
    failed = sum(1 for r in rows if r[1] != "succeeded")
    server = [(r[4] - r[2]).total_seconds() for r in rows]
    service = [(r[4] - r[3]).total_seconds() for r in rows]
    wall = (max(r[4] for r in rows) - first_signup).total_seconds()
    return {
        "n": n,
        "workers": workers,
        "failed": failed,
        "client": quantiles([seen[str(r[0])] for r in rows]),
        "server": quantiles(server),
        "service": quantiles(service),
        "per_minute": n / wall * 60,
        "wall": wall,
        # Does a tenant cost more as N grows? The first tenth against the last tenth.
        "first_tenth": statistics.median(service[: max(1, n // 10)]),
        "last_tenth": statistics.median(service[-max(1, n // 10) :]),
        "cpu": cpu,
    }


class StatementClock:
    """Time spent inside the driver's execute calls (statements sent and waited for) on an
    engine, and how many: the like-for-like figure to the schema-per-tenant bench's."""

    def __init__(self, engine: Any) -> None:
        self.seconds, self.statements, self._started = 0.0, 0, 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._started
        self.statements += 1

    def reset(self) -> None:
        self.seconds, self.statements = 0.0, 0


async def database_side(settings: Settings, count: int) -> dict[str, Any]:
    """Runs executed one at a time in this process: claimed → finished minus the S3 step, and
    the time inside statements while the run executes."""
    from services.db.engine import Database

    database = Database(settings)
    engine_platform = Platform.build(settings, database)
    async with database.transaction() as session:  # as a worker does when it starts
        await tenancy.sync_cells(session, settings)
    clock = StatementClock(database.engine().sync_engine)
    tag = uuid.uuid4().hex[:6]
    costs: list[float] = []
    in_statements: list[float] = []
    statements: list[int] = []
    by_step: dict[str, list[float]] = {}
    try:
        for i in range(count):
            body = signup(f"db{tag}", i)
            async with database.transaction() as session:
                data = SignupCreate(
                    **{**body, "start_date": date.fromisoformat(body["start_date"])}
                )
                plan = await runs.check_signup(session, settings, data)
                run = await runs.start_signup(session, plan)
            clock.reset()
            await execute(engine_platform, run.id, attempt=1, max_attempts=1)
            in_statements.append(clock.seconds)
            statements.append(clock.statements)
            async with database.transaction() as session:
                done = await runs.get_run(session, run.id)
            assert done.started_at is not None
            assert done.finished_at is not None
            total = (done.finished_at - done.started_at).total_seconds()
            for step in done.steps:
                assert step.started_at is not None
                assert step.finished_at is not None
                took = (step.finished_at - step.started_at).total_seconds()
                by_step.setdefault(step.name, []).append(took)
                if step.name == "create_storage":
                    total -= took
            costs.append(total)
    finally:
        await database.dispose()
    return {
        "cost": quantiles(costs),
        "in_statements": quantiles(in_statements),
        "statements": statistics.median(statements),
        "steps": {k: statistics.median(v) for k, v in by_step.items()},
    }


def add_tenants(bench_db: BenchDatabase, total: int) -> int:
    """Top the control plane up to ``total`` other tenants (one in ten deleted), so the
    database side shows whether a provisioning costs more among many; returns how many there
    are now."""
    with psycopg.connect(libpq_url(bench_db.owner_url), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM control.tenants").fetchone()
        have = int(row[0]) if row else 0
        if total > have:
            conn.execute(
                "INSERT INTO control.tenants (id, slug, name, state, cell, version)"
                " SELECT gen_random_uuid(), 'other-' || g, 'Other', CASE WHEN g %% 10 = 0"
                " THEN 'deleted' ELSE 'active' END, 'default', 1"
                " FROM generate_series(%s, %s) g",
                (have + 1, total),
            )
            conn.execute("ANALYZE control.tenants")
        row = conn.execute("SELECT count(*) FROM control.tenants").fetchone()
        return int(row[0]) if row else 0


def schema_per_tenant(tenants: int) -> dict[str, Any]:
    """``schema_per_tenant.py`` in its own throwaway environment (Django is no dependency of
    ours), as its docstring runs it; what it measured."""
    uv = shutil.which("uv") or str(Path(__file__).parent.parent / ".tools" / "bin" / "uv")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    script = Path(__file__).parent / "schema_per_tenant.py"
    withs = ["django>=5.1,<5.3", "django-tenants", "psycopg[binary]"]
    command = [uv, "run", "-q", "--no-project", "--python", python]
    command += [arg for package in withs for arg in ("--with", package)]
    command += ["python", str(script), "--tenants", str(tenants), "--json"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def versus_schemas(settings: Settings, rounds: int, tenants: int, runs: int) -> None:
    """The ≥ 30× goal, measured: django-tenants' wall clock per tenant and provisioning's
    database side, one after the other, ``rounds`` times, so both see the machine as it is."""
    print(
        f"\nagainst schema-per-tenant in the same minutes ({tenants} django-tenants tenants, then "
        f"{runs} provisionings, per round):"
    )
    print(
        "| round | CPU calibration s | schema-per-tenant: median / p95 s "
        "| database side: median / p95 ms | ratio of medians |"
    )
    print("| --- | --- | --- | --- | --- |")
    ratios = []
    for i in range(1, rounds + 1):
        schemas = schema_per_tenant(tenants)
        cost = asyncio.run(database_side(settings, runs))["cost"]
        ratios.append(schemas["wall"][0] / cost[0])
        print(
            f"| {i} | {schemas['calibration']:.3f} | {schemas['wall'][0]:.3f} / "
            f"{schemas['wall'][1]:.3f} | {cost[0] * 1000:.1f} / {cost[1] * 1000:.1f} "
            f"| {ratios[-1]:.1f}× |",
            flush=True,
        )
    print(f"ratio of medians: {min(ratios):.1f}–{max(ratios):.1f}× (goal ≥ 30×)")


def main() -> None:
    args = parse_args()
    bench_db = BenchDatabase.from_env(DATABASE)
    app_url, owner_url = bench_db.app_url, bench_db.owner_url
    bench_db.create()
    s3 = LocalS3().start()
    settings = load_settings(
        database_url=app_url,
        database_owner_url=owner_url,
        log_level="WARNING",
        s3_endpoint_url=s3.endpoint_url,
        s3_access_key_id="bench",
        s3_secret_access_key="bench-secret",  # noqa: S106 — moto takes any
        signup_rate_limit_per_minute=0,
    )
    configure_logging(settings)
    # Signups seed from the published catalogue, as after `pmo templates sync`.
    asyncio.run(publish_shipped_packs(settings))
    env = environment(settings, s3, args.concurrency)
    port = free_port("127.0.0.1")
    api = pmo("serve", "--port", str(port), env=env)
    conninfo = libpq_url(app_url)
    try:
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        print(
            f"# {platform.node()} · {os.cpu_count()} CPU · Python {platform.python_version()} · "
            f"{datetime.now(UTC):%Y-%m-%d}; API 1 process, workers × {args.concurrency} runs"
        )
        print(
            "| load | N | workers | signup → active (page) median / p95 / max s "
            "| created → active (server) median / p95 s | service median / p95 s "
            "| tenants/min | wall s | service first / last tenth s | failed |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        loads = [Load(rate=r) for r in args.rates] + [Load(clients=c) for c in args.clients]
        assert s3.process is not None
        pids = {"api": api.pid, "s3": s3.process.pid}
        cpu_rows = []
        for load, n, workers in itertools.product(loads, args.tenants, args.workers):
            r = asyncio.run(one_round(base_url, conninfo, n, workers, load, env, pids))
            cpu = r["cpu"]
            cpu_rows.append(
                f"| {load} | {n} | {workers} | "
                + " | ".join(f"{cpu[k] / n * 1000:.0f}" for k in CPU_PARTS)
                + f" | {sum(cpu[k] for k in CPU_PARTS) / n * 1000:.0f} | {cpu['cores busy']:.2f} |"
            )
            page, srv, svc = r["client"], r["server"], r["service"]
            print(
                f"| {load} | {n} | {workers} | {page[0]:.3f} / {page[1]:.3f} / {page[2]:.3f} "
                f"| {srv[0]:.3f} / {srv[1]:.3f} "
                f"| {svc[0]:.3f} / {svc[1]:.3f} | {r['per_minute']:.0f} | {r['wall']:.1f} "
                f"| {r['first_tenth']:.3f} / {r['last_tenth']:.3f} | {r['failed']} |",
                flush=True,
            )
        if cpu_rows:
            print(
                "\nCPU per tenant, ms (pages = the signup pages, this process):\n| load | N | "
                f"workers | {' | '.join(CPU_PARTS)} | all | cores busy |\n"
                + "| --- " * (len(CPU_PARTS) + 5)
                + "|\n"
                + "\n".join(cpu_rows)
            )
        if args.versus_schemas:
            versus_schemas(settings, args.versus_schemas, args.schema_tenants, args.db_tenants)
        for existing in sorted(set(args.existing_tenants)):
            added = add_tenants(bench_db, existing)
            db = asyncio.run(database_side(settings, args.db_tenants))
            cost = db["cost"]
            print(
                f"\ndatabase side of one provisioning ({args.db_tenants} runs one at a time, "
                f"claimed → finished minus the S3 step; {added:,} tenants in the control plane): "
                f"median {cost[0] * 1000:.1f} ms, p95 {cost[1] * 1000:.1f} ms, "
                f"max {cost[2] * 1000:.1f} ms"
            )
            inside = db["in_statements"]
            print(
                f"inside statements while a run executes: median {inside[0] * 1000:.1f} ms, "
                f"p95 {inside[1] * 1000:.1f} ms ({db['statements']:.0f} statements)"
            )
            print(
                "median per step, ms: "
                + ", ".join(f"{name} {took * 1000:.1f}" for name, took in db["steps"].items())
            )
    finally:
        stop(api)
        s3.stop()
        if not args.keep:
            bench_db.drop()


if __name__ == "__main__":
    main()
