"""Packs seed lessons learned: a starter library in the lessons log, in the programme seeded,
that the client keeps, edits or withdraws; upgrades add, update and remove them by the
three-way merge (real PostgreSQL, through the real seed and upgrade paths and the API)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import services.app  # noqa: F401  (every register's service, as the application has them)
from services.db.engine import Database
from services.workspace.configuration import service as configuration
from templates_library.items import stable_id
from templates_library.seeding import seed
from templates_library.upgrade import Action
from templates_library.upgrading import WorkspaceUpgrade, apply_upgrade
from tests.conftest import MakeWorkspace, PublishPack, Workspace, in_workspace
from tests.tiny_pack import PARAMS
from tests.workspace_api import Client, change, make, url

LIGHT = "project-pmo-light"
LIGHT_LESSONS = [
    "name-benefit-owners",
    "book-acceptance-testers",
    "date-supplier-deliverables",
    "fortnightly-demos",
]


async def lessons(client: Client, ws: Workspace) -> dict[str, dict[str, Any]]:
    """The workspace's lessons by `source_item` (a client's own: by title)."""
    response = await client.get(url(ws, "lessons"), headers=ws.headers)
    assert response.status_code == 200, response.text
    return {row["source_item"] or row["title"]: row for row in response.json()["items"]}


async def lesson_fields(database: Database, ws: Workspace) -> list[str]:
    async with in_workspace(database, ws.tenant_id) as session:
        return [f.key for f in await configuration.definitions(session, "lessons")]


async def upgrade(database: Database, ws: Workspace, pack: str, to: str) -> WorkspaceUpgrade:
    async with in_workspace(database, ws.tenant_id) as session:
        return await apply_upgrade(session, ws.tenant_id, pack, to)


def action(upgraded: WorkspaceUpgrade, kind: str, key: str) -> Action:
    return next(e.action for e in upgraded.plan.entries if (e.kind, e.key) == (kind, key))


@pytest.mark.usefixtures("shipped_catalogue")
async def test_a_pack_seeds_its_lessons_into_the_programme_raised_today(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    # A programme starting months ahead: its lessons are still raised today, never after it.
    start = datetime.now(UTC).date() + timedelta(days=120)

    await seed(database, ws.tenant_id, LIGHT, "1.2.0", {"start_date": start.isoformat()})

    found = await lessons(client, ws)
    assert sorted(found) == sorted(f"lesson:{key}" for key in LIGHT_LESSONS)
    owners = found["lesson:name-benefit-owners"]
    assert owners["id"] == str(stable_id(ws.tenant_id, LIGHT, "lesson", "name-benefit-owners"))
    assert owners["programme_id"] == str(stable_id(ws.tenant_id, LIGHT, "programme", "project"))
    assert owners["owner_role_id"] == str(stable_id(ws.tenant_id, LIGHT, "role", "sponsor"))
    assert (owners["title"], owners["category"], owners["kind"], owners["state"]) == (
        "Name benefit owners in the business case",
        "planning",
        "negative",
        "identified",
    )
    assert owners["recommendation"].startswith("Name an owner in the business for each benefit")
    assert owners["what_happened"] and owners["source_version"] == "1.2.0"
    assert owners["raised_on"] == datetime.now(UTC).date().isoformat()
    assert found["lesson:fortnightly-demos"]["kind"] == "positive"
    # The duplicate of the log's own recommendation column is gone; the category field stays.
    assert await lesson_fields(database, ws) == ["lesson-category"]

    # The client keeps, edits and withdraws them as its own.
    edited = await change(client, ws, "lessons", owners, {"recommendation": "Ours now."})
    assert edited.status_code == 200, edited.text
    withdrawn = await client.delete(
        url(ws, f"lessons/{found['lesson:fortnightly-demos']['id']}"), headers=ws.headers
    )
    assert withdrawn.status_code == 204, withdrawn.text


@pytest.mark.usefixtures("shipped_catalogue")
async def test_an_upgrade_to_1_2_0_adds_the_lessons_and_drops_the_unused_duplicate_field(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, LIGHT, "1.1.0", PARAMS)
    assert await lesson_fields(database, ws) == ["lesson-category", "recommendation"]
    assert await lessons(client, ws) == {}

    upgraded = await upgrade(database, ws, LIGHT, "1.2.0")

    assert upgraded.applied
    assert action(upgraded, "custom_field", "lessons/recommendation") is Action.REMOVE
    assert {action(upgraded, "lesson", key) for key in LIGHT_LESSONS} == {Action.ADD}
    assert sorted(await lessons(client, ws)) == sorted(f"lesson:{k}" for k in LIGHT_LESSONS)
    assert await lesson_fields(database, ws) == ["lesson-category"]


@pytest.mark.usefixtures("shipped_catalogue")
async def test_an_upgrade_to_1_2_0_keeps_the_duplicate_field_while_lessons_hold_values_in_it(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    await seed(database, ws.tenant_id, LIGHT, "1.1.0", PARAMS)
    programme = stable_id(ws.tenant_id, LIGHT, "programme", "project")
    ours = await make(
        client,
        ws,
        "lessons",
        {
            "programme_id": str(programme),
            "title": "Migration data was dirtier than sampled",
            "custom_fields": {"recommendation": "Profile all source data before design."},
        },
    )

    upgraded = await upgrade(database, ws, LIGHT, "1.2.0")

    assert upgraded.applied
    assert action(upgraded, "custom_field", "lessons/recommendation") is Action.KEPT
    assert await lesson_fields(database, ws) == ["lesson-category", "recommendation"]
    found = await lessons(client, ws)
    assert found[ours["title"]]["custom_fields"] == {
        "recommendation": "Profile all source data before design."
    }
    assert {f"lesson:{key}" for key in LIGHT_LESSONS} <= set(found)


def _with_lessons(data: dict[str, Any]) -> None:
    data["lessons"] = [
        {
            "key": key,
            "title": f"Lesson {key}",
            "what_happened": f"What happened on {key}.",
            "recommendation": f"Do {key} differently.",
            "category": "planning",
            "owner": "manager",
        }
        for key in ("reworded", "retitled", "closed", "dropped")
    ]


def _lessons_changed(data: dict[str, Any]) -> None:
    """1.1.0: one lesson's recommendation and another's title reworded, two removed."""
    _with_lessons(data)
    data["version"] = "1.1.0"
    data["changes"] = ["Lessons reworded; two withdrawn."]
    lessons = copy.deepcopy(data["lessons"][:2])
    lessons[0]["recommendation"] = "The pack's better recommendation."
    lessons[1]["title"] = "The pack's better title"
    data["lessons"] = lessons


async def test_a_lesson_the_client_worked_on_is_kept_by_a_later_upgrade(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace()
    pack = await publish_pack(_with_lessons, _lessons_changed)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    before = await lessons(client, ws)
    # Both sides change the recommendation; the client adds to what happened where the pack
    # retitles; the client actions a lesson the pack withdraws.
    edits = {
        "reworded": {"recommendation": "Our own recommendation."},
        "retitled": {"what_happened": "What happened, as we saw it."},
        "closed": {"state": "actioned"},
    }
    for key, body in edits.items():
        response = await change(client, ws, "lessons", before[f"lesson:{key}"], body)
        assert response.status_code == 200, response.text

    upgraded = await upgrade(database, ws, pack, "1.1.0")

    assert upgraded.applied
    assert action(upgraded, "lesson", "reworded") is Action.CONFLICT
    assert action(upgraded, "lesson", "retitled") is Action.UPDATE
    assert action(upgraded, "lesson", "closed") is Action.KEPT
    assert action(upgraded, "lesson", "dropped") is Action.REMOVE
    after = await lessons(client, ws)
    assert set(after) == {"lesson:reworded", "lesson:retitled", "lesson:closed"}
    assert after["lesson:reworded"]["recommendation"] == "Our own recommendation."
    retitled = after["lesson:retitled"]
    assert (retitled["title"], retitled["what_happened"]) == (
        "The pack's better title",
        "What happened, as we saw it.",
    )
    assert retitled["raised_on"] == before["lesson:retitled"]["raised_on"]
    assert after["lesson:closed"]["state"] == "actioned"
    assert uuid.UUID(after["lesson:closed"]["id"]) == stable_id(
        ws.tenant_id, pack, "lesson", "closed"
    )


@pytest.mark.usefixtures("shipped_catalogue")
async def test_transformation_tranches_1_1_0_adds_its_lessons_and_changes_nothing_else(
    database: Database, client: Client, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace()
    pack = "transformation-tranches"
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)

    upgraded = await upgrade(database, ws, pack, "1.1.0")

    assert upgraded.applied
    changed = {e.item_id: e.action for e in upgraded.plan.entries if e.action != Action.UNCHANGED}
    assert set(changed.values()) == {Action.ADD}
    assert {kind for kind, _ in changed} == {"lesson"} and len(changed) == 5
    found = await lessons(client, ws)
    assert {f"lesson:{key}" for _, key in changed} == set(found)
    assert found["lesson:change-champions"]["kind"] == "positive"
