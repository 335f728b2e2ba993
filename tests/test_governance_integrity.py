"""Governance rules that hold when two writes race each other, and the change requester's rule
for requests naming no requester."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.db.engine import Database
from services.errors import Conflict, ValidationFailed, VersionMismatch
from services.identity.models import Role
from services.workspace.governance.models import MeetingState
from services.workspace.governance.schemas import BoardMemberIn, DecisionCreate, RebaselineIn
from services.workspace.governance.service import (
    BoardService,
    ChangeRequestService,
    DecisionService,
    MeetingService,
)
from services.workspace.structure.service import ProgrammeService, TrancheService
from tests.conftest import MakeWorkspace, in_workspace
from tests.test_governance_api import submitted_change
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
    """A meeting ten days ago, still marked scheduled (a held one stays held anyway)."""
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    past = {"board_id": board["id"], "title": "M", "state": "scheduled"}
    meeting = await make(client, ws, "meetings", {**past, "held_on": day_ago(10)})
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
    assert kept["state"] == "scheduled"


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


async def change_in_a_tranche(client: Client, ws: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tranche ending 30 September 2027 and a submitted change moving its milestone's
    baseline from 1 June to 1 August 2027."""
    prog = await programme(client, ws)
    tranche = await make(
        client,
        ws,
        "tranches",
        {"programme_id": prog["id"], "name": "T1", "end_date": "2027-09-30"},
    )
    milestone = await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "tranche_id": tranche["id"],
            "title": "Go live",
            "baseline_date": "2027-06-01",
        },
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2027-08-01"}
    change = await submitted_change(client, ws, {"programme_id": prog["id"], "rebaselines": [line]})
    return tranche, change


async def test_a_change_approved_while_its_tranche_end_moves_earlier_is_checked_against_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    approver = uuid.uuid4()
    tranche, change = await change_in_a_tranche(client, ws)

    async def approve() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            service = ChangeRequestService(session, approver, Role.OWNER)
            row = await service.get(uuid.UUID(change["id"]))
            await service.decide(row, True, "", None)

    async with in_workspace(database, ws.tenant_id) as first:
        service = TrancheService(first, ws.user_id)
        row = await service.get(uuid.UUID(tranche["id"]))
        await service.update(row, {"end_date": date(2027, 7, 15)})
        second = asyncio.create_task(approve())
        await asyncio.sleep(0.5)
        # The approval waits for the tranche's new end, then finds its line past it.
        assert not second.done()
    with pytest.raises(Conflict, match="after its tranche 'T1' ends"):
        await second
    read = (await client.get(url(ws, f"change-requests/{change['id']}"), headers=ws.headers)).json()
    assert read["state"] == "submitted"


async def test_a_tranche_end_does_not_move_before_a_baseline_a_change_is_approving(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    approver = uuid.uuid4()
    tranche, change = await change_in_a_tranche(client, ws)

    async def move_end() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            service = TrancheService(session, ws.user_id)
            row = await service.get(uuid.UUID(tranche["id"]))
            await service.update(row, {"end_date": date(2027, 7, 15)})

    async with in_workspace(database, ws.tenant_id) as first:
        service = ChangeRequestService(first, approver, Role.OWNER)
        await service.decide(await service.get(uuid.UUID(change["id"])), True, "", None)
        second = asyncio.create_task(move_end())
        await asyncio.sleep(0.5)
        # The tranche's end waits for the approval, then counts the baseline it moved.
        assert not second.done()
    with pytest.raises(Conflict, match="'Go live' \\(2027-08-01\\)"):
        await second
    read = (await client.get(url(ws, f"tranches/{tranche['id']}"), headers=ws.headers)).json()
    assert read["end_date"] == "2027-09-30"


async def test_a_change_approved_meanwhile_keeps_the_rebaselines_it_applied(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    _, change = await change_in_a_tranche(client, ws)
    line = change["rebaselines"][0]
    other = RebaselineIn(uuid.UUID(line["milestone_id"]), date(2027, 9, 1))

    async def replace_lines() -> None:
        # The requester replaces the re-baselines on the version they read, at that moment.
        async with in_workspace(database, ws.tenant_id) as session:
            service = ChangeRequestService(session, ws.user_id, Role.OWNER)
            row = await service.get(uuid.UUID(change["id"]))
            await service.update(row, {"rebaselines": [other]})

    async with in_workspace(database, ws.tenant_id) as first:
        service = ChangeRequestService(first, uuid.uuid4(), Role.OWNER)
        await service.decide(await service.get(uuid.UUID(change["id"])), True, "", None)
        second = asyncio.create_task(replace_lines())
        await asyncio.sleep(0.5)
    with pytest.raises(VersionMismatch):
        await second
    read = (await client.get(url(ws, f"change-requests/{change['id']}"), headers=ws.headers)).json()
    assert read["state"] == "approved"
    [kept] = read["rebaselines"]
    assert kept["new_baseline_date"] == "2027-08-01"
    assert kept["previous_baseline_date"] == "2027-06-01"
    assert kept["applied_at"] is not None


async def test_two_admins_reseating_a_board_at_once_do_not_both_go_in(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(
        client,
        ws,
        "boards",
        {"programme_id": prog["id"], "name": "Board", "members": [{"role_title": "SRO"}]},
    )

    async def reseat(session: AsyncSession, title: str) -> None:
        # As the update route does: the board read, its seats replaced, its version moved on.
        service = BoardService(session, ws.user_id, Role.OWNER)
        row = await service.get(uuid.UUID(board["id"]))
        await service.update(row, {"members": [BoardMemberIn(role_title=title)]})
        await service.touch(row)

    async def the_other() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            await reseat(session, "Sponsor")

    async with in_workspace(database, ws.tenant_id) as first:
        await reseat(first, "Chair")
        second = asyncio.create_task(the_other())
        await asyncio.sleep(0.5)
    with pytest.raises(VersionMismatch):
        await second
    read = (await client.get(url(ws, f"boards/{board['id']}"), headers=ws.headers)).json()
    assert [m["role_title"] for m in read["members"]] == ["Chair"]


async def test_a_schedule_impact_worked_out_stays_within_what_one_records(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2045-06-01"}
    draft = await make(
        client,
        ws,
        "change-requests",
        {"programme_id": prog["id"], "title": "Defer", "rebaselines": [line]},
    )

    submitted = await client.patch(
        url(ws, f"change-requests/{draft['id']}"),
        json={"state": "submitted"},
        headers={**ws.headers, "If-Match": f'"{draft["version"]}"'},
    )

    # 6575 days: more than schedule_impact_days takes (±3650), so not recorded as one, where
    # a read would show what a write of it back is refused.
    assert submitted.status_code == 409, submitted.text
    assert "6575 days" in submitted.json()["detail"]
    assert submitted.json()["errors"][0]["field"] == "rebaselines"
    read = (await client.get(url(ws, f"change-requests/{draft['id']}"), headers=ws.headers)).json()
    assert (read["state"], read["schedule_impact_days"]) == ("draft", None)


async def test_the_programme_end_does_not_move_before_a_baseline_a_change_is_approving(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await make(client, ws, "programmes", {"name": "Net Zero", "end_date": "2027-12-31"})
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2027-10-01"}
    change = await submitted_change(client, ws, {"programme_id": prog["id"], "rebaselines": [line]})

    async def move_end() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            service = ProgrammeService(session, ws.user_id)
            programme_row = await service.get(uuid.UUID(prog["id"]))
            await service.update(programme_row, {"end_date": date(2027, 8, 31)})

    async with in_workspace(database, ws.tenant_id) as first:
        service = ChangeRequestService(first, uuid.uuid4(), Role.OWNER)
        await service.decide(await service.get(uuid.UUID(change["id"])), True, "", None)
        second = asyncio.create_task(move_end())
        await asyncio.sleep(0.5)
        # The programme's end waits for the approval, then counts the baseline it moved.
        assert not second.done()
    with pytest.raises(Conflict, match="'Go live' \\(2027-10-01\\)"):
        await second
    read = (await client.get(url(ws, f"programmes/{prog['id']}"), headers=ws.headers)).json()
    assert read["end_date"] == "2027-12-31"
