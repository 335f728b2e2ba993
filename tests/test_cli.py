"""The pmo command against a real database: users, members, tokens, tenants, migrations; and
without one (an unreachable server is one line)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from psycopg import sql

from services.cli import cli, load_plugin_commands
from services.config import Settings
from services.db.engine import Database
from services.demo import free_port
from services.identity.models import User
from services.logging import configure_logging
from tests.conftest import PgServer
from tests.test_config import DATABASE_COMMANDS

# The `database` fixture records the configured cells, as `pmo db upgrade` does.
pytestmark = pytest.mark.usefixtures("database")


def _env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None and settings.database_owner_url is not None
    assert settings.database_admin_url is not None
    return {
        "PMO_DATABASE_URL": settings.database_url,
        "PMO_DATABASE_OWNER_URL": settings.database_owner_url,
        "PMO_DATABASE_ADMIN_URL": settings.database_admin_url,
        "PMO_CELLS": ";".join(f"{k}={v}" for k, v in settings.cells.items()),
        "PMO_LOG_LEVEL": "WARNING",
    }


def test_create_user_and_token_then_call_the_api_then_revoke(
    settings: Settings, live_server: str
) -> None:
    runner = CliRunner(env=_env(settings))
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.org"

    made = runner.invoke(cli, ["tenants", "create", slug, "--name", "CLI Org"])
    assert made.exit_code == 0, made.output
    user = runner.invoke(cli, ["users", "create", email, "--tenant", slug, "--role", "admin"])
    assert user.exit_code == 0, user.output
    assert f"admin in {slug}" in user.output

    issued = runner.invoke(cli, ["tokens", "create", "--user", email, "--tenant", slug])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("pmo_")
    token_id = next(
        line.split(":", 1)[1].strip()
        for line in issued.output.splitlines()
        if line.startswith("token id:")
    )

    url = f"{live_server}/api/v1/w/{slug}/programmes"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(url, json={"name": "From the CLI"}, headers=headers).status_code == 201

    revoked = runner.invoke(cli, ["tokens", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    assert httpx.get(url, headers=headers).status_code == 401


def test_read_only_token_from_the_cli(settings: Settings, live_server: str) -> None:
    runner = CliRunner(env=_env(settings))
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    email = f"{slug}@example.org"
    assert runner.invoke(cli, ["tenants", "create", slug]).exit_code == 0
    assert runner.invoke(cli, ["users", "create", email, "--tenant", slug]).exit_code == 0
    issued = runner.invoke(cli, ["tokens", "create", "--user", email, "--read-only"])
    token = issued.stdout.strip().splitlines()[-1]
    url = f"{live_server}/api/v1/w/{slug}/programmes"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=headers).status_code == 200
    assert httpx.post(url, json={"name": "x"}, headers=headers).status_code == 403


def test_mistakes_are_one_line_errors(settings: Settings) -> None:
    runner = CliRunner(env=_env(settings))
    duplicate = runner.invoke(cli, ["tenants", "create", "Not A Slug"])
    assert duplicate.exit_code == 1
    assert duplicate.output.startswith("error: ")
    assert "Traceback" not in duplicate.output

    missing = runner.invoke(cli, ["tokens", "create", "--user", "nobody@example.org"])
    assert missing.exit_code == 1
    assert "No user nobody@example.org" in missing.output

    unknown = runner.invoke(cli, ["tokens", "revoke", str(uuid.uuid4())])
    assert unknown.exit_code == 1
    assert "No token" in unknown.output

    # A role is a role in a workspace: without one it is refused, not dropped, and no user made.
    email = f"roleless-{uuid.uuid4().hex[:8]}@example.org"
    roleless = runner.invoke(cli, ["users", "create", email, "--role", "admin"])
    assert roleless.exit_code == 2, roleless.output
    assert "--role is a role in a workspace: give the workspace (--tenant)" in roleless.output
    made = runner.invoke(cli, ["tokens", "create", "--user", email])
    assert made.exit_code == 1 and f"No user {email}" in made.output


def test_db_commands_are_idempotent_and_report_the_head(settings: Settings) -> None:
    runner = CliRunner(env=_env(settings))
    init = runner.invoke(cli, ["db", "init"])
    assert init.exit_code == 0, init.output
    assert "roles pmo_owner and pmo_app ready" in init.output
    upgrade = runner.invoke(cli, ["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    current = runner.invoke(cli, ["db", "current"])
    assert current.exit_code == 0
    assert "default: " in current.output
    assert "eu: " in current.output
    assert current.output.count("(head)") == 2


def test_a_token_for_a_workspace_is_only_for_its_members(
    settings: Settings, live_server: str
) -> None:
    runner = CliRunner(env=_env(settings))
    home, other = f"cli-{uuid.uuid4().hex[:8]}", f"cli-{uuid.uuid4().hex[:8]}"
    email = f"{home}@example.org"
    assert runner.invoke(cli, ["tenants", "create", home]).exit_code == 0
    assert runner.invoke(cli, ["tenants", "create", other]).exit_code == 0
    assert runner.invoke(cli, ["users", "create", email, "--tenant", home]).exit_code == 0

    refused = runner.invoke(cli, ["tokens", "create", "--user", email, "--tenant", other])
    assert refused.exit_code == 1
    assert refused.output.splitlines() == [
        f"error: {email} is not a member of {other}; add them first: "
        f"pmo members add {email} --tenant {other} --role member"
    ]
    # `users create` refuses an existing user and says how to add them instead.
    again = runner.invoke(cli, ["users", "create", email, "--tenant", other, "--role", "viewer"])
    assert again.exit_code == 1
    assert f"pmo members add {email} --tenant {other} --role viewer" in again.output

    added = runner.invoke(cli, ["members", "add", email, "--tenant", other, "--role", "viewer"])
    assert added.exit_code == 0, added.output
    assert added.output.strip() == f"{email} is now viewer in {other}"
    promoted = runner.invoke(cli, ["members", "add", email, "--tenant", other])
    assert promoted.output.strip() == f"{email} is now member in {other} (was viewer)"

    issued = runner.invoke(cli, ["tokens", "create", "--user", email, "--tenant", other])
    assert issued.exit_code == 0, issued.output
    headers = {"Authorization": f"Bearer {issued.stdout.strip().splitlines()[-1]}"}
    url = f"{live_server}/api/v1/w/{other}/programmes"
    assert httpx.post(url, json={"name": "Second workspace"}, headers=headers).status_code == 201

    nobody = runner.invoke(cli, ["members", "add", "nobody@example.org", "--tenant", other])
    assert nobody.exit_code == 1
    assert "No user nobody@example.org" in nobody.output

    # Platform admins act on workspaces they do not belong to (offboarding one, say).
    staff = f"admin-{uuid.uuid4().hex[:8]}@pmo.example"
    made = runner.invoke(cli, ["users", "create", staff, "--staff-role", "platform_admin"])
    assert made.exit_code == 0, made.output
    issued = runner.invoke(cli, ["tokens", "create", "--user", staff, "--tenant", other])
    assert issued.exit_code == 0, issued.output


def test_a_workspace_keeps_an_owner(settings: Settings) -> None:
    runner = CliRunner(env=_env(settings))
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    first, second = f"first@{slug}.example", f"second@{slug}.example"
    assert runner.invoke(cli, ["tenants", "create", slug]).exit_code == 0
    owner = runner.invoke(cli, ["users", "create", first, "--tenant", slug, "--role", "owner"])
    assert owner.exit_code == 0, owner.output
    assert runner.invoke(cli, ["users", "create", second, "--tenant", slug]).exit_code == 0

    # Only an owner asks for the workspace's offboarding: its only one stays an owner.
    refused = runner.invoke(cli, ["members", "add", first, "--tenant", slug, "--role", "viewer"])
    assert refused.exit_code == 1, refused.output
    assert refused.output.splitlines() == [
        "error: This is the workspace's only owner; make another member its owner first."
    ]
    handed = runner.invoke(cli, ["members", "add", second, "--tenant", slug, "--role", "owner"])
    assert handed.exit_code == 0, handed.output
    stepped = runner.invoke(cli, ["members", "add", first, "--tenant", slug, "--role", "viewer"])
    assert stepped.output.strip() == f"{first} is now viewer in {slug} (was owner)"


# Nothing else configured that could name another server (None: unset).
_ONLY_DATABASE_URL = {
    "PMO_CELLS": None,
    "PMO_DATABASE_OWNER_URL": None,
    "PMO_DATABASE_ADMIN_URL": None,
    "PMO_LOG_LEVEL": "WARNING",
}


@pytest.mark.parametrize(
    "command", [["db", "init"], ["db", "upgrade"], *DATABASE_COMMANDS], ids=" ".join
)
def test_an_unreachable_database_is_one_line_naming_it(
    settings: Settings, command: list[str]
) -> None:
    port = free_port("127.0.0.1")  # nothing listens there
    url = f"postgresql://pmo_app:hunter2@127.0.0.1:{port}/pmo"
    load_plugin_commands()
    try:
        result = CliRunner(env={**_ONLY_DATABASE_URL, "PMO_DATABASE_URL": url}).invoke(cli, command)
    finally:
        configure_logging(settings)  # `pmo worker` set logging up to write to the runner
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: cannot connect to the database postgresql://"), line
    assert f"@127.0.0.1:{port}/" in line
    assert "Connection refused" in line
    assert "PMO_DATABASE_URL" in line
    assert "hunter2" not in line


@pytest.fixture
def unmigrated(pg_server: PgServer) -> Iterator[str]:
    """A database the server has, with nothing in it: `pmo db upgrade` never ran."""
    name = f"pmo_test_unmigrated_{uuid.uuid4().hex[:8]}"
    pg_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_server.url(name, user="postgres")
    finally:
        pg_server.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    "command", [c for c in DATABASE_COMMANDS if c[:2] != ["db", "current"]], ids=" ".join
)
def test_a_database_not_migrated_is_one_line_saying_what_to_run(
    settings: Settings, unmigrated: str, command: list[str]
) -> None:
    load_plugin_commands()
    try:
        env = {**_ONLY_DATABASE_URL, "PMO_DATABASE_URL": unmigrated}
        result = CliRunner(env=env).invoke(cli, command)
    finally:
        configure_logging(settings)
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: the database is not set up for this version"), line
    assert "does not exist" in line and "run `pmo db upgrade`" in line


def test_serve_logs_one_format_and_stops_gracefully_with_exit_code_0(settings: Settings) -> None:
    """`pmo serve` with JSON logs: every line is JSON, uvicorn's own too (a log shipper
    parses them all), and SIGTERM ends it through uvicorn's graceful shutdown, exit code 0."""
    port = free_port("127.0.0.1")
    env = {**_env(settings), "PMO_LOG_FORMAT": "json", "PMO_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "services", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "pmo serve did not start"
            time.sleep(0.1)
        process.terminate()
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    events = [line["event"] for line in lines]
    assert any("Uvicorn running on" in e for e in events), events
    assert any("Shutting down" in e for e in events), events


async def test_a_user_stored_before_the_address_rules_is_still_found(
    settings: Settings, database: Database
) -> None:
    """Addresses are checked when a user is made; a lookup finds what is stored, so a user made
    before the rules tightened (no dot in the domain) can still get a token or be added."""
    slug = f"old-{uuid.uuid4().hex[:8]}"
    email = f"ops-{uuid.uuid4().hex[:8]}@localhost"
    async with database.transaction() as session:
        session.add(User(email=email, display_name="ops"))
    runner = CliRunner(env=_env(settings))

    def invoke(*args: str) -> Any:
        return runner.invoke(cli, list(args))

    made = await asyncio.to_thread(invoke, "tenants", "create", slug)
    assert made.exit_code == 0, made.output
    added = await asyncio.to_thread(invoke, "members", "add", email.upper(), "--tenant", slug)
    assert added.exit_code == 0, added.output
    token = await asyncio.to_thread(invoke, "tokens", "create", "--user", email, "--tenant", slug)
    assert token.exit_code == 0, token.output
    assert token.stdout.strip().splitlines()[-1].startswith("pmo_")
    # Making one is still refused.
    new = await asyncio.to_thread(invoke, "users", "create", f"x-{email}")
    assert new.exit_code == 1 and "not an email address" in new.output
