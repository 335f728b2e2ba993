"""Columns seeding derives from another item (a gate's planned date from its tranche's end, an
issue's escalation text from its board's title) are not the client's work just because an
earlier upgrade changed their source (real PostgreSQL, changes made through the API)."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack
from tests.templates_library.test_upgrading import entry
from tests.templates_library.test_upgrading_client_work import seeded_with
from tests.workspace_api import Client


def sources_moved(data: dict[str, Any]) -> None:
    """1.1.0: the first tranche ends earlier and the board is renamed; nothing else."""
    data["version"] = "1.1.0"
    data["changes"] = ["First tranche shorter; the board renamed."]
    data["tranches"][0]["end_day"] = 45
    data["boards"][0]["title"] = "Steering board"


def gate_and_issue_gone(data: dict[str, Any]) -> None:
    """1.2.0: as 1.1.0, without the gate (its checklist with it) and the issue."""
    sources_moved(data)
    data["version"] = "1.2.0"
    data["changes"] = ["No gate, no issue."]
    data["gates"] = []
    data["checklists"] = []
    del data["issues"]


def early_milestone(data: dict[str, Any]) -> None:
    data["milestones"][0]["day"] = 40  # inside the shorter tranche too


async def test_rows_derived_from_what_an_earlier_upgrade_changed_are_removed_untouched(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(
        database,
        client,
        make_workspace,
        publish_pack,
        early_milestone,
        lambda data: (early_milestone(data), sources_moved(data)),
        lambda data: (early_milestone(data), gate_and_issue_gone(data)),
    )
    await seeded.apply("1.1.0")

    planned = await seeded.plan("1.2.0")
    applied = await seeded.apply("1.2.0")

    for upgrade in (planned, applied):
        for kind, key in (("gate", "gate"), ("issue", "late-start")):
            found = entry(upgrade, kind, key)
            assert found.action is Action.REMOVE, (kind, key, found.reason)
    gone = await client.get(
        f"/api/v1/w/{seeded.ws.slug}/stage-gates/{seeded.id('gate', 'gate')}",
        headers=seeded.ws.headers,
    )
    assert gone.status_code == 404, gone.text


async def test_a_derived_column_the_client_changed_still_keeps_the_row(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(
        database,
        client,
        make_workspace,
        publish_pack,
        early_milestone,
        lambda data: (early_milestone(data), sources_moved(data)),
        lambda data: (early_milestone(data), gate_and_issue_gone(data)),
    )
    await seeded.apply("1.1.0")
    await seeded.edit("stage-gates", "gate", "gate", {"planned_date": "2026-04-30"})
    await seeded.edit("issues", "issue", "late-start", {"escalated_to": "The sponsor"})

    upgrade = await seeded.apply("1.2.0")

    assert entry(upgrade, "gate", "gate").reason == (
        "changed by the client (planned_date); the target version removes it"
    )
    assert entry(upgrade, "issue", "late-start").reason == (
        "changed by the client (escalated_to); the target version removes it"
    )
    assert (await seeded.get("stage-gates", "gate", "gate"))["planned_date"] == "2026-04-30"
