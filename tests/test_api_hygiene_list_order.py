"""Every list says in its OpenAPI description the order it answers in when asked for none,
written from the query it runs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from services.db.engine import Database
from services.workspace.raid.models import Risk
from tests.conftest import MakeWorkspace, in_workspace
from tests.test_register_exports_api import risks
from tests.workspace_api import Client, make, programme, url


async def lists(client: Client) -> dict[str, dict[str, Any]]:
    schema = (await client.get("/schema/openapi.json")).json()
    return {
        path: item["get"]
        for path, item in schema["paths"].items()
        if "get" in item and "Page_" in json.dumps(item["get"]["responses"]["200"])
    }


async def test_every_list_states_its_default_order(client: Client) -> None:
    found = await lists(client)
    assert len(found) > 25
    for path, operation in found.items():
        assert "Default order: `" in operation.get("description", ""), path
    stated = {path: found[path].get("description") for path in found}
    assert stated["/api/v1/w/{slug}/status-reports"] == (
        "Default order: `period_end DESC, revision DESC, id`."
    )
    assert stated["/api/v1/w/{slug}/programmes"] == (
        "Default order: `created_at DESC, id DESC` (`sort=-created_at`, the default; `sort` "
        "chooses another)."
    )
    assert stated["/api/v1/w/{slug}/boards"] == "Default order: `lower(name), id`."


async def test_a_list_answers_in_the_order_it_states(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    for start, end in (("2026-01-01", "2026-01-31"), ("2026-03-01", "2026-03-31")):
        await make(
            client,
            ws,
            "status-reports",
            {"programme_id": prog["id"], "period_start": start, "period_end": end},
        )
    reports = (await client.get(url(ws, "status-reports"), headers=ws.headers)).json()["items"]
    assert [r["period_end"] for r in reports] == ["2026-03-31", "2026-01-31"]
    later = await programme(client, ws)
    listed = (await client.get(ws.programmes, headers=ws.headers)).json()["items"]
    assert [p["id"] for p in listed] == [later["id"], prog["id"]]


async def test_pages_through_ties_on_a_descending_sort_give_every_row_once(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    # The register's id breaks ties, ascending whichever way the sort runs: offset paging over
    # that total order gives every row exactly once, and in the order the list states.
    stated = (await lists(client))["/api/v1/w/{slug}/risks"]["description"]
    assert stated.startswith("Default order: `residual_score DESC, ") and "id`" in stated
    ws = await make_workspace()
    await risks(client, database, ws, 25)  # one score for all
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(update(Risk).values(created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    for sort in ("-residual_score", "-created_at"):
        listed = await client.get(url(ws, "risks"), params={"sort": sort}, headers=ws.headers)
        whole = [r["id"] for r in listed.json()["items"]]
        paged: list[str] = []
        for offset in range(0, 28, 4):
            page = await client.get(
                url(ws, "risks"),
                params={"sort": sort, "limit": 4, "offset": offset},
                headers=ws.headers,
            )
            paged += [r["id"] for r in page.json()["items"]]
        assert paged == whole
        assert len(set(paged)) == 25
        assert whole == sorted(whole, key=uuid.UUID), sort
