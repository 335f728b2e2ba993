"""An item the target version removes whole but the upgrade keeps (the client worked on it,
rows still use it) keeps its parts: a gate its criteria, not emptied of them (real PostgreSQL,
changes made through the API)."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack
from tests.templates_library.test_upgrading import entry
from tests.templates_library.test_upgrading_client_work import seeded_with
from tests.tiny_pack import second_version
from tests.workspace_api import Client


def gate_gone(data: dict[str, Any]) -> None:
    """1.1.0 as usual, without the gate (nor its checklist)."""
    second_version(data)
    data["gates"] = []
    data["checklists"] = []


async def test_a_gate_kept_as_the_client_worked_on_it_keeps_its_criteria(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, gate_gone)
    await seeded.edit("stage-gates", "gate", "gate", {"planned_date": "2026-04-30"})
    before = (await seeded.get("stage-gates", "gate", "gate"))["criteria"]

    planned = await seeded.plan()
    applied = await seeded.apply()

    assert entry(planned, "gate", "gate").action is Action.KEPT
    for n in range(1, 6):
        criterion = entry(planned, "gate_criterion", f"gate/criterion-{n}")
        assert criterion.action is Action.KEPT, criterion.reason
        assert criterion.reason == (
            "removed in the target version with its gate gate, which the upgrade keeps: it "
            "keeps its parts"
        )
        assert entry(applied, "gate_criterion", f"gate/criterion-{n}") == criterion
    assert (await seeded.get("stage-gates", "gate", "gate"))["criteria"] == before
