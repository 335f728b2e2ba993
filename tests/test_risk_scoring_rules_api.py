"""A threat's residual levels do not exceed its inherent ones: over HTTP (a 422 naming the
fields, nothing written) and in every shipped template pack (real PostgreSQL, real seeding)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.db.engine import Database
from services.workspace.gates.models import GateState, StageGate
from services.workspace.raid.models import Risk
from services.workspace.raid.rules import RiskLevels, residual_problems
from templates_library.items import seed_items
from templates_library.loader import load_library
from templates_library.schema import PackVersion
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, in_workspace
from tests.tiny_pack import PARAMS
from tests.workspace_api import Client, change, make, programme, url

SHIPPED = [
    pytest.param(pack.key, loaded.version, id=f"{pack.key}@{loaded.version.version}")
    for pack in load_library()
    for loaded in pack.versions
    if loaded.version is not None
]


@pytest.mark.usefixtures("shipped_catalogue")
@pytest.mark.parametrize(("pack", "version"), SHIPPED)
async def test_no_shipped_pack_seeds_a_threat_scored_worse_after_its_response_or_a_decided_gate(
    database: Database, make_workspace: MakeWorkspace, pack: str, version: PackVersion
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, pack, version.version, PARAMS)

    async with in_workspace(database, ws.tenant_id) as session:
        risks = (await session.scalars(select(Risk))).all()
        gates = (await session.scalars(select(StageGate))).all()
    # Every risk the pack names is read back and checked.
    assert len(risks) == sum(item.kind == "risk" for item in seed_items(version))
    offenders = {
        risk.source_item: problems
        for risk in risks
        if (
            problems := residual_problems(
                risk.kind,
                RiskLevels(
                    risk.inherent_probability,
                    risk.inherent_impact,
                    risk.residual_probability,
                    risk.residual_impact,
                ),
            )
        )
    }
    assert offenders == {}
    # A seeded gate is planned: its board puts it in review before deciding it.
    assert {gate.state for gate in gates} <= {GateState.PLANNED}


async def test_a_threats_residual_levels_are_refused_above_its_inherent_ones(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {
        "programme_id": prog["id"],
        "title": "Supplier fails",
        "inherent_probability": 3,
        "inherent_impact": 4,
    }

    raised = await client.post(
        url(ws, "risks"),
        json={**base, "residual_probability": 4, "residual_impact": 5},
        headers=ws.headers,
    )
    threat = await make(client, ws, "risks", {**base, "residual_probability": 2})
    worse = await change(client, ws, "risks", threat, {"residual_impact": 5})
    lowered = await change(client, ws, "risks", threat, {"inherent_probability": 1})
    # Exploited, an opportunity's residual score rises above its inherent one ...
    chance = await make(
        client,
        ws,
        "risks",
        {**base, "kind": "opportunity", "response": "exploit", "residual_probability": 5},
    )
    # ... and it does not turn into a threat scored worse after its response.
    turned = await change(client, ws, "risks", chance, {"kind": "threat", "response": None})

    for answer, fields in (
        (raised, ["residual_probability", "residual_impact"]),
        (worse, ["residual_impact"]),
        (lowered, ["inherent_probability"]),
        (turned, ["residual_probability"]),
    ):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in answer.json()["errors"]] == fields
    kept = (await client.get(url(ws, f"risks/{threat['id']}"), headers=ws.headers)).json()
    assert (kept["version"], kept["inherent_score"], kept["residual_score"]) == (
        threat["version"],
        12,
        8,
    )
    listed = await client.get(url(ws, "risks"), headers=ws.headers)
    assert listed.json()["total"] == 2
    assert chance["residual_score"] == 20 > chance["inherent_score"]
