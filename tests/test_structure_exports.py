"""The programmes' CSV export reads the list's rows in one ordered pass: one statement on a
server-side cursor, a batch at a time, rather than a page and a count per batch."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, insert

from services.db.engine import Database
from services.workspace import exports
from services.workspace.structure.models import Programme, ProgrammeState
from tests.conftest import MakeWorkspace, Workspace, in_workspace
from tests.workspace_api import Client

READS_PROGRAMMES = re.compile(r"\bFROM workspace\.programmes\b", re.IGNORECASE)


@contextmanager
def statements(database: Database, cell: str) -> Iterator[list[str]]:
    """The SQL statements run on ``cell`` meanwhile, as sent."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = database.engine(cell).sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def listed(client: Client, ws: Workspace, params: dict[str, str]) -> list[str]:
    page = await client.get(ws.programmes, params={**params, "limit": 200}, headers=ws.headers)
    assert page.status_code == 200, page.text
    return [p["id"] for p in page.json()["items"]]


@pytest.mark.parametrize(
    "params",
    [{}, {"sort": "name"}, {"sort": "start_date"}, {"sort": "created_at", "state": "delivering"}],
)
async def test_the_programmes_csv_reads_every_row_once_in_the_lists_order_in_one_pass(
    client: Client,
    make_workspace: MakeWorkspace,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
) -> None:
    """More programmes than a batch (patched to 4), names and start dates shared so only the
    id tie-break orders them: the file holds each once, in the list's order, with its filters;
    and it is read with one statement on programmes (no count, no OFFSET per batch)."""
    monkeypatch.setattr(exports, "EXPORT_BATCH", 4)
    ws = await make_workspace()
    states = [ProgrammeState.DELIVERING, ProgrammeState.IDENTIFYING]
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            insert(Programme),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": ws.tenant_id,
                    "name": f"Programme {n % 3}",
                    "state": states[n % 2],
                    "start_date": None if n % 4 == 0 else date(2026, 1 + n % 2, 1),
                }
                for n in range(19)
            ],
        )
    order = await listed(client, ws, params)
    assert len(order) == (10 if "state" in params else 19)

    with statements(database, ws.cell) as seen:
        response = await client.get(
            f"{ws.programmes}/export.csv", params=params, headers=ws.headers
        )
        rows = csv_rows(response)
    assert [r["id"] for r in rows] == order
    reads = [s for s in seen if READS_PROGRAMMES.search(s)]
    assert len(reads) == 1, reads
    assert "count(" not in reads[0].lower() and "offset" not in reads[0].lower(), reads[0]
