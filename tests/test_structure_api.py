"""Programme structure over HTTP: tranches, projects, milestones."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, join
from tests.test_gates_api import decide_gate
from tests.workspace_api import (
    Client,
    change,
    days_from,
    make,
    programme,
    url,
    workspace_today,
)


async def test_a_programme_gets_ordered_tranches_projects_and_milestones(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    today = workspace_today()
    second = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "Tranche 2", "position": 2}
    )
    first = await make(
        client,
        ws,
        "tranches",
        {
            "programme_id": prog["id"],
            "name": "Tranche 1",
            "position": 1,
            "start_date": "2027-01-01",
        },
    )
    listed = await client.get(
        url(ws, "tranches"), params={"programme_id": prog["id"]}, headers=ws.headers
    )
    assert [t["name"] for t in listed.json()["items"]] == ["Tranche 1", "Tranche 2"]
    assert first["state"] == "planned" and second["created_by"] == str(ws.user_id)

    project = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "tranche_id": first["id"], "name": "CRM", "kind": "project"},
    )
    assert project["tranche_id"] == first["id"]
    milestone = await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "project_id": project["id"],
            "title": "CRM live",
            "baseline_date": days_from(today, 180),
            "forecast_date": days_from(today, 201),
        },
    )
    assert milestone["slip_days"] == 21
    due = await client.get(
        url(ws, "milestones"),
        params={"due_before": days_from(today, 209), "due_after": days_from(today, 180)},
        headers=ws.headers,
    )
    assert [m["title"] for m in due.json()["items"]] == ["CRM live"]
    none_due = await client.get(
        url(ws, "milestones"), params={"due_before": days_from(today, 200)}, headers=ws.headers
    )
    assert none_due.json()["total"] == 0


async def test_references_must_exist_in_the_same_programme(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog, other = await programme(client, ws, "A"), await programme(client, ws, "B")
    foreign_project = await make(client, ws, "projects", {"programme_id": other["id"], "name": "X"})
    cases = [
        ("tranches", {"programme_id": str(uuid.uuid4()), "name": "T"}, "programme_id"),
        (
            "milestones",
            {"programme_id": prog["id"], "title": "M", "project_id": foreign_project["id"]},
            "project_id",
        ),
        (
            "projects",
            {"programme_id": prog["id"], "name": "P", "tranche_id": str(uuid.uuid4())},
            "tranche_id",
        ),
        (
            "projects",
            {
                "programme_id": prog["id"],
                "name": "P",
                "start_date": "2027-02-01",
                "end_date": "2027-01-01",
            },
            "end_date",
        ),
    ]
    for path, body, field in cases:
        response = await client.post(url(ws, path), json=body, headers=ws.headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == field


async def test_a_set_baseline_moves_only_through_a_change_request(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    today = workspace_today()
    baseline, later = days_from(today, 150), days_from(today, 211)
    unset = await make(client, ws, "milestones", {"programme_id": prog["id"], "title": "M"})
    first = await change(client, ws, "milestones", unset, {"baseline_date": baseline})
    assert first.status_code == 200
    moved = await change(client, ws, "milestones", first.json(), {"baseline_date": later})
    assert moved.status_code == 409
    assert moved.json()["errors"][0]["field"] == "baseline_date"
    forecast = await change(client, ws, "milestones", first.json(), {"forecast_date": later})
    assert forecast.status_code == 200 and forecast.json()["slip_days"] == 61


async def test_updates_need_the_current_etag_and_viewers_cannot_write(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    tranche = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T"})
    path = url(ws, f"tranches/{tranche['id']}")
    assert (await client.patch(path, json={"name": "U"}, headers=ws.headers)).status_code == 428
    ok = await change(client, ws, "tranches", tranche, {"name": "U"})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await change(client, ws, "tranches", tranche, {"name": "V"})
    assert stale.status_code == 412

    viewer = await make_workspace(Role.VIEWER)
    assert (await client.get(url(viewer, "tranches"), headers=viewer.headers)).status_code == 200
    refused = await client.post(
        url(viewer, "projects"),
        json={"programme_id": prog["id"], "name": "P"},
        headers=viewer.headers,
    )
    assert refused.status_code == 403


async def test_creating_with_an_idempotency_key_twice_makes_one_project(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    body = {"programme_id": prog["id"], "name": "Once"}
    headers = {**ws.headers, "Idempotency-Key": "p-1"}
    first = await client.post(url(ws, "projects"), json=body, headers=headers)
    again = await client.post(url(ws, "projects"), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    listed = await client.get(url(ws, "projects"), headers=ws.headers)
    assert listed.json()["total"] == 1


async def test_deleting_a_programme_takes_its_structure_with_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    tranche = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T"})
    await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "P", "tranche_id": tranche["id"]},
    )
    referenced = await client.delete(url(ws, f"tranches/{tranche['id']}"), headers=ws.headers)
    assert referenced.status_code == 409
    gone = await client.delete(url(ws, f"programmes/{prog['id']}"), headers=ws.headers)
    assert gone.status_code == 204
    assert (await client.get(url(ws, "projects"), headers=ws.headers)).json()["total"] == 0


async def test_a_project_budget_or_forecast_cost_is_never_negative(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {"programme_id": prog["id"], "name": "CRM"}
    for field in ("budget", "forecast_cost"):
        refused = await client.post(
            url(ws, "projects"), json={**base, field: -1}, headers=ws.headers
        )
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    project = await make(client, ws, "projects", {**base, "budget": 1000, "forecast_cost": 0})
    for field in ("budget", "forecast_cost"):
        refused = await change(client, ws, "projects", project, {field: -0.5})
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_a_tranche_cannot_start_by_moving_past_a_closed_gate(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    t50 = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "T50", "position": 50}
    )
    t51 = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "T51", "position": 51}
    )
    exit_gate = {"programme_id": prog["id"], "title": "End of T50", "boundary": "exit"}
    await make(client, ws, "stage-gates", {**exit_gate, "tranche_id": t50["id"]})

    blocked = await change(client, ws, "tranches", t51, {"state": "started"})
    assert blocked.status_code == 409, blocked.text
    # Starting is checked where the tranche is as well as where it goes.
    jumped = await change(client, ws, "tranches", t51, {"state": "started", "position": 0})
    assert jumped.status_code == 409, jumped.text
    assert [e["field"] for e in jumped.json()["errors"]] == ["state"]

    # Moved first in one write and started in another, it is first in line: nothing to wait for.
    first = await change(client, ws, "tranches", t51, {"position": 0})
    assert first.status_code == 200, first.text
    started = await change(client, ws, "tranches", first.json(), {"state": "started"})
    assert started.status_code == 200, started.text
    # … but once under way, it cannot go back behind the gate that has not said go.
    back = await change(client, ws, "tranches", started.json(), {"position": 51})
    assert back.status_code == 409, back.text
    assert [e["field"] for e in back.json()["errors"]] == ["position"]
    read = await client.get(url(ws, f"tranches/{t51['id']}"), headers=ws.headers)
    assert read.json()["position"] == 0 and read.json()["state"] == "started"


async def test_moving_or_deleting_a_tranche_cannot_put_a_closed_gate_before_a_started_one(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    tranches = [
        await make(
            client, ws, "tranches", {"programme_id": prog["id"], "name": f"T{n}", "position": n}
        )
        for n in (1, 2, 3)
    ]
    t1, t2, t3 = tranches
    await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "End T1", "boundary": "exit", "tranche_id": t1["id"]},
    )
    # T2 has no gates, so T3, right behind it, has nothing to wait for.
    started = await change(client, ws, "tranches", t3, {"state": "started"})
    assert started.status_code == 200, started.text

    # Taking T2 out from between them would leave T3 right behind T1's undecided exit gate.
    moved = await change(client, ws, "tranches", t2, {"position": 9})
    assert moved.status_code == 409, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["position"]
    assert "T3" in moved.json()["detail"]
    deleted = await client.delete(url(ws, f"tranches/{t2['id']}"), headers=ws.headers)
    assert deleted.status_code == 409, deleted.text
    assert "T3" in deleted.json()["detail"]
    # Reordering that leaves T3's way in as it was is fine.
    last = await change(client, ws, "tranches", t1, {"position": 4})
    assert last.status_code == 200, last.text


async def test_a_planned_tranche_cannot_be_moved_out_from_behind_the_review_of_one_under_way(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    t0, t1 = [
        await make(
            client, ws, "tranches", {"programme_id": prog["id"], "name": f"T{n}", "position": n}
        )
        for n in (0, 1)
    ]
    review = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "End of T0",
            "boundary": "exit",
            "tranche_id": t0["id"],
        },
    )
    started = await change(client, ws, "tranches", t0, {"state": "started"})
    assert started.status_code == 200, started.text

    level = await change(client, ws, "tranches", t1, {"position": 0})
    assert level.status_code == 409, level.text
    # Nor by moving the tranche under way behind the planned one.
    behind = await change(client, ws, "tranches", started.json(), {"position": 2})
    # Further back, still behind T0, is fine …
    back = await change(client, ws, "tranches", t1, {"position": 5})
    assert back.status_code == 200, back.text
    # … but not with a new tranche put between them.
    between = await client.post(
        url(ws, "tranches"),
        json={"programme_id": prog["id"], "name": "T0.5", "position": 1},
        headers=ws.headers,
    )
    blocked = await change(client, ws, "tranches", back.json(), {"state": "started"})

    for answer in (level, behind, between):
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == ["position"]
        assert "T1 out from behind the exit gate of T0" in answer.json()["detail"]
    assert blocked.status_code == 409, blocked.text
    listed = await client.get(
        url(ws, "tranches"), params={"programme_id": prog["id"]}, headers=ws.headers
    )
    assert [(t["name"], t["position"]) for t in listed.json()["items"]] == [("T0", 0), ("T1", 5)]

    went = await decide_gate(
        client, ws, review, {"decision": "go", "decided_by_id": str(ws.user_id)}
    )
    assert went.status_code == 201, went.text
    free = await change(client, ws, "tranches", back.json(), {"position": 0})
    assert free.status_code == 200, free.text


async def test_a_tranche_closes_only_through_its_end_of_tranche_review(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    tranche = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T1"})
    review = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "End of T1",
            "boundary": "exit",
            "tranche_id": tranche["id"],
        },
    )
    started = await change(client, ws, "tranches", tranche, {"state": "started"})
    assert started.status_code == 200, started.text

    async def close() -> Any:
        current = await client.get(url(ws, f"tranches/{tranche['id']}"), headers=ws.headers)
        return await change(client, ws, "tranches", current.json(), {"state": "closed"})

    async def decide(decision: str) -> None:
        taken = await decide_gate(
            client, ws, review, {"decision": decision, "decided_by_id": str(ws.user_id)}
        )
        assert taken.status_code == 201, taken.text

    undecided = await close()
    await decide("hold")
    held = await close()
    await decide("recycle")
    recycled = await close()

    for answer, shown in ((undecided, "undecided"), (held, "hold"), (recycled, "recycle")):
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == ["state"]
        assert f"'End of T1' ({shown})" in answer.json()["detail"]
    await decide("go")
    closed = await close()
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"


async def test_an_achieved_milestone_has_an_actual_date_that_has_come_and_no_other_has_one(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    today = workspace_today()
    baseline = today + timedelta(days=186)
    base = {"programme_id": prog["id"], "title": "Go live", "baseline_date": baseline.isoformat()}
    milestone = await make(client, ws, "milestones", base)

    # Achieved without a date: achieved today, as a done action is completed today.
    achieved = await change(client, ws, "milestones", milestone, {"state": "achieved"})
    assert achieved.status_code == 200, achieved.text
    assert achieved.json()["actual_date"] == today.isoformat()
    tomorrow = (today + timedelta(days=1)).isoformat()
    in_years = days_from(today, 1130)
    for body in ({"actual_date": tomorrow}, {"actual_date": in_years}, {"actual_date": None}):
        refused = await change(client, ws, "milestones", achieved.json(), body)
        assert refused.status_code == 422, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["actual_date"]
    dated = await change(client, ws, "milestones", achieved.json(), {"actual_date": "2025-05-01"})
    assert dated.status_code == 200, dated.text
    assert dated.json()["slip_days"] == (date(2025, 5, 1) - baseline).days

    # Back to planned: the date went with the achievement, and the forecast counts again.
    reopened = await change(
        client,
        ws,
        "milestones",
        dated.json(),
        {"state": "planned", "forecast_date": days_from(today, 193)},
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["actual_date"] is None and reopened.json()["slip_days"] == 7
    for body in (
        {"actual_date": "2025-05-01"},
        {"state": "missed", "actual_date": "2025-05-01"},
        {"state": "achieved", "actual_date": tomorrow},
    ):
        refused = await change(client, ws, "milestones", reopened.json(), body)
        assert refused.status_code == 422, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["actual_date"]

    created = await make(client, ws, "milestones", {**base, "state": "achieved"})
    assert created["actual_date"] == today.isoformat()
    for body in (
        {**base, "actual_date": "2025-05-01"},
        {**base, "state": "achieved", "actual_date": tomorrow},
    ):
        refused = await client.post(url(ws, "milestones"), json=body, headers=ws.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["actual_date"]


async def test_a_milestone_still_to_come_slips_until_today_past_its_forecast(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    today = workspace_today()

    def ago(days: int) -> str:
        return days_from(today, -days)

    base = {"programme_id": prog["id"], "baseline_date": ago(60)}
    planned = await make(client, ws, "milestones", {**base, "title": "A", "forecast_date": ago(50)})
    assert planned["slip_days"] == 60  # its forecast passed: late until today, not 10 days
    no_forecast = await make(client, ws, "milestones", {**base, "title": "B"})
    assert no_forecast["slip_days"] == 60
    ahead = await make(client, ws, "milestones", {**base, "title": "C", "forecast_date": ago(-10)})
    assert ahead["slip_days"] == 70  # the forecast, when it is still to come
    achieved = await change(
        client, ws, "milestones", planned, {"state": "achieved", "actual_date": ago(55)}
    )
    assert achieved.json()["slip_days"] == 5  # as it was, once achieved
    cancelled = await change(client, ws, "milestones", no_forecast, {"state": "cancelled"})
    assert cancelled.json()["slip_days"] is None  # nothing to come, and no date to judge by


async def test_an_approved_change_does_not_rebaseline_an_achieved_milestone(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    board = await join(database, ws, Role.ADMIN)  # decides the change the owner raises
    prog = await programme(client, ws)
    today = workspace_today()
    base = {"programme_id": prog["id"], "baseline_date": days_from(today, 30)}
    achieved = await make(client, ws, "milestones", {**base, "title": "Design signed off"})
    to_come = await make(client, ws, "milestones", {**base, "title": "Go live"})
    done = await change(client, ws, "milestones", achieved, {"state": "achieved"})
    assert done.status_code == 200, done.text
    new_baseline = days_from(today, 60)
    request = await make(
        client,
        ws,
        "change-requests",
        {
            "programme_id": prog["id"],
            "title": "Move the plan a month",
            "rebaselines": [
                {"milestone_id": m["id"], "new_baseline_date": new_baseline}
                for m in (achieved, to_come)
            ],
        },
    )
    submitted = await change(client, ws, "change-requests", request, {"state": "submitted"})
    assert submitted.status_code == 200, submitted.text

    approved = await client.post(
        url(ws, f"change-requests/{request['id']}/decision"),
        json={"decision": "approved"},
        headers={**board.headers, "If-Match": submitted.headers["etag"]},
    )

    assert approved.status_code == 409, approved.text
    assert approved.headers["content-type"].startswith("application/problem+json")
    assert "'Design signed off' was achieved" in approved.json()["detail"]
    kept = await client.get(url(ws, f"change-requests/{request['id']}"), headers=ws.headers)
    assert kept.json()["state"] == "submitted"
    for milestone in (achieved, to_come):
        read = await client.get(url(ws, f"milestones/{milestone['id']}"), headers=ws.headers)
        assert read.json()["baseline_date"] == base["baseline_date"]
