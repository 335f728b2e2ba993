"""A delete the database's keys refuse names what still refers to the row."""

from __future__ import annotations

from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, make, programme, url


async def test_a_row_still_referred_to_is_not_deleted_and_the_answer_names_by_what(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"name": "Programme board"})
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Business case", "board_id": board["id"]},
    )

    refused = await client.delete(
        url(ws, f"boards/{board['id']}"),
        headers={**ws.headers, "If-Match": f'"{board["version"]}"'},
    )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        "This board is still referred to by stage gates: change or remove those first."
    )
    still = await client.get(url(ws, f"boards/{board['id']}"), headers=ws.headers)
    assert still.status_code == 200
    assert (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()[
        "board_id"
    ] == board["id"]
