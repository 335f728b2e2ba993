"""Governance and stage gates over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from services.db.engine import Database
from services.errors import ValidationFailed
from services.identity.models import Role
from services.workspace.gates.models import GateBoundary, StageGate
from services.workspace.governance.models import DecisionStatus
from services.workspace.governance.service import DecisionService
from tests.conftest import MakeWorkspace, Member, Workspace, in_workspace, join
from tests.test_gates_api import decide_gate
from tests.workspace_api import Client, change, days_from, make, programme, url, workspace_today


async def submitted_change(
    client: Client, ws: Workspace, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    created = await make(client, ws, "change-requests", {"title": "Add payments", **body})
    response = await client.patch(
        url(ws, f"change-requests/{created['id']}"),
        json={"state": "submitted"},
        headers={**(headers or ws.headers), "If-Match": f'"{created["version"]}"'},
    )
    assert response.status_code == 200, response.text
    submitted: dict[str, Any] = response.json()
    return submitted


async def rebaselining_change(
    client: Client, ws: Workspace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A programme, and a submitted change request moving its milestone's baseline (1 June to
    1 July 2027)."""
    prog = await programme(client, ws)
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2027-07-01"}
    return prog, await submitted_change(
        client, ws, {"programme_id": prog["id"], "rebaselines": [line]}
    )


async def decide_change(
    client: Client,
    ws: Workspace,
    row: dict[str, Any],
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Any:
    return await client.post(
        url(ws, f"change-requests/{row['id']}/decision"),
        json=body,
        headers={**(headers or ws.headers), "If-Match": f'"{row["version"]}"'},
    )


async def test_a_board_meets_raises_actions_and_decisions(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(
        client,
        ws,
        "boards",
        {
            "programme_id": prog["id"],
            "name": "Programme board",
            "terms_of_reference": "Directs the programme",
            "decision_rights": ["Approve tranche plans", "Approve changes under £1m"],
            "cadence": "monthly",
            "members": [
                {"role_title": "SRO", "user_id": str(ws.user_id), "capacity": "chair"},
                {"role_title": "BCM"},
            ],
        },
    )
    assert [m["role_title"] for m in board["members"]] == ["SRO", "BCM"]
    meeting = await make(
        client,
        ws,
        "meetings",
        {"board_id": board["id"], "title": "March board", "held_on": "2026-03-02", "state": "held"},
    )
    today = workspace_today()
    yesterday = days_from(today, -1)
    action = await make(
        client,
        ws,
        "actions",
        {"meeting_id": meeting["id"], "title": "Update plan", "due_date": yesterday},
    )
    assert action["programme_id"] == prog["id"]  # from the meeting's board
    assert action["overdue"] is True
    overdue = await client.get(url(ws, "actions"), params={"overdue": "true"}, headers=ws.headers)
    assert [a["title"] for a in overdue.json()["items"]] == ["Update plan"]
    done = await change(client, ws, "actions", action, {"state": "done"})
    assert done.json()["overdue"] is False and done.json()["completed_on"] == today.isoformat()

    decision = await make(
        client,
        ws,
        "decisions",
        {
            "programme_id": prog["id"],
            "title": "Choose CRM vendor",
            "options": ["Build", "Buy"],
            "decision": "Buy",
            "rationale": "Time to market",
            "board_id": board["id"],
            "meeting_id": meeting["id"],
            "decided_by_id": str(ws.user_id),
            "decided_on": "2026-03-02",
            "status": "approved",
        },
    )
    assert decision["options"] == ["Build", "Buy"]
    stranger = "00000000-0000-0000-0000-000000000001"
    refused = await change(
        client, ws, "boards", board, {"members": [{"role_title": "PM", "user_id": stranger}]}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "members.user_id"
    no_attendee = await change(client, ws, "meetings", meeting, {"attendee_ids": [stranger]})
    assert no_attendee.status_code == 422
    members = await change(client, ws, "boards", board, {"members": [{"role_title": "PM"}]})
    assert [m["role_title"] for m in members.json()["members"]] == ["PM"]


async def test_approving_a_change_request_rebaselines_its_milestones_and_records_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    board = await join(database, ws, Role.ADMIN)  # decides the change the owner raises
    prog = await programme(client, ws)
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    request = await make(
        client,
        ws,
        "change-requests",
        {
            "programme_id": prog["id"],
            "title": "Add payments module",
            "schedule_impact_days": 30,
            "cost_impact": 120000,
            "rebaselines": [{"milestone_id": milestone["id"], "new_baseline_date": "2027-07-01"}],
        },
    )
    assert request["state"] == "draft"
    decision = url(ws, f"change-requests/{request['id']}/decision")
    early = await client.post(
        decision, json={"decision": "approved"}, headers={**ws.headers, "If-Match": '"1"'}
    )
    assert early.status_code == 409  # still a draft
    submitted = await change(client, ws, "change-requests", request, {"state": "submitted"})
    assert submitted.status_code == 200
    approved = await client.post(
        decision,
        json={"decision": "approved", "note": "Board agreed"},
        headers={**board.headers, "If-Match": submitted.headers["etag"]},
    )
    assert approved.status_code == 200, approved.text
    line = approved.json()["rebaselines"][0]
    assert line["previous_baseline_date"] == "2027-06-01"
    assert line["new_baseline_date"] == "2027-07-01" and line["applied_at"] is not None
    assert approved.json()["decided_by_id"] == str(board.user_id)
    moved = (await client.get(url(ws, f"milestones/{milestone['id']}"), headers=ws.headers)).json()
    assert moved["baseline_date"] == "2027-07-01"
    frozen = await change(client, ws, "change-requests", approved.json(), {"title": "Sneaky"})
    assert frozen.status_code == 409
    assert frozen.json()["detail"] == "An approved change request cannot be changed."


async def test_a_gate_is_decided_by_its_board_and_opens_its_tranche(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    outsider = await make_workspace()
    prog = await programme(client, ws)
    tranche = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "Tranche 1"})
    board = await make(
        client,
        ws,
        "boards",
        {
            "programme_id": prog["id"],
            "name": "Board",
            "members": [{"role_title": "SRO", "user_id": str(ws.user_id)}],
        },
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "Start tranche 1",
            "tranche_id": tranche["id"],
            "boundary": "entry",
            "board_id": board["id"],
            "planned_date": "2027-01-15",
            "criteria": [
                {"text": "Business case approved", "evidence_required": "Signed business case"},
                {"text": "Nice to have", "mandatory": False},
            ],
        },
    )
    assert [c["text"] for c in gate["criteria"]] == ["Business case approved", "Nice to have"]

    blocked = await change(client, ws, "tranches", tranche, {"state": "started"})
    assert blocked.status_code == 409, blocked.text

    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    go = {"decision": "go", "decided_by_id": str(ws.user_id)}
    unmet = await decide_gate(client, ws, gate, go)
    assert unmet.status_code == 422 and "mandatory" in unmet.json()["errors"][0]["message"]
    stranger = await decide_gate(client, ws, gate, {**go, "decided_by_id": str(outsider.user_id)})
    assert stranger.status_code == 422

    criterion = gate["criteria"][0]
    no_evidence = await client.patch(
        url(ws, f"stage-gates/{gate['id']}/criteria/{criterion['id']}"),
        json={"status": "met"},
        headers={**ws.headers, "If-Match": '"1"'},
    )
    assert no_evidence.status_code == 422
    met = await client.patch(
        url(ws, f"stage-gates/{gate['id']}/criteria/{criterion['id']}"),
        json={"status": "met", "evidence_link": "https://docs.example.org/bc.pdf"},
        headers={**ws.headers, "If-Match": '"1"'},
    )
    assert met.status_code == 200 and met.json()["assessed_by"] == str(ws.user_id)

    hold = await decide_gate(client, ws, gate, {**go, "decision": "hold"})
    assert hold.status_code == 201
    still_blocked = await change(client, ws, "tranches", tranche, {"state": "started"})
    assert still_blocked.status_code == 409
    decided = await decide_gate(client, ws, gate, go)
    assert decided.status_code == 201, decided.text
    assert decided.json()["criteria_met"] == 1 and decided.json()["criteria_total"] == 2
    history = await client.get(decisions, headers=ws.headers)
    assert [d["decision"] for d in history.json()["items"]] == ["hold", "go"]
    final = await decide_gate(client, ws, gate, {**go, "decision": "stop"})
    assert final.status_code == 409

    started = await change(client, ws, "tranches", tranche, {"state": "started"})
    assert started.status_code == 200 and started.json()["state"] == "started"


async def test_the_exit_gate_of_the_previous_tranche_guards_the_next(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    first = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "T1", "position": 1}
    )
    second = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "T2", "position": 2}
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "End of T1",
            "tranche_id": first["id"],
            "boundary": "exit",
        },
    )
    assert (await change(client, ws, "tranches", first, {"state": "started"})).status_code == 200
    assert (await change(client, ws, "tranches", second, {"state": "started"})).status_code == 409
    conditional = await decide_gate(
        client,
        ws,
        gate,
        {
            "decision": "conditional_go",
            "decided_by_id": str(ws.user_id),
            "conditions": "Close the data-migration defects by May",
        },
    )
    assert conditional.status_code == 201, conditional.text
    assert (await change(client, ws, "tranches", second, {"state": "started"})).status_code == 200


async def test_a_gate_decides_only_among_its_outcomes(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Funding release", "outcomes": ["go", "stop"]},
    )
    assert gate["outcomes"] == ["go", "stop"]
    by_me = {"decided_by_id": str(ws.user_id)}

    hold = await decide_gate(client, ws, gate, {**by_me, "decision": "hold"})
    go = await decide_gate(client, ws, gate, {**by_me, "decision": "go"})

    assert hold.status_code == 422, hold.text
    assert hold.json()["errors"][0]["message"] == "this gate decides one of: go, stop"
    assert go.status_code == 201, go.text


async def test_overdue_false_lists_only_actions_that_are_not_overdue(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    today = workspace_today()
    yesterday, tomorrow = days_from(today, -1), days_from(today, 1)
    for title, body in [
        ("Late", {"due_date": yesterday}),
        ("Due tomorrow", {"due_date": tomorrow}),
        ("Whenever", {}),
        ("Done late", {"due_date": yesterday, "state": "done"}),
    ]:
        await make(client, ws, "actions", {"programme_id": prog["id"], "title": title, **body})

    async def titles(overdue: str) -> set[str]:
        listed = await client.get(
            url(ws, "actions"), params={"overdue": overdue}, headers=ws.headers
        )
        assert listed.status_code == 200, listed.text
        return {a["title"] for a in listed.json()["items"]}

    assert await titles("true") == {"Late"}
    assert await titles("false") == {"Due tomorrow", "Whenever", "Done late"}


async def _board_and_gate(
    client: Client, ws: Workspace
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A programme board with the workspace's user on it, another board, and a gate of the
    first (no criteria, so any decision may be taken)."""
    prog = await programme(client, ws)
    seat = [{"role_title": "SRO", "user_id": str(ws.user_id)}]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": seat}
    )
    other = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Design authority"}
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Funding release", "board_id": board["id"]},
    )
    return board, other, gate


async def test_a_decided_gate_keeps_what_it_was_decided_on(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    board, other, gate = await _board_and_gate(client, ws)
    recommended = await change(client, ws, "stage-gates", gate, {"recommendation": "go"})
    assert recommended.status_code == 200, recommended.text
    go = await decide_gate(client, ws, gate, {"decision": "go", "decided_by_id": str(ws.user_id)})
    assert go.status_code == 201, go.text
    decided = (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()

    rewritten = await change(
        client,
        ws,
        "stage-gates",
        decided,
        {"outcomes": ["stop"], "recommendation": "stop", "board_id": other["id"]},
    )

    assert rewritten.status_code == 409, rewritten.text
    assert rewritten.headers["content-type"].startswith("application/problem+json")
    assert "decided" in rewritten.json()["detail"]
    assert {e["field"] for e in rewritten.json()["errors"]} == {
        "outcomes",
        "recommendation",
        "board_id",
    }
    after = (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()
    assert (after["decision"], after["outcomes"], after["recommendation"], after["board_id"]) == (
        "go",
        decided["outcomes"],
        "go",
        board["id"],
    )
    assert after["version"] == decided["version"]
    # The same values again change nothing, and the gate's wording is not the decision.
    same = await change(
        client, ws, "stage-gates", after, {"board_id": board["id"], "title": "Funding release 1"}
    )
    assert same.status_code == 200, same.text
    assert same.json()["title"] == "Funding release 1"


async def test_a_held_gate_takes_a_new_recommendation_but_keeps_its_board(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    _, other, gate = await _board_and_gate(client, ws)
    hold = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(ws.user_id)}
    )
    assert hold.status_code == 201, hold.text
    held = (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()

    moved = await change(client, ws, "stage-gates", held, {"board_id": other["id"]})
    advised = await change(client, ws, "stage-gates", held, {"recommendation": "go"})

    assert moved.status_code == 409, moved.text
    assert moved.json()["errors"] == [
        {"field": "board_id", "message": "fixed once the gate is decided", "source": "body"}
    ]
    assert advised.status_code == 200, advised.text
    assert advised.json()["recommendation"] == "go"


async def test_a_gate_with_decisions_cannot_be_deleted(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    _, _, gate = await _board_and_gate(client, ws)
    _, _, spare = await _board_and_gate(client, ws)
    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    hold = await decide_gate(
        client, ws, gate, {"decision": "hold", "decided_by_id": str(ws.user_id)}
    )
    assert hold.status_code == 201, hold.text

    refused = await client.delete(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)
    undecided = await client.delete(url(ws, f"stage-gates/{spare['id']}"), headers=ws.headers)

    assert refused.status_code == 409, refused.text
    assert "decided" in refused.json()["detail"]
    listed = (await client.get(decisions, headers=ws.headers)).json()
    assert [d["decision"] for d in listed["items"]] == ["hold"]
    assert undecided.status_code == 204, undecided.text


async def test_gate_decisions_are_dated_in_order_and_not_in_the_future(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    _, _, gate = await _board_and_gate(client, ws)
    decisions = url(ws, f"stage-gates/{gate['id']}/decisions")
    by_me = {"decided_by_id": str(ws.user_id)}
    today = workspace_today()
    yesterday, tomorrow, last_week = (days_from(today, n) for n in (-1, 1, -7))

    future = await decide_gate(
        client, ws, gate, {**by_me, "decision": "hold", "decided_on": tomorrow}
    )
    assert future.status_code == 422, future.text
    assert future.json()["errors"] == [
        {
            "field": "decided_on",
            "message": f"not after today ({today.isoformat()}, the workspace's calendar)",
            "source": "body",
        }
    ]
    hold = await decide_gate(
        client, ws, gate, {**by_me, "decision": "hold", "decided_on": yesterday}
    )
    assert hold.status_code == 201, hold.text
    backdated = await decide_gate(
        client, ws, gate, {**by_me, "decision": "go", "decided_on": last_week}
    )
    assert backdated.status_code == 422, backdated.text
    assert backdated.json()["errors"][0]["field"] == "decided_on"
    assert yesterday in backdated.json()["errors"][0]["message"]

    go = await decide_gate(client, ws, gate, {**by_me, "decision": "go"})

    assert go.status_code == 201, go.text
    history = (await client.get(decisions, headers=ws.headers)).json()
    assert [(d["decision"], d["decided_on"]) for d in history["items"]] == [
        ("hold", yesterday),
        ("go", today.isoformat()),
    ]
    gate_now = (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()
    assert (gate_now["decision"], gate_now["decided_on"]) == ("go", today.isoformat())


async def test_a_decided_change_request_cannot_be_deleted(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    board = await join(database, ws, Role.ADMIN)  # decides the changes the owner raises
    prog, approved = await rebaselining_change(client, ws)
    rejected = await submitted_change(client, ws, {"programme_id": prog["id"]})
    draft = await make(client, ws, "change-requests", {"programme_id": prog["id"], "title": "Idea"})
    approve, reject = {"decision": "approved"}, {"decision": "rejected"}
    assert (await decide_change(client, ws, approved, approve, board.headers)).status_code == 200
    assert (await decide_change(client, ws, rejected, reject, board.headers)).status_code == 200

    for decided in (approved, rejected):
        refused = await client.delete(
            url(ws, f"change-requests/{decided['id']}"), headers=ws.headers
        )
        assert refused.status_code == 409, refused.text
    kept = await client.get(url(ws, f"change-requests/{approved['id']}"), headers=ws.headers)
    assert kept.status_code == 200
    assert kept.json()["rebaselines"][0]["previous_baseline_date"] == "2027-06-01"
    gone = await client.delete(url(ws, f"change-requests/{draft['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text


async def test_a_change_decision_is_dated_between_its_raising_and_today(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    board = await join(database, ws, Role.ADMIN)  # decides the change the owner raises
    _, request = await rebaselining_change(client, ws)
    today = workspace_today()
    tomorrow = days_from(today, 1)

    early = await decide_change(
        client, ws, request, {"decision": "approved", "decided_on": "2019-01-01"}, board.headers
    )
    future = await decide_change(
        client, ws, request, {"decision": "approved", "decided_on": tomorrow}, board.headers
    )

    for refused in (early, future):
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["decided_on"]
    assert "raised" in early.json()["errors"][0]["message"]
    still = await client.get(url(ws, f"change-requests/{request['id']}"), headers=ws.headers)
    assert still.json()["state"] == "submitted" and still.json()["decided_on"] is None
    milestone_id = request["rebaselines"][0]["milestone_id"]
    unmoved = await client.get(url(ws, f"milestones/{milestone_id}"), headers=ws.headers)
    assert unmoved.json()["baseline_date"] == "2027-06-01"
    dated_today = await decide_change(client, ws, request, {"decision": "approved"}, board.headers)
    assert dated_today.status_code == 200, dated_today.text
    assert dated_today.json()["decided_on"] == today.isoformat()


async def test_a_change_naming_an_approver_is_decided_by_that_approver_or_an_admin(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()  # its user owns the workspace
    requester = await join(database, ws)
    approver = await join(database, ws)
    prog = await programme(client, ws)
    named = {
        "programme_id": prog["id"],
        "requested_by_id": str(requester.user_id),
        "approver_id": str(approver.user_id),
    }
    first = await submitted_change(client, ws, named, requester.headers)
    second = await submitted_change(client, ws, named, requester.headers)
    unnamed = await submitted_change(client, ws, {"programme_id": prog["id"]}, requester.headers)
    approve = {"decision": "approved"}

    by_requester = await decide_change(client, ws, first, approve, requester.headers)
    assert by_requester.status_code == 403, by_requester.text
    assert by_requester.headers["content-type"].startswith("application/problem+json")
    assert "approver" in by_requester.json()["detail"]
    by_approver = await decide_change(client, ws, first, approve, approver.headers)
    assert by_approver.status_code == 200, by_approver.text
    assert by_approver.json()["decided_by_id"] == str(approver.user_id)

    by_owner = await decide_change(client, ws, second, {"decision": "rejected"})
    assert by_owner.status_code == 200, by_owner.text
    assert by_owner.json()["decided_by_id"] == str(ws.user_id)

    by_any_member = await decide_change(client, ws, unnamed, approve, requester.headers)
    assert by_any_member.status_code == 200, by_any_member.text


async def test_nobody_decides_a_change_they_requested(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()  # its user owns the workspace
    requester = await join(database, ws)
    colleague = await join(database, ws)
    prog = await programme(client, ws)
    theirs = {"programme_id": prog["id"], "requested_by_id": str(requester.user_id)}
    unnamed = await submitted_change(client, ws, theirs, requester.headers)
    mine = {"programme_id": prog["id"], "requested_by_id": str(ws.user_id)}
    named = await submitted_change(client, ws, {**mine, "approver_id": str(colleague.user_id)})
    approve = {"decision": "approved"}

    by_requester = await decide_change(client, ws, unnamed, approve, requester.headers)
    # An owner may stand in for a named approver, but not on a change of their own.
    by_owner = await decide_change(client, ws, named, {"decision": "rejected"})
    self_approver = await client.post(
        url(ws, "change-requests"),
        json={**theirs, "title": "Mine", "approver_id": str(requester.user_id)},
        headers=ws.headers,
    )
    moved = await change(client, ws, "change-requests", named, {"approver_id": str(ws.user_id)})

    for refused in (by_requester, by_owner):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "requested the change does not decide it" in refused.json()["detail"]
    assert self_approver.status_code == 422, self_approver.text
    assert [e["field"] for e in self_approver.json()["errors"]] == ["approver_id"]
    assert moved.status_code == 422, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["approver_id"]
    still = await client.get(url(ws, f"change-requests/{unnamed['id']}"), headers=ws.headers)
    assert (still.json()["state"], still.json()["decided_by_id"]) == ("submitted", None)
    by_colleague = await decide_change(client, ws, unnamed, approve, colleague.headers)
    by_approver = await decide_change(client, ws, named, approve, colleague.headers)
    assert by_colleague.status_code == 200, by_colleague.text
    assert by_approver.status_code == 200, by_approver.text
    # An owner may leave the requester unnamed: the change is then the owner's own.
    anonymous = await submitted_change(client, ws, {"programme_id": prog["id"]})
    assert anonymous["requested_by_id"] is None
    by_creator = await decide_change(client, ws, anonymous, approve)
    assert by_creator.status_code == 409, by_creator.text
    assert "requested the change does not decide it" in by_creator.json()["detail"]


async def test_a_member_does_not_pick_who_requested_or_approves_a_change(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()  # its user owns the workspace
    member = await join(database, ws)
    colleague = await join(database, ws)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2027-07-01"}

    async def raise_change(body: dict[str, Any]) -> Any:
        return await client.post(
            url(ws, "change-requests"),
            json={"programme_id": prog["id"], "title": "Slip go-live", **body},
            headers=member.headers,
        )

    async def patch(row: dict[str, Any], body: dict[str, Any], who: Member = member) -> Any:
        return await client.patch(
            url(ws, f"change-requests/{row['id']}"),
            json=body,
            headers={**who.headers, "If-Match": f'"{row["version"]}"'},
        )

    raised = await raise_change({"approver_id": str(admin.user_id), "rebaselines": [line]})
    assert raised.status_code == 201, raised.text
    # Nobody named: the request is the member's own, so they cannot decide it either.
    assert raised.json()["requested_by_id"] == str(member.user_id)
    submitted = await patch(raised.json(), {"state": "submitted"})
    assert submitted.status_code == 200, submitted.text
    row = submitted.json()
    refused_decision = await decide_change(
        client, ws, row, {"decision": "approved"}, member.headers
    )
    assert refused_decision.status_code == 403, refused_decision.text

    attempts = {
        "approver_me": await patch(row, {"approver_id": str(member.user_id)}),
        "approver_none": await patch(row, {"approver_id": None}),
        "approver_colleague": await patch(row, {"approver_id": str(colleague.user_id)}),
        "requester": await patch(row, {"requested_by_id": str(colleague.user_id)}),
    }
    back_to_draft = await patch(row, {"state": "draft", "approver_id": None})
    cleared = await patch(row, {"requested_by_id": None}, admin)

    for name, answer in attempts.items():
        assert answer.status_code == 403, (name, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "submitted" in answer.json()["detail"], name
    assert [e["field"] for e in attempts["requester"].json()["errors"]] == ["requested_by_id"]
    assert back_to_draft.status_code == 409, back_to_draft.text
    assert cleared.status_code == 422, cleared.text
    assert [e["field"] for e in cleared.json()["errors"]] == ["requested_by_id"]
    still = (await client.get(url(ws, f"change-requests/{row['id']}"), headers=ws.headers)).json()
    assert (still["state"], still["approver_id"], still["requested_by_id"]) == (
        "submitted",
        str(admin.user_id),
        str(member.user_id),
    )
    by_member = await decide_change(client, ws, still, {"decision": "approved"}, member.headers)
    assert by_member.status_code == 403, by_member.text
    unmoved = await client.get(url(ws, f"milestones/{milestone['id']}"), headers=ws.headers)
    assert unmoved.json()["baseline_date"] == "2027-06-01"

    # Raising one, a member neither names someone else as its requester nor themselves as
    # its approver; in draft they may name another approver.
    for body, field in (
        ({"requested_by_id": str(colleague.user_id)}, "requested_by_id"),
        ({"approver_id": str(member.user_id)}, "approver_id"),
    ):
        refused = await raise_change(body)
        assert refused.status_code == 403, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    draft = (await raise_change({})).json()
    assert (await patch(draft, {"approver_id": str(member.user_id)})).status_code == 403
    named = await patch(draft, {"approver_id": str(colleague.user_id)})
    assert named.status_code == 200, named.text

    # An admin or owner sets up who asks and who decides, submitted or not.
    moved = await patch(still, {"approver_id": str(colleague.user_id)}, admin)
    assert moved.status_code == 200, moved.text
    on_behalf = await client.post(
        url(ws, "change-requests"),
        json={
            "programme_id": prog["id"],
            "title": "Theirs",
            "requested_by_id": str(member.user_id),
        },
        headers=admin.headers,
    )
    assert on_behalf.status_code == 201, on_behalf.text
    assert on_behalf.json()["requested_by_id"] == str(member.user_id)
    by_colleague = await decide_change(
        client, ws, moved.json(), {"decision": "approved"}, colleague.headers
    )
    assert by_colleague.status_code == 200, by_colleague.text


async def _tranches_and_exit_gate(
    client: Client, ws: Workspace
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Tranches T1 and T2 of one programme, and T1's exit gate (undecided) on the way into T2."""
    prog = await programme(client, ws)
    first, second = [
        await make(client, ws, "tranches", {"programme_id": prog["id"], "name": n, "position": p})
        for n, p in (("T1", 1), ("T2", 2))
    ]
    gate = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "End of T1",
            "tranche_id": first["id"],
            "boundary": "exit",
        },
    )
    return first, second, gate


async def test_only_an_admin_deletes_the_gate_before_a_planned_tranche(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    member = await join(database, ws, Role.MEMBER)
    admin = await join(database, ws, Role.ADMIN)
    _, second, gate = await _tranches_and_exit_gate(client, ws)
    one = url(ws, f"stage-gates/{gate['id']}")

    deleted = await client.delete(one, headers=member.headers)
    started = await client.patch(
        url(ws, f"tranches/{second['id']}"),
        json={"state": "started"},
        headers={**member.headers, "If-Match": f'"{second["version"]}"'},
    )

    assert deleted.status_code == 403, deleted.text
    assert deleted.headers["content-type"].startswith("application/problem+json")
    assert "admin" in deleted.json()["detail"]
    assert (await client.get(one, headers=ws.headers)).status_code == 200
    assert started.status_code == 409, started.text
    # A member still plans the gate; only deleting it is an admin's act.
    renamed = await client.patch(
        one, json={"title": "End of T1 review"}, headers={**member.headers, "If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text

    by_admin = await client.delete(one, headers=admin.headers)

    assert by_admin.status_code == 204, by_admin.text
    # The governance plan changed on purpose: nothing stands before T2 any more.
    assert (await change(client, ws, "tranches", second, {"state": "started"})).status_code == 200
    document = (await client.get("/schema/openapi.json")).json()
    route = document["paths"]["/api/v1/w/{slug}/stage-gates/{item_id}"]["delete"]
    assert route["summary"] == "Delete a stage gate (admins and owners)"


async def test_an_undecided_gate_before_a_tranche_under_way_is_kept(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    first, second = [
        await make(client, ws, "tranches", {"programme_id": prog["id"], "name": n, "position": p})
        for n, p in (("T1", 1), ("T2", 2))
    ]
    # Both tranches went in while no gate stood before them; the gates came afterwards. The
    # API no longer plans a gate there (409), but rows written around it do: a template
    # upgrade's seeded gates, or a workspace from before that rule.
    assert (await change(client, ws, "tranches", first, {"state": "started"})).status_code == 200
    started = await change(client, ws, "tranches", second, {"state": "started"})
    assert started.status_code == 200, started.text
    closed = await change(client, ws, "tranches", started.json(), {"state": "closed"})
    assert closed.status_code == 200, closed.text
    on_first = {"programme_id": prog["id"], "tranche_id": first["id"]}
    refused = await client.post(
        url(ws, "stage-gates"), json={**on_first, "title": "Into T1"}, headers=ws.headers
    )
    assert refused.status_code == 409, refused.text
    async with in_workspace(database, ws.tenant_id) as session:
        planted = [
            StageGate(
                programme_id=uuid.UUID(prog["id"]),
                tranche_id=uuid.UUID(first["id"]),
                title=title,
                boundary=boundary,
            )
            for title, boundary in (
                ("Into T1", GateBoundary.ENTRY),
                ("End of T1", GateBoundary.EXIT),
            )
        ]
        session.add_all(planted)
    entry_gate, exit_gate = ({"id": str(gate.id)} for gate in planted)

    into_first = await client.delete(
        url(ws, f"stage-gates/{entry_gate['id']}"), headers=admin.headers
    )
    into_second = await client.delete(
        url(ws, f"stage-gates/{exit_gate['id']}"), headers=admin.headers
    )

    assert into_first.status_code == 409, into_first.text
    assert into_first.headers["content-type"].startswith("application/problem+json")
    assert "T1 (started)" in into_first.json()["detail"]
    assert into_second.status_code == 409, into_second.text
    assert "T2 (closed)" in into_second.json()["detail"]
    for kept in (entry_gate, exit_gate):
        again = await client.get(url(ws, f"stage-gates/{kept['id']}"), headers=ws.headers)
        assert again.status_code == 200 and again.json()["state"] == "planned"


async def test_a_gate_with_a_board_keeps_one_and_one_without_is_decided_by_an_admin_or_owner(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    outsider = await join(database, ws, Role.MEMBER)
    board, other, gate = await _board_and_gate(client, ws)

    cleared = await change(client, ws, "stage-gates", gate, {"board_id": None})
    by_outsider = await decide_gate(
        client,
        ws,
        gate,
        {"decision": "go", "decided_by_id": str(outsider.user_id)},
        outsider.headers,
    )

    assert cleared.status_code == 422, cleared.text
    assert cleared.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in cleared.json()["errors"]] == ["board_id"]
    assert "another board" in cleared.json()["errors"][0]["message"]
    kept = (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()
    # Put in review by decide_gate; neither refused write changed it.
    assert (kept["board_id"], kept["version"]) == (board["id"], gate["version"] + 1)
    assert by_outsider.status_code == 422, by_outsider.text
    assert by_outsider.json()["errors"][0]["field"] == "decided_by_id"
    moved = await change(client, ws, "stage-gates", kept, {"board_id": other["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["board_id"] == other["id"]

    # A gate planned without a board stays that way: a workspace admin or owner decides it,
    # not any member.
    boardless = await make(
        client, ws, "stage-gates", {"programme_id": kept["programme_id"], "title": "Go live"}
    )
    unchanged = await change(client, ws, "stage-gates", boardless, {"board_id": None})
    by_member = await decide_gate(
        client,
        ws,
        boardless,
        {"decision": "go", "decided_by_id": str(outsider.user_id)},
        outsider.headers,
    )
    by_owner = await decide_gate(
        client, ws, boardless, {"decision": "go", "decided_by_id": str(ws.user_id)}
    )
    assert unchanged.status_code == 200, unchanged.text
    assert by_member.status_code == 403, by_member.text
    assert "admin or owner" in by_member.json()["detail"]
    assert by_owner.status_code == 201, by_owner.text


# --- the decision log ---------------------------------------------------------------------------


async def _decision(
    client: Client, ws: Workspace, prog: dict[str, Any], **body: Any
) -> dict[str, Any]:
    return await make(
        client,
        ws,
        "decisions",
        {
            "programme_id": prog["id"],
            "title": "Choose CRM vendor",
            "options": ["Build", "Buy"],
            "decision": "Buy",
            "rationale": "Time to market",
            **body,
        },
    )


async def test_a_decision_moves_through_its_lifecycle_and_keeps_its_record(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    by_me = {"decided_by_id": str(ws.user_id)}
    proposed = await _decision(client, ws, prog)
    pending = await change(client, ws, "decisions", proposed, {"status": "pending"})
    assert pending.status_code == 200, pending.text

    undecided = await change(client, ws, "decisions", pending.json(), {"status": "approved"})
    approved = await change(
        client, ws, "decisions", pending.json(), {"status": "approved", **by_me}
    )
    assert undecided.status_code == 422, undecided.text
    assert [e["field"] for e in undecided.json()["errors"]] == ["decided_by_id"]
    assert approved.status_code == 200, approved.text
    taken = approved.json()

    reopened = await change(client, ws, "decisions", taken, {"status": "proposed"})
    reversed_ = await change(client, ws, "decisions", taken, {"status": "rejected"})
    rewritten = await change(
        client, ws, "decisions", taken, {"decision": "Build", "options": ["Build"]}
    )
    renamed = await change(client, ws, "decisions", taken, {"title": "CRM vendor"})

    for refused in (reopened, reversed_):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["status"]
    assert "superseded" in reopened.json()["errors"][0]["message"]
    assert rewritten.status_code == 409, rewritten.text
    assert {e["field"] for e in rewritten.json()["errors"]} == {"decision", "options"}
    assert renamed.status_code == 200, renamed.text
    kept = renamed.json()
    assert (kept["status"], kept["decision"], kept["decided_on"]) == (
        "approved",
        "Buy",
        taken["decided_on"],
    )

    rejected = await _decision(client, ws, prog, status="rejected", **by_me)
    final = await change(client, ws, "decisions", rejected, {"status": "approved"})
    assert final.status_code == 409, final.text
    assert "final" in final.json()["errors"][0]["message"]


async def test_a_decision_is_superseded_by_an_approved_one_of_its_programme(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog, other = await programme(client, ws), await programme(client, ws, "Other")
    by_me = {"decided_by_id": str(ws.user_id)}
    old = await _decision(client, ws, prog, status="approved", **by_me)
    proposal = await _decision(client, ws, prog, title="Switch CRM vendor")
    elsewhere = await _decision(client, ws, other, status="approved", **by_me)
    later = await _decision(client, ws, prog, title="Switch CRM vendor", status="approved", **by_me)

    born = await client.post(
        url(ws, "decisions"),
        json={"programme_id": prog["id"], "title": "Old news", "status": "superseded"},
        headers=ws.headers,
    )
    unnamed = await change(client, ws, "decisions", old, {"status": "superseded"})
    foreign = await change(
        client, ws, "decisions", old, {"status": "superseded", "superseded_by_id": elsewhere["id"]}
    )
    unapproved = await change(
        client, ws, "decisions", old, {"status": "superseded", "superseded_by_id": proposal["id"]}
    )
    itself = await change(
        client, ws, "decisions", old, {"status": "superseded", "superseded_by_id": old["id"]}
    )
    not_superseded = await change(
        client, ws, "decisions", proposal, {"superseded_by_id": later["id"]}
    )
    for refused, message in (
        (born, "'superseded' is not one of the choices"),
        (unnamed, "required when the decision is superseded"),
        (foreign, "another programme"),
        (unapproved, "an approved decision replaces it (that one is proposed)"),
        (itself, "does not supersede itself"),
        (not_superseded, "only when the decision is superseded"),
    ):
        assert refused.status_code == 422, refused.text
        assert len(refused.json()["errors"]) == 1, refused.text
        assert message in refused.json()["errors"][0]["message"], refused.text
    assert born.json()["errors"][0]["field"] == "status"
    assert {foreign.json()["errors"][0]["field"], itself.json()["errors"][0]["field"]} == {
        "superseded_by_id"
    }

    superseded = await change(
        client, ws, "decisions", old, {"status": "superseded", "superseded_by_id": later["id"]}
    )
    assert superseded.status_code == 200, superseded.text
    assert superseded.json()["superseded_by_id"] == later["id"]
    assert superseded.json()["decided_on"] == old["decided_on"]  # taken, then replaced
    revived = await change(client, ws, "decisions", superseded.json(), {"status": "approved"})
    repointed = await change(
        client, ws, "decisions", superseded.json(), {"superseded_by_id": elsewhere["id"]}
    )
    assert revived.status_code == 409, revived.text
    assert repointed.status_code == 409, repointed.text
    assert [e["field"] for e in repointed.json()["errors"]] == ["superseded_by_id"]
    # The replacing decision is kept while the one it replaced names it.
    gone = await client.delete(url(ws, f"decisions/{later['id']}"), headers=ws.headers)
    assert gone.status_code == 409, gone.text


async def test_a_decision_taken_is_kept_on_record_not_deleted(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    by_me = {"decided_by_id": str(ws.user_id)}
    approved = await _decision(client, ws, prog, status="approved", **by_me)
    rejected = await _decision(client, ws, prog, title="Offshore", status="rejected", **by_me)
    old = await _decision(client, ws, prog, title="CRM v1", status="approved", **by_me)
    later = await _decision(client, ws, prog, title="CRM v2", status="approved", **by_me)
    superseded = await change(
        client, ws, "decisions", old, {"status": "superseded", "superseded_by_id": later["id"]}
    )
    assert superseded.status_code == 200, superseded.text
    proposed = await _decision(client, ws, prog, title="Data platform")
    pending = await _decision(client, ws, prog, title="Hosting", status="pending")

    answers = {
        name: await client.delete(url(ws, f"decisions/{row['id']}"), headers=ws.headers)
        for name, row in (("approved", approved), ("rejected", rejected), ("superseded", old))
    }

    for status, refused in answers.items():
        assert refused.status_code == 409, (status, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"].startswith(f"The decision was {status}; "), refused.text
        assert "kept on record" in refused.json()["detail"]
    assert "supersede it" in answers["approved"].json()["detail"]
    for row in (approved, rejected, old):
        kept = await client.get(url(ws, f"decisions/{row['id']}"), headers=ws.headers)
        assert kept.status_code == 200, kept.text
    # Not taken yet, a decision may still go.
    for row in (proposed, pending):
        gone = await client.delete(url(ws, f"decisions/{row['id']}"), headers=ws.headers)
        assert gone.status_code == 204, gone.text


async def test_a_decision_cites_a_meeting_that_took_place(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    today = workspace_today()
    yesterday, last_week, next_week = (days_from(today, n) for n in (-1, -7, 7))

    def meeting(state: str, held_on: str) -> dict[str, Any]:
        return {"board_id": board["id"], "title": "Board", "state": state, "held_on": held_on}

    held = await make(client, ws, "meetings", meeting("held", yesterday))
    upcoming = await make(client, ws, "meetings", meeting("scheduled", next_week))
    cancelled = await make(client, ws, "meetings", meeting("cancelled", last_week))
    by_me = {"decided_by_id": str(ws.user_id), "status": "approved"}

    before_meeting = await client.post(
        url(ws, "decisions"),
        json={
            "programme_id": prog["id"],
            "title": "T",
            "meeting_id": held["id"],
            **by_me,
            "decided_on": last_week,
        },
        headers=ws.headers,
    )
    at_upcoming = await client.post(
        url(ws, "decisions"),
        json={"programme_id": prog["id"], "title": "T", "meeting_id": upcoming["id"], **by_me},
        headers=ws.headers,
    )
    at_cancelled = await client.post(
        url(ws, "decisions"),
        json={"programme_id": prog["id"], "title": "T", "meeting_id": cancelled["id"], **by_me},
        headers=ws.headers,
    )
    for refused in (before_meeting, at_upcoming, at_cancelled):
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["meeting_id"]
    assert "after the decision" in at_upcoming.json()["errors"][0]["message"]
    assert "cancelled" in at_cancelled.json()["errors"][0]["message"]

    # A decision still to take names the meeting that is to take it.
    agenda = await _decision(client, ws, prog, meeting_id=upcoming["id"], status="pending")
    early = await change(client, ws, "decisions", agenda, by_me)
    assert early.status_code == 422, early.text
    assert [e["field"] for e in early.json()["errors"]] == ["meeting_id"]
    taken = await change(client, ws, "decisions", agenda, {**by_me, "meeting_id": held["id"]})
    assert taken.status_code == 200, taken.text
    assert taken.json()["decided_on"] == today.isoformat()


# --- references across programmes ---------------------------------------------------------------


async def test_governance_rows_name_boards_and_meetings_of_their_own_programme(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    ours, theirs = await programme(client, ws), await programme(client, ws, "Other")
    # The owner chairs both: a board's decision is taken by a seat on it.
    chair = [{"role_title": "SRO", "user_id": str(ws.user_id), "capacity": "chair"}]
    board, foreign_board = [
        await make(
            client, ws, "boards", {"programme_id": p["id"], "name": "Board", "members": chair}
        )
        for p in (ours, theirs)
    ]
    portfolio = await make(client, ws, "boards", {"name": "Portfolio board"})
    yesterday = days_from(workspace_today(), -1)

    def held(at: dict[str, Any]) -> dict[str, Any]:
        return {"board_id": at["id"], "title": "Board", "state": "held", "held_on": yesterday}

    meeting, foreign_meeting, portfolio_meeting = [
        await make(client, ws, "meetings", held(b)) for b in (board, foreign_board, portfolio)
    ]
    mine = {"programme_id": ours["id"], "title": "T"}
    by_me = {"status": "approved", "decided_by_id": str(ws.user_id), "decided_on": yesterday}

    refused = [
        ("actions", {**mine, "meeting_id": foreign_meeting["id"]}, "meeting_id"),
        ("decisions", {**mine, "board_id": foreign_board["id"]}, "board_id"),
        ("decisions", {**mine, "meeting_id": foreign_meeting["id"], **by_me}, "meeting_id"),
        (
            "decisions",
            {**mine, "board_id": board["id"], "meeting_id": portfolio_meeting["id"], **by_me},
            "meeting_id",
        ),
        (
            "boards",
            {"programme_id": ours["id"], "name": "DA", "reports_to_id": foreign_board["id"]},
            "reports_to_id",
        ),
        ("boards", {"name": "Investment committee", "reports_to_id": board["id"]}, "reports_to_id"),
    ]
    for path, body, field in refused:
        response = await client.post(url(ws, path), json=body, headers=ws.headers)
        assert response.status_code == 422, (path, body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], (path, body)
    assert (
        "another programme"
        in (
            await client.post(
                url(ws, "actions"),
                json={**mine, "meeting_id": foreign_meeting["id"]},
                headers=ws.headers,
            )
        ).json()["errors"][0]["message"]
    )

    # Their own boards, or the workspace's portfolio boards.
    action = await make(client, ws, "actions", {**mine, "meeting_id": portfolio_meeting["id"]})
    assert action["programme_id"] == ours["id"]
    taken = await make(
        client,
        ws,
        "decisions",
        {**mine, "board_id": board["id"], "meeting_id": meeting["id"], **by_me},
    )
    assert taken["meeting_id"] == meeting["id"]
    await make(client, ws, "decisions", {**mine, "board_id": portfolio["id"]})
    await make(
        client,
        ws,
        "boards",
        {"programme_id": ours["id"], "name": "DA", "reports_to_id": portfolio["id"]},
    )
    moved = await change(client, ws, "decisions", taken, {"board_id": foreign_board["id"]})
    assert moved.status_code == 422, moved.text


async def test_boards_do_not_report_to_each_other_in_a_loop(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    group = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Sponsors"})
    board = await make(
        client,
        ws,
        "boards",
        {"programme_id": prog["id"], "name": "Board", "reports_to_id": group["id"]},
    )
    design = await make(
        client,
        ws,
        "boards",
        {"programme_id": prog["id"], "name": "Design authority", "reports_to_id": board["id"]},
    )

    direct = await change(client, ws, "boards", group, {"reports_to_id": board["id"]})
    around = await change(client, ws, "boards", group, {"reports_to_id": design["id"]})
    itself = await change(client, ws, "boards", group, {"reports_to_id": group["id"]})

    for refused in (direct, around, itself):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["reports_to_id"]
    assert "loop" in around.json()["errors"][0]["message"]
    top = (await client.get(url(ws, f"boards/{group['id']}"), headers=ws.headers)).json()
    assert top["reports_to_id"] is None
    # Up the same line is no loop: the design authority may report to the sponsors directly.
    shortcut = await change(client, ws, "boards", design, {"reports_to_id": group["id"]})
    assert shortcut.status_code == 200, shortcut.text


async def test_two_decisions_do_not_supersede_each_other_at_once(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    taken = {"programme_id": prog["id"], "status": "approved", "decided_by_id": str(ws.user_id)}
    a = await make(client, ws, "decisions", {**taken, "title": "Vendor A"})
    b = await make(client, ws, "decisions", {**taken, "title": "Vendor B"})

    async def supersede(session: Any, which: str, by: str) -> None:
        service = DecisionService(session, ws.user_id)
        await service.update(
            await service.get(uuid.UUID(which)),
            {"status": DecisionStatus.SUPERSEDED, "superseded_by_id": uuid.UUID(by)},
        )

    async def the_other_way() -> None:
        async with in_workspace(database, ws.tenant_id) as session:
            await supersede(session, b["id"], a["id"])

    async with in_workspace(database, ws.tenant_id) as first:
        await supersede(first, a["id"], b["id"])
        second = asyncio.create_task(the_other_way())
        await asyncio.sleep(0.5)
        # It waits for the first to commit, rather than passing on what it read before.
        assert not second.done()
    with pytest.raises(ValidationFailed, match="an approved decision replaces it"):
        await second
    kept = (await client.get(url(ws, f"decisions/{b['id']}"), headers=ws.headers)).json()
    assert kept["status"] == "approved"


async def test_a_member_off_the_board_does_not_record_its_decision_in_the_chairs_name(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()  # its user owns the workspace and sets up the board
    chair, secretary, outsider = [await join(database, ws) for _ in range(3)]
    prog = await programme(client, ws)
    seats = [
        {"role_title": "SRO", "user_id": str(chair.user_id), "capacity": "chair"},
        {"role_title": "Secretary", "user_id": str(secretary.user_id), "capacity": "secretariat"},
    ]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": seats}
    )
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "G", "board_id": board["id"]},
    )
    in_chairs_name = {"decision": "hold", "decided_by_id": str(chair.user_id)}

    refused = await decide_gate(client, ws, gate, in_chairs_name, outsider.headers)
    assert refused.status_code == 403, refused.text
    assert "seat on the gate's board" in refused.json()["detail"]
    undecided = (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()
    assert undecided["decision"] is None
    # The secretariat records the chair's decision; so does the chair, and an owner.
    for recorder in (secretary.headers, chair.headers, ws.headers):
        recorded = await decide_gate(client, ws, gate, in_chairs_name, recorder)
        assert recorded.status_code == 201, recorded.text


async def test_a_meeting_decisions_cite_is_not_cancelled_or_moved_past_them(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    chair = [{"role_title": "SRO", "user_id": str(ws.user_id), "capacity": "chair"}]
    board = await make(
        client, ws, "boards", {"programme_id": prog["id"], "name": "Board", "members": chair}
    )
    today = workspace_today()
    held = {"board_id": board["id"], "title": "M", "state": "held"}
    meeting = await make(client, ws, "meetings", {**held, "held_on": days_from(today, -10)})
    await make(
        client,
        ws,
        "decisions",
        {
            "programme_id": prog["id"],
            "title": "Buy the platform",
            "board_id": board["id"],
            "meeting_id": meeting["id"],
            "status": "approved",
            "decided_by_id": str(ws.user_id),
            "decided_on": days_from(today, -5),
        },
    )

    cancelled = await change(client, ws, "meetings", meeting, {"state": "cancelled"})
    moved = await change(client, ws, "meetings", meeting, {"held_on": days_from(today, -1)})
    for refused in (cancelled, moved):
        assert refused.status_code == 409, refused.text
        assert "'Buy the platform'" in refused.json()["detail"]
    earlier = await change(client, ws, "meetings", meeting, {"held_on": days_from(today, -6)})
    assert earlier.status_code == 200, earlier.text
