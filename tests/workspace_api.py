"""Small helpers for workspace API tests: make rows through the API and read them back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Workspace

Client = AsyncTestClient[Litestar]


def workspace_today() -> date:
    """A new workspace's today: the date in UTC, its default time zone (``date.today()`` is the
    machine's own zone). Read it in the test, not at import: a run may pass midnight."""
    return datetime.now(UTC).date()


def days_from(today: date, days: int) -> str:
    """The day ``days`` after ``today`` (before it when negative), as the API writes it.

    What is still to come, or has just passed, is dated from today: a fixed date in the future
    is refused today and accepted once it has come, and a milestone slips once its forecast
    passes. Count a test's dates from one ``today`` so they keep their distances."""
    return (today + timedelta(days=days)).isoformat()


def day(offset: int) -> str:
    """``offset`` days from a new workspace's today, read now."""
    return days_from(workspace_today(), offset)


def url(ws: Workspace, path: str) -> str:
    return f"/api/v1/w/{ws.slug}/{path}"


async def make(client: Client, ws: Workspace, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url(ws, path), json=body, headers=ws.headers)
    assert response.status_code == 201, (path, response.text)
    created: dict[str, Any] = response.json()
    return created


# Registers whose reads show fields worked out from the workspace's today: their ETag names
# the day as well as the version (``"3@2026-05-01"``).
DATED = frozenset({"milestones", "actions", "dependencies"})


async def change(
    client: Client, ws: Workspace, path: str, row: dict[str, Any], body: dict[str, Any]
) -> Any:
    """PATCH with the ETag of ``row`` as given (a stale version stays stale); returns the
    response. A dated register's tag is read (it names today too) while the row is at that
    version."""
    tag = f'"{row["version"]}"'
    if path in DATED:
        read = await client.get(url(ws, f"{path}/{row['id']}"), headers=ws.headers)
        if read.status_code == 200 and read.json()["version"] == row["version"]:
            tag = read.headers["etag"]
    return await client.patch(
        url(ws, f"{path}/{row['id']}"), json=body, headers={**ws.headers, "If-Match": tag}
    )


async def programme(client: Client, ws: Workspace, name: str = "Net Zero") -> dict[str, Any]:
    return await make(client, ws, "programmes", {"name": name})
