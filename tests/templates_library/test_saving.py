"""Save as template: a workspace programme exported as a pack version that validates, and
seeded into an empty workspace it reproduces the programme (real PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from services.db.engine import Database
from services.errors import NotFound
from services.workspace.structure.models import Programme
from templates_library.export import ExportError
from templates_library.items import stable_id
from templates_library.reading import read_programme_items
from templates_library.saving import parameter_values, save_programme
from templates_library.seeding import seed, seed_version
from templates_library.upgrade import same
from templates_library.validation import version_findings
from tests.conftest import MakeWorkspace, in_workspace
from tests.tiny_pack import PARAMS
from tests.workspace_api import Client, change, make, url

PACK = "transformation-tranches"


@pytest.mark.usefixtures("shipped_catalogue")
async def test_a_saved_programme_seeds_into_an_empty_workspace_as_the_same_programme(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    a, b = await make_workspace(), await make_workspace()
    await seed(database, a.tenant_id, PACK, "1.0.0", PARAMS)
    programme = stable_id(a.tenant_id, PACK, "programme", "programme")
    sro = stable_id(a.tenant_id, PACK, "role", "sro")
    # The client made the programme its own: a risk reworded, one of its own added.
    risk = (
        await client.get(
            url(a, f"risks/{stable_id(a.tenant_id, PACK, 'risk', 'sponsor-attention')}"),
            headers=a.headers,
        )
    ).json()
    edited = await change(client, a, "risks", risk, {"title": "SRO time is scarce"})
    assert edited.status_code == 200, edited.text
    await make(
        client,
        a,
        "risks",
        {
            "programme_id": str(programme),
            "title": "Regulator changes reporting rules",
            "category": "Regulatory",
            "inherent_probability": 2,
            "inherent_impact": 4,
            "proximity": "this-programme",
            "response": "reduce",
            "owner_role_id": str(sro),
        },
    )

    async with in_workspace(database, a.tenant_id) as session:
        saved = await save_programme(session, programme, version="2.0.0", changes=["Ours."])
        original = await read_programme_items(session, programme)
    async with in_workspace(database, b.tenant_id) as session:
        await seed_version(
            session,
            b.tenant_id,
            f"saved-{uuid.uuid4().hex[:6]}",
            saved.version,
            parameter_values(saved),
        )
    async with in_workspace(database, b.tenant_id) as session:
        copy_id = await session.scalar(select(Programme.id))
        assert copy_id is not None
        copied = await read_programme_items(session, copy_id)

    assert version_findings(saved.version) == []
    assert saved.version.version == "2.0.0" and saved.version.changes == ["Ours."]
    assert set(copied.values) == set(original.values)
    differing = [k for k in original.values if not same(original.values[k], copied.values[k])]
    assert differing == []
    assert original.values[("risk", "sponsor-attention")]["title"] == "SRO time is scarce"
    assert original.values[("risk", "regulator-changes-reporting-rules")]["owner"] == "sro"


@pytest.mark.usefixtures("shipped_catalogue")
async def test_a_decision_taken_in_the_workspace_is_saved_as_one_still_to_take(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, PACK, "1.0.0", PARAMS)
    programme = stable_id(ws.tenant_id, PACK, "programme", "programme")
    decision_id = stable_id(ws.tenant_id, PACK, "decision", "delivery-approach")
    decision = (await client.get(url(ws, f"decisions/{decision_id}"), headers=ws.headers)).json()
    if decision["board_id"] is not None:
        # A decision naming a board is taken by a voting seat on it: the user takes the first.
        board_url = url(ws, f"boards/{decision['board_id']}")
        board = (await client.get(board_url, headers=ws.headers)).json()
        seats = [
            {k: seat[k] for k in ("role_title", "user_id", "capacity", "role_id")}
            for seat in board["members"]
        ]
        voting = next(s for s in seats if s["capacity"] in ("chair", "member"))
        voting["user_id"] = str(ws.user_id)
        seated = await change(client, ws, "boards", board, {"members": seats})
        assert seated.status_code == 200, seated.text
    taken = await change(
        client,
        ws,
        "decisions",
        decision,
        {"status": "approved", "decided_by_id": str(ws.user_id)},
    )
    assert taken.status_code == 200, taken.text

    async with in_workspace(database, ws.tenant_id) as session:
        saved = await save_programme(session, programme, version="2.0.0")

    # Nobody has taken it in a new workspace: a template's decisions are still to be taken.
    assert version_findings(saved.version) == []
    [approach] = [d for d in saved.version.decisions if d.key == "delivery-approach"]
    assert approach.status == "proposed"


@pytest.mark.usefixtures("shipped_catalogue")
async def test_what_cannot_be_a_pack_item_is_named_in_plain_words_all_at_once(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, "project-pmo-light", None, PARAMS)
    programme = stable_id(ws.tenant_id, "project-pmo-light", "programme", "project")
    # A risk nobody owns, with no proximity or response, cannot be written as a pack risk
    # (packs name all three); a project outside every tranche cannot be a pack project.
    await make(
        client,
        ws,
        "risks",
        {
            "programme_id": str(programme),
            "title": "Unowned",
            "inherent_probability": 1,
            "inherent_impact": 1,
        },
    )
    await make(client, ws, "projects", {"programme_id": str(programme), "name": "Loose"})

    async with in_workspace(database, ws.tenant_id) as session:
        with pytest.raises(ExportError) as refused:
            await save_programme(session, programme, version="1.2.0")
        with pytest.raises(NotFound):
            await save_programme(session, uuid.uuid4(), version="1.2.0")

    problems = refused.value.problems
    assert "risk unowned has no proximity; a pack risk needs one" in problems
    assert "risk unowned has no response; a pack risk needs one" in problems
    assert "risk unowned has no owner; a pack risk needs one" in problems
    assert "project loose has no tranche; a pack project needs one" in problems
    assert not any("Expected" in problem or "$." in problem for problem in problems), problems
