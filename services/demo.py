"""`pmo demo`: the platform on one machine with no set-up.

Without ``PMO_DATABASE_URL`` (or with the one a demo printed, pointing at its own embedded
server) it starts an embedded PostgreSQL under ``PMO_DATA_DIR`` (``./.pmo``), creates roles,
migrates, makes a demo workspace, user and token, and serves on 127.0.0.1. Everything stops
cleanly on Ctrl-C or SIGTERM; the next run reuses its data.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click
import httpx
import uvicorn
from sqlalchemy import update
from sqlalchemy.engine import make_url

from services.app import create_app
from services.config import Settings, load_settings, without_password
from services.db import embedded, migrate
from services.db.base import utcnow
from services.db.bootstrap import bootstrap_cell
from services.db.engine import Database
from services.db.tenant_scope import TenantScope
from services.identity import service as identity
from services.identity.models import ApiToken, Role
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from services.workspace.structure.service import ProgrammeFilter, ProgrammeService

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@pmo.local"


@dataclass(frozen=True)
class DemoCredentials:
    slug: str
    email: str
    token: str


def prepare_database(settings: Settings) -> None:
    """Roles, databases and migrations on every cell (idempotent)."""
    for url in settings.cell_urls().values():
        bootstrap_cell(settings.admin_url(url), url, settings.owner_url(url))
        migrate.upgrade(settings.owner_url(url))


async def ensure_demo_workspace(settings: Settings) -> DemoCredentials:
    database = Database(settings)
    try:
        async with database.transaction() as session:
            await tenancy.sync_cells(session, settings)
            tenant = await tenancy.get_by_slug(session, DEMO_SLUG)
            if tenant is None:
                tenant = await tenancy.create_tenant(
                    session, slug=DEMO_SLUG, name="Demo Organisation", state=TenantState.ACTIVE
                )
            user = await identity.get_user_by_email(session, DEMO_EMAIL)
            if user is None:
                user = await identity.create_user(session, DEMO_EMAIL, "Demo Owner")
            await identity.grant_membership(session, user.id, tenant.id, Role.OWNER)
            # One live demo token at a time: each run prints a fresh one.
            await session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.name == "demo")
                .where(ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            _, secret = await identity.issue_token(
                session, user.id, name="demo", tenant_id=tenant.id
            )
            tenant_id, cell, user_id = tenant.id, tenant.cell, user.id
        async with database.transaction(cell, TenantScope.single(tenant_id)) as session:
            service = ProgrammeService(session, user_id)
            if (await service.list(ProgrammeFilter(), 1, 0))[1] == 0:
                await service.create(
                    name="Digital Services Transformation",
                    description="Move citizen-facing services online in three tranches.",
                    start_date=date.today(),
                )
        return DemoCredentials(DEMO_SLUG, DEMO_EMAIL, secret)
    finally:
        await database.dispose()


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def api_server(settings: Settings, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=port, log_config=None, access_log=False
    )
    return uvicorn.Server(config)


async def smoke_check(base_url: str, credentials: DemoCredentials) -> list[str]:
    """Readiness plus one authenticated read and write; returns the failures."""
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {credentials.token}"}
    programmes = f"{base_url}/api/v1/w/{credentials.slug}/programmes"
    async with httpx.AsyncClient(timeout=10) as client:
        ready = await client.get(f"{base_url}/health/ready")
        if ready.status_code != 200:
            failures.append(f"/health/ready answered {ready.status_code}: {ready.text}")
        listed = await client.get(programmes, headers=headers)
        if listed.status_code != 200 or listed.json().get("total", 0) < 1:
            failures.append(f"listing programmes answered {listed.status_code}: {listed.text}")
        created = await client.post(programmes, headers=headers, json={"name": "Smoke check"})
        if created.status_code != 201:
            failures.append(f"creating a programme answered {created.status_code}")
        else:
            gone = await client.delete(f"{programmes}/{created.json()['id']}", headers=headers)
            if gone.status_code != 204:
                failures.append(f"deleting the smoke programme answered {gone.status_code}")
        anonymous = await client.get(programmes)
        if anonymous.status_code != 401:
            failures.append(f"an anonymous request answered {anonymous.status_code}, not 401")
    return failures


async def _smoke(settings: Settings, credentials: DemoCredentials) -> int:
    server = api_server(settings, free_port(settings.host))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            click.echo("smoke: the server did not start", err=True)
            return 1
        await asyncio.sleep(0.05)
    try:
        failures = await smoke_check(f"http://{settings.host}:{server.config.port}", credentials)
    finally:
        server.should_exit = True
        await task
    for failure in failures:
        click.echo(f"smoke: FAIL {failure}", err=True)
    click.echo("smoke: ok" if not failures else f"smoke: {len(failures)} failure(s)")
    return 0 if not failures else 1


# The signals that stopped the demo (one process runs one demo).
_received: list[int] = []
# While the embedded PostgreSQL starts, a signal is only recorded: stopping there would leave a
# server running that the demo has no handle on yet. It is acted on once the server is up.
_starting_database: list[bool] = []


def _stop(signum: int, _frame: object) -> None:
    if _received:
        return  # already stopping: a second Ctrl-C must not interrupt the database's shutdown
    _received.append(signum)
    if _starting_database:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # Synchronous start-up (migrations, catalogue): unwind through the `finally` blocks.
        raise SystemExit(0) from None
    # In the event loop: uvicorn has shut the server down and passes the signal on. Returning
    # lets `serve()` end normally; raising here would leave SystemExit in a task, which asyncio
    # reports ("Task exception was never retrieved") with a traceback long after the demo ended.


def exit_cleanly_on_signals() -> None:
    """Ctrl-C and SIGTERM end the demo through its ordinary path, so the database stops.

    Installed first thing: uvicorn shuts down gracefully on these signals, then re-raises them
    to the handler that was installed before it; with the default handlers the process would
    die (SIGTERM) or raise KeyboardInterrupt in a task (SIGINT) before the embedded PostgreSQL
    is stopped. And a demo started from a script in the background inherits SIGINT ignored:
    it would ignore Ctrl-C until its own handler came.
    """
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def stop_requested() -> bool:
    """Whether Ctrl-C or SIGTERM has asked the demo to stop."""
    return bool(_received)


def stop_if_requested() -> None:
    """Between start-up steps: a signal that came while an event loop ran (where the handler
    only records it) ends the demo now, through the ``finally`` blocks."""
    if _received:
        raise SystemExit(0)


def is_embedded_socket(database_url: str, data_dir: Path) -> bool:
    """Whether ``database_url`` reaches the embedded server whose data is in ``data_dir``.

    That is the URL a demo prints for operators to export; it is left in the shell after the
    demo stops, and must not stop the next demo from starting its database again.
    """
    url = make_url(database_url)
    host = url.query.get("host") or url.host or ""
    if isinstance(host, tuple):
        host = host[0] if host else ""
    return host.startswith("/") and Path(host).resolve() == (data_dir / "pgdata").resolve()


def with_embedded_database(settings: Settings) -> tuple[Settings, embedded.EmbeddedPostgres | None]:
    """Start the embedded PostgreSQL and point settings at it, unless ``PMO_DATABASE_URL`` names
    another server (then the demo uses that one)."""
    inherited = settings.database_url
    if inherited is not None and not is_embedded_socket(inherited, settings.data_dir):
        click.echo(
            f"using PMO_DATABASE_URL ({without_password(inherited)}), not the embedded "
            "PostgreSQL (unset it to use the embedded one)",
            err=True,
        )
        return settings, None
    _starting_database.append(True)
    try:
        click.echo(f"starting embedded PostgreSQL in {settings.data_dir / 'pgdata'} …", err=True)
        database = embedded.start(settings.data_dir)
    finally:
        _starting_database.clear()
    if _received:  # asked to stop while it started: stop it whole
        database.stop()
        click.echo("embedded PostgreSQL stopped", err=True)
        raise SystemExit(0)
    settings = load_settings(
        database_url=database.database_url(),
        database_admin_url=database.admin_url,
        database_owner_url=database.database_url(user="pmo_owner"),
    )
    return settings, database


def run_demo(settings: Settings, *, smoke: bool = False) -> int:
    exit_cleanly_on_signals()
    settings, database = with_embedded_database(settings)
    try:
        prepare_database(settings)
        credentials = asyncio.run(ensure_demo_workspace(settings))
        stop_if_requested()
        if smoke:
            return asyncio.run(_smoke(settings, credentials))
        base = f"http://{settings.host}:{settings.port}"
        click.echo(
            "\nPMO Cloud demo\n"
            f"  API            {base}/api/v1/w/{credentials.slug}/programmes\n"
            f"  API docs       {base}/schema\n"
            f"  workspace      {credentials.slug}  (owner {credentials.email})\n"
            f"  token          {credentials.token}\n\n"
            f'  try: curl -H "Authorization: Bearer {credentials.token}" '
            f"{base}/api/v1/w/{credentials.slug}/programmes\n\n"
            "Ctrl-C stops the platform (and its database).\n"
        )
        sys.stdout.flush()
        with contextlib.suppress(SystemExit):
            asyncio.run(api_server(settings, settings.port).serve())
        return 0
    finally:
        if database is not None:
            database.stop()
            click.echo("embedded PostgreSQL stopped", err=True)


__all__ = ["run_demo"]
