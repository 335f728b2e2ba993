"""The figures reporting shows and judges: overdue milestones and gates, slip as of a report's
period, RAG from exact values, and the exports' headers — over HTTP, on real PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import event

from services.db.engine import Database
from services.workspace.configuration.models import RegisterSettings
from services.workspace.reporting.views import DUE_LIST_LIMIT
from services.workspace.structure.models import Milestone
from tests.conftest import MakeWorkspace, Workspace, in_workspace
from tests.workspace_api import Client, change, day, make, programme, url, workspace_today

CSV = "text/csv; charset=utf-8"


async def report(
    client: Client, ws: Workspace, programme_id: str, start: int, end: int
) -> dict[str, Any]:
    body = {"programme_id": programme_id, "period_start": day(start), "period_end": day(end)}
    return await make(client, ws, "status-reports", body)


async def suggestion(client: Client, ws: Workspace, draft: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(
        url(ws, f"status-reports/{draft['id']}/suggestion"), headers=ws.headers
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def milestone(client: Client, ws: Workspace, prog: dict[str, Any], **fields: Any) -> Any:
    return await make(client, ws, "milestones", {"programme_id": prog["id"], **fields})


# --- schedule: an overdue milestone is late until it is achieved ------------------------------


async def test_a_milestone_not_achieved_past_its_forecast_slips_until_today(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    # Forecast four days after its baseline, but both long past and still not achieved.
    await milestone(
        client, ws, prog, title="Cutover", baseline_date=day(-87), forecast_date=day(-83)
    )
    draft = await report(client, ws, prog["id"], -10, 20)

    found = await suggestion(client, ws, draft)
    assert found["evidence"]["schedule_slip_weeks"] == round(87 / 7, 2)  # not 4 days' 0.57
    assert found["evidence"]["schedule_as_of"] == day(0)
    assert found["rags"]["schedule"] == "red"


async def test_a_milestone_without_a_forecast_slips_from_its_baseline_until_today(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await milestone(client, ws, prog, title="Design signed off", baseline_date=day(-21))
    draft = await report(client, ws, prog["id"], -10, 20)

    found = await suggestion(client, ws, draft)
    assert found["evidence"]["schedule_slip_weeks"] == 3.0
    assert found["rags"]["schedule"] == "amber"


async def test_a_past_periods_report_judges_the_slip_as_of_its_period_end(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await milestone(client, ws, prog, title="Pilot", baseline_date=day(-51), forecast_date=day(-49))
    # A report of a period that ended 30 days ago: 21 days late then (amber), not the 51 of
    # today (red).
    past = await report(client, ws, prog["id"], -50, -30)
    found = await suggestion(client, ws, past)
    assert found["evidence"]["schedule_slip_weeks"] == 3.0
    assert found["evidence"]["schedule_as_of"] == day(-30)
    assert found["rags"]["schedule"] == "amber"


async def test_a_milestone_achieved_after_a_period_was_still_late_at_its_end(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await milestone(
        client,
        ws,
        prog,
        title="Training done",
        baseline_date=day(-58),
        state="achieved",
        actual_date=day(-10),
    )
    past = await report(client, ws, prog["id"], -50, -30)
    found = await suggestion(client, ws, past)
    assert found["evidence"]["schedule_slip_weeks"] == 4.0  # 28 days late on the period's end
    assert found["rags"]["schedule"] == "amber"

    # Today's report: achieved, so no longer slipping.
    current = await report(client, ws, prog["id"], -5, 20)
    assert (await suggestion(client, ws, current))["evidence"]["schedule_slip_weeks"] is None


async def test_the_schedule_rag_compares_the_exact_slip_not_the_rounded_one(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    async with in_workspace(database, ws.tenant_id) as session:
        # Green up to 0.286 weeks: two days (0.2857… weeks, shown as 0.29) are green.
        session.add(
            RegisterSettings(
                schedule_slip_green_max_weeks=0.286,
                schedule_slip_amber_max_weeks=3,
                cost_variance_green_max_pct=5,
                cost_variance_amber_max_pct=10,
                benefits_forecast_green_min_pct=90,
                benefits_forecast_amber_min_pct=70,
                override_requires_reason=True,
                path_to_green_for_amber=True,
                path_to_green_for_red=True,
                risk_response_model="standard",
            )
        )
    prog = await programme(client, ws)
    await milestone(client, ws, prog, title="Soon", baseline_date=day(10), forecast_date=day(12))
    draft = await report(client, ws, prog["id"], -10, 20)

    found = await suggestion(client, ws, draft)
    assert found["evidence"]["schedule_slip_weeks"] == 0.29
    assert found["rags"]["schedule"] == "green"


# --- cost: the exact variance against the rules -------------------------------------------------


async def test_a_cost_variance_just_over_five_percent_is_amber_though_shown_as_five(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()

    async def costed(name: str, budget: float, forecast: float) -> dict[str, Any]:
        """The suggestion for a current report of a programme with this budget and forecast."""
        made = await programme(client, ws, name)
        money = {"budget": budget, "forecast_cost": forecast}
        costed = (await change(client, ws, "programmes", made, money)).json()
        return await suggestion(client, ws, await report(client, ws, costed["id"], -10, 20))

    found = await costed("Over", 1012500.65, 1063166.18)
    assert found["evidence"]["cost_variance_pct"] == 5.0  # 5.004 %, shown with two decimals
    assert found["rags"]["cost"] == "amber"

    # Exactly 5 % is still green.
    found = await costed("Level", 200.0, 210.0)
    assert found["evidence"]["cost_variance_pct"] == 5.0
    assert found["rags"]["cost"] == "green"


async def test_a_benefits_forecast_just_under_ninety_percent_is_amber_though_shown_as_ninety(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Claims handled",
            "classification": "non_cash",
            "indicator": "Claims per year",
            "baseline_value": 0,
            "target_value": 100000,
            "forecast_value": 89996,
        },
    )
    draft = await report(client, ws, prog["id"], -10, 20)
    found = await suggestion(client, ws, draft)
    assert found["evidence"]["benefits_forecast_pct"] == 90.0  # 89.996 %, shown rounded
    assert found["rags"]["benefits"] == "amber"


# --- the dashboard's "what is due" --------------------------------------------------------------


async def test_the_dashboard_lists_overdue_milestones_and_gates_first_and_flags_them(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    dashboard = url(ws, f"programmes/{prog['id']}/dashboard")

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = database.engine(ws.cell).sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        empty = await client.get(dashboard, headers=ws.headers)
        assert empty.status_code == 200, empty.text
        before = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    late = await milestone(
        client, ws, prog, title="Cutover", baseline_date=day(-87), forecast_date=day(-83)
    )
    unforecast = await milestone(client, ws, prog, title="Design", baseline_date=day(-5))
    coming = await milestone(client, ws, prog, title="Launch", forecast_date=day(10))
    await milestone(
        client,
        ws,
        prog,
        title="Kick-off",
        baseline_date=day(-90),
        state="achieved",
        actual_date=day(-90),
    )
    await milestone(client, ws, prog, title="Dropped", forecast_date=day(-3), state="cancelled")
    # Recorded as missed, and still to be achieved: listed, with its state.
    missed = await milestone(
        client, ws, prog, title="Migration", baseline_date=day(-20), state="missed"
    )
    await milestone(client, ws, prog, title="Far", forecast_date=day(400))
    overdue_gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Design review", "planned_date": day(-3)},
    )
    next_gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Go live", "planned_date": day(7)},
    )

    statements.clear()
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = await client.get(dashboard, params={"horizon_days": 365}, headers=ws.headers)
        assert response.status_code == 200, response.text
        assert len(statements) == before  # overdue rows come in the same queries
    finally:
        event.remove(engine, "before_cursor_execute", count)

    board = response.json()
    assert [(m["id"], m["date"], m["state"], m["overdue"]) for m in board["milestones_due"]] == [
        (late["id"], day(-83), "planned", True),
        (missed["id"], day(-20), "missed", True),
        (unforecast["id"], day(-5), "planned", True),
        (coming["id"], day(10), "planned", False),
    ]
    assert [(g["id"], g["date"], g["overdue"]) for g in board["gates_due"]] == [
        (overdue_gate["id"], day(-3), True),
        (next_gate["id"], day(7), False),
    ]
    assert (board["milestones_due_count"], board["gates_due_count"]) == (4, 2)


async def test_the_dashboard_counts_what_is_due_beyond_the_lists_it_shows(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    async with in_workspace(database, ws.tenant_id) as session:
        session.add_all(
            Milestone(
                programme_id=uuid.UUID(prog["id"]),
                title=f"Overdue {n}",
                baseline_date=workspace_today() + timedelta(days=n - 60),
            )
            for n in range(DUE_LIST_LIMIT + 5)
        )
    board = (
        await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    ).json()
    assert len(board["milestones_due"]) == DUE_LIST_LIMIT
    assert board["milestones_due_count"] == DUE_LIST_LIMIT + 5
    assert board["milestones_due"][0]["title"] == "Overdue 0"  # the oldest first


# --- exports --------------------------------------------------------------------------------------


async def test_csv_exports_say_their_charset_once(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Supplier fails",
            "inherent_probability": 3,
            "inherent_impact": 4,
        },
    )
    for register in ("risks", "custom-register-entries", "programmes"):
        response = await client.get(url(ws, f"{register}/export.csv"), headers=ws.headers)
        assert response.status_code == 200, (register, response.text)
        assert response.headers["content-type"] == CSV, register


async def test_programmes_export_as_csv_and_xlsx_filtered_like_the_list(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    alpha = await programme(client, ws, "Alpha")
    alpha = (
        await change(client, ws, "programmes", alpha, {"state": "delivering", "budget": 1500.5})
    ).json()
    await programme(client, ws, "=Beta")

    everything = await client.get(
        url(ws, "programmes/export.csv"), params={"sort": "name"}, headers=ws.headers
    )
    assert everything.status_code == 200, everything.text
    assert everything.headers["content-disposition"] == 'attachment; filename="programmes.csv"'
    rows = list(csv.reader(io.StringIO(everything.content.decode("utf-8-sig"))))
    listed = (await client.get(url(ws, "programmes"), headers=ws.headers)).json()["items"]
    assert rows[0] == list(listed[0])  # the list's fields, in order
    names = rows[0].index("name")
    assert [r[names] for r in rows[1:]] == ["'=Beta", "Alpha"]  # by name; never a formula

    delivering = await client.get(
        url(ws, "programmes/export.xlsx"), params={"state": "delivering"}, headers=ws.headers
    )
    assert delivering.status_code == 200, delivering.text
    sheet = load_workbook(io.BytesIO(delivering.content))["programmes"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(values) == 2
    shown = dict(zip(values[0], values[1], strict=True))
    assert (shown["id"], shown["name"], shown["budget"]) == (alpha["id"], "Alpha", 1500.5)

    unknown = await client.get(
        url(ws, "programmes/export.csv"), params={"colour": "red"}, headers=ws.headers
    )
    assert unknown.status_code == 422, unknown.text


# --- the dependency map -------------------------------------------------------------------------


async def test_the_dependency_map_of_an_unknown_programme_is_not_found(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws, other = await make_workspace(), await make_workspace()
    mine, theirs = await programme(client, ws), await programme(client, other)
    dependency_map = url(ws, "dependency-map")

    found = await client.get(
        dependency_map, params={"programme_id": mine["id"]}, headers=ws.headers
    )
    assert found.status_code == 200, found.text
    assert found.json() == {"nodes": [], "edges": []}
    for programme_id in (theirs["id"], str(uuid.uuid4())):
        missing = await client.get(
            dependency_map, params={"programme_id": programme_id}, headers=ws.headers
        )
        assert missing.status_code == 404, missing.text
        dashboard = await client.get(
            url(ws, f"programmes/{programme_id}/dashboard"), headers=ws.headers
        )
        assert missing.json()["detail"] == dashboard.json()["detail"]
