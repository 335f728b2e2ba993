"""The plan keeps to its boundaries: a closed tranche takes no new or re-dated milestones, a
change request re-baselines within its tranche and programme and within the schedule impact it
states, a forecast follows its baseline, and the board pack lists every dependency at risk."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import psycopg
from sqlalchemy import insert

from services.config import Settings
from services.db.engine import Database
from services.errors import Conflict
from services.identity.models import Role
from services.workspace.raid.models import Dependency, DependencyStatus
from services.workspace.structure.models import Milestone, TrancheState
from services.workspace.structure.schemas import MilestoneCreate
from services.workspace.structure.service import (
    MilestoneService,
    ProgrammeService,
    ProjectService,
    TrancheService,
)
from tests.conftest import MakeWorkspace, Member, Workspace, in_workspace, join
from tests.test_coordination_api import read, two_tranches
from tests.workspace_api import Client, change, day, make, programme, url


async def milestone(
    client: Client, ws: Workspace, prog: dict[str, Any], title: str, **fields: Any
) -> dict[str, Any]:
    return await make(
        client, ws, "milestones", {"programme_id": prog["id"], "title": title, **fields}
    )


async def raised(
    client: Client,
    ws: Workspace,
    prog: dict[str, Any],
    lines: list[tuple[dict[str, Any], int]],
    **fields: Any,
) -> dict[str, Any]:
    """A draft change request re-baselining each milestone to ``day(offset)``."""
    rebaselines = [{"milestone_id": m["id"], "new_baseline_date": day(o)} for m, o in lines]
    body = {"programme_id": prog["id"], "title": "Re-plan", "rebaselines": rebaselines}
    return await make(client, ws, "change-requests", body | fields)


async def approve(client: Client, ws: Workspace, approver: Member, row: dict[str, Any]) -> Any:
    current = await client.get(url(ws, f"change-requests/{row['id']}"), headers=ws.headers)
    return await client.post(
        url(ws, f"change-requests/{row['id']}/decision"),
        json={"decision": "approved"},
        headers={**approver.headers, "If-Match": current.headers["etag"]},
    )


async def submit(client: Client, ws: Workspace, row: dict[str, Any]) -> Any:
    return await change(client, ws, "change-requests", row, {"state": "submitted"})


async def test_a_closed_tranche_takes_no_new_moved_in_or_re_dated_milestones(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    kept = await milestone(
        client, ws, prog, "Core live", project_id=core["id"], forecast_date=day(5)
    )
    loose = await milestone(client, ws, prog, "Tranche 2 review", tranche_id=second["id"])
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for body, field in (
        ({"tranche_id": first["id"]}, "tranche_id"),
        ({"project_id": core["id"]}, "project_id"),
    ):
        refused = await client.post(
            url(ws, "milestones"),
            json={"programme_id": prog["id"], "title": "Late addition", **body},
            headers=ws.headers,
        )
        assert refused.status_code == 409, refused.text
        assert "'Tranche 1'" in refused.json()["detail"] and "closed" in refused.json()["detail"]
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    moved_in = await change(client, ws, "milestones", loose, {"tranche_id": first["id"]})
    assert moved_in.status_code == 409, moved_in.text
    assert [e["field"] for e in moved_in.json()["errors"]] == ["tranche_id"]
    re_dated = await change(client, ws, "milestones", kept, {"forecast_date": day(9)})
    assert re_dated.status_code == 409, re_dated.text
    assert [e["field"] for e in re_dated.json()["errors"]] == ["forecast_date"]
    assert (await read(client, ws, f"milestones/{kept['id']}"))["forecast_date"] == day(5)
    renamed = await change(client, ws, "milestones", kept, {"title": "Core went live"})
    assert renamed.status_code == 200, renamed.text
    # Carried over to a tranche still open, it is re-dated there.
    carried = await change(
        client,
        ws,
        "milestones",
        renamed.json(),
        {"project_id": portal["id"], "forecast_date": day(30)},
    )
    assert carried.status_code == 200, carried.text

    # A project does not join a closed tranche either (its milestones would follow it in).
    refused = await client.post(
        url(ws, "projects"),
        json={"programme_id": prog["id"], "name": "Late", "tranche_id": first["id"]},
        headers=ws.headers,
    )
    assert refused.status_code == 409, refused.text
    assert "'Tranche 1'" in refused.json()["detail"]
    moved = await change(client, ws, "projects", portal, {"tranche_id": first["id"]})
    assert moved.status_code == 409, moved.text
    assert [e["field"] for e in moved.json()["errors"]] == ["tranche_id"]


async def test_a_change_request_re_baselines_within_its_tranche_and_programme(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    approver = await join(database, ws, Role.ADMIN)
    prog = await make(client, ws, "programmes", {"name": "Net Zero", "end_date": day(300)})
    (first, second), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    ending = await change(client, ws, "tranches", second, {"end_date": day(200)})
    assert ending.status_code == 200, ending.text
    second = ending.json()
    portal_live = await milestone(
        client, ws, prog, "Portal live", project_id=portal["id"], baseline_date=day(100)
    )
    benefits = await milestone(client, ws, prog, "Benefits review", baseline_date=day(250))

    past_tranche = await raised(client, ws, prog, [(portal_live, 220)])
    refused = await submit(client, ws, past_tranche)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'Portal live'" in detail and day(220) in detail
    assert "'Tranche 2'" in detail and day(200) in detail
    assert [e["field"] for e in refused.json()["errors"]] == ["rebaselines"]
    past_programme = await raised(client, ws, prog, [(benefits, 310)])
    refused = await submit(client, ws, past_programme)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "'Benefits review'" in detail and day(310) in detail and day(300) in detail

    # Submitted within bounds, then the tranche is shortened: the approval checks again.
    within = await raised(client, ws, prog, [(portal_live, 150)])
    submitted = await submit(client, ws, within)
    assert submitted.status_code == 200, submitted.text
    shortened = await change(client, ws, "tranches", second, {"end_date": day(120)})
    assert shortened.status_code == 200, shortened.text
    refused = await approve(client, ws, approver, within)
    assert refused.status_code == 409, refused.text
    assert "'Portal live'" in refused.json()["detail"] and day(120) in refused.json()["detail"]
    assert (await read(client, ws, f"milestones/{portal_live['id']}"))["baseline_date"] == day(100)
    assert (await read(client, ws, f"change-requests/{within['id']}"))["state"] == "submitted"

    # A milestone of a closed tranche keeps its baseline: the tranche is history.
    core_live = await milestone(
        client, ws, prog, "Core live", project_id=core["id"], baseline_date=day(10)
    )
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text
    refused = await submit(client, ws, await raised(client, ws, prog, [(core_live, 20)]))
    assert refused.status_code == 409, refused.text
    assert "'Core live'" in refused.json()["detail"] and "'Tranche 1'" in refused.json()["detail"]


async def test_a_change_request_slips_no_more_than_its_stated_schedule_impact(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    approver = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    go_live = await milestone(client, ws, prog, "Go live", baseline_date=day(100))
    cutover = await milestone(client, ws, prog, "Cutover", baseline_date=day(90))

    understated = await raised(
        client, ws, prog, [(go_live, 130), (cutover, 95)], schedule_impact_days=10
    )
    refused = await submit(client, ws, understated)
    assert refused.status_code == 409, refused.text
    assert "'Go live'" in refused.json()["detail"] and "30 days" in refused.json()["detail"]
    assert [e["field"] for e in refused.json()["errors"]] == ["schedule_impact_days"]

    # Left out, the impact is the largest slip its re-baselines bring.
    unstated = await raised(client, ws, prog, [(go_live, 130), (cutover, 95)])
    submitted = await submit(client, ws, unstated)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["schedule_impact_days"] == 30

    # Another change approved meanwhile moves the baseline back: the slip grows past what the
    # first one states, and its approval is refused.
    earlier = await raised(client, ws, prog, [(go_live, 80)], schedule_impact_days=-20)
    assert (await submit(client, ws, earlier)).status_code == 200
    approved = await approve(client, ws, approver, earlier)
    assert approved.status_code == 200, approved.text
    refused = await approve(client, ws, approver, unstated)
    assert refused.status_code == 409, refused.text
    assert "50 days" in refused.json()["detail"]
    assert (await read(client, ws, f"milestones/{go_live['id']}"))["baseline_date"] == day(80)

    document = (await client.get("/schema/openapi.json")).json()
    described = document["components"]["schemas"]["ChangeRequestCreate"]["properties"]
    assert "largest slip" in str(described["schedule_impact_days"])
    assert "tranche" in str(described["rebaselines"])


async def test_a_forecast_that_equalled_the_baseline_moves_with_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    approver = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    on_plan = await milestone(
        client, ws, prog, "On plan", baseline_date=day(100), forecast_date=day(100)
    )
    own_forecast = await milestone(
        client, ws, prog, "Own forecast", baseline_date=day(100), forecast_date=day(110)
    )
    request = await raised(client, ws, prog, [(on_plan, 120), (own_forecast, 120)])
    assert (await submit(client, ws, request)).status_code == 200
    approved = await approve(client, ws, approver, request)
    assert approved.status_code == 200, approved.text

    moved = await read(client, ws, f"milestones/{on_plan['id']}")
    assert (moved["baseline_date"], moved["forecast_date"]) == (day(120), day(120))
    assert moved["slip_days"] == 0
    kept = await read(client, ws, f"milestones/{own_forecast['id']}")
    assert (kept["baseline_date"], kept["forecast_date"]) == (day(120), day(110))


async def test_the_board_pack_lists_dependencies_at_risk_past_many_on_track(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, portal = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Portal")
    ]
    sides = {"programme_id": prog["id"], "from_project_id": core["id"]}
    # Needed by the portal's milestone (no need-by date typed): its date is the need.
    portal_beta = await milestone(
        client, ws, prog, "Beta", project_id=portal["id"], forecast_date=day(20)
    )
    await make(
        client,
        ws,
        "dependencies",
        sides | {"title": "Beta needs", "to_milestone_id": portal_beta["id"], "status": "agreed"},
    )
    for title, need_by in (("Tight", 60), ("Later tight", 90)):
        await make(
            client,
            ws,
            "dependencies",
            sides
            | {
                "title": title,
                "to_project_id": portal["id"],
                "need_by_date": day(need_by),
                "committed_date": day(need_by - 2),
                "status": "agreed",
            },
        )
    # More dependencies on track, needed sooner, than the pack once read before filtering.
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            insert(Dependency),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": ws.tenant_id,
                    "programme_id": uuid.UUID(prog["id"]),
                    "title": f"On track {n}",
                    "from_project_id": uuid.UUID(core["id"]),
                    "to_project_id": uuid.UUID(portal["id"]),
                    "need_by_date": date.fromisoformat(day(50)),
                    "committed_date": date.fromisoformat(day(10)),
                    "status": DependencyStatus.AGREED,
                }
                for n in range(2001)
            ],
        )

    pack = await read(
        client,
        ws,
        f"programmes/{prog['id']}/board-pack",
        period_start=day(-10),
        period_end=day(0),
    )
    # All amber (no slack), by the date each is needed: the milestone's 20, then 60 and 90.
    assert [(d["title"], d["rag"]) for d in pack["dependencies_at_risk"]] == [
        ("Beta needs", "amber"),
        ("Tight", "amber"),
        ("Later tight", "amber"),
    ]


async def test_a_milestone_named_alone_moves_into_the_project_on_the_other_side(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """The side follows the milestone, and what it leaves is a dependency its create accepts:
    a milestone of a project may need something from that project as a whole (only the project
    as a whole does not depend on itself), so the move is not refused."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, portal = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Portal")
    ]
    launch = await milestone(client, ws, prog, "Launch", project_id=portal["id"])
    dependency = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Core for launch",
            "from_project_id": core["id"],
            "to_milestone_id": launch["id"],
        },
    )
    moved = await change(client, ws, "milestones", launch, {"project_id": core["id"]})
    assert moved.status_code == 200, moved.text
    current = await read(client, ws, f"dependencies/{dependency['id']}")
    assert current["version"] > dependency["version"]  # its sides moved with the milestone
    edited = await change(client, ws, "dependencies", current, {"title": "Core for its launch"})
    assert edited.status_code == 200, edited.text
    listed = await read(client, ws, "dependencies", project_id=portal["id"])
    assert listed["total"] == 0  # the side went with the milestone


async def test_a_closed_tranche_is_reopened_only_by_an_admin_or_owner(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """A tranche closes through its end-of-tranche review; a close made by mistake is put
    right by someone accountable for the workspace, not by any member stepping around what
    a closed tranche refuses."""
    ws = await make_workspace()
    member = await join(database, ws, Role.MEMBER)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    (first, _), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    async def reopen(who: dict[str, str], state: str) -> Any:
        current = await read(client, ws, f"tranches/{first['id']}")
        return await client.patch(
            url(ws, f"tranches/{first['id']}"),
            json={"state": state},
            headers={**who, "If-Match": f'"{current["version"]}"'},
        )

    for state in ("planned", "started"):
        refused = await reopen(member.headers, state)
        assert refused.status_code == 403, refused.text
        assert "'Tranche 1'" in refused.json()["detail"]
        assert [e["field"] for e in refused.json()["errors"]] == ["state"]
    assert (await read(client, ws, f"tranches/{first['id']}"))["state"] == "closed"
    # Still closed: it still takes no milestone.
    late = await client.post(
        url(ws, "milestones"),
        json={"programme_id": prog["id"], "title": "Late", "project_id": core["id"]},
        headers=member.headers,
    )
    assert late.status_code == 409, late.text
    # A member's other edits of the closed tranche are not reopening it.
    renamed = await client.patch(
        url(ws, f"tranches/{first['id']}"),
        json={"purpose": "Foundations"},
        headers={**member.headers, "If-Match": f'"{closed.json()["version"]}"'},
    )
    assert renamed.status_code == 200, renamed.text

    for who in (admin.headers, ws.headers):  # an admin, then the owner
        reopened = await reopen(who, "started")
        assert reopened.status_code == 200, reopened.text
        assert reopened.json()["state"] == "started"
        again = await change(client, ws, "tranches", reopened.json(), {"state": "closed"})
        assert again.status_code == 200, again.text


async def test_a_milestone_is_planned_within_its_tranche_and_programme(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """The baseline is the plan: it falls on or before the end of the milestone's tranche (its
    own, else its project's) and the programme's planned end, as a change request's re-baseline
    does. The forecast may slip past either: that is what slip reporting shows."""
    ws = await make_workspace()
    prog = await make(client, ws, "programmes", {"name": "Net Zero", "end_date": day(300)})
    (first, _), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    ending = await change(client, ws, "tranches", first, {"end_date": day(100)})
    assert ending.status_code == 200, ending.text

    for fields, boundary, field in (
        ({"project_id": core["id"], "baseline_date": day(120)}, day(100), "baseline_date"),
        ({"tranche_id": first["id"], "baseline_date": day(101)}, day(100), "baseline_date"),
        ({"baseline_date": day(301)}, day(300), "baseline_date"),
        ({"project_id": portal["id"], "baseline_date": day(310)}, day(300), "baseline_date"),
    ):
        refused = await client.post(
            url(ws, "milestones"),
            json={"programme_id": prog["id"], "title": "Core live", **fields},
            headers=ws.headers,
        )
        assert refused.status_code == 409, (fields, refused.text)
        detail = refused.json()["detail"]
        assert "'Core live'" in detail and fields["baseline_date"] in detail, detail
        assert boundary in detail, detail
        assert [e["field"] for e in refused.json()["errors"]] == [field]

    on_the_end = await milestone(
        client, ws, prog, "Core live", project_id=core["id"], baseline_date=day(100)
    )
    # The forecast slips past the tranche's end and the programme's: reported, not refused.
    slipping = await change(client, ws, "milestones", on_the_end, {"forecast_date": day(320)})
    assert slipping.status_code == 200, slipping.text
    assert slipping.json()["slip_days"] == 220
    unplanned = await milestone(client, ws, prog, "Portal live", project_id=portal["id"])
    # A baseline set later is checked as one given at creation.
    late = await change(client, ws, "milestones", unplanned, {"baseline_date": day(305)})
    assert late.status_code == 409, late.text
    assert [e["field"] for e in late.json()["errors"]] == ["baseline_date"]
    planned = await change(client, ws, "milestones", unplanned, {"baseline_date": day(200)})
    assert planned.status_code == 200, planned.text
    # Moved into a tranche ending before its baseline, it would be planned outside it.
    moved = await change(client, ws, "milestones", planned.json(), {"project_id": core["id"]})
    assert moved.status_code == 409, moved.text
    assert day(200) in moved.json()["detail"] and day(100) in moved.json()["detail"]
    assert [e["field"] for e in moved.json()["errors"]] == ["project_id"]
    assert (await read(client, ws, f"milestones/{unplanned['id']}"))["project_id"] == portal["id"]

    document = (await client.get("/schema/openapi.json")).json()
    for shape in ("MilestoneCreate", "MilestoneUpdate"):
        described = document["components"]["schemas"][shape]["properties"]
        assert "tranche" in str(described["baseline_date"]), shape


async def test_the_dependency_map_draws_every_dependency_of_a_big_programme(
    client: Client, make_workspace: MakeWorkspace, database: Database, settings: Settings
) -> None:
    """No edge is left off: the map once read the 2000 needed soonest. More milestone ends than
    one query may name (PostgreSQL takes 32767 parameters) are read too."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, portal = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Portal")
    ]
    go_live = await milestone(client, ws, prog, "Go live", project_id=portal["id"])
    needed_last = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Needed last",
            "from_project_id": core["id"],
            "to_milestone_id": go_live["id"],
            "need_by_date": day(90),
        },
    )
    # Each needed sooner, between two milestones of their own: more ends than one IN list.
    many = 16_400
    ends = [uuid.uuid4() for _ in range(2 * many)]
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            insert(Milestone),
            [
                {
                    "id": m,
                    "tenant_id": ws.tenant_id,
                    "programme_id": uuid.UUID(prog["id"]),
                    "project_id": uuid.UUID(core["id"] if n % 2 else portal["id"]),
                    "title": f"M{n}",
                }
                for n, m in enumerate(ends)
            ],
        )
        await session.execute(
            insert(Dependency),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": ws.tenant_id,
                    "programme_id": uuid.UUID(prog["id"]),
                    "title": f"Sooner {n}",
                    "from_milestone_id": ends[2 * n + 1],
                    "to_milestone_id": ends[2 * n],
                    "need_by_date": date.fromisoformat(day(50)),
                    "status": DependencyStatus.AGREED,
                }
                for n in range(many)
            ],
        )

    # As autovacuum would after such a load: the planner reads the tables as they now are.
    async with await psycopg.AsyncConnection.connect(
        str(settings.database_owner_url).replace("+psycopg", ""), autocommit=True
    ) as owner:
        await owner.execute("ANALYZE workspace.milestones, workspace.dependencies")
    graph = await read(client, ws, "dependency-map", programme_id=prog["id"])
    assert len(graph["edges"]) == many + 1
    last = [e for e in graph["edges"] if e["dependency_id"] == needed_last["id"]]
    assert [(e["source"], e["target"]) for e in last] == [(core["id"], go_live["id"])]
    kinds = [n["kind"] for n in graph["nodes"]]
    assert (kinds.count("milestone"), kinds.count("project")) == (2 * many + 1, 2)


async def test_a_milestone_added_as_its_tranche_closes_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """The milestone's check holds the tranche's row (FOR SHARE) while it reads whether the
    tranche is closed: one added while the close is written waits for it, and is then refused,
    rather than getting into the tranche the close has just made history."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, _), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")

    async with in_workspace(database, ws.tenant_id) as closing:
        tranches = TrancheService(closing, ws.user_id, Role.OWNER)
        tranche = await tranches.get(uuid.UUID(first["id"]))
        await tranches.update(tranche, {"state": TrancheState.CLOSED})  # written, uncommitted

        async def add(field: str, value: str) -> Any:
            async with in_workspace(database, ws.tenant_id) as adding:
                body = MilestoneCreate(prog_id, f"Late by {field}", **{field: uuid.UUID(value)})
                return await MilestoneService(adding, ws.user_id).create(body)

        prog_id = uuid.UUID(prog["id"])
        adding = [
            asyncio.ensure_future(add("tranche_id", first["id"])),
            asyncio.ensure_future(add("project_id", core["id"])),
        ]
        await asyncio.sleep(1)
        assert not any(task.done() for task in adding)  # waiting for the close
    outcomes = await asyncio.gather(*adding, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, Conflict), outcome
        assert "'Tranche 1'" in outcome.detail
    listed = await read(client, ws, "milestones", programme_id=prog["id"])
    assert listed["total"] == 0


async def test_a_closed_tranche_is_kept_on_record_and_not_deleted(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """A closed tranche is history: deleting it would erase its close (and free what it held to
    be carried anywhere), so it is refused for anyone, owner included (409 saying why). A close
    made by mistake is reopened by an admin or owner first; the reopened tranche is deleted as
    any started one (by an admin or owner), once nothing refers to it."""
    ws = await make_workspace()
    member = await join(database, ws, Role.MEMBER)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    first = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "Tranche 1"})
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for who in (member.headers, admin.headers, ws.headers):
        refused = await client.delete(url(ws, f"tranches/{first['id']}"), headers=who)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "'Tranche 1'" in detail and "closed" in detail and "reopen" in detail, detail
    assert (await read(client, ws, f"tranches/{first['id']}"))["state"] == "closed"

    current = await read(client, ws, f"tranches/{first['id']}")
    reopened = await client.patch(
        url(ws, f"tranches/{first['id']}"),
        json={"state": "started"},
        headers={**admin.headers, "If-Match": f'"{current["version"]}"'},
    )
    assert reopened.status_code == 200, reopened.text
    # Reopened to started, it is deleted as a started tranche is: by an admin or owner.
    refused = await client.delete(url(ws, f"tranches/{first['id']}"), headers=member.headers)
    assert refused.status_code == 403, refused.text
    deleted = await client.delete(url(ws, f"tranches/{first['id']}"), headers=admin.headers)
    assert deleted.status_code == 204, deleted.text


async def test_a_started_tranche_is_put_back_to_planned_only_by_an_admin_or_owner(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """A tranche starts through the gates on its way in; un-starting it is correcting a mistaken
    start, which (as reopening a closed one) is for someone accountable for the workspace."""
    ws = await make_workspace()
    member = await join(database, ws, Role.MEMBER)
    admin = await join(database, ws, Role.ADMIN)
    prog = await programme(client, ws)
    (first, _), _ = await two_tranches(client, ws, prog, "Core", "Portal")
    started = await client.patch(
        url(ws, f"tranches/{first['id']}"),
        json={"state": "started"},
        headers={**member.headers, "If-Match": f'"{first["version"]}"'},
    )
    assert started.status_code == 200, started.text  # starting is any member's

    async def unstart(who: dict[str, str]) -> Any:
        current = await read(client, ws, f"tranches/{first['id']}")
        return await client.patch(
            url(ws, f"tranches/{first['id']}"),
            json={"state": "planned"},
            headers={**who, "If-Match": f'"{current["version"]}"'},
        )

    refused = await unstart(member.headers)
    assert refused.status_code == 403, refused.text
    assert "'Tranche 1'" in refused.json()["detail"]
    assert [e["field"] for e in refused.json()["errors"]] == ["state"]
    assert (await read(client, ws, f"tranches/{first['id']}"))["state"] == "started"
    for who in (admin.headers, ws.headers):  # an admin, then the owner
        put_back = await unstart(who)
        assert put_back.status_code == 200, put_back.text
        assert put_back.json()["state"] == "planned"
        again = await change(client, ws, "tranches", put_back.json(), {"state": "started"})
        assert again.status_code == 200, again.text

    document = (await client.get("/schema/openapi.json")).json()
    described = document["components"]["schemas"]["TrancheUpdate"]["properties"]["state"]
    assert "put back to" in str(described) and "deleted" in str(described), described


async def test_an_end_moved_before_a_milestone_baseline_is_refused(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """The baseline is the plan, and falls within its tranche and the programme: neither end
    moves earlier than a milestone planned before it (409 counting them and naming the first),
    which is re-baselined through a change request first. Moving the end later, or to a day
    every baseline keeps within, goes through."""
    ws = await make_workspace()
    prog = await make(client, ws, "programmes", {"name": "Net Zero", "end_date": day(300)})
    (first, second), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    ending = await change(client, ws, "tranches", first, {"end_date": day(100)})
    assert ending.status_code == 200, ending.text
    first = ending.json()
    # In the tranche through its project, naming it, and in the other tranche.
    for title, fields in (
        ("Core live", {"project_id": core["id"], "baseline_date": day(90)}),
        ("Core review", {"tranche_id": first["id"], "baseline_date": day(80)}),
        ("Core kick-off", {"project_id": core["id"], "baseline_date": day(10)}),
        ("Portal live", {"project_id": portal["id"], "baseline_date": day(250)}),
        ("Unplanned", {"project_id": core["id"]}),
    ):
        await milestone(client, ws, prog, title, **fields)

    refused = await change(client, ws, "tranches", first, {"end_date": day(50)})
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "2 milestones" in detail and "'Core review'" in detail and "'Core live'" in detail
    assert "kick-off" not in detail and "Portal" not in detail and "Unplanned" not in detail
    assert "change request" in detail, detail
    assert [e["field"] for e in refused.json()["errors"]] == ["end_date"]
    assert (await read(client, ws, f"tranches/{first['id']}"))["end_date"] == day(100)
    for end in (day(90), day(120)):  # on the latest baseline, then later
        moved = await change(client, ws, "tranches", first, {"end_date": end})
        assert moved.status_code == 200, moved.text
        first = moved.json()
    # The other tranche's milestone is not this tranche's concern; ending it at all is.
    unbounded = await change(client, ws, "tranches", second, {"end_date": day(200)})
    assert unbounded.status_code == 409, unbounded.text
    assert "1 milestone " in unbounded.json()["detail"], unbounded.text
    assert "'Portal live'" in unbounded.json()["detail"]

    current = await read(client, ws, f"programmes/{prog['id']}")
    refused = await change(client, ws, "programmes", current, {"end_date": day(85)})
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "2 milestones" in detail and "'Core live'" in detail, detail
    assert "'Portal live'" in detail and "'Core review'" not in detail, detail
    assert [e["field"] for e in refused.json()["errors"]] == ["end_date"]
    assert (await read(client, ws, f"programmes/{prog['id']}"))["end_date"] == day(300)
    moved = await change(client, ws, "programmes", current, {"end_date": day(250)})
    assert moved.status_code == 200, moved.text

    document = (await client.get("/schema/openapi.json")).json()
    for shape in ("TrancheUpdate", "ProgrammeUpdate"):
        described = document["components"]["schemas"][shape]["properties"]["end_date"]
        assert "baseline" in str(described), shape


async def test_an_end_moved_as_a_milestone_is_planned_waits_and_counts_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """A milestone's write holds its tranche's row and its programme's (FOR SHARE) while it
    reads their ends; the end moving earlier meanwhile waits for it, then counts it, rather
    than leaving the baseline outside the new end."""
    ws = await make_workspace()

    async def tranche_end(prog: dict[str, Any], tranche: dict[str, Any]) -> Any:
        async with in_workspace(database, ws.tenant_id) as moving:
            tranches = TrancheService(moving, ws.user_id, Role.OWNER)
            row = await tranches.get(uuid.UUID(tranche["id"]))
            return await tranches.update(row, {"end_date": date.fromisoformat(day(50))})

    async def programme_end(prog: dict[str, Any], tranche: dict[str, Any]) -> Any:
        async with in_workspace(database, ws.tenant_id) as moving:
            programmes = ProgrammeService(moving, ws.user_id)
            row = await programmes.get(uuid.UUID(prog["id"]))
            return await programmes.update(row, {"end_date": date.fromisoformat(day(50))})

    for move in (tranche_end, programme_end):
        prog = await make(client, ws, "programmes", {"name": "Net Zero", "end_date": day(300)})
        (first, _), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
        async with in_workspace(database, ws.tenant_id) as adding:
            body = MilestoneCreate(
                uuid.UUID(prog["id"]),
                "Core live",
                project_id=uuid.UUID(core["id"]),
                baseline_date=date.fromisoformat(day(90)),
            )
            await MilestoneService(adding, ws.user_id).create(body)  # written, uncommitted
            moving = asyncio.ensure_future(move(prog, first))
            await asyncio.sleep(1)
            assert not moving.done(), move  # waiting for the milestone
        (outcome,) = await asyncio.gather(moving, return_exceptions=True)
        assert isinstance(outcome, Conflict), (move, outcome)
        assert "1 milestone " in outcome.detail and "'Core live'" in outcome.detail
        assert (await read(client, ws, f"tranches/{first['id']}"))["end_date"] is None
        assert (await read(client, ws, f"programmes/{prog['id']}"))["end_date"] == day(300)


async def test_a_closed_tranches_record_stays_in_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """What was achieved or dropped in a closed tranche, and when it ran, is its record: only a
    milestone still to deliver is carried out of it, and its dates are corrected by reopening
    it (an admin's or owner's), not by editing a closed tranche."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, _), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    dated = await change(
        client, ws, "tranches", first, {"start_date": day(-60), "end_date": day(-1)}
    )
    assert dated.status_code == 200, dated.text
    done = await milestone(client, ws, prog, "Core designed", project_id=core["id"])
    done = (await change(client, ws, "milestones", done, {"state": "achieved"})).json()
    dropped = await milestone(client, ws, prog, "Core pilot", project_id=core["id"])
    dropped = (await change(client, ws, "milestones", dropped, {"state": "cancelled"})).json()
    still = await milestone(client, ws, prog, "Core live", project_id=core["id"])
    closed = await change(client, ws, "tranches", dated.json(), {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for row in (done, dropped):
        for body, field in (
            ({"project_id": portal["id"]}, "project_id"),
            ({"project_id": None}, "project_id"),
        ):
            moved = await change(client, ws, "milestones", row, body)
            assert moved.status_code == 409, moved.text
            assert "'Tranche 1'" in moved.json()["detail"], moved.text
            assert [e["field"] for e in moved.json()["errors"]] == [field]
        kept = await read(client, ws, f"milestones/{row['id']}")
        assert (kept["project_id"], kept["version"]) == (core["id"], row["version"])
    carried = await change(client, ws, "milestones", still, {"project_id": portal["id"]})
    assert carried.status_code == 200, carried.text

    for field, value in (("start_date", day(-90)), ("end_date", day(-2))):
        re_dated = await change(client, ws, "tranches", closed.json(), {field: value})
        assert re_dated.status_code == 409, re_dated.text
        assert [e["field"] for e in re_dated.json()["errors"]] == [field]
    tranche = await read(client, ws, f"tranches/{first['id']}")
    assert (tranche["start_date"], tranche["end_date"]) == (day(-60), day(-1))
    renamed = await change(client, ws, "tranches", closed.json(), {"name": "Foundations"})
    assert renamed.status_code == 200, renamed.text


async def test_a_project_leaves_a_closed_tranche_only_while_still_delivering(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """A project carried out of a closed tranche takes with it its milestones naming no tranche
    of their own: it goes (to another tranche, or none) while none of them was achieved or
    cancelled there and it is not closed or cancelled itself, as a milestone still to deliver
    is carried over. Otherwise it is the closed tranche's record and stays (409 naming it)."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    pilot = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "Pilot", "tranche_id": first["id"]},
    )
    ended = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "Spike", "tranche_id": first["id"]},
    )
    ended = (await change(client, ws, "projects", ended, {"state": "closed"})).json()
    done = await milestone(client, ws, prog, "Core designed", project_id=core["id"])
    done = (await change(client, ws, "milestones", done, {"state": "achieved"})).json()
    dropped = await milestone(client, ws, prog, "Core pilot", project_id=core["id"])
    dropped = (await change(client, ws, "milestones", dropped, {"state": "cancelled"})).json()
    await milestone(client, ws, prog, "Core live", project_id=core["id"])
    still = await milestone(client, ws, prog, "Pilot live", project_id=pilot["id"])
    missed = await milestone(client, ws, prog, "Pilot review", project_id=pilot["id"])
    missed = (await change(client, ws, "milestones", missed, {"state": "missed"})).json()
    loose = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "Loose", "tranche_id": first["id"]},
    )
    signed_off = await milestone(
        client, ws, prog, "Loose signed off", project_id=loose["id"], tranche_id=first["id"]
    )
    signed_off = (await change(client, ws, "milestones", signed_off, {"state": "achieved"})).json()
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    for row, named in ((core, ("'Core designed'", "'Core pilot'")), (ended, ("closed",))):
        for target in (second["id"], None):
            refused = await change(client, ws, "projects", row, {"tranche_id": target})
            assert refused.status_code == 409, refused.text
            detail = refused.json()["detail"]
            assert "'Tranche 1'" in detail and all(n in detail for n in named), detail
            assert [e["field"] for e in refused.json()["errors"]] == ["tranche_id"]
        kept = await read(client, ws, f"projects/{row['id']}")
        assert (kept["tranche_id"], kept["version"]) == (first["id"], row["version"])
    for row in (done, dropped):
        kept = await read(client, ws, f"milestones/{row['id']}")
        assert kept["version"] == row["version"]
    in_first = await read(client, ws, "milestones", tranche_id=first["id"])
    assert {m["title"] for m in in_first["items"]} >= {"Core designed", "Core pilot"}

    # Still delivering (planned and missed milestones), it is carried on with them.
    carried = await change(client, ws, "projects", pilot, {"tranche_id": second["id"]})
    assert carried.status_code == 200, carried.text
    in_second = await read(client, ws, "milestones", tranche_id=second["id"])
    assert {still["id"], missed["id"]} <= {m["id"] for m in in_second["items"]}
    # One whose milestone on record names the tranche itself leaves it that milestone, and goes
    # (to no tranche: moving to another, the milestone would have to agree with it).
    left = await change(client, ws, "projects", loose, {"tranche_id": None})
    assert left.status_code == 200, left.text
    kept = await read(client, ws, f"milestones/{signed_off['id']}")
    assert (kept["tranche_id"], kept["version"]) == (first["id"], signed_off["version"])


async def test_a_project_moved_out_as_its_tranche_closes_waits_and_is_refused(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """The project's check holds the tranche's row (FOR SHARE) while it reads whether the
    tranche is closed: a project moved out while the close is written waits for it, and is
    then refused, its achieved milestone staying in the tranche the close made history."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, _) = await two_tranches(client, ws, prog, "Core", "Portal")
    done = await milestone(client, ws, prog, "Core designed", project_id=core["id"])
    assert (await change(client, ws, "milestones", done, {"state": "achieved"})).status_code == 200

    async def move(target: uuid.UUID | None) -> Any:
        async with in_workspace(database, ws.tenant_id) as moving:
            projects = ProjectService(moving, ws.user_id, Role.OWNER)
            project = await projects.get(uuid.UUID(core["id"]))
            return await projects.update(project, {"tranche_id": target})

    async with in_workspace(database, ws.tenant_id) as closing:
        tranches = TrancheService(closing, ws.user_id, Role.OWNER)
        tranche = await tranches.get(uuid.UUID(first["id"]))
        await tranches.update(tranche, {"state": TrancheState.CLOSED})  # written, uncommitted
        moving = [
            asyncio.ensure_future(move(uuid.UUID(second["id"]))),
            asyncio.ensure_future(move(None)),
        ]
        await asyncio.sleep(1)
        assert not any(task.done() for task in moving)  # waiting for the close
    outcomes = await asyncio.gather(*moving, return_exceptions=True)
    for outcome in outcomes:
        assert isinstance(outcome, Conflict), outcome
        assert "'Tranche 1'" in outcome.detail and "'Core designed'" in outcome.detail
    assert (await read(client, ws, f"projects/{core['id']}"))["tranche_id"] == first["id"]


async def test_a_closed_tranches_wording_is_still_corrected(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Fixing a typo in history is normal: a closed tranche's name, purpose and capabilities are
    still changed (by a member too), and the API says so; its dates and contents are what is
    fixed (test_a_closed_tranches_record_stays_in_it)."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    first = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "Tranch 1"})
    closed = await change(client, ws, "tranches", first, {"state": "closed"})
    assert closed.status_code == 200, closed.text
    body = {"name": "Tranche 1", "purpose": "Core systems", "capabilities": ["Billing live"]}
    corrected = await change(client, ws, "tranches", closed.json(), body)
    assert corrected.status_code == 200, corrected.text
    tranche = await read(client, ws, f"tranches/{first['id']}")
    assert {k: tranche[k] for k in (*body, "state")} == {**body, "state": "closed"}

    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    fields = schemas["TrancheUpdate"]["properties"]
    for field in body:
        described = " ".join(
            s.get("description", "") for s in [fields[field], *fields[field].get("oneOf", [])]
        )
        assert "closed" in described, (field, fields[field])
    project = schemas["ProjectUpdate"]["properties"]["tranche_id"]
    described = " ".join(s.get("description", "") for s in [project, *project.get("oneOf", [])])
    assert "leaves a closed one" in described, project
