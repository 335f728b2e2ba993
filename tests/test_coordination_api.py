"""How projects, milestones, dependencies and gates hold together across a programme: a
cancelled project, a slipping milestone, a milestone moved, the filters and views that follow
links."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from services.db.engine import Database
from services.workspace.registers import update_seeded
from services.workspace.structure.models import Milestone
from services.workspace.structure.service import MilestoneService
from tests.conftest import MakeWorkspace, Workspace, in_workspace, join
from tests.test_gates_api import decide_gate
from tests.workspace_api import Client, change, day, make, programme, url


async def read(client: Client, ws: Workspace, path: str, **params: Any) -> Any:
    response = await client.get(url(ws, path), params=params, headers=ws.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_cancelled_project_drives_no_schedule_and_its_dependencies_read_red(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, migration = [
        await make(
            client,
            ws,
            "projects",
            {"programme_id": prog["id"], "name": name, "state": "active"},
        )
        for name in ("Core", "Migration")
    ]
    for project, title, offset in ((core, "Go-live", 10), (migration, "Data migrated", -60)):
        await make(
            client,
            ws,
            "milestones",
            {
                "programme_id": prog["id"],
                "project_id": project["id"],
                "title": title,
                "baseline_date": day(offset),
                "forecast_date": day(offset),
            },
        )
    dependency = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Migrated data for go-live",
            "from_project_id": migration["id"],
            "to_project_id": core["id"],
            "need_by_date": day(40),
            "committed_date": day(10),
            "status": "agreed",
        },
    )
    assert dependency["rag"] == "green"
    draft = await make(
        client,
        ws,
        "status-reports",
        {"programme_id": prog["id"], "period_start": day(-20), "period_end": day(5)},
    )
    suggestion = f"status-reports/{draft['id']}/suggestion"
    assert (await read(client, ws, suggestion))["rags"]["schedule"] == "red"  # 60 days late

    cancelled = await change(client, ws, "projects", migration, {"state": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text

    board = await read(client, ws, f"programmes/{prog['id']}/dashboard", horizon_days=60)
    assert [m["title"] for m in board["milestones_due"]] == ["Go-live"]
    assert board["milestones_due_count"] == 1
    suggested = await read(client, ws, suggestion)
    assert suggested["evidence"]["schedule_slip_weeks"] == 0.0
    assert suggested["rags"]["schedule"] == "green"
    shown = await read(client, ws, f"dependencies/{dependency['id']}")
    assert shown["rag"] == "red"
    assert shown["version"] > dependency["version"]  # its ETag moved on with its RAG
    graph = await read(client, ws, "dependency-map", programme_id=prog["id"])
    assert [e["rag"] for e in graph["edges"]] == ["red"]
    refused = await client.post(
        url(ws, "milestones"),
        json={"programme_id": prog["id"], "project_id": migration["id"], "title": "Cutover"},
        headers=ws.headers,
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["project_id"]


async def test_a_dependency_reads_the_milestones_it_links(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, interfaces = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Interfaces")
    ]

    async def milestone(project: dict[str, Any], title: str, offset: int) -> dict[str, Any]:
        body = {"baseline_date": day(offset), "forecast_date": day(offset)}
        return await make(
            client,
            ws,
            "milestones",
            {"programme_id": prog["id"], "project_id": project["id"], "title": title} | body,
        )

    ready = await milestone(interfaces, "Interfaces ready", 20)
    go_live = await milestone(core, "Go-live", 25)
    sides = {
        "programme_id": prog["id"],
        "from_project_id": interfaces["id"],
        "from_milestone_id": ready["id"],
        "to_project_id": core["id"],
        "status": "agreed",
    }
    typed = await make(
        client,
        ws,
        "dependencies",
        sides | {"title": "Typed need-by", "need_by_date": day(30), "committed_date": day(20)},
    )
    assert typed["rag"] == "green"
    # No need-by date: the needing milestone's date (day 25) is the need.
    needing = await make(
        client,
        ws,
        "dependencies",
        sides | {"title": "Go-live needs it", "to_milestone_id": go_live["id"]},
    )
    assert needing["rag"] == "amber"  # five days to spare

    slipped = await change(client, ws, "milestones", ready, {"forecast_date": day(45)})
    assert slipped.status_code == 200, slipped.text
    shown = await read(client, ws, f"dependencies/{typed['id']}")
    assert (shown["rag"], shown["committed_date"]) == ("red", day(20))  # the milestone commits
    assert shown["version"] > typed["version"]
    page = await read(client, ws, "dependencies", programme_id=prog["id"])
    assert {d["title"]: d["rag"] for d in page["items"]} == {
        "Typed need-by": "red",
        "Go-live needs it": "red",
    }
    graph = await read(client, ws, "dependency-map", programme_id=prog["id"])
    assert [e["rag"] for e in graph["edges"]] == ["red", "red"]

    achieved = await change(client, ws, "milestones", slipped.json(), {"state": "achieved"})
    assert achieved.status_code == 200, achieved.text
    page = await read(client, ws, "dependencies", programme_id=prog["id"])
    assert [d["rag"] for d in page["items"]] == ["green", "green"]  # delivered today

    document = (await client.get("/schema/openapi.json")).json()
    described = document["components"]["schemas"]["DependencyRead"]["properties"]["rag"]
    assert "from_milestone_id" in str(described)


async def test_a_milestone_named_with_its_project_by_a_dependency_does_not_move_project(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    interfaces, core, portal = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Interfaces", "Core", "Portal")
    ]
    ready = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "project_id": interfaces["id"], "title": "Ready"},
    )
    dependency = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Interfaces for go-live",
            "from_project_id": interfaces["id"],
            "from_milestone_id": ready["id"],
            "to_project_id": core["id"],
        },
    )
    moved = await change(client, ws, "milestones", ready, {"project_id": portal["id"]})
    assert moved.status_code == 409, moved.text
    assert "'Interfaces for go-live'" in moved.json()["detail"]
    assert [e["field"] for e in moved.json()["errors"]] == ["project_id"]
    assert (await read(client, ws, f"milestones/{ready['id']}"))["project_id"] == interfaces["id"]
    renamed = await change(client, ws, "dependencies", dependency, {"title": "Renamed"})
    assert renamed.status_code == 200, renamed.text

    # Named by the milestone alone, the side follows it wherever it goes.
    launch = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "project_id": core["id"], "title": "Launch"},
    )
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Interfaces for launch",
            "from_project_id": interfaces["id"],
            "to_milestone_id": launch["id"],
        },
    )
    moved = await change(client, ws, "milestones", launch, {"project_id": portal["id"]})
    assert moved.status_code == 200, moved.text


async def two_tranches(
    client: Client, ws: Workspace, prog: dict[str, Any], *projects: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tranches 1 and 2 of ``prog``, and a project named in ``projects`` in each, in order."""
    tranches = [
        await make(
            client,
            ws,
            "tranches",
            {"programme_id": prog["id"], "name": f"Tranche {position}", "position": position},
        )
        for position in (1, 2)
    ]
    made = [
        await make(
            client,
            ws,
            "projects",
            {"programme_id": prog["id"], "name": name, "tranche_id": tranche["id"]},
        )
        for name, tranche in zip(projects, tranches, strict=True)
    ]
    return tranches, made


async def test_filters_follow_a_milestone_to_its_project_and_tranche(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    (_, second), (migration, portal) = await two_tranches(client, ws, prog, "Migration", "Portal")
    named = await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "project_id": portal["id"],
            "tranche_id": second["id"],
            "title": "Portal live",
        },
    )
    following = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "project_id": portal["id"], "title": "Portal beta"},
    )
    await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "project_id": migration["id"], "title": "Data migrated"},
    )
    in_second = await read(client, ws, "milestones", tranche_id=second["id"])
    assert {m["title"] for m in in_second["items"]} == {named["title"], following["title"]}
    assert in_second["total"] == 2

    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Migrated data for the beta",
            "from_project_id": migration["id"],
            "to_milestone_id": following["id"],
        },
    )
    for project in (portal, migration):
        found = await read(client, ws, "dependencies", project_id=project["id"])
        assert [d["title"] for d in found["items"]] == ["Migrated data for the beta"]


async def test_a_tranche_is_held_by_its_own_gates_and_a_project_gate_stays_in_its_tranche(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    (first, second), (core, portal) = await two_tranches(client, ws, prog, "Core", "Portal")
    started = await change(client, ws, "tranches", first, {"state": "started"})
    assert started.status_code == 200, started.text

    def gate(tranche: dict[str, Any], title: str, boundary: str, **more: Any) -> dict[str, Any]:
        body = {"programme_id": prog["id"], "tranche_id": tranche["id"], "boundary": boundary}
        return body | {"title": title} | more

    mismatched = await client.post(
        url(ws, "stage-gates"),
        json=gate(first, "Portal in tranche 1", "exit", project_id=portal["id"]),
        headers=ws.headers,
    )
    assert mismatched.status_code == 422, mismatched.text
    assert [e["field"] for e in mismatched.json()["errors"]] == ["project_id"]
    review = await make(client, ws, "stage-gates", gate(first, "End of tranche 1", "exit"))
    await make(
        client, ws, "stage-gates", gate(second, "Portal start", "entry", project_id=portal["id"])
    )
    # A project's gate on a tranche under way holds nothing: it may be planned there.
    await make(
        client, ws, "stage-gates", gate(first, "Core closure", "exit", project_id=core["id"])
    )

    held = await change(client, ws, "tranches", second, {"state": "started"})
    assert held.status_code == 409, held.text
    assert "'End of tranche 1' (undecided)" in held.json()["detail"]
    assert "Portal start" not in held.json()["detail"]

    decided = await decide_gate(
        client, ws, review, {"decision": "go", "decided_by_id": str(ws.user_id)}
    )
    assert decided.status_code == 201, decided.text
    # The project gates are the projects' business: neither holds its tranche.
    started = await change(client, ws, "tranches", second, {"state": "started"})
    assert started.status_code == 200, started.text
    closed = await change(
        client,
        ws,
        "tranches",
        await read(client, ws, f"tranches/{first['id']}"),
        {"state": "closed"},
    )
    assert closed.status_code == 200, closed.text


async def test_the_dependency_map_draws_the_projects_of_its_nodes_and_ends(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, migration, portal, training = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Migration", "Portal", "Training")
    ]
    go_live, beta = [
        await make(
            client,
            ws,
            "milestones",
            {"programme_id": prog["id"], "project_id": project["id"], "title": title},
        )
        for project, title in ((core, "Go-live"), (portal, "Beta"))
    ]
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Data for go-live",
            "from_project_id": migration["id"],
            "to_project_id": core["id"],
            "to_milestone_id": go_live["id"],
        },
    )
    # The to side names only the milestone: its project is drawn as the milestone's owner.
    await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Trained staff for the beta",
            "from_project_id": training["id"],
            "to_milestone_id": beta["id"],
        },
    )
    graph = await read(client, ws, "dependency-map", programme_id=prog["id"])
    nodes = {n["id"]: n for n in graph["nodes"]}
    projects = {n["label"] for n in graph["nodes"] if n["kind"] == "project"}
    assert projects == {"Core", "Migration", "Portal", "Training"}
    for edge in graph["edges"]:
        for end in (edge["source"], edge["target"]):
            node = nodes[end]
            assert node["kind"] == "project" or node["project_id"] in nodes
    ends = {end for e in graph["edges"] for end in (e["source"], e["target"])}
    owners = {n["project_id"] for n in graph["nodes"] if n["kind"] == "milestone"}
    assert set(nodes) == ends | owners


async def test_issues_filter_by_the_board_they_are_escalated_to(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    body = {"programme_id": prog["id"]}
    await make(
        client, ws, "issues", body | {"title": "Escalated", "escalated_to_board_id": board["id"]}
    )
    await make(client, ws, "issues", body | {"title": "Handled in the project"})
    found = await read(client, ws, "issues", escalated_to_board_id=board["id"])
    assert [i["title"] for i in found["items"]] == ["Escalated"]


async def test_the_board_pack_shows_what_a_board_coordinates(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    approver = await join(database, ws)
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"programme_id": prog["id"], "name": "Board"})
    core, portal = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Portal")
    ]
    request = await make(
        client,
        ws,
        "change-requests",
        {"programme_id": prog["id"], "title": "Vendor delay", "cost_impact": 150000},
    )
    submitted = await change(client, ws, "change-requests", request, {"state": "submitted"})
    decided = await client.post(
        url(ws, f"change-requests/{request['id']}/decision"),
        json={"decision": "rejected"},
        headers={**approver.headers, "If-Match": submitted.headers["etag"]},
    )
    assert decided.status_code == 200, decided.text
    await make(
        client,
        ws,
        "issues",
        {"programme_id": prog["id"], "title": "Escalated", "escalated_to_board_id": board["id"]},
    )
    await make(client, ws, "issues", {"programme_id": prog["id"], "title": "Not escalated"})
    await make(
        client, ws, "actions", {"programme_id": prog["id"], "title": "Late", "due_date": day(-3)}
    )
    await make(
        client, ws, "actions", {"programme_id": prog["id"], "title": "Not yet", "due_date": day(3)}
    )
    sides = {
        "programme_id": prog["id"],
        "from_project_id": core["id"],
        "to_project_id": portal["id"],
    }
    for title, committed in (("Tight", 35), ("Late", 45), ("Fine", 10)):
        await make(
            client,
            ws,
            "dependencies",
            sides
            | {
                "title": title,
                "need_by_date": day(40),
                "committed_date": day(committed),
                "status": "agreed",
            },
        )

    pack = await read(
        client,
        ws,
        f"programmes/{prog['id']}/board-pack",
        period_start=day(-10),
        period_end=day(0),
    )
    assert [(c["title"], c["state"], c["cost_impact"]) for c in pack["change_requests"]] == [
        ("Vendor delay", "rejected", 150000)
    ]
    assert [i["title"] for i in pack["escalated_issues"]] == ["Escalated"]
    assert [a["title"] for a in pack["overdue_actions"]] == ["Late"]
    assert [(d["title"], d["rag"]) for d in pack["dependencies_at_risk"]] == [
        ("Late", "red"),
        ("Tight", "amber"),
    ]
    board_view = await read(client, ws, f"programmes/{prog['id']}/dashboard")
    assert [d["title"] for d in board_view["dependencies_at_risk"]] == ["Late", "Tight"]


async def test_a_template_upgrade_moving_a_milestone_moves_its_dependencies_etags_on(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """An upgrade writes seeded rows past the API (``update_seeded``, with the register's
    rules): a milestone's forecast it moves (it follows a moved baseline) changes the RAG of the
    dependencies naming it, so their version moves on as through the API."""
    ws = await make_workspace()
    prog = await programme(client, ws)
    core, interfaces = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Core", "Interfaces")
    ]
    ready = await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "project_id": interfaces["id"],
            "title": "Interfaces ready",
            "baseline_date": day(20),
            "forecast_date": day(20),
        },
    )
    dependency = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Core needs interfaces",
            "from_project_id": interfaces["id"],
            "from_milestone_id": ready["id"],
            "to_project_id": core["id"],
            "need_by_date": day(30),
            "status": "agreed",
        },
    )
    assert dependency["rag"] == "green"
    async with in_workspace(database, ws.tenant_id) as session:
        await update_seeded(
            session,
            Milestone,
            uuid.UUID(ready["id"]),
            {"forecast_date": date.fromisoformat(day(45))},
            rules=MilestoneService,
        )
    shown = await read(client, ws, f"dependencies/{dependency['id']}")
    assert shown["rag"] == "red"
    assert shown["version"] == dependency["version"] + 1
