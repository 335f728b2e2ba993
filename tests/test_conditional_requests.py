"""Conditional GET (RFC 9110 §13.1.2): ``If-None-Match`` naming the ETag a read carries is a 304."""

from __future__ import annotations

import httpx
import pytest

from services.conditional import none_match
from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, change, programme, url

VERSION = "/api/v1/templates/msp-governance/versions/1.0.0"


def test_if_none_match_lists_entity_tags_compared_weakly_or_is_a_star() -> None:
    assert none_match('"3"', '"3"')
    assert none_match('W/"3"', '"3"')
    assert none_match('"3"', 'W/"3"')
    assert none_match('"1", W/"3" ,"7"', '"3"')
    assert none_match("*", '"3"')
    assert none_match(' "a,b" ', '"a,b"')  # a comma may sit inside a tag
    assert not none_match('"33"', '"3"')
    assert not none_match("3", '"3"')  # not an entity tag: no quotes
    assert not none_match("", '"3"')


async def test_a_row_read_again_with_its_etag_is_not_modified(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    made = await programme(client, ws)
    path = url(ws, f"programmes/{made['id']}")
    read = await client.get(path, headers=ws.headers)
    tag = read.headers["etag"]

    for if_none_match in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        for method in ("GET", "HEAD"):
            again = await client.request(
                method, path, headers={**ws.headers, "If-None-Match": if_none_match}
            )
            assert again.status_code == 304, (if_none_match, method, again.text)
            assert again.content == b""
            assert again.headers["etag"] == tag
            assert "content-type" not in again.headers
            assert again.headers["x-request-id"]

    other = await client.get(path, headers={**ws.headers, "If-None-Match": '"999"'})
    assert other.status_code == 200
    assert other.json() == read.json()

    # Once the row changes, the old tag no longer matches: the new representation is sent.
    changed = await change(client, ws, "programmes", made, {"name": "Net Zero 2031"})
    assert changed.status_code == 200
    after = await client.get(path, headers={**ws.headers, "If-None-Match": tag})
    assert after.status_code == 200
    assert after.json()["name"] == "Net Zero 2031"
    assert after.headers["etag"] != tag


async def test_a_list_without_an_etag_is_sent_whatever_if_none_match_says(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    response = await client.get(url(ws, "programmes"), headers={**ws.headers, "If-None-Match": "*"})
    assert response.status_code == 200
    assert "items" in response.json()


async def test_writes_are_not_made_conditional_by_if_none_match(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    made = await programme(client, ws)
    tag = f'"{made["version"]}"'
    response = await client.patch(
        url(ws, f"programmes/{made['id']}"),
        json={"name": "Renamed"},
        headers={**ws.headers, "If-Match": tag, "If-None-Match": "*"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Renamed"


@pytest.mark.usefixtures("shipped_catalogue")
async def test_a_catalogue_version_read_again_with_its_etag_is_not_modified(
    client: Client,
) -> None:
    read = await client.get(VERSION)
    assert read.status_code == 200
    tag, cache = read.headers["etag"], read.headers["cache-control"]

    again = await client.get(VERSION, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert (again.headers["etag"], again.headers["cache-control"]) == (tag, cache)

    other = await client.get(VERSION, headers={"If-None-Match": '"not-the-hash"'})
    assert other.status_code == 200
    assert other.json() == read.json()


@pytest.mark.usefixtures("shipped_catalogue")
async def test_a_real_server_sends_the_304_without_a_body(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        read = await http.get(VERSION)
        again = await http.get(VERSION, headers={"If-None-Match": read.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
        # The connection is still good for the next request.
        assert (await http.get(VERSION)).status_code == 200
