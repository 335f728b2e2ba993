"""``/api/v1/w/{slug}/template-pin`` and ``/template-upgrades``: dry run by default, admins
only, applying is atomic and retry-safe with an Idempotency-Key."""

from __future__ import annotations

import uuid

import pytest

from services.db.engine import Database
from services.identity.models import Role
from templates_library.items import stable_id
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, PublishPack, Workspace
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, change, url


@pytest.fixture
async def seeded(
    database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> tuple[Workspace, str]:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    return ws, pack


async def test_the_pin_shows_the_pack_version_and_parameters(
    client: Client, seeded: tuple[Workspace, str], make_workspace: MakeWorkspace
) -> None:
    ws, pack = seeded
    never = await make_workspace()

    pinned = await client.get(url(ws, "template-pin"), headers=ws.headers)
    missing = await client.get(url(never, "template-pin"), headers=never.headers)

    assert pinned.status_code == 200
    assert pinned.json()["pack"] == pack and pinned.json()["pack_version"] == "1.0.0"
    assert pinned.json()["params"] == PARAMS and pinned.json()["upgraded_at"] is None
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_a_dry_run_shows_the_plan_and_changes_nothing(
    client: Client, seeded: tuple[Workspace, str]
) -> None:
    ws, pack = seeded
    risk_id = stable_id(ws.tenant_id, pack, "risk", "threat")
    risk = (await client.get(url(ws, f"risks/{risk_id}"), headers=ws.headers)).json()
    assert (await change(client, ws, "risks", risk, {"title": "Ours"})).status_code == 200

    response = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)

    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["pack"], plan["from_version"], plan["to_version"]) == (pack, "1.0.0", "1.1.0")
    assert plan["applied"] is False
    assert plan["counts"]["conflict"] == 1 and plan["counts"]["add"] == 1
    (conflict,) = [e for e in plan["entries"] if e["action"] == "conflict"]
    assert (conflict["kind"], conflict["key"]) == ("risk", "threat")
    title = next(f for f in conflict["fields"] if f["field"] == "title")
    assert title == {
        "field": "title",
        "changed_by": "both",
        "base": "Supplier late",
        "theirs": "Ours",
        "ours": "Supplier late on the critical path",
    }
    assert all(e["action"] != "unchanged" for e in plan["entries"])
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.0.0"


async def test_applying_moves_the_pin_once_per_idempotency_key(
    client: Client, seeded: tuple[Workspace, str]
) -> None:
    ws, pack = seeded
    body = {"version": "1.1.0", "apply": True}
    key = {"Idempotency-Key": uuid.uuid4().hex}

    first = await client.post(
        url(ws, "template-upgrades"), json=body, headers={**ws.headers, **key}
    )
    again = await client.post(
        url(ws, "template-upgrades"), json=body, headers={**ws.headers, **key}
    )
    other = await client.post(
        url(ws, "template-upgrades"),
        json={"apply": False},
        headers={**ws.headers, **key},
    )

    assert first.status_code == 200, first.text
    assert first.json()["applied"] is True and first.json()["counts"]["update"] == 4
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 200  # a dry run does not use the key
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.1.0" and pin["upgraded_at"] is not None
    board = stable_id(ws.tenant_id, pack, "board", "board")
    shown = (await client.get(url(ws, f"boards/{board}"), headers=ws.headers)).json()
    assert shown["cadence"] == "fortnightly" and shown["source_version"] == "1.1.0"
    nothing_left = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    assert nothing_left.json()["entries"] == []
    # Applying the version already pinned changes nothing, so records no upgrade.
    same = await client.post(url(ws, "template-upgrades"), json=body, headers=ws.headers)
    assert same.status_code == 200 and same.json()["counts"].get("update", 0) == 0
    after = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert after == pin


async def test_only_admins_upgrade_and_bad_targets_are_problems(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    member = await make_workspace(Role.MEMBER)
    pack = await publish_pack(None, second_version)
    await seed(database, member.tenant_id, pack, "1.1.0", PARAMS)
    admin = await make_workspace(Role.ADMIN)
    await seed(database, admin.tenant_id, pack, "1.1.0", PARAMS)
    upgrades = url(admin, "template-upgrades")

    refused = await client.post(url(member, "template-upgrades"), json={}, headers=member.headers)
    older = await client.post(upgrades, json={"version": "1.0.0"}, headers=admin.headers)
    unknown = await client.post(upgrades, json={"version": "3.0.0"}, headers=admin.headers)
    malformed = await client.post(upgrades, json={"version": "latest"}, headers=admin.headers)
    viewer_reads = await client.get(url(member, "template-pin"), headers=member.headers)

    assert refused.status_code == 403
    assert older.status_code == 409 and "older" in older.json()["detail"]
    assert unknown.status_code == 404
    assert malformed.status_code == 422  # not a version number
    assert viewer_reads.status_code == 200


async def test_new_registers_show_what_the_pack_seeded(
    client: Client, seeded: tuple[Workspace, str]
) -> None:
    ws, pack = seeded

    roles = (await client.get(url(ws, "programme-roles"), headers=ws.headers)).json()
    raci = (await client.get(url(ws, "raci-entries"), headers=ws.headers)).json()
    formats = (await client.get(url(ws, "report-formats"), headers=ws.headers)).json()
    checklists = (await client.get(url(ws, "checklists"), headers=ws.headers)).json()
    registers = (await client.get(url(ws, "custom-registers"), headers=ws.headers)).json()
    entries = (await client.get(url(ws, "custom-register-entries"), headers=ws.headers)).json()
    exported = await client.get(url(ws, "programme-roles/export.csv"), headers=ws.headers)

    assert [r["key"] for r in roles["items"]] == ["manager", "sponsor"]
    assert roles["items"][0]["source_item"] == "role:manager"
    (entry,) = raci["items"]
    assert entry["accountable_role_id"] == str(stable_id(ws.tenant_id, pack, "role", "sponsor"))
    (report,) = formats["items"]
    assert report["cadence"] == "monthly" and [s["title"] for s in report["sections"]] == [
        "Summary"
    ]
    assert [e["text"] for e in checklists["items"][0]["entries"]] == ["Staff trained"]
    assert registers["items"][0]["key"] == "log"
    assert entries["items"][0]["custom_fields"] == {"area": "a"}
    assert exported.status_code == 200 and "Manager" in exported.text
    # Read-only: nothing to create, change or delete.
    created = await client.post(url(ws, "programme-roles"), json={}, headers=ws.headers)
    assert created.status_code == 405
