"""The ``pmo`` command: run, operate and set up the platform.

Other packages add command groups through the ``pmo.commands`` entry point group, so this module
never imports them (``services`` does not depend on ``provisioning``). An entry point with the
name of a core command replaces it: ``provisioning`` brings ``worker``, ``provisioning`` and the
full ``demo``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import wraps
from importlib.metadata import entry_points
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from click.core import ParameterSource

from services.config import ConfigError, Settings, load_settings
from services.errors import ProblemError
from services.logging import configure_logging

P = ParamSpec("P")
R = TypeVar("R")


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def settings_from_env() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one line on stderr and a non-zero exit, not a traceback."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"configuration error: {exc}", err=True)
            sys.exit(2)
        except ProblemError as exc:
            detail = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or [])
            _fail(f"{exc.detail}{f' ({detail})' if detail else ''}")
            raise  # unreachable; keeps type checkers content

    return wrapper


def run_async(coro: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(coro)


def unreachable_database(exc: BaseException) -> str | None:
    """If ``exc`` (or what caused it) is a failed connection, one line saying which database
    could not be reached (without its password), why, and what to check."""
    import psycopg

    seen: BaseException | None = exc
    while seen is not None:
        # A connection attempt's error carries the connection's parameters and no SQLSTATE;
        # errors raised by statements (a timeout, a deadlock) carry one and are not this.
        if isinstance(seen, psycopg.OperationalError) and seen.sqlstate is None:
            break
        seen = seen.__cause__ or seen.__context__
    else:
        return None
    assert isinstance(seen, psycopg.OperationalError)
    where = "the database"
    if (pgconn := seen.pgconn) is not None:
        user, db = (pgconn.user or b"").decode(), (pgconn.db or b"").decode()
        host, port = (pgconn.host or b"").decode(), (pgconn.port or b"").decode()
        server = f"/{db}?host={host}" if host.startswith("/") else f"{host}:{port}/{db}"
        where = f"the database postgresql://{user}@{server}" if host else where
    # psycopg's message: 'connection failed: connection to server at … failed: <why>\n\t<hint>'
    why = " ".join(str(seen).splitlines()[0].rpartition(" failed: ")[2].split())
    return (
        f"cannot connect to {where}: {why or 'connection failed'} — check that PostgreSQL is "
        "running there and that PMO_DATABASE_URL (and PMO_CELLS) point at it"
    )


def unmigrated_database(exc: BaseException) -> str | None:
    """If ``exc`` (or what caused it) is a statement naming a table or schema the database does
    not have, one line saying the database is not migrated and what to run."""
    import psycopg

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
            missing = (seen.diag.message_primary or "").strip()
            return (
                f"the database is not set up for this version of PMO Cloud ({missing}) — run "
                "`pmo db upgrade` (and `pmo db init` on a new server) first"
            )
        seen = seen.__cause__ or seen.__context__
    return None


class PmoGroup(click.Group):
    """The ``pmo`` group: an unreachable or unmigrated database is one line for every command,
    plugins' too."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:  # anything else is re-raised unchanged
            line = unreachable_database(exc) or unmigrated_database(exc)
            if line is None:
                raise
            _fail(line)


@click.group(cls=PmoGroup)
@click.version_option(package_name="pmo-cloud", prog_name="pmo")
def cli() -> None:
    """PMO Cloud: managed programme management offices."""


# ---------------------------------------------------------------------------------------- db


@cli.group()
def db() -> None:
    """Create roles and databases, and migrate every cell."""


@db.command("init")
@handles_errors
def db_init() -> None:
    """Create the pmo_owner and pmo_app roles and each cell's database (idempotent)."""
    from services.db.bootstrap import bootstrap_cell

    settings = settings_from_env()
    for cell, url in settings.cell_urls().items():
        for line in bootstrap_cell(settings.admin_url(url), url, settings.owner_url(url)):
            click.echo(f"{cell}: {line}")


@db.command("upgrade")
@click.argument("revision", default="head")
@handles_errors
def db_upgrade(revision: str) -> None:
    """Migrate every cell to REVISION (default: head) and record the cells."""
    from services.db import migrate

    settings = settings_from_env()
    for cell, url in settings.cell_urls().items():
        migrate.upgrade(settings.owner_url(url), revision)
        click.echo(f"{cell}: at {migrate.current_revision(settings.owner_url(url))}")
    run_async(_sync_cells(settings))


async def _sync_cells(settings: Settings) -> None:
    from services.db.engine import Database
    from services.tenancy import service as tenancy

    database = Database(settings)
    try:
        async with database.transaction() as session:
            await tenancy.sync_cells(session, settings)
    finally:
        await database.dispose()


@db.command("downgrade")
@click.argument("revision")
@handles_errors
def db_downgrade(revision: str) -> None:
    """Migrate every cell down to REVISION ('base' removes everything)."""
    from services.db import migrate

    settings = settings_from_env()
    for cell, url in settings.cell_urls().items():
        migrate.downgrade(settings.owner_url(url), revision)
        click.echo(f"{cell}: at {migrate.current_revision(settings.owner_url(url))}")


@db.command("check")
@click.option("--tenant", "slugs", multiple=True, metavar="SLUG", help="Only this workspace.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row found.")
@click.option(
    "--validate",
    is_flag=True,
    help="When no row is found, also validate the constraints added NOT VALID.",
)
@handles_errors
def db_check(slugs: tuple[str, ...], as_json: bool, validate: bool) -> None:
    """List stored rows that break a rule added after they were written.

    Nothing is changed: put each row right through the API, where every rule applies. Exits 1
    when a row is found, so a scheduled run can raise an alert. With --validate and no row found,
    the database's NOT VALID constraints are validated (on every workspace, so not with --tenant).
    """
    import dataclasses
    import json

    from services import dbcheck
    from services.db.engine import Database

    if validate and slugs:
        raise click.UsageError("--validate checks every workspace: leave out --tenant")
    settings = settings_from_env()

    async def work() -> list[dbcheck.Finding]:
        database = Database(settings)
        try:
            return await dbcheck.find(database, slugs)
        finally:
            await database.dispose()

    try:
        findings = run_async(work())
    except LookupError as error:
        _fail(str(error), 2)
    for found in findings:
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(found), default=str))
        else:
            where = f"{found.tenant} {found.table} {found.row_id} {found.label!r}"
            click.echo(f"{where}: {found.rule}: {found.message}")
    if findings:
        _fail(f"{len(findings)} row(s) break a rule; put them right through the API", 1)
    if not as_json:
        click.echo("no row breaks a rule")
    if validate:
        _validate_constraints(settings)


def _validate_constraints(settings: Settings) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from services.dbcheck import validate_constraints

    for cell, url in settings.cell_urls().items():
        engine = create_engine(settings.owner_url(url), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                done = validate_constraints(connection)
        finally:
            engine.dispose()
        for table, name in done:
            click.echo(f"{cell}: validated {name} on {table}")
        if not done:
            click.echo(f"{cell}: every constraint is valid")


@db.command("current")
@handles_errors
def db_current() -> None:
    """Show each cell's revision and the code's head."""
    from services.db import migrate

    settings = settings_from_env()
    head = migrate.head_revision()
    for cell, url in settings.cell_urls().items():
        current = migrate.current_revision(settings.owner_url(url))
        click.echo(f"{cell}: {current} ({'head' if current == head else f'head is {head}'})")


# ----------------------------------------------------------------------- tenants, users, tokens


async def _in_control(settings: Settings, work: Callable[[Any], Awaitable[R]]) -> R:
    from services.db.engine import Database

    database = Database(settings)
    try:
        async with database.transaction() as session:
            return await work(session)
    finally:
        await database.dispose()


@cli.group()
def tenants() -> None:
    """Client workspaces."""


@tenants.command("create")
@click.argument("slug")
@click.option("--name", help="Organisation name (default: the slug).")
@click.option("--cell", default="default", show_default=True)
@handles_errors
def tenants_create(slug: str, name: str | None, cell: str) -> None:
    """Create an active, empty workspace (signups normally do this through provisioning)."""
    from services.tenancy import service as tenancy
    from services.tenancy.models import TenantState

    async def work(session: Any) -> str:
        tenant = await tenancy.create_tenant(
            session, slug=slug, name=name or slug, cell=cell, state=TenantState.ACTIVE
        )
        return f"created workspace {tenant.slug} ({tenant.id}) in cell {tenant.cell}"

    click.echo(run_async(_in_control(settings_from_env(), work)))


ROLES = click.Choice(["viewer", "member", "admin", "owner"])


@cli.group()
def users() -> None:
    """People: client users and service staff."""


@users.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--staff-role", type=click.Choice(["expert", "account_manager", "platform_admin"]))
@click.option("--tenant", "slug", help="Also make them a member of this workspace.")
@click.option("--role", type=ROLES, default="member", show_default=True)
@click.pass_context
@handles_errors
def users_create(
    ctx: click.Context, email: str, name: str, staff_role: str | None, slug: str | None, role: str
) -> None:
    """Create a user, optionally with a role in one workspace (`members add` for existing users)."""
    from services.errors import Conflict
    from services.identity import service as identity
    from services.identity.models import Role, StaffRole
    from services.tenancy import service as tenancy

    if slug is None and ctx.get_parameter_source("role") is not ParameterSource.DEFAULT:
        raise click.UsageError("--role is a role in a workspace: give the workspace (--tenant)")

    async def work(session: Any) -> str:
        if slug and (existing := await identity.get_user_by_email(session, email)) is not None:
            raise Conflict(
                f"A user with email {existing.email} exists; to add them to {slug}: "
                f"pmo members add {existing.email} --tenant {slug} --role {role}"
            )
        user = await identity.create_user(
            session, email, name, StaffRole(staff_role) if staff_role else None
        )
        line = f"created user {user.email} ({user.id})"
        if slug:
            tenant = await tenancy.require_by_slug(session, slug)
            await identity.grant_membership(session, user.id, tenant.id, Role(role))
            line += f", {role} in {slug}"
        return line

    click.echo(run_async(_in_control(settings_from_env(), work)))


@cli.group()
def members() -> None:
    """Who belongs to which workspace, with which role."""


@members.command("add")
@click.argument("email")
@click.option("--tenant", "slug", required=True, help="The workspace.")
@click.option("--role", type=ROLES, default="member", show_default=True)
@handles_errors
def members_add(email: str, slug: str, role: str) -> None:
    """Make an existing user a member of a workspace (or change their role in it)."""
    from services.identity import service as identity
    from services.identity.models import Role
    from services.tenancy import service as tenancy

    async def work(session: Any) -> str:
        user = await identity.require_user(session, email)
        tenant = await tenancy.require_by_slug(session, slug)
        before = await identity.role_in(session, user.id, tenant.id)
        await identity.grant_membership(session, user.id, tenant.id, Role(role))
        if before is None:
            return f"{user.email} is now {role} in {tenant.slug}"
        return f"{user.email} is now {role} in {tenant.slug} (was {before.value})"

    click.echo(run_async(_in_control(settings_from_env(), work)))


@cli.group()
def tokens() -> None:
    """API bearer tokens (stored hashed; shown once)."""


@tokens.command("create")
@click.option("--user", "email", required=True, help="The user the token acts as.")
@click.option("--tenant", "slug", help="Restrict the token to this workspace.")
@click.option("--name", default="cli", show_default=True)
@click.option("--read-only", is_flag=True, help="The token may read but not change anything.")
@click.option("--expires-days", type=click.IntRange(min=1), help="Expire after N days.")
@handles_errors
def tokens_create(
    email: str, slug: str | None, name: str, read_only: bool, expires_days: int | None
) -> None:
    """Create a token and print it once (with --tenant: only for a member of that workspace)."""
    from services.errors import Conflict
    from services.identity import service as identity
    from services.identity.models import StaffRole, TokenScope
    from services.tenancy import service as tenancy

    async def work(session: Any) -> tuple[uuid.UUID, str]:
        user = await identity.require_user(session, email)
        tenant_id = None
        if slug:
            tenant_id = (await tenancy.require_by_slug(session, slug)).id
            # Bound to a workspace its user is not in, a token could only ever get 404s. Platform
            # admins act on workspaces they are not members of (offboarding).
            member = await identity.role_in(session, user.id, tenant_id) is not None
            if not member and user.staff_role is not StaffRole.PLATFORM_ADMIN:
                raise Conflict(
                    f"{user.email} is not a member of {slug}; add them first: "
                    f"pmo members add {user.email} --tenant {slug} --role member"
                )
        scopes = frozenset({TokenScope.READ}) if read_only else frozenset(TokenScope)
        expiry = timedelta(days=expires_days) if expires_days else None
        token, secret = await identity.issue_token(
            session, user.id, name=name, tenant_id=tenant_id, scopes=scopes, expires_in=expiry
        )
        return token.id, secret

    token_id, secret = run_async(_in_control(settings_from_env(), work))
    click.echo(f"token id: {token_id}", err=True)
    click.echo("the token below is shown only once:", err=True)
    click.echo(secret)


@tokens.command("revoke")
@click.argument("token_id", type=click.UUID)
@handles_errors
def tokens_revoke(token_id: uuid.UUID) -> None:
    """Revoke a token by its id; it stops working at once."""
    from services.identity import service as identity

    async def work(session: Any) -> str:
        token = await identity.revoke_token(session, token_id)
        return f"revoked token {token.id} ({token.name})"

    click.echo(run_async(_in_control(settings_from_env(), work)))


# --------------------------------------------------------------------------------- serve, demo


@cli.command()
@click.option("--host", help="Default: PMO_HOST.")
@click.option("--port", type=int, help="Default: PMO_PORT.")
@click.option("--workers", type=int, default=1, show_default=True)
@handles_errors
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API (production: behind a load balancer, as many as needed). SIGTERM or
    Ctrl-C stops it gracefully (requests under way finish), exit code 0."""
    import uvicorn

    settings = settings_from_env()
    settings.cell_urls()  # fail early, in one line, without a database URL
    # uvicorn's own lines (started, shutting down) go through structlog like the app's: one
    # format in the log (JSON in prod), not uvicorn's plain text among it.
    configure_logging(settings)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stopped_serving)
    uvicorn.run(
        "services.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        access_log=False,
        proxy_headers=True,
        log_config=None,
    )


def _stopped_serving(_signum: int, _frame: object) -> None:
    """Before uvicorn takes the signals over (while the app loads), a stop ends the process at
    once. After a graceful shutdown uvicorn passes the signal on to this handler, in its event
    loop: returning lets `uvicorn.run` return, and the process exits 0 rather than dying of the
    signal (143)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise SystemExit(0) from None


@cli.command()
@click.option("--smoke", is_flag=True, help="Start, check health and one API call, then exit 0/1.")
@handles_errors
def demo(smoke: bool) -> None:
    """The whole platform on this machine with no set-up (embedded PostgreSQL)."""
    from services.demo import run_demo

    sys.exit(run_demo(settings_from_env(), smoke=smoke))


def load_plugin_commands() -> None:
    for entry in entry_points(group="pmo.commands"):
        command = entry.load()
        if isinstance(command, click.Command):
            cli.add_command(command, entry.name)


def main() -> None:
    """The ``pmo`` command, once loaded (:mod:`services.entry` is its light entry point)."""
    load_plugin_commands()
    cli()
