"""Stage gates under concurrent writes: a change to a gate's criteria holds the gate's row, so a
review started or a decision taken at the same time is waited for and then seen."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.db.engine import Database
from services.errors import Conflict
from services.identity.models import Role
from services.workspace.gates.models import GateDecision, GateState
from services.workspace.gates.service import GateService
from tests.conftest import MakeWorkspace, in_workspace
from tests.workspace_api import Client, change, make, programme, url


async def read(client: Client, ws: Any, path: str) -> Any:
    response = await client.get(url(ws, path), headers=ws.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_criterion_assessed_as_the_gate_is_decided_for_good_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(
        client,
        ws,
        "stage-gates",
        {
            "programme_id": prog["id"],
            "title": "Go live",
            "criteria": [{"text": "Security sign-off", "mandatory": False}],
        },
    )
    reviewing = await change(client, ws, "stage-gates", gate, {"state": "in_review"})
    assert reviewing.status_code == 200, reviewing.text
    criterion_id = uuid.UUID(gate["criteria"][0]["id"])

    async def assess() -> Any:
        async with in_workspace(database, ws.tenant_id) as writing:
            gates = GateService(writing, ws.user_id)
            row = await gates.get(uuid.UUID(gate["id"]))
            criterion = await gates.criterion(row, criterion_id)
            return await gates.assess(row, criterion, {"status": "not_met", "note": "Findings"})

    async with in_workspace(database, ws.tenant_id) as deciding:
        gates = GateService(deciding, ws.user_id, Role.OWNER)
        row = await gates.get(uuid.UUID(gate["id"]))
        await gates.decide(row, GateDecision.GO, ws.user_id, "", None, Role.OWNER)
        assessing = asyncio.ensure_future(assess())
        await asyncio.sleep(1)
        assert not assessing.done()  # waiting for the decision
    (outcome,) = await asyncio.gather(assessing, return_exceptions=True)
    assert isinstance(outcome, Conflict), outcome
    assert "decided (go)" in outcome.detail
    read_back = await read(client, ws, f"stage-gates/{gate['id']}")
    assert read_back["decision"] == "go"
    assert read_back["criteria"][0]["status"] == "not_assessed"


async def test_a_criterion_added_as_the_gate_goes_in_review_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Go live", "criteria": [{"text": "Tested"}]},
    )

    async def add() -> Any:
        async with in_workspace(database, ws.tenant_id) as writing:
            gates = GateService(writing, ws.user_id)
            row = await gates.get(uuid.UUID(gate["id"]))
            return await gates.add_criterion(row, "Nice to have", "", False, None)

    async with in_workspace(database, ws.tenant_id) as reviewing:
        gates = GateService(reviewing, ws.user_id, Role.OWNER)
        row = await gates.get(uuid.UUID(gate["id"]))
        await gates.update(row, {"state": GateState.IN_REVIEW})  # written, uncommitted
        adding = asyncio.ensure_future(add())
        await asyncio.sleep(1)
        assert not adding.done()  # waiting for the review to start
    (outcome,) = await asyncio.gather(adding, return_exceptions=True)
    assert isinstance(outcome, Conflict), outcome
    assert "in review" in outcome.detail
    read_back = await read(client, ws, f"stage-gates/{gate['id']}")
    assert read_back["state"] == "in_review"
    assert [c["text"] for c in read_back["criteria"]] == ["Tested"]
