"""What a template upgrade's removals (`delete_seeded`, which goes round the register's delete
rules) may take from a closed tranche's record: a milestone the client achieved there is kept
(its state is the client's work), and so is the tranche the pack drops from before it (real
PostgreSQL, the client's work done through the API)."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack
from tests.templates_library.test_upgrading import Seeded, entry
from tests.tiny_pack import PARAMS
from tests.workspace_api import Client


def ungated(data: dict[str, Any]) -> None:
    """The tiny pack without its gate (and the checklist on it), so its tranches start and
    close through the API alone, and with a 'Scoping' tranche placed before the others."""
    data["gates"] = []
    data["checklists"] = []
    first = data["tranches"][0]
    scoping = {**first, "key": "scoping", "title": "Scoping", "purpose": "Scope.", "end_day": 10}
    first["start_day"] = 11
    data["tranches"].insert(0, scoping)


def dropping_scoping_and_the_milestone(data: dict[str, Any]) -> None:
    """1.1.0: the 'Scoping' tranche and the 'Halfway' milestone dropped, nothing else."""
    ungated(data)
    data["version"] = "1.1.0"
    data["changes"] = ["No scoping tranche; the halfway milestone dropped."]
    del data["tranches"][0]
    data["milestones"] = []


async def first_tranche_closed(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> Seeded:
    """1.0.0 seeded; the client achieves 'Halfway' in the first tranche and closes it. The
    'Scoping' tranche before it stays planned, untouched."""
    ws = await make_workspace()
    pack = await publish_pack(ungated, dropping_scoping_and_the_milestone)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    await seeded.edit("tranches", "tranche", "first", {"state": "started"})
    await seeded.edit("milestones", "milestone", "halfway", {"state": "achieved"})
    await seeded.edit("tranches", "tranche", "first", {"state": "closed"})
    positions = {
        key: (await seeded.get("tranches", "tranche", key))["position"]
        for key in ("scoping", "first")
    }
    assert positions["scoping"] < positions["first"], positions
    return seeded


async def test_a_milestone_achieved_in_a_closed_tranche_stays_when_the_pack_drops_it(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    """A pack seeds no milestone state (every seeded milestone starts planned): one achieved in
    a closed tranche was achieved by the client, and the upgrade's removal keeps it as the
    client's work, so no seeded-achieved milestone can leave a closed tranche's record."""
    seeded = await first_tranche_closed(database, client, make_workspace, publish_pack)

    applied = await seeded.apply()

    found = entry(applied, "milestone", "halfway")
    assert found.action is Action.KEPT, found.reason
    assert "state" in found.reason
    assert (await seeded.get("milestones", "milestone", "halfway"))["state"] == "achieved"


async def test_a_tranche_before_a_closed_one_stays_when_the_pack_drops_it(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    """The pack drops 'Scoping', which the client never touched (still planned; its position
    is not the client's work), but it stands before the closed first tranche: which tranches
    came before a closed one is its record, and the API refuses its delete (409). The upgrade
    holds the removal back, naming the closed tranche, where `delete_seeded` would go round
    that rule."""
    seeded = await first_tranche_closed(database, client, make_workspace, publish_pack)

    applied = await seeded.apply()

    found = entry(applied, "tranche", "scoping")
    assert found.action is Action.KEPT, found.reason
    assert "before the closed tranche" in found.reason, found.reason
    assert (await seeded.get("tranches", "tranche", "scoping"))["state"] == "planned"
