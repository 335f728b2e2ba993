"""Money over HTTP: exact to the cent, JSON numbers both ways, sums that do not drift."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from services.db.engine import Database
from services.errors import ValidationFailed
from services.identity.models import Role
from services.workspace.benefits.models import Benefit
from services.workspace.registers import _typed
from tests.conftest import MakeWorkspace, Member, Workspace, join
from tests.workspace_api import Client, change, make, programme, url

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


async def approved_change(
    client: Client, ws: Workspace, programme_id: str, cost: float, decider: Member
) -> None:
    """A change ``ws``'s user raises, approved by ``decider`` (nobody decides their own)."""
    request = await make(
        client,
        ws,
        "change-requests",
        {"programme_id": programme_id, "title": f"Change costing {cost}", "cost_impact": cost},
    )
    submitted = await change(client, ws, "change-requests", request, {"state": "submitted"})
    approved = await client.post(
        url(ws, f"change-requests/{request['id']}/decision"),
        json={"decision": "approved"},
        headers={**decider.headers, "If-Match": submitted.headers["etag"]},
    )
    assert approved.status_code == 200, approved.text


async def realised_benefit(client: Client, ws: Workspace, programme_id: str, value: float) -> None:
    """A benefit worth ``value`` a year, measured at its target (realised in full)."""
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": programme_id,
            "title": f"Worth {value}",
            "classification": "cash_releasing",
            "baseline_value": 0,
            "target_value": 10,
            "value_per_year": value,
        },
    )
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": YESTERDAY, "value": 10},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text


async def test_reports_and_the_dashboard_sum_money_exactly(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    board = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    prog = (
        await change(client, ws, "programmes", prog, {"budget": 0.1, "forecast_cost": 0.33})
    ).json()
    await approved_change(client, ws, prog["id"], 0.2, board)
    # Not approved: not part of the budget.
    await make(
        client,
        ws,
        "change-requests",
        {"programme_id": prog["id"], "title": "Idea", "cost_impact": 5},
    )
    await realised_benefit(client, ws, prog["id"], 0.1)
    await realised_benefit(client, ws, prog["id"], 0.2)

    dashboard = await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["cost"] == {
        "budget": 0.1,
        "approved_changes": 0.2,
        "current_budget": 0.3,  # as floats, 0.1 + 0.2 is 0.30000000000000004
        "forecast_cost": 0.33,
        "variance_pct": 10.0,
    }
    assert dashboard.json()["benefits"]["value_realised_per_year"] == 0.3
    assert '"current_budget":0.3,' in dashboard.text
    assert '"value_realised_per_year":0.3,' in dashboard.text

    draft = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "overall_rag": "amber",
            "cost_rag": "amber",
            "path_to_green": "Re-plan the spend.",
        },
    )
    suggestion = await client.get(
        url(ws, f"status-reports/{draft['id']}/suggestion"), headers=ws.headers
    )
    evidence = suggestion.json()["evidence"]
    assert (evidence["current_budget"], evidence["forecast_cost"]) == (0.3, 0.33)
    assert evidence["cost_variance_pct"] == 10.0
    assert suggestion.json()["rags"]["cost"] == "amber"  # 10 %: amber by the default rules
    published = await client.post(
        url(ws, f"status-reports/{draft['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{draft["version"]}"'},
    )
    assert published.status_code == 200, published.text
    assert published.json()["suggested"]["evidence"]["current_budget"] == 0.3


async def test_money_with_more_than_two_decimal_places_is_refused_and_nothing_is_written(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    refused = await client.post(
        ws.programmes, json={"name": "X", "budget": 1234.567}, headers=ws.headers
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "validation-error"
    assert refused.json()["errors"] == [
        {"field": "budget", "message": "at most two decimal places", "source": "body"}
    ]
    assert (await client.get(ws.programmes, headers=ws.headers)).json()["total"] == 0

    prog = await programme(client, ws)
    project = await make(
        client, ws, "projects", {"programme_id": prog["id"], "name": "CRM", "budget": 10}
    )
    request = await make(
        client, ws, "change-requests", {"programme_id": prog["id"], "title": "C", "cost_impact": 1}
    )
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "B", "classification": "non_cash"},
    )
    # A float's shortest form keeps what was sent: 0.30000000000000004 is not 0.30.
    attempts: list[tuple[str, dict[str, Any], str, Any]] = [
        ("programmes", prog, "forecast_cost", 0.1 + 0.2),
        ("projects", project, "budget", 10.001),
        ("projects", project, "forecast_cost", 0.005),
        ("change-requests", request, "cost_impact", -0.125),
        ("benefits", benefit, "value_per_year", 1e-05),
        ("benefits", benefit, "realisation_cost", 99.999),
    ]
    for path, row, field, value in attempts:
        response = await change(client, ws, path, row, {field: value})
        assert response.status_code == 422, (field, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]
        after = (await client.get(url(ws, f"{path}/{row['id']}"), headers=ws.headers)).json()
        assert after == row, field  # nothing written: same values, same version
    posted = await client.post(
        url(ws, "change-requests"),
        content=b'{"programme_id": "%s", "title": "T", "cost_impact": 1.005}' % prog["id"].encode(),
        headers={**ws.headers, "Content-Type": "application/json"},
    )
    assert posted.status_code == 422, posted.text
    assert (await client.get(url(ws, "change-requests"), headers=ws.headers)).json()["total"] == 1


async def test_money_round_trips_exactly_as_json_numbers(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    created = await client.post(
        ws.programmes,
        json={"name": "Big", "budget": 1234567890.12, "forecast_cost": 999999999999.99},
        headers=ws.headers,
    )
    assert created.status_code == 201, created.text
    assert '"budget":1234567890.12,' in created.text  # a number, not "1234567890.12"
    body = created.json()
    assert isinstance(body["budget"], float) and body["budget"] == 1234567890.12
    assert body["forecast_cost"] == 999999999999.99
    fetched = await client.get(f"{ws.programmes}/{body['id']}", headers=ws.headers)
    assert fetched.json() == body
    changed = await change(client, ws, "programmes", body, {"budget": 1234.5})
    assert '"budget":1234.5,' in changed.text

    project = await make(
        client,
        ws,
        "projects",
        {"programme_id": body["id"], "name": "P", "budget": 0.1, "forecast_cost": 1e12},
    )
    assert (project["budget"], project["forecast_cost"]) == (0.1, 1e12)
    request = await make(
        client,
        ws,
        "change-requests",
        {"programme_id": body["id"], "title": "Saving", "cost_impact": -1234567890.12},
    )
    assert request["cost_impact"] == -1234567890.12
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": body["id"],
            "title": "B",
            "classification": "non_cash",
            "dis_benefit": True,  # a cost: its value is negative
            "value_per_year": -0.01,
            "realisation_cost": 250000.5,
        },
    )
    assert (benefit["value_per_year"], benefit["realisation_cost"]) == (-0.01, 250000.5)

    exported = await client.get(url(ws, "projects/export.csv"), headers=ws.headers)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert (rows[0]["budget"], rows[0]["forecast_cost"]) == ("0.1", "1000000000000.0")
    workbook = await client.get(url(ws, "change-requests/export.xlsx"), headers=ws.headers)
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    header, values = list(sheet.iter_rows(values_only=True))[:2]
    assert values[header.index("cost_impact")] == -1234567890.12  # a number cell


def test_an_upgrade_sees_a_packs_money_as_the_amount_a_row_holds() -> None:
    # A pack says 1234.56 as a float; the row holds Decimal('1234.56'): the same amount, so an
    # upgrade's rules must not see it as a change.
    assert _typed(Benefit, "value_per_year", 1234.56) == Decimal("1234.56")
    with pytest.raises(ValidationFailed):  # never rounded
        _typed(Benefit, "value_per_year", 0.1 + 0.2)


async def test_money_and_other_numbers_sent_as_text_are_refused_not_read(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """The API documents JSON numbers; the decoder's lax mode took "12.50" for 12.50, and
    "1e3" for 1000."""
    ws = await make_workspace()
    for budget in ("100", "1e3", "12.50", "nan"):
        refused = await client.post(
            url(ws, "programmes"), json={"name": "P", "budget": budget}, headers=ws.headers
        )
        assert refused.status_code == 422, (budget, refused.text)
        assert refused.json()["errors"] == [
            {"field": "budget", "message": "must be a number, not text", "source": "body"}
        ]
    listed = await client.get(url(ws, "programmes"), headers=ws.headers)
    assert listed.json()["total"] == 0  # nothing written

    prog = await programme(client, ws)
    text = await change(client, ws, "programmes", prog, {"forecast_cost": "250.00"})
    assert text.status_code == 422, text.text
    assert text.json()["errors"][0]["field"] == "forecast_cost"
    number = await change(client, ws, "programmes", prog, {"forecast_cost": 250.0})
    assert number.status_code == 200 and number.json()["forecast_cost"] == 250.0
    # A whole number, and true or false, likewise.
    risk = await client.post(
        url(ws, "risks"),
        json={
            "programme_id": prog["id"],
            "title": "R",
            "inherent_probability": "2",
            "inherent_impact": 2,
        },
        headers=ws.headers,
    )
    assert risk.status_code == 422, risk.text
    assert risk.json()["errors"] == [
        {
            "field": "inherent_probability",
            "message": "must be a whole number, not text",
            "source": "body",
        }
    ]
    flag = await client.post(
        url(ws, "template-upgrades"), json={"apply": "true"}, headers=ws.headers
    )
    assert flag.status_code == 422, flag.text
    assert flag.json()["errors"][0]["message"] == "must be true or false, not text"
