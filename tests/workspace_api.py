"""Small helpers for workspace API tests: make rows through the API and read them back."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Workspace

Client = AsyncTestClient[Litestar]


def url(ws: Workspace, path: str) -> str:
    return f"/api/v1/w/{ws.slug}/{path}"


async def make(client: Client, ws: Workspace, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url(ws, path), json=body, headers=ws.headers)
    assert response.status_code == 201, (path, response.text)
    created: dict[str, Any] = response.json()
    return created


async def change(
    client: Client, ws: Workspace, path: str, row: dict[str, Any], body: dict[str, Any]
) -> Any:
    """PATCH with the row's current ETag; returns the response."""
    return await client.patch(
        url(ws, f"{path}/{row['id']}"),
        json=body,
        headers={**ws.headers, "If-Match": f'"{row["version"]}"'},
    )


async def programme(client: Client, ws: Workspace, name: str = "Net Zero") -> dict[str, Any]:
    return await make(client, ws, "programmes", {"name": name})
