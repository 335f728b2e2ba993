"""A whole number in a query is written one way, in plain digits: the decoder would read
``1e1`` or ``10.0`` as 10, yet refuse ``05``."""

from __future__ import annotations

import pytest

from services.parameters import WHOLE_NUMBER
from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, programme, url


@pytest.mark.parametrize("written", ["1e1", "10.0", "05", "+5", " 5", "ten", "0x5"])
async def test_a_whole_number_in_a_query_is_plain_digits(
    client: Client, make_workspace: MakeWorkspace, written: str
) -> None:
    ws = await make_workspace()
    for path in ("risks", "programmes"):
        response = await client.get(url(ws, path), params={"limit": written}, headers=ws.headers)
        assert response.status_code == 422, (path, written, response.text)
        assert response.json()["errors"] == [
            {"field": "limit", "message": WHOLE_NUMBER, "source": "query"}
        ]
    offset = await client.get(url(ws, "risks"), params={"offset": written}, headers=ws.headers)
    assert offset.status_code == 422, offset.text
    assert [e["field"] for e in offset.json()["errors"]] == ["offset"]


async def test_plain_digits_are_read_and_bounds_still_said(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    read = await client.get(
        url(ws, "risks"), params={"limit": "10", "offset": "0"}, headers=ws.headers
    )
    assert read.status_code == 200, read.text
    assert read.json()["limit"] == 10
    too_big = await client.get(url(ws, "risks"), params={"limit": "201"}, headers=ws.headers)
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["message"] == "at most 200"


async def test_a_whole_number_of_a_view_is_plain_digits_too(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    path = url(ws, f"programmes/{prog['id']}/dashboard")
    assert (
        await client.get(path, params={"horizon_days": "30"}, headers=ws.headers)
    ).status_code == 200
    refused = await client.get(path, params={"horizon_days": "3e1"}, headers=ws.headers)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["horizon_days"]
