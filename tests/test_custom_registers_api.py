"""Custom registers' entries as the API lists and exports them: each register's custom fields
are its columns, and its entries can be filtered on them."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, Workspace
from tests.workspace_api import Client, url


async def seeded(make_workspace: MakeWorkspace, database: Database, pack: str) -> Workspace:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, pack, None, {"start_date": "2027-01-04"})
    return ws


async def registers(client: Client, ws: Workspace) -> dict[str, dict[str, Any]]:
    found = (await client.get(url(ws, "custom-registers"), headers=ws.headers)).json()
    return {r["key"]: r for r in found["items"]}


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
