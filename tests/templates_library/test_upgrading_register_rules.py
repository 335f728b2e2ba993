"""What an upgrade writes passes the rules the API's writes pass: a row the register would
refuse is held back as a conflict naming the rule, and the rest goes on (real PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from services.db.engine import Database
from services.workspace.structure.models import Tranche, TrancheState
from services.workspace.templates import service as pins
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack, in_workspace
from tests.templates_library.test_upgrading import Seeded, entry
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client


def threat_at_four(data: dict[str, Any]) -> None:
    """1.0.0 with the supplier threat assessed 4 × 4 before its response."""
    data["risks"][0]["probability"] = 4
    data["risks"][0]["impact"] = 4


def threat_lowered(data: dict[str, Any]) -> None:
    """1.1.0 as usual, the threat's inherent levels lowered to 2 × 2."""
    second_version(data)
    data["risks"][0]["probability"] = 2
    data["risks"][0]["impact"] = 2


@pytest.fixture
async def four_by_four(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> Seeded:
    ws = await make_workspace()
    pack = await publish_pack(threat_at_four, threat_lowered)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    return Seeded(database, client, ws, pack)


async def test_a_threat_whose_inherent_level_the_pack_lowers_below_its_assessed_residual_is_held(
    four_by_four: Seeded,
) -> None:
    seeded = four_by_four
    await seeded.edit("risks", "risk", "threat", {"residual_probability": 3, "residual_impact": 3})

    planned = entry(await seeded.plan(), "risk", "threat")
    applied = await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "break a rule of the workspace" in planned.reason
    assert "inherent_probability: at least the residual probability (3)" in planned.reason
    assert entry(applied, "risk", "threat") == planned  # the dry run said what applying did
    risk = await seeded.get("risks", "risk", "threat")
    assert (risk["inherent_probability"], risk["inherent_impact"]) == (4, 4)
    assert (risk["residual_probability"], risk["residual_impact"]) == (3, 3)
    # The rest of the upgrade went on.
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"


async def test_a_threat_whose_residual_the_client_lowered_far_enough_takes_the_pack_levels(
    four_by_four: Seeded,
) -> None:
    seeded = four_by_four
    await seeded.edit("risks", "risk", "threat", {"residual_probability": 2, "residual_impact": 2})

    planned = entry(await seeded.plan(), "risk", "threat")
    await seeded.apply()

    assert planned.action is Action.UPDATE
    risk = await seeded.get("risks", "risk", "threat")
    assert (risk["inherent_probability"], risk["inherent_impact"]) == (2, 2)
    assert (risk["residual_probability"], risk["residual_impact"]) == (2, 2)


async def test_a_threat_never_assessed_follows_the_lowered_inherent_levels(
    four_by_four: Seeded,
) -> None:
    seeded = four_by_four

    planned = entry(await seeded.plan(), "risk", "threat")
    await seeded.apply()

    # Residual starts equal to inherent and moves with it until the client assesses it, so
    # lowering the inherent levels lowers the residual ones: nothing for the rule to refuse.
    assert planned.action is Action.UPDATE
    risk = await seeded.get("risks", "risk", "threat")
    assert (risk["inherent_probability"], risk["residual_probability"]) == (2, 2)
    assert (risk["inherent_impact"], risk["residual_impact"]) == (2, 2)


def handover_added(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and a milestone added to the build project."""
    second_version(data)
    data["milestones"].append(
        {"key": "handover", "title": "Handover", "day": 45, "tranche": "first", "project": "build"}
    )


@pytest.fixture
async def handover(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> Seeded:
    ws = await make_workspace()
    pack = await publish_pack(None, handover_added)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    return Seeded(database, client, ws, pack)


async def test_a_new_milestone_of_a_project_the_client_cancelled_is_held_as_the_api_refuses_it(
    handover: Seeded,
) -> None:
    seeded = handover
    await seeded.edit("projects", "project", "build", {"state": "cancelled"})

    planned = entry(await seeded.plan(), "milestone", "handover")
    applied = await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "project_id: the project is cancelled: it takes no milestones" in planned.reason
    assert entry(applied, "milestone", "handover") == planned
    response = await seeded.client.get(
        f"/api/v1/w/{seeded.ws.slug}/milestones/{seeded.id('milestone', 'handover')}",
        headers=seeded.ws.headers,
    )
    assert response.status_code == 404, response.text
    # The rest went on; the new item is due until the cause is gone (the pin records it).
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
    assert await seeded.pinned() == "1.1.0"
    async with in_workspace(seeded.database, seeded.ws.tenant_id) as session:
        pin = await pins.require(session)
    assert pin.held_items == {"milestone:handover": "1.1.0"}


async def test_a_new_milestone_of_a_project_still_on_is_added(handover: Seeded) -> None:
    seeded = handover

    planned = entry(await seeded.plan(), "milestone", "handover")
    await seeded.apply()

    assert planned.action is Action.ADD
    added = await seeded.get("milestones", "milestone", "handover")
    assert added["title"] == "Handover"


def first_tranche_later(data: dict[str, Any]) -> None:
    """1.1.0 as usual, the first tranche starting five days later."""
    second_version(data)
    data["tranches"][0]["start_day"] = 5


async def test_a_closed_tranches_dates_are_held_as_the_api_refuses_re_dating_it(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(None, first_tranche_later)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    before = await seeded.get("tranches", "tranche", "first")
    # The client closed the first tranche (its review passed; set here directly).
    async with in_workspace(database, ws.tenant_id) as session:
        await session.execute(
            update(Tranche)
            .where(Tranche.id == seeded.id("tranche", "first"))
            .values(state=TrancheState.CLOSED)
        )

    planned = entry(await seeded.plan(), "tranche", "first")
    applied = await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "closed: its dates are history" in planned.reason
    assert entry(applied, "tranche", "first") == planned
    after = await seeded.get("tranches", "tranche", "first")
    assert after["start_date"] == before["start_date"]
    # The rest of the upgrade went on.
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
