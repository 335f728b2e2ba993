"""Seed values: exactly what seeding writes per (kind, key), parameters resolved; stable ids."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest

from templates_library.items import ITEM_NAMESPACE, KINDS, seed_items, stable_id
from templates_library.loader import load_library
from templates_library.schema import PackVersion
from templates_library.validation import PARAMETER_REFERENCE
from templates_library.values import (
    DAY_FIELDS,
    PART_OF_KIND,
    REFERENCES,
    InvalidParametersError,
    field_order,
    in_field_order,
    item_ref,
    pack_fields,
    parse_item_ref,
    references,
    seed_values,
)
from tests.templates_library.conftest import VERSION, PackData

START = date(2026, 3, 2)
SHIPPED = [
    pytest.param(loaded.version, id=f"{pack.key}@{loaded.version.version}")
    for pack in load_library()
    for loaded in pack.versions
    if loaded.version is not None
]


def tiny(change: Any = None) -> PackVersion:
    data: PackData = copy.deepcopy(VERSION)
    if change is not None:
        change(data)
    return msgspec.convert(data, PackVersion)


def test_parameters_are_substituted_and_offsets_become_dates() -> None:
    values = seed_values(tiny(), {"start_date": START, "programme_name": "Atlas"})

    programme = values[("programme", "programme")]
    assert programme["title"] == "Atlas"
    assert (programme["start_date"], programme["end_date"]) == (START, START + timedelta(100))
    assert "duration_days" not in programme
    second = values[("tranche", "second")]
    assert (second["start_date"], second["end_date"]) == (
        START + timedelta(51),
        START + timedelta(100),
    )
    assert values[("milestone", "halfway")]["date"] == START + timedelta(50)
    assert values[("assumption", "funding")]["validate_by"] == START + timedelta(30)
    assert values[("dependency", "needs-build")]["need_by"] == START + timedelta(40)
    # `{reporting_cadence}` falls back to the parameter's default.
    assert values[("status_report", "highlight")]["cadence"] == "monthly"


def test_defaults_fill_unsupplied_parameters_and_dates_may_be_text() -> None:
    from_text = seed_values(tiny(), {"start_date": "2026-03-02"})

    assert from_text == seed_values(tiny(), {"start_date": START, "programme_name": "Tiny"})
    assert from_text[("programme", "programme")]["title"] == "Tiny"


def test_parameters_inside_lists_and_nested_values_are_substituted() -> None:
    def mention(data: PackData) -> None:
        data["tranches"][0]["capabilities"] = ["{programme_name} brief", "Plan from {start_date}"]
        data["registers"][0]["entries"][0]["values"]["note"] = "For {programme_name}"
        data["custom_fields"].append(
            {"key": "note", "register": "log", "label": "Note", "type": "text"}
        )

    values = seed_values(tiny(mention), {"start_date": START, "programme_name": "Atlas"})

    assert values[("tranche", "first")]["capabilities"] == ["Atlas brief", "Plan from 2026-03-02"]
    assert values[("register_entry", "log/entry")]["values"] == {"area": "a", "note": "For Atlas"}


@pytest.mark.parametrize(
    ("params", "problems"),
    [
        ({}, {"start_date": "required (it has no default)"}),
        (
            {"start_date": "2026-02-30"},
            {"start_date": "`2026-02-30` is not an ISO date (YYYY-MM-DD)"},
        ),
        (
            {"start_date": START, "reporting_cadence": "hourly"},
            {"reporting_cadence": "`hourly` is not one of ['weekly', 'monthly']"},
        ),
        ({"start_date": START, "programme_name": 7}, {"programme_name": "`7` is not text"}),
        ({"start_date": START, "sponsor": "Ann"}, {"sponsor": "not a parameter of this version"}),
    ],
)
def test_bad_parameters_are_refused_by_name(
    params: dict[str, object], problems: dict[str, str]
) -> None:
    with pytest.raises(InvalidParametersError) as raised:
        seed_values(tiny(), params)

    assert raised.value.problems == problems


def test_number_parameters_take_numbers_only() -> None:
    def budget(data: PackData) -> None:
        data["parameters"].append({"key": "budget", "type": "number", "description": "Budget."})
        data["programmes"][0]["description"] = "Budget {budget}."

    version = tiny(budget)
    values = seed_values(version, {"start_date": START, "budget": 1.5})

    assert values[("programme", "programme")]["description"] == "Budget 1.5."
    with pytest.raises(InvalidParametersError, match="budget: `True` is not a number"):
        seed_values(version, {"start_date": START, "budget": True})


def test_nested_items_name_their_parent_and_position_and_lose_child_lists() -> None:
    values = seed_values(tiny(), {"start_date": START})

    gate = values[("gate", "gate")]
    assert "criteria" not in gate and "key" not in gate
    assert gate["position"] == 0
    criterion = values[("gate_criterion", "gate/criterion-3")]
    assert criterion == {
        "gate": "gate",
        "text": "Criterion 3 is met.",
        "evidence": "Evidence file",
        "mandatory": True,
        "position": 2,
    }
    assert values[("report_section", "highlight/summary")]["status_report"] == "highlight"
    assert values[("checklist_entry", "readiness/trained")]["checklist"] == "readiness"
    assert values[("custom_field", "log/area")]["name"] == "area"
    assert values[("custom_field", "log/area")]["register"] == "log"
    assert values[("scale_settings", "scales")] == {"risk_responses": "standard"}
    assert values[("proximity", "imminent")]["position"] == 0
    assert set(values[("board", "board")]["quorum"]) == {"minimum_members", "required_roles"}


def test_pack_fields_keep_offsets_and_parameter_references() -> None:
    fields = pack_fields(tiny())

    assert fields[("programme", "programme")]["title"] == "{programme_name}"
    assert fields[("programme", "programme")]["duration_days"] == 100
    assert fields[("milestone", "halfway")]["day"] == 50


@pytest.mark.parametrize("version", SHIPPED)
def test_every_item_of_a_shipped_pack_has_resolved_values(version: PackVersion) -> None:
    values = seed_values(version, {"start_date": START})

    assert list(values) == [(item.kind, item.key) for item in seed_items(version)]
    for (kind, key), fields in values.items():
        assert kind in KINDS
        assert not set(fields) & set(DAY_FIELDS), (kind, key)
        assert not PARAMETER_REFERENCE.search(msgspec.json.encode(fields).decode()), (kind, key)


@pytest.mark.parametrize("version", SHIPPED)
def test_kinds_parts_and_field_order_agree_with_what_seeding_yields(version: PackVersion) -> None:
    assert set(PART_OF_KIND) == set(KINDS)
    for item in seed_items(version):
        assert isinstance(item.part, PART_OF_KIND[item.kind])
    for (kind, _), fields in seed_values(version, {"start_date": START}).items():
        assert list(in_field_order(kind, fields)) == list(fields)
        assert set(fields) <= set(field_order(kind))
    for (kind, _), fields in pack_fields(version).items():
        assert list(in_field_order(kind, fields)) == list(fields)


@pytest.mark.parametrize("version", SHIPPED)
def test_every_reference_names_an_item_of_the_right_kind(version: PackVersion) -> None:
    values = seed_values(version, {"start_date": START})
    checked = 0
    for (kind, key), fields in values.items():
        for field, target_kind in REFERENCES.get(kind, {}).items():
            assert field in fields, f"{kind}.{field} is not a field"
            named = fields[field]
            for target in named if isinstance(named, list) else [named]:
                if target is not None:
                    assert (target_kind, target) in values, (kind, key, field, target)
                    checked += 1
    assert checked > 50


def test_stable_id_is_a_fixed_uuid5_of_tenant_pack_kind_and_key() -> None:
    tenant = uuid.UUID("11111111-2222-3333-4444-555555555555")

    first = stable_id(tenant, "msp-governance", "risk", "supplier-late")

    assert first == stable_id(tenant, "msp-governance", "risk", "supplier-late")
    assert first.version == 5
    assert first == uuid.uuid5(
        ITEM_NAMESPACE, "11111111-2222-3333-4444-555555555555/msp-governance/risk/supplier-late"
    )
    # The namespace is part of every seeded row's identity: it must never change.
    assert str(ITEM_NAMESPACE) == "aa9de79c-26a3-52fa-bf10-c66448cd7104"
    others = {
        stable_id(uuid.uuid4(), "msp-governance", "risk", "supplier-late"),
        stable_id(tenant, "project-pmo-light", "risk", "supplier-late"),
        stable_id(tenant, "msp-governance", "issue", "supplier-late"),
        stable_id(tenant, "msp-governance", "risk", "supplier-early"),
    }
    assert first not in others and len(others) == 4


def test_stable_ids_of_a_pack_are_unique_within_a_tenant() -> None:
    tenant = uuid.uuid4()
    version = tiny()
    ids = {stable_id(tenant, "tiny-pack", item.kind, item.key) for item in seed_items(version)}

    assert len(ids) == len(seed_items(version))


def test_item_reference_round_trips() -> None:
    assert item_ref("gate_criterion", "gate/criterion-1") == "gate_criterion:gate/criterion-1"
    assert parse_item_ref("gate_criterion:gate/criterion-1") == (
        "gate_criterion",
        "gate/criterion-1",
    )
    with pytest.raises(ValueError, match="not an item reference"):
        parse_item_ref("no-kind")


def test_references_list_every_key_an_item_names_including_roles_in_a_board() -> None:
    values = seed_values(tiny(), {"start_date": START})

    # Members (sponsor, manager), then the quorum's required roles (sponsor).
    assert references("board", values[("board", "board")]) == [
        ("role", "sponsor"),
        ("role", "manager"),
        ("role", "sponsor"),
    ]
    assert references("benefit", values[("benefit", "faster")]) == [
        ("benefit_confidence", "high"),
        ("role", "sponsor"),
        ("project", "build"),
    ]
    assert references("milestone", values[("milestone", "halfway")]) == [
        ("tranche", "first"),
        ("project", "build"),
    ]
    # Client values that are not keys (a row of the client's own) are no references.
    assert references("risk", {"owner": None, "proximity": "imminent"}) == [
        ("proximity", "imminent")
    ]


def test_seed_values_from_precomputed_pack_fields_are_the_same() -> None:
    version = tiny()
    params = {"start_date": START, "programme_name": "Reused"}

    assert seed_values(version, params, fields=pack_fields(version)) == seed_values(version, params)
