"""Parameters in errors are named as the request spells them, whoever receives them."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.workspace.structure.models import ProgrammeState
from tests.conftest import MakeWorkspace
from tests.workspace_api import url

Client = AsyncTestClient[Litestar]
PROGRAMME_STATES = ", ".join(repr(state.value) for state in ProgrammeState)


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


async def test_a_value_outside_its_choices_is_answered_with_the_choices(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    # A filter received by a dependency (`state` as `lifecycle`), and the handler's own `sort`.
    for path, name, choices in (
        ("programmes", "state", PROGRAMME_STATES),
        ("risks", "sort", "'-residual_score', 'next_review_date', '-created_at', 'title'"),
    ):
        response = await client.get(url(ws, path), params={name: "bogus"}, headers=ws.headers)
        assert response.status_code == 422, path
        [error] = response.json()["errors"]
        assert (error["field"], error["source"]) == (name, "query")
        assert error["message"] == f"Invalid enum value 'bogus'; expected one of {choices}"

    # In a body.
    created = await client.post(
        url(ws, "programmes"), json={"name": "X", "state": "finished"}, headers=ws.headers
    )
    assert created.status_code == 422
    [error] = created.json()["errors"]
    assert error["field"] == "state"
    assert error["message"].endswith(f"expected one of {PROGRAMME_STATES}")
    assert "state: Invalid enum value 'finished'; expected one of" in created.json()["detail"]
