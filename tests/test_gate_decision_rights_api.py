"""Who decides a stage gate and when: a gate is put in review before its board decides it, a
gate without a board is decided by a workspace admin or owner, and the decision's 201 carries
the decision's ETag (the gate's moved on, and is read again)."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, Workspace, join
from tests.test_gates_api import decide_gate, read_gate
from tests.workspace_api import Client, change, make, programme, url


async def _post_decision(
    client: Client, ws: Workspace, gate: dict[str, Any], body: dict[str, Any]
) -> Any:
    """POST a decision on the gate as it stands, leaving its state as it is."""
    current = await read_gate(client, ws, gate)
    return await client.post(
        url(ws, f"stage-gates/{gate['id']}/decisions"),
        json=body,
        headers={**ws.headers, "If-Match": current.headers["etag"]},
    )


async def test_a_planned_gate_is_put_in_review_before_it_is_decided(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Go live", "criteria": [{"text": "Rehearsed"}]},
    )
    hold = {"decision": "hold", "decided_by_id": str(ws.user_id)}

    refused = await _post_decision(client, ws, gate, hold)

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "in_review" in refused.json()["detail"]
    unchanged = (await read_gate(client, ws, gate)).json()
    assert (unchanged["state"], unchanged["decision"], unchanged["version"]) == (
        "planned",
        None,
        gate["version"],
    )
    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    assert (await client.get(decisions, headers=ws.headers)).json()["total"] == 0

    reviewing = await change(client, ws, "stage-gates", unchanged, {"state": "in_review"})
    assert reviewing.status_code == 200, reviewing.text
    held = await _post_decision(client, ws, gate, hold)
    assert held.status_code == 201, held.text
    # Held, it is reviewed again: decided, it takes its next decision without going back.
    recycled = await _post_decision(client, ws, gate, {**hold, "decision": "recycle"})
    assert recycled.status_code == 201, recycled.text


async def test_a_gate_without_a_board_is_decided_by_a_workspace_admin_or_owner(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()  # its user owns the workspace
    member = await join(database, ws)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "Go live"})
    hold = {"decision": "hold"}

    by_member = await decide_gate(
        client, ws, gate, {**hold, "decided_by_id": str(member.user_id)}, member.headers
    )
    for_member = await decide_gate(
        client, ws, gate, {**hold, "decided_by_id": str(member.user_id)}, admin.headers
    )

    assert by_member.status_code == 403, by_member.text
    assert by_member.headers["content-type"].startswith("application/problem+json")
    assert "admin or owner" in by_member.json()["detail"]
    assert for_member.status_code == 422, for_member.text
    assert [e["field"] for e in for_member.json()["errors"]] == ["decided_by_id"]
    assert "admin or owner" in for_member.json()["errors"][0]["message"]
    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    assert (await client.get(decisions, headers=ws.headers)).json()["total"] == 0

    by_admin = await decide_gate(
        client, ws, gate, {**hold, "decided_by_id": str(admin.user_id)}, admin.headers
    )
    # An admin records the owner's decision.
    for_owner = await decide_gate(
        client, ws, gate, {"decision": "go", "decided_by_id": str(ws.user_id)}, admin.headers
    )
    assert by_admin.status_code == 201, by_admin.text
    assert for_owner.status_code == 201, for_owner.text
    assert (for_owner.json()["decided_by_id"], for_owner.json()["created_by"]) == (
        str(ws.user_id),
        str(admin.user_id),
    )


async def test_a_gate_with_a_board_is_decided_by_its_voting_members_not_by_an_admin_off_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    chair = await join(database, ws)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    seats = [{"role_title": "SRO", "user_id": str(chair.user_id), "capacity": "chair"}]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": seats}
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Go live", "board_id": board["id"]},
    )

    # An admin records the board's decision but does not take it in the board's place.
    own = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(admin.user_id)}, admin.headers
    )
    by_chair = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(chair.user_id)}, chair.headers
    )

    assert own.status_code == 422, own.text
    assert [e["field"] for e in own.json()["errors"]] == ["decided_by_id"]
    assert by_chair.status_code == 201, by_chair.text


async def test_a_decisions_201_is_the_decision_and_the_gate_is_read_again_for_its_etag(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "Go live"})

    decided = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(ws.user_id)}
    )
    assert decided.status_code == 201, decided.text
    at_location = await client.get(decided.headers["location"], headers=ws.headers)

    # The 201 describes the decision at Location: its body and ETag are the decision's.
    assert at_location.status_code == 200, at_location.text
    assert decided.headers["etag"] == at_location.headers["etag"]
    assert decided.json() == at_location.json()
    # The gate moved on: the decision's ETag does not write it; the gate's, read again, does.
    with_decisions_tag = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"),
        json={"recommendation": "go"},
        headers={**ws.headers, "If-Match": decided.headers["etag"]},
    )
    gate_now = await read_gate(client, ws, gate)
    with_gates_tag = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"),
        json={"recommendation": "go"},
        headers={**ws.headers, "If-Match": gate_now.headers["etag"]},
    )
    assert with_decisions_tag.status_code == 412, with_decisions_tag.text
    assert with_decisions_tag.json()["current_etag"] == gate_now.headers["etag"]
    assert with_gates_tag.status_code == 200, with_gates_tag.text


async def test_the_decision_route_documents_its_etag_when_a_gate_is_decided_and_who_decides(
    client: Client,
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    route = schema["paths"]["/api/v1/w/{slug}/stage-gates/{gate_id}/decisions"]["post"]

    assert {"403", "409", "412", "422", "428"} <= set(route["responses"])
    described = route["description"]
    assert "in_review" in described and "admin or owner" in described
    assert "the decision's ETag" in described and "read the gate" in described
