"""RAID registers under concurrent writes: a dependency naming a milestone with its project holds
the milestone's row, and a move of the milestone to another project holds it too, so whichever
is written second waits for the first and then sees it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.db.engine import Database
from services.errors import Conflict, ValidationFailed
from services.workspace.raid.models import DependencyKind, DependencyStatus
from services.workspace.raid.schemas import DependencyCreate
from services.workspace.raid.service import DependencyService
from services.workspace.structure.service import MilestoneService
from tests.conftest import MakeWorkspace, in_workspace
from tests.workspace_api import Client, make, programme, url


async def test_a_dependency_naming_a_milestone_as_it_moves_project_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    platform = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Platform"})
    portal = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Portal"})
    data = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Data"})
    api_live = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "project_id": platform["id"], "title": "API live"},
    )

    async def depend() -> Any:
        async with in_workspace(database, ws.tenant_id) as writing:
            return await DependencyService(writing, ws.user_id).create(
                DependencyCreate(
                    programme_id=uuid.UUID(prog["id"]),
                    title="Portal needs the API",
                    kind=DependencyKind.INTERNAL,
                    from_project_id=uuid.UUID(platform["id"]),
                    from_milestone_id=uuid.UUID(api_live["id"]),
                    to_project_id=uuid.UUID(portal["id"]),
                    status=DependencyStatus.AGREED,
                )
            )

    async with in_workspace(database, ws.tenant_id) as moving:
        milestones = MilestoneService(moving, ws.user_id)
        row = await milestones.get(uuid.UUID(api_live["id"]))
        await milestones.update(row, {"project_id": uuid.UUID(data["id"])})  # uncommitted
        depending = asyncio.ensure_future(depend())
        await asyncio.sleep(1)
        assert not depending.done()  # waiting for the move
    (outcome,) = await asyncio.gather(depending, return_exceptions=True)
    assert isinstance(outcome, ValidationFailed), outcome
    assert [e["field"] for e in outcome.errors] == ["from_milestone_id"]
    listed = await client.get(url(ws, "dependencies"), headers=ws.headers)
    assert listed.json()["total"] == 0


async def test_a_milestone_moving_project_as_a_dependency_names_it_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    platform = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Platform"})
    portal = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Portal"})
    data = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Data"})
    api_live = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "project_id": platform["id"], "title": "API live"},
    )

    async def move() -> Any:
        async with in_workspace(database, ws.tenant_id) as moving:
            milestones = MilestoneService(moving, ws.user_id)
            row = await milestones.get(uuid.UUID(api_live["id"]))
            return await milestones.update(row, {"project_id": uuid.UUID(data["id"])})

    async with in_workspace(database, ws.tenant_id) as writing:
        await DependencyService(writing, ws.user_id).create(
            DependencyCreate(
                programme_id=uuid.UUID(prog["id"]),
                title="Portal needs the API",
                kind=DependencyKind.INTERNAL,
                from_project_id=uuid.UUID(platform["id"]),
                from_milestone_id=uuid.UUID(api_live["id"]),
                to_project_id=uuid.UUID(portal["id"]),
                status=DependencyStatus.AGREED,
            )
        )  # uncommitted
        moved = asyncio.ensure_future(move())
        await asyncio.sleep(1)
        assert not moved.done()  # waiting for the dependency
    (outcome,) = await asyncio.gather(moved, return_exceptions=True)
    assert isinstance(outcome, Conflict), outcome
    assert [e["field"] for e in outcome.errors] == ["project_id"]
    got = await client.get(url(ws, f"milestones/{api_live['id']}"), headers=ws.headers)
    assert got.json()["project_id"] == platform["id"]
