"""The pmo command against a real database: users, tokens, tenants, migrations."""

from __future__ import annotations

import uuid

import httpx
import pytest
from click.testing import CliRunner

from services.cli import cli
from services.config import Settings

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
