"""A gate's criteria after an upgrade stand at positions of their own, in the order the client
sees them, even where the upgrade leaves one as the client has it (a conflict) while moving or
adding others around it (real PostgreSQL, changes made through the API)."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack
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
