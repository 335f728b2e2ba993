"""A workspace's "today" is the date in its own time zone, not the server's."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import change, make, programme, url

Client = AsyncTestClient[Litestar]

# 25 hours apart: whatever the time, Kiritimati's date is one or two days after Pago Pago's.
AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"


async def workspace_in(client: Client, make_workspace: MakeWorkspace, zone: str) -> Workspace:
    ws = await make_workspace()
    settings = f"/api/v1/w/{ws.slug}/settings"
    etag = (await client.get(settings, headers=ws.headers)).headers["etag"]
    moved = await client.patch(
        settings, json={"timezone": zone}, headers={**ws.headers, "If-Match": etag}
    )
    assert moved.status_code == 200, moved.text
    return ws


async def test_not_in_the_future_and_defaults_follow_the_workspaces_calendar(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    there = datetime.now(ZoneInfo(AHEAD)).date()
    for zone, accepted in ((AHEAD, True), (BEHIND, False)):
        ws = await workspace_in(client, make_workspace, zone)
        prog = await programme(client, ws)
        body = {"programme_id": prog["id"], "title": "Go-live", "baseline_date": "2026-01-01"}
        milestone = await make(client, ws, "milestones", body)
        achieved = await change(
            client, ws, "milestones", milestone, {"state": "achieved", "actual_date": str(there)}
        )
        # Kiritimati's today is a day that has come there, and one still to come in Pago Pago.
        assert achieved.status_code == (200 if accepted else 422), (zone, achieved.text)

        # Achieved without a date: the date is today where the workspace is.
        other = await make(client, ws, "milestones", {**body, "title": "Cut-over"})
        dated = await change(client, ws, "milestones", other, {"state": "achieved"})
        assert dated.json()["actual_date"] == str(datetime.now(ZoneInfo(zone)).date())


async def test_overdue_actions_follow_the_workspaces_calendar(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    # Due on Pago Pago's today: not overdue there; already past in Kiritimati.
    due = str(datetime.now(ZoneInfo(BEHIND)).date())
    for zone, overdue in ((BEHIND, False), (AHEAD, True)):
        ws = await workspace_in(client, make_workspace, zone)
        prog = await programme(client, ws)
        action = await make(
            client, ws, "actions", {"programme_id": prog["id"], "title": "Chase", "due_date": due}
        )
        assert action["overdue"] is overdue, zone
        listed = await client.get(
            url(ws, "actions"), params={"overdue": "true"}, headers=ws.headers
        )
        assert listed.json()["total"] == (1 if overdue else 0), zone
