"""Register exports hold every row the filters match: the CSV holds them all, whatever the
size, written whole before it is sent (with its Content-Length); the XLSX, built in memory,
refuses more than its cap with a problem rather than a file of the first rows that would pass
for the whole register."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select

from services.db.engine import Database
from services.workspace import exports
from services.workspace.raid.models import Risk
from services.workspace.structure.models import Programme
from tests.conftest import MakeWorkspace, Workspace, in_workspace
from tests.workspace_api import Client, make, programme, url


async def risks(client: Client, database: Database, ws: Workspace, count: int) -> dict[str, Any]:
    """A programme with ``count`` risks: one made through the API, the rest copied from it in
    SQL (one statement, for speed), titled ``Risk 0`` … in order of creation."""
    prog = await programme(client, ws)
    first = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Risk 0",
            "inherent_probability": 4,
            "inherent_impact": 5,
            "residual_probability": 3,
            "residual_impact": 4,
        },
    )
    async with in_workspace(database, ws.tenant_id) as session:
        row = await session.scalar(select(Risk).where(Risk.id == uuid.UUID(first["id"])))
        assert row is not None
        columns = {
            c.key: getattr(row, c.key)
            for c in Risk.__mapper__.column_attrs
            if c.key not in {"id", "title", "reference", "created_at", "updated_at"}
        }
        await session.execute(
            insert(Risk),
            [{**columns, "id": uuid.uuid4(), "title": f"Risk {n}"} for n in range(1, count)],
        )
    return prog


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    # Written whole before it is sent: its length goes with it.
    assert int(response.headers["content-length"]) == len(response.content)
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_past_ten_thousand_risks_the_csv_holds_every_one_and_the_xlsx_refuses(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    # The cap exports once stopped at, silently: the real size, not a patched one.
    ws = await make_workspace()
    await risks(client, database, ws, 10_001)
    rows = csv_rows(await client.get(url(ws, "risks/export.csv"), headers=ws.headers))
    assert sorted(r["title"] for r in rows) == sorted(f"Risk {n}" for n in range(10_001))
    refused = await client.get(url(ws, "risks/export.xlsx"), headers=ws.headers)
    assert refused.status_code == 422, refused.status_code
    assert refused.json()["limit"] == 10_000


async def test_a_csv_export_holds_every_row_in_the_lists_order_across_batches(
    client: Client,
    make_workspace: MakeWorkspace,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "EXPORT_BATCH", 7)
    monkeypatch.setattr(exports, "XLSX_EXPORT_LIMIT", 10)
    ws = await make_workspace()
    await risks(client, database, ws, 25)
    listed = await client.get(url(ws, "risks"), params={"limit": 100}, headers=ws.headers)
    order = [r["id"] for r in listed.json()["items"]]
    rows = csv_rows(await client.get(url(ws, "risks/export.csv"), headers=ws.headers))
    assert [r["id"] for r in rows] == order
    assert len(order) == 25
    # Filtered to none, the file is still a header.
    empty = await client.get(
        url(ws, "risks/export.csv"), params={"owner_id": str(uuid.uuid4())}, headers=ws.headers
    )
    assert empty.content.decode("utf-8-sig").splitlines() == [
        empty.content.decode("utf-8-sig").splitlines()[0]
    ]
    assert "title" in empty.content.decode("utf-8-sig").splitlines()[0]


async def test_an_xlsx_export_over_its_cap_is_refused_never_cut_short(
    client: Client,
    make_workspace: MakeWorkspace,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "XLSX_EXPORT_LIMIT", 10)
    ws = await make_workspace()
    await risks(client, database, ws, 11)
    refused = await client.get(url(ws, "risks/export.xlsx"), headers=ws.headers)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["limit"] == 10
    assert "export CSV" in problem["detail"]
    # At the cap, every row.
    async with in_workspace(database, ws.tenant_id) as session:
        row = await session.scalar(select(Risk).where(Risk.title == "Risk 10"))
        assert row is not None
        await session.delete(row)
    answered = await client.get(url(ws, "risks/export.xlsx"), headers=ws.headers)
    assert answered.status_code == 200, answered.text
    sheet = load_workbook(io.BytesIO(answered.content)).active
    assert sheet is not None
    assert sheet.max_row == 11  # the header and ten risks


async def test_programme_exports_hold_every_programme_or_refuse(
    client: Client,
    make_workspace: MakeWorkspace,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exports, "EXPORT_BATCH", 4)
    monkeypatch.setattr(exports, "XLSX_EXPORT_LIMIT", 10)
    ws = await make_workspace()
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            insert(Programme),
            [
                {"id": uuid.uuid4(), "tenant_id": ws.tenant_id, "name": f"Programme {n:02}"}
                for n in range(11)
            ],
        )
    listed = await client.get(ws.programmes, params={"sort": "name"}, headers=ws.headers)
    rows = csv_rows(
        await client.get(f"{ws.programmes}/export.csv", params={"sort": "name"}, headers=ws.headers)
    )
    assert [r["name"] for r in rows] == [f"Programme {n:02}" for n in range(11)]
    assert [r["id"] for r in rows] == [p["id"] for p in listed.json()["items"]]
    refused = await client.get(f"{ws.programmes}/export.xlsx", headers=ws.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["limit"] == 10


async def test_the_export_routes_say_how_many_rows_they_hold(client: Client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for register in ("risks", "programmes"):
        csv_route = paths[f"/api/v1/w/{{slug}}/{register}/export.csv"]["get"]
        xlsx_route = paths[f"/api/v1/w/{{slug}}/{register}/export.xlsx"]["get"]
        assert csv_route["description"].startswith("Every row the filters match")
        assert "Content-Length" in csv_route["description"]
        assert "refused with a 422" in xlsx_route["description"]
        assert "422" in xlsx_route["responses"]
