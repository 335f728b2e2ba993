"""Upgrading seeded workspaces: each case of the three-way merge against a real workspace whose
client changed things through the API, applied atomically (real PostgreSQL, no mocks)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

import services.app  # noqa: F401  (every register's service, as the application has them)
from services.config import Settings
from services.db.engine import Database
from services.errors import Conflict, NotFound
from services.workspace.raid.models import Risk
from services.workspace.registers import RegisterService
from services.workspace.templates import service as pins
from templates_library.items import stable_id
from templates_library.reading import read_pack_items
from templates_library.rows import STORED
from templates_library.seeding import seed
from templates_library.upgrade import Action, ChangedBy, UpgradePlan, same
from templates_library.upgrading import WorkspaceUpgrade, apply_upgrade, plan_upgrade
from templates_library.values import seed_values
from tests.conftest import (
    MakeWorkspace,
    PgServer,
    PublishPack,
    Workspace,
    failing_pin_moves,
    in_workspace,
)
from tests.tiny_pack import PARAMS, second_version, tiny_version
from tests.workspace_api import Client, change, url

UPDATED = {
    ("board", "board"),
    ("risk", "threat"),
    ("gate_criterion", "gate/criterion-1"),
    ("decision", "approach"),
}


def actions(plan: UpgradePlan) -> dict[tuple[str, str], Action]:
    return {entry.item_id: entry.action for entry in plan.entries}


def entry(upgrade: WorkspaceUpgrade, kind: str, key: str) -> Any:
    return next(e for e in upgrade.plan.entries if (e.kind, e.key) == (kind, key))


class Seeded:
    """A workspace seeded from the tiny pack's 1.0.0, with 1.1.0 published."""

    def __init__(self, database: Database, client: Client, ws: Workspace, pack: str) -> None:
        self.database, self.client, self.ws, self.pack = database, client, ws, pack

    def id(self, kind: str, key: str) -> uuid.UUID:
        return stable_id(self.ws.tenant_id, self.pack, kind, key)

    async def get(self, path: str, kind: str, key: str) -> dict[str, Any]:
        response = await self.client.get(
            url(self.ws, f"{path}/{self.id(kind, key)}"), headers=self.ws.headers
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def edit(self, path: str, kind: str, key: str, body: dict[str, Any]) -> None:
        row = await self.get(path, kind, key)
        response = await change(self.client, self.ws, path, row, body)
        assert response.status_code == 200, response.text

    async def delete(self, path: str, kind: str, key: str) -> None:
        response = await self.client.delete(
            url(self.ws, f"{path}/{self.id(kind, key)}"), headers=self.ws.headers
        )
        assert response.status_code == 204, response.text

    async def plan(self, to: str = "1.1.0") -> WorkspaceUpgrade:
        async with in_workspace(self.database, self.ws.tenant_id) as session:
            return await plan_upgrade(session, self.ws.tenant_id, self.pack, to)

    async def apply(self, to: str = "1.1.0") -> WorkspaceUpgrade:
        async with in_workspace(self.database, self.ws.tenant_id) as session:
            return await apply_upgrade(session, self.ws.tenant_id, self.pack, to)

    async def pinned(self) -> str:
        async with in_workspace(self.database, self.ws.tenant_id) as session:
            return (await pins.require(session)).pack_version


@pytest.fixture
async def seeded(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> Seeded:
    ws = await make_workspace()
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    return Seeded(database, client, ws, pack)


async def test_an_untouched_workspace_follows_the_new_version_exactly(seeded: Seeded) -> None:
    planned = await seeded.plan()

    assert not planned.applied and await seeded.pinned() == "1.0.0"
    found = actions(planned.plan)
    assert {item for item, action in found.items() if action is Action.UPDATE} == UPDATED
    assert {item for item, action in found.items() if action is Action.ADD} == {("risk", "skills")}
    assert {item for item, action in found.items() if action is Action.REMOVE} == {
        ("assumption", "funding"),
        ("risk", "upside"),
    }
    assert planned.plan.counts()[Action.CONFLICT] == planned.plan.counts()[Action.KEPT] == 0
    board_before = await seeded.get("boards", "board", "board")

    applied = await seeded.apply()

    assert applied.applied and (applied.from_version, applied.to_version) == ("1.0.0", "1.1.0")
    assert await seeded.pinned() == "1.1.0"
    async with in_workspace(seeded.database, seeded.ws.tenant_id) as session:
        read = await read_pack_items(session, seeded.pack)
    expected = seed_values(tiny_version(second_version), PARAMS)
    assert set(read.values) == set(expected)
    assert all(same(read.values[item], expected[item]) for item in expected)
    board = await seeded.get("boards", "board", "board")
    milestone = await seeded.get("milestones", "milestone", "halfway")
    assert board["cadence"] == "fortnightly" and board["version"] == board_before["version"] + 1
    assert board["source_version"] == "1.1.0" and milestone["source_version"] == "1.0.0"
    assert [m["role_title"] for m in board["members"]] == ["Sponsor", "Manager"]
    risk = await seeded.get("risks", "risk", "threat")
    # Inherent moves with the pack; residual followed because the client never assessed it.
    assert (risk["inherent_probability"], risk["residual_probability"]) == (4, 4)
    again = await seeded.plan()
    assert again.plan.counts()[Action.UNCHANGED] == len(again.plan.entries)


async def test_a_risk_edited_by_the_client_and_changed_by_the_pack_is_a_conflict_left_alone(
    seeded: Seeded,
) -> None:
    await seeded.edit("risks", "risk", "threat", {"title": "Our supplier is late"})
    edited = await seeded.get("risks", "risk", "threat")

    planned = await seeded.plan()
    conflict = entry(planned, "risk", "threat")
    applied = await seeded.apply()

    assert conflict.action is Action.CONFLICT and not conflict.mergeable
    fields = {f.field: f for f in conflict.fields}
    assert set(fields) == {"title", "probability"}
    assert fields["title"].changed_by is ChangedBy.BOTH
    assert (fields["title"].base, fields["title"].theirs, fields["title"].ours) == (
        "Supplier late",
        "Our supplier is late",
        "Supplier late on the critical path",
    )
    assert fields["probability"].changed_by is ChangedBy.PACK
    assert [e.key for e in applied.plan.with_action(Action.CONFLICT)] == ["threat"]
    risk = await seeded.get("risks", "risk", "threat")
    assert (risk["title"], risk["inherent_probability"]) == ("Our supplier is late", 3)
    # Not written, but the client has seen 1.1.0's change: the row is settled at 1.1.0, so
    # the next upgrade's base for it is 1.1.0 (an update held back by a rule stays at 1.0.0).
    assert risk["source_version"] == "1.1.0"
    # What a read shows changed (source_version), so the ETag a client holds goes stale.
    assert risk["version"] == edited["version"] + 1
    # Everything else moved on, and the conflict is still there for the client to settle.
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
    assert entry(await seeded.plan(), "risk", "threat").action is Action.KEPT


async def test_changes_to_different_fields_of_a_risk_are_merged(seeded: Seeded) -> None:
    await seeded.edit("risks", "risk", "threat", {"response_plan": "Dual-source the parts."})

    merged = entry(await seeded.plan(), "risk", "threat")
    applied = entry(await seeded.apply(), "risk", "threat")

    assert merged.action is Action.UPDATE and merged.mergeable
    assert applied == merged  # the dry run said what applying did
    assert {f.field: f.changed_by for f in merged.fields} == {
        "title": ChangedBy.PACK,
        "probability": ChangedBy.PACK,
        "response_plan": ChangedBy.CLIENT,
    }
    risk = await seeded.get("risks", "risk", "threat")
    assert (risk["title"], risk["inherent_probability"], risk["response_plan"]) == (
        "Supplier late on the critical path",
        4,
        "Dual-source the parts.",
    )
    assert risk["source_version"] == "1.1.0"
    # Next time only the client's own change shows, and as the client's.
    after = entry(await seeded.plan(), "risk", "threat")
    assert after.action is Action.KEPT
    assert {f.field: f.changed_by for f in after.fields} == {"response_plan": ChangedBy.CLIENT}


async def test_what_the_client_changed_and_the_pack_did_not_is_kept(seeded: Seeded) -> None:
    await seeded.edit("milestones", "milestone", "halfway", {"title": "Half-way review"})

    kept = entry(await seeded.plan(), "milestone", "halfway")
    await seeded.apply()

    assert kept.action is Action.KEPT
    assert kept.reason == "changed by the client; the pack did not change it"
    assert (await seeded.get("milestones", "milestone", "halfway"))["title"] == "Half-way review"


async def test_what_the_client_deleted_stays_deleted(seeded: Seeded) -> None:
    await seeded.delete("decisions", "decision", "approach")  # the pack rewords it
    await seeded.delete("milestones", "milestone", "halfway")  # the pack leaves it

    planned = await seeded.plan()
    await seeded.apply()

    assert entry(planned, "decision", "approach").action is Action.CONFLICT
    assert entry(planned, "decision", "approach").reason == (
        "deleted by the client but changed by the target version"
    )
    assert entry(planned, "milestone", "halfway").action is Action.KEPT
    for path, kind, key in (
        ("decisions", "decision", "approach"),
        ("milestones", "milestone", "halfway"),
    ):
        response = await seeded.client.get(
            url(seeded.ws, f"{path}/{seeded.id(kind, key)}"), headers=seeded.ws.headers
        )
        assert response.status_code == 404


async def test_a_removal_the_clients_own_rows_still_use_is_kept(seeded: Seeded) -> None:
    programme = seeded.id("programme", "programme")
    upside = seeded.id("risk", "upside")
    own = await seeded.client.post(
        url(seeded.ws, "assumptions"),
        json={
            "programme_id": str(programme),
            "statement": "Vacancies stay open",
            "risk_id": str(upside),
        },
        headers=seeded.ws.headers,
    )
    assert own.status_code == 201, own.text

    planned = await seeded.plan()
    await seeded.apply()

    held = entry(planned, "risk", "upside")
    assert held.action is Action.KEPT
    assert held.reason == "removed in the target version, but assumptions still uses it"
    assert entry(planned, "assumption", "funding").action is Action.REMOVE
    assert (await seeded.get("risks", "risk", "upside"))["title"] == "Early savings"


async def test_a_person_named_in_a_seat_keeps_it_when_the_pack_updates_the_board(
    seeded: Seeded,
) -> None:
    board = await seeded.get("boards", "board", "board")
    seats = [
        {
            "role_title": m["role_title"],
            "capacity": m["capacity"],
            "role_id": m["role_id"],
            "user_id": str(seeded.ws.user_id) if m["capacity"] == "chair" else None,
        }
        for m in board["members"]
    ]
    assert (
        await change(seeded.client, seeded.ws, "boards", board, {"members": seats})
    ).status_code == 200

    assert entry(await seeded.plan(), "board", "board").action is Action.UPDATE
    await seeded.apply()

    members = (await seeded.get("boards", "board", "board"))["members"]
    assert [(m["role_title"], m["user_id"]) for m in members] == [
        ("Sponsor", str(seeded.ws.user_id)),
        ("Manager", None),
    ]


def rework_the_gate(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and the gate's criteria reworked: one added, one dropped."""
    second_version(data)
    criteria = data["gates"][0]["criteria"]
    criteria.append({"key": "criterion-6", "text": "Benefits owners named.", "evidence": "RACI"})
    criteria.remove(next(c for c in criteria if c["key"] == "criterion-5"))


async def decide_as_chair(seeded: Seeded, decision: str) -> None:
    """Seat the workspace's user in the chair of the pack's board, start the gate's review,
    then decide it."""
    client, ws = seeded.client, seeded.ws
    board = await seeded.get("boards", "board", "board")
    seats = [
        {**{k: m[k] for k in ("role_title", "capacity", "role_id")}, "user_id": None}
        for m in board["members"]
    ]
    seats[0]["user_id"] = str(ws.user_id)
    assert (await change(client, ws, "boards", board, {"members": seats})).status_code == 200
    # A gate is decided in review.
    gate = await seeded.get("stage-gates", "gate", "gate")
    started = await change(client, ws, "stage-gates", gate, {"state": "in_review"})
    assert started.status_code == 200, started.text
    decided = await client.post(
        url(ws, f"stage-gates/{seeded.id('gate', 'gate')}/decisions"),
        json={"decision": decision, "decided_by_id": str(ws.user_id)},
        headers={**ws.headers, "If-Match": "*"},  # the gate as it stands
    )
    assert decided.status_code == 201, decided.text


async def test_a_decided_gate_and_its_assessed_criteria_stay_as_the_board_decided(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(None, rework_the_gate)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    # The chair (this user) stops the programme at the gate; the pack then reworks its criteria.
    await decide_as_chair(seeded, "stop")
    gate_before = await seeded.get("stage-gates", "gate", "gate")

    planned = await seeded.plan()

    for key in ("gate/criterion-1", "gate/criterion-5", "gate/criterion-6"):
        criterion = entry(planned, "gate_criterion", key)
        assert criterion.action is Action.KEPT, key  # changed, removed, added by the pack
        assert "final" in criterion.reason
    await seeded.apply()
    gate_after = await seeded.get("stage-gates", "gate", "gate")
    assert gate_after == gate_before  # criteria, outcomes, board: as the board decided
    texts = [c["text"] for c in gate_after["criteria"]]
    assert "Criterion 5 is met." in texts and "Benefits owners named." not in texts


@pytest.mark.parametrize("review", ["in_review", "hold"])
async def test_the_criteria_of_a_gate_under_review_stay_as_the_board_is_assessing_them(
    database: Database,
    client: Client,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    review: str,
) -> None:
    # The API settles a gate's criteria once its review starts; an upgrade does not rework them
    # either, whether the review is under way or the gate is on hold (reviewed again).
    ws = await make_workspace()
    pack = await publish_pack(None, rework_the_gate)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    gate = await seeded.get("stage-gates", "gate", "gate")
    if review == "in_review":
        started = await change(client, ws, "stage-gates", gate, {"state": "in_review"})
        assert started.status_code == 200, started.text
    else:
        await decide_as_chair(seeded, "hold")
    before = [c["text"] for c in (await seeded.get("stage-gates", "gate", "gate"))["criteria"]]

    planned = await seeded.plan()

    for key in ("gate/criterion-1", "gate/criterion-5", "gate/criterion-6"):
        criterion = entry(planned, "gate_criterion", key)
        assert criterion.action is Action.KEPT, key
        assert "under review" in criterion.reason, criterion.reason
    await seeded.apply()
    after = [c["text"] for c in (await seeded.get("stage-gates", "gate", "gate"))["criteria"]]
    assert after == before


async def test_an_upgrade_failing_at_its_last_write_leaves_the_old_version_whole(
    seeded: Seeded, pg_server: PgServer, settings: Settings
) -> None:
    before = await seeded.plan()

    with (
        failing_pin_moves(pg_server, settings, seeded.ws.tenant_id),
        pytest.raises(DBAPIError, match="injected failure"),
    ):
        await seeded.apply()

    # Adds, updates and removals ran before the failure; none of them stayed.
    assert await seeded.pinned() == "1.0.0"
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "monthly"
    assert (await seeded.get("assumptions", "assumption", "funding"))["statement"]
    async with in_workspace(seeded.database, seeded.ws.tenant_id) as session:
        assert await session.scalar(select(Risk).where(Risk.source_item == "risk:skills")) is None
    assert (await seeded.plan()).plan == before.plan
    assert (await seeded.apply()).applied  # and it goes through once the fault is gone


async def test_versions_only_go_forwards_and_only_on_the_workspaces_own_pack(
    seeded: Seeded,
) -> None:
    await seeded.apply()

    with pytest.raises(Conflict, match="older"):
        await seeded.plan("1.0.0")
    with pytest.raises(NotFound):
        await seeded.plan("2.0.0")
    async with in_workspace(seeded.database, seeded.ws.tenant_id) as session:
        with pytest.raises(Conflict, match="follows the pack"):
            await plan_upgrade(session, seeded.ws.tenant_id, "msp-governance", None)
    same_version = await seeded.plan("1.1.0")
    assert same_version.plan.counts()[Action.UNCHANGED] == len(same_version.plan.entries)


async def test_a_workspace_never_seeded_has_nothing_to_upgrade(
    database: Database, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()

    async with in_workspace(database, ws.tenant_id) as session:
        with pytest.raises(NotFound, match="not seeded from a template pack"):
            await plan_upgrade(session, ws.tenant_id, None, None)


def test_every_kind_the_api_writes_is_upgraded_through_its_registers_rules() -> None:
    def subclasses(cls: type[RegisterService[Any]]) -> list[type[RegisterService[Any]]]:
        return [cls, *(found for sub in cls.__subclasses__() for found in subclasses(sub))]

    by_model = {
        service.model: service
        for service in subclasses(RegisterService)
        if "model" in service.__dict__
    }

    for stored in STORED.values():
        assert stored.rules is by_model.get(stored.model), stored.kind
