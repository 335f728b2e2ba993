"""``/api/v1/w/{slug}/template-pin`` and ``/template-upgrades``: dry run by default, admins
only, applying is atomic and retry-safe with an Idempotency-Key."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.db.engine import Database
from services.identity.models import Role, TokenScope
from templates_library.items import stable_id
from templates_library.seeding import seed
from templates_library.upgrading import upgrade_all
from tests.conftest import MakeWorkspace, PublishPack, Workspace
from tests.tiny_pack import PARAMS, second_version
from tests.workspace_api import Client, change, make, url


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


def third_version(data: dict[str, Any]) -> None:
    """1.2.0: `second_version`, and the board meets weekly."""
    second_version(data)
    data["version"] = "1.2.0"
    data["boards"][0]["cadence"] = "weekly"


async def test_the_pin_keeps_the_conflicts_an_applied_upgrade_left_to_the_client(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version, third_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    seeded = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    risk_id = stable_id(ws.tenant_id, pack, "risk", "threat")
    risk = (await client.get(url(ws, f"risks/{risk_id}"), headers=ws.headers)).json()
    assert (await change(client, ws, "risks", risk, {"title": "Ours"})).status_code == 200

    applied = await _upgrade(client, ws, {"version": "1.1.0", "apply": True})
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()

    assert seeded["last_upgrade"] is None
    assert [(e["kind"], e["key"]) for e in applied["entries"] if e["action"] == "conflict"] == [
        ("risk", "threat")
    ]
    assert pin["last_upgrade"] == {
        "applied_by": str(ws.user_id),
        "applied_at": pin["upgraded_at"],
        "from_version": "1.0.0",
        "to_version": "1.1.0",
        "conflicts": [
            {
                "kind": "risk",
                "key": "threat",
                # Both changed the title, the pack alone the probability: neither is applied.
                "fields": ["title", "probability"],
                "reason": "changed by the client and by the target version",
            }
        ],
        "via": "api",
    }
    # Settled: a dry run to the same version shows the client's change as kept, no longer as
    # a conflict; it leaves the record as it was, and so does applying the pinned version.
    dry = await _upgrade(client, ws, {"version": "1.1.0"})
    assert _entries(dry)[("risk", "threat")]["action"] == "kept"
    await _upgrade(client, ws, {"version": "1.1.0", "apply": True})
    after = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert after == pin


async def test_a_later_upgrade_replaces_the_pins_record_of_the_last_one(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version, third_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    risk_id = stable_id(ws.tenant_id, pack, "risk", "threat")
    risk = (await client.get(url(ws, f"risks/{risk_id}"), headers=ws.headers)).json()
    assert (await change(client, ws, "risks", risk, {"title": "Ours"})).status_code == 200
    await _upgrade(client, ws, {"version": "1.1.0", "apply": True})

    # Applied from the command line's path: no user.
    (done,) = await upgrade_all(database, pack, "1.2.0", apply=True)
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()

    assert done.error is None and done.counts["update"] == 1  # the board's cadence
    assert pin["last_upgrade"] == {
        "applied_by": None,
        "applied_at": pin["upgraded_at"],
        "from_version": "1.1.0",
        "to_version": "1.2.0",
        "conflicts": [],
        "via": "cli",
    }


async def test_only_admins_apply_and_bad_targets_are_problems(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    member = await make_workspace(Role.MEMBER)
    pack = await publish_pack(None, second_version)
    await seed(database, member.tenant_id, pack, "1.0.0", PARAMS)
    admin = await make_workspace(Role.ADMIN)
    await seed(database, admin.tenant_id, pack, "1.1.0", PARAMS)
    upgrades = url(admin, "template-upgrades")

    previewed = await client.post(url(member, "template-upgrades"), json={}, headers=member.headers)
    refused = await client.post(
        url(member, "template-upgrades"), json={"apply": True}, headers=member.headers
    )
    older = await client.post(upgrades, json={"version": "1.0.0"}, headers=admin.headers)
    unknown = await client.post(upgrades, json={"version": "3.0.0"}, headers=admin.headers)
    malformed = await client.post(upgrades, json={"version": "latest"}, headers=admin.headers)
    viewer_reads = await client.get(url(member, "template-pin"), headers=member.headers)

    assert previewed.status_code == 200 and previewed.json()["to_version"] == "1.1.0"
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "admin" in refused.json()["detail"]
    pin = (await client.get(url(member, "template-pin"), headers=member.headers)).json()
    assert pin["pack_version"] == "1.0.0"
    assert older.status_code == 409 and "older" in older.json()["detail"]
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "version"
    assert malformed.status_code == 422  # not a version number
    assert viewer_reads.status_code == 200


async def test_a_read_only_token_dry_runs_an_upgrade_but_does_not_apply_it(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN, scopes=frozenset({TokenScope.READ}))
    viewer = await make_workspace(Role.VIEWER, scopes=frozenset({TokenScope.READ}))
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    await seed(database, viewer.tenant_id, pack, "1.0.0", PARAMS)

    dry = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    viewers_dry = await client.post(
        url(viewer, "template-upgrades"), json={"apply": False}, headers=viewer.headers
    )
    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )

    assert dry.status_code == 200, dry.text
    assert dry.json()["applied"] is False and dry.json()["counts"]["update"] == 4
    assert viewers_dry.status_code == 200 and viewers_dry.json() == dry.json()
    assert applied.status_code == 403
    assert applied.headers["content-type"].startswith("application/problem+json")
    assert applied.json()["detail"] == "This API token is read-only."
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.0.0" and pin["upgraded_at"] is None


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


def benefit_with_a_target_date(data: dict[str, Any]) -> None:
    """1.0.0 of the tiny pack, its benefit due on day 120."""
    data["benefits"][0]["target_day"] = 120


def moves_what_the_rules_guard(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and: the milestone moved to day 60 (a re-baseline), the benefit due on
    day 40, and the handover log's entry moved to area "b"."""
    benefit_with_a_target_date(data)
    second_version(data)
    data["milestones"][0]["day"] = 60
    data["benefits"][0]["target_day"] = 40
    data["registers"][0]["entries"][0]["values"] = {"area": "b"}


async def test_an_upgrade_holds_back_rows_the_workspaces_rules_refuse(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(benefit_with_a_target_date, moves_what_the_rules_guard)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)

    async def get(path: str, kind: str, key: str) -> dict[str, Any]:
        response = await client.get(
            url(ws, f"{path}/{stable_id(ws.tenant_id, pack, kind, key)}"), headers=ws.headers
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    # The client measures the benefit from 1 June (after day 40, 11 April), and takes "b" off
    # the handover log's areas: fields the pack does not set, and a field it leaves alone.
    benefit = await get("benefits", "benefit", "faster")
    baselined = await change(client, ws, "benefits", benefit, {"baseline_date": "2026-06-01"})
    assert baselined.status_code == 200, baselined.text
    area = await get("custom-fields", "custom_field", "log/area")
    assert (await change(client, ws, "custom-fields", area, {"choices": ["a"]})).status_code == 200
    milestone_before = await get("milestones", "milestone", "halfway")
    entry_before = await get("custom-register-entries", "register_entry", "log/entry")

    dry = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )

    assert dry.status_code == 200, dry.text
    assert applied.status_code == 200, applied.text
    for done in (dry.json(), applied.json()):
        conflicts = {
            (e["kind"], e["key"]): e["reason"] for e in done["entries"] if e["action"] == "conflict"
        }
        assert set(conflicts) == {
            ("milestone", "halfway"),
            ("benefit", "faster"),
            ("register_entry", "log/entry"),
        }
        assert "change request" in conflicts[("milestone", "halfway")]
        assert "target_date: on or after baseline_date" in conflicts[("benefit", "faster")]
        assert "must be one of: a" in conflicts[("register_entry", "log/entry")]
        assert done["counts"]["conflict"] == 3 and done["counts"]["update"] == 4
    assert dry.json()["entries"] == applied.json()["entries"]
    # The refused rows are as the client had them; the rest of the upgrade went through.
    assert await get("milestones", "milestone", "halfway") == milestone_before
    assert await get("custom-register-entries", "register_entry", "log/entry") == entry_before
    kept = await get("benefits", "benefit", "faster")
    assert (kept["target_date"], kept["version"]) == ("2026-06-30", benefit["version"] + 1)
    assert (await get("boards", "board", "board"))["cadence"] == "fortnightly"
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.1.0"
    # The rules' refusals, found while writing, are on record as the conflicts left.
    recorded = {(c["kind"], c["key"]): c["reason"] for c in pin["last_upgrade"]["conflicts"]}
    assert recorded == conflicts


def with_a_rating(data: dict[str, Any]) -> None:
    """1.0.0 of the tiny pack with a choice field on risks."""
    data["custom_fields"].append(
        {
            "key": "rating",
            "register": "risks",
            "label": "Rating",
            "type": "choice",
            "choices": ["low", "medium", "high"],
        }
    )


def drops_what_rows_still_use(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and: "high" off the rating's choices, the note field and the imminent
    proximity gone (the pack's risks now "soon"), the handover log's entry moved to area "b"
    and "a" off the area's choices (for "c")."""
    with_a_rating(data)
    second_version(data)
    fields = {field["key"]: field for field in data["custom_fields"]}
    fields["rating"]["choices"] = ["low", "medium"]
    fields["area"]["choices"] = ["b", "c"]
    data["custom_fields"].remove(fields["note"])
    data["registers"][0]["entries"][0]["values"] = {"area": "b"}
    data["scales"]["proximity"] = [{"key": "soon", "label": "Soon", "description": "Soon."}]
    for risk in data["risks"]:
        risk["proximity"] = "soon"


async def test_an_upgrade_keeps_choices_fields_and_levels_that_rows_still_use(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(with_a_rating, drops_what_rows_still_use)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    await _our_risk_using_what_the_pack_drops(client, ws, pack)

    dry = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )

    assert dry.status_code == 200 and applied.status_code == 200, applied.text
    assert dry.json()["entries"] == applied.json()["entries"]
    found = {(e["kind"], e["key"]): e for e in applied.json()["entries"]}
    rating = found[("custom_field", "risks/rating")]
    assert rating["action"] == "conflict" and "'high' (1)" in rating["reason"]
    note, imminent = found[("custom_field", "risks/note")], found[("proximity", "imminent")]
    assert note["action"] == imminent["action"] == "kept"
    assert "1 risk still uses it" in note["reason"] and "1 risk still uses it" in imminent["reason"]
    # The entry left "a" before the pack took it off the field's choices: both went through.
    assert found[("custom_field", "log/area")]["action"] == "update"
    assert found[("register_entry", "log/entry")]["action"] == "update"
    # The client's risk is still found by what it holds.
    for custom in ("rating=high", "note=Ours."):
        listed = await client.get(url(ws, "risks"), params={"custom": custom}, headers=ws.headers)
        assert listed.status_code == 200 and listed.json()["total"] == 1, listed.text
    configuration = await client.get(url(ws, "register-configuration"), headers=ws.headers)
    assert {p["key"] for p in configuration.json()["proximity"]} == {"imminent", "soon"}


def rating_becomes_a_number(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and the rating field a number."""
    with_a_rating(data)
    second_version(data)
    rating = next(field for field in data["custom_fields"] if field["key"] == "rating")
    rating["type"] = "number"
    del rating["choices"]


async def test_an_upgrade_changes_a_fields_type_only_where_the_values_held_fit_it(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(with_a_rating, rating_becomes_a_number)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    risk = await _our_risk_using_what_the_pack_drops(client, ws, pack)  # rating "high"
    field_url = url(
        ws, f"custom-fields/{stable_id(ws.tenant_id, pack, 'custom_field', 'risks/rating')}"
    )

    held = _entries(await _upgrade(client, ws, {"apply": True}))[("custom_field", "risks/rating")]

    assert held["action"] == "conflict", held
    assert (
        "1 risk still holds values of 'rating' that a number field cannot hold: 'high' (1)"
        in (held["reason"])
    )
    assert (await client.get(field_url, headers=ws.headers)).json()["type"] == "choice"
    # The risk can still be written with what it holds.
    kept = await change(client, ws, "risks", risk, {"custom_fields": {"rating": "high"}})
    assert kept.status_code == 200, kept.text

    cleared = await change(client, ws, "risks", kept.json(), {"custom_fields": {"rating": None}})
    assert cleared.status_code == 200, cleared.text
    done = _entries(await _upgrade(client, ws, {"apply": True}))
    assert done[("custom_field", "risks/rating")]["action"] == "update"
    assert (await client.get(field_url, headers=ws.headers)).json()["type"] == "number"


def brings_a_rating(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and a new rating field on risks."""
    second_version(data)
    with_a_rating(data)


async def test_a_new_item_whose_key_the_client_already_uses_is_a_named_conflict(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, brings_a_rating)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    ours = await make(
        client,
        ws,
        "custom-fields",
        {"register": "risks", "key": "rating", "label": "Our rating", "type": "text"},
    )

    dry = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    assert dry.status_code == 200, dry.text  # a plan, not a 409
    applied = await _upgrade(client, ws, {"apply": True})

    assert dry.json()["entries"] == applied["entries"]
    rating = _entries(applied)[("custom_field", "risks/rating")]
    assert rating["action"] == "conflict"
    assert rating["reason"] == (
        "the workspace already has a custom field of its own with register 'risks' and key "
        "'rating'; rename or remove it to take the pack's"
    )
    assert applied["counts"]["update"] > 0  # the rest went through
    mine = await client.get(url(ws, f"custom-fields/{ours['id']}"), headers=ws.headers)
    assert mine.json()["label"] == "Our rating"
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["held_items"] == {"custom_field:risks/rating": "1.1.0"}

    gone = await client.delete(
        url(ws, f"custom-fields/{ours['id']}"), headers={**ws.headers, "If-Match": '"1"'}
    )
    assert gone.status_code == 204, gone.text
    (done,) = await upgrade_all(database, pack, "1.1.0", apply=True)
    assert done.counts["add"] == 1 and done.conflicts == []
    listed = await client.get(url(ws, "custom-fields"), headers=ws.headers)
    assert [f["label"] for f in listed.json()["items"] if f["key"] == "rating"] == ["Rating"]


def gate_on_no_tranche(data: dict[str, Any]) -> None:
    """1.0.0 of the tiny pack, its gate at programme level (on no tranche's way in)."""
    data["gates"][0]["after_tranche"] = None


def gates_after_the_first_tranche(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and: the gate moved to the end of the first tranche, and a new gate
    (with its criteria) there too — both on the way into the second."""
    second_version(data)
    data["gates"][0]["after_tranche"] = "first"
    data["gates"].append(
        {
            "key": "late",
            "title": "Late review",
            "board": "board",
            "after_tranche": "first",
            "purpose": "Review the first tranche.",
            "criteria": [
                {"key": f"check-{n}", "text": f"Check {n} is done.", "evidence": "-"}
                for n in range(5)
            ],
        }
    )


async def test_an_upgrade_plans_no_gate_in_front_of_a_tranche_under_way(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(gate_on_no_tranche, gates_after_the_first_tranche)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    tranches = {}
    for key in ("first", "second"):
        path = url(ws, f"tranches/{stable_id(ws.tenant_id, pack, 'tranche', key)}")
        tranches[key] = (await client.get(path, headers=ws.headers)).json()
    # The first tranche is done and the second under way: nothing stood between them.
    for key, states in (("first", ("started", "closed")), ("second", ("started",))):
        for state in states:
            moved = await change(client, ws, "tranches", tranches[key], {"state": state})
            assert moved.status_code == 200, moved.text
            tranches[key] = moved.json()
    gate_path = url(ws, f"stage-gates/{stable_id(ws.tenant_id, pack, 'gate', 'gate')}")
    gate_before = (await client.get(gate_path, headers=ws.headers)).json()

    dry = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )

    assert dry.status_code == 200, dry.text
    assert applied.status_code == 200, applied.text
    for done in (dry.json(), applied.json()):
        conflicts = {
            (e["kind"], e["key"]): e["reason"] for e in done["entries"] if e["action"] == "conflict"
        }
        # The moved gate (its rule), the new gate (the plan), and what needs the new gate.
        criteria = {("gate_criterion", f"late/check-{n}") for n in range(5)}
        assert set(conflicts) == {("gate", "gate"), ("gate", "late"), *criteria}
        assert "Second tranche (started)" in conflicts[("gate", "gate")]
        assert "Second tranche (started)" in conflicts[("gate", "late")]
        assert all("needs gate late" in conflicts[criterion] for criterion in criteria)
    assert dry.json()["entries"] == applied.json()["entries"]
    gate_after = (await client.get(gate_path, headers=ws.headers)).json()
    assert (gate_after["tranche_id"], gate_after["boundary"]) == (None, gate_before["boundary"])
    # Its criterion was reworded (the rest of 1.1.0): its ETag moved on with what it shows.
    assert gate_after["criteria"][0]["text"] == "Criterion 1 is met and signed off."
    assert gate_after["version"] == gate_before["version"] + 1
    listed = await client.get(url(ws, "stage-gates"), headers=ws.headers)
    assert [g["title"] for g in listed.json()["items"]] == [gate_before["title"]]
    # The rest went through.
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.1.0"


async def test_an_upgrade_that_rewords_an_assessed_criterion_clears_its_assessment(
    client: Client, seeded: tuple[Workspace, str]
) -> None:
    ws, pack = seeded
    gate_path = url(ws, f"stage-gates/{stable_id(ws.tenant_id, pack, 'gate', 'gate')}")
    gate = (await client.get(gate_path, headers=ws.headers)).json()
    # The board assesses the first two criteria as met; 1.1.0 rewords only the first.
    for criterion in gate["criteria"][:2]:
        assessed = await client.patch(
            f"{gate_path}/criteria/{criterion['id']}",
            json={"status": "met", "evidence_link": "https://example.org/evidence"},
            headers={**ws.headers, "If-Match": f'"{criterion["version"]}"'},
        )
        assert assessed.status_code == 200, assessed.text
    assert (await client.get(gate_path, headers=ws.headers)).json()["criteria_met"] == 2

    dry = await client.post(url(ws, "template-upgrades"), json={}, headers=ws.headers)
    assert dry.status_code == 200, dry.text
    [reworded] = [e for e in dry.json()["entries"] if e["key"] == "gate/criterion-1"]
    assert reworded["action"] == "update"
    assert "its assessment (met) is cleared" in reworded["reason"]
    assert not [e for e in dry.json()["entries"] if e["key"] == "gate/criterion-2"]  # unchanged

    applied = await client.post(
        url(ws, "template-upgrades"), json={"apply": True}, headers=ws.headers
    )
    assert applied.status_code == 200, applied.text
    after = (await client.get(gate_path, headers=ws.headers)).json()
    first, second = after["criteria"][:2]
    assert first["text"] == "Criterion 1 is met and signed off."
    assert (first["status"], first["assessed_at"], first["assessed_by"]) == (
        "not_assessed",
        None,
        None,
    )
    assert first["evidence_link"] == "https://example.org/evidence"  # the client's, kept
    assert second["status"] == "met"
    assert after["criteria_met"] == 1


# --- held-back items stay due ---------------------------------------------------------------


async def _upgrade(client: Client, ws: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url(ws, "template-upgrades"), json=body, headers=ws.headers)
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


def _entries(done: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["kind"], e["key"]): e for e in done["entries"]}


async def _our_risk_using_what_the_pack_drops(
    client: Client, ws: Workspace, pack: str
) -> dict[str, Any]:
    created = await client.post(
        url(ws, "risks"),
        json={
            "programme_id": str(stable_id(ws.tenant_id, pack, "programme", "programme")),
            "title": "Our own risk",
            "inherent_probability": 2,
            "inherent_impact": 2,
            "proximity": "imminent",
            "custom_fields": {"rating": "high", "note": "Ours."},
        },
        headers=ws.headers,
    )
    assert created.status_code == 201, created.text
    risk: dict[str, Any] = created.json()
    return risk


async def _stop_using_it(client: Client, ws: Workspace, risk: dict[str, Any]) -> None:
    """The client follows the conflict's advice: its risk leaves "high", the note field and
    the imminent proximity."""
    moved = await change(
        client,
        ws,
        "risks",
        risk,
        {"proximity": "soon", "custom_fields": {"rating": "medium", "note": None}},
    )
    assert moved.status_code == 200, moved.text


async def test_what_an_upgrade_held_back_for_rows_in_use_goes_through_once_they_change(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(with_a_rating, drops_what_rows_still_use)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    risk = await _our_risk_using_what_the_pack_drops(client, ws, pack)
    first = _entries(await _upgrade(client, ws, {"apply": True}))
    assert first[("custom_field", "risks/rating")]["action"] == "conflict"
    assert first[("custom_field", "risks/note")]["action"] == "kept"
    assert first[("proximity", "imminent")]["action"] == "kept"

    await _stop_using_it(client, ws, risk)
    again = await _upgrade(client, ws, {"version": "1.1.0", "apply": True})

    found = _entries(again)
    rating = found[("custom_field", "risks/rating")]
    assert rating["action"] == "update", rating
    # Since the upgrade that first held it (1.1.0), not the version the row came from.
    assert rating["reason"].startswith("held back since 1.1.0; ")
    for removed in (("custom_field", "risks/note"), ("proximity", "imminent")):
        assert found[removed]["action"] == "remove", found[removed]
        assert found[removed]["reason"].startswith("held back since 1.1.0; ")
    assert again["counts"]["conflict"] == again["counts"]["kept"] == 0
    field = (
        await client.get(
            url(
                ws, f"custom-fields/{stable_id(ws.tenant_id, pack, 'custom_field', 'risks/rating')}"
            ),
            headers=ws.headers,
        )
    ).json()
    assert field["choices"] == ["low", "medium"] and field["source_version"] == "1.1.0"
    configuration = await client.get(url(ws, "register-configuration"), headers=ws.headers)
    assert {p["key"] for p in configuration.json()["proximity"]} == {"soon"}
    # Settled: nothing is due any more.
    assert (await _upgrade(client, ws, {}))["entries"] == []


def later_release(data: dict[str, Any]) -> None:
    """1.2.0: `drops_what_rows_still_use`, and the board meets weekly."""
    drops_what_rows_still_use(data)
    data["version"] = "1.2.0"
    data["boards"][0]["cadence"] = "weekly"


async def test_upgrading_every_workspace_takes_up_what_an_earlier_upgrade_held_back(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(with_a_rating, drops_what_rows_still_use, later_release)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    risk = await _our_risk_using_what_the_pack_drops(client, ws, pack)
    (first,) = await upgrade_all(database, pack, "1.1.0", apply=True)
    assert first.error is None and first.conflicts == ["custom_field risks/rating"]

    await _stop_using_it(client, ws, risk)
    dry = await upgrade_all(database, pack, "1.2.0", apply=False)
    (done,) = await upgrade_all(database, pack, "1.2.0", apply=True)

    assert [outcome.counts for outcome in dry] == [done.counts]
    assert (done.from_version, done.to_version, done.applied) == ("1.1.0", "1.2.0", True)
    assert done.conflicts == [] and done.counts["kept"] == 0
    assert (
        done.counts["update"] == 2 and done.counts["remove"] == 2
    )  # rating, board; note, imminent
    field = (
        await client.get(
            url(
                ws, f"custom-fields/{stable_id(ws.tenant_id, pack, 'custom_field', 'risks/rating')}"
            ),
            headers=ws.headers,
        )
    ).json()
    assert field["choices"] == ["low", "medium"]


async def test_upgrading_every_workspace_plans_one_on_the_target_while_it_holds_changes_back(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(with_a_rating, drops_what_rows_still_use)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    risk = await _our_risk_using_what_the_pack_drops(client, ws, pack)
    await upgrade_all(database, pack, "1.1.0", apply=True)
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    held = {"custom_field:risks/rating", "custom_field:risks/note", "proximity:imminent"}
    assert (pin["pack_version"], pin["held_items"]) == ("1.1.0", dict.fromkeys(held, "1.1.0"))

    # On the target already, but not done: planned again, and held back again while rows use
    # it, which is on record already: listed as held before, not as new conflicts.
    (again,) = await upgrade_all(database, pack, "1.1.0", apply=True)
    assert (again.from_version, again.to_version) == ("1.1.0", "1.1.0")
    assert again.conflicts == [] and again.counts["kept"] == again.counts["conflict"] == 0
    assert again.held_before == [
        "proximity imminent",
        "custom_field risks/note",
        "custom_field risks/rating",
    ]

    await _stop_using_it(client, ws, risk)
    (done,) = await upgrade_all(database, pack, "1.1.0", apply=True)

    assert done.error is None and done.conflicts == []
    assert (done.counts["update"], done.counts["remove"], done.counts["kept"]) == (1, 2, 0)
    configuration = await client.get(url(ws, "register-configuration"), headers=ws.headers)
    assert {p["key"] for p in configuration.json()["proximity"]} == {"soon"}
    after = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert after["held_items"] == {}
    # Nothing due any more: left out.
    assert await upgrade_all(database, pack, "1.1.0", apply=True) == []


def late_gate_after_the_second_tranche(data: dict[str, Any]) -> None:
    """1.2.0: `gates_after_the_first_tranche`, the late review moved to the second tranche's
    end (on the way into nothing)."""
    gates_after_the_first_tranche(data)
    data["version"] = "1.2.0"
    data["gates"][1]["after_tranche"] = "second"


async def test_a_new_gate_held_back_stays_due_until_the_pack_moves_it_where_it_fits(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(
        gate_on_no_tranche, gates_after_the_first_tranche, late_gate_after_the_second_tranche
    )
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    for key, states in (("first", ("started", "closed")), ("second", ("started",))):
        path = url(ws, f"tranches/{stable_id(ws.tenant_id, pack, 'tranche', key)}")
        tranche = (await client.get(path, headers=ws.headers)).json()
        for state in states:
            moved = await change(client, ws, "tranches", tranche, {"state": state})
            assert moved.status_code == 200, moved.text
            tranche = moved.json()
    await _upgrade(client, ws, {"version": "1.1.0", "apply": True})
    # The late gate and its criteria are new; the first gate's move after the first tranche
    # is an update the gates' rule refuses. All stay due.
    held = {"gate:late", *(f"gate_criterion:late/check-{n}" for n in range(5)), "gate:gate"}
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.1.0"
    assert pin["held_items"] == dict.fromkeys(held, "1.1.0")

    # Still in front of the second tranche: held again, and said so — not "deleted by the client".
    dry = _entries(await _upgrade(client, ws, {"version": "1.1.0"}))
    late = dry[("gate", "late")]
    assert late["action"] == "conflict"
    assert late["reason"].startswith("held back at 1.1.0; it would stand on the way into")
    assert "deleted" not in dry[("gate_criterion", "late/check-0")]["reason"]
    assert (await client.get(url(ws, "template-pin"), headers=ws.headers)).json() == pin

    applied = await _upgrade(client, ws, {"version": "1.2.0", "apply": True})

    found = _entries(applied)
    assert found[("gate", "late")]["action"] == "add"
    assert found[("gate", "late")]["reason"] == "held back at 1.1.0; new in the target version"
    assert all(found[("gate_criterion", f"late/check-{n}")]["action"] == "add" for n in range(5))
    listed = await client.get(url(ws, "stage-gates"), headers=ws.headers)
    assert "Late review" in [g["title"] for g in listed.json()["items"]]
    after = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    # 1.2.0 still moves the first gate in front of the second tranche: still due.
    assert (after["pack_version"], after["held_items"]) == ("1.2.0", {"gate:gate": "1.1.0"})
    assert found[("gate", "gate")]["action"] == "conflict"


async def test_a_version_the_pack_has_not_published_is_a_422_naming_the_field(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)

    for body in ({"version": "9.9.9"}, {"version": "9.9.9", "apply": True}):
        response = await client.post(url(ws, "template-upgrades"), json=body, headers=ws.headers)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["errors"] == [
            {"field": "version", "message": "one of 1.0.0, 1.1.0", "source": "body"}
        ]
        assert f"pack {pack} has no version '9.9.9'" in problem["detail"]
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.0.0"

    # On 1.1.0, it is offered what it can move to: not 1.0.0 (older is a 409).
    await _upgrade(client, ws, {"apply": True})
    later = await client.post(
        url(ws, "template-upgrades"), json={"version": "9.9.9"}, headers=ws.headers
    )
    assert later.json()["errors"][0]["message"] == "one of 1.1.0"
    malformed = await client.post(
        url(ws, "template-upgrades"), json={"version": "abc"}, headers=ws.headers
    )
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["message"].startswith("a version number: MAJOR.MINOR")


async def test_applying_with_the_reviewed_plans_etag_applies_that_plan_or_nothing(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    upgrades = url(ws, "template-upgrades")
    reviewed = await client.post(upgrades, json={}, headers=ws.headers)
    tag = reviewed.headers["etag"]
    again = await client.post(upgrades, json={}, headers=ws.headers)
    assert again.headers["etag"] == tag  # the same plan, the same tag

    # The client edits a risk the pack changes: the plan is no longer the one reviewed.
    path = url(ws, f"risks/{stable_id(ws.tenant_id, pack, 'risk', 'threat')}")
    risk = (await client.get(path, headers=ws.headers)).json()
    edited = await change(client, ws, "risks", risk, {"title": "Our supplier is late"})
    assert edited.status_code == 200, edited.text
    stale = await client.post(
        upgrades, json={"apply": True}, headers={**ws.headers, "If-Match": tag}
    )
    assert stale.status_code == 412, stale.text
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.0.0"  # nothing applied

    current = stale.json()["current_etag"]  # as every 412 says it
    fresh = await client.post(upgrades, json={}, headers=ws.headers)
    assert fresh.headers["etag"] == current != tag
    applied = await client.post(
        upgrades, json={"apply": True}, headers={**ws.headers, "If-Match": current}
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] and applied.headers["etag"] == current
    pin = (await client.get(url(ws, "template-pin"), headers=ws.headers)).json()
    assert pin["pack_version"] == "1.1.0"


async def test_a_replayed_upgrade_is_the_first_answer_byte_for_byte(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, second_version)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    headers = {**ws.headers, "Idempotency-Key": str(uuid.uuid4())}
    upgrades = url(ws, "template-upgrades")

    first = await client.post(upgrades, json={"apply": True}, headers=headers)
    again = await client.post(upgrades, json={"apply": True}, headers=headers)

    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.headers["idempotent-replayed"] == "true"
    # The counts in the same order too: the stored answer is kept as written.
    assert list(again.json()["counts"]) == list(first.json()["counts"])
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]


def red_starts_higher(data: dict[str, Any]) -> None:
    """1.1.0 as usual, and amber reaching 11 (red from 12)."""
    second_version(data)
    bands = {band["key"]: band for band in data["scales"]["bands"]}
    bands["amber"]["max_score"], bands["red"]["min_score"] = 11, 12


async def test_an_upgrade_changing_the_bands_moves_every_risks_etag_on(
    client: Client, database: Database, make_workspace: MakeWorkspace, publish_pack: PublishPack
) -> None:
    ws = await make_workspace(Role.ADMIN)
    pack = await publish_pack(None, red_starts_higher)
    await seed(database, ws.tenant_id, pack, "1.0.0", PARAMS)
    programme_id = str(stable_id(ws.tenant_id, pack, "programme", "programme"))
    ours = await make(
        client,
        ws,
        "risks",
        {
            "programme_id": programme_id,
            "title": "Ours",
            "inherent_probability": 2,
            "inherent_impact": 5,
        },
    )
    assert ours["inherent_band"] == "red"
    path = url(ws, f"risks/{ours['id']}")
    etag = (await client.get(path, headers=ws.headers)).headers["etag"]

    await _upgrade(client, ws, {"apply": True})

    # Its read changed (amber now), so a cached copy is not "not modified".
    again = await client.get(path, headers={**ws.headers, "If-None-Match": etag})
    assert again.status_code == 200, again.text
    assert again.json()["inherent_band"] == "amber"
    assert again.headers["etag"] != etag


async def test_the_api_says_which_version_a_held_item_and_the_pin_name(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    pin = schema["components"]["schemas"]["TemplatePinRead"]["properties"]

    # The upgrade that first held the change back, not the version that brought it.
    held = pin["held_items"]["description"]
    assert "first held it back moved the workspace to" in held
    assert "not necessarily the version that brought the change" in held
    # The pin's version is not every seeded row's: a held-back row keeps an older one.
    assert "rows whose own `source_version` is older" in pin["pack_version"]["description"]


async def test_every_seeded_rows_source_version_says_what_it_names(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    described = {
        name: properties["source_version"].get("description", "")
        for name, component in schema["components"]["schemas"].items()
        if "source_version" in (properties := component.get("properties", {}))
    }

    assert len(described) > 20
    for name, description in described.items():
        assert "Not a copy of the pin's version" in description, name
