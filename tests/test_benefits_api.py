"""Benefits over HTTP: profiles, lifecycle, append-only measurements, realisation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import psycopg
import pytest
from sqlalchemy import insert

from services.config import Settings
from services.db.bootstrap import libpq_url
from services.db.engine import Database
from services.workspace.benefits.models import BenefitMeasurement
from tests.conftest import MakeWorkspace, in_workspace
from tests.workspace_api import Client, change, days_from, make, programme, url, workspace_today


async def test_a_benefit_is_measured_and_its_realisation_computed(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Reduced processing time",
            "classification": "non_cash",
            "indicator": "Days per claim",
            "unit": "days",
            "baseline_value": 40,
            "baseline_date": "2025-01-01",
            "target_value": 10,
            "target_date": "2026-01-01",
            "forecast_value": 16,
            "confidence": "medium",
            "interim_targets": [{"date": "2025-06-30", "value": 30}],
            "enabling_project_ids": [project["id"]],
        },
    )
    assert benefit["state"] == "identified"
    assert benefit["realisation_pct"] is None and benefit["measurements"] == 0
    assert benefit["forecast_pct"] == 80.0
    assert benefit["enabling_project_ids"] == [project["id"]]

    measurements = url(ws, f"benefits/{benefit['id']}/measurements")
    for day, value in (("2025-03-01", 35), ("2025-05-01", 25)):
        added = await client.post(
            measurements, json={"measured_on": day, "value": value}, headers=ws.headers
        )
        assert added.status_code == 201, added.text
    listed = await client.get(measurements, headers=ws.headers)
    assert [m["value"] for m in listed.json()["items"]] == [25, 35]

    read = (await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)).json()
    assert read["measurements"] == 2
    assert read["latest_measurement"] == {"measured_on": "2025-05-01", "value": 25.0}
    assert read["realisation_pct"] == 50.0

    # Append-only: there is no route to change or remove a measurement.
    measurement_id = listed.json()["items"][0]["id"]
    for method in ("PATCH", "DELETE"):
        response = await client.request(
            method, f"{measurements}/{measurement_id}", json={}, headers=ws.headers
        )
        assert response.status_code in {404, 405}
    before = await client.post(
        measurements, json={"measured_on": "2024-12-01", "value": 1}, headers=ws.headers
    )
    assert before.status_code == 422
    assert before.json()["errors"][0]["field"] == "measured_on"
    # A measurement is of what was seen: not dated in the future (it would stay the latest).
    today = workspace_today()
    for day in (days_from(today, 1), days_from(today, 4 * 365)):
        future = await client.post(
            measurements, json={"measured_on": day, "value": 10}, headers=ws.headers
        )
        assert future.status_code == 422, future.text
        assert [e["field"] for e in future.json()["errors"]] == ["measured_on"]
    seen = await client.post(
        measurements,
        json={"measured_on": today.isoformat(), "value": 20},
        headers=ws.headers,
    )
    assert seen.status_code == 201, seen.text


async def test_the_benefit_lifecycle_is_enforced(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "More revenue", "classification": "cash_releasing"},
    )
    jump = await change(client, ws, "benefits", benefit, {"state": "realised"})
    assert jump.status_code == 422
    assert "cannot move from identified to realised" in jump.json()["errors"][0]["message"]

    no_owner = await change(client, ws, "benefits", benefit, {"state": "validated"})
    assert [e["field"] for e in no_owner.json()["errors"]] == ["owner_id"]
    validated = await change(
        client, ws, "benefits", benefit, {"state": "validated", "owner_id": str(ws.user_id)}
    )
    assert validated.status_code == 200, validated.text
    unplanned = await change(client, ws, "benefits", validated.json(), {"state": "planned"})
    assert {e["field"] for e in unplanned.json()["errors"]} == {
        "baseline_value",
        "target_value",
        "target_date",
    }
    planned = await change(
        client,
        ws,
        "benefits",
        validated.json(),
        {"state": "planned", "baseline_value": 0, "target_value": 100, "target_date": "2028-01-01"},
    )
    assert planned.status_code == 200
    # A planned benefit keeps what planning needed, whatever the write.
    emptied = await change(
        client,
        ws,
        "benefits",
        planned.json(),
        {"owner_id": None, "baseline_value": None, "target_value": None},
    )
    assert emptied.status_code == 422, emptied.text
    assert {e["field"] for e in emptied.json()["errors"]} == {
        "owner_id",
        "baseline_value",
        "target_value",
    }
    for body in ({"target_date": None}, {"measure": "quantitative", "target_value": None}):
        refused = await change(client, ws, "benefits", planned.json(), body)
        assert refused.status_code == 422, (body, refused.text)
    retitled = await change(client, ws, "benefits", planned.json(), {"title": "Revenue up"})
    assert retitled.status_code == 200, retitled.text
    assert retitled.json()["owner_id"] == str(ws.user_id)
    withdrawn = await change(client, ws, "benefits", retitled.json(), {"state": "withdrawn"})
    assert withdrawn.json()["state"] == "withdrawn"
    refused = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": "2027-01-01", "value": 5},
        headers=ws.headers,
    )
    assert refused.status_code == 409


async def test_benefit_fields_are_validated(client: Client, make_workspace: MakeWorkspace) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {"programme_id": prog["id"], "title": "B", "classification": "societal"}
    cases = [
        ({**base, "confidence": "certain"}, "confidence"),
        ({**base, "attribution_pct": 120}, "attribution_pct"),
        ({**base, "classification": "money"}, "classification"),
        (
            {
                **base,
                "interim_targets": [
                    {"date": "2027-06-30", "value": 1},
                    {"date": "2027-01-01", "value": 2},
                ],
            },
            "interim_targets",
        ),
        ({**base, "owner_id": "00000000-0000-0000-0000-000000000001"}, "owner_id"),
        ({**base, "realisation_cost": -1}, "realisation_cost"),
        ({**base, "baseline_date": "2027-06-01", "target_date": "2027-05-31"}, "target_date"),
    ]
    for body, field in cases:
        response = await client.post(url(ws, "benefits"), json=body, headers=ws.headers)
        assert response.status_code == 422, (body, response.text)
        assert any(field in e["field"] for e in response.json()["errors"]), response.json()


async def test_a_realisation_cost_is_never_negative_but_a_value_may_be(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    # A dis-benefit's value per year is money lost: it stays signed.
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Higher licence costs",
            "classification": "cash_releasing",
            "dis_benefit": True,
            "value_per_year": -25000,
            "realisation_cost": 0,
        },
    )
    assert benefit["value_per_year"] == -25000
    refused = await change(client, ws, "benefits", benefit, {"realisation_cost": -10})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["realisation_cost"]


async def test_the_database_refuses_to_change_a_measurement(
    client: Client, make_workspace: MakeWorkspace, settings: Settings
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Fewer complaints", "classification": "non_cash"},
    )
    measurements = url(ws, f"benefits/{benefit['id']}/measurements")
    posted = await client.post(
        measurements, json={"measured_on": "2025-02-01", "value": 12}, headers=ws.headers
    )
    assert posted.status_code == 201, posted.text
    assert settings.database_url is not None
    with psycopg.connect(libpq_url(settings.database_url)) as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, true)", (str(ws.tenant_id),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE workspace.benefit_measurements SET value = 99")


async def test_a_benefits_etag_moves_on_with_each_measurement(
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
            "title": "Shorter queues",
            "classification": "non_cash",
            "baseline_value": 30,
            "target_value": 10,
        },
    )
    one = url(ws, f"benefits/{benefit['id']}")
    before = await client.get(one, headers=ws.headers)

    measured = await client.post(
        f"{one}/measurements", json={"measured_on": "2025-02-01", "value": 20}, headers=ws.headers
    )
    assert measured.status_code == 201, measured.text
    after = await client.get(one, headers=ws.headers)
    stale = await client.patch(
        one, json={"title": "Queues"}, headers={**ws.headers, "If-Match": before.headers["etag"]}
    )
    current = await client.patch(
        one, json={"title": "Queues"}, headers={**ws.headers, "If-Match": after.headers["etag"]}
    )

    assert before.json()["measurements"] == 0 and after.json()["measurements"] == 1
    assert after.json()["realisation_pct"] == 50.0
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["version"] == before.json()["version"] + 1
    assert stale.status_code == 412, stale.text
    assert current.status_code == 200, current.text


async def test_changing_only_a_benefits_enabling_projects_moves_its_etag_on(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Faster claims", "classification": "non_cash"},
    )

    # The same person who created it: nothing of the benefit's own row changes.
    enabled = await change(
        client, ws, "benefits", benefit, {"enabling_project_ids": [project["id"]]}
    )

    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabling_project_ids"] == [project["id"]]
    assert enabled.headers["etag"] != f'"{benefit["version"]}"'
    again = await change(client, ws, "benefits", benefit, {"enabling_project_ids": []})
    assert again.status_code == 412, again.text

    # Deleting the project takes it off the benefit's enabling projects: its ETag moves on.
    before = enabled.json()
    gone = await client.delete(
        url(ws, f"projects/{project['id']}"),
        headers={**ws.headers, "If-Match": f'"{project["version"]}"'},
    )
    assert gone.status_code == 204, gone.text
    after = await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)
    assert after.json()["enabling_project_ids"] == []
    assert after.headers["etag"] != f'"{before["version"]}"'
    stale = await change(client, ws, "benefits", before, {"title": "Faster claims still"})
    assert stale.status_code == 412, stale.text


async def test_measurements_recorded_together_keep_their_place_between_pages(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Measurements of one day recorded at one moment (one transaction: one created_at) are
    listed by id after the stated order, so paging through them shows each once; the benefit's
    latest measurement is the list's first."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Fewer calls",
            "classification": "non_cash",
            "indicator": "Calls per day",
        },
    )
    ids = [uuid.uuid4() for _ in range(12)]
    recorded = datetime(2025, 3, 1, 9, tzinfo=UTC)
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            insert(BenefitMeasurement),
            [
                {
                    "id": measurement,
                    "tenant_id": ws.tenant_id,
                    "benefit_id": uuid.UUID(benefit["id"]),
                    "measured_on": date(2025, 3, 1),
                    "value": n,
                    "created_at": recorded,
                }
                for n, measurement in enumerate(ids)
            ],
        )
    measurements = url(ws, f"benefits/{benefit['id']}/measurements")
    paged = []
    for offset in (0, 5, 10):
        page = await client.get(
            measurements, params={"limit": 5, "offset": offset}, headers=ws.headers
        )
        assert page.status_code == 200, page.text
        paged += page.json()["items"]
    assert [m["id"] for m in paged] == sorted(str(m) for m in ids)
    read = (await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)).json()
    assert read["latest_measurement"]["value"] == paged[0]["value"]


async def test_the_measurements_list_states_the_order_it_runs(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    listed = document["paths"]["/api/v1/w/{slug}/benefits/{benefit_id}/measurements"]["get"]
    assert listed["description"] == ("Default order: `measured_on DESC, created_at DESC, id`.")
