"""Over HTTP, one workspace's caller never reaches another's data: every id swapped → 404."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.db.engine import Database
from services.identity import service as identity
from services.identity.models import Role
from tests.conftest import MakeWorkspace

Client = AsyncTestClient[Litestar]


async def test_tenant_a_token_gets_404_for_every_tenant_b_resource(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    b_programme = (
        await client.post(b.programmes, json={"name": "B only"}, headers=b.headers)
    ).json()
    b_id = b_programme["id"]

    # A's token against A's workspace path, with B's programme id.
    attempts = [
        ("GET", f"{a.programmes}/{b_id}", None),
        ("PATCH", f"{a.programmes}/{b_id}", {"name": "stolen"}),
        ("DELETE", f"{a.programmes}/{b_id}", None),
        # A's token against B's workspace path.
        ("GET", b.programmes, None),
        ("POST", b.programmes, {"name": "planted"}),
        ("GET", f"{b.programmes}/{b_id}", None),
        ("PATCH", f"{b.programmes}/{b_id}", {"name": "stolen"}),
        ("DELETE", f"{b.programmes}/{b_id}", None),
    ]
    for method, url, body in attempts:
        response = await client.request(
            method, url, json=body, headers={**a.headers, "If-Match": '"1"'}
        )
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["code"] == "not-found"
        assert "B only" not in response.text

    untouched = await client.get(f"{b.programmes}/{b_id}", headers=b.headers)
    assert untouched.json() == b_programme
    b_list = await client.get(b.programmes, headers=b.headers)
    assert b_list.json()["total"] == 1


async def test_lists_never_include_another_tenants_rows(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    for i in range(3):
        await client.post(b.programmes, json={"name": f"B {i}"}, headers=b.headers)
    await client.post(a.programmes, json={"name": "A 0"}, headers=a.headers)
    listed = await client.get(a.programmes, params={"limit": 200}, headers=a.headers)
    assert [p["name"] for p in listed.json()["items"]] == ["A 0"]
    assert listed.json()["total"] == 1


async def test_a_token_bound_to_one_workspace_cannot_open_another_of_its_users(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    a = await make_workspace(token_tenant_bound=True)
    b = await make_workspace()
    async with database.transaction() as session:
        # The same person is also a member of B, but this token was issued for A only.
        await identity.grant_membership(session, a.user_id, b.tenant_id, Role.OWNER)
    assert (await client.get(a.programmes, headers=a.headers)).status_code == 200
    assert (await client.get(b.programmes, headers=a.headers)).status_code == 404


async def test_revoked_and_expired_tokens_stop_working(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    from datetime import timedelta

    from services.db.base import utcnow

    ws = await make_workspace()
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 200
    async with database.transaction() as session:
        await identity.revoke_token(session, ws.token_id)
    assert (await client.get(ws.programmes, headers=ws.headers)).status_code == 401

    short = await make_workspace(expires_in=timedelta(seconds=30))
    assert (await client.get(short.programmes, headers=short.headers)).status_code == 200
    async with database.session() as session:
        later = utcnow() + timedelta(minutes=1)
        assert await identity.authenticate(session, short.token, now=later) is None
