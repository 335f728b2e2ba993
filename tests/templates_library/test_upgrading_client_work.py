"""Upgrades against what clients do with pack items beyond the pack's own fields: the state
they record on a row (closed, resolved, achieved …), the seats they add to a board, the
projects they add to a benefit (real PostgreSQL, changes made through the API)."""

from __future__ import annotations

from typing import Any

import pytest

from services.config import Settings
from services.db.engine import Database
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PgServer, PublishPack, failing_pin_moves
from tests.templates_library.test_upgrading import Seeded, entry
from tests.templates_library.test_workspace_cli import run
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, change, url


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


@pytest.fixture
async def seeded(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> Seeded:
    """The tiny pack's 1.0.0 seeded, 1.1.0 published."""
    return await seeded_with(database, client, make_workspace, publish_pack, second_version)


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


ASSURER = {"role_title": "Independent assurer", "capacity": "observer", "role_id": None}


async def seats(seeded: Seeded) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = (await seeded.get("boards", "board", "board"))["members"]
    return [{k: m[k] for k in ("role_title", "capacity", "role_id", "user_id")} for m in members]


async def set_seats(seeded: Seeded, members: list[dict[str, Any]]) -> None:
    board = await seeded.get("boards", "board", "board")
    response = await change(seeded.client, seeded.ws, "boards", board, {"members": members})
    assert response.status_code == 200, response.text


async def test_a_seat_the_client_adds_to_a_pack_board_stays_through_the_upgrade(
    seeded: Seeded,
) -> None:
    # The client adds a seat with no role; 1.1.0 changes the board's cadence, not its seats.
    await set_seats(seeded, [*await seats(seeded), {**ASSURER, "user_id": None}])
    before = await seats(seeded)

    planned = await seeded.plan()  # a dry run, which failed on the seat with no role
    applied = await seeded.apply()

    for upgrade in (planned, applied):
        board = entry(upgrade, "board", "board")
        assert board.action is Action.UPDATE and board.mergeable, board.reason
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
    assert await seats(seeded) == before


def two_manager_seats(data: dict[str, Any]) -> None:
    data["boards"][0]["members"].append({"role": "manager", "capacity": "secretariat"})


def a_seat_more(data: dict[str, Any]) -> None:
    second_version(data)
    two_manager_seats(data)
    data["boards"][0]["members"].append({"role": "sponsor", "capacity": "observer"})


async def test_when_the_pack_changes_the_seats_each_keeps_its_person_and_the_clients_title(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(two_manager_seats, a_seat_more)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = Seeded(database, client, ws, pack)
    # A person in one of the two manager seats, the other left empty; a seat renamed.
    members = await seats(seeded)
    members[1] |= {"user_id": str(ws.user_id), "role_title": "Delivery manager"}
    await set_seats(seeded, members)

    assert entry(await seeded.plan(), "board", "board").action is Action.UPDATE
    await seeded.apply()

    after = await seats(seeded)
    assert [(m["role_title"], m["capacity"], m["user_id"]) for m in after] == [
        ("Sponsor", "chair", None),
        ("Delivery manager", "member", str(ws.user_id)),
        ("Manager", "secretariat", None),
        ("Sponsor", "observer", None),
    ]


def test_an_upgrade_the_database_refuses_is_one_line_not_a_traceback(
    settings: Settings, seeded: Seeded, pg_server: PgServer
) -> None:
    with failing_pin_moves(pg_server, settings, seeded.ws.tenant_id):
        result = run(
            settings,
            "upgrade",
            "--tenant",
            seeded.ws.slug,
            "--to",
            f"{seeded.pack}@1.1.0",
            "--apply",
        )

    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "injected failure" in lines[0]


def benefit_reworded(data: dict[str, Any]) -> None:
    second_version(data)
    data["benefits"][0]["description"] = "Fewer hand-offs between teams."


async def pin(seeded: Seeded) -> Any:
    response = await seeded.client.get(url(seeded.ws, "template-pin"), headers=seeded.ws.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_project_of_the_clients_enabling_a_pack_benefit_merges_cleanly(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, benefit_reworded)
    own = await client.post(
        url(seeded.ws, "projects"),
        json={"programme_id": str(seeded.id("programme", "programme")), "name": "Our training"},
        headers=seeded.ws.headers,
    )
    assert own.status_code == 201, own.text
    enablers = [str(seeded.id("project", "build")), own.json()["id"]]
    await seeded.edit("benefits", "benefit", "faster", {"enabling_project_ids": enablers})

    planned = entry(await seeded.plan(), "benefit", "faster")
    applied = entry(await seeded.apply(), "benefit", "faster")

    assert planned.action is Action.UPDATE and planned.mergeable, planned.reason
    assert applied == planned
    benefit = await seeded.get("benefits", "benefit", "faster")
    assert benefit["description"] == "Fewer hand-offs between teams."
    assert benefit["enabling_project_ids"] == enablers
    assert (await pin(seeded))["held_items"] == {}


def a_criterion_more(data: dict[str, Any]) -> None:
    second_version(data)
    data["gates"][0]["criteria"].append(
        {"key": "roles-confirmed", "text": "Roles confirmed.", "evidence": "RACI"}
    )


async def test_a_criterion_the_pack_adds_goes_after_the_clients_own(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await seeded_with(database, client, make_workspace, publish_pack, a_criterion_more)
    gate = seeded.id("gate", "gate")
    own = await client.post(
        url(seeded.ws, f"stage-gates/{gate}/criteria"),
        json={"text": "Our auditor is content."},
        headers={**seeded.ws.headers, "If-Match": "*"},
    )
    assert own.status_code == 201, own.text
    assert own.json()["position"] == 5  # where the pack's new criterion would go

    await seeded.apply()

    criteria = (await seeded.get("stage-gates", "gate", "gate"))["criteria"]
    positions = [c["position"] for c in criteria]
    assert len(set(positions)) == len(positions), positions
    assert [c["text"] for c in criteria][-2:] == ["Our auditor is content.", "Roles confirmed."]
