"""Custom registers' entries as the API lists and exports them: each register's custom fields
are its columns, and its entries can be filtered on them."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from openpyxl import load_workbook

from services.db.engine import Database
from services.workspace.custom_registers.models import CustomRegister
from services.workspace.custom_registers.service import entry_columns
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, make, url

PLAIN = [
    "id",
    "register_id",
    "position",
    "source_pack",
    "source_version",
    "source_item",
    "version",
    "created_at",
    "updated_at",
]


async def seeded(make_workspace: MakeWorkspace, database: Database, pack: str) -> Workspace:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, pack, None, {"start_date": "2027-01-04"})
    return ws


async def registers(client: Client, ws: Workspace) -> dict[str, dict[str, Any]]:
    found = (await client.get(url(ws, "custom-registers"), headers=ws.headers)).json()
    return {r["key"]: r for r in found["items"]}


async def csv_of(client: Client, ws: Workspace, query: str) -> list[list[str]]:
    response = await client.get(
        url(ws, f"custom-register-entries/export.csv?{query}"), headers=ws.headers
    )
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


async def test_exporting_one_custom_register_gives_a_column_per_field_of_it(
    client: Client, make_workspace: MakeWorkspace, database: Database, shipped_catalogue: None
) -> None:
    ws = await seeded(make_workspace, database, "transformation-tranches")
    handover = (await registers(client, ws))["handover-log"]
    labels = [
        "What is handed over",
        "Receiving business-as-usual owner",
        "Tranche",
        "Acceptance status",
        "Acceptance criteria",
    ]

    header, *rows = await csv_of(client, ws, f"register_id={handover['id']}")
    assert header == PLAIN + labels
    assert len(rows) == 8
    first = dict(zip(header, rows[0], strict=True))
    assert first["source_item"] == "register_entry:handover-log/portal-service"
    assert first["What is handed over"] == "service"
    assert first["Receiving business-as-usual owner"] == "Head of digital channels"
    assert first["Acceptance criteria"].startswith("Service level agreement signed")

    response = await client.get(
        url(ws, f"custom-register-entries/export.xlsx?register_id={handover['id']}"),
        headers=ws.headers,
    )
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert list(values[0]) == header
    assert values[1][len(PLAIN) :] == rows[0][len(PLAIN) :]

    # Labels are the client's text: a header never becomes a formula.
    await make(
        client,
        ws,
        "custom-fields",
        {"register": "handover-log", "key": "note", "label": "=1+1", "type": "text"},
    )
    header, *_ = await csv_of(client, ws, f"register_id={handover['id']}")
    assert "'=1+1" in header and "=1+1" not in header


async def test_exporting_every_custom_register_says_which_register_each_column_belongs_to(
    client: Client, make_workspace: MakeWorkspace, database: Database, shipped_catalogue: None
) -> None:
    ws = await seeded(make_workspace, database, "agile-pmo-safe")
    found = await registers(client, ws)
    # Epic hypotheses gets a "team" too: the same key and label as the PI objectives' one.
    await make(
        client,
        ws,
        "custom-fields",
        {"register": "epic-hypotheses", "key": "team", "label": "Team", "type": "text"},
    )

    header, *rows = await csv_of(client, ws, "")
    assert header[: len(PLAIN)] == PLAIN
    custom = header[len(PLAIN) :]
    assert "Portfolio kanban states: WIP limit" in custom
    assert "Epic hypotheses: Team" in custom
    assert "PI objectives: Team" in custom
    assert len(custom) == len(set(custom)) == 3 + 6 + 3

    by_register: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_register.setdefault(row[1], []).append(dict(zip(header, row, strict=True)))
    objectives = by_register[found["pi-objectives"]["id"]]
    assert objectives and all(r["PI objectives: Team"] for r in objectives)
    # A value shows only under its own register's column.
    assert all(r["Epic hypotheses: Team"] == "" for r in objectives)
    assert all(r["Epic hypotheses: Epic type"] == "" for r in objectives)
    kanban = by_register[found["portfolio-kanban"]["id"]]
    assert {r["Portfolio kanban states: WIP limit"] for r in kanban} == {"", "6", "4", "5"}


async def test_custom_field_filters_apply_to_the_register_the_list_is_filtered_to(
    client: Client, make_workspace: MakeWorkspace, database: Database, shipped_catalogue: None
) -> None:
    ws = await seeded(make_workspace, database, "transformation-tranches")
    handover = (await registers(client, ws))["handover-log"]
    entries = url(ws, "custom-register-entries")

    async def listed(query: str) -> Any:
        return await client.get(
            f"{entries}?register_id={handover['id']}&{query}", headers=ws.headers
        )

    processes = (await listed("custom=item-type=process")).json()
    assert processes["total"] == 3
    assert {e["custom_fields"]["item-type"] for e in processes["items"]} == {"process"}
    second = (await listed("custom=item-type=process&custom=tranche=tranche-2")).json()
    assert [e["source_item"] for e in second["items"]] == [
        "register_entry:handover-log/journey-team-model"
    ]

    header, *rows = await csv_of(
        client, ws, f"register_id={handover['id']}&custom=item-type=process"
    )
    assert len(rows) == 3
    assert {dict(zip(header, r, strict=True))["What is handed over"] for r in rows} == {"process"}

    unknown = await listed("custom=colour=red")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "custom"

    for path in (entries, f"{entries}/export.csv"):
        unfiltered = await client.get(f"{path}?custom=item-type=process", headers=ws.headers)
        assert unfiltered.status_code == 422, unfiltered.text
        assert unfiltered.headers["content-type"].startswith("application/problem+json")
        problem = unfiltered.json()
        assert problem["errors"][0]["field"] == "custom"
        assert "register_id" in problem["errors"][0]["message"]

    missing = await client.get(
        f"{entries}?register_id=00000000-0000-0000-0000-000000000000&custom=item-type=process",
        headers=ws.headers,
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "register_id"


def test_registers_sharing_a_title_are_named_by_their_keys_in_export_headers() -> None:
    logs = [CustomRegister(id=uuid.uuid4(), key=k, title="Log") for k in ("log-a", "log-b")]
    plan = CustomRegister(id=uuid.uuid4(), key="plan", title="Plan")
    fields = {r.id: [("owner", "Owner")] for r in (*logs, plan)}

    named = entry_columns([*logs, plan], fields, name_registers=True)
    assert [c.header for c in named] == ["log-a: Owner", "log-b: Owner", "Plan: Owner"]
    assert [c.register_id for c in named] == [logs[0].id, logs[1].id, plan.id]
    alone = entry_columns([plan], fields, name_registers=False)
    assert [(c.key, c.header) for c in alone] == [("owner", "Owner")]
