"""A delete the database's keys refuse names what still refers to the row."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from services.identity.models import Role
from tests.conftest import MakeWorkspace, join
from tests.test_gates_api import decide_gate
from tests.test_governance_api import decide_change, submitted_change
from tests.workspace_api import Client, change, make, programme, url


async def test_a_row_still_referred_to_is_not_deleted_and_the_answer_names_by_what(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    prog = await programme(client, ws)
    board = await make(client, ws, "boards", {"name": "Programme board"})
    gate = await make(
        client,
        ws,
        "stage-gates",
        {"programme_id": prog["id"], "title": "Business case", "board_id": board["id"]},
    )

    refused = await client.delete(
        url(ws, f"boards/{board['id']}"),
        headers={**ws.headers, "If-Match": f'"{board["version"]}"'},
    )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        "This board is still referred to by stage gates: change or remove those first."
    )
    still = await client.get(url(ws, f"boards/{board['id']}"), headers=ws.headers)
    assert still.status_code == 200
    assert (await client.get(url(ws, f"stage-gates/{gate['id']}"), headers=ws.headers)).json()[
        "board_id"
    ] == board["id"]


# --- a programme with anything on record ---------------------------------------------------------


async def fresh(client: Client, ws: Any, name: str) -> dict[str, Any]:
    return await make(client, ws, "programmes", {"name": name})


async def deleting(client: Client, ws: Any, prog: dict[str, Any]) -> Any:
    return await client.delete(url(ws, f"programmes/{prog['id']}"), headers=ws.headers)


async def test_a_programme_with_anything_on_record_is_kept_and_the_answer_names_it(
    client: Client, make_workspace: MakeWorkspace, database: Database
) -> None:
    """A programme is the client's record of the work: one holding a closed tranche, a
    published status report, a decided gate, a benefit measurement, a decided change request
    or a decision taken is not deleted (409 naming what it holds and saying to close it), for
    the owner too. Its deletion cascaded all of that away."""
    ws = await make_workspace()
    board = await join(database, ws, Role.ADMIN)  # decides the change the owner raises
    by_me = {"decided_by_id": str(ws.user_id)}
    records: dict[str, tuple[dict[str, Any], str]] = {}

    prog = await fresh(client, ws, "Closed tranche")
    tranche = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T1"})
    for state in ("started", "closed"):
        moved = await change(client, ws, "tranches", tranche, {"state": state})
        assert moved.status_code == 200, moved.text
        tranche = moved.json()
    records["tranche"] = prog, "1 closed tranche ('T1')"

    prog = await fresh(client, ws, "Published report")
    draft = await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "overall_rag": "green",
        },
    )
    published = await client.post(
        url(ws, f"status-reports/{draft['id']}/publish"),
        headers={**ws.headers, "If-Match": f'"{draft["version"]}"'},
    )
    assert published.status_code == 200, published.text
    records["report"] = prog, "1 published status report"

    prog = await fresh(client, ws, "Decided gate")
    gate = await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "SOC"})
    # A hold is a decision on record too, though the gate is to be reviewed again.
    held = await decide_gate(client, ws, gate, {"decision": "hold", **by_me})
    assert held.status_code == 201, held.text
    records["gate"] = prog, "1 decided stage gate ('SOC')"

    prog = await fresh(client, ws, "Measured benefit")
    benefit = await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Faster claims", "classification": "non_cash"},
    )
    measured = await client.post(
        url(ws, f"benefits/{benefit['id']}/measurements"),
        json={"measured_on": "2026-01-15", "value": 30},
        headers=ws.headers,
    )
    assert measured.status_code == 201, measured.text
    records["benefit"] = prog, "1 benefit measurement"

    prog = await fresh(client, ws, "Decided change")
    submitted = await submitted_change(client, ws, {"programme_id": prog["id"]})
    rejected = await decide_change(client, ws, submitted, {"decision": "rejected"}, board.headers)
    assert rejected.status_code == 200, rejected.text
    records["change"] = prog, "1 approved or rejected change request"

    prog = await fresh(client, ws, "Decision taken")
    decision = await make(
        client, ws, "decisions", {"programme_id": prog["id"], "title": "Buy the CRM"}
    )
    approved = await change(client, ws, "decisions", decision, {"status": "approved", **by_me})
    assert approved.status_code == 200, approved.text
    records["decision"] = prog, "1 decision taken in the decision log"

    for what, (prog, held_phrase) in records.items():
        refused = await deleting(client, ws, prog)
        assert refused.status_code == 409, (what, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        detail = refused.json()["detail"]
        assert f"The programme '{prog['name']}' holds a record" in detail, detail
        assert held_phrase in detail and "close it instead" in detail, (what, detail)
        kept = await client.get(url(ws, f"programmes/{prog['id']}"), headers=ws.headers)
        assert kept.status_code == 200 and kept.json()["version"] == prog["version"], what
    # The closed tranche's programme keeps it too (the cascade took it before).
    assert (await client.get(url(ws, f"tranches/{tranche['id']}"), headers=ws.headers)).json()[
        "state"
    ] == "closed"
    # Closing it instead is what the answer says to do.
    prog = records["report"][0]
    closed = await change(client, ws, "programmes", prog, {"state": "closed"})
    assert closed.status_code == 200, closed.text

    schema = (await client.get("/schema/openapi.json")).json()
    route = schema["paths"]["/api/v1/w/{slug}/programmes/{programme_id}"]["delete"]
    assert "409" in route["responses"] and "on record" in route["description"]


async def test_a_programme_with_nothing_on_record_is_still_deleted_with_all_in_it(
    client: Client, make_workspace: MakeWorkspace
) -> None:
    """Plans, registers and drafts are not a record: a programme holding only those (a planned
    and a started tranche, a draft report, an undecided gate, a benefit never measured, a draft
    change request re-baselining a milestone, a proposed decision) is deleted with them."""
    ws = await make_workspace()
    prog = await fresh(client, ws, "Planned only")
    tranche = await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T1"})
    started = await change(client, ws, "tranches", tranche, {"state": "started"})
    assert started.status_code == 200, started.text
    await make(client, ws, "tranches", {"programme_id": prog["id"], "name": "T2", "position": 2})
    project = await make(
        client,
        ws,
        "projects",
        {"programme_id": prog["id"], "name": "CRM", "tranche_id": tranche["id"]},
    )
    await make(
        client,
        ws,
        "status-reports",
        {
            "programme_id": prog["id"],
            "project_id": project["id"],
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
        },
    )
    await make(client, ws, "stage-gates", {"programme_id": prog["id"], "title": "SOC"})
    await make(
        client,
        ws,
        "benefits",
        {"programme_id": prog["id"], "title": "Faster claims", "classification": "non_cash"},
    )
    milestone = await make(
        client,
        ws,
        "milestones",
        {"programme_id": prog["id"], "title": "Go live", "baseline_date": "2027-06-01"},
    )
    line = {"milestone_id": milestone["id"], "new_baseline_date": "2027-07-01"}
    await submitted_change(client, ws, {"programme_id": prog["id"], "rebaselines": [line]})
    await make(client, ws, "decisions", {"programme_id": prog["id"], "title": "Buy the CRM"})

    gone = await deleting(client, ws, prog)

    assert gone.status_code == 204, gone.text
    for path in ("tranches", "projects", "milestones", "status-reports", "change-requests"):
        listed = await client.get(url(ws, path), headers=ws.headers)
        assert listed.json()["total"] == 0, path
