"""``If-Match`` compares entity tags strongly (RFC 9110 §13.1.1): a weak tag never passes."""

from __future__ import annotations

from services.concurrency import matches
from tests.conftest import MakeWorkspace
from tests.workspace_api import Client, make, programme, url


def test_if_match_compares_strongly() -> None:
    assert matches('"3"', '"3"')
    assert matches('"1", "3"', '"3"')
    assert matches("*", '"3"')
    assert not matches('W/"3"', '"3"')
    assert not matches('"1", W/"3"', '"3"')


async def test_a_weak_etag_in_if_match_is_refused_on_update_and_delete(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    risk = await make(client, ws, "issues", {"programme_id": prog["id"], "title": "Supplier"})
    path = url(ws, f"issues/{risk['id']}")
    weak = {**ws.headers, "If-Match": f'W/"{risk["version"]}"'}

    patched = await client.patch(path, json={"title": "Supplier folds"}, headers=weak)
    assert patched.status_code == 412, patched.text
    assert patched.json()["current_etag"] == f'"{risk["version"]}"'
    deleted = await client.delete(path, headers=weak)
    assert deleted.status_code == 412, deleted.text

    # The strong tag read is still the one that passes.
    strong = {**ws.headers, "If-Match": f'"{risk["version"]}"'}
    assert (await client.patch(path, json={"title": "X"}, headers=strong)).status_code == 200
