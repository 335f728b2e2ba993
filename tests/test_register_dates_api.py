"""Dates that record what happened — an action completed, a decision taken, a meeting held, an
issue raised — follow one rule in every register: not after the workspace's today, today when a
write leaves them out, and none where the state says it has not happened. And a risk band filter
names the workspace's bands."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.db.engine import Database
from services.workspace.configuration.models import RiskBand
from services.workspace.governance.models import Action, ActionState
from services.workspace.models import Rag
from services.workspace.raid.models import Issue
from tests.conftest import MakeWorkspace, Workspace, in_workspace
from tests.test_workspace_calendar import AHEAD, BEHIND, workspace_in
from tests.workspace_api import Client, change, days_from, make, programme, url, workspace_today


def today_in(zone: str) -> str:
    return str(datetime.now(ZoneInfo(zone)).date())


async def behind(client: Client, make_workspace: MakeWorkspace) -> tuple[Workspace, str, str]:
    """A workspace in Pago Pago, its today, and a day that has not come there yet (Kiritimati's
    today: already the next day, or the one after, whatever UTC says)."""
    ws = await workspace_in(client, make_workspace, BEHIND)
    return ws, today_in(BEHIND), today_in(AHEAD)


async def registers(client: Client, ws: Workspace) -> dict[str, tuple[dict[str, Any], str]]:
    """Per register, a body for a row whose date records what happened, and that date's field."""
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    return {
        "actions": (
            {"programme_id": prog["id"], "title": "Chase", "state": "done"},
            "completed_on",
        ),
        "decisions": (
            {
                "programme_id": prog["id"],
                "title": "Buy",
                "status": "approved",
                "decided_by_id": str(ws.user_id),
            },
            "decided_on",
        ),
        "meetings": ({"board_id": board["id"], "title": "Board", "state": "held"}, "held_on"),
        "issues": ({"programme_id": prog["id"], "title": "Data late"}, "raised_on"),
    }


async def test_a_date_of_what_happened_is_not_after_the_workspaces_today(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws, today, tomorrow = await behind(client, make_workspace)
    for path, (body, field) in (await registers(client, ws)).items():
        future = await client.post(
            url(ws, path), json={**body, field: tomorrow}, headers=ws.headers
        )
        assert future.status_code == 422, (path, future.text)
        assert [e["field"] for e in future.json()["errors"]] == [field], path
        assert future.json()["detail"].startswith(f"{field}: "), future.json()
        row = await make(client, ws, path, {**body, field: today})
        assert row[field] == today, path
        moved = await change(client, ws, path, row, {field: tomorrow})
        assert moved.status_code == 422, (path, moved.text)
        assert [e["field"] for e in moved.json()["errors"]] == [field], path

    action = (await registers(client, ws))["actions"][0]
    refused = await client.post(
        url(ws, "actions"), json={**action, "completed_on": tomorrow}, headers=ws.headers
    )
    message = f"not after today ({today}, the workspace's calendar)"
    assert refused.json()["errors"][0]["message"] == message
    assert refused.json()["detail"] == f"completed_on: {message}"


async def test_a_date_left_out_is_the_workspaces_today(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    for zone in (AHEAD, BEHIND):
        ws = await workspace_in(client, make_workspace, zone)
        bodies = await registers(client, ws)
        for path in ("actions", "decisions", "issues"):
            body, field = bodies[path]
            assert (await make(client, ws, path, body))[field] == today_in(zone), (zone, path)

        prog = bodies["decisions"][0]["programme_id"]
        for status in ("approved", "rejected"):
            proposed = await make(
                client, ws, "decisions", {"programme_id": prog, "title": "Which CRM"}
            )
            assert proposed["decided_on"] is None
            taken = await change(
                client,
                ws,
                "decisions",
                proposed,
                {"status": status, "decided_by_id": str(ws.user_id)},
            )
            assert taken.status_code == 200, taken.text
            assert taken.json()["decided_on"] == today_in(zone), (zone, status)


async def test_a_date_the_state_contradicts_is_refused_and_leaving_the_state_clears_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    bodies = await registers(client, ws)
    prog = bodies["actions"][0]["programme_id"]
    yesterday = "2026-01-05"

    for path, body, field in (
        ("actions", {"programme_id": prog, "title": "Chase", "state": "open"}, "completed_on"),
        ("actions", {"programme_id": prog, "title": "Chase", "state": "cancelled"}, "completed_on"),
        ("decisions", {"programme_id": prog, "title": "Buy", "status": "pending"}, "decided_on"),
    ):
        dated = await client.post(
            url(ws, path), json={**body, field: yesterday}, headers=ws.headers
        )
        assert dated.status_code == 422, (body, dated.text)
        assert [e["field"] for e in dated.json()["errors"]] == [field]
        row = await make(client, ws, path, body)
        late = await change(client, ws, path, row, {field: yesterday})
        assert late.status_code == 422, (body, late.text)
    opened = await client.post(
        url(ws, "actions"),
        json={"programme_id": prog, "title": "Chase", "state": "open", "completed_on": yesterday},
        headers=ws.headers,
    )
    assert (
        opened.json()["errors"][0]["message"] == "only when the action is done (this one is open)"
    )

    done = await make(client, ws, "actions", {**bodies["actions"][0], "completed_on": yesterday})
    undated = await change(client, ws, "actions", done, {"completed_on": None})
    assert undated.status_code == 422, undated.text
    assert undated.json()["errors"][0]["message"] == "required when the action is done"
    reopened = await change(client, ws, "actions", done, {"state": "in_progress"})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["completed_on"] is None

    approved = await make(
        client, ws, "decisions", {**bodies["decisions"][0], "decided_on": yesterday}
    )
    later = await make(client, ws, "decisions", bodies["decisions"][0])
    superseded = await change(
        client,
        ws,
        "decisions",
        approved,
        {"status": "superseded", "superseded_by_id": later["id"]},
    )
    assert superseded.json()["decided_on"] == yesterday  # it was taken, then replaced
    proposed = await change(client, ws, "decisions", superseded.json(), {"status": "proposed"})
    assert proposed.status_code == 409  # superseded is final


async def test_a_meeting_is_planned_for_any_day_and_held_on_one_that_has_come(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws, today, tomorrow = await behind(client, make_workspace)
    body = (await registers(client, ws))["meetings"][0]
    next_year = days_from(workspace_today(), 365)
    for state in ("scheduled", "cancelled"):
        planned = await make(client, ws, "meetings", {**body, "state": state, "held_on": next_year})
        assert planned["held_on"] == next_year

    scheduled = await make(
        client, ws, "meetings", {**body, "state": "scheduled", "held_on": tomorrow}
    )
    # Marked held while its date is still to come: the date it took place is needed.
    early = await change(client, ws, "meetings", scheduled, {"state": "held"})
    assert early.status_code == 422, early.text
    assert [e["field"] for e in early.json()["errors"]] == ["held_on"]
    held = await change(client, ws, "meetings", scheduled, {"state": "held", "held_on": today})
    assert held.status_code == 200, held.text
    assert (held.json()["state"], held.json()["held_on"]) == ("held", today)


async def test_an_issue_keeps_the_day_it_was_raised(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    body = (await registers(client, ws))["issues"][0]
    issue = await make(client, ws, "issues", {**body, "raised_on": "2026-02-03"})
    cleared = await change(client, ws, "issues", issue, {"raised_on": None})
    assert cleared.status_code == 422, cleared.text
    assert [e["field"] for e in cleared.json()["errors"]] == ["raised_on"]
    resolved = await change(client, ws, "issues", issue, {"status": "resolved"})
    assert resolved.json()["raised_on"] == "2026-02-03"


async def test_a_row_recorded_before_the_rule_is_refused_on_its_next_write_not_repaired(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    bodies = await registers(client, ws)
    prog = uuid.UUID(bodies["issues"][0]["programme_id"])
    to_come = workspace_today() + timedelta(days=3 * 365)
    async with in_workspace(database, ws.tenant_id) as session:
        # As rows written before the rule may be: an open action with a completion date, and an
        # issue raised on a day still to come.
        action = Action(
            programme_id=prog, title="Old", state=ActionState.OPEN, completed_on=date(2026, 1, 5)
        )
        issue = Issue(programme_id=prog, title="Old", raised_on=to_come)
        session.add_all([action, issue])
        await session.flush()
        ids = {"actions": str(action.id), "issues": str(issue.id)}
    for path, field, kept in (
        ("actions", "completed_on", "2026-01-05"),
        ("issues", "raised_on", to_come.isoformat()),
    ):
        row = (await client.get(url(ws, f"{path}/{ids[path]}"), headers=ws.headers)).json()
        renamed = await change(client, ws, path, row, {"title": "Renamed"})
        assert renamed.status_code == 422, (path, renamed.text)
        assert [e["field"] for e in renamed.json()["errors"]] == [field]
        again = (await client.get(url(ws, f"{path}/{ids[path]}"), headers=ws.headers)).json()
        assert (again["title"], again[field]) == ("Old", kept)


async def test_an_unknown_band_is_refused_naming_the_workspaces_bands(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    for band in ("purple", "RED"):
        refused = await client.get(url(ws, "risks"), params={"band": band}, headers=ws.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {
                "field": "band",
                "message": f"'{band}' is not one of the choices; expected one of "
                "'green', 'amber', 'red', 'red-critical'",
                "source": "query",
            }
        ]
        # As an enum filter's answer reads (``status=purple``): the field, then what it takes.
        status = await client.get(url(ws, "risks"), params={"status": band}, headers=ws.headers)
        assert status.json()["detail"].startswith(f"status: '{band}' is not one of the choices")
        assert refused.json()["detail"] == "band: " + refused.json()["errors"][0]["message"]

    # A workspace whose pack has its own bands: those are the choices.
    configured = await make_workspace()
    async with in_workspace(database, configured.tenant_id) as session:
        for key, low, high, rag in (("low", 1, 3, Rag.GREEN), ("high", 4, 25, Rag.RED)):
            session.add(
                RiskBand(key=key, label=key.title(), min_score=low, max_score=high, rag=rag)
            )
    prog = await programme(client, configured)
    await make(
        client,
        configured,
        "risks",
        {"programme_id": prog["id"], "title": "R", "inherent_probability": 2, "inherent_impact": 3},
    )
    green = await client.get(
        url(configured, "risks"), params={"band": "green"}, headers=configured.headers
    )
    assert green.status_code == 422
    assert green.json()["errors"][0]["message"].endswith("expected one of 'low', 'high'")
    high = await client.get(
        url(configured, "risks"), params={"band": "high"}, headers=configured.headers
    )
    assert [r["title"] for r in high.json()["items"]] == ["R"]


async def test_a_day_the_server_set_stays_editable_after_the_workspace_moves_west(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Rows dated on Kiritimati's today, the workspace then moved to Pago Pago (26 hours
    behind: its today one or two days earlier): an edit of another field keeps the day and
    goes through; the day sent again is checked against the new today."""
    ws = await workspace_in(client, make_workspace, AHEAD)
    bodies = await registers(client, ws)
    prog_id = bodies["issues"][0]["programme_id"]
    bodies["milestones"] = (
        {"programme_id": prog_id, "title": "Go live", "state": "achieved"},
        "actual_date",
    )
    bodies["lessons"] = ({"programme_id": prog_id, "title": "Lesson"}, "raised_on")
    meeting, _ = bodies["meetings"]
    meeting["held_on"] = today_in(AHEAD)  # a meeting names its day; the others take today
    rows = {path: await make(client, ws, path, body) for path, (body, _) in bodies.items()}
    settings = f"/api/v1/w/{ws.slug}/settings"
    etag = (await client.get(settings, headers=ws.headers)).headers["etag"]
    moved = await client.patch(
        settings, json={"timezone": BEHIND}, headers={**ws.headers, "If-Match": etag}
    )
    assert moved.status_code == 200, moved.text

    for path, (_, field) in bodies.items():
        row = rows[path]
        assert row[field] > today_in(BEHIND), (path, row[field])
        edited = await change(client, ws, path, row, {"title": "Renamed"})
        assert edited.status_code == 200, (path, edited.text)
        assert edited.json()[field] == row[field]
        sent = await change(client, ws, path, edited.json(), {field: row[field]})
        assert sent.status_code == 422, (path, sent.text)
        assert [e["field"] for e in sent.json()["errors"]] == [field], path
