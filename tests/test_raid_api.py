"""RAID registers over HTTP: risks, issues, assumptions, dependencies."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.db.engine import Database
from services.workspace.raid.models import Risk, RiskKind, RiskResponse
from templates_library.items import stable_id
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, PublishPack, Workspace, in_workspace
from tests.workspace_api import Client, change, day, make, programme, url


async def test_risks_are_scored_banded_and_trend_with_their_residual_score(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    risk = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Supplier fails",
            "cause": "Single supplier",
            "event": "Supplier insolvency",
            "effect": "Six-month delay",
            "inherent_probability": 4,
            "inherent_impact": 5,
            "residual_probability": 3,
            "residual_impact": 4,
            "response": "reduce",
            "proximity": "this-stage",
            "owner_id": str(ws.user_id),
        },
    )
    assert (risk["inherent_score"], risk["inherent_band"]) == (20, "red-critical")
    assert (risk["residual_score"], risk["residual_band"], risk["residual_rag"]) == (
        12,
        "red",
        "red",
    )
    assert risk["trend"] == "new"

    better = await change(client, ws, "risks", risk, {"residual_probability": 2})
    assert better.status_code == 200
    assert (better.json()["residual_score"], better.json()["trend"]) == (8, "improving")
    assert better.json()["residual_band"] == "amber"

    await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Minor",
            "inherent_probability": 1,
            "inherent_impact": 2,
        },
    )
    amber = await client.get(url(ws, "risks"), params={"band": "amber"}, headers=ws.headers)
    assert [r["title"] for r in amber.json()["items"]] == ["Supplier fails"]
    by_score = await client.get(url(ws, "risks"), headers=ws.headers)
    assert [r["residual_score"] for r in by_score.json()["items"]] == [8, 2]
    unknown_band = await client.get(url(ws, "risks"), params={"band": "purple"}, headers=ws.headers)
    assert unknown_band.status_code == 422  # the workspace has no such band


async def test_risk_responses_scales_and_proximity_come_from_the_workspace(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    base = {
        "programme_id": prog["id"],
        "title": "R",
        "inherent_probability": 2,
        "inherent_impact": 2,
    }
    cases = [
        ({**base, "response": "exploit"}, "response"),  # a threat cannot be exploited
        ({**base, "kind": "opportunity", "response": "avoid"}, "response"),
        ({**base, "inherent_probability": 6}, "inherent_probability"),  # 5×5 scale
        ({**base, "proximity": "someday"}, "proximity"),
    ]
    for body, field in cases:
        response = await client.post(url(ws, "risks"), json=body, headers=ws.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field
        if body.get("kind") == "opportunity":
            message = response.json()["errors"][0]["message"]
            assert message.startswith("an opportunity takes one of: "), message
    opportunity = await make(
        client, ws, "risks", {**base, "kind": "opportunity", "response": "exploit"}
    )
    assert opportunity["response"] == "exploit"


async def test_an_opportunity_whose_residual_score_rises_is_improving(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    opportunity = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Second value stream adopts the platform",
            "kind": "opportunity",
            "inherent_probability": 2,
            "inherent_impact": 3,
            "response": "enhance",
        },
    )

    enhanced = await change(client, ws, "risks", opportunity, {"residual_probability": 4})
    slipping = await change(client, ws, "risks", enhanced.json(), {"residual_probability": 1})

    assert enhanced.status_code == 200, enhanced.text
    assert (enhanced.json()["residual_score"], enhanced.json()["trend"]) == (12, "improving")
    assert slipping.status_code == 200, slipping.text
    assert (slipping.json()["residual_score"], slipping.json()["trend"]) == (3, "worsening")


async def test_issues_and_assumptions_filter_by_status_owner_and_due_date(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    await make(
        client,
        ws,
        "issues",
        {
            "programme_id": prog["id"],
            "title": "Data late",
            "severity": 1,
            "target_date": "2027-02-01",
        },
    )
    await make(
        client,
        ws,
        "issues",
        {
            "programme_id": prog["id"],
            "title": "Room booking",
            "severity": 4,
            "status": "resolved",
            "owner_id": str(ws.user_id),
        },
    )
    open_ = await client.get(url(ws, "issues"), params={"status": "open"}, headers=ws.headers)
    assert [i["title"] for i in open_.json()["items"]] == ["Data late"]
    owned = await client.get(
        url(ws, "issues"), params={"owner_id": str(ws.user_id)}, headers=ws.headers
    )
    assert [i["title"] for i in owned.json()["items"]] == ["Room booking"]
    early = await client.get(
        url(ws, "issues"), params={"due_before": "2027-03-01"}, headers=ws.headers
    )
    assert early.json()["total"] == 1

    risk = await make(
        client,
        ws,
        "risks",
        {"programme_id": prog["id"], "title": "R", "inherent_probability": 2, "inherent_impact": 2},
    )
    assumption = await make(
        client,
        ws,
        "assumptions",
        {"programme_id": prog["id"], "statement": "Staff are available", "risk_id": risk["id"]},
    )
    assert assumption["status"] == "unvalidated" and assumption["risk_id"] == risk["id"]
    other = await programme(client, ws, "Other")
    foreign_risk = await client.post(
        url(ws, "assumptions"),
        json={"programme_id": other["id"], "statement": "S", "risk_id": risk["id"]},
        headers=ws.headers,
    )
    assert foreign_risk.status_code == 422


async def test_an_issue_is_escalated_to_a_board_of_its_programme_or_the_portfolio(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    ours, theirs = await programme(client, ws), await programme(client, ws, "Other")
    board, foreign_board = [
        await make(client, ws, "boards", {"programme_id": p["id"], "name": "Board"})
        for p in (ours, theirs)
    ]
    portfolio = await make(client, ws, "boards", {"name": "Portfolio board"})
    body = {"programme_id": ours["id"], "title": "Data late"}

    foreign = await client.post(
        url(ws, "issues"),
        json={**body, "escalated_to_board_id": foreign_board["id"]},
        headers=ws.headers,
    )
    escalated = await make(client, ws, "issues", {**body, "escalated_to_board_id": board["id"]})
    moved = await change(
        client, ws, "issues", escalated, {"escalated_to_board_id": foreign_board["id"]}
    )
    upwards = await change(
        client, ws, "issues", escalated, {"escalated_to_board_id": portfolio["id"]}
    )

    for refused in (foreign, moved):
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {
                "field": "escalated_to_board_id",
                "message": "a board of another programme",
                "source": "body",
            }
        ]
    assert upwards.status_code == 200, upwards.text
    assert upwards.json()["escalated_to_board_id"] == portfolio["id"]


async def test_dependencies_link_projects_across_programmes_with_a_rag(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    a, b = await programme(client, ws, "A"), await programme(client, ws, "B")
    supplier = await make(client, ws, "projects", {"programme_id": a["id"], "name": "Platform"})
    consumer = await make(client, ws, "projects", {"programme_id": b["id"], "name": "Portal"})
    soon = date.today() + timedelta(days=30)
    dependency = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": b["id"],
            "title": "API ready",
            "from_project_id": supplier["id"],
            "to_project_id": consumer["id"],
            "need_by_date": soon.isoformat(),
            "committed_date": (soon + timedelta(days=10)).isoformat(),
            "status": "agreed",
        },
    )
    assert dependency["rag"] == "red"
    fixed = await change(
        client,
        ws,
        "dependencies",
        dependency,
        {"committed_date": (soon - timedelta(days=14)).isoformat()},
    )
    assert fixed.json()["rag"] == "green"
    either_side = await client.get(
        url(ws, "dependencies"), params={"project_id": supplier["id"]}, headers=ws.headers
    )
    assert either_side.json()["total"] == 1
    external = await client.post(
        url(ws, "dependencies"),
        json={"programme_id": b["id"], "title": "Regulator", "kind": "external"},
        headers=ws.headers,
    )
    assert external.status_code == 422 and external.json()["errors"][0]["field"] == "external_party"


async def test_a_dependency_names_both_sides_and_nothing_depends_on_itself(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Platform"})
    build, launch = [
        await make(
            client,
            ws,
            "milestones",
            {"programme_id": prog["id"], "project_id": project["id"], "title": title},
        )
        for title in ("Build", "Launch")
    ]
    base = {"programme_id": prog["id"], "title": "D", "from_project_id": project["id"]}
    same_project = {**base, "to_project_id": project["id"]}

    within = await make(
        client,
        ws,
        "dependencies",
        {**same_project, "from_milestone_id": build["id"], "to_milestone_id": launch["id"]},
    )
    assert (within["from_milestone_id"], within["to_milestone_id"]) == (build["id"], launch["id"])
    refused = [
        (base, "to_project_id"),  # internal, nobody needs it
        (same_project, "to_project_id"),  # the project as a whole on itself
        (
            {**same_project, "from_milestone_id": build["id"], "to_milestone_id": build["id"]},
            "to_milestone_id",
        ),
        (
            {"programme_id": prog["id"], "title": "D", "kind": "external", "external_party": "X"},
            "to_project_id",  # no side of ours
        ),
    ]
    for body, field in refused:
        response = await client.post(url(ws, "dependencies"), json=body, headers=ws.headers)
        assert response.status_code == 422, (body, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], body
    untargeted = await change(client, ws, "dependencies", within, {"to_project_id": None})
    assert untargeted.status_code == 200  # still the Launch milestone's
    unnamed = await change(client, ws, "dependencies", untargeted.json(), {"to_milestone_id": None})
    assert unnamed.status_code == 422 and unnamed.json()["errors"][0]["field"] == "to_project_id"
    onto_itself = await change(
        client, ws, "dependencies", untargeted.json(), {"to_milestone_id": build["id"]}
    )
    assert onto_itself.status_code == 422
    assert onto_itself.json()["errors"][0]["field"] == "to_milestone_id"


async def test_milestones_do_not_depend_on_each_other_in_a_loop(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    platform, portal = [
        await make(client, ws, "projects", {"programme_id": prog["id"], "name": name})
        for name in ("Platform", "Portal")
    ]
    api, screens, launch = [
        await make(
            client,
            ws,
            "milestones",
            {"programme_id": prog["id"], "project_id": project["id"], "title": title},
        )
        for project, title in ((platform, "API"), (portal, "Screens"), (portal, "Launch"))
    ]

    def needs(needed: dict[str, Any], needing: dict[str, Any], **body: Any) -> dict[str, Any]:
        """``needing`` needs ``needed``: the ``to`` side needs the ``from`` side."""
        return {
            "programme_id": prog["id"],
            "title": f"{needing['title']} needs {needed['title']}",
            "from_project_id": needed["project_id"],
            "from_milestone_id": needed["id"],
            "to_project_id": needing["project_id"],
            "to_milestone_id": needing["id"],
            **body,
        }

    await make(client, ws, "dependencies", needs(api, screens))
    await make(client, ws, "dependencies", needs(screens, launch))
    back = await client.post(url(ws, "dependencies"), json=needs(screens, api), headers=ws.headers)
    around = await client.post(url(ws, "dependencies"), json=needs(launch, api), headers=ws.headers)
    for refused in (back, around):
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["to_milestone_id"]
        assert "loop" in refused.json()["errors"][0]["message"]

    # A cancelled dependency binds nothing, until it is taken up again.
    dropped = await make(client, ws, "dependencies", needs(launch, api, status="cancelled"))
    revived = await change(client, ws, "dependencies", dropped, {"status": "agreed"})
    assert revived.status_code == 422, revived.text
    turned = await make(client, ws, "dependencies", needs(api, launch))
    reversed_ = await change(
        client,
        ws,
        "dependencies",
        turned,
        {
            "from_project_id": portal["id"],
            "from_milestone_id": launch["id"],
            "to_project_id": platform["id"],
            "to_milestone_id": api["id"],
        },
    )
    assert reversed_.status_code == 422, reversed_.text

    # Projects as a whole may need each other (each a different part of the other).
    whole = {"programme_id": prog["id"], "title": "D"}
    await make(
        client,
        ws,
        "dependencies",
        {**whole, "from_project_id": platform["id"], "to_project_id": portal["id"]},
    )
    await make(
        client,
        ws,
        "dependencies",
        {**whole, "from_project_id": portal["id"], "to_project_id": platform["id"]},
    )


async def test_owner_roles_must_be_programme_roles_of_the_workspace(
    client: Client, make_workspace: MakeWorkspace, database: Database, publish_pack: PublishPack
) -> None:
    ws, other = await make_workspace(), await make_workspace()
    pack = await publish_pack()
    for seeded in (ws, other):
        await seed(database, seeded.tenant_id, pack, "1.0.0", {"start_date": "2027-01-04"})
    prog = str(stable_id(ws.tenant_id, pack, "programme", "programme"))
    sponsor = str(stable_id(ws.tenant_id, pack, "role", "sponsor"))
    theirs = str(stable_id(other.tenant_id, pack, "role", "sponsor"))
    risk = {"programme_id": prog, "title": "R", "inherent_probability": 2, "inherent_impact": 2}

    owned = await make(client, ws, "risks", {**risk, "owner_role_id": sponsor})
    foreign = await client.post(
        url(ws, "risks"), json={**risk, "owner_role_id": theirs}, headers=ws.headers
    )
    moved = await change(client, ws, "risks", owned, {"owner_role_id": theirs})
    board = stable_id(ws.tenant_id, pack, "board", "board")
    shown = (await client.get(url(ws, f"boards/{board}"), headers=ws.headers)).json()
    seats = [{"role_title": "Chair", "role_id": theirs}]
    reseated = await change(client, ws, "boards", shown, {"members": seats})

    assert owned["owner_role_id"] == sponsor
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "owner_role_id"
    assert moved.status_code == 422
    assert reseated.status_code == 422 and reseated.json()["errors"][0]["field"] == "members"


AGILE = "agile-pmo-safe"


async def agile_workspace(make_workspace: MakeWorkspace, database: Database) -> Workspace:
    """A workspace seeded from the agile (SAFe) pack: ROAM responses."""
    ws = await make_workspace()
    await seed(database, ws.tenant_id, AGILE, "1.0.0", {"start_date": "2027-01-04"})
    return ws


@pytest.mark.usefixtures("shipped_catalogue")
async def test_roam_is_for_threats_and_opportunities_keep_their_responses(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await agile_workspace(make_workspace, database)
    seeded = stable_id(ws.tenant_id, AGILE, "risk", "reuse-platform")
    shown = (await client.get(url(ws, f"risks/{seeded}"), headers=ws.headers)).json()
    assert (shown["kind"], shown["response"]) == ("opportunity", "exploit")
    base = {
        "programme_id": shown["programme_id"],
        "title": "R",
        "inherent_probability": 2,
        "inherent_impact": 2,
    }

    reviewed = await change(client, ws, "risks", shown, {"next_review_date": day(14)})
    enhanced = await make(
        client, ws, "risks", {**base, "kind": "opportunity", "response": "enhance"}
    )
    owned = await make(client, ws, "risks", {**base, "response": "owned"})
    roam_opportunity = await client.post(
        url(ws, "risks"),
        json={**base, "kind": "opportunity", "response": "owned"},
        headers=ws.headers,
    )
    classic_threat = await client.post(
        url(ws, "risks"), json={**base, "response": "avoid"}, headers=ws.headers
    )

    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["next_review_date"] == day(14)
    assert (enhanced["response"], owned["response"]) == ("enhance", "owned")
    assert roam_opportunity.status_code == 422, roam_opportunity.text
    assert roam_opportunity.json()["errors"][0] == {
        "field": "response",
        "message": "an opportunity takes one of: enhance, exploit, reject, share",
        "source": "body",
    }
    assert classic_threat.status_code == 422, classic_threat.text
    assert classic_threat.json()["errors"][0]["field"] == "response"


@pytest.mark.usefixtures("shipped_catalogue")
async def test_a_stored_response_the_rules_now_refuse_does_not_block_other_fields(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await agile_workspace(make_workspace, database)
    seeded = stable_id(ws.tenant_id, AGILE, "risk", "reuse-platform")
    programme_id = (await client.get(url(ws, f"risks/{seeded}"), headers=ws.headers)).json()[
        "programme_id"
    ]
    # A threat answered the classic way before the workspace moved to ROAM.
    async with in_workspace(database, ws.tenant_id) as session:
        planted = Risk(
            programme_id=uuid.UUID(programme_id),
            title="Vendor late",
            kind=RiskKind.THREAT,
            inherent_probability=3,
            inherent_impact=3,
            inherent_score=9,
            residual_probability=3,
            residual_impact=3,
            residual_score=9,
            response=RiskResponse.AVOID,
        )
        session.add(planted)
        await session.flush()
        risk_id: uuid.UUID = planted.id
    shown = (await client.get(url(ws, f"risks/{risk_id}"), headers=ws.headers)).json()

    reviewed = await change(client, ws, "risks", shown, {"next_review_date": day(7)})
    resent = await change(client, ws, "risks", reviewed.json(), {"response": "avoid"})
    turned = await change(client, ws, "risks", reviewed.json(), {"kind": "opportunity"})
    answered = await change(client, ws, "risks", reviewed.json(), {"response": "mitigated"})

    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["response"] == "avoid"
    for refused in (resent, turned):
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["response"]
    assert answered.status_code == 200, answered.text
    assert answered.json()["response"] == "mitigated"


async def test_a_risk_rescored_with_its_custom_fields_in_one_update_is_scored(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Custom fields are checked against the workspace's definitions (a read): the row must not
    be written half-changed before that, new levels with the old scores (a check constraint
    refused it, shown as a 409 "changed at the same time")."""
    ws = await make_workspace()
    await make(
        client,
        ws,
        "custom-fields",
        {"register": "risks", "key": "raid-type", "label": "RAID type", "type": "text"},
    )
    prog = await programme(client, ws)
    risk = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": prog["id"],
            "title": "Supplier late",
            "inherent_probability": 2,
            "inherent_impact": 4,
        },
    )
    closed = await change(
        client,
        ws,
        "risks",
        risk,
        {
            "status": "closed",
            "residual_probability": 1,
            "custom_fields": {"raid-type": "risk"},
        },
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["residual_score"], closed.json()["residual_band"]) == (4, "green")
    assert closed.json()["custom_fields"] == {"raid-type": "risk"}


async def test_an_internal_dependency_names_its_from_side_by_a_milestone_alone_as_its_to_side(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    platform = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Platform"})
    portal = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "Portal"})
    api_live, portal_live = [
        await make(
            client,
            ws,
            "milestones",
            {"programme_id": prog["id"], "project_id": project["id"], "title": title},
        )
        for project, title in ((platform, "API live"), (portal, "Portal live"))
    ]

    by_milestones = await make(
        client,
        ws,
        "dependencies",
        {
            "programme_id": prog["id"],
            "title": "Portal needs the API",
            "from_milestone_id": api_live["id"],
            "to_milestone_id": portal_live["id"],
        },
    )
    assert (by_milestones["from_project_id"], by_milestones["to_project_id"]) == (None, None)
    listed = await client.get(
        url(ws, "dependencies"), params={"project_id": platform["id"]}, headers=ws.headers
    )
    assert [d["id"] for d in listed.json()["items"]] == [by_milestones["id"]]
    # Nothing on the from side is still refused, on from_project_id.
    unnamed = await change(client, ws, "dependencies", by_milestones, {"from_milestone_id": None})
    assert unnamed.status_code == 422, unnamed.text
    assert [e["field"] for e in unnamed.json()["errors"]] == ["from_project_id"]


async def test_an_issue_is_resolved_by_a_day_on_or_after_the_one_it_was_raised(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    body = {"programme_id": prog["id"], "title": "Data late", "raised_on": day(-10)}

    early = await client.post(
        url(ws, "issues"), json=body | {"target_date": day(-11)}, headers=ws.headers
    )
    assert early.status_code == 422, early.text
    assert [e["field"] for e in early.json()["errors"]] == ["target_date"]
    # Raised today unless told: a target already past needs the day it was raised.
    backdated = await client.post(
        url(ws, "issues"),
        json={"programme_id": prog["id"], "title": "Late", "target_date": day(-1)},
        headers=ws.headers,
    )
    assert backdated.status_code == 422, backdated.text

    issue = await make(client, ws, "issues", body | {"target_date": day(-10)})  # the same day
    moved = await change(client, ws, "issues", issue, {"target_date": day(-12)})
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "target_date"
    later = await change(client, ws, "issues", issue, {"raised_on": day(-9)})
    assert later.status_code == 422 and later.json()["errors"][0]["field"] == "raised_on"

    # One stored before the rule is not locked by it: other fields still change.
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            text("UPDATE workspace.issues SET target_date = :d WHERE id = :id"),
            {"d": date.fromisoformat(day(-20)), "id": uuid.UUID(issue["id"])},
        )
    current = (await client.get(url(ws, f"issues/{issue['id']}"), headers=ws.headers)).json()
    retitled = await change(client, ws, "issues", current, {"title": "Data very late"})
    assert retitled.status_code == 200, retitled.text
