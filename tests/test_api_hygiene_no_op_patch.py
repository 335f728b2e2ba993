"""A PATCH that changes nothing leaves the row as it was: its version (the ETag), when and by
whom it was last changed. A real change moves them on, a change of a row's parts too."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from tests.conftest import MakeWorkspace, Workspace, join
from tests.workspace_api import Client, make, programme, url


async def patch(
    client: Client,
    ws: Workspace,
    path: str,
    row: dict[str, Any],
    body: dict[str, Any],
    **headers: str,
) -> dict[str, Any]:
    response = await client.patch(
        url(ws, f"{path}/{row['id']}"),
        json=body,
        headers={**ws.headers, **headers, "If-Match": f'"{row["version"]}"'},
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{response.json()["version"]}"'
    changed: dict[str, Any] = response.json()
    return changed


def stamps(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["version"], row["updated_at"], row["updated_by"]


async def test_a_patch_that_changes_nothing_leaves_the_row_as_it_was(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    other = await join(database, ws)
    prog = await programme(client, ws)
    issue = await make(
        client,
        ws,
        "issues",
        {"programme_id": prog["id"], "title": "Supplier late", "custom_fields": {}},
    )
    for body in ({}, {"title": "Supplier late"}, {"title": "Supplier late", "custom_fields": {}}):
        same = await patch(client, ws, "issues", issue, body, **other.headers)
        assert stamps(same) == stamps(issue), body
        read = await client.get(url(ws, f"issues/{issue['id']}"), headers=ws.headers)
        assert read.json() == issue

    # A programme too (its own service), by someone other than its last editor.
    for body in ({}, {"name": prog["name"]}):
        same = await patch(client, ws, "programmes", prog, body, **other.headers)
        assert stamps(same) == stamps(prog), body

    renamed = await patch(client, ws, "issues", issue, {"title": "Supplier later"}, **other.headers)
    assert renamed["version"] == issue["version"] + 1
    assert renamed["updated_by"] == str(other.user_id)
    assert renamed["updated_at"] > issue["updated_at"]


async def test_a_change_of_a_rows_parts_alone_moves_its_version_on_and_the_same_parts_do_not(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "P"})
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Fewer days", "classification": "non_cash"},
    )
    enabled = await patch(
        client, ws, "benefits", benefit, {"enabling_project_ids": [project["id"]]}
    )
    assert enabled["version"] == benefit["version"] + 1
    again = await patch(client, ws, "benefits", enabled, {"enabling_project_ids": [project["id"]]})
    assert stamps(again) == stamps(enabled)

    members = [{"role_title": "SRO", "user_id": str(ws.user_id)}]
    board = await make(client, ws, "boards", {"name": "Steering", "members": members})
    same = await patch(client, ws, "boards", board, {"members": members})
    assert stamps(same) == stamps(board)
    more = await patch(
        client, ws, "boards", board, {"members": [*members, {"role_title": "Finance"}]}
    )
    assert more["version"] == board["version"] + 1
    assert [m["role_title"] for m in more["members"]] == ["SRO", "Finance"]
