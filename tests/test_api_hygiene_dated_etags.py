"""A read showing fields worked out from the workspace's today (a milestone's ``slip_days``, an
action's ``overdue``, a dependency's RAG) has an ETag naming that day: once the day moves on (or
the workspace's time zone moves it), the old tag is not the current one, for ``If-None-Match``
nor ``If-Match``. Other rows' ETags are their versions alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, make, programme, url

# 25 hours apart: whatever the time, Kiritimati's date is one or two days after Pago Pago's.
AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"


async def move_to(client: Client, ws: Workspace, zone: str) -> None:
    settings = url(ws, "settings")
    tag = (await client.get(settings, headers=ws.headers)).headers["etag"]
    moved = await client.patch(
        settings, json={"timezone": zone}, headers={**ws.headers, "If-Match": tag}
    )
    assert moved.status_code == 200, moved.text


async def test_a_dated_reads_etag_moves_with_the_workspaces_today(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    await move_to(client, ws, BEHIND)
    prog = await programme(client, ws)
    behind = datetime.now(ZoneInfo(BEHIND)).date().isoformat()
    rows: dict[str, dict[str, Any]] = {
        "milestones": {"programme_id": prog["id"], "title": "Go-live", "baseline_date": behind},
        "actions": {"programme_id": prog["id"], "title": "Chase", "due_date": behind},
    }
    made = {path: await make(client, ws, path, body) for path, body in rows.items()}
    tags = {}
    for path, row in made.items():
        read = await client.get(url(ws, f"{path}/{row['id']}"), headers=ws.headers)
        tags[path] = read.headers["etag"]
        assert tags[path] == f'"{row["version"]}@{behind}"'
        again = await client.get(
            url(ws, f"{path}/{row['id']}"), headers={**ws.headers, "If-None-Match": tags[path]}
        )
        assert again.status_code == 304

    await move_to(client, ws, AHEAD)
    ahead = datetime.now(ZoneInfo(AHEAD)).date().isoformat()
    for path, row in made.items():
        item = url(ws, f"{path}/{row['id']}")
        read = await client.get(item, headers={**ws.headers, "If-None-Match": tags[path]})
        # The milestone slips, the action is overdue: not the representation held.
        assert read.status_code == 200, path
        assert read.headers["etag"] == f'"{row["version"]}@{ahead}"'
        stale = await client.patch(
            item, json={"title": "Renamed"}, headers={**ws.headers, "If-Match": tags[path]}
        )
        assert stale.status_code == 412, stale.text
        assert stale.json()["current_etag"] == read.headers["etag"]
        current = await client.patch(
            item,
            json={"title": "Renamed"},
            headers={**ws.headers, "If-Match": read.headers["etag"]},
        )
        assert current.status_code == 200, current.text
        assert current.headers["etag"] == f'"{row["version"] + 1}@{ahead}"'
    assert made["milestones"]["slip_days"] == 0
    assert (
        await client.get(url(ws, f"milestones/{made['milestones']['id']}"), headers=ws.headers)
    ).json()["slip_days"] > 0


async def test_a_row_without_dated_fields_keeps_its_version_as_its_etag(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    issue = await make(client, ws, "issues", {"programme_id": prog["id"], "title": "Late"})
    read = await client.get(url(ws, f"issues/{issue['id']}"), headers=ws.headers)
    assert read.headers["etag"] == f'"{issue["version"]}"'


async def test_a_replayed_create_of_a_dated_row_gives_no_tag_for_its_old_body(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A replay answers the body as first worked out, on a day it does not know: a tag of
    today's would let a later conditional read take that body for the current one."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    body = {"programme_id": prog["id"], "title": "Chase", "due_date": "2026-01-05"}
    headers = {**ws.headers, "Idempotency-Key": "chase-once"}
    first = await client.post(url(ws, "actions"), json=body, headers=headers)
    assert first.status_code == 201 and "@" in first.headers["etag"]
    replay = await client.post(url(ws, "actions"), json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert "etag" not in replay.headers
    assert replay.json() == first.json()
    # A row whose read is not dated keeps its tag on a replay.
    issue = {"programme_id": prog["id"], "title": "Late"}
    keyed = {**ws.headers, "Idempotency-Key": "late-once"}
    made = await client.post(url(ws, "issues"), json=issue, headers=keyed)
    again = await client.post(url(ws, "issues"), json=issue, headers=keyed)
    assert again.headers["etag"] == made.headers["etag"] == f'"{made.json()["version"]}"'
