"""Benefits as their users meet them: figures at the edges, and writes racing a measurement."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from services.db.engine import Database
from services.workspace.benefits.models import Benefit, BenefitMeasurement, BenefitState
from services.workspace.configuration.models import ScaleKind, ScaleLevel
from tests.conftest import MakeWorkspace, in_workspace, lock_waits
from tests.workspace_api import Client, change, make, programme, url


async def test_a_target_a_hairs_breadth_from_its_baseline_is_no_500(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A % too large to round to two decimals (1e29 %) is shown as it is; one beyond what a
    number holds is not known (null), as when target and baseline are equal."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {"programme_id": prog["id"], "title": "Faster", "classification": "non_cash"}

    large = await client.post(
        url(ws, "benefits"),
        json={**base, "baseline_value": 0, "target_value": 1e-25, "forecast_value": 1000},
        headers=ws.headers,
    )
    beyond = await client.post(
        url(ws, "benefits"),
        json={**base, "baseline_value": 0, "target_value": 5e-324, "forecast_value": 1e15},
        headers=ws.headers,
    )

    assert large.status_code == 201, large.text
    assert large.json()["forecast_pct"] == pytest.approx(1e30)
    assert beyond.status_code == 201, beyond.text
    assert beyond.json()["forecast_pct"] is None
    dashboard = await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    assert dashboard.status_code == 200, dashboard.text


async def test_no_progress_on_a_falling_indicator_is_0_not_minus_0(
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
            "title": "Fewer days per claim",
            "classification": "non_cash",
            "baseline_value": 40,
            "baseline_date": "2025-01-01",
            "target_value": 10,
            "forecast_value": 40,
        },
    )
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": "2025-02-01", "value": 40},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text

    read = await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)

    # -0.0 == 0.0 in Python: the JSON text is what a client reads ("-0.0" before).
    assert '"forecast_pct":0.0' in read.text and '"realisation_pct":0.0' in read.text, read.text
    assert "-0.0" not in read.text


@pytest.fixture
async def served(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    # A real server: Litestar's test client runs one request at a time.
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as served:
        yield served


async def _measure_while_changed(
    database: Database, tenant_id: uuid.UUID, benefit_id: uuid.UUID, request: Any, **values: Any
) -> httpx.Response:
    """Write ``values`` on the benefit in a transaction that stays open until ``request`` waits
    on the row, then commit: the request read the benefit as it was before."""
    async with in_workspace(database, tenant_id) as session:
        await session.execute(
            update(Benefit)
            .where(Benefit.id == benefit_id)
            .values(version=Benefit.version + 1, **values)
            .execution_options(synchronize_session=False)
        )
        task = asyncio.ensure_future(request)
        waiting = 0
        for _ in range(500):
            waiting = await lock_waits(session)
            if waiting or task.done():
                break
            await asyncio.sleep(0.01)
    response: httpx.Response = await task
    assert waiting, f"the measurement never waited on the benefit: {response.text}"
    return response


async def _benefit(served: httpx.AsyncClient, slug: str, headers: dict[str, str]) -> str:
    made = await served.post(f"/api/v1/w/{slug}/programmes", json={"name": "P"}, headers=headers)
    benefit = await served.post(
        f"/api/v1/w/{slug}/benefits",
        json={
            "programme_id": made.json()["id"],
            "title": "Less waste",
            "classification": "non_cash",
            "baseline_date": "2025-01-01",
        },
        headers=headers,
    )
    assert benefit.status_code == 201, benefit.text
    return str(benefit.json()["id"])


async def test_a_measurement_racing_a_withdrawal_is_refused(
    served: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    benefit_id = await _benefit(served, ws.slug, ws.headers)
    one = f"/api/v1/w/{ws.slug}/benefits/{benefit_id}"
    post = served.post(
        f"{one}/measurements", json={"measured_on": "2025-03-01", "value": 5}, headers=ws.headers
    )

    measured = await _measure_while_changed(
        database, ws.tenant_id, uuid.UUID(benefit_id), post, state=BenefitState.WITHDRAWN
    )

    assert measured.status_code == 409, measured.text
    read = (await served.get(one, headers=ws.headers)).json()
    assert read["state"] == "withdrawn" and read["measurements"] == 0


async def test_a_measurement_racing_a_later_baseline_date_is_refused(
    served: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    benefit_id = await _benefit(served, ws.slug, ws.headers)
    one = f"/api/v1/w/{ws.slug}/benefits/{benefit_id}"
    post = served.post(
        f"{one}/measurements", json={"measured_on": "2025-03-01", "value": 5}, headers=ws.headers
    )

    measured = await _measure_while_changed(
        database,
        ws.tenant_id,
        uuid.UUID(benefit_id),
        post,
        baseline_date=date(2025, 6, 1),
    )

    assert measured.status_code == 422, measured.text
    assert [e["field"] for e in measured.json()["errors"]] == ["measured_on"]
    assert (await served.get(one, headers=ws.headers)).json()["measurements"] == 0


async def test_two_interim_targets_for_one_day_are_refused(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """An interim target is the value expected by its date: two for one day say two things."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    body = {
        "programme_id": prog["id"],
        "title": "Fewer complaints",
        "classification": "non_cash",
        "interim_targets": [
            {"date": "2027-03-31", "value": 30},
            {"date": "2027-06-30", "value": 20},
            {"date": "2027-06-30", "value": 25},
        ],
    }

    refused = await client.post(url(ws, "benefits"), json=body, headers=ws.headers)
    made = await make(
        client, ws, "benefits", {**body, "interim_targets": body["interim_targets"][:2]}
    )
    changed = await change(
        client, ws, "benefits", made, {"interim_targets": body["interim_targets"]}
    )

    for response in (refused, changed):
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == ["interim_targets"]
        assert "2027-06-30" in errors[0]["message"]
    kept = await client.get(url(ws, f"benefits/{made['id']}"), headers=ws.headers)
    assert len(kept.json()["interim_targets"]) == 2


async def test_two_changes_of_enabling_projects_with_one_etag_one_wins_the_other_gets_412(
    served: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Changing only a benefit's enabling projects writes none of its columns, so the
    version-checked UPDATE that refuses a stale ETag elsewhere never ran: both went through."""
    ws = await make_workspace()
    benefit_id = await _benefit(served, ws.slug, ws.headers)
    one = f"/api/v1/w/{ws.slug}/benefits/{benefit_id}"
    programme_id = (await served.get(one, headers=ws.headers)).json()["programme_id"]
    projects = []
    for name in ("CRM", "ERP"):
        made = await served.post(
            f"/api/v1/w/{ws.slug}/projects",
            json={"programme_id": programme_id, "name": name},
            headers=ws.headers,
        )
        projects.append(made.json()["id"])
    headers = {**ws.headers, "If-Match": '"1"'}
    patches = [
        served.patch(one, json={"enabling_project_ids": [project]}, headers=headers)
        for project in projects
    ]

    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            select(Benefit.id).where(Benefit.id == uuid.UUID(benefit_id)).with_for_update()
        )
        tasks = [asyncio.ensure_future(patch) for patch in patches]
        waiting = 0
        for _ in range(500):
            waiting = await lock_waits(session)
            if waiting >= len(tasks) or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
    answers = await asyncio.gather(*tasks)

    assert waiting >= len(tasks), [a.text for a in answers]
    assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200).json()
    read = (await served.get(one, headers=ws.headers)).json()
    assert read["enabling_project_ids"] == won["enabling_project_ids"]
    assert len(read["enabling_project_ids"]) == 1 and read["version"] == 2


async def test_a_confidence_the_workspace_no_longer_has_does_not_lock_the_benefit(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Levels come from template packs: after an upgrade replaced them, a benefit keeps its old
    confidence until someone sets one, and is withdrawn or retitled meanwhile."""
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
            "confidence": "medium",
        },
    )
    async with in_workspace(database, ws.tenant_id) as session:
        for position, key in enumerate(("likely", "unlikely")):
            session.add(
                ScaleLevel(
                    scale=ScaleKind.BENEFIT_CONFIDENCE,
                    key=key,
                    label=key.title(),
                    position=position,
                )
            )

    withdrawn = await change(client, ws, "benefits", benefit, {"state": "withdrawn"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["confidence"] == "medium"
    # Set, a confidence is one of the levels in force.
    refused = await change(client, ws, "benefits", withdrawn.json(), {"confidence": "medium"})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["confidence"]
    taken = await change(client, ws, "benefits", withdrawn.json(), {"confidence": "likely"})
    assert taken.status_code == 200, taken.text


async def test_the_openapi_says_what_a_benefits_figures_and_lifecycle_are(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    read = next(s for name, s in schemas.items() if name.endswith("BenefitRead"))
    update = next(s for name, s in schemas.items() if name.endswith("BenefitUpdate"))

    def described(schema: dict[str, object], field: str) -> str:
        prop = schema["properties"][field]  # type: ignore[index]
        text = prop.get("description") or next(  # type: ignore[union-attr]
            (o.get("description") for o in prop.get("oneOf", []) if o.get("description")), ""
        )
        return str(text)

    assert "(target_value − baseline_value)" in described(read, "realisation_pct")
    assert "forecast_value" in described(read, "forecast_pct")
    assert "withdrawn from any state" in described(update, "state")
    assert "withdrawn from any state" in described(read, "state")


async def test_a_delete_racing_a_measurement_counts_it(
    served: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    """The benefit is kept with its measurement, and the 409 says why (withdraw it), not that
    the measurements should be removed: they cannot be."""
    ws = await make_workspace()
    benefit_id = await _benefit(served, ws.slug, ws.headers)
    one = f"/api/v1/w/{ws.slug}/benefits/{benefit_id}"
    async with in_workspace(database, ws.tenant_id) as session:
        # A measurement on its way in: it holds the benefit until its transaction ends.
        await session.execute(
            select(Benefit.id).where(Benefit.id == uuid.UUID(benefit_id)).with_for_update()
        )
        session.add(
            BenefitMeasurement(
                benefit_id=uuid.UUID(benefit_id), measured_on=date(2025, 3, 1), value=5
            )
        )
        await session.flush()
        task = asyncio.ensure_future(served.delete(one, headers=ws.headers))
        waiting = 0
        for _ in range(500):
            waiting = await lock_waits(session)
            if waiting or task.done():
                break
            await asyncio.sleep(0.01)
    deleted = await task

    assert waiting, deleted.text
    assert deleted.status_code == 409, deleted.text
    assert "append-only" in deleted.json()["detail"], deleted.text
    assert (await served.get(one, headers=ws.headers)).json()["measurements"] == 1
