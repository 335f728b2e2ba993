"""A workspace created without a template pack: its pin and upgrades answer 404 with a problem
code of their own, which the OpenAPI document names, so a client tells "no pack" from "no such
workspace" (real PostgreSQL, through the API)."""

from __future__ import annotations

from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, url


async def test_a_workspace_without_a_pack_says_so_on_its_pin_and_upgrades(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    never = await make_workspace()

    pin = await client.get(url(never, "template-pin"), headers=never.headers)
    upgrade = await client.post(url(never, "template-upgrades"), json={}, headers=never.headers)
    schema = (await client.get("/schema/openapi.json")).json()

    for response in (pin, upgrade):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "workspace-not-seeded"
        assert "not seeded from a template pack" in problem["detail"]
    paths = schema["paths"]
    for path, method in (("template-pin", "get"), ("template-upgrades", "post")):
        operation = paths[f"/api/v1/w/{{slug}}/{path}"][method]
        assert "workspace-not-seeded" in operation["responses"]["404"]["description"]
        assert "workspace-not-seeded" in operation["description"]
