"""What an upgrade adds passes what the API's create checks, and a refusal holds back only the
refused item and what needs it; the rest of the upgrade goes on (real PostgreSQL)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from services.db.engine import Database
from services.workspace.configuration.models import CustomFieldDefinition
from services.workspace.custom_registers.models import CustomRegister, CustomRegisterEntry
from services.workspace.governance.models import BoardMember
from services.workspace.organisation.models import ProgrammeRole
from services.workspace.structure.models import Milestone, Project, Tranche, TrancheState
from services.workspace.structure.service import TrancheService
from templates_library import rows
from templates_library.seeding import seed
from templates_library.upgrade import Action
from tests.conftest import MakeWorkspace, PublishPack, in_workspace
from tests.templates_library.test_upgrading import Seeded, entry
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client


async def _seeded(
    database: Database,
    client: Client,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    target: Any,
    params: dict[str, object] = PARAMS,
) -> Seeded:
    ws = await make_workspace()
    pack = await publish_pack(None, target)
    await seed(database, ws.tenant_id, pack, "1.0.0", params)
    return Seeded(database, client, ws, pack)


async def _close_first_tranche(seeded: Seeded) -> None:
    """The client closed the first tranche (its review passed; set here directly)."""
    async with in_workspace(seeded.database, seeded.ws.tenant_id) as session:
        await session.execute(
            update(Tranche)
            .where(Tranche.id == seeded.id("tranche", "first"))
            .values(state=TrancheState.CLOSED)
        )


async def _count(seeded: Seeded, model: Any, *where: Any) -> int:
    async with in_workspace(seeded.database, seeded.ws.tenant_id) as session:
        return len((await session.scalars(select(model.id).where(*where))).all())


# --- a rule answering 403 -----------------------------------------------------------------


def first_tranche_later(data: dict[str, Any]) -> None:
    """1.1.0 as usual, the first tranche starting five days later."""
    second_version(data)
    data["tranches"][0]["start_day"] = 5


class AdminReDatesClosedTranches(TrancheService):
    """The tranche's rules, with re-dating a closed tranche an admin's (403), as reopening one
    is (`check_reopening`): no rule an upgrade meets answers 403 today, as an upgrade writes no
    tranche's state, so the test gives one that would."""

    def refuse_re_dating(self, row: Tranche, before: dict[str, Any] | None) -> None:
        if before is not None and any(name in before for name in ("start_date", "end_date")):
            self.check_reopening(row)


async def test_a_rule_answering_403_holds_the_row_back_as_a_conflict_and_the_rest_goes_on(
    database: Database,
    client: Client,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = await _seeded(database, client, make_workspace, publish_pack, first_tranche_later)
    before = await seeded.get("tranches", "tranche", "first")
    await _close_first_tranche(seeded)
    stored = dataclasses.replace(rows.STORED["tranche"], rules=AdminReDatesClosedTranches)
    monkeypatch.setitem(rows.STORED, "tranche", stored)

    planned = entry(await seeded.plan(), "tranche", "first")
    applied = await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "need a workspace admin or owner" in planned.reason
    assert "only a workspace admin or owner reopens it" in planned.reason
    assert entry(applied, "tranche", "first") == planned
    after = await seeded.get("tranches", "tranche", "first")
    assert after["start_date"] == before["start_date"]
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
    assert await seeded.pinned() == "1.1.0"


# --- custom field values of new rows --------------------------------------------------------


def second_log_entry(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and a second entry in the handover log, in area b."""
    second_version(data)
    data["registers"][0]["entries"].append({"key": "second", "values": {"area": "b"}})


async def test_a_new_entry_whose_values_the_clients_field_no_longer_takes_is_held_back(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await _seeded(database, client, make_workspace, publish_pack, second_log_entry)
    # The client took choice b out of the pack's field (set here directly).
    async with in_workspace(database, seeded.ws.tenant_id) as session:
        await session.execute(
            update(CustomFieldDefinition)
            .where(CustomFieldDefinition.register == "log", CustomFieldDefinition.key == "area")
            .values(choices=["a", "c"])
        )

    planned = entry(await seeded.plan(), "register_entry", "log/second")
    applied = await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "break a rule of the workspace" in planned.reason
    assert "custom_fields.area" in planned.reason
    assert entry(applied, "register_entry", "log/second") == planned
    assert await _count(seeded, CustomRegisterEntry) == 1
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"


async def test_a_new_entry_whose_values_fit_is_added(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await _seeded(database, client, make_workspace, publish_pack, second_log_entry)

    planned = entry(await seeded.plan(), "register_entry", "log/second")
    await seeded.apply()

    assert planned.action is Action.ADD
    assert await _count(seeded, CustomRegisterEntry) == 2


# --- roles, custom fields and custom registers ------------------------------------------------


def field_on_the_log(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and a second custom field on the handover log."""
    second_version(data)
    data["custom_fields"].append(
        {"key": "owner", "register": "log", "label": "Owner", "type": "text"}
    )


async def test_a_new_custom_field_of_a_register_the_client_deleted_is_held_back(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await _seeded(database, client, make_workspace, publish_pack, field_on_the_log)
    async with in_workspace(database, seeded.ws.tenant_id) as session:
        await session.execute(delete(CustomRegister).where(CustomRegister.key == "log"))

    planned = entry(await seeded.plan(), "custom_field", "log/owner")
    applied = await seeded.apply()

    # The API's create refuses a field of a register the workspace lacks; so does an upgrade.
    assert planned.action is Action.CONFLICT
    assert "No register 'log' in this workspace" in planned.reason
    assert entry(applied, "custom_field", "log/owner") == planned
    assert await _count(seeded, CustomFieldDefinition, CustomFieldDefinition.key == "owner") == 0
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"


async def test_a_new_custom_field_of_a_register_the_workspace_has_is_added(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await _seeded(database, client, make_workspace, publish_pack, field_on_the_log)

    planned = entry(await seeded.plan(), "custom_field", "log/owner")
    await seeded.apply()

    assert planned.action is Action.ADD
    assert await _count(seeded, CustomFieldDefinition, CustomFieldDefinition.key == "owner") == 1


def deputy_and_board(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and a deputy role named after the programme, sitting on the board, and
    a custom register named after it too."""
    second_version(data)
    data["roles"].append(
        {"key": "deputy", "title": "{programme_name} deputy sponsor", "description": "Stands in."}
    )
    data["boards"][0]["members"].append({"role": "deputy", "capacity": "member"})
    data["registers"].append(
        {"key": "learnt", "title": "{programme_name} learnt", "purpose": "What we learnt."}
    )
    data["custom_fields"].append(
        {"key": "lesson", "register": "learnt", "label": "Lesson", "type": "text"}
    )


async def test_new_rows_too_long_for_their_columns_are_held_back_not_a_failed_upgrade(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    # 195 characters: the name fits 1.0.0's texts (the programme's title, 200 at most); the
    # target's new role and register say more around it. Roles and custom registers have no
    # create rules beyond the database's: a text too long for its column is what a pack can
    # break there, and it would fail the whole upgrade (a 500 through the API).
    name = "N" * 195
    seeded = await _seeded(
        database,
        client,
        make_workspace,
        publish_pack,
        deputy_and_board,
        {**PARAMS, "programme_name": name},
    )

    plan = await seeded.plan()
    applied = await seeded.apply()

    role = entry(plan, "role", "deputy")
    assert role.action is Action.CONFLICT
    assert "programme_roles.title holds at most 200" in role.reason
    register = entry(plan, "register", "learnt")
    assert register.action is Action.CONFLICT
    assert "custom_registers.title holds at most 200" in register.reason
    # A field of the register is refused as the API refuses a field of a register the
    # workspace lacks; the board needs the role for its new seat: held back with it.
    assert "No register 'learnt'" in entry(plan, "custom_field", "learnt/lesson").reason
    assert entry(plan, "board", "board").action is Action.CONFLICT
    assert entry(applied, "role", "deputy") == role
    assert await _count(seeded, ProgrammeRole, ProgrammeRole.key == "deputy") == 0
    assert await _count(seeded, BoardMember) == 2
    assert await seeded.pinned() == "1.1.0"


# --- a refused add takes what needs it --------------------------------------------------------


def project_with_dependants(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and a new project in the second tranche named after the programme,
    with a milestone of its own and a dependency of the run on it."""
    second_version(data)
    data["projects"].append(
        {
            "key": "pilot",
            "tranche": "second",
            "title": "{programme_name} pilot",
            "description": "Try it.",
        }
    )
    data["milestones"].append({"key": "piloted", "title": "Piloted", "day": 60, "project": "pilot"})
    data["dependencies"].append(
        {
            "key": "needs-pilot",
            "title": "Needs the pilot",
            "from_project": "run",
            "to_project": "pilot",
            "kind": "internal",
            "need_by_day": 70,
        }
    )


async def test_a_new_project_too_long_holds_back_its_new_milestones_and_dependencies(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await _seeded(
        database,
        client,
        make_workspace,
        publish_pack,
        project_with_dependants,
        {**PARAMS, "programme_name": "N" * 195},
    )

    plan = await seeded.plan()
    applied = await seeded.apply()

    project = entry(plan, "project", "pilot")
    assert project.action is Action.CONFLICT
    assert "projects.name holds at most 200" in project.reason
    for kind, key in [("milestone", "piloted"), ("dependency", "needs-pilot")]:
        held = entry(plan, kind, key)
        assert held.action is Action.CONFLICT
        assert held.reason == "needs project pilot, which the workspace lacks"
        assert entry(applied, kind, key) == held
    assert entry(applied, "project", "pilot") == project
    assert await _count(seeded, Project, Project.id == seeded.id("project", "pilot")) == 0
    assert await _count(seeded, Milestone, Milestone.id == seeded.id("milestone", "piloted")) == 0
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
    assert await seeded.pinned() == "1.1.0"


async def test_a_new_project_a_rule_refuses_holds_back_the_new_dependency_on_it(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    def in_first_tranche(data: dict[str, Any]) -> None:
        project_with_dependants(data)
        data["projects"][-1]["tranche"] = "first"  # which the client closed: refused there
        data["milestones"].pop()  # a milestone there is refused on its own

    seeded = await _seeded(database, client, make_workspace, publish_pack, in_first_tranche)
    await _close_first_tranche(seeded)

    plan = await seeded.plan()
    applied = await seeded.apply()

    project = entry(plan, "project", "pilot")
    assert project.action is Action.CONFLICT
    assert "the tranche 'First tranche' is closed" in project.reason
    dependency = entry(plan, "dependency", "needs-pilot")
    assert dependency.action is Action.CONFLICT
    assert dependency.reason == "needs project pilot, which the workspace lacks"
    assert entry(applied, "dependency", "needs-pilot") == dependency
    assert await _count(seeded, Project, Project.id == seeded.id("project", "pilot")) == 0
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"


def sponsor_named_after_the_programme(data: dict[str, Any]) -> None:
    """1.1.0 as usual, the sponsor's title naming the programme."""
    second_version(data)
    data["roles"][0]["title"] = "{programme_name} sponsor"


async def test_an_update_too_long_for_its_column_is_held_back_not_a_failed_upgrade(
    database: Database, client: Client, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    seeded = await _seeded(
        database,
        client,
        make_workspace,
        publish_pack,
        sponsor_named_after_the_programme,
        {**PARAMS, "programme_name": "N" * 195},
    )

    planned = entry(await seeded.plan(), "role", "sponsor")
    applied = await seeded.apply()

    assert planned.action is Action.CONFLICT
    assert "programme_roles.title holds at most 200" in planned.reason
    assert entry(applied, "role", "sponsor") == planned
    async with in_workspace(database, seeded.ws.tenant_id) as session:
        title = await session.scalar(
            select(ProgrammeRole.title).where(ProgrammeRole.id == seeded.id("role", "sponsor"))
        )
    assert title == "Sponsor"
    assert (await seeded.get("boards", "board", "board"))["cadence"] == "fortnightly"
