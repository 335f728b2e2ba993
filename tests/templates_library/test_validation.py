"""Each validation check catches its error and says which file and line it is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
import pytest

from templates_library.loader import load_pack, load_version_file
from templates_library.source import Problem
from templates_library.validation import (
    InvalidPackError,
    check_board_references,
    require_valid_version,
    validate_pack,
    validate_version,
)
from tests.templates_library.conftest import MANIFEST, PackData, PackWriter, line_matching


class BrokenPack(NamedTuple):
    change: Callable[[PackData], object]
    location: str
    message: str
    line_pattern: str
    occurrence: int = 1


def _set(path: str, value: Any) -> Callable[[PackData], None]:
    """Change one value, addressed like `gates.0.board`."""

    def change(data: PackData) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _append_duplicate_role(data: PackData) -> None:
    data["roles"].append(dict(data["roles"][0]))


def _drop_criterion(data: PackData) -> None:
    data["gates"][0]["criteria"].pop()


def _drop_top_probability(data: PackData) -> None:
    data["scales"]["probability"].pop()


def _text_field_with_choices(data: PackData) -> None:
    data["custom_fields"][1]["choices"] = ["x", "y"]


def _roam_pack_with_classic_response(data: PackData) -> None:
    data["scales"]["risk_responses"] = "roam"


CASES: dict[str, BrokenPack] = {
    "duplicate key": BrokenPack(
        _append_duplicate_role, "roles[2].key", "duplicate role key `sponsor`", r"key: sponsor", 2
    ),
    "gate board missing": BrokenPack(
        _set("gates.0.board", "steering"),
        "gates[0].board",
        "no board with key `steering`",
        r"board: steering",
    ),
    "milestone tranche missing": BrokenPack(
        _set("milestones.0.tranche", "third"),
        "milestones[0].tranche",
        "no tranche with key `third`",
        r"tranche: third",
    ),
    "milestone project missing": BrokenPack(
        _set("milestones.0.project", "rebuild"),
        "milestones[0].project",
        "no project with key `rebuild`",
        r"project: rebuild",
    ),
    "milestone in another tranche than its project": BrokenPack(
        _set("milestones.0.tranche", "second"),
        "milestones[0].tranche",
        "its project `build` is in `first`",
        r"tranche: second",
        2,  # the first is a project's
    ),
    "project tranche missing": BrokenPack(
        _set("projects.0.tranche", "zeroth"),
        "projects[0].tranche",
        "no tranche with key `zeroth`",
        r"tranche: zeroth",
    ),
    "role missing": BrokenPack(
        _set("risks.0.owner", "auditor"), "risks[0].owner", "no role with key `auditor`", "auditor"
    ),
    "quorum larger than board": BrokenPack(
        _set("boards.0.quorum.minimum_members", 7),
        "boards[0].quorum.minimum_members",
        "quorum of 7 exceeds",
        r"minimum_members: 7",
    ),
    "offset beyond programme": BrokenPack(
        _set("milestones.0.day", 140),
        "milestones[0].day",
        "day 140 is outside the programme span 0..100",
        r"day: 140",
    ),
    "tranches overlap": BrokenPack(
        _set("tranches.1.start_day", 42),
        "tranches[1].start_day",
        "overlapping or before tranche `first`",
        r"start_day: 42",
    ),
    "scale with a gap": BrokenPack(
        _set("scales.impact.2.value", 7),
        "scales.impact",
        "values must run 1..n in order",
        r"^  impact:$",
    ),
    "bands not contiguous": BrokenPack(
        _set("scales.bands.1.min_score", 6),
        "scales.bands[1].min_score",
        "expected 5 so bands are contiguous",
        r"min_score: 6",
    ),
    "bands do not reach the top": BrokenPack(
        _drop_top_probability, "scales.bands", "they must cover 1..20", r"^  bands:$"
    ),
    "risk probability off the scale": BrokenPack(
        _set("risks.0.probability", 6),
        "risks[0].probability",
        "probability 6 is not on the scale",
        r"probability: 6",
    ),
    "risk proximity undeclared": BrokenPack(
        _set("risks.0.proximity", "someday"),
        "risks[0].proximity",
        "no proximity with key `someday`",
        r"proximity: someday",
    ),
    "threat with an opportunity response": BrokenPack(
        _set("risks.0.response", "exploit"),
        "risks[0].response",
        "`exploit` is not a response to a threat",
        r"response: exploit",
    ),
    "opportunity with a threat response": BrokenPack(
        _set("risks.1.response", "avoid"),
        "risks[1].response",
        "`avoid` is not a response to a opportunity",
        r"response: avoid",
    ),
    "roam pack with a classic threat response": BrokenPack(
        _roam_pack_with_classic_response,
        "risks[0].response",
        "use one of accepted, mitigated, owned, resolved",
        r"response: reduce",
    ),
    "choice field without choices": BrokenPack(
        _set("custom_fields.0.choices", ["a"]),
        "custom_fields[0].choices",
        "a choice field needs ≥2 choices",
        r"choices:",
        2,
    ),
    "text field with choices": BrokenPack(
        _text_field_with_choices,
        "custom_fields[1].choices",
        "a text field cannot have choices",
        r"choices:",
        3,
    ),
    "custom field on an unknown register": BrokenPack(
        _set("custom_fields.1.register", "diary"),
        "custom_fields[1].register",
        "no register with key `diary`",
        r"register: diary",
    ),
    "register entry with a value outside its choices": BrokenPack(
        _set("registers.0.entries.0.values", {"area": "c"}),
        "registers[0].entries[0].values.area",
        "`c` is not one of the choices",
        r"area: c",
    ),
    "gate with four criteria": BrokenPack(
        _drop_criterion,
        "gates[0].criteria",
        "gate `gate` has 4 criteria; at least 5 are needed",
        r"criteria:",
    ),
    "parameter default outside its choices": BrokenPack(
        _set("parameters.2.default", "yearly"),
        "parameters[2].default",
        "`yearly` is not one of the choices",
        r"default: yearly",
    ),
    "start date parameter is not a date": BrokenPack(
        _set("parameters.1.type", "text"),
        "parameters[1].type",
        "`start_date` must be a date parameter",
        r"type: text",
        2,
    ),
    "no start date parameter": BrokenPack(
        _set("parameters.1.key", "kick_off"),
        "parameters",
        "declare a date parameter `start_date`",
        r"^parameters:$",
    ),
    "undeclared parameter reference": BrokenPack(
        _set("programmes.0.description", "Run by {sponsor_name}."),
        "programmes[0].description",
        "`{sponsor_name}` does not name a declared parameter",
        r"sponsor_name",
    ),
    "rag thresholds inverted": BrokenPack(
        _set("rag_rules.cost_variance_pct", {"green_max": 12, "amber_max": 10}),
        "rag_rules.cost_variance_pct",
        "green_max must not exceed amber_max",
        r"cost_variance_pct:",
    ),
    "benefit confidence undeclared": BrokenPack(
        _set("benefits.0.confidence", "certain"),
        "benefits[0].confidence",
        "no benefit confidence with key `certain`",
        r"confidence: certain",
    ),
    "benefit value in fractions of a cent": BrokenPack(
        _set("benefits.0.value_per_year", 1234.567),
        "benefits[0].value_per_year",
        "money has at most two decimal places",
        r"value_per_year: 1234.567",
    ),
    "quantitative benefit with a text target": BrokenPack(
        _set("benefits.0.target", "much faster"),
        "benefits[0].target",
        "a quantitative benefit needs a numeric target",
        r"target: much faster",
    ),
    "internal dependency without a target": BrokenPack(
        _set("dependencies.0.to_project", None),
        "dependencies[0]",
        "an internal dependency needs `to_project`",
        r"key: needs-build",
    ),
    "project depending on itself": BrokenPack(
        _set("dependencies.0.to_project", "run"),
        "dependencies[0].to_project",
        "a project does not depend on itself",
        r"to_project: run",
    ),
    "schema: unknown field": BrokenPack(
        _set("gates.0.criteria.0.board", "board"),
        "gates[0].criteria[0].board",
        "unknown field `board`",
        r"board: board",
        2,
    ),
    "schema: wrong type": BrokenPack(
        _set("programmes.0.duration_days", "long"),
        "programmes[0].duration_days",
        "Expected `int`, got `str`",
        r"duration_days: long",
    ),
    "schema: unknown enum value": BrokenPack(
        _set("boards.0.cadence", "hourly"),
        "boards[0].cadence",
        "Invalid enum value 'hourly'",
        r"cadence: hourly",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_check_reports_the_error_with_file_and_line(
    write_pack: PackWriter, case: BrokenPack
) -> None:
    path = write_pack(case.change)

    problems = validate_version(load_version_file(path))

    matching = [p for p in problems if p.location == case.location and case.message in p.message]
    assert matching, f"expected {case.location}: {case.message}; got {problems}"
    assert matching[0].file == str(path)
    assert matching[0].line == line_matching(path, case.line_pattern, case.occurrence)


def test_tiny_pack_is_valid(write_pack: PackWriter) -> None:
    path = write_pack()

    assert validate_pack(load_pack(path.parent)) == []


def test_version_file_must_be_named_by_semver(write_pack: PackWriter) -> None:
    path = write_pack(file_name="first.yaml")

    problems = validate_version(load_version_file(path))

    assert [p.message for p in problems] == [
        "file name `first` is not a semantic version (e.g. 1.0.0)"
    ]
    assert problems[0].line == line_matching(path, r"^version:")


def test_version_field_must_equal_file_name(write_pack: PackWriter) -> None:
    path = write_pack(file_name="1.1.0.yaml")

    problems = validate_version(load_version_file(path))

    assert [p.message for p in problems] == ["version `1.0.0` differs from file name `1.1.0`"]
    assert (problems[0].file, problems[0].line) == (str(path), line_matching(path, r"^version:"))


def test_pack_key_must_equal_folder_name(write_pack: PackWriter) -> None:
    path = write_pack(manifest={**MANIFEST, "key": "other-pack"})

    problems = validate_pack(load_pack(path.parent))

    manifest = path.parent / "pack.yaml"
    assert problems == [
        Problem(
            file=str(manifest),
            line=line_matching(manifest, r"^key:"),
            location="key",
            message="pack key `other-pack` differs from folder name `tiny-pack`",
        )
    ]


def test_duplicate_yaml_key_is_reported(write_pack: PackWriter) -> None:
    path = write_pack()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("cadence: monthly", "cadence: monthly\n  cadence: weekly"))

    problems = validate_version(load_version_file(path))

    assert any(
        p.location == "boards[0].cadence"
        and "duplicate key" in p.message
        and p.line == line_matching(path, r"cadence: weekly")
        for p in problems
    ), problems


def test_invalid_yaml_is_reported_with_its_line(write_pack: PackWriter) -> None:
    path = write_pack()
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[5] = "  - {key: broken"
    path.write_text("\n".join(lines))

    problems = validate_version(load_version_file(path))

    assert len(problems) == 1
    assert problems[0].message.startswith("invalid YAML")
    assert problems[0].line >= 6


def test_checks_are_pure_functions_of_the_typed_version(write_pack: PackWriter) -> None:
    loaded = load_version_file(write_pack())
    assert loaded.version is not None
    gate = msgspec.structs.replace(loaded.version.gates[0], board="nowhere")
    changed = msgspec.structs.replace(loaded.version, gates=[gate])

    findings = list(check_board_references(changed))

    assert [tuple(f) for f in findings] == [("gates[0].board", "no board with key `nowhere`")]


def test_require_valid_version_returns_the_typed_version(write_pack: PackWriter) -> None:
    pack = load_pack(write_pack().parent)

    version = require_valid_version(pack, "1.0.0")

    assert version.gates[0].board == "board"


def test_require_valid_version_refuses_a_broken_pack(write_pack: PackWriter) -> None:
    pack = load_pack(write_pack(_set("gates.0.board", "steering")).parent)

    with pytest.raises(InvalidPackError) as raised:
        require_valid_version(pack)

    assert "no board with key `steering`" in str(raised.value)


def test_problem_prints_as_file_line_location_message() -> None:
    problem = Problem(file="p/1.0.0.yaml", line=12, location="gates[0].board", message="bad")

    assert str(problem) == "p/1.0.0.yaml:12: gates[0].board: bad"
