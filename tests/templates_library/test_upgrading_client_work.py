"""Upgrades against what clients do with pack items beyond the pack's own fields: the state
they record on a row (closed, resolved, achieved …), the seats they add to a board, the
projects they add to a benefit (real PostgreSQL, changes made through the API)."""

from __future__ import annotations

from typing import Any

from services.db.engine import Database
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack
from tests.templates_library.test_upgrading import Seeded, entry
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client


def dropping_the_raid(data: dict[str, Any]) -> None:
    """1.1.0 as usual (the opportunity and the assumption go), and the issue and the
    milestone dropped too."""
    second_version(data)
    del data["issues"]
    data["milestones"] = []


async def seeded_with(
    database: Database,
    client: Client,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    *versions: Any,
) -> Seeded:
    ws = await make_workspace()
    pack = await publish_pack(None, *versions)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    return Seeded(database, client, ws, pack)


async def test_a_removal_of_a_row_the_client_worked_on_is_kept_not_deleted(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, dropping_the_raid)
    # The pack's fields stay as seeded; the client records its work on the rows.
    await seeded.edit(
        "risks",
        "risk",
        "upside",
        {"status": "closed", "next_review_date": "2026-04-01", "custom_fields": {"note": "Done"}},
    )
    await seeded.edit("issues", "issue", "late-start", {"status": "resolved"})
    await seeded.edit(
        "milestones", "milestone", "halfway", {"state": "achieved", "actual_date": "2026-03-03"}
    )

    planned = await seeded.plan()
    applied = await seeded.apply()

    kept = {
        ("risk", "upside"): "next_review_date, status, custom_fields",
        ("issue", "late-start"): "status",
        ("milestone", "halfway"): "actual_date, state",
    }
    for (kind, key), columns in kept.items():
        for upgrade in (planned, applied):
            found = entry(upgrade, kind, key)
            assert found.action is Action.KEPT, (kind, key, found.reason)
            assert found.reason == (
                f"changed by the client ({columns}); the target version removes it"
            )
    # Untouched, the assumption goes as before.
    assert entry(planned, "assumption", "funding").action is Action.REMOVE
    assert (await seeded.get("risks", "risk", "upside"))["status"] == "closed"
    assert (await seeded.get("issues", "issue", "late-start"))["status"] == "resolved"
    assert (await seeded.get("milestones", "milestone", "halfway"))["state"] == "achieved"
    # Settled: the next plan leaves them to the client, with no removal due.
    again = await seeded.plan()
    for kind, key in kept:
        assert entry(again, kind, key).action is Action.KEPT
