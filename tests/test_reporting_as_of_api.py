"""A report is judged as of its period's end: a past period's suggestion reads what was known
then (milestones achieved by that day, benefits measured by it) and names what it reads from
today's data because no history is kept — over HTTP, on real PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event

from services.db.engine import Database
from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, change, day, make, programme, url


async def report(
    client: Client, ws: Workspace, prog: dict[str, Any], start: int, end: int, **fields: Any
) -> dict[str, Any]:
    body = {"programme_id": prog["id"], "period_start": day(start), "period_end": day(end)}
    return await make(client, ws, "status-reports", {**body, **fields})


async def suggestion(client: Client, ws: Workspace, draft: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(
        url(ws, f"status-reports/{draft['id']}/suggestion"), headers=ws.headers
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def measure(
    client: Client, ws: Workspace, benefit: dict[str, Any], on: int, value: float
) -> None:
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": day(on), "value": value},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text


async def publish(client: Client, ws: Workspace, draft: dict[str, Any], **fields: Any) -> Any:
    """Set ``fields`` on the draft, then publish it (the answer)."""
    ready = await change(client, ws, "status-reports", draft, fields)
    assert ready.status_code == 200, ready.text
    return await client.post(
        url(ws, f"status-reports/{draft['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{ready.json()["version"]}"'},
    )


async def march_and_after(client: Client, ws: Workspace) -> dict[str, Any]:
    """A programme whose milestone, 28 days late at the end of a period that ended 30 days ago,
    was achieved 20 days after it, and whose benefit was a quarter realised by that period's
    end and three quarters after it."""
    prog = await programme(client, ws)
    # Its forecast now says a later day still: what a forecast says now was not known then.
    await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "title": "Training done",
            "baseline_date": day(-58),
            "forecast_date": day(-5),
            "state": "achieved",
            "actual_date": day(-10),
        },
    )
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Claims handled",
            "classification": "non_cash",
            "baseline_value": 0,
            "baseline_date": day(-60),
            "target_value": 100,
            "forecast_value": 95,
        },
    )
    await measure(client, ws, benefit, -45, 10)
    await measure(client, ws, benefit, -30, 25)  # on the period's last day: it counts
    await measure(client, ws, benefit, -29, 75)  # a day after it: it does not
    return prog


async def test_a_past_periods_suggestion_is_what_it_was_at_the_periods_end(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await march_and_after(client, ws)
    past = await report(client, ws, prog, -50, -30)

    found = await suggestion(client, ws, past)
    # Not achieved at the period's end: 28 days late on that day (amber), not the 53 days its
    # forecast now says (red), nor on time.
    assert found["evidence"]["schedule_slip_weeks"] == 4.0
    assert found["rags"]["schedule"] == "amber"
    # The latest measurement on or before the period's end, not the later 75.
    assert found["evidence"]["benefits_realisation_pct"] == 25.0
    assert found["as_of"] == day(-30)
    # What keeps no history is today's, and says so.
    assert found["read_today"] == ["cost", "benefits", "risk"]
    assert found["evidence"]["benefits_forecast_pct"] == 95.0

    # Published, the report keeps the suggestion as it read it, and its snapshot's realisation
    # is the period's too.
    ready = await change(
        client,
        ws,
        "status-reports",
        past,
        {"overall_rag": "amber", "schedule_rag": "amber", "path_to_green": "Catch up"},
    )
    assert ready.status_code == 200, ready.text
    published = await client.post(
        url(ws, f"status-reports/{past['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{ready.json()["version"]}"'},
    )
    assert published.status_code == 200, published.text
    kept = published.json()
    assert kept["suggested"]["as_of"] == day(-30)
    assert kept["suggested"]["read_today"] == ["cost", "benefits", "risk"]
    assert kept["suggested"]["rags"]["schedule"] == "amber"
    assert kept["suggested"]["evidence"]["benefits_realisation_pct"] == 25.0
    assert kept["snapshot"]["benefits"]["realisation_pct"] == 25.0


async def test_a_current_periods_suggestion_reads_todays_data_and_names_nothing(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await march_and_after(client, ws)
    current = await report(client, ws, prog, -5, 20)

    found = await suggestion(client, ws, current)
    assert found["as_of"] == day(0)
    assert found["read_today"] == []
    # Achieved: no longer slipping; realised as last measured.
    assert found["evidence"]["schedule_slip_weeks"] is None
    assert found["evidence"]["benefits_realisation_pct"] == 75.0
    assert found["rags"]["schedule"] is None
    assert found["rags"]["benefits"] == "green"


async def test_a_past_project_report_names_cost_and_risk_as_todays(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Depot"})
    past = await report(client, ws, prog, -50, -30, project_id=project["id"])
    found = await suggestion(client, ws, past)
    # A project's report has no benefits of its own to read.
    assert (found["as_of"], found["read_today"]) == (day(-30), ["cost", "risk"])


async def test_the_openapi_says_what_a_suggestion_reads_and_that_a_correction_keeps_its_period(
    client: Client,
) -> None:
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    suggestion_fields = schemas["Suggestion"]["properties"]
    assert "period's end" in suggestion_fields["as_of"]["description"]
    assert "no history" in suggestion_fields["read_today"]["description"]
    correction = schemas["StatusReportCorrection"]["properties"]["period_end"]
    assert correction["description"].startswith("Accepted only unchanged")


async def test_a_past_periods_snapshot_lists_the_milestones_still_to_deliver_at_its_end(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await march_and_after(client, ws)  # "Training done": achieved 20 days after the end
    on_time = {"programme_id": prog["id"], "state": "achieved"}
    await make(
        client,
        ws,
        "milestones",
        {**on_time, "title": "Kick-off", "baseline_date": day(-45), "actual_date": day(-40)},
    )
    await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "forecast_date": day(40)},
    )
    past = await report(client, ws, prog, -50, -30)

    published = await publish(
        client, ws, past, overall_rag="amber", schedule_rag="amber", path_to_green="Catch up"
    )

    assert published.status_code == 200, published.text
    kept = published.json()
    # Still to deliver at the period's end, as it stood then: not achieved, 28 days late on
    # that day (the slip the suggestion counts), not on the forecast it has now. The one
    # achieved within the period was delivered: not listed, as before.
    listed = kept["snapshot"]["milestones"]
    assert [m["title"] for m in listed] == ["Training done", "Go live"]
    assert listed == [
        {
            "id": listed[0]["id"],
            "title": "Training done",
            "baseline_date": day(-58),
            "forecast_date": day(-30),
            "state": "planned",
        },
        {
            "id": listed[1]["id"],
            "title": "Go live",
            "baseline_date": None,
            "forecast_date": day(40),
            "state": "planned",
        },
    ]
    assert kept["suggested"]["evidence"]["schedule_slip_weeks"] == 4.0

    # A report of the period running now finds it achieved: delivered, not listed.
    current = await report(client, ws, prog, -5, 20)
    now = await publish(client, ws, current, overall_rag="green", override_reason="On track")
    assert now.status_code == 200, now.text
    assert [m["title"] for m in now.json()["snapshot"]["milestones"]] == ["Go live"]


async def test_publishing_reads_the_benefits_once_for_the_suggestion_and_once_for_the_snapshot(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await march_and_after(client, ws)
    past = await report(client, ws, prog, -50, -30)
    ready = await change(
        client,
        ws,
        "status-reports",
        past,
        {"overall_rag": "amber", "schedule_rag": "amber", "path_to_green": "Catch up"},
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = database.engine(ws.cell).sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        published = await client.post(
            url(ws, f"status-reports/{past['id']}/publish"),
            headers={**ws.headers, "If-Match": f'"{ready.json()["version"]}"'},
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert published.status_code == 200, published.text
    # The realisation as of the period's end is worked out, and today's is not: each read
    # takes the benefits and their measurements in one query each.
    benefits = [s for s in statements if re.search(r"FROM \S*\bbenefits\b", s)]
    measurements = [s for s in statements if "benefit_measurements" in s]
    assert (len(benefits), len(measurements)) == (2, 2), statements
    assert all("measured_on <=" in s for s in measurements), measurements
    assert published.json()["snapshot"]["benefits"]["realisation_pct"] == 25.0
