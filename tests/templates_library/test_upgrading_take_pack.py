"""Settling a conflict by taking the target version's values: `take_pack` in the API's body,
`--take-pack` on the command line (real PostgreSQL; the client's change made through the API)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.config import Settings
from services.db.engine import Database
from services.identity.models import Role
from templates_library.items import stable_id
from templates_library.seeding import seed
from templates_library.upgrading import TAKEN
from tests.conftest import MakeWorkspace, PublishPack, Workspace
from tests.templates_library.test_workspace_cli import run
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, change, url

PACK_TITLE = "Supplier late on the critical path"


async def conflicted(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> tuple[Workspace, str]:
    """A workspace on the tiny pack's 1.0.0 whose client retitled the risk 1.1.0 retitles."""
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    risk = await risk_of(client, ws, pack)
    assert (await change(client, ws, "risks", risk, {"title": "Ours"})).status_code == 200
    return ws, pack


async def risk_of(client: Client, ws: Workspace, pack: str) -> dict[str, Any]:
    risk_id = stable_id(ws.tenant_id, pack, "risk", "threat")
    response = await client.get(url(ws, f"risks/{risk_id}"), headers=ws.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def entries(done: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["kind"], e["key"]): e for e in done["entries"]}


async def test_the_api_takes_the_packs_values_for_the_conflicts_named(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws, pack = await conflicted(client, database, make_workspace, publish_pack)
    left = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    assert entries(left.json())[("risk", "threat")]["action"] == "conflict"

    body = {"take_pack": ["risk:threat"]}
    dry = await client.post(url(ws, "template-upgrades"), json=body, headers=ws.headers)
    assert dry.status_code == 200, dry.text
    applied = await client.post(
        url(ws, "template-upgrades"),
        json={**body, "apply": True},
        headers={**ws.headers, "If-Match": dry.headers["ETag"]},
    )

    assert applied.status_code == 200, applied.text
    for done in (dry.json(), applied.json()):
        risk = entries(done)[("risk", "threat")]
        assert (risk["action"], risk["reason"]) == ("update", TAKEN)
        assert done["counts"]["conflict"] == 0
    assert (await risk_of(client, ws, pack))["title"] == PACK_TITLE
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.1.0" and pin["last_upgrade"]["conflicts"] == []


async def test_the_api_refuses_to_take_what_is_not_a_conflict_naming_it(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws, pack = await conflicted(client, database, make_workspace, publish_pack)

    refused = await client.post(
        url(ws, "template-upgrades"),
        json={"apply": True, "take_pack": ["risk:threat", "board:board", "risk:nope"]},
        headers=ws.headers,
    )

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert "board:board, risk:nope" in problem["detail"]
    named = [error["message"] for error in problem["errors"]]
    assert [m.split(":")[0] + ":" + m.split(":")[1] for m in named] == ["board:board", "risk:nope"]
    assert all(error["field"] == "take_pack" for error in problem["errors"])
    # Nothing changed.
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.0.0"
    assert (await risk_of(client, ws, pack))["title"] == "Ours"


async def test_the_cli_takes_the_packs_values_with_take_pack(
    settings: Settings,
    client: Client,
    database: Database,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
) -> None:
    ws, pack = await conflicted(client, database, make_workspace, publish_pack)
    upgrade = ("upgrade", "--tenant", ws.slug, "--to", f"{pack}@1.1.0")

    unknown = await asyncio.to_thread(run, settings, *upgrade, "--take-pack", "risk:nope")
    dry = await asyncio.to_thread(run, settings, *upgrade, "--take-pack", "risk:threat")
    assert (await risk_of(client, ws, pack))["title"] == "Ours"
    applied = await asyncio.to_thread(
        run, settings, *upgrade, "--take-pack", "risk:threat", "--apply"
    )

    assert unknown.exit_code == 1
    (line,) = unknown.output.strip().splitlines()
    assert line.startswith("error: ") and "risk:nope" in line
    for done in (dry, applied):
        assert done.exit_code == 0, done.output
        assert f"  ~ risk threat: {TAKEN}" in done.output
        assert "conflict   0" in done.output
    assert (await risk_of(client, ws, pack))["title"] == PACK_TITLE
