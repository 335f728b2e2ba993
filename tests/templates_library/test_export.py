"""Save as template, at the pure level: seed values → pack version YAML that validates → the same
seed values again."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from templates_library.export import ExportError, as_document, version_from_values, version_yaml
from templates_library.loader import load_library, load_version_file
from templates_library.schema import PackVersion
from templates_library.validation import validate_version
from templates_library.values import ItemId, ItemValues, seed_values
from tests.templates_library.conftest import VERSION

START = date(2026, 9, 7)
PARAMS = {"start_date": START, "programme_name": "Atlas"}
SHIPPED = [
    pytest.param(loaded.version, id=f"{pack.key}@{loaded.version.version}")
    for pack in load_library()
    for loaded in pack.versions
    if loaded.version is not None
]


def tiny() -> PackVersion:
    return msgspec.convert(copy.deepcopy(VERSION), PackVersion)


def export(values: dict[ItemId, ItemValues], like: PackVersion, tmp_path: Path) -> Path:
    """Export `values` as version 2.0.0 with `like`'s parameters and write the file."""
    exported = version_from_values(
        values,
        version="2.0.0",
        changes=["Saved from a workspace."],
        parameters=like.parameters,
        params=PARAMS,
    )
    path = tmp_path / "2.0.0.yaml"
    path.write_text(version_yaml(exported), encoding="utf-8")
    return path


def reload(path: Path) -> PackVersion:
    loaded = load_version_file(path)
    problems = validate_version(loaded)
    assert problems == [], "\n".join(map(str, problems))
    assert loaded.version is not None
    return loaded.version


@pytest.mark.parametrize("version", SHIPPED)
def test_every_shipped_version_round_trips(version: PackVersion, tmp_path: Path) -> None:
    values = seed_values(version, PARAMS)

    again = reload(export(values, version, tmp_path))

    assert seed_values(again, PARAMS) == values


def test_a_changed_programme_round_trips_with_its_changes(tmp_path: Path) -> None:
    version = tiny()
    values = seed_values(version, PARAMS)
    values[("tranche", "second")]["title"] = "Second tranche, extended"
    values[("milestone", "halfway")]["date"] = START + timedelta(days=60)
    values[("risk", "our-own")] = {**values[("risk", "threat")], "title": "Our own risk"}
    values[("gate_criterion", "gate/criterion-6")] = {
        "gate": "gate",
        "text": "Our extra criterion.",
        "evidence": "Minutes",
        "mandatory": False,
        "position": 5,
    }
    del values[("decision", "approach")]

    again = reload(export(values, version, tmp_path))

    assert seed_values(again, PARAMS) == values
    assert [c.key for c in again.gates[0].criteria][-1] == "criterion-6"
    assert again.milestones[0].day == 60


def test_whole_parameter_values_become_parameters_again(tmp_path: Path) -> None:
    values = seed_values(tiny(), PARAMS)

    text = export(values, tiny(), tmp_path).read_text(encoding="utf-8")

    assert "title: '{programme_name}'" in text
    assert "cadence: '{reporting_cadence}'" in text
    assert "Atlas" not in text


def test_nested_items_are_written_in_position_order(tmp_path: Path) -> None:
    values = seed_values(tiny(), PARAMS)
    shuffled = dict(reversed(list(values.items())))

    again = reload(export(shuffled, tiny(), tmp_path))

    assert [c.key for c in again.gates[0].criteria] == [f"criterion-{n}" for n in range(1, 6)]
    assert [t.key for t in again.tranches] == ["first", "second"]


def _broken(change: Any) -> list[str]:
    values = seed_values(tiny(), PARAMS)
    change(values)
    with pytest.raises(ExportError) as raised:
        version_from_values(
            values, version="2.0.0", changes=[], parameters=tiny().parameters, params=PARAMS
        )
    return raised.value.problems


def test_a_date_before_the_start_cannot_be_exported() -> None:
    def early(values: dict[ItemId, ItemValues]) -> None:
        values[("milestone", "halfway")]["date"] = START - timedelta(days=3)

    assert _broken(early) == [
        f"milestone halfway: date {START - timedelta(days=3)} is before the start date {START}"
    ]


def test_a_programme_must_start_on_the_start_date() -> None:
    def late(values: dict[ItemId, ItemValues]) -> None:
        values[("programme", "programme")]["start_date"] = START + timedelta(days=1)

    assert "programme programme: starts on" in _broken(late)[0]


def test_nested_items_need_their_parent() -> None:
    def orphan(values: dict[ItemId, ItemValues]) -> None:
        del values[("checklist", "readiness")]

    assert _broken(orphan) == ["checklist readiness is missing but has nested items"]


def test_an_invalid_result_reports_the_validation_findings() -> None:
    def no_board(values: dict[ItemId, ItemValues]) -> None:
        del values[("board", "board")]

    problems = _broken(no_board)

    assert "gates[0].board: no board with key `board`" in problems
    assert "decisions[0].board: no board with key `board`" in problems


def test_unknown_kinds_are_refused() -> None:
    def stray(values: dict[ItemId, ItemValues]) -> None:
        values[("spreadsheet", "budget")] = {"title": "Budget"}

    assert _broken(stray) == ["spreadsheet budget: not a kind of item a pack can hold"]


def test_documents_leave_out_defaults() -> None:
    document = as_document(tiny())

    criterion = document["gates"][0]["criteria"][0]
    assert "mandatory" not in criterion  # true by default
    assert "outcomes" not in document["gates"][0]
    assert "risk_responses" not in document["scales"]
    assert msgspec.convert(document, PackVersion) == tiny()


def test_values_a_pack_field_cannot_hold_are_named_in_plain_words() -> None:
    def odd(values: dict[ItemId, ItemValues]) -> None:
        risk = values[("risk", "threat")]
        risk.update(probability="high", response="ignore", proximity="Next Week", title=None)

    problems = _broken(odd)

    assert problems == [
        "risk threat has no title; a pack risk needs one",
        "risk threat: probability `high` is text; a pack risk needs a whole number",
        "risk threat: proximity `Next Week` is not a key (lower-case letters, digits, `-` and "
        "`_`, at most 64 characters)",
        "risk threat: response `ignore` is not one of avoid, reduce, fallback, transfer, share, "
        "accept, exploit, enhance, reject, resolved, owned, accepted, mitigated",
    ]
