"""What the PMO keeps on record is not taken by deleting what it hangs off: a project's status
reports, a change request's re-baseline of a milestone, a benefit's measurements. The database
refuses those deletes too, while deleting a whole programme still takes everything in it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.db.engine import Database
from services.identity.models import Role
from services.workspace.benefits.rules import interim_target_problem
from tests.conftest import MakeWorkspace, Workspace, in_workspace, join
from tests.workspace_api import Client, change, make, programme, url

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()


async def project_report(
    client: Client, ws: Workspace, prog: dict[str, Any], project: dict[str, Any], month: int = 1
) -> dict[str, Any]:
    return await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "project_id": project["id"],
            "period_start": f"2026-{month:02d}-01",
            "period_end": f"2026-{month:02d}-28",
            "overall_rag": "green",
        },
    )


async def publish(client: Client, ws: Workspace, row: dict[str, Any]) -> dict[str, Any]:
    published = await client.post(
        url(ws, f"status-reports/{row['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{row["version"]}"'},
    )
    assert published.status_code == 200, published.text
    body: dict[str, Any] = published.json()
    return body


async def approved_change(
    client: Client,
    ws: Workspace,
    prog: dict[str, Any],
    milestone: dict[str, Any],
    decider: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A change ``ws``'s user requests, approved by ``decider`` (headers; default that user,
    who may decide only a change someone else requested: an owner's has no requester)."""
    request = await make(
        client,
        ws,
        "change-requests",
        {
            "programme_id": prog["id"],
            "reference": "CR-7",
            "title": "Later go-live",
            "rebaselines": [{"milestone_id": milestone["id"], "new_baseline_date": "2027-07-01"}],
        },
    )
    submitted = await change(client, ws, "change-requests", request, {"state": "submitted"})
    assert submitted.status_code == 200, submitted.text
    approved = await client.post(
        url(ws, f"change-requests/{request['id']}/decision"),
        json={"decision": "approved"},
        headers={**(decider or ws.headers), "If-Match": submitted.headers["etag"]},
    )
    assert approved.status_code == 200, approved.text
    body: dict[str, Any] = approved.json()
    return body


async def measured_benefit(client: Client, ws: Workspace, prog: dict[str, Any]) -> dict[str, Any]:
    benefit = await make(
        client,
        ws,
        "benefits",
        {
            "programme_id": prog["id"],
            "title": "Fewer days per claim",
            "classification": "non_cash",
            "baseline_value": 40,
            "target_value": 10,
        },
    )
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": YESTERDAY, "value": 35},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text
    return benefit


async def delete(client: Client, ws: Workspace, path: str, row: dict[str, Any]) -> Any:
    return await client.delete(url(ws, f"{path}/{row['id']}"), headers=ws.headers)


async def status(client: Client, ws: Workspace, path: str, row: dict[str, Any]) -> int:
    return (await client.get(url(ws, f"{path}/{row['id']}"), headers=ws.headers)).status_code


async def refused_by_the_database(
    database: Database, ws: Workspace, table: str, row: dict[str, Any]
) -> None:
    """Deleting ``row`` of ``table`` straight on the database, past the services, is refused."""
    with pytest.raises(IntegrityError, match="foreign key"):
        async with in_workspace(database, ws.tenant_id) as session:
            await session.execute(
                text(f"DELETE FROM workspace.{table} WHERE id = :id"), {"id": uuid.UUID(row["id"])}
            )


# --- 1. a project's status reports ---------------------------------------------------------------


async def test_a_project_with_a_published_report_is_not_deleted_and_the_report_stays(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    published = await publish(client, ws, await project_report(client, ws, prog, project))
    await project_report(client, ws, prog, project, month=2)  # and a draft

    refused = await delete(client, ws, "projects", project)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "1 published status report" in detail and "kept on record" in detail
    assert await status(client, ws, "projects", project) == 200
    assert await status(client, ws, "status-reports", published) == 200


async def test_a_project_with_only_draft_reports_goes_once_they_are_deleted(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    draft = await project_report(client, ws, prog, project)

    refused = await delete(client, ws, "projects", project)
    assert refused.status_code == 409, refused.text
    assert "1 draft status report" in refused.json()["detail"]
    assert "delete its draft reports first" in refused.json()["detail"]

    assert (await delete(client, ws, "status-reports", draft)).status_code == 204
    assert (await delete(client, ws, "projects", project)).status_code == 204


async def test_the_database_refuses_to_delete_a_project_with_reports(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    await publish(client, ws, await project_report(client, ws, prog, project))
    await refused_by_the_database(database, ws, "projects", project)
    assert await status(client, ws, "projects", project) == 200


# --- 2. a change request's re-baseline lines -----------------------------------------------------


async def test_a_milestone_an_approved_change_rebaselined_is_kept_on_record(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    # A member requests the change; an admin approves it (nobody decides their own).
    admin = await join(database, ws, Role.ADMIN)
    approved = await approved_change(client, ws, prog, milestone, admin.headers)

    refused = await delete(client, ws, "milestones", milestone)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "CR-7" in detail and "kept on record" in detail
    kept = (
        await client.get(url(ws, f"change-requests/{approved['id']}"), headers=ws.headers)
    ).json()
    assert kept["state"] == "approved"
    assert [line["milestone_id"] for line in kept["rebaselines"]] == [milestone["id"]]
    assert kept["rebaselines"][0]["previous_baseline_date"] == "2027-06-01"

    await refused_by_the_database(database, ws, "milestones", milestone)


async def test_a_milestone_a_draft_change_names_goes_once_the_change_no_longer_names_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    draft = await make(
        client,
        ws,
        "change-requests",
        {
            "programme_id": prog["id"],
            "title": "Later go-live",
            "rebaselines": [{"milestone_id": milestone["id"], "new_baseline_date": "2027-07-01"}],
        },
    )
    refused = await delete(client, ws, "milestones", milestone)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "Later go-live" in detail and "remove it from the change request first" in detail

    emptied = await change(client, ws, "change-requests", draft, {"rebaselines": []})
    assert emptied.status_code == 200, emptied.text
    assert (await delete(client, ws, "milestones", milestone)).status_code == 204


# --- 3. a benefit's measurements -----------------------------------------------------------------


async def test_a_measured_benefit_is_kept_on_record_and_may_be_withdrawn_instead(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    benefit = await measured_benefit(client, ws, prog)

    refused = await delete(client, ws, "benefits", benefit)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "kept on record" in detail and "withdrawn" in detail and "not_realised" in detail
    measurements = await client.get(
        url(ws, f"benefits/{benefit['id']}/measurements"), headers=ws.headers
    )
    assert measurements.json()["total"] == 1

    await refused_by_the_database(database, ws, "benefits", benefit)

    unmeasured = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Happier staff", "classification": "societal"},
    )
    assert (await delete(client, ws, "benefits", unmeasured)).status_code == 204


# --- a programme's deletion still takes everything -----------------------------------------------


async def test_a_programme_holding_reports_rebaselines_and_measurements_is_kept_whole(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """What the project, milestone and benefit rules keep, their programme keeps too: its
    deletion does not take them by cascade (d109351; a programme with nothing on record is
    deleted with everything in it: tests/test_delete_refusals_api.py)."""
    ws = await make_workspace(Role.ADMIN)
    prog = await programme(client, ws)
    project = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "CRM"})
    report = await publish(client, ws, await project_report(client, ws, prog, project))
    milestone = await make(
        client,
        ws,
        "milestones",
        {
            "programme_id": prog["id"],
            "project_id": project["id"],
            "title": "Go live",
            "baseline_date": "2027-06-01",
        },
    )
    owner = await join(database, ws, Role.OWNER)  # decides the change the admin raises
    approved = await approved_change(client, ws, prog, milestone, owner.headers)
    benefit = await measured_benefit(client, ws, prog)

    kept = await delete(client, ws, "programmes", prog)
    assert kept.status_code == 409, kept.text
    for path, row in (
        ("programmes", prog),
        ("projects", project),
        ("status-reports", report),
        ("milestones", milestone),
        ("change-requests", approved),
        ("benefits", benefit),
    ):
        assert await status(client, ws, path, row) == 200, path
    async with in_workspace(database, ws.tenant_id) as session:
        for table in ("benefit_measurements", "milestone_rebaselines", "status_reports"):
            left = await session.scalar(text(f"SELECT count(*) FROM workspace.{table}"))
            assert left, table


# --- 4. a milestone's tranche agrees with its project's ------------------------------------------


async def test_a_milestone_names_the_tranche_its_project_is_in(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    t1 = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T1"})
    t2 = await make(
        client, ws, "tranches", {"programme_id": prog["id"], "name": "T2", "position": 1}
    )
    project = await make(
        client, ws, "projects", {"programme_id": prog["id"], "name": "CRM", "tranche_id": t1["id"]}
    )
    body = {"programme_id": prog["id"], "title": "Go live", "project_id": project["id"]}
    wrong = await client.post(
        url(ws, "milestones"), json=body | {"tranche_id": t2["id"]}, headers=ws.headers
    )
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["errors"][0]["field"] == "tranche_id"

    milestone = await make(client, ws, "milestones", body | {"tranche_id": t1["id"]})
    moved = await change(client, ws, "milestones", milestone, {"tranche_id": t2["id"]})
    assert moved.status_code == 422, moved.text
    assert moved.json()["errors"][0]["field"] == "tranche_id"

    # A project moving to another tranche would leave its milestones naming the old one.
    project_moved = await change(client, ws, "projects", project, {"tranche_id": t2["id"]})
    assert project_moved.status_code == 409, project_moved.text
    detail = project_moved.json()["detail"]
    # What it says to do can be done (moving the milestone first is refused above).
    assert "1 milestone" in detail and "clear their tranche_id first" in detail

    # Once its milestones name no tranche (they follow the project's), the project moves.
    untied = await change(client, ws, "milestones", milestone, {"tranche_id": None})
    assert untied.status_code == 200, untied.text
    project_moved = await change(client, ws, "projects", project, {"tranche_id": t2["id"]})
    assert project_moved.status_code == 200, project_moved.text

    # A project in no tranche leaves its milestones free to name one.
    loose = await make(client, ws, "projects", {"programme_id": prog["id"], "name": "HR"})
    await make(client, ws, "milestones", body | {"project_id": loose["id"], "tranche_id": t1["id"]})


# --- 5. interim targets between baseline and target ----------------------------------------------


@pytest.mark.parametrize(
    ("interim", "message"),
    [("2026-02-01", "on or before target_date"), ("2024-12-01", "on or after baseline_date")],
)
async def test_interim_targets_fall_between_the_baseline_and_the_target_date(
    client: Client, make_workspace: MakeWorkspace, interim: str, message: str
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    body = {
        "programme_id": prog["id"],
        "title": "Fewer days per claim",
        "classification": "non_cash",
        "baseline_date": "2025-01-01",
        "target_date": "2026-01-01",
    }
    refused = await client.post(
        url(ws, "benefits"),
        json=body | {"interim_targets": [{"date": interim, "value": 20}]},
        headers=ws.headers,
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["field"] == "interim_targets" and message in error["message"]

    benefit = await make(
        client, ws, "benefits", body | {"interim_targets": [{"date": "2025-06-30", "value": 30}]}
    )
    edge = "2025-05-01" if message.startswith("on or before") else "2025-07-01"
    field = "target_date" if message.startswith("on or before") else "baseline_date"
    moved = await change(client, ws, "benefits", benefit, {field: edge})
    assert moved.status_code == 422, moved.text
    assert moved.json()["errors"][0]["field"] == "interim_targets"


@pytest.mark.parametrize(
    ("dates", "problem"),
    [
        ([], None),
        (["2025-01-01", "2026-01-01"], None),  # both ends are allowed
        (["2025-09-01", "2025-03-01"], "in date order"),
        (["2024-12-31"], "on or after baseline_date"),
        (["2026-01-02"], "on or before target_date"),
    ],
)
def test_interim_target_rule(dates: list[str], problem: str | None) -> None:
    found = interim_target_problem(
        [date.fromisoformat(d) for d in dates], date(2025, 1, 1), date(2026, 1, 1)
    )
    assert (found if found is None or problem is None else found[: len(problem)]) == problem
    assert interim_target_problem([date(1999, 1, 1), date(2099, 1, 1)], None, None) is None


# --- 6. what a state needs is said in the detail -------------------------------------------------


async def test_a_benefit_validated_without_an_owner_is_told_it_needs_one(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(Role.MEMBER)
    prog = await programme(client, ws)
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Happier staff", "classification": "societal"},
    )
    refused = await change(client, ws, "benefits", benefit, {"state": "validated"})
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "cannot move from" not in detail
    assert "validated" in detail and "owner_id" in detail
    assert refused.json()["errors"][0]["field"] == "owner_id"
