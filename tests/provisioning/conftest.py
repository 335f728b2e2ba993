"""Provisioning against real parts: PostgreSQL copies made by the migrations, moto's S3 server
as a child process, and workers — in this process, or as `pmo worker` processes to kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from provisioning.local_s3 import LocalS3
from provisioning.steps import invitation_secret
from provisioning.worker import run_worker
from services.app import create_app
from services.config import Settings, load_settings
from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import StaffRole
from services.provisioning_runs import service as runs
from services.provisioning_runs.models import ProvisioningRun, RunState
from services.storage.service import Storage
from services.tenancy import service as tenancy
from tests.conftest import RUN_ID, PgServer

SIGNUP = "/api/v1/signups"
# Fast clocks: a silent worker is dead after 1.5 s; retries start at 0.2 s.
FAST = {
    "worker_heartbeat_seconds": 0.3,
    "worker_stalled_seconds": 1.5,
    "provisioning_retry_seconds": 0.2,
    "provisioning_max_attempts": 4,
    "signup_rate_limit_per_minute": 0,
}


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    s3 = LocalS3().start()
    yield s3
    s3.stop()


@dataclass
class Env:
    """One isolated platform: its own databases (control + a second cell) and bucket."""

    settings: Settings
    pg: PgServer

    def with_(self, **changes: Any) -> Settings:
        return self.settings.model_copy(update=changes)

    def process_env(self, **changes: Any) -> dict[str, str]:
        """``PMO_*`` variables for a `pmo` child process with these settings (plus changes)."""
        settings = self.with_(**changes)
        values: dict[str, Any] = {
            "database_url": settings.database_url,
            "database_owner_url": settings.database_owner_url,
            "database_admin_url": settings.database_admin_url,
            "cells": ";".join(f"{k}={v}" for k, v in settings.cells.items()),
            "env": settings.env.value,
            "log_level": "WARNING",
            "log_format": "console",
            "s3_endpoint_url": settings.s3_endpoint_url,
            "s3_bucket": settings.s3_bucket,
            "s3_access_key_id": settings.s3_access_key_id,
            "s3_secret_access_key": settings.s3_secret_access_key,
            "worker_heartbeat_seconds": settings.worker_heartbeat_seconds,
            "worker_stalled_seconds": settings.worker_stalled_seconds,
            "provisioning_retry_seconds": settings.provisioning_retry_seconds,
            "provisioning_max_attempts": settings.provisioning_max_attempts,
            "provisioning_fault": settings.provisioning_fault or "",
            "worker_concurrency": settings.worker_concurrency,
            "signup_rate_limit_per_minute": settings.signup_rate_limit_per_minute,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMO_")}
        env.update({f"PMO_{k.upper()}": str(v) for k, v in values.items() if v is not None})
        return env


def make_env(pg_server: PgServer, template: str, created: list[str], s3: LocalS3) -> Env:
    tag = uuid.uuid4().hex[:8]
    main = pg_server.copy_database(f"pmo_test_{RUN_ID}_prov_{tag}", template)
    eu = pg_server.copy_database(f"pmo_test_{RUN_ID}_prov_{tag}_eu", template)
    created.extend([main, eu])
    settings = load_settings(
        env="test",
        database_url=pg_server.url(main),
        database_owner_url=pg_server.url(main, "pmo_owner"),
        database_admin_url=pg_server.admin_url,
        cells={"eu": pg_server.url(eu)},
        db_pool_size=5,
        log_level="WARNING",
        s3_endpoint_url=s3.endpoint_url,
        s3_bucket=f"pmo-test-{tag}",
        s3_access_key_id="test",
        s3_secret_access_key="test-secret",
        **FAST,
    )
    return Env(settings, pg_server)


@pytest.fixture
def isolated(
    pg_server: PgServer, migrated_template: str, created_databases: list[str], local_s3: LocalS3
) -> Env:
    """A platform of its own, for tests that run and kill worker processes."""
    return make_env(pg_server, migrated_template, created_databases, local_s3)


@pytest.fixture(scope="session")
def shared(
    pg_server: PgServer, migrated_template: str, created_databases: list[str], local_s3: LocalS3
) -> Env:
    """The platform the in-process worker serves (API-level tests)."""
    return make_env(pg_server, migrated_template, created_databases, local_s3)


@pytest.fixture(scope="session")
async def shared_database(shared: Env) -> AsyncIterator[Database]:
    db = Database(shared.settings)
    async with db.transaction() as session:
        await tenancy.sync_cells(session, shared.settings)
    yield db
    await db.dispose()


@contextlib.asynccontextmanager
async def worker_in_process(settings: Settings, **options: Any) -> AsyncIterator[None]:
    """``run_worker`` in this process (with ``options``), from ready to cancelled."""
    started = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, started=started, **options))
    try:
        await asyncio.wait_for(started.wait(), 60)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(scope="session")
async def worker(shared: Env, shared_database: Database) -> AsyncIterator[None]:
    """A worker in this process, for the whole session."""
    async with worker_in_process(shared.settings, concurrency=4, name="test-worker"):
        yield


@pytest.fixture(scope="session")
async def shared_client(
    shared: Env, shared_database: Database
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(shared.settings, shared_database)) as client:
        yield client


def signup_body(**changes: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "organisation_name": f"Org {tag}",
        "slug": f"org-{tag}",
        "admin_email": f"admin-{tag}@example.org",
        "plan": "trial",
        "template_pack": "msp-governance",
        "programme_name": "Net Zero 2030",
        "start_date": "2027-01-04",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def wait_for_run(
    database: Database,
    run_id: uuid.UUID | str,
    done: Callable[[ProvisioningRun], bool] = lambda r: not r.state.is_active,
    within: float = 30,
) -> ProvisioningRun:
    """Poll the run until ``done`` (default: it has finished)."""
    deadline = time.monotonic() + within
    while True:
        async with database.transaction() as session:
            run = await runs.get_run(session, uuid.UUID(str(run_id)))
        if done(run):
            return run
        if time.monotonic() > deadline:
            steps = [(s.name, s.state.value, s.attempts, s.error) for s in run.steps]
            raise AssertionError(f"run {run_id} is {run.state} ({run.error}); steps {steps}")
        await asyncio.sleep(0.05)


def succeeded(run: ProvisioningRun) -> bool:
    return run.state is RunState.SUCCEEDED


async def owner_headers(settings: Settings, run_id: uuid.UUID | str) -> dict[str, str]:
    """The admin's invitation token, as the platform would deliver it (from the run: its
    nonce is part of it)."""
    database = Database(settings)
    try:
        async with database.transaction() as session:
            run = await runs.get_run(session, uuid.UUID(str(run_id)))
    finally:
        await database.dispose()
    return {"Authorization": f"Bearer {invitation_secret(settings, run)}"}


async def provisioned(
    client: AsyncTestClient[Litestar], database: Database, env: Env, **signup: Any
) -> tuple[str, dict[str, str]]:
    """A workspace made by a real signup (``signup`` changes its body); its slug and its
    owner's headers."""
    body = signup_body(**signup)
    answer = await client.post(SIGNUP, json=body)
    await wait_for_run(database, answer.json()["run_id"], succeeded)
    return body["slug"], await owner_headers(env.settings, answer.json()["run_id"])


async def platform_admin_headers(database: Database) -> dict[str, str]:
    async with database.transaction() as session:
        user = await identity.create_user(
            session, f"ops-{uuid.uuid4().hex[:8]}@pmo.example", staff_role=StaffRole.PLATFORM_ADMIN
        )
        _, secret = await identity.issue_token(session, user.id, name="ops")
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class WorkerProcess:
    """A worker whose output goes to a file: a pipe nobody reads fills up (64 KiB of log
    lines) and then blocks the worker's writes, and with them its heartbeat and its runs."""

    process: subprocess.Popen[str]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(isolated: Env, tmp_path: Path) -> Iterator[StartWorker]:
    """`pmo worker` processes on the isolated platform; all stopped at the end."""
    started: list[WorkerProcess] = []

    def start(concurrency: int = 2, queue: str | None = None, **changes: Any) -> WorkerProcess:
        command = [sys.executable, "-m", "services", "worker", "--concurrency", str(concurrency)]
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                command + (["--queue", queue] if queue else []),
                env=isolated.process_env(**changes),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        started.append(WorkerProcess(process, log))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def isolated_database(isolated: Env) -> AsyncIterator[Database]:
    db = Database(isolated.settings)
    async with db.transaction() as session:
        await tenancy.sync_cells(session, isolated.settings)
    yield db
    await db.dispose()


@pytest.fixture
async def isolated_client(
    isolated: Env, isolated_database: Database
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(isolated.settings, isolated_database)) as client:
        yield client


def superuser_count(pg: PgServer, url: str, query: str, *params: Any) -> int:
    """A count as the superuser (no row-level security): what is really in the database."""
    admin = make_url(pg.admin_url).set(database=make_url(url).database)
    with psycopg.connect(admin.render_as_string(hide_password=False)) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[call-overload]
        return int(row[0]) if row else 0


async def objects_under(settings: Settings, prefix: str) -> list[str]:
    return await Storage(settings).keys(prefix)
