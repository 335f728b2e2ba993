"""What a rule holds back for good (a milestone's baseline moves only through a change request)
is recorded once: later runs to the same version list it as held back before, not as new work
(real PostgreSQL, the CLI as an operator runs it and the API)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.config import Settings
from services.db.engine import Database
from services.identity.models import Role
from templates_library.seeding import seed
from templates_library.upgrade import Action
from templates_library.upgrading import upgrade_all
from tests.conftest import MakeWorkspace, PublishPack
from tests.templates_library.test_upgrading import Seeded, decide_as_chair, entry, rework_the_gate
from tests.templates_library.test_workspace_cli import run
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, url


def milestone_moved(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and the milestone moved to day 60: a re-baseline the rules refuse."""
    second_version(data)
    data["milestones"][0]["day"] = 60


async def test_a_change_held_back_at_a_version_is_not_new_work_on_later_runs_to_it(
    settings: Settings,
    client: Client,
    database: Database,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, milestone_moved)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    first = await asyncio.to_thread(
        run, settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply"
    )
    assert first.exit_code == 0, first.output
    assert f"  {ws.slug}: milestone halfway" in first.output
    assert "applied to 1 workspace(s), 0 failed, 1 conflict(s)" in first.output
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["held_items"] == {"milestone:halfway": "1.1.0"}

    dry = await asyncio.to_thread(run, settings, "upgrade", "--all", "--to", f"{pack}@1.1.0")
    again = await asyncio.to_thread(
        run, settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply"
    )
    planned = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)

    for later in (dry, again):
        assert later.exit_code == 0, later.output
        assert "conflict(s)" not in later.output and "conflicts" not in later.output
        assert (
            "1 workspace(s) on the target hold back only what was held back before "
            f"(nothing new): {ws.slug}: milestone halfway"
        ) in later.output
    assert planned.status_code == 200, planned.text
    (held,) = planned.json()["entries"]
    assert (held["kind"], held["key"], held["action"]) == ("milestone", "halfway", "conflict")
    assert held["held_before"] == "1.1.0"
    # Still on record, as the first upgrade left it.
    after = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert after["last_upgrade"] == pin["last_upgrade"]
    assert after["held_items"] == pin["held_items"]


async def test_what_a_decided_gate_holds_back_is_held_before_on_later_runs_to_its_version(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(None, rework_the_gate)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    await decide_as_chair(seeded, "stop")
    reworked = ("gate/criterion-1", "gate/criterion-5", "gate/criterion-6")

    first = await seeded.apply()
    again = await seeded.plan()

    for key in reworked:
        held = entry(first, "gate_criterion", key)
        assert (held.action, held.held_before) == (Action.KEPT, None), key  # new then
        later = entry(again, "gate_criterion", key)
        assert later.action is Action.KEPT and "final" in later.reason, key
        # The board's decision stands for good: on record, not new work.
        assert later.held_before == "1.1.0", key
    # Nothing due, so a run over every workspace leaves it out.
    assert await upgrade_all(database, pack, "1.1.0", apply=False) == []
