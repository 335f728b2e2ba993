"""Each validation check catches its error and says which file and line it is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
import pytest

from services.db.engine import Database
from templates_library.loader import load_pack, load_version_file
from templates_library.seeding import seed
from templates_library.source import Problem
from templates_library.validation import (
    InvalidPackError,
    check_board_references,
    check_parameters,
    require_valid_version,
    validate_pack,
    validate_version,
)
from templates_library.values import InvalidParametersError, resolve_parameters
from tests.conftest import MakeWorkspace, PublishPack
from tests.templates_library.conftest import MANIFEST, PackData, PackWriter, line_matching
from tests.tiny_pack import START, tiny_version


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


def _set_many(*changes: tuple[str, Any]) -> Callable[[PackData], None]:
    def change(data: PackData) -> None:
        for path, value in changes:
            _set(path, value)(data)

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
    "choice listed twice": BrokenPack(
        _set("custom_fields.0.choices", ["a", "b", "a"]),
        "custom_fields[0].choices[2]",
        "choice 'a' is listed twice",
        r"^\s*- a$",
        2,
    ),
    "blank choice": BrokenPack(
        _set("custom_fields.0.choices", ["a", " "]),
        "custom_fields[0].choices[1]",
        "a choice is blank",
        r"^\s*- ' '$",
    ),
    "choice with spaces around it": BrokenPack(
        _set("custom_fields.0.choices", ["a", "b "]),
        "custom_fields[0].choices[1]",
        "choice 'b ' has spaces around it",
        r"^\s*- 'b '$",
    ),
    "blank risk title": BrokenPack(
        _set("risks.0.title", "  "),
        "risks[0].title",
        "`title` is blank: say what it is",
        r"title: '  '",
    ),
    "blank criterion text": BrokenPack(
        _set("gates.0.criteria.0.text", ""),
        "gates[0].criteria[0].text",
        "`text` is blank: say what it is",
        r"text: ''",
    ),
    "criterion without evidence": BrokenPack(
        _set("gates.0.criteria.0.evidence", ""),
        "gates[0].criteria[0].evidence",
        "a gate criterion says what evidence shows it is met",
        r"evidence: ''",
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
    "text longer than its column": BrokenPack(
        _set("risks.0.title", "A" * 249),
        "risks[0].title",
        "249 characters, but `risks.title` holds at most 200",
        r"title: AAAA",
    ),
    "text longer than its column once the default is put in": BrokenPack(
        _set_many(
            ("parameters.0.default", "B" * 195),
            ("projects.0.title", "{programme_name} build"),
        ),
        "projects[0].title",
        "201 characters, but `projects.name` holds at most 200",
        r"title: '\{programme_name\} build'",
    ),
    "text longer than its column with a parameter at its longest": BrokenPack(
        _set_many(
            ("parameters.0.max_length", 200),
            ("projects.0.title", "{programme_name} build"),
        ),
        "projects[0].title",
        "with `programme_name` 200 characters long, 206 characters, but `projects.name` "
        "holds at most 200",
        r"title: '\{programme_name\} build'",
    ),
    "parameter default longer than its max_length": BrokenPack(
        _set("parameters.0.max_length", 3),
        "parameters[0].default",
        "longer than the parameter's max_length (3)",
        r"default: Tiny",
    ),
    "max_length on a parameter that is not text": BrokenPack(
        _set("parameters.2.max_length", 10),
        "parameters[2].max_length",
        "a choice parameter cannot have a max_length",
        r"max_length: 10",
    ),
    "a decision already taken": BrokenPack(
        _set("decisions.0.status", "approved"),
        "decisions[0].status",
        "a template's decision is still to be taken (proposed or pending), not approved",
        r"status: approved",
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


def _release(*changes: tuple[str, Any]) -> Callable[[PackData], None]:
    """1.1.0 of the tiny pack, with `changes` (paths as for `_set`)."""
    return _set_many(("version", "1.1.0"), *changes)


def _add_parameter(
    parameter: PackData, version: str = "1.1.0", *changes: tuple[str, Any]
) -> Callable[[PackData], None]:
    def change(data: PackData) -> None:
        _set_many(("version", version), *changes)(data)
        data["parameters"].append(parameter)

    return change


REGULATOR = {"key": "regulator_name", "type": "text", "description": "Who regulates."}


def _without_default(index: int) -> Callable[[PackData], None]:
    """1.1.0 of the tiny pack, parameter `index` without its default."""

    def change(data: PackData) -> None:
        _release()(data)
        data["parameters"][index].pop("default")

    return change


@pytest.mark.parametrize(
    ("change", "location", "message", "line_pattern"),
    [
        pytest.param(
            _add_parameter(REGULATOR),
            "parameters[3].default",
            "parameter `regulator_name` has no default, and a signup gives only "
            "`programme_name` and `start_date`: give it a default",
            r"key: regulator_name",
            id="new parameter without a default",
        ),
        pytest.param(
            _without_default(0),
            "parameters[0].default",
            "parameter `programme_name` has a default in 1.0.0, so workspaces on 1.0.0 may "
            "have no value for it: keep a default",
            r"key: programme_name",
            id="a signup's parameter loses its default",
        ),
        pytest.param(
            _release(("parameters.0.type", "number"), ("parameters.0.default", 3)),
            "parameters[0].type",
            "parameter `programme_name` was text in 1.0.0: a parameter keeps its type "
            "(add a new parameter instead)",
            r"type: number",
            id="type changed",
        ),
        pytest.param(
            _release(("parameters.2.choices", ["monthly", "quarterly"])),
            "parameters[2].choices",
            "parameter `reporting_cadence` drops `weekly`, a choice in 1.0.0",
            r"choices:",
            id="choice dropped",
        ),
        pytest.param(
            _release(("parameters.0.max_length", 100)),
            "parameters[0].max_length",
            "parameter `programme_name` had no max_length in 1.0.0: a value valid then may "
            "be longer than 100",
            r"max_length: 100",
            id="max_length added",
        ),
    ],
)
def test_a_later_version_may_not_make_earlier_parameters_invalid(
    write_pack: PackWriter,
    change: Callable[[PackData], None],
    location: str,
    message: str,
    line_pattern: str,
) -> None:
    write_pack()
    later = write_pack(change, file_name="1.1.0.yaml")

    problems = validate_pack(load_pack(later.parent))

    assert [(p.file, p.location, p.message) for p in problems] == [(str(later), location, message)]
    assert problems[0].line == line_matching(later, line_pattern)


def test_a_later_version_may_add_parameters_with_defaults_and_choices(
    write_pack: PackWriter,
) -> None:
    looser = (
        ("parameters.0.max_length", 180),
        ("parameters.2.choices", ["weekly", "monthly", "quarterly"]),
        ("parameters.2.default", "quarterly"),
    )
    write_pack(_set("parameters.0.max_length", 150))
    later = write_pack(_release(*looser), file_name="1.1.0.yaml")
    regulator = {**REGULATOR, "default": "the regulator"}
    newer = write_pack(_add_parameter(regulator, "1.2.0", *looser), file_name="1.2.0.yaml")

    assert later.parent == newer.parent
    assert validate_pack(load_pack(later.parent)) == []


# Texts exactly as long as their columns hold, one through a parameter at its longest.
_LONGEST = (
    ("parameters.0.max_length", 190),
    ("projects.0.title", "{programme_name} portfolio"),  # 190 + 10 characters
    ("risks.0.title", "T" * 200),
    ("risks.0.category", "C" * 100),
)


async def test_texts_as_long_as_their_columns_seed_and_one_more_character_is_refused(
    database: Database,
    make_workspace: MakeWorkspace,
    publish_pack: PublishPack,
    write_pack: PackWriter,
) -> None:
    key = await publish_pack(_set_many(*_LONGEST))
    ws = await make_workspace()

    longest = {"programme_name": "N" * 190, "start_date": START}
    result = await seed(database, ws.tenant_id, key, "1.0.0", longest)

    assert result.seeded
    assert validate_version(load_version_file(write_pack(_set_many(*_LONGEST)))) == []
    for path, value, location in [
        ("projects.0.title", "{programme_name} portfolios", "projects[0].title"),
        ("risks.0.title", "T" * 201, "risks[0].title"),
        ("risks.0.category", "C" * 101, "risks[0].category"),
    ]:
        longer = write_pack(_set_many(*_LONGEST, (path, value)))
        problems = validate_version(load_version_file(longer))
        assert [p.location for p in problems] == [location], problems


def test_a_text_parameter_refuses_a_value_longer_than_its_max_length() -> None:
    version = tiny_version(_set("parameters.0.max_length", 5))

    with pytest.raises(InvalidParametersError) as raised:
        resolve_parameters(version.parameters, {"programme_name": "Harbour", "start_date": START})

    assert raised.value.problems == {"programme_name": "at most 5 characters"}
    assert resolve_parameters(version.parameters, {"programme_name": "Quay", "start_date": START})


def test_every_parameter_a_signup_does_not_give_has_a_default() -> None:
    # A signup gives the programme's name and start date: a version wanting any other value
    # could seed no workspace, so validation refuses it rather than every signup.
    def wanting(data: PackData) -> None:
        data["parameters"][0].pop("default")  # programme_name: a signup gives it
        data["parameters"].append({"key": "sponsor", "type": "text", "description": "Who."})

    findings = list(check_parameters(tiny_version(wanting)))

    assert findings and [(f.location, f.message) for f in findings] == [
        (
            "parameters[3].default",
            "parameter `sponsor` has no default, and a signup gives only `programme_name` and "
            "`start_date`: give it a default",
        )
    ]
