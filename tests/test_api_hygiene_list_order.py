"""Every list says in its OpenAPI description the order it answers in when asked for none,
written from the query it runs."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import MakeWorkspace
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
