"""Parameters in errors are named as the request spells them, whoever receives them."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import MakeWorkspace
from tests.workspace_api import url

Client = AsyncTestClient[Litestar]


async def test_a_filters_parameter_is_named_as_in_the_request(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    # `state` is received by the registers' filter dependencies as `lifecycle` (or the like).
    for register in ("stage-gates", "projects", "status-reports", "programmes"):
        response = await client.get(
            url(ws, register), params={"state": "bogus"}, headers=ws.headers
        )
        assert response.status_code == 422, register
        errors = response.json()["errors"]
        assert [(e["field"], e["source"]) for e in errors] == [("state", "query")], register
