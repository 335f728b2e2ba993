"""Status reports, the dashboard, the dependency map and the board pack over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event

from services.db.engine import Database
from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, change, day, make, programme, url


async def report(client: Client, ws: Workspace, programme_id: str, **fields: Any) -> dict[str, Any]:
    body = {"programme_id": programme_id, "period_start": "2026-01-01", "period_end": "2026-01-31"}
    return await make(client, ws, "status-reports", body | fields)


async def publish(client: Client, ws: Workspace, row: dict[str, Any]) -> Any:
    return await client.post(
        url(ws, f"status-reports/{row['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{row["version"]}"'},
    )


async def test_publishing_freezes_a_report_and_a_correction_supersedes_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    draft = await report(client, ws, prog["id"], summary="Good month")
    not_ready = await publish(client, ws, draft)
    assert not_ready.status_code == 422
    assert not_ready.json()["errors"][0]["field"] == "overall_rag"

    ready = await change(client, ws, "status-reports", draft, {"overall_rag": "green"})
    published = await publish(client, ws, ready.json())
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["state"] == "published" and body["published_by"] == str(ws.user_id)
    assert set(body["snapshot"]) >= {"milestones", "top_risks", "issues", "decisions", "benefits"}
    assert body["suggested"]["rags"]["overall"] is None  # no data yet

    frozen = await change(client, ws, "status-reports", body, {"summary": "Rewritten history"})
    assert frozen.status_code == 409
    assert (
        await client.delete(url(ws, f"status-reports/{body['id']}"), headers=ws.headers)
    ).status_code == 409
    duplicate = await client.post(
        url(ws, "status-reports"),
        json={"programme_id": prog["id"], "period_start": "2026-01-01", "period_end": "2026-01-31"},
        headers=ws.headers,
    )
    assert duplicate.status_code == 409

    corrections = url(ws, f"status-reports/{body['id']}/corrections")
    correction = await client.post(corrections, headers=ws.headers)
    assert correction.status_code == 201, correction.text
    fix = correction.json()
    assert (fix["revision"], fix["supersedes_id"], fix["state"]) == (2, body["id"], "draft")
    assert fix["summary"] == "Good month"
    assert (await client.post(corrections, headers=ws.headers)).status_code == 409
    edited = await change(client, ws, "status-reports", fix, {"summary": "Good month, corrected"})
    assert (await publish(client, ws, edited.json())).status_code == 200
    old = (await client.get(url(ws, f"status-reports/{body['id']}"), headers=ws.headers)).json()
    assert old["state"] == "superseded" and old["summary"] == "Good month"


async def test_report_periods_do_not_overlap_and_a_correction_keeps_its_period(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    january = await report(client, ws, prog["id"], overall_rag="green")
    straddling = {"period_start": "2026-01-15", "period_end": "2026-02-15"}

    overlapping = await client.post(
        url(ws, "status-reports"),
        json={"programme_id": prog["id"], **straddling},
        headers=ws.headers,
    )
    assert overlapping.status_code == 409, overlapping.text
    assert overlapping.json()["report_id"] == january["id"]
    # A project's reports are another series.
    await report(client, ws, prog["id"], project_id=project["id"], **straddling)
    december = await report(
        client, ws, prog["id"], period_start="2025-12-01", period_end="2025-12-31"
    )
    stretched = await change(client, ws, "status-reports", december, {"period_end": "2026-01-10"})
    assert stretched.status_code == 409, stretched.text

    assert (await publish(client, ws, january)).status_code == 200
    correction = await client.post(
        url(ws, f"status-reports/{january['id']}/corrections"), headers=ws.headers
    )
    moved = await change(
        client, ws, "status-reports", correction.json(), {"period_end": "2026-02-28"}
    )
    assert moved.status_code == 422, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["period_end"]


async def test_suggested_rag_comes_from_the_data_and_overrides_need_reasons(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "title": "Late",
            "baseline_date": day(10),
            "forecast_date": day(38),
        },
    )
    await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Big",
            "inherent_probability": 4,
            "inherent_impact": 4,
        },
    )
    draft = await report(client, ws, prog["id"])
    suggestion = await client.get(
        url(ws, f"status-reports/{draft['id']}/suggestion"), headers=ws.headers
    )
    rags = suggestion.json()["rags"]
    assert rags["schedule"] == "amber"  # 4 weeks late: ≤ 6 weeks is amber
    assert rags["risk"] == "red"  # an open risk in a red band
    assert rags["overall"] == "red"
    assert suggestion.json()["evidence"]["schedule_slip_weeks"] == 4.0

    green = await change(client, ws, "status-reports", draft, {"overall_rag": "green"})
    refused = await publish(client, ws, green.json())
    assert refused.status_code == 422
    # Publishing takes no body: what it names is the report's, to be set by an update.
    assert refused.json()["errors"][0] == {
        "field": "override_reason",
        "message": "overall is green but the data suggests red: say why",
        "source": "report",
    }

    red = await change(client, ws, "status-reports", green.json(), {"overall_rag": "red"})
    needs_path = await publish(client, ws, red.json())
    assert [e["field"] for e in needs_path.json()["errors"]] == ["path_to_green"]
    with_path = await change(
        client, ws, "status-reports", red.json(), {"path_to_green": "Second supplier by March"}
    )
    published = await publish(client, ws, with_path.json())
    assert published.status_code == 200, published.text
    assert published.json()["suggested"]["rags"]["overall"] == "red"


async def test_overall_is_no_better_than_the_dimensions_the_report_itself_rates(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    # On time: the data rates schedule green; it cannot rate scope or resources.
    await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "title": "On time",
            "baseline_date": day(10),
            "forecast_date": day(10),
        },
    )
    rated_red = {"scope_rag": "red", "resources_rag": "red", "path_to_green": "Hire two"}
    flattering = await report(client, ws, prog["id"], overall_rag="green", **rated_red)
    suggestion = await client.get(
        url(ws, f"status-reports/{flattering['id']}/suggestion"), headers=ws.headers
    )
    rags = suggestion.json()["rags"]
    assert (rags["schedule"], rags["scope"], rags["overall"]) == ("green", "red", "red")
    assert suggestion.json()["evidence"]["reported_rags"]["resources"] == "red"
    refused = await publish(client, ws, flattering)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["override_reason"]

    honest = await report(
        client,
        ws,
        prog["id"],
        overall_rag="red",
        period_start="2026-02-01",
        period_end="2026-02-28",
        **rated_red,
    )
    published = await publish(client, ws, honest)
    assert published.status_code == 200, published.text
    assert published.json()["suggested"]["rags"]["overall"] == "red"


async def test_a_programme_report_rolls_up_its_projects_latest_published_reports(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    older = await report(
        client,
        ws,
        prog["id"],
        project_id=project["id"],
        overall_rag="green",
        scope_rag="green",
        period_start="2025-12-01",
        period_end="2025-12-31",
    )
    assert (await publish(client, ws, older)).status_code == 200
    latest = await report(
        client,
        ws,
        prog["id"],
        project_id=project["id"],
        overall_rag="amber",
        scope_rag="amber",
        path_to_green="Descoping agreed",
    )
    assert (await publish(client, ws, latest)).status_code == 200, "project report"
    programme_report = await report(client, ws, prog["id"])
    suggestion = await client.get(
        url(ws, f"status-reports/{programme_report['id']}/suggestion"), headers=ws.headers
    )
    assert suggestion.json()["rags"]["scope"] == "amber"
    assert suggestion.json()["rags"]["overall"] == "amber"
    ready = await change(
        client,
        ws,
        "status-reports",
        programme_report,
        {"overall_rag": "amber", "path_to_green": "Follow CRM's plan"},
    )
    published = await publish(client, ws, ready.json())
    rolled = published.json()["snapshot"]["project_reports"]
    assert [(r["report_id"], r["rags"]["overall"]) for r in rolled] == [(latest["id"], "amber")]


async def test_a_programme_report_rolls_up_only_project_reports_of_its_period_or_before(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    crm = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    erp = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "ERP"})
    january = await report(
        client, ws, prog["id"], project_id=crm["id"], overall_rag="green", scope_rag="green"
    )
    march = await report(
        client,
        ws,
        prog["id"],
        project_id=crm["id"],
        overall_rag="red",
        scope_rag="red",
        path_to_green="Re-plan",
        period_start="2026-03-01",
        period_end="2026-03-31",
    )
    # Ends inside the programme's period: part of it, although it started in December.
    straddling = await report(
        client,
        ws,
        prog["id"],
        project_id=erp["id"],
        overall_rag="amber",
        scope_rag="amber",
        path_to_green="Descope",
        period_start="2025-12-16",
        period_end="2026-01-15",
    )
    for project_report in (january, march, straddling):
        assert (await publish(client, ws, project_report)).status_code == 200

    programme_report = await report(client, ws, prog["id"])
    suggestion = await client.get(
        url(ws, f"status-reports/{programme_report['id']}/suggestion"), headers=ws.headers
    )
    assert sorted(suggestion.json()["evidence"]["project_rags"]["scope"]) == ["amber", "green"]
    assert suggestion.json()["rags"]["overall"] == "amber"
    ready = await change(
        client,
        ws,
        "status-reports",
        programme_report,
        {"overall_rag": "amber", "path_to_green": "Follow ERP's plan"},
    )
    published = await publish(client, ws, ready.json())
    assert published.status_code == 200, published.text
    rolled = published.json()["snapshot"]["project_reports"]
    assert {r["report_id"] for r in rolled} == {january["id"], straddling["id"]}


async def seed_programme(client: Client, ws: Workspace, prog: dict[str, Any], n: int) -> None:
    """n of everything the dashboard shows."""
    for i in range(n):
        await make(
            client,
            ws,
            "risks",
            {
                "programme_id": prog["id"],
                "title": f"Risk {i}",
                "inherent_probability": 1 + i % 5,
                "inherent_impact": 5,
            },
        )
        await make(
            client,
            ws,
            "milestones",
            {
                "programme_id": prog["id"],
                "title": f"M{i}",
                "baseline_date": day(5),
                "forecast_date": day(5 + i),
            },
        )
        await make(
            client,
            ws,
            "actions",
            {"programme_id": prog["id"], "title": f"A{i}", "due_date": day(-1 - i)},
        )
        benefit = await make(
            client,
            ws,
            "benefits",
            {
                "programme_id": prog["id"],
                "title": f"B{i}",
                "classification": "non_cash",
                "baseline_value": 0,
                "target_value": 100,
                "value_per_year": 1000 * (i + 1),
            },
        )
        await client.post(
            url(ws, f"benefits/{benefit['id']}/measurements"),
            json={"measured_on": day(-1), "value": 50},
            headers=ws.headers,
        )
        await make(
            client,
            ws,
            "stage-gates",
            {"programme_id": prog["id"], "title": f"G{i}", "planned_date": day(3 + i)},
        )
        published = await report(
            client,
            ws,
            prog["id"],
            overall_rag="green",
            period_start=f"20{10 + i}-01-01",
            period_end=f"20{10 + i}-01-31",
            override_reason="Shown for the test",
        )
        assert (await publish(client, ws, published)).status_code == 200


async def test_the_dashboard_shows_the_programme_in_a_fixed_number_of_queries(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    small, large = await programme(client, ws, "Small"), await programme(client, ws, "Large")
    await seed_programme(client, ws, small, 2)
    await seed_programme(client, ws, large, 7)

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = database.engine(ws.cell).sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = {}
        for prog in (small, large):
            statements.clear()
            response = await client.get(
                url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers
            )
            assert response.status_code == 200, response.text
            counts[prog["name"]] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts["Small"] == counts["Large"], counts

    board = response.json()
    assert board["name"] == "Large"
    assert [p["rags"]["overall"] for p in board["trend"]] == ["green"] * 6
    assert board["current"]["period_start"] == "2016-01-01"
    assert sum(map(sum, board["heat_map"])) == 7
    assert board["heat_map"][4][4] == 1  # probability 5 × impact 5
    assert board["heat_map"][0][4] == 2  # probability 1 × impact 5
    assert [r["residual_score"] for r in board["top_risks"]] == [25, 20, 15, 10, 10]
    assert board["benefits"]["realisation_pct"] == 50.0 and board["benefits"]["value_weighted"]
    assert len(board["milestones_due"]) == 7 and len(board["gates_due"]) == 7
    assert board["overdue_action_count"] == 7 and len(board["overdue_actions"]) == 7


async def test_dependency_map_and_board_pack(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    a = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Platform"})
    b = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Portal"})
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "API",
            "from_project_id": a["id"],
            "to_project_id": b["id"],
            "need_by_date": day(20),
        },
    )
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Licence",
            "kind": "external",
            "external_party": "Regulator",
            "to_project_id": b["id"],
            "need_by_date": day(20),
            "committed_date": day(1),
            "status": "agreed",
        },
    )
    # The other way round: the regulator needs something from a project.
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Returns",
            "kind": "external",
            "external_party": "Regulator",
            "from_project_id": a["id"],
            "need_by_date": day(20),
            "committed_date": day(1),
            "status": "agreed",
        },
    )
    graph = (
        await client.get(
            url(ws, "dependency-map"), params={"programme_id": prog["id"]}, headers=ws.headers
        )
    ).json()
    assert {n["label"] for n in graph["nodes"]} == {"Platform", "Portal", "Regulator"}
    assert {(e["title"], e["source"], e["target"], e["rag"]) for e in graph["edges"]} == {
        ("API", a["id"], b["id"], "amber"),
        ("Licence", "external:Regulator", b["id"], "green"),
        ("Returns", a["id"], "external:Regulator", "green"),
    }

    await make(
        client,
        ws,
        "decisions",
        {
            "programme_id": prog["id"],
            "title": "Buy",
            "decided_on": "2026-01-10",
            "status": "approved",
            "decided_by_id": str(ws.user_id),
        },
    )
    # Decisions are dated when taken, so on a day that has come: the pack is for a past month.
    await make(
        client,
        ws,
        "decisions",
        {
            "programme_id": prog["id"],
            "title": "Later",
            "decided_on": "2026-03-10",
            "status": "approved",
            "decided_by_id": str(ws.user_id),
        },
    )
    january = {"period_start": "2026-01-01", "period_end": "2026-01-31"}
    published = await report(client, ws, prog["id"], overall_rag="green", **january)
    assert (await publish(client, ws, published)).status_code == 200
    pack = await client.get(
        url(ws, f"programmes/{prog['id']}/board-pack"),
        params=january,
        headers=ws.headers,
    )
    assert pack.status_code == 200, pack.text
    assert [d["title"] for d in pack.json()["decisions"]] == ["Buy"]
    assert [r["id"] for r in pack.json()["reports"]] == [published["id"]]
    backwards = await client.get(
        url(ws, f"programmes/{prog['id']}/board-pack"),
        params={"period_start": "2026-02-01", "period_end": "2026-01-01"},
        headers=ws.headers,
    )
    assert backwards.status_code == 422
    # A missing parameter is a field error like any other, not an unreadable request.
    no_end = await client.get(
        url(ws, f"programmes/{prog['id']}/board-pack"),
        params={"period_start": "2026-01-01"},
        headers=ws.headers,
    )
    assert no_end.status_code == 422, no_end.text
    assert no_end.json()["errors"] == [
        {"field": "period_end", "message": "required", "source": "query"}
    ]


async def test_a_correction_applies_the_fields_it_is_sent_and_refuses_the_rest(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    january = await report(client, ws, prog["id"], summary="Good month", overall_rag="green")
    assert (await publish(client, ws, january)).status_code == 200
    corrections = url(ws, f"status-reports/{january['id']}/corrections")

    unknown = await client.post(
        corrections,
        json={"period_end": "2099-01-01", "bogus": "x", "summary": "fixed"},
        headers=ws.headers,
    )
    moved = await client.post(
        corrections, json={"period_end": "2099-01-01", "summary": "fixed"}, headers=ws.headers
    )
    key = {**ws.headers, "Idempotency-Key": str(uuid.uuid4())}
    fixes = {"summary": "Good month, restated", "overall_rag": "amber", "path_to_green": "Q2"}
    corrected = await client.post(
        corrections, json={**fixes, "period_end": "2026-01-31"}, headers=key
    )
    replayed = await client.post(
        corrections, json={**fixes, "period_end": "2026-01-31"}, headers=key
    )
    reused = await client.post(corrections, json={"summary": "other"}, headers=key)

    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"] == [
        {"field": "bogus", "message": "not a field here", "source": "body"}
    ]
    assert moved.status_code == 422, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["period_end"]
    # Neither refusal left a correction behind: the next one is the first.
    assert corrected.status_code == 201, corrected.text
    fix = corrected.json()
    assert (fix["revision"], fix["supersedes_id"], fix["state"]) == (2, january["id"], "draft")
    assert {k: fix[k] for k in fixes} == fixes
    assert (fix["period_start"], fix["period_end"]) == ("2026-01-01", "2026-01-31")
    assert fix["achievements"] == january["achievements"]  # what was not sent is copied
    assert corrected.headers["etag"] == f'"{fix["version"]}"'
    assert replayed.status_code == 201 and replayed.json() == fix
    assert replayed.headers["idempotent-replayed"] == "true"
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency-key-reused"
    listed = await client.get(
        url(ws, "status-reports"), params={"programme_id": prog["id"]}, headers=ws.headers
    )
    assert listed.json()["total"] == 2
    original = await client.get(url(ws, f"status-reports/{january['id']}"), headers=ws.headers)
    assert original.json()["summary"] == "Good month"


async def test_publishing_takes_no_fields(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    draft = await report(client, ws, prog["id"], overall_rag="green")
    current = {**ws.headers, "If-Match": f'"{draft["version"]}"'}
    publishing = url(ws, f"status-reports/{draft['id']}/publish")

    bogus = await client.post(publishing, json={"bogus": 1}, headers=current)
    listed_rag = await client.post(publishing, json={"overall_rag": "red"}, headers=current)

    for refused in (bogus, listed_rag):
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in bogus.json()["errors"]] == ["bogus"]
    assert [e["field"] for e in listed_rag.json()["errors"]] == ["overall_rag"]
    still = await client.get(url(ws, f"status-reports/{draft['id']}"), headers=ws.headers)
    assert (still.json()["state"], still.json()["overall_rag"]) == ("draft", "green")
    published = await client.post(publishing, json={}, headers=current)
    assert published.status_code == 200, published.text
    assert published.json()["state"] == "published"
