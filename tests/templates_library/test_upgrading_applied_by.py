"""Who applied an upgrade from the command line: `--by EMAIL` names an existing user, whom the
pin's `last_upgrade` records; without it, the record says the command line applied it (real
PostgreSQL, the CLI as an operator runs it)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.config import Settings
from services.db.engine import Database
from templates_library.seeding import seed
from tests.conftest import MakeWorkspace, PublishPack, Workspace
from tests.templates_library.test_workspace_cli import run
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, url


async def pin(client: Client, ws: Workspace) -> dict[str, Any]:
    response = await client.get(url(ws, "template-pin"), headers=ws.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_an_operator_names_who_applies_an_upgrade_and_the_pin_records_them(
    settings: Settings,
    client: Client,
    database: Database,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
) -> None:
    ws, other = await make_workspace(), await make_workspace()
    pack = await publish_pack(None, second_version)
    for each in (ws, other):
        await seed(database, each.tenant_id, pack, "1.0.0", PARAMS)
    to = ("--to", f"{pack}@1.1.0", "--apply")

    unknown = await asyncio.to_thread(
        run, settings, "upgrade", "--tenant", ws.slug, *to, "--by", "nobody@example.invalid"
    )
    named = await asyncio.to_thread(
        run, settings, "upgrade", "--tenant", ws.slug, *to, "--by", ws.email.upper()
    )
    unnamed = await asyncio.to_thread(run, settings, "upgrade", "--tenant", other.slug, *to)

    assert unknown.exit_code == 1
    (line,) = unknown.output.strip().splitlines()
    assert line.startswith("error: ") and "nobody@example.invalid" in line
    assert named.exit_code == 0 and unnamed.exit_code == 0, named.output + unnamed.output
    recorded = (await pin(client, ws))["last_upgrade"]
    assert (recorded["applied_by"], recorded["via"]) == (str(ws.user_id), "cli")
    anonymous = (await pin(client, other))["last_upgrade"]
    assert (anonymous["applied_by"], anonymous["via"]) == (None, "cli")


async def test_an_unknown_operator_stops_an_upgrade_of_every_workspace_before_it_starts(
    settings: Settings,
    database: Database,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    client: Client,
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)

    refused = await asyncio.to_thread(
        run, settings, "upgrade", "--all", "--to", f"{pack}@1.1.0", "--apply", "--by", "x@y.z"
    )

    assert refused.exit_code == 1
    (line,) = refused.output.strip().splitlines()
    assert line.startswith("error: ") and "x@y.z" in line
    assert (await pin(client, ws))["pack_version"] == "1.0.0"
