"""A body is read one way: a number out of range is named like any bad number, and an object
gives each key once (the decoder would keep the last value of a key given twice)."""

from __future__ import annotations

from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, programme, url


async def test_a_number_out_of_range_is_a_422_naming_its_field(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    for number in ("1e400", "-1e400", "1" + "0" * 400):
        response = await client.post(
            url(ws, "programmes"),
            content=f'{{"name": "Net Zero", "budget": {number}}}',
            headers={**ws.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (number, response.text)
        [error] = response.json()["errors"]
        assert (error["field"], error["source"]) == ("budget", "body")
        assert "out of range" in error["message"].lower()
    # A number msgspec stops at before it reaches nesting too deep is still a 400, not a 500.
    deep = "[" * 5000 + "]" * 5000
    nested = await client.post(
        url(ws, "programmes"),
        content=f'{{"budget": 1e400, "name": {deep}}}',
        headers={**ws.headers, "Content-Type": "application/json"},
    )
    assert nested.status_code == 400, nested.text
    assert "nested too deeply" in nested.json()["detail"]


async def test_a_key_given_twice_in_a_body_is_refused_naming_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    headers = {**ws.headers, "Content-Type": "application/json"}
    response = await client.post(
        url(ws, "programmes"), content='{"name": "a", "name": "b"}', headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {"field": "name", "message": "given more than once", "source": "body"}
    ]
    assert (await client.get(url(ws, "programmes"), headers=ws.headers)).json()["total"] == 0

    prog = await programme(client, ws)
    nested = await client.post(
        url(ws, "stage-gates"),
        content=(
            f'{{"programme_id": "{prog["id"]}", "name": "G", '
            '"criteria": [{"text": "a"}, {"text": "b", "text": "c"}]}'
        ),
        headers=headers,
    )
    assert nested.status_code == 422, nested.text
    assert nested.json()["errors"] == [
        {"field": "criteria[1].text", "message": "given more than once", "source": "body"}
    ]
