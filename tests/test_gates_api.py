"""Stage gates over HTTP: a gate's ETag follows its criteria, and no undecided gate is planned
in front of a tranche already under way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, change, make, programme, url


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


async def _tranches(client: Client, ws: Workspace) -> tuple[dict[str, Any], ...]:
    """T1 started, T2 planned after it, T3 closed before both (positions 1, 2, 0)."""
    prog = await programme(client, ws)
    made = [
        await make(client, ws, "tranches", {"programme_id": prog["id"], "name": n, "position": p})
        for n, p in (("T0", 0), ("T1", 1), ("T2", 2))
    ]
    zero, first, second = made
    started = await change(client, ws, "tranches", zero, {"state": "started"})
    closed = await change(client, ws, "tranches", started.json(), {"state": "closed"})
    assert closed.status_code == 200, closed.text
    started = await change(client, ws, "tranches", first, {"state": "started"})
    assert started.status_code == 200, started.text
    return prog, closed.json(), started.json(), second


async def test_no_undecided_gate_is_planned_before_a_tranche_under_way(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog, zero, first, second = await _tranches(client, ws)

    def gate(tranche: dict[str, Any], boundary: str) -> dict[str, Any]:
        return {
            "programme_id": prog["id"],
            "title": f"{boundary} {tranche['name']}",
            "tranche_id": tranche["id"],
            "boundary": boundary,
        }

    refused = {
        "into T0 (closed)": gate(zero, "entry"),
        "into T1 (started)": gate(first, "entry"),
        "after T0, into T1 (started)": gate(zero, "exit"),
    }
    planned = [gate(first, "exit"), gate(second, "entry"), gate(second, "exit")]

    for named, body in refused.items():
        response = await client.post(url(ws, "stage-gates"), json=body, headers=ws.headers)
        assert response.status_code == 409, (named, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert named.split(", ")[-1].removeprefix("into ") in response.json()["detail"]
        assert [e["field"] for e in response.json()["errors"]] == ["tranche_id"]
    for body in planned:
        response = await client.post(url(ws, "stage-gates"), json=body, headers=ws.headers)
        assert response.status_code == 201, response.text
    listed = await client.get(
        url(ws, "stage-gates"), params={"programme_id": prog["id"]}, headers=ws.headers
    )
    assert sorted(g["title"] for g in listed.json()["items"]) == [
        "entry T2",
        "exit T1",
        "exit T2",
    ]
    # T2 waits for the gates now planned on its way in.
    blocked = await change(client, ws, "tranches", second, {"state": "started"})
    assert blocked.status_code == 409, blocked.text


async def test_a_gate_on_a_project_or_on_no_tranche_is_planned_whatever_the_tranches(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog, _, first, _ = await _tranches(client, ws)
    project = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "CRM", "tranche_id": first["id"]},
    )

    for body in (
        {"programme_id": prog["id"], "title": "Funding"},
        {"programme_id": prog["id"], "title": "CRM design", "project_id": project["id"]},
    ):
        response = await client.post(url(ws, "stage-gates"), json=body, headers=ws.headers)
        assert response.status_code == 201, response.text
