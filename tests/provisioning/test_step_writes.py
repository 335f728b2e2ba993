"""The one-statement writes provisioning steps make: idempotent, and still keeping the rules.

Each is what a step does on every attempt, so running it again must change nothing, and the
checks the ORM paths make (taken slugs, lifecycle rules, one membership per user and workspace)
must hold here too.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from services.db.engine import Database
from services.errors import Conflict, NotFound
from services.identity import service as identity
from services.identity.models import ApiToken, Membership, Role, User
from services.tenancy import service as tenancy
from services.tenancy.models import Tenant, TenantState


def _slug() -> str:
    return f"writes-{uuid.uuid4().hex[:10]}"


async def _tenant(database: Database, tenant_id: uuid.UUID) -> Tenant:
    async with database.session() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        return tenant


async def test_reserve_makes_the_tenant_once_and_refuses_a_taken_slug(database: Database) -> None:
    tenant_id, slug = uuid.uuid4(), _slug()
    async with database.transaction() as session:
        assert await tenancy.reserve(session, tenant_id, slug=slug, name="Acme") is True
    async with database.transaction() as session:
        assert await tenancy.reserve(session, tenant_id, slug=slug, name="Acme") is False
    tenant = await _tenant(database, tenant_id)
    assert (tenant.slug, tenant.name, tenant.state, tenant.cell, tenant.version) == (
        slug,
        "Acme",
        TenantState.PROVISIONING,
        "default",
        1,
    )

    with pytest.raises(Conflict, match="taken"):
        async with database.transaction() as session:
            await tenancy.reserve(session, uuid.uuid4(), slug=slug, name="Other")
    async with database.session() as session:
        same_slug = await session.scalar(select(func.count()).where(Tenant.slug == slug))
    assert same_slug == 1


async def test_place_moves_only_a_provisioning_tenant(database: Database) -> None:
    tenant_id = uuid.uuid4()
    async with database.transaction() as session:
        await tenancy.reserve(session, tenant_id, slug=_slug(), name="Acme")
        await tenancy.place(session, tenant_id, "eu")
    assert (await _tenant(database, tenant_id)).cell == "eu"

    async with database.transaction() as session:
        await tenancy.set_state(session, tenant_id, TenantState.ACTIVE)
    async with database.transaction() as session:
        await tenancy.place(session, tenant_id, "eu")  # where it is: nothing to do
    with pytest.raises(Conflict, match="cannot move cells"):
        async with database.transaction() as session:
            await tenancy.place(session, tenant_id, "default")
    assert (await _tenant(database, tenant_id)).cell == "eu"


async def test_set_state_follows_the_lifecycle(database: Database) -> None:
    tenant_id = uuid.uuid4()
    async with database.transaction() as session:
        await tenancy.reserve(session, tenant_id, slug=_slug(), name="Acme")
    async with database.transaction() as session:
        await tenancy.set_state(session, tenant_id, TenantState.ACTIVE)
    activated = await _tenant(database, tenant_id)
    assert activated.state is TenantState.ACTIVE
    assert activated.version == 2

    async with database.transaction() as session:  # already there: unchanged
        await tenancy.set_state(session, tenant_id, TenantState.ACTIVE)
    assert (await _tenant(database, tenant_id)).version == 2

    with pytest.raises(Conflict, match=r"^An active workspace cannot become provisioning"):
        async with database.transaction() as session:
            await tenancy.set_state(session, tenant_id, TenantState.PROVISIONING)
    with pytest.raises(NotFound):
        async with database.transaction() as session:
            await tenancy.set_state(session, uuid.uuid4(), TenantState.ACTIVE)


async def test_merge_settings_keeps_other_settings(database: Database) -> None:
    tenant_id = uuid.uuid4()
    async with database.transaction() as session:
        await tenancy.reserve(session, tenant_id, slug=_slug(), name="Acme")
        await tenancy.place(session, tenant_id, "eu")
    async with database.transaction() as session:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        await tenancy.update_settings(session, tenant, {"timezone": "Europe/London"})
    async with database.transaction() as session:
        cell = await tenancy.merge_settings(session, tenant_id, {"template_pack": {"key": "k"}})
    assert cell == "eu"
    tenant = await _tenant(database, tenant_id)
    assert tenant.settings == {"timezone": "Europe/London", "template_pack": {"key": "k"}}
    with pytest.raises(NotFound):
        async with database.transaction() as session:
            await tenancy.merge_settings(session, uuid.uuid4(), {"x": 1})


async def test_ensure_member_makes_one_user_and_one_membership(database: Database) -> None:
    tenant_id = uuid.uuid4()
    email = f"Owner-{uuid.uuid4().hex[:8]}@Example.com"
    async with database.transaction() as session:
        await tenancy.reserve(session, tenant_id, slug=_slug(), name="Acme")
    async with database.transaction() as session:
        first = await identity.ensure_member(session, email, tenant_id, Role.MEMBER)
    async with database.transaction() as session:
        again = await identity.ensure_member(session, email.lower(), tenant_id, Role.OWNER)
    assert again == first
    async with database.session() as session:
        users = (await session.scalars(select(User).where(User.email == email.lower()))).all()
        roles = (
            await session.scalars(select(Membership.role).where(Membership.tenant_id == tenant_id))
        ).all()
    assert [u.id for u in users] == [first]
    # Called by the email's local part until they say, as a user made by create_user is.
    assert users[0].display_name == email.lower().partition("@")[0]
    assert roles == [Role.OWNER]  # the second call changed the role, not added a membership


async def test_issue_token_once_makes_one_token_that_authenticates(database: Database) -> None:
    tenant_id = uuid.uuid4()
    async with database.transaction() as session:
        await tenancy.reserve(session, tenant_id, slug=_slug(), name="Acme")
        user_id = await identity.ensure_member(
            session, f"o-{uuid.uuid4().hex[:8]}@example.com", tenant_id, Role.OWNER
        )
    secret = identity.derived_secret("k" * 32, f"invitation:{tenant_id}")
    ids = []
    for _ in range(2):
        async with database.transaction() as session:
            ids.append(
                await identity.issue_token_once(
                    session, user_id, name="invitation", secret=secret, tenant_id=tenant_id
                )
            )
    assert ids[0] == ids[1]
    async with database.session() as session:
        tokens = (await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id))).all()
        assert [t.id for t in tokens] == [ids[0]]
        principal = await identity.authenticate(session, secret)
    assert principal is not None
    assert principal.user_id == user_id
