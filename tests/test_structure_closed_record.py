"""A closed tranche's record is not changed round the side: what its milestones and projects
came to there keeps its state, is not deleted, and the tranche keeps its place in the sequence.
An admin or owner reopens the tranche to correct it (test_plan_boundaries_api covers the moves
out and the re-dating)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.db.engine import Database
from services.errors import Conflict
from services.identity.models import Role
from services.workspace.structure.models import MilestoneState, TrancheState
from services.workspace.structure.service import MilestoneService, TrancheService
from tests.conftest import MakeWorkspace, in_workspace, join
from tests.test_coordination_api import read, two_tranches
from tests.workspace_api import Client, change, day, make, programme, url


async def milestone(
    client: Client, ws: Any, prog: dict[str, Any], title: str, state: str = "planned", **fields: Any
) -> dict[str, Any]:
    row = await make(
        client, ws, "milestones", {"programme_id": prog["id"], "title": title, **fields}
    )
    if state != "planned":
        changed = await change(client, ws, "milestones", row, {"state": state})
        assert changed.status_code == 200, changed.text
        row = changed.json()
    return row


def fields_of(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def described(schemas: dict[str, Any], shape: str, field: str) -> str:
    found = schemas[shape]["properties"][field]
    return " ".join(s.get("description", "") for s in [found, *found.get("oneOf", [])])


async def test_a_milestone_on_a_closed_tranches_record_keeps_its_state(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Achieved or cancelled in a closed tranche (through its project, or naming the tranche),
    a milestone keeps its state and actual date (409 naming the tranche): put back to planned
    it could be carried out, or deleted, emptying the record in two steps. One still to
    deliver goes between planned and missed, and is achieved or cancelled only once carried
    over to a tranche still open (in the same change, or first)."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, _), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    done = await milestone(client, ws, prog, "Core designed", "achieved", project_id=core["id"])
    dropped = await milestone(client, ws, prog, "Core pilot", "cancelled", project_id=core["id"])
    review = await milestone(client, ws, prog, "T1 review", "achieved", tranche_id=first["id"])
    still = await milestone(client, ws, prog, "Core live", project_id=core["id"])
    other = await milestone(client, ws, prog, "Core handover", project_id=core["id"])
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for row in (done, dropped, review):
        # Carried out while put back in one change, as in two.
        out = {"project_id": portal["id"]} if row["project_id"] else {"tranche_id": None}
        for body, field in (
            ({"state": "planned"}, "state"),
            ({"state": "missed"}, "state"),
            ({"state": "cancelled" if row is not dropped else "achieved"}, "state"),
            ({"state": "planned", **out}, next(iter(out))),
        ):
            refused = await change(client, ws, "milestones", row, body)
            assert refused.status_code == 409, (body, refused.text)
            assert "'Tranche 1'" in refused.json()["detail"], refused.text
            assert fields_of(refused) == [field], refused.text
        kept = await read(client, ws, f"milestones/{row['id']}")
        assert (kept["state"], kept["version"]) == (row["state"], row["version"])
    re_dated = await change(client, ws, "milestones", done, {"actual_date": day(-3)})
    assert re_dated.status_code == 409, re_dated.text
    assert fields_of(re_dated) == ["actual_date"]
    assert (await read(client, ws, f"milestones/{done['id']}"))["actual_date"] == done[
        "actual_date"
    ]
    reworded = await change(client, ws, "milestones", done, {"title": "Core design signed off"})
    assert reworded.status_code == 200, reworded.text

    # Still to deliver: missed (and back) in the closed tranche, not achieved or cancelled there.
    missed = await change(client, ws, "milestones", still, {"state": "missed"})
    assert missed.status_code == 200, missed.text
    for state in ("achieved", "cancelled"):
        refused = await change(client, ws, "milestones", missed.json(), {"state": state})
        assert refused.status_code == 409, refused.text
        assert "'Tranche 1'" in refused.json()["detail"] and "Carry" in refused.json()["detail"]
        assert fields_of(refused) == ["state"]
    back = await change(client, ws, "milestones", missed.json(), {"state": "planned"})
    assert back.status_code == 200, back.text
    carried = await change(
        client, ws, "milestones", back.json(), {"project_id": portal["id"], "state": "achieved"}
    )
    assert carried.status_code == 200, carried.text
    assert carried.json()["actual_date"] is not None
    cancelled = await change(client, ws, "milestones", other, {"project_id": portal["id"]})
    assert cancelled.status_code == 200, cancelled.text
    cancelled = await change(client, ws, "milestones", cancelled.json(), {"state": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text

    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    for field in ("state", "actual_date"):
        assert "closed tranche" in described(schemas, "MilestoneUpdate", field), field


async def test_a_milestone_on_a_closed_tranches_record_is_not_deleted(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Deleting a milestone achieved or cancelled in a closed tranche erases the record (409
    naming it, for the owner too); one still to deliver is deleted as any other (it could be
    carried out first anyway). Once an admin reopens the tranche, it goes."""
    ws = await make_workspace()
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    (first, _), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    done = await milestone(client, ws, prog, "Core designed", "achieved", project_id=core["id"])
    dropped = await milestone(client, ws, prog, "Review", "cancelled", tranche_id=first["id"])
    still = await milestone(client, ws, prog, "Core live", project_id=core["id"])
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for row in (done, dropped):
        refused = await client.delete(url(ws, f"milestones/{row['id']}"), headers=ws.headers)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "'Tranche 1'" in detail and "reopens" in detail, detail
        assert (await read(client, ws, f"milestones/{row['id']}"))["version"] == row["version"]
    gone = await client.delete(url(ws, f"milestones/{still['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text

    reopened = await client.patch(
        url(ws, f"tranches/{first['id']}"),
        json={"state": "started"},
        headers={**admin.headers, "If-Match": f'"{closed.json()["version"]}"'},
    )
    assert reopened.status_code == 200, reopened.text
    gone = await client.delete(url(ws, f"milestones/{done['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text


async def test_a_project_on_a_closed_tranches_record_is_not_deleted(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A project closed or cancelled in a closed tranche, or with milestones achieved or
    cancelled in one, is part of its record: deleting it is a 409 naming the tranche (and the
    milestones). A project still delivering there, with nothing on record, is deleted."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, _), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    await milestone(client, ws, prog, "Core designed", "achieved", project_id=core["id"])
    ended = {}
    for name, state in (("Spike", "closed"), ("Pilot", "cancelled"), ("Idea", "active")):
        project = await make(
            client,
            ws,
            "projects",
            {"programme_id": prog["id"], "name": name, "tranche_id": first["id"]},
        )
        ended[name] = (await change(client, ws, "projects", project, {"state": state})).json()
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    refused = await client.delete(url(ws, f"projects/{core['id']}"), headers=ws.headers)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'Tranche 1'" in detail and "'Core designed' (achieved)" in detail, detail
    for name in ("Spike", "Pilot"):
        row = ended[name]
        refused = await client.delete(url(ws, f"projects/{row['id']}"), headers=ws.headers)
        assert refused.status_code == 409, refused.text
        assert "'Tranche 1'" in refused.json()["detail"], refused.text
        assert (await read(client, ws, f"projects/{row['id']}"))["version"] == row["version"]
    idea = ended["Idea"]
    gone = await client.delete(url(ws, f"projects/{idea['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text


async def test_an_ended_project_in_a_closed_tranche_keeps_its_state(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A project closed or cancelled in a closed tranche is part of its record: its state does
    not change while the tranche is closed (409 on state naming it). One still delivering
    there still changes state (a project's own closure may follow its tranche's)."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, _), _ = await two_tranches(client, ws, prog, "Core", "Portal")
    rows = {}
    for name, state in (("Spike", "closed"), ("Pilot", "cancelled"), ("Build", "active")):
        project = await make(
            client,
            ws,
            "projects",
            {"programme_id": prog["id"], "name": name, "tranche_id": first["id"]},
        )
        rows[name] = (await change(client, ws, "projects", project, {"state": state})).json()
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for name, others in (("Spike", ("active", "cancelled")), ("Pilot", ("active", "closed"))):
        row = rows[name]
        for state in others:
            refused = await change(client, ws, "projects", row, {"state": state})
            assert refused.status_code == 409, refused.text
            assert "'Tranche 1'" in refused.json()["detail"], refused.text
            assert fields_of(refused) == ["state"]
        kept = await read(client, ws, f"projects/{row['id']}")
        assert (kept["state"], kept["version"]) == (row["state"], row["version"])
        renamed = await change(client, ws, "projects", row, {"name": f"{name} (done)"})
        assert renamed.status_code == 200, renamed.text
    finished = await change(client, ws, "projects", rows["Build"], {"state": "closed"})
    assert finished.status_code == 200, finished.text

    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    assert "closed tranche" in described(schemas, "ProjectUpdate", "state")


async def test_a_closed_tranche_keeps_its_place_in_the_sequence(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Which tranches ran before a closed one is its record: the closed tranche does not move,
    and no tranche is moved or added before it (409 on position naming it). Moving after it,
    or sharing its position, goes through; an admin or owner reopening it moves it."""
    ws = await make_workspace()
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    (first, second), _ = await two_tranches(client, ws, prog, "Core", "Portal")
    third = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "Tranche 3", "position": 3}
    )
    closed = await change(client, ws, "tranches", second, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    moved = await change(client, ws, "tranches", closed.json(), {"position": 5})
    assert moved.status_code == 409, moved.text
    assert "'Tranche 2'" in moved.json()["detail"] and fields_of(moved) == ["position"]
    for position in (1, 0):
        ahead = await change(client, ws, "tranches", third, {"position": position})
        assert ahead.status_code == 409, ahead.text
        assert "'Tranche 2'" in ahead.json()["detail"] and fields_of(ahead) == ["position"]
    added = await client.post(
        url(ws, "tranches"),
        json={"programme_id": prog["id"], "name": "Tranche 0", "position": 1},
        headers=ws.headers,
    )
    assert added.status_code == 409, added.text
    assert fields_of(added) == ["position"]
    positions = {t["name"]: t["position"] for t in (await read(client, ws, "tranches"))["items"]}
    assert positions == {"Tranche 1": 1, "Tranche 2": 2, "Tranche 3": 3}

    # Before it already, a tranche moves within (or after) it; after it, to its side.
    for row, position in ((first, 0), (third, 2), (third, 4)):
        current = await read(client, ws, f"tranches/{row['id']}")
        fine = await change(client, ws, "tranches", current, {"position": position})
        assert fine.status_code == 200, (position, fine.text)
    renamed = await change(client, ws, "tranches", closed.json(), {"name": "Tranche two"})
    assert renamed.status_code == 200, renamed.text
    corrected = await client.patch(
        url(ws, f"tranches/{second['id']}"),
        json={"state": "started", "position": 5},
        headers={**admin.headers, "If-Match": f'"{renamed.json()["version"]}"'},
    )
    assert corrected.status_code == 200, corrected.text

    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    assert "closed" in described(schemas, "TrancheUpdate", "position")


async def test_a_milestone_put_back_as_its_tranche_closes_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """The milestone's state check holds the tranche's row (FOR SHARE): an achieved milestone
    put back to planned while the close is written waits for it, and is then refused."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, _), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    done = await milestone(client, ws, prog, "Core designed", "achieved", project_id=core["id"])

    async def put_back() -> Any:
        async with in_workspace(database, ws.tenant_id) as writing:
            milestones = MilestoneService(writing, ws.user_id)
            row = await milestones.get(uuid.UUID(done["id"]))
            return await milestones.update(row, {"state": MilestoneState.PLANNED})

    async with in_workspace(database, ws.tenant_id) as closing:
        tranches = TrancheService(closing, ws.user_id, Role.OWNER)
        tranche = await tranches.get(uuid.UUID(first["id"]))
        await tranches.update(tranche, {"state": TrancheState.CLOSED})  # written, uncommitted
        writing = asyncio.ensure_future(put_back())
        await asyncio.sleep(1)
        assert not writing.done()  # waiting for the close
    (outcome,) = await asyncio.gather(writing, return_exceptions=True)
    assert isinstance(outcome, Conflict), outcome
    assert "'Tranche 1'" in outcome.detail
    assert (await read(client, ws, f"milestones/{done['id']}"))["state"] == "achieved"


async def test_no_tranche_before_a_closed_one_is_deleted_or_moved_out_from_before_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Which tranches came before a closed one is its record, as for moves and adds before it:
    a tranche placed before a closed one (planned or under way) is not deleted, nor moved out
    to its position or after it (409 naming it), where the two steps (move out, then delete)
    would do the same. One after it is deleted as any other; once an admin reopens the closed
    tranche, the one before it goes."""
    ws = await make_workspace()
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    tranches = {
        position: await make(
            client,
            ws,
            "tranches",
            {"programme_id": prog["id"], "name": f"Tranche {position}", "position": position},
        )
        for position in (1, 2, 3, 4)
    }
    second = tranches[2]
    for state in ("started", "closed"):
        moved = await change(client, ws, "tranches", second, {"state": state})
        assert moved.status_code == 200, moved.text
        second = moved.json()
    first, third, fourth = tranches[1], tranches[3], tranches[4]

    refused = await client.delete(url(ws, f"tranches/{first['id']}"), headers=ws.headers)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'Tranche 1'" in detail and "'Tranche 2'" in detail and "reopens" in detail, detail
    for position in (2, 5):
        out = await change(client, ws, "tranches", first, {"position": position})
        assert out.status_code == 409, out.text
        assert "'Tranche 2'" in out.json()["detail"] and fields_of(out) == ["position"]
    assert (await read(client, ws, f"tranches/{first['id']}"))["version"] == first["version"]
    within = await change(client, ws, "tranches", first, {"position": 0})
    assert within.status_code == 200, within.text
    gone = await client.delete(url(ws, f"tranches/{fourth['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text
    assert (await read(client, ws, f"tranches/{third['id']}"))["position"] == 3

    reopened = await client.patch(
        url(ws, f"tranches/{second['id']}"),
        json={"state": "started"},
        headers={**admin.headers, "If-Match": f'"{second["version"]}"'},
    )
    assert reopened.status_code == 200, reopened.text
    gone = await client.delete(url(ws, f"tranches/{first['id']}"), headers=ws.headers)
    assert gone.status_code == 204, gone.text


async def test_a_started_tranche_is_deleted_by_an_admin_or_owner_only(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """Putting a started tranche back to planned is an admin's or owner's (403 for a member):
    deleting it, which erases its start with it, is too. A planned one a member deletes."""
    ws = await make_workspace()
    member = await join(database, ws, Role.MEMBER)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    started = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "Build"})
    started = (await change(client, ws, "tranches", started, {"state": "started"})).json()
    planned = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "Run", "position": 2}
    )

    refused = await client.delete(url(ws, f"tranches/{started['id']}"), headers=member.headers)
    assert refused.status_code == 403, refused.text
    assert "'Build'" in refused.json()["detail"] and "admin" in refused.json()["detail"]
    assert (await read(client, ws, f"tranches/{started['id']}"))["state"] == "started"
    gone = await client.delete(url(ws, f"tranches/{planned['id']}"), headers=member.headers)
    assert gone.status_code == 204, gone.text
    gone = await client.delete(url(ws, f"tranches/{started['id']}"), headers=admin.headers)
    assert gone.status_code == 204, gone.text
