"""Test harness: real PostgreSQL, schemas built by the migrations, one workspace per test.

The server is ``PMO_TEST_DATABASE_URL`` (a superuser URL) when set, else an embedded PostgreSQL.
Databases are copies of one migrated template, made per session (shared, tenant-isolated by
design) or per test (``empty_database_url`` for migration tests); all are dropped at the end.
"""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg import sql
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.app import create_app
from services.config import Settings, load_settings
from services.db import embedded, migrate
from services.db.bootstrap import bootstrap_cell, libpq_url
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.identity import service as identity
from services.identity.models import Role, TokenScope
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from templates_library import catalogue as bridge
from templates_library.loader import PACKS_DIR, load_library, load_pack
from tests.tiny_pack import MANIFEST, VERSION, PackData, write_yaml

RUN_ID = secrets.token_hex(3)


@dataclass(frozen=True)
class PgServer:
    admin_url: str  # libpq URL of a superuser on the server

    def url(self, database: str, user: str = "pmo_app") -> str:
        """SQLAlchemy URL for ``database`` as ``user``."""
        url = make_url(self.admin_url).set(
            drivername="postgresql+psycopg", username=user, password=None, database=database
        )
        return url.render_as_string(hide_password=False)

    def execute(self, statement: sql.Composable | str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def copy_database(self, name: str, template: str) -> str:
        self.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER pmo_owner").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        grant = sql.SQL("GRANT CONNECT ON DATABASE {} TO pmo_app")
        self.execute(grant.format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    url = os.environ.get("PMO_TEST_DATABASE_URL")
    if url:
        yield PgServer(libpq_url(url))
        return
    # Not under pytest's tmp: its 0700 folders are closed to the `pgserver` user when root.
    data_dir = Path(".pmo") / f"test-pg-{RUN_ID}"
    server = embedded.start(data_dir, delete_on_stop=True)
    try:
        yield PgServer(server.admin_url)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def created_databases(pg_server: PgServer) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in reversed(names):
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer, created_databases: list[str]) -> str:
    """A database built by the migrations (never create_all), copied for each use."""
    name = f"pmo_test_{RUN_ID}_template"
    app_url, owner_url = pg_server.url(name), pg_server.url(name, "pmo_owner")
    bootstrap_cell(pg_server.admin_url, app_url, owner_url)
    created_databases.append(name)
    migrate.upgrade(owner_url)
    # As `pmo templates sync` does after a deploy: signups seed from the published catalogue.
    asyncio.run(_publish_shipped_packs(app_url))
    return name


async def _publish_shipped_packs(app_url: str) -> None:
    db = Database(load_settings(env="test", database_url=app_url, log_level="WARNING"))
    try:
        async with db.transaction() as session:
            report = await bridge.sync(session, load_library(), PACKS_DIR)
        assert not report.problems, report.problems
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def settings(pg_server: PgServer, migrated_template: str, created_databases: list[str]) -> Settings:
    main = pg_server.copy_database(f"pmo_test_{RUN_ID}_main", migrated_template)
    eu = pg_server.copy_database(f"pmo_test_{RUN_ID}_eu", migrated_template)
    created_databases.extend([main, eu])
    return load_settings(
        env="test",
        database_url=pg_server.url(main),
        database_owner_url=pg_server.url(main, "pmo_owner"),
        database_admin_url=pg_server.admin_url,
        cells={"eu": pg_server.url(eu)},
        db_pool_size=5,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    async with db.transaction() as session:
        await tenancy.sync_cells(session, settings)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, database: Database) -> Litestar:
    return create_app(settings, database)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
def empty_database_url(pg_server: PgServer, created_databases: list[str]) -> str:
    """An empty database with the roles set up; returns the owner's URL."""
    name = f"pmo_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    bootstrap_cell(pg_server.admin_url, pg_server.url(name), pg_server.url(name, "pmo_owner"))
    created_databases.append(name)
    return pg_server.url(name, "pmo_owner")


@dataclass(frozen=True)
class Workspace:
    """A tenant with one user in it and that user's token."""

    slug: str
    tenant_id: uuid.UUID
    cell: str
    user_id: uuid.UUID
    email: str
    token: str
    token_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def programmes(self) -> str:
        return f"/api/v1/w/{self.slug}/programmes"


MakeWorkspace = Callable[..., Awaitable[Workspace]]


def unique_slug(prefix: str = "org") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    headers: dict[str, str]


async def join(database: Database, ws: Workspace, role: Role = Role.MEMBER) -> Member:
    """Another person in ``ws`` with a token of their own."""
    async with database.transaction() as session:
        user = await identity.create_user(session, f"{uuid.uuid4().hex[:12]}@example.org")
        await identity.grant_membership(session, user.id, ws.tenant_id, role)
        _, secret = await identity.issue_token(session, user.id, name="test")
    return Member(user.id, {"Authorization": f"Bearer {secret}"})


@pytest.fixture(scope="session")
def make_workspace(database: Database) -> MakeWorkspace:
    async def make(
        role: Role = Role.OWNER,
        *,
        cell: str = "default",
        state: TenantState = TenantState.ACTIVE,
        scopes: frozenset[TokenScope] = frozenset(TokenScope),
        token_tenant_bound: bool = False,
        expires_in: timedelta | None = None,
    ) -> Workspace:
        async with database.transaction() as session:
            tenant = await tenancy.create_tenant(
                session, slug=unique_slug(), name="Test Organisation", cell=cell, state=state
            )
            user = await identity.create_user(session, f"{uuid.uuid4().hex[:12]}@example.org")
            await identity.grant_membership(session, user.id, tenant.id, role)
            token, secret = await identity.issue_token(
                session,
                user.id,
                name="test",
                tenant_id=tenant.id if token_tenant_bound else None,
                scopes=scopes,
                expires_in=expires_in,
            )
            return Workspace(
                tenant.slug, tenant.id, tenant.cell, user.id, user.email, secret, token.id
            )

    return make


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn in a thread (for clients that need a real socket)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# --- template packs in workspaces ----------------------------------------------------------------

PublishPack = Callable[..., Awaitable[str]]


@pytest.fixture(scope="session")
async def shipped_catalogue(database: Database) -> None:
    """The shipped packs published in the test catalogue (syncing again changes nothing)."""
    async with database.transaction() as session:
        await bridge.sync(session, load_library(), PACKS_DIR)


@pytest.fixture
def publish_pack(database: Database, tmp_path: Path) -> PublishPack:
    """Publish versions of the tiny pack under a key of its own; each argument changes the
    tiny version into one release (None: the tiny version as it is). Returns the key."""

    async def publish(*changes: Callable[[PackData], object] | None) -> str:
        key = f"tiny-{uuid.uuid4().hex[:8]}"
        root = tmp_path / "published"
        write_yaml(root / key / "pack.yaml", {**MANIFEST, "key": key})
        for change in changes or (None,):
            data = copy.deepcopy(VERSION)
            if change is not None:
                change(data)
            write_yaml(root / key / f"{data['version']}.yaml", data)
        async with database.transaction() as session:
            report = await bridge.sync(session, [load_pack(root / key)], root)
        assert not report.problems, report.problems
        return key

    return publish


@asynccontextmanager
async def in_workspace(database: Database, tenant_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to the workspace (committed on success)."""
    async with database.transaction(scope=TenantScope.single(tenant_id)) as session:
        yield session


async def lock_waits(session: AsyncSession) -> int:
    """How many sessions wait on a lock in this run's database (``session``'s: another run's
    tests on the same server would release a row before these requests queue on it), read
    afresh: a transaction otherwise keeps the activity it read first."""
    await session.execute(select(func.pg_stat_clear_snapshot()))
    found = await session.scalar(
        select(func.count())
        .select_from(text("pg_stat_activity"))
        .where(text("datname = current_database() AND wait_event_type = 'Lock'"))
    )
    return int(found or 0)


@contextmanager
def failing_pin_moves(
    pg_server: PgServer, settings: Settings, tenant_id: uuid.UUID
) -> Iterator[None]:
    """A trigger that fails the last write of an upgrade (moving the pin) for one tenant."""
    assert settings.database_url is not None
    database = make_url(settings.database_url).database
    admin = libpq_url(make_url(pg_server.admin_url).set(database=database).render_as_string(False))
    name = f"fail_pin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            f"CREATE FUNCTION workspace.{name}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
        )
        conn.execute(
            f"CREATE TRIGGER {name} BEFORE UPDATE ON workspace.template_pins FOR EACH ROW "
            f"WHEN (NEW.tenant_id = '{tenant_id}') EXECUTE FUNCTION workspace.{name}()"
        )
        try:
            yield
        finally:
            conn.execute(f"DROP TRIGGER {name} ON workspace.template_pins")
            conn.execute(f"DROP FUNCTION workspace.{name}()")
