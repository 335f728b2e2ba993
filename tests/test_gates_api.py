"""Stage gates over HTTP: a gate's ETag follows its criteria, a decision is taken on the gate as
last read (If-Match), and no undecided gate is planned in front of a tranche already under way."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.db.engine import Database
from tests.conftest import MakeWorkspace, Workspace, join
from tests.workspace_api import Client, change, make, programme, url


async def read_gate(client: Client, ws: Workspace, gate: dict[str, Any]) -> Any:
    response = await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)
    assert response.status_code == 200, response.text
    return response


async def decide_gate(
    client: Client,
    ws: Workspace,
    gate: dict[str, Any],
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Any:
    """Decide ``gate`` as it stands now: read its ETag, send it in If-Match. A gate still
    planned is put in review first (as whoever decides), as a gate is before its decision."""
    headers = headers or ws.headers
    gate_url = url(ws, f"stage-gates/{gate['id']}")
    current = await client.get(gate_url, headers=headers)
    assert current.status_code == 200, current.text
    if current.json()["state"] == "planned":
        reviewing = await client.patch(
            gate_url,
            json={"state": "in_review"},
            headers={**headers, "If-Match": current.headers["etag"]},
        )
        assert reviewing.status_code == 200, reviewing.text
        current = reviewing
    return await client.post(
        url(ws, f"stage-gates/{gate['id']}/decisions"),
        json=body,
        headers={**headers, "If-Match": current.headers["etag"]},
    )


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

    decided = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(ws.user_id)}
    )
    assert decided.status_code == 201, decided.text

    after = await read_gate(client, ws, gate)
    assert after.headers["etag"] != f'"{gate["version"]}"'
    assert after.json()["decision"] == "hold"


async def test_a_gate_is_decided_only_on_its_current_etag_and_a_replay_answers_the_first(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "Go live",
            "criteria": [{"text": "Security sign-off", "mandatory": False}],
        },
    )
    reviewing = await change(client, ws, "stage-gates", gate, {"state": "in_review"})
    assert reviewing.status_code == 200, reviewing.text
    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    go = {"decision": "go", "decided_by_id": str(ws.user_id)}
    read = await read_gate(client, ws, gate)
    key = {"Idempotency-Key": str(uuid.uuid4())}

    # Without If-Match: 428, and the key stays free for the real attempt.
    unasked = await client.post(decisions, json=go, headers={**ws.headers, **key})
    # A criterion assessed since the read: the board would decide on what it did not see.
    criterion = gate["criteria"][0]
    assessed = await client.patch(
        url(ws, f"stage-gates/{gate['id']}/criteria/{criterion['id']}"),
        json={"status": "not_met", "note": "Pen test findings open"},
        headers={**ws.headers, "If-Match": f'"{criterion["version"]}"'},
    )
    assert assessed.status_code == 200, assessed.text
    stale = await client.post(
        decisions, json=go, headers={**ws.headers, **key, "If-Match": read.headers["etag"]}
    )

    assert unasked.status_code == 428, unasked.text
    assert unasked.headers["content-type"].startswith("application/problem+json")
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"].startswith("application/problem+json")
    unchanged = await read_gate(client, ws, gate)
    assert stale.json()["current_etag"] == unchanged.headers["etag"] != read.headers["etag"]
    assert unchanged.json()["state"] == "in_review" and unchanged.json()["decision"] is None
    listed = await client.get(decisions, headers=ws.headers)
    assert listed.json()["total"] == 0

    current = {**ws.headers, **key, "If-Match": unchanged.headers["etag"]}
    held = await client.post(decisions, json={**go, "decision": "hold"}, headers=current)
    replayed = await client.post(decisions, json={**go, "decision": "hold"}, headers=current)

    assert held.status_code == 201, held.text
    # The decision moved the gate's ETag on; the retry still answers the first answer.
    assert (await read_gate(client, ws, gate)).headers["etag"] != unchanged.headers["etag"]
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == held.json()
    assert (await client.get(decisions, headers=ws.headers)).json()["total"] == 1
    # Another decision on the ETag the first one left behind is stale.
    again = await client.post(
        decisions, json=go, headers={**ws.headers, "If-Match": unchanged.headers["etag"]}
    )
    assert again.status_code == 412, again.text


async def test_a_gates_decisions_are_a_page(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "Go live"})
    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    for decision in ("hold", "recycle", "go"):
        body = {"decision": decision, "decided_by_id": str(ws.user_id)}
        taken = await decide_gate(client, ws, gate, body)
        assert taken.status_code == 201, taken.text

    first = await client.get(decisions, params={"limit": 2}, headers=ws.headers)
    rest = await client.get(decisions, params={"limit": 2, "offset": 2}, headers=ws.headers)
    whole = await client.get(decisions, headers=ws.headers)
    refused = await client.get(decisions, params={"limit": 0}, headers=ws.headers)

    assert first.status_code == 200, first.text
    assert {k: v for k, v in first.json().items() if k != "items"} == {
        "total": 3,
        "limit": 2,
        "offset": 0,
        "has_more": True,
    }
    assert [d["decision"] for d in first.json()["items"]] == ["hold", "recycle"]
    assert [d["decision"] for d in rest.json()["items"]] == ["go"]
    assert rest.json()["has_more"] is False
    assert whole.json()["limit"] == 50 and whole.json()["total"] == 3
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["limit"]


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


async def test_a_gates_board_is_one_of_its_own_programme_or_one_across_the_workspace(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    other_prog = await programme(client, ws, "Digital Services")
    own = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    others = await make(client, ws, "boards", {"programme_id": other_prog["id"], "name": "Board"})
    portfolio = await make(client, ws, "boards", {"name": "Portfolio board"})
    body = {"programme_id": prog["id"], "title": "Funding release"}

    refused = await client.post(
        url(ws, "stage-gates"), json={**body, "board_id": others["id"]}, headers=ws.headers
    )
    gate = await make(client, ws, "stage-gates", {**body, "board_id": own["id"]})
    moved = await change(client, ws, "stage-gates", gate, {"board_id": others["id"]})
    across = await change(client, ws, "stage-gates", gate, {"board_id": portfolio["id"]})

    for answer in (refused, moved):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == ["board_id"]
        assert "another programme" in answer.json()["errors"][0]["message"]
    assert across.status_code == 200, across.text
    assert across.json()["board_id"] == portfolio["id"]


async def test_only_the_chair_or_a_member_of_the_board_decides_and_the_secretariat_records_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    # Imported here: test_governance_api imports this module's decide_gate.
    ws = await make_workspace()  # its user holds the board's secretariat seat
    chair, adviser, observer = [await join(database, ws) for _ in range(3)]
    prog = await programme(client, ws)
    seats = [
        {"role_title": "SRO", "user_id": str(chair.user_id), "capacity": "chair"},
        {"role_title": "Programme manager", "user_id": str(adviser.user_id), "capacity": "adviser"},
        {"role_title": "Assurance", "user_id": str(observer.user_id), "capacity": "observer"},
        {"role_title": "PMO lead", "user_id": str(ws.user_id), "capacity": "secretariat"},
    ]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": seats}
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Funding release", "board_id": board["id"]},
    )

    for without_a_vote in (adviser.user_id, observer.user_id, ws.user_id):
        refused = await decide_gate(
            client, ws, gate, {"decision": "go", "decided_by_id": str(without_a_vote)}
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["decided_by_id"]
        assert "chair or a member" in refused.json()["errors"][0]["message"]
    undecided = await read_gate(client, ws, gate)
    assert undecided.json()["decision"] is None

    recorded = await decide_gate(
        client, ws, gate, {"decision": "go", "decided_by_id": str(chair.user_id)}
    )

    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["decided_by_id"] == str(chair.user_id)
    assert recorded.json()["created_by"] == str(ws.user_id)
    listed = await client.get(url(ws, f"stage-gates/{gate['id']}/decisions"), headers=ws.headers)
    assert [(d["decided_by_id"], d["created_by"]) for d in listed.json()["items"]] == [
        (str(chair.user_id), str(ws.user_id))
    ]


async def test_a_member_does_not_seat_themselves_on_a_gates_board_or_change_its_board(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    # Imported here: test_governance_api imports this module's decide_gate.
    from services.identity.models import Role

    ws = await make_workspace()  # its user owns the workspace
    member, chair = await join(database, ws), await join(database, ws)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    seats = [{"role_title": "SRO", "user_id": str(chair.user_id), "capacity": "chair"}]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": seats}
    )
    # A board the member rightly chairs, though not the one deciding the gate.
    theirs = [{"role_title": "Lead", "user_id": str(member.user_id), "capacity": "chair"}]
    design = await make(
        client,
        ws,
        "boards",
        {"programme_id": prog["id"], "name": "Design authority", "members": theirs},
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Funding release", "board_id": board["id"]},
    )
    as_member = {**member.headers, "If-Match": '"1"'}

    own_board = await client.post(
        url(ws, "boards"),
        json={"programme_id": prog["id"], "name": "My board", "members": theirs},
        headers=member.headers,
    )
    reseated = await client.patch(
        url(ws, f"boards/{board['id']}"), json={"members": theirs}, headers=as_member
    )
    removed = await client.delete(url(ws, f"boards/{board['id']}"), headers=member.headers)
    handed_over = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"), json={"board_id": design["id"]}, headers=as_member
    )

    for answer in (own_board, reseated, removed, handed_over):
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "admin" in answer.json()["detail"]
    assert [e["field"] for e in handed_over.json()["errors"]] == ["board_id"]
    listed = await client.get(url(ws, "boards"), headers=member.headers)
    assert listed.status_code == 200 and listed.json()["total"] == 2
    shown = await client.get(url(ws, f"boards/{board['id']}"), headers=member.headers)
    assert [m["user_id"] for m in shown.json()["members"]] == [str(chair.user_id)]
    by_member = await decide_gate(
        client, ws, gate, {"decision": "go", "decided_by_id": str(member.user_id)}, member.headers
    )
    assert by_member.status_code == 422, by_member.text
    # The member still plans the gate, sending its board back unchanged.
    reviewing = await read_gate(client, ws, gate)
    planned = await client.patch(
        url(ws, f"stage-gates/{gate['id']}"),
        json={"title": "Funding release review", "board_id": board["id"]},
        headers={**member.headers, "If-Match": reviewing.headers["etag"]},
    )
    assert planned.status_code == 200, planned.text

    # Setting up governance is an admin's (or the owner's) act.
    moved = await change(client, ws, "stage-gates", planned.json(), {"board_id": design["id"]})
    assert moved.status_code == 200, moved.text
    by_admin = await client.post(
        url(ws, "boards"),
        json={"programme_id": prog["id"], "name": "Sponsoring group"},
        headers=admin.headers,
    )
    assert by_admin.status_code == 201, by_admin.text
    go = await decide_gate(
        client, ws, gate, {"decision": "go", "decided_by_id": str(member.user_id)}, member.headers
    )
    assert go.status_code == 201, go.text


async def test_a_gate_in_review_keeps_what_its_criteria_test_but_takes_their_assessment(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "End of tranche 1",
            "criteria": [{"text": "Capability delivered"}, {"text": "Benefits on track"}],
        },
    )
    delivered, on_track = gate["criteria"]
    reviewing = await change(client, ws, "stage-gates", gate, {"state": "in_review"})
    assert reviewing.status_code == 200, reviewing.text

    async def patch(criterion: dict[str, Any], body: dict[str, Any]) -> Any:
        return await client.patch(
            url(ws, f"stage-gates/{gate['id']}/criteria/{criterion['id']}"),
            json=body,
            headers={**ws.headers, "If-Match": f'"{criterion["version"]}"'},
        )

    refused = {
        "optional": await patch(delivered, {"mandatory": False}),
        "reworded": await patch(on_track, {"text": "Benefits roughly on track"}),
        "evidence": await patch(on_track, {"evidence_required": "Measurements", "note": "x"}),
    }
    added = await client.post(
        url(ws, f"stage-gates/{gate['id']}/criteria"),
        json={"text": "Nice to have", "mandatory": False},
        headers=ws.headers,
    )
    back = await change(client, ws, "stage-gates", reviewing.json(), {"state": "planned"})
    assessed = await patch(
        delivered, {"status": "met", "evidence_link": "https://docs.example.org/t1.pdf"}
    )
    same_test = await patch(on_track, {"mandatory": True, "note": "Two benefits behind"})

    for name, answer in refused.items():
        assert answer.status_code == 409, (name, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "in review" in answer.json()["detail"]
    assert [e["field"] for e in refused["optional"].json()["errors"]] == ["mandatory"]
    assert [e["field"] for e in refused["evidence"].json()["errors"]] == ["evidence_required"]
    assert added.status_code == 409, added.text
    assert back.status_code == 409, back.text
    assert [e["field"] for e in back.json()["errors"]] == ["state"]
    assert assessed.status_code == 200, assessed.text
    assert same_test.status_code == 200, same_test.text
    read = (await read_gate(client, ws, gate)).json()
    assert read["state"] == "in_review"
    assert [(c["text"], c["mandatory"], c["status"]) for c in read["criteria"]] == [
        ("Capability delivered", True, "met"),
        ("Benefits on track", True, "not_assessed"),
    ]
    go = await decide_gate(client, ws, gate, {"decision": "go", "decided_by_id": str(ws.user_id)})
    assert go.status_code == 422, go.text

    # Held, it is reviewed again on the same criteria.
    held = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(ws.user_id)}
    )
    assert held.status_code == 201, held.text
    still = await patch(read["criteria"][1], {"mandatory": False})
    assert still.status_code == 409, still.text
    assert "decided (hold)" in still.json()["detail"]


async def test_a_gates_outcomes_are_named_once_and_its_recommendation_is_one_of_them(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    repeated = await client.post(
        url(ws, "stage-gates"),
        json={"programme_id": prog["id"], "title": "Go live", "outcomes": ["go", "hold", "go"]},
        headers=ws.headers,
    )
    assert repeated.status_code == 422, repeated.text
    assert [e["field"] for e in repeated.json()["errors"]] == ["outcomes"]

    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Go live", "outcomes": ["go", "hold"]},
    )
    stop = await change(client, ws, "stage-gates", gate, {"recommendation": "stop"})
    assert stop.status_code == 422, stop.text
    assert [e["field"] for e in stop.json()["errors"]] == ["recommendation"]
    hold = await change(client, ws, "stage-gates", gate, {"recommendation": "hold"})
    assert hold.status_code == 200, hold.text
    narrowed = await change(client, ws, "stage-gates", hold.json(), {"outcomes": ["go"]})
    assert narrowed.status_code == 422, narrowed.text
    assert [e["field"] for e in narrowed.json()["errors"]] == ["outcomes"]
    both = await change(
        client, ws, "stage-gates", hold.json(), {"outcomes": ["go"], "recommendation": "go"}
    )
    assert both.status_code == 200, both.text
    assert (both.json()["outcomes"], both.json()["recommendation"]) == (["go"], "go")
