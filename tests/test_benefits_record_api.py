"""A closed benefit is a record: the figures it was judged on stay, and the programme's
forecast reads it at what was measured, not at its owner's last forecast — over HTTP, on real
PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from services.db.engine import Database
from services.workspace.benefits.models import Benefit, BenefitState
from services.workspace.benefits.rules import (
    BenefitProgress,
    expected_value,
    fixed_fields,
    interim_target_problem,
    roll_up,
)
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack, Workspace, in_workspace
from tests.templates_library.test_upgrading import Seeded, entry
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, change, day, make, programme, url


async def read(client: Client, ws: Workspace, benefit: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(url(ws, f"benefits/{benefit['id']}"), headers=ws.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def measure(client: Client, ws: Workspace, benefit: dict[str, Any], value: float) -> None:
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": day(-1), "value": value},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text


async def realising(
    client: Client, ws: Workspace, prog: dict[str, Any], title: str = "Faster claims"
) -> dict[str, Any]:
    """A benefit from 10 to 20, forecast at its target, taken to realising."""
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": title,
            "classification": "non_cash",
            "owner_id": str(ws.user_id),
            "indicator": "Claims closed per day",
            "unit": "claims",
            "baseline_value": 10,
            "baseline_date": day(-30),
            "target_value": 20,
            "target_date": day(300),
            "forecast_value": 20,
            "interim_targets": [{"date": day(100), "value": 15}],
        },
    )
    for state in ("validated", "planned", "realising"):
        moved = await change(client, ws, "benefits", benefit, {"state": state})
        assert moved.status_code == 200, moved.text
        benefit = moved.json()
    return benefit


async def closed(
    client: Client, ws: Workspace, benefit: dict[str, Any], state: str
) -> dict[str, Any]:
    moved = await change(client, ws, "benefits", await read(client, ws, benefit), {"state": state})
    assert moved.status_code == 200, moved.text
    found: dict[str, Any] = moved.json()
    return found


FIGURES: list[dict[str, Any]] = [
    {"baseline_value": 8},
    {"baseline_date": day(-40)},
    {"baseline_text": "as counted in 2025"},
    {"target_value": 25},
    {"target_date": day(200)},
    {"target_text": "twice as many"},
    {"interim_targets": [{"date": day(100), "value": 12}]},
    {"interim_targets": []},
    {"measure": "qualitative"},
    {"indicator": "Claims closed per week"},
    {"unit": "cases"},
]


@pytest.mark.parametrize("state", ["realised", "not_realised", "withdrawn"])
async def test_a_closed_benefit_keeps_the_figures_it_was_judged_on(
    client: Client, make_workspace: MakeWorkspace, state: str
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await realising(client, ws, prog)
    await measure(client, ws, benefit, 18)
    benefit = await closed(client, ws, benefit, state)

    for body in FIGURES:
        refused = await change(client, ws, "benefits", benefit, body)
        assert refused.status_code == 409, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["state"], body
        assert state in refused.json()["errors"][0]["message"]
        assert next(iter(body)) in refused.json()["detail"]
    kept = await read(client, ws, benefit)
    assert kept["version"] == benefit["version"]
    assert (kept["baseline_value"], kept["target_value"], kept["target_date"]) == (
        10,
        20,
        day(300),
    )
    assert kept["interim_targets"] == [{"date": day(100), "value": 15}]

    # The same figures sent back change nothing, and are no change of them.
    same = await change(
        client, ws, "benefits", benefit, {"target_value": 20, "title": "Claims closed faster"}
    )
    assert same.status_code == 200, same.text
    # Its text and people stay editable.
    described = await change(
        client,
        ws,
        "benefits",
        same.json(),
        {"description": "Closed on record", "realisation_lead_id": str(ws.user_id)},
    )
    assert described.status_code == 200, described.text
    assert described.json()["description"] == "Closed on record"


async def test_a_benefit_closed_by_a_write_may_set_its_figures_on_the_way(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Only a benefit already closed keeps its figures: the write closing it is still about an
    open one (realising), whose target may be put right as it is closed."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await realising(client, ws, prog)

    closing = await change(
        client, ws, "benefits", benefit, {"state": "not_realised", "target_value": 30}
    )

    assert closing.status_code == 200, closing.text
    assert closing.json()["target_value"] == 30


async def test_the_forecast_reads_a_closed_benefit_at_what_was_measured(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Each benefit runs from 10 to 20, its owner forecasting 20 (100 %). Closed, that forecast
    is moot: a not-realised one never measured counts at its baseline (0 %), one measured at
    what was measured, and a realised one at its latest measurement."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    never = await realising(client, ws, prog, "Never measured")
    half = await realising(client, ws, prog, "Half way")
    done = await realising(client, ws, prog, "Realised")
    await measure(client, ws, half, 15)
    await measure(client, ws, done, 17)

    before = await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    assert before.json()["benefits"]["forecast_pct"] == 100.0
    for benefit, state in ((never, "not_realised"), (half, "not_realised"), (done, "realised")):
        await closed(client, ws, benefit, state)

    assert [(await read(client, ws, b))["forecast_pct"] for b in (never, half, done)] == [
        0.0,
        50.0,
        70.0,
    ]
    dashboard = await client.get(url(ws, f"programmes/{prog['id']}/dashboard"), headers=ws.headers)
    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["benefits"]["forecast_pct"] == 40.0  # (0 + 50 + 70) / 3


async def test_a_reports_benefits_forecast_reads_a_closed_benefit_at_what_was_measured(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    done = await realising(client, ws, prog, "Realised")
    await measure(client, ws, done, 17)
    await closed(client, ws, done, "realised")
    draft = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], "period_start": day(-7), "period_end": day(0)},
    )

    found = await client.get(
        url(ws, f"status-reports/{draft['id']}/suggestion"), headers=ws.headers
    )

    assert found.status_code == 200, found.text
    assert found.json()["evidence"]["benefits_forecast_pct"] == 70.0


def test_interim_targets_one_per_date() -> None:
    one, two = date(2027, 3, 31), date(2027, 6, 30)
    assert interim_target_problem([one, two], None, None) is None
    problem = interim_target_problem([one, two, two], None, None)
    assert problem is not None and "2027-06-30" in problem


def test_what_a_closed_benefit_keeps_and_is_expected_to_reach() -> None:
    S = BenefitState
    changed = ["title", "target_value", "interim_targets", "owner_id"]
    assert fixed_fields(S.REALISING, changed) == []
    for state in (S.REALISED, S.NOT_REALISED, S.WITHDRAWN):
        assert fixed_fields(state, changed) == ["interim_targets", "target_value"]
    # (state, forecast, baseline, latest) → expected
    assert expected_value(S.REALISING, 20, 10, 15) == 20
    assert expected_value(S.REALISED, 20, 10, 15) == 15
    assert expected_value(S.REALISED, 20, 10, None) is None
    assert expected_value(S.NOT_REALISED, 20, 10, 15) == 15
    assert expected_value(S.NOT_REALISED, 20, 10, None) == 10


def test_a_dis_benefits_cost_never_weighs_in_the_value_realised() -> None:
    """A dis-benefit's value_per_year is a cost (negative): left out by its flag, it neither
    adds to the money realised nor stops the roll-up being value-weighted."""
    rolled = roll_up(
        [
            BenefitProgress(50.0, Decimal(1_000)),
            BenefitProgress(100.0, Decimal(3_000)),
            BenefitProgress(100.0, Decimal(-5_000), dis_benefit=True),
        ]
    )
    assert rolled.value_weighted
    assert rolled.counted == 2
    assert rolled.pct == 87.5
    assert rolled.value_realised_per_year == Decimal("3500.00")


async def test_a_value_per_year_signed_against_its_dis_benefit_flag_is_refused(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {"programme_id": prog["id"], "title": "Licences", "classification": "cash_releasing"}

    cost = await client.post(
        url(ws, "benefits"),
        json={**base, "dis_benefit": True, "value_per_year": 25000},
        headers=ws.headers,
    )
    loss = await client.post(
        url(ws, "benefits"), json={**base, "value_per_year": -25000}, headers=ws.headers
    )

    for response in (cost, loss):
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["value_per_year"]


def indicator_reworded(data: dict[str, Any]) -> None:
    """1.1.0 as usual, the benefit measured in working days to a tighter target."""
    second_version(data)
    data["benefits"][0]["indicator"] = "Median working days"
    data["benefits"][0]["target"] = 4


async def test_an_upgrade_leaves_a_realised_benefits_figures_as_they_were_judged(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    """A template upgrade writes what the API's update would: the pack's new indicator and
    target for a benefit realised meanwhile are a conflict, and the rest goes on."""
    ws = await make_workspace()
    pack = await publish_pack(None, indicator_reworded)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    benefit = await seeded.get("benefits", "benefit", "faster")
    plan = {
        "owner_id": str(ws.user_id),
        "baseline_date": day(-30),
        "target_date": day(300),
    }
    moved = await change(client, ws, "benefits", benefit, plan)
    assert moved.status_code == 200, moved.text
    benefit = moved.json()
    for state in ("validated", "planned", "realising"):
        moved = await change(client, ws, "benefits", benefit, {"state": state})
        assert moved.status_code == 200, moved.text
        benefit = moved.json()
    await measure(client, ws, benefit, 5)
    await closed(client, ws, benefit, "realised")

    planned = entry(await seeded.plan(), "benefit", "faster")
    await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "target_value" in planned.reason and "indicator" in planned.reason
    kept = await seeded.get("benefits", "benefit", "faster")
    assert (kept["indicator"], kept["target_value"], kept["state"]) == (
        "Median days",
        5,
        "realised",
    )
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"


async def test_two_interim_targets_for_one_day_stored_before_do_not_lock_the_benefit(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    """Taken before they were refused, they are refused when the targets are set again, not on
    a write of the benefit's other fields (its withdrawal, say)."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Fewer complaints", "classification": "non_cash"},
    )
    twice = [{"date": "2027-06-30", "value": 20}, {"date": "2027-06-30", "value": 25}]
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            update(Benefit)
            .where(Benefit.id == uuid.UUID(benefit["id"]))
            .values(interim_targets=twice)
        )

    retitled = await change(client, ws, "benefits", benefit, {"title": "Fewer complaints made"})
    assert retitled.status_code == 200, retitled.text
    again = await change(client, ws, "benefits", retitled.json(), {"interim_targets": twice[::-1]})
    assert again.status_code == 422, again.text
    assert [e["field"] for e in again.json()["errors"]] == ["interim_targets"]


async def test_the_openapi_says_what_a_closed_benefit_keeps_and_how_value_is_signed(
    client: Client,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    read = next(s for name, s in schemas.items() if name.endswith("BenefitRead"))
    update = next(s for name, s in schemas.items() if name.endswith("BenefitUpdate"))

    def described(schema: dict[str, Any], field: str) -> str:
        return str(schema["properties"][field])  # the description, wherever it is nested

    for schema in (read, update):
        assert "409 on state" in described(schema, "state")
        assert "dis_benefit true: negative" in described(schema, "value_per_year")
        assert "one per date" in described(schema, "interim_targets")
    assert "once not_realised" in described(read, "forecast_pct")
