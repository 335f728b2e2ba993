"""Governance records and decision rights: who withdraws a change request and what is kept, who
takes and records a decision, where a decision was taken, a held meeting, the re-baselines'
order and what a board's deletion says."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, Member, Workspace, join
from tests.workspace_api import Client, change, days_from, make, programme, url, workspace_today


async def post_as(
    client: Client, ws: Workspace, path: str, body: dict[str, Any], who: Member | Workspace
) -> Any:
    return await client.post(url(ws, path), json=body, headers=who.headers)


async def patch_as(
    client: Client,
    ws: Workspace,
    path: str,
    row: dict[str, Any],
    body: dict[str, Any],
    who: Member | Workspace,
) -> Any:
    return await client.patch(
        url(ws, f"{path}/{row['id']}"),
        json=body,
        headers={**who.headers, "If-Match": f'"{row["version"]}"'},
    )


# --- change requests: withdrawn by their requester, kept once submitted ---------------------------


async def test_a_submitted_change_is_withdrawn_by_its_requester_or_an_admin_and_then_kept(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    requester, other = await join(database, ws), await join(database, ws)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)

    async def submitted(title: str) -> dict[str, Any]:
        body = {"programme_id": prog["id"], "title": title}
        created = await post_as(client, ws, "change-requests", body, requester)
        assert created.status_code == 201, created.text
        sent = await patch_as(
            client, ws, "change-requests", created.json(), {"state": "submitted"}, requester
        )
        assert sent.status_code == 200, sent.text
        row: dict[str, Any] = sent.json()
        return row

    change_request = await submitted("Add payments")
    path = f"change-requests/{change_request['id']}"

    refused = await patch_as(
        client, ws, "change-requests", change_request, {"state": "withdrawn"}, other
    )
    assert refused.status_code == 403, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["state"]
    for who in (other, requester):
        kept = await client.delete(url(ws, path), headers=who.headers)
        assert kept.status_code == 409, kept.text
        assert "withdraw it" in kept.json()["detail"]
    withdrawn = await patch_as(
        client, ws, "change-requests", change_request, {"state": "withdrawn"}, requester
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["state"] == "withdrawn"
    still = await client.delete(url(ws, path), headers=requester.headers)
    assert still.status_code == 409, still.text
    assert "kept on record" in still.json()["detail"]
    assert (await client.get(url(ws, path), headers=ws.headers)).status_code == 200

    # An admin stands in for the requester; a draft is still deleted.
    another = await submitted("Add refunds")
    by_admin = await patch_as(client, ws, "change-requests", another, {"state": "withdrawn"}, admin)
    assert by_admin.status_code == 200, by_admin.text
    draft = await make(client, ws, "change-requests", {"programme_id": prog["id"], "title": "Idea"})
    gone = await client.delete(url(ws, f"change-requests/{draft['id']}"), headers=other.headers)
    assert gone.status_code == 204, gone.text


# --- decisions: taken by a seat on their board, recorded by a seat or the person --------------


async def test_a_boards_decision_is_taken_by_a_seat_on_it_and_recorded_by_one(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()  # its owner sets up the board
    chair, secretary, outsider = [await join(database, ws) for _ in range(3)]
    prog = await programme(client, ws)
    seats = [
        {"role_title": "SRO", "user_id": str(chair.user_id), "capacity": "chair"},
        {"role_title": "Secretary", "user_id": str(secretary.user_id), "capacity": "secretariat"},
    ]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": seats}
    )
    base = {"programme_id": prog["id"], "title": "Buy the CRM", "board_id": board["id"]}

    def taken(by: Member | Workspace) -> dict[str, Any]:
        return {**base, "status": "approved", "decided_by_id": str(by.user_id)}

    # Nobody records it in the chair's name from off the board.
    off_board = await post_as(client, ws, "decisions", taken(chair), outsider)
    assert off_board.status_code == 403, off_board.text
    # Taken by its chair or a member: not the secretariat, not someone without a seat.
    for decider in (secretary, outsider, ws):
        refused = await post_as(client, ws, "decisions", taken(decider), ws)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["decided_by_id"]
    for recorder in (secretary, chair, ws):
        recorded = await post_as(client, ws, "decisions", taken(chair), recorder)
        assert recorded.status_code == 201, recorded.text

    # A decision on the agenda is anyone's to write; taking it is as above.
    agenda = await post_as(client, ws, "decisions", {**base, "status": "pending"}, outsider)
    assert agenda.status_code == 201, agenda.text
    verdict = {"status": "approved", "decided_by_id": str(chair.user_id)}
    not_theirs = await patch_as(client, ws, "decisions", agenda.json(), verdict, outsider)
    assert not_theirs.status_code == 403, not_theirs.text
    theirs = await patch_as(client, ws, "decisions", agenda.json(), verdict, chair)
    assert theirs.status_code == 200, theirs.text

    # Naming no board, a decision is its taker's: recorded by them or an admin or owner.
    own = {"programme_id": prog["id"], "title": "Hire a PMO lead", "status": "approved"}
    in_name = await post_as(
        client, ws, "decisions", {**own, "decided_by_id": str(chair.user_id)}, outsider
    )
    assert in_name.status_code == 403, in_name.text
    mine = await post_as(
        client, ws, "decisions", {**own, "decided_by_id": str(outsider.user_id)}, outsider
    )
    assert mine.status_code == 201, mine.text
    for_chair = await post_as(
        client, ws, "decisions", {**own, "decided_by_id": str(chair.user_id)}, ws
    )
    assert for_chair.status_code == 201, for_chair.text
    # The board filled in afterwards is one its taker sits on.
    not_seated = await change(client, ws, "decisions", mine.json(), {"board_id": board["id"]})
    assert not_seated.status_code == 422, not_seated.text
    assert [e["field"] for e in not_seated.json()["errors"]] == ["board_id"]
    seated = await change(client, ws, "decisions", for_chair.json(), {"board_id": board["id"]})
    assert seated.status_code == 200, seated.text


async def test_a_taken_decisions_board_and_meeting_are_filled_in_not_changed(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    chair = [{"role_title": "SRO", "user_id": str(ws.user_id), "capacity": "chair"}]
    board, other_board = [
        await make(client, ws, "boards", {"programme_id": prog["id"], "name": n, "members": chair})
        for n in ("Board", "Design authority")
    ]
    last_week = days_from(workspace_today(), -7)
    first, second = [
        await make(
            client,
            ws,
            "meetings",
            {"board_id": board["id"], "title": t, "state": "held", "held_on": last_week},
        )
        for t in ("March board", "Extra board")
    ]
    decision = await make(
        client,
        ws,
        "decisions",
        {
            "programme_id": prog["id"],
            "title": "Buy the CRM",
            "status": "approved",
            "decided_by_id": str(ws.user_id),
        },
    )

    with_board = await change(client, ws, "decisions", decision, {"board_id": board["id"]})
    assert with_board.status_code == 200, with_board.text
    with_meeting = await change(
        client, ws, "decisions", with_board.json(), {"meeting_id": first["id"]}
    )
    assert with_meeting.status_code == 200, with_meeting.text
    filled = with_meeting.json()
    for body in (
        {"meeting_id": second["id"]},
        {"meeting_id": None},
        {"board_id": other_board["id"]},
        {"board_id": None, "meeting_id": None},
    ):
        refused = await change(client, ws, "decisions", filled, body)
        assert refused.status_code == 409, (body, refused.text)
        assert {e["field"] for e in refused.json()["errors"]} == set(body), body
    kept = (await client.get(url(ws, f"decisions/{decision['id']}"), headers=ws.headers)).json()
    assert (kept["board_id"], kept["meeting_id"]) == (board["id"], first["id"])

    # Until taken, where it is to be taken moves freely.
    pending = await make(
        client,
        ws,
        "decisions",
        {"programme_id": prog["id"], "title": "Pick a vendor", "board_id": board["id"]},
    )
    moved = await change(client, ws, "decisions", pending, {"board_id": other_board["id"]})
    assert moved.status_code == 200, moved.text


# --- meetings: a held one stays held --------------------------------------------------------------


async def test_a_held_meeting_stays_held(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    yesterday = days_from(workspace_today(), -1)
    held = await make(
        client,
        ws,
        "meetings",
        {"board_id": board["id"], "title": "March board", "state": "held", "held_on": yesterday},
    )
    for state in ("cancelled", "scheduled"):
        refused = await change(client, ws, "meetings", held, {"state": state})
        assert refused.status_code == 409, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["state"]
    minuted = await change(client, ws, "meetings", held, {"state": "held", "minutes": "Agreed"})
    assert minuted.status_code == 200, minuted.text
    assert minuted.json()["state"] == "held"

    planned = await make(
        client,
        ws,
        "meetings",
        {
            "board_id": board["id"],
            "title": "April board",
            "held_on": days_from(workspace_today(), 30),
        },
    )
    cancelled = await change(client, ws, "meetings", planned, {"state": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text


# --- change requests: re-baselines read in a stable order ----------------------------------------


async def test_rebaselines_to_the_same_day_are_read_in_the_order_of_their_milestones(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    milestones = [
        await make(
            client,
            ws,
            "milestones",
            {"programme_id": prog["id"], "title": f"M{n}", "baseline_date": "2027-06-01"},
        )
        for n in range(6)
    ]
    ids = sorted(m["id"] for m in milestones)
    # Written in the reverse of the order they are read in.
    lines = [{"milestone_id": i, "new_baseline_date": "2027-07-01"} for i in reversed(ids)]
    created = await make(
        client,
        ws,
        "change-requests",
        {"programme_id": prog["id"], "title": "Slip", "rebaselines": lines},
    )
    assert [line["milestone_id"] for line in created["rebaselines"]] == ids
    listed = await client.get(
        url(ws, "change-requests"), params={"programme_id": prog["id"]}, headers=ws.headers
    )
    assert [line["milestone_id"] for line in listed.json()["items"][0]["rebaselines"]] == ids


# --- boards: a deletion refused names the meeting and what cites it ----------------------------


async def test_deleting_a_board_whose_meeting_is_cited_names_the_meeting_and_the_citing_row(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    yesterday = days_from(workspace_today(), -1)
    meeting = await make(
        client,
        ws,
        "meetings",
        {"board_id": board["id"], "title": "March board", "state": "held", "held_on": yesterday},
    )
    action = await make(
        client, ws, "actions", {"meeting_id": meeting["id"], "title": "Update the plan"}
    )
    await make(
        client,
        ws,
        "decisions",
        {"programme_id": prog["id"], "title": "Pick a vendor", "meeting_id": meeting["id"]},
    )
    board_path = url(ws, f"boards/{board['id']}")

    refused = await client.delete(board_path, headers=ws.headers)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'March board'" in detail and "'Update the plan'" in detail, detail
    assert "referred to by actions" not in detail

    gone = await client.delete(url(ws, f"actions/{action['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text
    refused = await client.delete(board_path, headers=ws.headers)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'March board'" in detail and "decision 'Pick a vendor'" in detail, detail
