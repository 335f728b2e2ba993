"""A PATCH changing a row's nested parts (lines kept in tables of their own: a board's seats, a
benefit's enabling projects, a change request's re-baselines) checks its If-Match as a change of
the row's columns does, and moves the row's ETag on.

Writing those lines writes no column of the row, so the version-checked UPDATE that refuses a
stale ETag for a column never runs: the update route holds the row and checks its version first
(``RegisterService.hold_as_loaded``). The requests go to a real server, in transactions of their
own; the test holds the row locked until they wait on it, so the race is certain, not likely.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from services.db.base import WorkspaceModel
from services.db.engine import Database
from services.workspace.benefits.models import Benefit
from services.workspace.governance.models import Board, ChangeRequest
from services.workspace.raid.models import Issue
from tests.conftest import MakeWorkspace, Workspace, in_workspace, lock_waits


@pytest.fixture
async def client(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


def at(ws: Workspace, path: str) -> str:
    return f"/api/v1/w/{ws.slug}/{path}"


async def made(client: httpx.AsyncClient, ws: Workspace, path: str, body: dict[str, Any]) -> Any:
    response = await client.post(at(ws, path), json=body, headers=ws.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def race(
    database: Database,
    ws: Workspace,
    model: type[WorkspaceModel],
    row_id: str,
    requests: list[Awaitable[httpx.Response]],
) -> list[httpx.Response]:
    """Start ``requests`` while the row is locked; release it once they all wait on it."""
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            select(model.id).where(model.id == uuid.UUID(row_id)).with_for_update()
        )
        tasks = [asyncio.ensure_future(request) for request in requests]
        waiting = 0
        for _ in range(500):
            waiting = await lock_waits(session)
            if waiting >= len(tasks) or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
    answers = list(await asyncio.gather(*tasks))
    assert waiting >= len(tasks), [a.text for a in answers]
    return answers


async def one_wins(
    client: httpx.AsyncClient,
    database: Database,
    ws: Workspace,
    model: type[WorkspaceModel],
    path: str,
    row: dict[str, Any],
    bodies: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two PATCHes of ``row``'s parts on its one ETag, at once: one 200, the other a 412 naming
    the winner's ETag as the current one. Returns the winner's answer and the row as read."""
    one = at(ws, f"{path}/{row['id']}")
    headers = {**ws.headers, "If-Match": f'"{row["version"]}"'}
    answers = await race(
        database,
        ws,
        model,
        row["id"],
        [client.patch(one, json=body, headers=headers) for body in bodies],
    )
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200)
    lost = next(a for a in answers if a.status_code == 412)
    assert won.headers["etag"] == f'"{row["version"] + 1}"'
    # As a stale If-Match's 412 does: the client learns the tag to read again at.
    assert lost.json()["code"] == "version-mismatch"
    assert lost.json()["current_etag"] == won.headers["etag"], lost.text
    read = await client.get(one, headers=ws.headers)
    assert read.headers["etag"] == won.headers["etag"]
    result: dict[str, Any] = read.json()
    return won.json(), result


async def programme(client: httpx.AsyncClient, ws: Workspace) -> str:
    made_ = await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)
    assert made_.status_code == 201, made_.text
    return str(made_.json()["id"])


async def test_two_reseatings_of_a_board_on_one_etag_one_wins_the_other_gets_412(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    board = await made(
        client,
        ws,
        "boards",
        {"programme_id": await programme(client, ws), "name": "Board", "members": []},
    )
    bodies = [{"members": [{"role_title": title}]} for title in ("Chair", "Sponsor")]

    won, read = await one_wins(client, database, ws, Board, "boards", board, bodies)

    assert [m["role_title"] for m in read["members"]] == [m["role_title"] for m in won["members"]]
    assert len(read["members"]) == 1 and read["version"] == board["version"] + 1


async def test_two_changes_of_enabling_projects_on_one_etag_one_wins_the_other_gets_412(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    programme_id = await programme(client, ws)
    projects = [
        (await made(client, ws, "projects", {"programme_id": programme_id, "name": name}))["id"]
        for name in ("CRM", "ERP")
    ]
    benefit = await made(
        client,
        ws,
        "benefits",
        {"programme_id": programme_id, "title": "Fewer days", "classification": "non_cash"},
    )
    bodies = [{"enabling_project_ids": [project]} for project in projects]

    won, read = await one_wins(client, database, ws, Benefit, "benefits", benefit, bodies)

    assert read["enabling_project_ids"] == won["enabling_project_ids"]
    assert len(read["enabling_project_ids"]) == 1 and read["version"] == benefit["version"] + 1


async def draft_change(
    client: httpx.AsyncClient, ws: Workspace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A draft change request re-baselining one milestone, and the milestone."""
    programme_id = await programme(client, ws)
    milestone = await made(
        client,
        ws,
        "milestones",
        {"programme_id": programme_id, "title": "Go live", "baseline_date": "2027-06-01"},
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2027-08-01"}
    change = await made(
        client,
        ws,
        "change-requests",
        {"programme_id": programme_id, "title": "Add payments", "rebaselines": [line]},
    )
    return change, milestone


async def test_two_replacements_of_rebaselines_on_one_etag_one_wins_the_other_gets_412(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    change, milestone = await draft_change(client, ws)
    bodies = [
        {"rebaselines": [{"milestone_id": milestone["id"], "new_baseline_date": day}]}
        for day in ("2027-09-01", "2027-10-01")
    ]

    won, read = await one_wins(
        client, database, ws, ChangeRequest, "change-requests", change, bodies
    )

    [line] = read["rebaselines"]
    assert line["new_baseline_date"] == won["rebaselines"][0]["new_baseline_date"]
    assert read["version"] == change["version"] + 1


async def test_a_change_of_rebaselines_alone_moves_the_etag_on_and_the_same_lines_do_not(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    change, milestone = await draft_change(client, ws)
    one = at(ws, f"change-requests/{change['id']}")
    lines = [{"milestone_id": milestone["id"], "new_baseline_date": "2027-09-01"}]

    moved = await client.patch(
        one, json={"rebaselines": lines}, headers={**ws.headers, "If-Match": '"1"'}
    )
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == '"2"'
    assert moved.json()["rebaselines"][0]["new_baseline_date"] == "2027-09-01"

    same = await client.patch(
        one, json={"rebaselines": lines}, headers={**ws.headers, "If-Match": '"2"'}
    )
    assert same.status_code == 200, same.text
    assert same.headers["etag"] == '"2"'

    # The first ETag is stale now, for the lines as for any column.
    stale = await client.patch(
        one, json={"rebaselines": []}, headers={**ws.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["current_etag"] == '"2"'


async def test_a_patch_changing_nothing_is_a_412_when_the_row_moved_on_while_it_was_made(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Its If-Match passed on what it read; the row then moved on before it answered. A PATCH
    that changes nothing writes nothing, but it still holds the row and reads its version
    afresh: it does not answer 200 with a version that is no longer the row's."""
    ws = await make_workspace()
    issue = await made(
        client,
        ws,
        "issues",
        {"programme_id": await programme(client, ws), "title": "Supplier late"},
    )
    one = at(ws, f"issues/{issue['id']}")
    same = client.patch(
        one, json={"title": "Supplier late"}, headers={**ws.headers, "If-Match": '"1"'}
    )

    async with in_workspace(database, ws.tenant_id) as session:
        # Another write, which has the row, commits once the PATCH waits on it.
        await session.execute(
            update(Issue)
            .where(Issue.id == uuid.UUID(issue["id"]))
            .values(title="Supplier later", version=Issue.version + 1)
        )
        task = asyncio.ensure_future(same)
        waiting = 0
        for _ in range(500):
            waiting = await lock_waits(session)
            if waiting or task.done():
                break
            await asyncio.sleep(0.01)
    answer = await task

    assert waiting, answer.text  # it waited for the row (before: answered without it)
    assert answer.status_code == 412, answer.text
    read = await client.get(one, headers=ws.headers)
    assert read.json()["title"] == "Supplier later" and read.headers["etag"] == '"2"'
