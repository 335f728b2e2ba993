"""Governance rules that hold when two writes race each other, and the change requester's rule
for requests naming no requester."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import pytest

from services.db.engine import Database
from services.errors import Conflict, ValidationFailed
from services.workspace.governance.models import MeetingState
from services.workspace.governance.schemas import DecisionCreate
from services.workspace.governance.service import (
    DecisionService,
    MeetingService,
)
from tests.conftest import MakeWorkspace, in_workspace
from tests.workspace_api import Client, days_from, make, programme, url, workspace_today


async def test_an_admins_request_naming_no_requester_does_not_name_them_its_approver(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()  # its user owns the workspace
    prog = await programme(client, ws)
    body = {"programme_id": prog["id"], "title": "Add payments", "approver_id": str(ws.user_id)}

    refused = await client.post(url(ws, "change-requests"), json=body, headers=ws.headers)

    # A request naming no requester is its creator's: they would be named to decide their own.
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "approver_id"
    unnamed = await make(client, ws, "change-requests", {**body, "approver_id": None})
    named_later = await client.patch(
        url(ws, f"change-requests/{unnamed['id']}"),
        json={"approver_id": str(ws.user_id)},
        headers={**ws.headers, "If-Match": f'"{unnamed["version"]}"'},
    )
    assert named_later.status_code == 422, named_later.text


async def cited_meeting(client: Client, ws: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    held = {"board_id": board["id"], "title": "M", "state": "held"}
    meeting = await make(client, ws, "meetings", {**held, "held_on": day_ago(10)})
    return prog, meeting


def day_ago(days: int) -> str:
    return days_from(workspace_today(), -days)


def taken_at(prog: dict[str, Any], meeting: dict[str, Any], user_id: uuid.UUID) -> DecisionCreate:
    return DecisionCreate(
        programme_id=uuid.UUID(prog["id"]),
        title="Buy the platform",
        meeting_id=uuid.UUID(meeting["id"]),
        status="approved",
        decided_by_id=user_id,
        decided_on=date.fromisoformat(day_ago(5)),
    )


async def test_a_meeting_is_not_cancelled_while_a_decision_citing_it_is_recorded(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog, meeting = await cited_meeting(client, ws)

    async def cancel() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            service = MeetingService(session, ws.user_id)
            row = await service.get(uuid.UUID(meeting["id"]))
            await service.update(row, {"state": MeetingState.CANCELLED})

    async with in_workspace(database, ws.tenant_id) as first:
        await DecisionService(first, ws.user_id).create(taken_at(prog, meeting, ws.user_id))
        second = asyncio.create_task(cancel())
        await asyncio.sleep(0.5)
        # The cancel waits for the decision to commit, rather than passing on what it read.
        assert not second.done()
    with pytest.raises(Conflict, match="'Buy the platform'"):
        await second
    kept = (await client.get(url(ws, f"meetings/{meeting['id']}"), headers=ws.headers)).json()
    assert kept["state"] == "held"


async def test_a_decision_does_not_cite_a_meeting_being_cancelled(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog, meeting = await cited_meeting(client, ws)

    async def record() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            await DecisionService(session, ws.user_id).create(taken_at(prog, meeting, ws.user_id))

    async with in_workspace(database, ws.tenant_id) as first:
        service = MeetingService(first, ws.user_id)
        row = await service.get(uuid.UUID(meeting["id"]))
        await service.update(row, {"state": MeetingState.CANCELLED})
        second = asyncio.create_task(record())
        await asyncio.sleep(0.5)
        # The decision waits for the cancel to commit, then reads the meeting as it is.
        assert not second.done()
    with pytest.raises(ValidationFailed, match="the meeting was cancelled"):
        await second
    found = await client.get(url(ws, "decisions"), headers=ws.headers)
    assert found.json()["total"] == 0
