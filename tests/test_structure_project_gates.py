"""A gate on a project is on the project's tranche: a project moving to another tranche takes
its undecided gates with it, and stays while one of its gates there is decided (409), through
the API, racing a gate planned on it, and through a template upgrade moving it (real
PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.db.engine import Database
from services.errors import Conflict, ValidationFailed
from services.identity.models import Role
from services.workspace.gates.schemas import GateCreate
from services.workspace.gates.service import GateService
from services.workspace.structure.service import ProjectService
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack, Workspace, in_workspace
from tests.templates_library.test_upgrading import Seeded, entry
from tests.test_coordination_api import read, two_tranches
from tests.test_gates_api import decide_gate
from tests.tiny_pack import PARAMS
from tests.workspace_api import Client, change, make, programme, url


async def gate(
    client: Client, ws: Workspace, project: dict[str, Any], title: str, tranche_id: Any
) -> dict[str, Any]:
    body = {
        "programme_id": project["programme_id"],
        "project_id": project["id"],
        "tranche_id": tranche_id,
        "title": title,
    }
    return await make(client, ws, "stage-gates", body)


async def test_a_project_moves_with_its_undecided_gates_and_stays_with_a_decided_one(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    pilot = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "Pilot", "tranche_id": first["id"]},
    )
    planned = await gate(client, ws, pilot, "Pilot start", first["id"])
    reviewing = await gate(client, ws, pilot, "Pilot review", first["id"])
    reviewing = (await change(client, ws, "stage-gates", reviewing, {"state": "in_review"})).json()
    loose = await gate(client, ws, pilot, "Pilot loose", None)
    go = await gate(client, ws, core, "Core go", first["id"])
    decided = await decide_gate(
        client, ws, go, {"decision": "go", "decided_by_id": str(ws.user_id)}
    )
    assert decided.status_code == 201, decided.text
    go = await read(client, ws, f"stage-gates/{go['id']}")

    # A decided gate is the record of where its board decided it: the project stays with it.
    refused = await change(client, ws, "projects", core, {"tranche_id": second["id"]})
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'Core go' (go, on the tranche 'Tranche 1')" in detail, detail
    assert [e["field"] for e in refused.json()["errors"]] == ["tranche_id"]
    kept = await read(client, ws, f"projects/{core['id']}")
    assert (kept["tranche_id"], kept["version"]) == (first["id"], core["version"])
    still = await read(client, ws, f"stage-gates/{go['id']}")
    assert (still["tranche_id"], still["version"]) == (first["id"], go["version"])

    # Undecided ones (planned, in review) go with it, their ETags moving on; one naming no
    # tranche stays as it is.
    moved = await change(client, ws, "projects", pilot, {"tranche_id": second["id"]})
    assert moved.status_code == 200, moved.text
    for row in (planned, reviewing):
        now = await read(client, ws, f"stage-gates/{row['id']}")
        assert (now["tranche_id"], now["version"]) == (second["id"], row["version"] + 1)
        assert now["state"] == row["state"]
    now = await read(client, ws, f"stage-gates/{loose['id']}")
    assert (now["tranche_id"], now["version"]) == (None, loose["version"])
    # The project's gates agree with it: one naming its old tranche is refused, as before.
    mismatched = await client.post(
        url(ws, "stage-gates"),
        json={
            "programme_id": prog["id"],
            "project_id": pilot["id"],
            "tranche_id": first["id"],
            "title": "Pilot late",
        },
        headers=ws.headers,
    )
    assert mismatched.status_code == 422, mismatched.text


async def test_a_gate_planned_on_a_project_as_it_moves_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """The move holds the programme's row, as a gate's create does: a gate planned on the
    project's old tranche while the move is written waits for it, then reads the project moved
    (422), instead of both going through and the gate naming a tranche its project left."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")

    async def plan_gate() -> Any:
        async with in_workspace(database, ws.tenant_id) as planning:
            gates = GateService(planning, ws.user_id, Role.OWNER)
            body = GateCreate(
                programme_id=uuid.UUID(prog["id"]),
                project_id=uuid.UUID(core["id"]),
                tranche_id=uuid.UUID(first["id"]),
                title="Core start",
            )
            return await gates.create(body)

    async with in_workspace(database, ws.tenant_id) as moving:
        projects = ProjectService(moving, ws.user_id, Role.OWNER)
        project = await projects.get(uuid.UUID(core["id"]))
        await projects.update(project, {"tranche_id": uuid.UUID(second["id"])})  # uncommitted
        planning = asyncio.ensure_future(plan_gate())
        await asyncio.sleep(1)
        assert not planning.done()  # waiting for the move
    outcome = (await asyncio.gather(planning, return_exceptions=True))[0]
    assert isinstance(outcome, ValidationFailed), outcome
    listed = await read(client, ws, "stage-gates", project_id=core["id"])
    assert listed["items"] == []


async def test_a_project_moved_as_its_gate_is_decided_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """The move holds the gates it would take along before reading whether they are decided:
    one moved while a decision of its gate is written waits for it, then reads it decided
    (409), instead of taking a decided gate to a tranche its board never decided it on."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    review = await gate(client, ws, core, "Core review", first["id"])
    review = (await change(client, ws, "stage-gates", review, {"state": "in_review"})).json()

    async def move() -> Any:
        async with in_workspace(database, ws.tenant_id) as moving:
            projects = ProjectService(moving, ws.user_id, Role.OWNER)
            project = await projects.get(uuid.UUID(core["id"]))
            return await projects.update(project, {"tranche_id": uuid.UUID(second["id"])})

    async with in_workspace(database, ws.tenant_id) as deciding:
        gates = GateService(deciding, ws.user_id, Role.OWNER)
        row = await gates.get(uuid.UUID(review["id"]))
        await gates.decide(row, "go", ws.user_id, "", None, Role.OWNER)  # written, uncommitted
        moving = asyncio.ensure_future(move())
        await asyncio.sleep(1)
        assert not moving.done()  # waiting for the decision
    outcome = (await asyncio.gather(moving, return_exceptions=True))[0]
    assert isinstance(outcome, Conflict), outcome
    assert "'Core review' (go, on the tranche 'Tranche 1')" in outcome.detail
    assert (await read(client, ws, f"projects/{core['id']}"))["tranche_id"] == first["id"]
    assert (await read(client, ws, f"stage-gates/{review['id']}"))["tranche_id"] == first["id"]


def milestones_following_their_project(data: dict[str, Any]) -> None:
    """The tiny pack with its milestones naming no tranche (they follow their project's, so
    the project may move)."""
    data["milestones"] = [{**m, "tranche": None} for m in data["milestones"]]


def moving_build(data: dict[str, Any]) -> None:
    """1.1.0: the 'Build' project moves to the second tranche, nothing else."""
    milestones_following_their_project(data)
    data["version"] = "1.1.0"
    data["changes"] = ["Build moves to the second tranche."]
    build = next(p for p in data["projects"] if p["key"] == "build")
    build["tranche"] = "second"


async def test_a_template_upgrade_moving_a_project_moves_its_undecided_gates_or_holds_back(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    """The upgrade writes the project past the API with its rules (`update_seeded`): a
    decided gate of the client's on it holds the move back as a conflict naming the gate; with
    only undecided ones, they move with it."""
    ws = await make_workspace()
    pack = await publish_pack(milestones_following_their_project, moving_build)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    build = await seeded.get("projects", "project", "build")
    first = seeded.id("tranche", "first")
    planned = await gate(client, ws, build, "Build start", str(first))
    go = await gate(client, ws, build, "Build go", str(first))
    decided = await decide_gate(
        client, ws, go, {"decision": "go", "decided_by_id": str(ws.user_id)}
    )
    assert decided.status_code == 201, decided.text

    held = await seeded.apply()

    found = entry(held, "project", "build")
    assert found.action is Action.CONFLICT, found.reason
    assert "'Build go'" in found.reason, found.reason
    assert (await seeded.get("projects", "project", "build"))["tranche_id"] == str(first)
    now = await read(client, ws, f"stage-gates/{planned['id']}")
    assert (now["tranche_id"], now["version"]) == (str(first), planned["version"])


async def test_a_template_upgrade_moving_a_project_takes_its_undecided_gates(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(milestones_following_their_project, moving_build)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    build = await seeded.get("projects", "project", "build")
    first, second = seeded.id("tranche", "first"), seeded.id("tranche", "second")
    planned = await gate(client, ws, build, "Build start", str(first))

    applied = await seeded.apply()

    found = entry(applied, "project", "build")
    assert found.action is Action.UPDATE, found.reason
    assert (await seeded.get("projects", "project", "build"))["tranche_id"] == str(second)
    now = await read(client, ws, f"stage-gates/{planned['id']}")
    assert (now["tranche_id"], now["version"]) == (str(second), planned["version"] + 1)
