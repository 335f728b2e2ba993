"""Workspace settings: everyone in the workspace reads them, only admins change them."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.identity.models import Role
from tests.conftest import MakeWorkspace

Client = AsyncTestClient[Litestar]


async def test_viewer_reads_settings_with_defaults(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.VIEWER)
    response = await client.get(f"/api/v1/w/{ws.slug}/settings", headers=ws.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == ws.slug
    assert body["timezone"] == "UTC"
    assert body["experts_need_approval"] is True
    assert response.headers["etag"] == f'"{body["version"]}"'


async def test_members_cannot_change_settings_but_admins_can(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    member = await make_workspace(Role.MEMBER)
    url = f"/api/v1/w/{member.slug}/settings"
    refused = await client.patch(
        url, json={"name": "Renamed"}, headers={**member.headers, "If-Match": '"1"'}
    )
    assert refused.status_code == 403
    assert "admin" in refused.json()["detail"]

    admin = await make_workspace(Role.ADMIN)
    url = f"/api/v1/w/{admin.slug}/settings"
    etag = (await client.get(url, headers=admin.headers)).headers["etag"]
    changed = await client.patch(
        url,
        json={"name": "Acme Transformation Office", "timezone": "Europe/London"},
        headers={**admin.headers, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Acme Transformation Office"
    assert changed.json()["timezone"] == "Europe/London"
    assert changed.json()["experts_need_approval"] is True
    assert changed.headers["etag"] != etag

    stale = await client.patch(
        url, json={"experts_need_approval": False}, headers={**admin.headers, "If-Match": etag}
    )
    assert stale.status_code == 412


async def test_unknown_time_zone_is_refused_and_nothing_changes(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.OWNER)
    url = f"/api/v1/w/{ws.slug}/settings"
    etag = (await client.get(url, headers=ws.headers)).headers["etag"]
    refused = await client.patch(
        url,
        json={"name": "Half", "timezone": "Mars/Olympus"},
        headers={**ws.headers, "If-Match": etag},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "timezone"
    after = await client.get(url, headers=ws.headers)
    assert after.json()["name"] == "Test Organisation"
    assert after.headers["etag"] == etag
