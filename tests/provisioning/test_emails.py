"""Email addresses: clearly malformed ones are refused, in plain words, wherever a user is made
or found (a signup's admin, `pmo users create`, `pmo members add`)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from services.cli import cli
from services.db.engine import Database
from services.errors import ValidationFailed
from services.identity.models import User
from services.identity.service import normalise_email
from services.tenancy import service as tenancy
from services.tenancy.models import TenantState
from tests.provisioning.conftest import SIGNUP, Env, signup_body

Client = AsyncTestClient[Litestar]

MALFORMED = {
    "a@b@c.example": "it has more than one @",
    "ada@.": "what follows the @ is not a domain such as example.org",
    "ada@acme.example,eve@evil.example": "it has a comma",
    "ada@acme\t.example": "it has a space or a control character",
    "ada@acme\x00.example": "it has a space or a control character",
    "ada.acme.example": "it has no @",
    "@acme.example": "nothing comes before the @",
    "ada@acme": "what follows the @ is not a domain",
    "ada@-acme.example": "what follows the @ is not a domain",
    "ada@acme-.example": "what follows the @ is not a domain",
    "ada@acme..example": "what follows the @ is not a domain",
    "ada@acme_corp.example": "what follows the @ is not a domain",
    "Ada <ada@acme.example>": "it has a space",
}


@pytest.mark.parametrize(("email", "why"), MALFORMED.items())
def test_a_clearly_malformed_email_is_refused_saying_why(email: str, why: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        normalise_email(email)
    assert why in refused.value.detail
    assert refused.value.errors is not None
    [error] = refused.value.errors
    assert error["field"] == "email"
    assert error["message"].startswith("not an email address: ")


@pytest.mark.parametrize(
    ("email", "kept"),
    [
        (" Ada@Acme.Example ", "ada@acme.example"),
        ("o.k+tag@sub.north-wind.co.uk", "o.k+tag@sub.north-wind.co.uk"),
        ("demo@pmo.local", "demo@pmo.local"),
        ("zoë@xn--mnchen-3ya.de", "zoë@xn--mnchen-3ya.de"),
        ("ada@münchen.de", "ada@münchen.de"),
    ],
)
def test_ordinary_addresses_are_kept_lower_cased(email: str, kept: str) -> None:
    assert normalise_email(email) == kept


async def test_a_signup_names_the_admin_email_and_why_it_is_not_one(
    shared_client: Client,
) -> None:
    answer = await shared_client.post(SIGNUP, json=signup_body(admin_email="a@b@c.example"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {
            "field": "admin_email",
            "message": "not an email address: it has more than one @",
            "source": "body",
        }
    ]


async def test_the_cli_makes_no_user_with_a_malformed_email(
    isolated: Env, isolated_database: Database
) -> None:
    slug = f"mail-{uuid.uuid4().hex[:8]}"
    async with isolated_database.transaction() as session:
        await tenancy.create_tenant(session, slug=slug, name="Mail", state=TenantState.ACTIVE)
    runner = CliRunner(env=isolated.process_env())
    for email in ("a@b@c.example", "ada@acme.example,eve@evil.example", "ada@acme\t.example"):
        made = await asyncio.to_thread(
            runner.invoke, cli, ["users", "create", email, "--tenant", slug]
        )
        assert made.exit_code == 1, made.output
        assert "is not an email address: it has" in made.output
        added = await asyncio.to_thread(
            runner.invoke, cli, ["members", "add", email, "--tenant", slug]
        )
        assert added.exit_code == 1, added.output
        assert "is not an email address: it has" in added.output
    async with isolated_database.transaction() as session:
        users = select(func.count()).select_from(User).where(User.email.contains("acme"))
        assert await session.scalar(users) == 0
        assert await session.scalar(select(func.count()).where(User.email.contains("@b@"))) == 0

    ok = await asyncio.to_thread(
        runner.invoke, cli, ["users", "create", "Ada@Acme.Example", "--tenant", slug]
    )
    assert ok.exit_code == 0, ok.output
    added = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["members", "add", "ada@acme.example", "--tenant", slug, "--role", "admin"],
    )
    assert added.exit_code == 0, added.output
