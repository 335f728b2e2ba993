"""The versions a workspace's rows may come from are read from the catalogue as it is now: a
patch published after a later version was listed (1.1.0 after 1.2.0) is not missed (real
PostgreSQL)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from pathlib import Path

from services.db.engine import Database
from templates_library import catalogue as bridge
from templates_library.loader import load_pack
from templates_library.seeding import PUBLISHED, seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace
from tests.templates_library.test_upgrading import Seeded, entry
from tests.tiny_pack import MANIFEST, PARAMS, VERSION, PackData, write_yaml
from tests.workspace_api import Client


def no_gate(data: PackData) -> None:
    """1.0.0: the tiny pack without its gate (and the gate's checklist), the milestone early
    enough for every version's first tranche."""
    data["gates"] = []
    data["checklists"] = []
    data["milestones"][0]["day"] = 40


def gate_added(data: PackData) -> None:
    """1.1.0: the gate, planned at the first tranche's end (day 50)."""
    data["version"] = "1.1.0"
    data["changes"] = ["A gate after the first tranche."]
    data["milestones"][0]["day"] = 40


def tranche_shorter(data: PackData) -> None:
    """1.2.0: as 1.1.0, the first tranche ending on day 45 (the gate's planned date, derived
    from it when the gate was added, is not rewritten)."""
    gate_added(data)
    data["version"] = "1.2.0"
    data["changes"] = ["First tranche shorter."]
    data["tranches"][0]["end_day"] = 45


def gate_gone(data: PackData) -> None:
    """1.3.0: as 1.2.0, without the gate."""
    tranche_shorter(data)
    data["version"] = "1.3.0"
    data["changes"] = ["No gate."]
    data["gates"] = []
    data["checklists"] = []


async def publish(
    database: Database, root: Path, key: str, changes: list[Callable[[PackData], None]]
) -> None:
    write_yaml(root / key / "pack.yaml", {**MANIFEST, "key": key})
    for change in changes:
        data = copy.deepcopy(VERSION)
        change(data)
        write_yaml(root / key / f"{data['version']}.yaml", data)
    async with database.transaction() as session:
        report = await bridge.sync(session, [load_pack(root / key)], root)
    assert not report.problems, report.problems


async def test_a_patch_published_after_the_versions_were_listed_is_not_missed(
    database: Database, client: Client, make_workspace: MakeWorkspace, tmp_path: Path
) -> None:
    ws = await make_workspace()
    root, key = tmp_path / "published", f"tiny-{uuid.uuid4().hex[:8]}"
    await publish(database, root, key, [no_gate, tranche_shorter, gate_gone])
    async with database.transaction() as session:
        # This process listed the pack's versions (an upgrade or a dry run read them).
        assert await PUBLISHED.names(session, key, "1.2.0") == ["1.0.0", "1.2.0", "1.3.0"]
    # Then 1.1.0 is published: a patch to the older line, after 1.2.0.
    await publish(database, root, key, [gate_added])
    await seed(database, ws.tenant_id, key, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, key)
    await seeded.apply("1.1.0")  # the gate is added, planned at the first tranche's end
    await seeded.apply("1.2.0")  # the tranche ends earlier; the gate's planned date stays

    planned = entry(await seeded.plan("1.3.0"), "gate", "gate")
    applied = entry(await seeded.apply("1.3.0"), "gate", "gate")

    # The gate's planned date is what 1.1.0 derived, not the client's work: it goes.
    assert planned.action is Action.REMOVE, planned.reason
    assert applied.action is Action.REMOVE, applied.reason
