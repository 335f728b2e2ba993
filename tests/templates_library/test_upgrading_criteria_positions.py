"""A gate's criteria after an upgrade stand at positions of their own, in the order the client
sees them, even where the upgrade leaves one as the client has it (a conflict) while moving or
adding others around it (real PostgreSQL, changes made through the API)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from services.db.engine import Database
from services.workspace.gates.models import GateCriterion
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack, in_workspace
from tests.templates_library.test_upgrading import entry
from tests.templates_library.test_upgrading_client_work import seeded_with
from tests.tiny_pack import second_version
from tests.workspace_api import Client


def one_inserted(data: dict[str, Any]) -> None:
    """1.1.0, with criterion 2 reworded and a new criterion in front of it."""
    second_version(data)
    criteria = data["gates"][0]["criteria"]
    criteria[1]["text"] = "Criterion 2 is met, with evidence."
    criteria.insert(1, {"key": "new", "text": "A new test.", "evidence": "A file"})


def two_swapped(data: dict[str, Any]) -> None:
    """1.1.0, with criterion 2 reworded and moved in front of criterion 1."""
    second_version(data)
    criteria = data["gates"][0]["criteria"]
    criteria[1]["text"] = "Criterion 2 is met, with evidence."
    criteria[0], criteria[1] = criteria[1], criteria[0]


async def criteria_after_a_conflict_on_criterion_2(
    database: Database,
    client: Client,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    change: Any,
) -> list[dict[str, Any]]:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, change)
    # The client rewords criterion 2 as well: a conflict, left at its position.
    await seeded.edit(
        f"stage-gates/{seeded.id('gate', 'gate')}/criteria",
        "gate_criterion",
        "gate/criterion-2",
        {"text": "Criterion 2, as we word it."},
    )

    upgrade = await seeded.apply()

    assert entry(upgrade, "gate_criterion", "gate/criterion-2").action is Action.CONFLICT
    criteria: list[dict[str, Any]] = (await seeded.get("stage-gates", "gate", "gate"))["criteria"]
    positions = [c["position"] for c in criteria]
    assert len(set(positions)) == len(positions), positions
    assert positions == sorted(positions)
    return criteria


async def test_a_new_criterion_does_not_take_the_place_of_one_left_as_the_client_has_it(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    criteria = await criteria_after_a_conflict_on_criterion_2(
        database, client, make_workspace, publish_pack, one_inserted
    )

    assert [c["text"] for c in criteria] == [
        "Criterion 1 is met and signed off.",
        "Criterion 2, as we word it.",
        "A new test.",
        "Criterion 3 is met.",
        "Criterion 4 is met.",
        "Criterion 5 is met.",
    ]


async def test_a_criterion_the_pack_moves_does_not_land_on_one_left_as_the_client_has_it(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    criteria = await criteria_after_a_conflict_on_criterion_2(
        database, client, make_workspace, publish_pack, two_swapped
    )

    assert [c["text"] for c in criteria] == [
        "Criterion 2, as we word it.",
        "Criterion 1 is met and signed off.",
        "Criterion 3 is met.",
        "Criterion 4 is met.",
        "Criterion 5 is met.",
    ]


async def test_the_dry_run_lists_a_criterion_renumbered_and_a_later_plan_says_so_not_kept(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, one_inserted)
    await seeded.edit(
        f"stage-gates/{seeded.id('gate', 'gate')}/criteria",
        "gate_criterion",
        "gate/criterion-2",
        {"text": "Criterion 2, as we word it."},
    )

    planned = entry(await seeded.plan(), "gate_criterion", "gate/new")
    applied = entry(await seeded.apply(), "gate_criterion", "gate/new")
    again = entry(await seeded.plan(), "gate_criterion", "gate/new")

    # The pack puts the new criterion at 1, where criterion 2 stays as the client has it.
    assert planned.action is Action.ADD
    assert "renumbered 1 → 2: the gate's criteria keep positions of their own" in planned.reason
    assert applied == planned
    # Where the upgrade put it is not the client's change.
    assert again.action is Action.UNCHANGED, again.reason
    assert again.reason.startswith("at position 2, not the target version's 1, where an upgrade")
    assert await seeded.pinned() == "1.1.0"


async def test_a_criterion_the_client_moved_is_still_kept(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, second_version)
    # The client moved criterion 3 to the end (set here directly).
    async with in_workspace(database, seeded.ws.tenant_id) as session:
        await session.execute(
            update(GateCriterion)
            .where(GateCriterion.id == seeded.id("gate_criterion", "gate/criterion-3"))
            .values(position=9)
        )

    found = entry(await seeded.plan(), "gate_criterion", "gate/criterion-3")

    assert found.action is Action.KEPT
    assert "client" in found.reason
