"""`pmo demo`: the whole platform on one machine — now with S3, workers and real signups.

It starts the embedded PostgreSQL (unless ``PMO_DATABASE_URL`` is set) and moto's S3 server on
loopback, serves the API with a worker in the same process, and signs up two demo clients
through the public signup API — the path a real client takes — then prints their slugs and
tokens. Runs are idempotent (fixed ``Idempotency-Key``s), so the next start finds the same
clients. moto keeps S3 in memory, so each start makes the clients' storage prefixes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import click
import httpx
from sqlalchemy import update

from provisioning.local_s3 import LocalS3
from provisioning.worker import run_worker
from services.cli import handles_errors, settings_from_env
from services.config import Settings
from services.db.base import utcnow
from services.db.engine import Database
from services.demo import (
    DemoCredentials,
    api_server,
    exit_cleanly_on_signals,
    free_port,
    prepare_database,
    smoke_check,
    stop_if_requested,
    stop_requested,
    with_embedded_database,
)
from services.identity import service as identity
from services.identity.models import ApiToken
from services.storage.service import Storage
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from templates_library.catalogue import sync as sync_catalogue
from templates_library.loader import PACKS_DIR, load_library

PROVISIONING_TIMEOUT = 60.0


@dataclass(frozen=True)
class DemoClient:
    slug: str
    organisation: str
    email: str
    plan: str
    pack: str
    programme: str

    def signup(self) -> dict[str, str]:
        return {
            "organisation_name": self.organisation,
            "slug": self.slug,
            "admin_email": self.email,
            "plan": self.plan,
            "template_pack": self.pack,
            "programme_name": self.programme,
            "start_date": date.today().isoformat(),
        }


DEMO_CLIENTS = (
    DemoClient(
        slug="northwind",
        organisation="Northwind Health Trust",
        email="owner@northwind.example",
        plan="professional",
        pack="msp-governance",
        programme="Digital Patient Services",
    ),
    DemoClient(
        slug="contoso-rail",
        organisation="Contoso Rail",
        email="owner@contoso-rail.example",
        plan="starter",
        pack="transformation-tranches",
        programme="Network Modernisation",
    ),
)


@dataclass(frozen=True)
class Provisioned:
    client: DemoClient
    run_id: str
    token: str

    @property
    def credentials(self) -> DemoCredentials:
        return DemoCredentials(self.client.slug, self.client.email, self.token)


class Stopped(Exception):
    """The demo was asked to stop (Ctrl-C, SIGTERM) before its clients were signed up."""


async def sign_up(
    base_url: str, client: DemoClient, stopping: Callable[[], bool] = lambda: False
) -> str:
    """The public signup, then polling the run until it is done; returns the run id.

    Raises :class:`Stopped` once ``stopping()`` says the server is going away (its answers
    stop, and that is no error)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        try:
            answer = await http.post(
                "/api/v1/signups",
                json=client.signup(),
                headers={"Idempotency-Key": f"demo-signup-{client.slug}"},
            )
            if answer.status_code != 202:
                raise click.ClickException(f"signing up {client.slug}: {answer.text}")
            status_url = answer.json()["status_url"]
            deadline = time.monotonic() + PROVISIONING_TIMEOUT
            while time.monotonic() < deadline and not stopping():
                run = (await http.get(status_url)).json()
                if run["state"] == "succeeded":
                    return str(run["id"])
                if run["state"] == "failed":
                    # The public status says it in plain words; the error is for staff.
                    raise click.ClickException(
                        f"provisioning {client.slug} failed: {run['error']} (the error: "
                        f"pmo provisioning show {run['id']})"
                    )
                await asyncio.sleep(0.1)
        except httpx.TransportError:
            if not stopping():
                raise
    if stopping():
        raise Stopped
    raise click.ClickException(f"provisioning {client.slug} did not finish in time")


async def offboarded(settings: Settings, clients: Sequence[DemoClient]) -> set[str]:
    """The demo clients someone offboarded: a deleted workspace keeps its slug for the record."""
    database = Database(settings)
    try:
        async with database.transaction() as session:
            tenants = [await tenancy.get_by_slug(session, c.slug) for c in clients]
    finally:
        await database.dispose()
    gone = (TenantState.OFFBOARDING, TenantState.DELETED)
    return {t.slug for t in tenants if t is not None and t.state in gone}


async def demo_token(settings: Settings, client: DemoClient) -> str:
    """A fresh token for the client's owner (one live demo token each: older ones are revoked)."""
    database = Database(settings)
    try:
        async with database.transaction() as session:
            user = await identity.require_user(session, client.email)
            tenant = await tenancy.require_by_slug(session, client.slug)
            await session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user.id, ApiToken.name == "demo")
                .where(ApiToken.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            _, secret = await identity.issue_token(
                session, user.id, name="demo", tenant_id=tenant.id
            )
            # moto forgets everything when it stops: the prefix is made again (idempotent).
            await Storage(settings).ensure_tenant_prefix(tenant.id, tenant.slug, "demo-start")
            return secret
    finally:
        await database.dispose()


async def check_provisioned(base_url: str, settings: Settings, done: Provisioned) -> list[str]:
    """A provisioned client: active, its programme seeded, its storage prefix there."""
    failures: list[str] = []
    slug, headers = done.client.slug, {"Authorization": f"Bearer {done.token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        run = (await http.get(f"/api/v1/provisioning-runs/{done.run_id}")).json()
        if run.get("state") != "succeeded" or run["progress"]["done"] != run["progress"]["total"]:
            failures.append(f"{slug}: run {done.run_id} is {run.get('state')}")
        ws = await http.get(f"/api/v1/w/{slug}/settings", headers=headers)
        if ws.status_code != 200 or ws.json().get("state") != "active":
            failures.append(f"{slug}: workspace answered {ws.status_code}: {ws.text}")
        listed = await http.get(f"/api/v1/w/{slug}/programmes", headers=headers)
        names = {p["name"] for p in listed.json().get("items", [])} if listed.is_success else set()
        if done.client.programme not in names:
            failures.append(f"{slug}: the seeded programme is missing ({listed.status_code})")
    database = Database(settings)
    try:
        async with database.transaction() as session:
            tenant = await tenancy.require_by_slug(session, slug)
        if await Storage(settings).find(f"tenants/{tenant.id}/") is None:
            failures.append(f"{slug}: no storage prefix")
    finally:
        await database.dispose()
    return failures


async def _platform(settings: Settings, s3: LocalS3, smoke: bool) -> int:
    port = free_port(settings.host) if smoke else settings.port
    base_url = f"http://{settings.host}:{port}"
    server = api_server(settings, port)
    serving = asyncio.create_task(server.serve())
    worker = asyncio.create_task(run_worker(settings, concurrency=2, name="demo-worker"))
    try:

        def stopping() -> bool:
            return bool(server.should_exit) or serving.done() or stop_requested()

        while not server.started:
            if stop_requested():  # before uvicorn took the signals over
                return 0
            if serving.done():
                click.echo("demo: the server did not start", err=True)
                return 1
            await asyncio.sleep(0.05)
        provisioned = []

        gone = await offboarded(settings, DEMO_CLIENTS)
        for client in DEMO_CLIENTS:
            if client.slug in gone:
                click.echo(
                    f"demo: {client.slug} was offboarded and keeps its slug, so it is not signed "
                    f"up again (remove {settings.data_dir}/ to start afresh)",
                    err=True,
                )
                continue
            try:
                run_id = await sign_up(base_url, client, stopping)
            except Stopped:
                click.echo("demo: stopped before the demo clients were signed up", err=True)
                return 0
            provisioned.append(Provisioned(client, run_id, await demo_token(settings, client)))
        if smoke:
            if not provisioned:
                click.echo("smoke: FAIL no demo client to check", err=True)
                return 1
            failures = await smoke_check(base_url, provisioned[0].credentials)
            for done in provisioned:
                failures += await check_provisioned(base_url, settings, done)
            for failure in failures:
                click.echo(f"smoke: FAIL {failure}", err=True)
            click.echo("smoke: ok" if not failures else f"smoke: {len(failures)} failure(s)")
            return 0 if not failures else 1
        _banner(base_url, s3, provisioned, settings.database_url)
        await serving  # until Ctrl-C / SIGTERM
        return 0
    finally:
        server.should_exit = True
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        with contextlib.suppress(asyncio.CancelledError):
            await serving


def _banner(
    base_url: str, s3: LocalS3, provisioned: list[Provisioned], database_url: str | None
) -> None:
    lines = [
        "",
        "PMO Cloud demo",
        f"  API docs       {base_url}/schema",
        f"  S3 (moto)      {s3.endpoint_url}",
        "  worker         in this process",
    ]
    for done in provisioned:
        client = done.client
        lines += [
            "",
            f"  client         {client.slug}  ({client.organisation}, owner {client.email}, "
            f"pack {client.pack})",
            f"  run            {base_url}/api/v1/provisioning-runs/{done.run_id}",
            f"  token          {done.token}",
        ]
    if provisioned:
        first = provisioned[0]
        lines += [
            "",
            f'  try: curl -H "Authorization: Bearer {first.token}" '
            f"{base_url}/api/v1/w/{first.client.slug}/programmes",
        ]
    lines += [
        "",
        # The operator's commands (runs, invitations, templates) from another shell.
        f"  operate it:  export PMO_DATABASE_URL='{database_url}'",
        "               then e.g. .venv/bin/pmo provisioning list  (every command: pmo --help)",
        "",
        "Ctrl-C stops the platform (and its database).",
        "",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()


async def publish_shipped_packs(settings: Settings) -> None:
    """Publish the shipped template packs (signups seed from the catalogue); idempotent."""
    database = Database(settings)
    try:
        async with database.transaction() as session:
            report = await sync_catalogue(session, load_library(), PACKS_DIR)
        for problem in report.problems:
            click.echo(f"templates: {problem}", err=True)
    finally:
        await database.dispose()


def run_demo(settings: Settings, *, smoke: bool = False) -> int:
    exit_cleanly_on_signals()
    settings, database = with_embedded_database(settings)
    s3 = LocalS3()
    try:
        click.echo("starting S3 (moto) on loopback …", err=True)
        s3.start()
        settings = settings.model_copy(
            update={
                "s3_endpoint_url": s3.endpoint_url,
                "s3_access_key_id": "demo",
                "s3_secret_access_key": "demo-secret",
            }
        )
        prepare_database(settings)
        asyncio.run(publish_shipped_packs(settings))
        stop_if_requested()
        with contextlib.suppress(SystemExit):
            return asyncio.run(_platform(settings, s3, smoke))
        return 0
    finally:
        s3.stop()
        if database is not None:
            database.stop()
            click.echo("embedded PostgreSQL stopped", err=True)


@click.command(name="demo")
@click.option("--smoke", is_flag=True, help="Start, provision, check, then exit 0/1.")
@handles_errors
def demo_command(smoke: bool) -> None:
    """The whole platform on this machine with no set-up: PostgreSQL, S3, API, worker, clients."""
    sys.exit(run_demo(settings_from_env(), smoke=smoke))
