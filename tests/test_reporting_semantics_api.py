"""What the dashboard, the suggestion and the roll-ups tell a programme manager: the figures an
expert relies on (opportunities apart from threats, gates still to be decided, stale project
reports, benefits by state), over HTTP."""

from __future__ import annotations

from typing import Any

from tests.conftest import MakeWorkspace, Workspace
from tests.test_gates_api import decide_gate
from tests.workspace_api import Client, change, day, make, programme, url


async def dashboard(client: Client, ws: Workspace, prog: dict[str, Any]) -> dict[str, Any]:
    answer = await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def suggestion(client: Client, ws: Workspace, report: dict[str, Any]) -> dict[str, Any]:
    answer = await client.get(
        url(ws, f"status-reports/{report['id']}/suggestion"), headers=ws.headers
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def publish(client: Client, ws: Workspace, row: dict[str, Any]) -> Any:
    return await client.post(
        url(ws, f"status-reports/{row['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{row["version"]}"'},
    )


async def test_a_likely_large_opportunity_is_good_news_not_a_red_risk(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    threat = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Supplier slips",
            "inherent_probability": 2,
            "inherent_impact": 2,
        },
    )
    opportunity = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Shared data centre",
            "kind": "opportunity",
            "inherent_probability": 5,
            "inherent_impact": 5,
            "response": "exploit",
        },
    )
    report = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], "period_start": day(-30), "period_end": day(-1)},
    )
    found = await suggestion(client, ws, report)
    assert found["rags"]["risk"] == "green", found
    assert found["evidence"]["open_risk_rags"] == {"green": 1}
    board = await dashboard(client, ws, prog)
    assert [r["id"] for r in board["top_risks"]] == [threat["id"]]
    assert [r["id"] for r in board["top_opportunities"]] == [opportunity["id"]]
    # The heat map counts threats: the 5×5 opportunity is not a red-critical cell.
    assert board["heat_map"][4][4] == 0 and board["heat_map"][1][1] == 1


async def test_a_gate_on_hold_is_still_due_on_the_dashboard(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    held, stopped = [
        await make(
            client,
            ws,
            "stage-gates",
            {"programme_id": prog["id"], "title": title, "planned_date": day(-7)},
        )
        for title in ("Design review", "Pilot review")
    ]
    for gate, decision in ((held, "hold"), (stopped, "stop")):
        decided = await decide_gate(
            client, ws, gate, {"decision": decision, "decided_by_id": str(ws.user_id)}
        )
        assert decided.status_code == 201, decided.text
    board = await dashboard(client, ws, prog)
    # A hold is reviewed again: still to be decided, and overdue; a stop is final.
    assert [(g["id"], g["overdue"]) for g in board["gates_due"]] == [(held["id"], True)]
    assert board["gates_due_count"] == 1


async def test_the_dependency_map_of_a_programme_shows_what_others_need_from_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    supplier, consumer = await programme(client, ws, "Data"), await programme(client, ws, "CRM")
    y = await make(client, ws, "projects", {"programme_id": supplier["id"], "name": "Warehouse"})
    a = await make(client, ws, "projects", {"programme_id": consumer["id"], "name": "Portal"})
    elsewhere = await programme(client, ws, "Estates")
    await make(client, ws, "projects", {"programme_id": elsewhere["id"], "name": "Move"})
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": consumer["id"],
            "title": "Customer feed",
            "from_project_id": y["id"],
            "to_project_id": a["id"],
            "need_by_date": day(20),
        },
    )
    for prog in (supplier, consumer):
        graph = await client.get(
            url(ws, "dependency-map"), params={"programme_id": prog["id"]}, headers=ws.headers
        )
        assert [e["title"] for e in graph.json()["edges"]] == ["Customer feed"], prog["name"]
    unrelated = await client.get(
        url(ws, "dependency-map"), params={"programme_id": elsewhere["id"]}, headers=ws.headers
    )
    assert unrelated.json()["edges"] == []


async def test_a_baseline_date_cannot_move_past_the_benefits_measurements(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Faster claims",
            "classification": "non_cash",
            "baseline_value": 40,
            "baseline_date": "2025-01-01",
            "target_value": 10,
        },
    )
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": "2025-03-01", "value": 35},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text
    read = (await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)).json()
    moved = await change(client, ws, "benefits", read, {"baseline_date": "2025-07-01"})
    assert moved.status_code == 422, moved.text
    assert [(e["field"], e["message"]) for e in moved.json()["errors"]] == [
        (
            "baseline_date",
            "on or before the first measurement (2025-03-01): measurements are not dated "
            "before their baseline",
        )
    ]
    kept = await change(client, ws, "benefits", read, {"baseline_date": "2025-03-01"})
    assert kept.status_code == 200, kept.text


async def test_withdrawn_benefits_are_counted_by_state_but_not_rolled_up(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    kept = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Kept",
            "classification": "non_cash",
            "baseline_value": 0,
            "target_value": 10,
            "forecast_value": 5,
        },
    )
    gone = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Gone",
            "classification": "non_cash",
            "baseline_value": 0,
            "target_value": 10,
            "forecast_value": 10,
        },
    )
    withdrawn = await change(client, ws, "benefits", gone, {"state": "withdrawn"})
    assert withdrawn.status_code == 200, withdrawn.text
    benefits = (await dashboard(client, ws, prog))["benefits"]
    assert benefits["by_state"] == {"identified": 1, "withdrawn": 1}
    assert (benefits["forecast_pct"], benefits["benefits_counted"]) == (50.0, 0)
    assert kept["forecast_pct"] == 50.0


async def test_a_report_is_published_once_its_period_has_begun(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    ahead = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "period_start": day(1),
            "period_end": day(30),
            "overall_rag": "green",
        },
    )
    refused = await publish(client, ws, ahead)
    assert refused.status_code == 422, refused.text
    assert [(e["field"], e["source"]) for e in refused.json()["errors"]] == [
        ("period_start", "report")
    ]
    under_way = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "period_start": day(0),
            "period_end": day(0),
            "overall_rag": "green",
        },
    )
    assert (await publish(client, ws, under_way)).status_code == 200


async def test_a_programme_report_rolls_up_project_reports_of_its_period_and_names_the_rest(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    current, closed, silent = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("CRM", "Legacy", "ERP")
    ]
    for project, start, end, rag in (
        (current, "2026-03-01", "2026-03-31", "amber"),
        (closed, "2025-10-01", "2025-10-31", "red"),
    ):
        report = await make(
            client,
            ws,
            "status-reports",
            {
                "programme_id": prog["id"],
                "project_id": project["id"],
                "period_start": start,
                "period_end": end,
                "overall_rag": rag,
                "resources_rag": rag,
                "path_to_green": "Re-plan",
            },
        )
        assert (await publish(client, ws, report)).status_code == 200
    for project, state in ((current, "active"), (silent, "active"), (closed, "closed")):
        read = (await client.get(url(ws, f"projects/{project['id']}"), headers=ws.headers)).json()
        assert (await change(client, ws, "projects", read, {"state": state})).status_code == 200
    march = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], "period_start": "2026-03-01", "period_end": "2026-03-31"},
    )
    found = await suggestion(client, ws, march)
    # Legacy's October report says nothing of March: not rolled up.
    assert found["evidence"]["project_rags"]["resources"] == ["amber"]
    assert found["rags"]["overall"] == "amber"
    # ERP is live and has no report of March: named, not silently left out.
    assert found["evidence"]["projects_unreported"] == [silent["id"]]
