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
from sqlalchemy import func, select, text

from services.db.base import WorkspaceModel
from services.db.engine import Database
from services.workspace.reporting.models import StatusReport
from services.workspace.structure.models import Programme
from tests.conftest import MakeWorkspace, in_workspace


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
            waiting = await session.scalar(
                select(func.count()).select_from(text("pg_locks")).where(text("NOT granted"))
            )
            if waiting >= len(requests) or any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.01)
        assert waiting >= len(requests), "the requests never queued behind the lock"
    return sorted(r.status_code for r in await asyncio.gather(*tasks))


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
