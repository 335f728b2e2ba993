"""Parameters in errors are named as the request spells them, whoever receives them."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.workspace.structure.models import ProgrammeState
from tests.conftest import MakeWorkspace
from tests.workspace_api import make, programme, url

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
        assert error["message"] == f"'bogus' is not one of the choices; expected one of {choices}"

    # In a body.
    created = await client.post(
        url(ws, "programmes"), json={"name": "X", "state": "finished"}, headers=ws.headers
    )
    assert created.status_code == 422
    [error] = created.json()["errors"]
    assert error["field"] == "state"
    assert error["message"].endswith(f"expected one of {PROGRAMME_STATES}")
    assert (
        "state: 'finished' is not one of the choices; expected one of" in (created.json()["detail"])
    )


async def test_a_parameter_taking_one_value_given_twice_is_refused_naming_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    # A filter (a dependency's), paging, and a public route that checks before authenticating.
    for path, query in (
        (url(ws, "risks"), [("band", "green"), ("band", "red")]),
        (url(ws, "risks"), [("limit", "1"), ("limit", "2")]),
        (url(ws, "risks"), [("status", "open"), ("band", "red"), ("status", "open")]),
        ("/api/v1/templates", [("limit", "1"), ("limit", "2")]),
    ):
        response = await client.get(path, params=query, headers=ws.headers)
        assert response.status_code == 422, (path, query, response.text)
        problem = response.json()
        [name] = {name for name, _ in query if [n for n, _ in query].count(name) > 1}
        assert [(e["field"], e["source"]) for e in problem["errors"]] == [(name, "query")]
        assert repr(name) in problem["detail"]


async def test_a_parameter_taking_several_values_still_takes_them(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    await make(
        client,
        ws,
        "custom-fields",
        {"register": "risks", "key": "exposure", "label": "Exposure", "type": "number"},
    )
    prog = await programme(client, ws)
    base = {"programme_id": prog["id"], "inherent_probability": 2, "inherent_impact": 3}
    for title, exposure in (("Small", 10), ("Middling", 500), ("Big", 9000)):
        await make(
            client, ws, "risks", {**base, "title": title, "custom_fields": {"exposure": exposure}}
        )

    response = await client.get(
        url(ws, "risks"),
        params=[("custom", "exposure>=100"), ("custom", "exposure<=1000")],
        headers=ws.headers,
    )
    assert response.status_code == 200, response.text
    assert [r["title"] for r in response.json()["items"]] == ["Middling"]


RANGES = (
    ("risks", "due"),
    ("issues", "due"),
    ("assumptions", "due"),
    ("dependencies", "due"),
    ("milestones", "due"),
    ("benefits", "due"),
    ("stage-gates", "due"),
    ("actions", "due"),
    ("meetings", "held"),
    ("decisions", "decided"),
    ("lessons", "raised"),
    ("status-reports", "period"),
)


async def test_a_date_range_that_ends_before_it_starts_is_refused_naming_both_ends(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for register, stem in RANGES:
        after, before = f"{stem}_after", f"{stem}_before"
        reversed_range = {after: "2027-01-01", before: "2026-01-01"}
        for path in (register, f"{register}/export.csv"):
            response = await client.get(url(ws, path), params=reversed_range, headers=ws.headers)
            assert response.status_code == 422, (path, response.text)
            problem = response.json()
            assert problem["errors"] == [
                {"field": before, "message": f"on or after {after}", "source": "query"}
            ], path
            assert after in problem["detail"] and before in problem["detail"], path

        one_day = {after: "2026-01-01", before: "2026-01-01"}
        response = await client.get(url(ws, register), params=one_day, headers=ws.headers)
        assert response.status_code == 200, (register, response.text)
