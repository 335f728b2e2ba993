"""Stage gates over HTTP: a gate's ETag follows its criteria."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, make, programme, url


async def read_gate(client: Client, ws: Workspace, gate: dict[str, Any]) -> Any:
    response = await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)
    assert response.status_code == 200, response.text
    return response


async def test_a_gates_etag_moves_on_when_its_criteria_change(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "Go live"})
    first = await read_gate(client, ws, gate)
    criteria = url(ws, f"stage-gates/{gate['id']}/criteria")

    added = await client.post(
        criteria, json={"text": "Cut-over rehearsed", "mandatory": False}, headers=ws.headers
    )
    assert added.status_code == 201, added.text
    after_adding = await read_gate(client, ws, gate)
    stale = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"),
        json={"title": "Go live review"},
        headers={**ws.headers, "If-Match": first.headers["etag"]},
    )
    assessed = await client.patch(
        f"{criteria}/{added.json()['id']}",
        json={"status": "met"},
        headers={**ws.headers, "If-Match": added.headers["etag"]},
    )
    assert assessed.status_code == 200, assessed.text
    after_assessing = await read_gate(client, ws, gate)
    stale_again = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"),
        json={"title": "Go live review"},
        headers={**ws.headers, "If-Match": after_adding.headers["etag"]},
    )

    assert after_adding.headers["etag"] != first.headers["etag"]
    assert after_adding.json()["version"] == first.json()["version"] + 1
    assert [c["text"] for c in after_adding.json()["criteria"]] == ["Cut-over rehearsed"]
    moved = [datetime.fromisoformat(r.json()["updated_at"]) for r in (first, after_adding)]
    assert moved[1] > moved[0]
    assert stale.status_code == 412, stale.text
    assert after_assessing.headers["etag"] not in {
        first.headers["etag"],
        after_adding.headers["etag"],
    }
    assert after_assessing.json()["criteria_met"] == 1
    assert stale_again.status_code == 412, stale_again.text
    # The current ETag still writes.
    current = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"),
        json={"title": "Go live review"},
        headers={**ws.headers, "If-Match": after_assessing.headers["etag"]},
    )
    assert current.status_code == 200, current.text


async def test_a_decision_moves_the_gates_etag_on(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "Go live"})

    decided = await client.post(
        url(ws, f"stage-gates/{gate['id']}/decisions"),
        json={"decision": "hold", "decided_by_id": str(ws.user_id)},
        headers=ws.headers,
    )
    assert decided.status_code == 201, decided.text

    after = await read_gate(client, ws, gate)
    assert after.headers["etag"] != f'"{gate["version"]}"'
    assert after.json()["decision"] == "hold"
