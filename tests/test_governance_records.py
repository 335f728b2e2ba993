"""Governance records and decision rights: who withdraws a change request and what is kept, who
takes and records a decision, where a decision was taken, a held meeting, the re-baselines'
order and what a board's deletion says."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, Member, Workspace, join
from tests.workspace_api import Client, make, programme, url


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
