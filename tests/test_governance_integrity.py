"""Governance rules that hold when two writes race each other, and the change requester's rule
for requests naming no requester."""

from __future__ import annotations

from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, make, programme, url


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
