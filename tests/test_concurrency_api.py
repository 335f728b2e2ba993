"""Two writes racing on one row: one wins, the other is told so — never a 500.

Both requests read the same version and pass the If-Match check; the database then lets only one
of their version-checked UPDATEs through. To make the race certain rather than likely, the test
holds the row locked until both requests are waiting on it. The requests go to a real server
(Litestar's test client runs one request at a time).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.db.base import WorkspaceModel
from services.db.engine import Database
from services.workspace.benefits.models import Benefit
from services.workspace.gates.models import StageGate
from services.workspace.reporting.models import StatusReport
from services.workspace.structure.models import Programme
from tests.conftest import MakeWorkspace, in_workspace, lock_waits


@pytest.fixture
async def client(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


async def race(
    database: Database,
    tenant_id: uuid.UUID,
    row_id: uuid.UUID,
    requests: list[Any],
    model: type[WorkspaceModel] = Programme,
) -> list[int]:
    """Start ``requests`` while the row is locked; release it once they all wait on it."""
    async with in_workspace(database, tenant_id) as session:
        await session.execute(select(model.id).where(model.id == row_id).with_for_update())
        tasks = [asyncio.ensure_future(request) for request in requests]
        waiting = 0
        for _ in range(500):
            waiting = await lock_waits(session)
            if waiting >= len(requests) or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
    statuses = sorted(r.status_code for r in await asyncio.gather(*tasks))
    # A request that did not wait on the row passed its checks without it (what it answered
    # shows what came of that).
    assert waiting >= len(requests), f"the requests never queued behind the lock: {statuses}"
    return statuses


async def test_concurrent_updates_with_the_same_etag_one_wins_the_other_gets_412(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    one = f"{ws.programmes}/{made['id']}"
    headers = {**ws.headers, "If-Match": '"1"'}
    patches = [client.patch(one, json={"name": f"Edit {i}"}, headers=headers) for i in range(2)]

    statuses = await race(database, ws.tenant_id, uuid.UUID(made["id"]), patches)

    assert statuses == [200, 412]
    now = (await client.get(one, headers=ws.headers)).json()
    assert now["version"] == 2 and now["name"] in {"Edit 0", "Edit 1"}


async def test_a_racing_write_without_if_match_is_a_409_conflict_and_with_it_a_412(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    one = f"{ws.programmes}/{made['id']}"
    writes = [
        client.patch(one, json={"name": "Edit"}, headers={**ws.headers, "If-Match": '"1"'}),
        client.delete(one, headers=ws.headers),
    ]

    statuses = await race(database, ws.tenant_id, uuid.UUID(made["id"]), writes)

    # Whichever lands first, the other is refused: the delete (no If-Match) with a 409, the update
    # (If-Match) with a 412.
    assert statuses in ([200, 409], [204, 412])


async def test_two_corrections_of_one_report_at_once_make_one_and_a_409(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    reports = f"/api/v1/w/{ws.slug}/status-reports"
    body = {
        "programme_id": made["id"],
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "overall_rag": "green",
    }
    report = (await client.post(reports, json=body, headers=ws.headers)).json()
    published = await client.post(
        f"{reports}/{report['id']}/publish", headers={**ws.headers, "If-Match": '"1"'}
    )
    assert published.status_code == 200, published.text
    # Both pass the "no correction in progress" check; the keys let only one through (the
    # inserts wait on the locked report, which they refer to).
    corrections = [
        client.post(f"{reports}/{report['id']}/corrections", headers=ws.headers) for _ in range(2)
    ]

    statuses = await race(
        database, ws.tenant_id, uuid.UUID(report["id"]), corrections, StatusReport
    )

    assert statuses == [201, 409]
    listed = await client.get(reports, headers=ws.headers)
    assert listed.json()["total"] == 2  # the report and one correction


async def test_a_tranche_starting_as_a_gate_is_planned_before_it_one_is_refused(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    tranches, gates = f"/api/v1/w/{ws.slug}/tranches", f"/api/v1/w/{ws.slug}/stage-gates"
    body = {"programme_id": made["id"], "name": "T1"}
    tranche = (await client.post(tranches, json=body, headers=ws.headers)).json()
    # Each reads the other's rows before either writes: the start finds no gate on its way in,
    # the gate finds its tranche planned. Taken one after the other, the second is refused.
    writes = [
        client.patch(
            f"{tranches}/{tranche['id']}",
            json={"state": "started"},
            headers={**ws.headers, "If-Match": '"1"'},
        ),
        client.post(
            gates,
            json={"programme_id": made["id"], "title": "Into T1", "tranche_id": tranche["id"]},
            headers=ws.headers,
        ),
    ]

    statuses = await race(database, ws.tenant_id, uuid.UUID(made["id"]), writes)

    state = (await client.get(f"{tranches}/{tranche['id']}", headers=ws.headers)).json()["state"]
    listed = (await client.get(gates, headers=ws.headers)).json()["items"]
    assert statuses in ([200, 409], [201, 409])
    # Never both: a tranche under way behind a gate that has not said go.
    assert (state, len(listed)) in {("started", 0), ("planned", 1)}


async def test_a_tranche_starting_as_another_moves_in_front_of_it_one_is_refused(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    tranches = f"/api/v1/w/{ws.slug}/tranches"
    later, second = [
        (
            await client.post(
                tranches,
                json={"programme_id": made["id"], "name": name, "position": position},
                headers=ws.headers,
            )
        ).json()
        for name, position in (("Later", 5), ("Second", 2))
    ]
    gate = await client.post(
        f"/api/v1/w/{ws.slug}/stage-gates",
        json={
            "programme_id": made["id"],
            "title": "End of Later",
            "tranche_id": later["id"],
            "boundary": "exit",
        },
        headers=ws.headers,
    )
    assert gate.status_code == 201, gate.text
    # Moved to position 1, "Later" puts its undecided exit gate on Second's way in.
    writes = [
        client.patch(
            f"{tranches}/{second['id']}",
            json={"state": "started"},
            headers={**ws.headers, "If-Match": '"1"'},
        ),
        client.patch(
            f"{tranches}/{later['id']}",
            json={"position": 1},
            headers={**ws.headers, "If-Match": '"1"'},
        ),
    ]

    statuses = await race(database, ws.tenant_id, uuid.UUID(made["id"]), writes)

    now = {t["name"]: t for t in (await client.get(tranches, headers=ws.headers)).json()["items"]}
    assert statuses == [200, 409]
    assert (now["Second"]["state"], now["Later"]["position"]) in {("started", 5), ("planned", 1)}


async def test_measurements_recorded_at_once_both_count_and_each_moves_the_etag_on(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    benefit = (
        await client.post(
            f"/api/v1/w/{ws.slug}/benefits",
            json={"programme_id": made["id"], "title": "Less waste", "classification": "non_cash"},
            headers=ws.headers,
        )
    ).json()
    one = f"/api/v1/w/{ws.slug}/benefits/{benefit['id']}"
    posts = [
        client.post(
            f"{one}/measurements",
            json={"measured_on": f"2025-0{month}-01", "value": month},
            headers=ws.headers,
        )
        for month in (1, 2)
    ]

    # Each measurement moves the benefit's version on: neither is refused for the other's.
    statuses = await race(database, ws.tenant_id, uuid.UUID(benefit["id"]), posts, Benefit)

    read = (await client.get(one, headers=ws.headers)).json()
    assert statuses == [201, 201]
    assert read["measurements"] == 2 and read["version"] == benefit["version"] + 2


async def test_criteria_added_at_once_take_the_next_positions_in_turn(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    made = (await client.post(ws.programmes, json={"name": "Net Zero"}, headers=ws.headers)).json()
    gate = (
        await client.post(
            f"/api/v1/w/{ws.slug}/stage-gates",
            json={"programme_id": made["id"], "title": "Go live"},
            headers=ws.headers,
        )
    ).json()
    one = f"/api/v1/w/{ws.slug}/stage-gates/{gate['id']}"
    posts = [
        client.post(f"{one}/criteria", json={"text": f"Criterion {i}"}, headers=ws.headers)
        for i in (1, 2)
    ]

    statuses = await race(database, ws.tenant_id, uuid.UUID(gate["id"]), posts, StageGate)

    read = (await client.get(one, headers=ws.headers)).json()
    assert statuses == [201, 201]
    assert sorted(c["position"] for c in read["criteria"]) == [0, 1]
    assert read["version"] == gate["version"] + 2
