"""A create's ``Location`` names a URL that answers: a sub-resource (a benefit's measurement, a
gate's criterion or decision) is read there, with its ETag, by viewers too."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, Workspace, join
from tests.workspace_api import Client, change, make, programme, url


async def created_and_read_back(
    client: Client,
    ws: Workspace,
    path: str,
    body: dict[str, Any],
    viewer: dict[str, str],
    **headers: str,
) -> None:
    created = await client.post(url(ws, path), json=body, headers={**ws.headers, **headers})
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location == url(ws, f"{path}/{created.json()['id']}")
    for who in (ws.headers, viewer):
        read = await client.get(location, headers=who)
        assert read.status_code == 200, (path, read.text)
        assert read.json() == created.json()
        assert read.headers["etag"] == created.headers["etag"]
        head = await client.head(location, headers=who)
        assert head.status_code == 200 and head.headers["etag"] == created.headers["etag"]
        again = await client.get(location, headers={**who, "If-None-Match": read.headers["etag"]})
        assert again.status_code == 304
    # Another parent's child is not found under this one.
    missing = location.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    assert (await client.get(missing, headers=ws.headers)).status_code == 404


async def test_a_sub_resources_location_is_where_it_is_read(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    viewer = (await join(database, ws, Role.VIEWER)).headers
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Fewer days",
            "classification": "non_cash",
            "baseline_date": "2025-01-01",
        },
    )
    await created_and_read_back(
        client,
        ws,
        f"benefits/{benefit['id']}/measurements",
        {"measured_on": "2025-03-01", "value": 35},
        viewer,
    )

    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "Go live"})
    await created_and_read_back(
        client, ws, f"stage-gates/{gate['id']}/criteria", {"text": "Rehearsed"}, viewer
    )
    # A gate is decided in review.
    read = await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)
    current = await change(client, ws, "stage-gates", read.json(), {"state": "in_review"})
    assert current.status_code == 200, current.text
    await created_and_read_back(
        client,
        ws,
        f"stage-gates/{gate['id']}/decisions",
        {"decision": "hold", "decided_by_id": str(ws.user_id)},
        viewer,
        **{"If-Match": current.headers["etag"]},
    )
